import sys

from mlops_template import stage_client
from mlops_template.stages import stage_names

# A pipeline stage runs in the warm stage server when one is up (stage_client.py).
if len(sys.argv) > 1 and sys.argv[1] in stage_names() and stage_client.enabled():
    code = stage_client.run_in_server(sys.argv[1:])
    if code is not None:
        sys.exit(code)

from mlops_template.cli import run

sys.exit(run())
