"""Whether this environment was synced before the project's `uv.lock` last changed.

`make run` syncs `.venv` first; a plain `dvc repro` after a pull or a checkout that
changed `uv.lock` ran the stages on the libraries of before, without a word. The
Makefile touches `.venv/.synced*` after each sync: a lock newer than all of them is what
make itself would sync again. Two stats and a listing; standard library only, as it runs
before every stage."""

from __future__ import annotations

import sys
from pathlib import Path

LOCK = "uv.lock"
MARKERS = ".synced*"  # the Makefile's, one per set of extras


def stale_note(root: Path, prefix: Path | None = None) -> str | None:
    """A warning when `prefix` (this interpreter's environment) is the project's `.venv`
    and was synced before `root`'s `uv.lock` changed; else None (another environment, one
    not synced by make, no lock)."""
    venv = Path(sys.prefix if prefix is None else prefix)
    lock = root / LOCK
    try:
        if venv.resolve() != (root / ".venv").resolve():
            return None
        synced = max((m.stat().st_mtime for m in venv.glob(MARKERS)), default=None)
        if synced is None or lock.stat().st_mtime <= synced:
            return None
    except OSError:  # no lock: nothing to be older than
        return None
    return (
        f"warning: .venv was synced before {LOCK} last changed: this stage runs the "
        "libraries of before; run `make env` (or `make run`, which syncs first)"
    )
