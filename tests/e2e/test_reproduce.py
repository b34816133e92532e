"""`reproduce` end to end: a registered version rebuilt from its commit in a git worktree,
with the real `git`, `dvc repro` and MLflow registry (what it compares and names is
tests/unit/test_reproduction.py's)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlops_template.core.reproduction import SERVED
from tests.e2e.customers import customer_frame, use_csv
from tests.helpers.template import Template

pytestmark = pytest.mark.slow

DIFFERS = 3
MODELS = "src/mlops_template/core/estimators.py"


def test_the_champion_is_rebuilt_byte_identical(served, tmp_path):
    copy = served.clone_to(tmp_path / "copy", with_store=True)
    status = copy.run("git", "status", "--porcelain").stdout
    # A post-checkout hook that fails in a new worktree, as DVC's (`pre-commit install`)
    # did there, before the tree shared the project's cache: no hook runs there now.
    hook = copy.path(".git/hooks/post-checkout")
    hook.write_text("#!/bin/sh\nexit 1\n")
    hook.chmod(0o755)
    runs = Path(copy.run("dvc", "cache", "dir").stdout.strip()) / "runs"
    cached_runs = sorted(runs.rglob("*")) if runs.is_dir() else []
    done = copy.make("reproduce")
    assert "byte-identical" in done.stderr, done.stderr
    report = json.loads(copy.path("reports/reproduce/v1.json").read_text())
    assert report["identical"] and report["differs"] == {}
    names = {o["name"]: o for o in report["outputs"]}
    assert set(names) == {"model file", "train data", "test data", SERVED, "metrics"}
    assert all(o["same"] and o["registered"] for o in names.values())
    # The worktree is gone, and the project's own files were not touched.
    assert copy.run("git", "worktree", "list").stdout.count("\n") == 1
    after = copy.run("git", "status", "--porcelain").stdout.replace("?? reports/reproduce/\n", "")
    assert after == status
    # Nor the shared cache's run-cache: from it, a later `dvc repro` here had restored
    # evaluate's outputs without running it, so without its MLflow run.
    assert (sorted(runs.rglob("*")) if runs.is_dir() else []) == cached_runs


def test_a_code_change_committed_without_rerunning_is_named(reproduced_build, tmp_path):
    """The model of the last run, promoted from a commit whose code is not the code that
    built it: the rebuild differs, and the code is named."""
    copy = reproduced_build.clone_to(tmp_path / "copy", with_store=True)
    code = copy.path(MODELS)
    before = code.read_text()
    changed = before.replace("max_iter=model.max_iter,", "max_iter=model.max_iter + 1,")
    assert changed != before  # the linear model the default chooses here takes it
    code.write_text(changed)
    copy.commit("a code change, not re-run")
    assert "promoted: " in copy.main("promote").stderr
    done = copy.main("reproduce", "champion", check=False)
    assert done.returncode == DIFFERS, done.stderr
    assert f"differs in code: {MODELS}" in done.stderr
    report = json.loads(copy.path("reports/reproduce/v1.json").read_text())
    assert not report["identical"] and list(report["differs"]) == ["code"]
    model = next(o for o in report["outputs"] if o["name"] == "model file")
    assert not model["same"]


def test_data_missing_from_cache_and_remote_is_one_line_and_exit_2(template: Template):
    copy = template
    customer_frame().to_csv(copy.path("data/customers.csv"), index=False)
    copy.run("dvc", "add", "--quiet", "data/customers.csv")
    copy.mlops(*use_csv("data/customers.csv"))
    copy.run("dvc", "repro", "--quiet")
    copy.commit("trained on a DVC-tracked CSV")
    assert "promoted: " in copy.main("promote").stderr
    copy.path("data/customers.csv").unlink()
    shutil.rmtree(copy.path(".dvc/cache"))  # and nothing was ever pushed to the remote
    done = copy.main("reproduce", "1", check=False)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()[1:]  # after the line saying what it does
    assert line.startswith("error: mlops-template v1: its data data/customers.csv (md5 ")
    assert "neither in the DVC cache nor on the remote" in line
