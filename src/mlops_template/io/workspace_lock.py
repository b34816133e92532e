"""One command at a time changes the workspace (conf/, params.yaml, dvc.lock, data/incoming/).

`ct` rewrites conf/ and params.yaml, adds the batch under `paths.incoming`, runs
`dvc repro` and, if no try is promoted, puts all of that back; `promote` reads the
dvc.lock model. A second such command started meanwhile would retrain on, register or
restore the first one's half-done work, so it is refused before it touches anything, as
DVC refuses a second `dvc repro`. It is refused rather than kept waiting: a ct run lasts
minutes (a pipeline per try), and the CT workflow's next run, or the person, runs it again.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops_template.errors import PipelineError
from mlops_template.stage_client import stage_pid

# In DVC's own temporary folder, which .dvc/.gitignore keeps out of git.
LOCK = Path(".dvc/tmp/mlops-workspace.lock")
# Set while a command holds the lock, so that the commands it runs (ct's `dvc repro`)
# know its work from another's: the lock's text.
HOLDER_ENV = "MLOPS_WORKSPACE_HOLDER"


@contextmanager
def workspace_locked(command: str) -> Iterator[None]:
    """This process alone changes the workspace meanwhile; `command` (as a person would
    type it) names it to whoever is refused.

    An flock, which the kernel releases when the process ends however it ends, so a
    killed run never leaves the workspace locked. Outside a DVC project there is no
    workspace to guard: the command fails on its own checks."""
    if not LOCK.parent.parent.is_dir():
        yield
        return
    LOCK.parent.mkdir(exist_ok=True)
    with open(LOCK, "a+") as handle:  # closing it releases the lock
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise PipelineError(
                f"the workspace is in use by {holder} ({LOCK} is locked); "
                f"`{command}` changed nothing: run it again once that one has finished"
            ) from None
        handle.truncate(0)
        # The process the person started (not the warm stage server's child standing in)
        holder = f"`{command}` (pid {stage_pid()})"
        handle.write(holder)
        handle.flush()
        os.environ[HOLDER_ENV] = holder
        try:
            yield
        finally:
            os.environ.pop(HOLDER_ENV, None)
            handle.truncate(0)  # before the lock goes: nobody is named who has finished


def refuse_held(what: str) -> None:
    """Refuse `what` (a stage) while a command holds the workspace, unless that command
    started it: a `dvc repro` of one's own while ct retrains would train on ct's half-done
    work, then leave it in the workspace once ct puts the rest back."""
    if not LOCK.is_file():
        return
    with open(LOCK) as handle:  # closing it releases the lock taken here
        try:  # a shared lock, let go at once: refused only while a holder has it
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = handle.read().strip() or "another process"
            if os.environ.get(HOLDER_ENV) == holder:
                return
            raise PipelineError(
                f"the workspace is in use by {holder} ({LOCK} is locked); {what} changed "
                "nothing: run it again once that one has finished"
            ) from None
