"""A grid of DVC experiments, queued and run, ranked by cross-validated score on the
training rows, and the best applied: what DVC's queue and `exp best` do for real."""

from __future__ import annotations

import json
import re

import pytest
import yaml

pytestmark = pytest.mark.slow


def test_a_queued_grid_is_ranked_by_cv_score_and_the_best_applied(reproduced_build, tmp_path):
    copy = reproduced_build.clone_to(tmp_path / "copy")
    # A commit whose own settings the grid can beat: a linear model regularised too hard.
    copy.run(
        "python", "-m", "mlops_template", "params", "set", "model.candidates.linear.alpha=1000"
    )
    copy.run("dvc", "repro", "--quiet")
    copy.commit("alpha 1000")
    queued = copy.run("dvc", "exp", "run", "--queue", "-S", "model.candidates.linear.alpha=0.001,1")
    assert queued.stdout.count("Queued experiment") == 2
    # One that fails in train: `dvc exp show` gives it its baseline's scores.
    broken = "model.candidates.hist_gradient_boosting.validation_fraction=0.0001"
    copy.run("dvc", "exp", "run", "--queue", "-n", "broken", "-S", broken)
    # Trained on other rows than the commit's: its score cannot be compared.
    copy.run("dvc", "exp", "run", "--queue", "-n", "resplit", "-S", "split.seed=7")
    ran = copy.run("dvc", "exp", "run", "--run-all")  # exit 0 all the same
    assert "Failed to reproduce experiment(s) 'broken'" in ran.stderr
    # As on a fresh clone, which queued runs leave without outputs (validate's report
    # said the task, and so the metric): the metric is the one their cv.json holds.
    copy.path("data/interim/validation.json").unlink()
    shown = copy.run("python", "-m", "mlops_template", "exp", "best").stdout
    ranked = re.findall(r"^  (\S+(?: \(committed\))?) +cv_balanced_accuracy ([0-9.]+)", shown, re.M)
    assert len(ranked) == 3 and not {"broken", "resplit"} & set(dict(ranked))
    assert "main (committed)" in dict(ranked)  # the commit's own score, to beat
    left_out = shown.split("left out")[1]
    assert "broken (failed)" in left_out and "resplit (other training data)" in left_out
    scores = [float(score) for _, score in ranked]
    assert scores == sorted(scores, reverse=True)  # best first, by the cv score
    assert ranked[0][0] != "main (committed)"  # else nothing is applied (unit-tested)
    assert "not ranked by" in shown  # the test metric is shown, never used
    # An edit to conf/ not committed would be replaced without a word: refused.
    config = copy.path("conf/config.yaml")
    config.write_text(config.read_text() + "# mine\n")
    refused = copy.run("python", "-m", "mlops_template", "exp", "best", "--apply", check=False)
    assert refused.returncode == 2 and "uncommitted changes to conf/config.yaml" in refused.stderr
    assert config.read_text().endswith("# mine\n")
    copy.run("git", "checkout", "--", "conf")
    said = copy.run("python", "-m", "mlops_template", "exp", "best", "--apply").stdout
    assert "its settings kept in conf/: model.candidates.linear.alpha=" in said
    # conf/ composes to the applied params.yaml: the commit that keeps it is not refused,
    # and dvc.lock knows that conf/ (it went stale, and the next repro dirtied the tree).
    assert copy.run("python", "-m", "mlops_template", "params", "check").returncode == 0
    assert "Data and pipelines are up to date" in copy.run("dvc", "status").stdout
    applied = json.loads(copy.path("reports/cv.json").read_text())
    assert applied["cv_balanced_accuracy"] == pytest.approx(scores[0], abs=1e-4)
    alpha = yaml.safe_load(copy.path("params.yaml").read_text())["model"]["candidates"]
    assert alpha["linear"]["alpha"] in (0.001, 1)
    # By hand, `dvc exp apply` then `params keep`: the keep runs check_params again, so a
    # commit holds a dvc.lock that knows the conf/ (a team trial found it stale).
    copy.commit("the best applied")
    copy.run("dvc", "exp", "apply", "resplit")
    assert "split.seed=7" in copy.run("python", "-m", "mlops_template", "params", "keep").stdout
    assert "Data and pipelines are up to date" in copy.run("dvc", "status").stdout
