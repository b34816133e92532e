"""A stage's warning when .venv was synced before uv.lock changed (synced_env.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_template.synced_env import stale_note


@pytest.fixture
def project(tmp_path):
    (venv := tmp_path / ".venv").mkdir()
    (tmp_path / "uv.lock").write_text("version = 1\n")
    return tmp_path, venv


def _age(path: Path, seconds: float) -> None:
    now = path.stat().st_mtime
    os.utime(path, (now - seconds, now - seconds))


def test_a_lock_newer_than_every_sync_is_said(project):
    root, venv = project
    (venv / ".synced").touch()
    (venv / ".synced-dev").touch()
    _age(venv / ".synced", 60)
    _age(venv / ".synced-dev", 30)  # the last sync, older than the lock too
    assert "synced before uv.lock last changed" in stale_note(root, venv)
    assert "make env" in stale_note(root, venv)


def test_a_sync_after_the_lock_is_quiet(project):
    root, venv = project
    (venv / ".synced").touch()
    _age(venv / ".synced", 60)
    (venv / ".synced-dev").touch()
    _age(root / "uv.lock", 30)
    assert stale_note(root, venv) is None


def test_other_environments_are_not_judged(project, tmp_path_factory):
    root, venv = project
    assert stale_note(root, venv) is None  # never synced by make: no marker
    (venv / ".synced").touch()
    _age(venv / ".synced", 60)
    other = tmp_path_factory.mktemp("other-env")
    (other / ".synced").touch()
    _age(other / ".synced", 60)
    assert stale_note(root, other) is None  # not the project's .venv
    (root / "uv.lock").unlink()
    assert stale_note(root, venv) is None  # no lock


def test_a_stage_process_says_it(tmp_path):
    """`python -m mlops_template <stage>` prints it before anything else runs: in a folder
    whose .venv is this environment (a link to it) and whose lock is dated by the test."""
    markers = list(Path(sys.prefix).glob(".synced*"))
    if not markers:
        pytest.skip("runs in an environment synced by make")
    (tmp_path / ".venv").symlink_to(sys.prefix)
    lock = tmp_path / "uv.lock"
    lock.write_text("version = 1\n")
    synced = max(m.stat().st_mtime for m in markers)
    os.utime(lock, (synced, synced - 1))  # the lock before the sync: quiet
    assert "synced before uv.lock" not in _stage_stderr(tmp_path)
    os.utime(lock, (synced, synced + 1))  # after it: said
    assert _stage_stderr(tmp_path).startswith(
        "warning: .venv was synced before uv.lock last changed"
    )


def _stage_stderr(folder: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_template", "check_params", "--help"],
        cwd=folder,
        env={**os.environ, "MLOPS_STAGE_SERVER": "0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stderr
