"""The make targets the CI and CT workflows call, run as the workflows run them."""

from __future__ import annotations

import pytest

from mlops_template.io.lineage import file_md5
from tests.conftest import Template

pytestmark = pytest.mark.slow


def test_env_builds_a_venv_from_the_lock(template, tmp_path):
    venv = tmp_path / "venv"
    done = template.make("env", venv=venv)  # built from the lock, as in a fresh clone
    assert "uv sync --frozen" in done.stdout and (venv / ".synced").is_file()
    imported = template.run(
        str(venv / "bin" / "python"), "-c", "import mlops_template, mlflow, dvc; print('ok')"
    )
    assert imported.stdout.strip() == "ok"
    assert "uv sync" not in template.make("env", venv=venv).stdout  # up to date now


def test_dvc_push_and_pull_through_a_remote_from_the_environment(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    skipped = copy.make("dvc-push")
    assert "no DVC remote configured" in skipped.stdout

    remote = {"DVC_REMOTE_URL": str(tmp_path / "remote")}
    copy.make("dvc-push", env=remote)
    assert any((tmp_path / "remote").rglob("*")), "nothing reached the remote"

    clone = Template(tmp_path / "clone")
    copy.run("git", "clone", "-q", str(copy.root), str(clone.root))
    assert not clone.path("models/model.skops").exists()
    assert "no DVC remote configured" in clone.make("dvc-pull").stdout
    clone.make("dvc-pull", env=remote)
    model = "models/model.skops"
    assert file_md5(clone.path(model)) == file_md5(copy.path(model))
    assert clone.run("dvc", "status", "--quiet", check=False).returncode == 0


def test_metrics_diff_and_the_gate_in_dry_run(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.mlops("params", "compose", "model=linear")
    copy.make("run")
    summary = tmp_path / "summary.md"
    done = copy.make("metrics-diff", "BASE=HEAD", env={"GITHUB_STEP_SUMMARY": str(summary)})
    report = copy.path("reports/metrics-diff.md").read_text()
    assert "| metrics.json | accuracy" in report and "| params.yaml | model.type" in report
    assert "linear" in report and report in done.stdout
    assert summary.read_text() == report  # the job summary gets the same table
    assert copy.path("reports/plots-diff/index.html").is_file()

    dry = copy.make("promote-dry-run")
    assert "dry run: would promote" in dry.stderr
    copy.mlops(
        "params", "compose", "model=linear", "gate.classification.thresholds.accuracy.min=0.999"
    )
    refused = copy.make("promote-dry-run", check=False)
    assert refused.returncode != 0 and "would refuse" in refused.stderr  # fails the CI check


def test_make_run_in_a_fresh_copy_reproduces_the_committed_lock(reproduced):
    # What CI checks implicitly: dvc.lock, metrics and .gitignore files come out as committed.
    assert reproduced.run("git", "status", "--porcelain").stdout == ""
