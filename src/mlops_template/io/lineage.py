"""Where a run came from: the git commit, whether the tree was dirty, and input digests."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

LOCK_FILE = "dvc.lock"


def git_output(*args: str) -> str | None:
    """A git command's output, stripped; None where it fails or there is no git."""
    try:
        done = subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


# Untracked files that change what a run makes: data pointers, code and config. (Other
# untracked files, a scratch notebook say, do not make a run dirty.)
UNTRACKED_THAT_COUNT = ("*.dvc", "src/", "conf/")


def git_info() -> dict[str, str]:
    """Commit and dirty flag. DVC rewrites dvc.lock while a pipeline runs, so it is ignored."""
    commit = git_output("rev-parse", "HEAD")
    if not commit:
        return {"git_commit": "unknown", "git_dirty": "unknown"}
    changed = git_output(
        "status", "--porcelain", "--untracked-files=no", "--", ".", f":!{LOCK_FILE}"
    )
    added = git_output("ls-files", "--others", "--exclude-standard", "--", *UNTRACKED_THAT_COUNT)
    return {"git_commit": commit, "git_dirty": str(bool(changed or added)).lower()}


def file_md5(path: str | Path) -> str:
    """The digest DVC 3 records for a file: md5 of its bytes."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
