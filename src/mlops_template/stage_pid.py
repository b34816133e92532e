"""The stage process a stage runs for, when the warm stage server runs it (stage_server.py).

Lineage (which `dvc repro` a stage belongs to) and timings (when the stage started) look
at the process DVC started, not at the fork of the server that does the work.
"""

from __future__ import annotations

import os

STAGE_PID_ENV = "MLOPS_STAGE_PID"


def stage_pid() -> int:
    """The pid of the process DVC (or a person) started for this stage."""
    return int(os.environ.get(STAGE_PID_ENV) or os.getpid())
