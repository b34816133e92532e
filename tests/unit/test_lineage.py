"""The dirty flag: changed tracked files, and untracked data pointers, code or config."""

from __future__ import annotations

import subprocess

from mlops_template.io.lineage import git_info


def _git(root, *args):
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_untracked_pointers_code_and_config_make_a_run_dirty(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _git(tmp_path, "init", "-q")
    (tmp_path / "params.yaml").write_text("a: 1\n")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    assert git_info()["git_dirty"] == "false"
    (tmp_path / "notes.txt").write_text("scratch")  # not something a run reads
    (tmp_path / "dvc.lock").write_text("rewritten by DVC while it runs")
    assert git_info()["git_dirty"] == "false"
    folder = tmp_path / "data" / "incoming"
    folder.mkdir(parents=True)
    (folder / "batch.parquet.dvc").write_text("outs: []\n")  # trained on, not committed
    assert git_info()["git_dirty"] == "true"
    (folder / "batch.parquet.dvc").unlink()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "new.py").write_text("")
    assert git_info()["git_dirty"] == "true"
    (tmp_path / "src" / "new.py").unlink()
    (tmp_path / "params.yaml").write_text("a: 2\n")
    assert git_info()["git_dirty"] == "true"
