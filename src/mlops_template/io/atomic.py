"""Atomic writes: a temp file in the target's folder, then a rename.

A killed or failed stage leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path next to `target`; move it into place only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.chmod(0o666 & ~_umask())  # mkstemp makes it private; a normal file is not
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    except OSError as err:
        # A full disk met through a file object names no file: this is the one written.
        if err.errno in (errno.ENOSPC, errno.EDQUOT) and err.filename is None:
            err.filename = str(target)
        raise
    finally:
        tmp_path.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_with(target: str | Path, writer: Callable[[Path], Any]) -> Path:
    with atomic_path(target) as tmp:
        writer(tmp)
    return Path(target)


def write_bytes(target: str | Path, data: bytes) -> Path:
    return write_with(target, lambda tmp: tmp.write_bytes(data))


def write_text(target: str | Path, text: str) -> Path:
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | Path, obj: Any) -> Path:
    """Stable JSON (sorted keys, fixed indent) so equal content means equal bytes."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def write_parquet(target: str | Path, frame: Any, row_group_size: int | None = None) -> Path:
    return write_with(
        target,
        lambda tmp: frame.to_parquet(
            tmp, index=False, engine="pyarrow", row_group_size=row_group_size
        ),
    )


@contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Yield a temp folder; replace `target` with it only if the block succeeds."""
    import shutil

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
