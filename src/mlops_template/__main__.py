import sys

from mlops_template.cli import run

sys.exit(run())
