"""One writer at a time for a Delta table, and what a writer killed during the table's
first write leaves behind.

A first write (the table's first commit) is marked beside the table while it runs: a
writer killed meanwhile leaves files but no table, and the next writer clears them.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops_template.errors import PipelineError

LOCK_WAIT = 600.0  # seconds a writer waits for another one to finish with the table


def lock_path(table: str) -> Path:
    """Beside the table, not in it: Delta's directory holds only Delta's files, and the
    lock exists before the table does."""
    path = Path(table).resolve()
    return path.with_name(f"{path.name}.lock")


@contextmanager
def locked(table: str, wait: float = LOCK_WAIT) -> Iterator[None]:
    """This process alone writes to the table meanwhile; other writers wait, up to `wait` s.

    An flock, which the kernel releases when the process ends however it ends: a writer
    that crashed never leaves the table locked. The lock file itself stays (removing it
    would let a waiter lock a file that the next writer no longer sees). A table not yet
    made is marked meanwhile (`first_write_marker`), so what a writer killed before the
    first commit leaves is cleared by the next one instead of refused."""
    lock = lock_path(table)
    try:
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.touch()
    except OSError as err:
        raise PipelineError(
            f"{table}: cannot create its lock file {lock}: {err.strerror}"
        ) from None
    with open(lock, "a") as handle:  # closing it releases the lock
        wait_for_lock(
            handle,
            f"{table}: another process is writing to it; waiting",
            f"{table}: another process kept it locked ({lock}) for over {wait:.0f} s; "
            "nothing scored, run again once it is done",
            wait,
        )
        # No writer of ours is at work now: what a killed first write left is stale.
        _clear_interrupted_first_write(table)
        marked = _mark_first_write(table)
        try:
            yield
        finally:
            if marked:
                _unmark_first_write(table)


def first_write_marker(table: str) -> Path:
    """Beside the table, there while its first write runs (under the lock): if that
    writer is killed, the files in the table's directory are known to be its own."""
    path = Path(table).resolve()
    return path.with_name(f"{path.name}.first-write")


# What an uncommitted first write leaves in the table's directory: deltalake's data files
# (`#N`: one being uploaded), its log folder with at most a commit being written, and
# the folder Spark's executors write into (spark_predict.py).
_DATA_FILE = re.compile(r"part-.+\.parquet(#\d+)?")
_COMMIT_BEING_WRITTEN = re.compile(r"_commit_.+\.json\.tmp")
_SPARK_STAGING = re.compile(r"spark-[0-9a-f]{32}")


def interrupted_first_write(table: str) -> list[Path] | None:
    """The files in the table's directory, if they are all what a first write of ours,
    marked and never committed, leaves; None otherwise."""
    path = Path(table)
    marked = first_write_marker(table).exists()
    if not (marked and path.is_dir()) or _is_table(table):
        return None
    entries = list(path.iterdir())
    return entries if all(map(_uncommitted, entries)) else None


def _uncommitted(entry: Path) -> bool:
    if entry.name == "_delta_log" and entry.is_dir():
        return all(_COMMIT_BEING_WRITTEN.fullmatch(f.name) for f in entry.iterdir())
    if _SPARK_STAGING.fullmatch(entry.name):
        return entry.is_dir()
    return entry.is_file() and _DATA_FILE.fullmatch(entry.name) is not None


def _clear_interrupted_first_write(table: str) -> None:
    marker = first_write_marker(table)
    if not marker.exists():
        return
    leftovers = interrupted_first_write(table)
    for entry in leftovers or []:
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    if leftovers:
        print(f"{table}: cleared what an interrupted first write left in it", file=sys.stderr)
    # With other files beside ours, the marker stays and `check` refuses the directory.
    if leftovers is not None or not Path(table).is_dir() or _is_table(table):
        marker.unlink()


def _mark_first_write(table: str) -> bool:
    path = Path(table)
    if path.is_dir() and (_is_table(table) or any(path.iterdir())):
        return False  # a table, or other files, which `check` refuses
    try:
        first_write_marker(table).touch()
    except OSError as err:
        raise PipelineError(
            f"{table}: cannot mark its first write beside it: {err.strerror}"
        ) from None
    return True


def _unmark_first_write(table: str) -> None:
    """Unless a first write that failed left its files (and the next writer clears them)."""
    path = Path(table)
    if not path.is_dir() or _is_table(table) or not any(path.iterdir()):
        first_write_marker(table).unlink(missing_ok=True)


def _is_table(table: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(table)


def wait_for_lock(handle: Any, waiting: str, gave_up: str, wait: float) -> None:
    """An exclusive flock on `handle`; if another process holds it, `waiting` said once
    and a wait of up to `wait` seconds, then a PipelineError saying `gave_up`."""
    if _try_lock(handle):
        return
    print(waiting, file=sys.stderr)
    deadline = time.monotonic() + wait
    while not _try_lock(handle):
        if time.monotonic() >= deadline:
            raise PipelineError(gave_up)
        time.sleep(0.2)


def _try_lock(handle) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
