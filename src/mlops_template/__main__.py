import sys
from pathlib import Path

from mlops_template import stage_client
from mlops_template.stages import stage_names
from mlops_template.synced_env import stale_note

is_stage = len(sys.argv) > 1 and sys.argv[1] in stage_names()
if is_stage and (note := stale_note(Path.cwd())):
    print(note, file=sys.stderr)

# A pipeline stage runs in the warm stage server when one is up, and starts one if not; a
# command such as promote or predict uses one that is up (stage_client.py). Only when run
# plainly: the server would ignore `python -X importtime`, `-W error`, a profiler.
if len(sys.argv) > 1 and stage_client.enabled() and stage_client.plain_run():
    code = None
    if is_stage:
        code = stage_client.run_in_server(sys.argv[1:])
    elif sys.argv[1] in stage_client.WARM_COMMANDS:
        code = stage_client.run_in_server(sys.argv[1:], start=False)
    if code is not None:
        sys.exit(code)

from mlops_template.cli import run  # noqa: E402 (not before a stage has gone to the server)

sys.exit(run())
