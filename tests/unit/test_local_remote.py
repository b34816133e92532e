"""tools/local_remote.py: `make env` writes the absolute path of a local default DVC remote
into .dvc/config.local, whatever the project named it and wherever it points."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import REPO

TOOL = REPO / "tools" / "local_remote.py"


def _local_url(project: Path, name: str) -> str:
    done = subprocess.run(
        ["dvc", "config", "--local", f"remote.{name}.url"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


def _tool(project: Path) -> None:
    subprocess.run([sys.executable, str(TOOL), str(project)], check=True)


def test_a_renamed_remote_elsewhere_is_written_absolute(tmp_path):
    """The Makefile knew one name (`local`) and one URL (../../dvc-storage): a team's
    renamed remote, or one moved, kept its relative path, which DVC reads from / for
    other commits."""
    project = tmp_path / "clone"
    project.mkdir()
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=project, check=True)
    for args in (["add", "-d", "shared", "../store/dvc"], ["add", "s3", "s3://bucket/x"]):
        subprocess.run(["dvc", "remote", *args], cwd=project, check=True)
    assert "url = ../../store/dvc" in (project / ".dvc" / "config").read_text()  # from .dvc/
    _tool(project)
    assert _local_url(project, "shared") == str(tmp_path / "store" / "dvc")
    assert _local_url(project, "s3") == ""  # not the default, and not a local path
    before = (project / ".dvc" / "config.local").read_bytes()
    _tool(project)  # written: left alone
    assert (project / ".dvc" / "config.local").read_bytes() == before

    moved = tmp_path / "moved"
    project.rename(moved)
    _tool(moved)
    assert _local_url(moved, "shared") == str(tmp_path / "store" / "dvc")
    subprocess.run(["dvc", "remote", "default", "s3"], cwd=moved, check=True)
    (moved / ".dvc" / "config.local").unlink()
    _tool(moved)  # a default with a scheme: nothing to write
    assert not (moved / ".dvc" / "config.local").exists()
