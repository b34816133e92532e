import sys

from mlops_template.cli import main

sys.exit(main())
