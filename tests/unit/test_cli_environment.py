"""The environment every command runs in, whoever started it."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from mlops_template.cli import own_tools_first


def test_the_environments_own_dvc_is_found_without_its_bin_on_path(monkeypatch):
    """`.venv/bin/mlops ct`, as the CT workflow runs it (no activated venv), failed
    at its first retrain: `dvc` was not on PATH."""
    own = Path(sys.executable).parent
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert shutil.which("dvc") != str(own / "dvc")
    own_tools_first()
    assert shutil.which("dvc") == str(own / "dvc")
    assert shutil.which("python") == str(own / "python")
    own_tools_first()  # once is enough
    assert os.environ["PATH"] == f"{own}:/usr/bin:/bin"


def test_a_python_without_its_own_dvc_leaves_path_alone(monkeypatch, tmp_path):
    """A system Python ahead of ~/.local/bin or pyenv's shims would hide the user's dvc."""
    (tmp_path / "python").touch()
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    own_tools_first()
    assert os.environ["PATH"] == "/usr/bin:/bin"
