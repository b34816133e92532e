"""`dvc repro` end to end in a temporary copy, and what it leaves behind."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.helpers.browser import rendered_dom
from tests.helpers.template import OUTPUT_STAGES, STAGES, ran_stages

pytestmark = pytest.mark.slow


def test_repro_runs_every_stage_and_writes_outputs(reproduced):
    assert ran_stages(reproduced.repro_output) == OUTPUT_STAGES
    for rel in ["data/raw/dataset.parquet", "data/prepared/train.parquet", "models/model.skops"]:
        assert reproduced.path(rel).stat().st_size > 0, rel
    metrics = json.loads(reproduced.path("metrics.json").read_text())
    assert metrics["accuracy"] > 0.9  # breast cancer is an easy set for any of our models
    assert set(metrics) >= {"f1_macro", "roc_auc", "log_loss", "balanced_accuracy"}
    figures = sorted(p.name for p in reproduced.path("reports/figures").iterdir())
    assert figures == ["confusion_matrix.png", "precision_recall.png", "roc.png"]
    for png in reproduced.path("reports/figures").iterdir():
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    schema = json.loads(reproduced.path("models/schema.json").read_text())
    assert schema["task"] == "classification" and schema["target"]["classes"] == [0, 1]
    assert len(schema["columns"]) == 30


def test_second_repro_is_a_no_op(reproduced):
    done = reproduced.run("dvc", "repro")
    assert ran_stages(done.stdout) == []
    status = reproduced.run("dvc", "status")
    assert "up to date" in status.stdout


def test_metrics_and_plots_are_readable_by_dvc(reproduced):
    shown = json.loads(reproduced.run("dvc", "metrics", "show", "--json").stdout)
    (entry,) = shown.values()
    assert entry["data"]["metrics.json"]["data"]["accuracy"] > 0.9
    plots = reproduced.run("dvc", "plots", "show", "--json")
    rendered = json.loads(plots.stdout)
    assert "errors" not in rendered, rendered["errors"]
    assert {"ROC", "Precision-recall", "Confusion matrix"} <= set(rendered["data"])
    assert rendered["data"]["reports/figures/roc.png"][0]["type"] == "image"


def test_dvc_plots_render_offline(reproduced, tmp_path):
    # DVC's own page loads Vega from a CDN; .dvc/config names a page with it inlined.
    reproduced.run("dvc", "plots", "show", "--out", str(tmp_path / "plots"))
    page = tmp_path / "plots/index.html"
    assert "cdn." not in page.read_text()
    dom = rendered_dom(page)
    vega = ["ROC", "Precision-recall", "Confusion_matrix"]
    for name in vega:  # each Vega plot drawn into its own div
        assert re.search(rf'<div id="{name}"[^>]*>.*?<canvas', dom, re.S), name
    assert dom.count("<canvas") == len(re.findall(r'<div id="[A-Z]', dom))
    assert dom.count('<img src="static/') == 3  # the PNG figures


def test_lock_records_every_stage_with_its_params(reproduced):
    lock = yaml.safe_load(reproduced.path("dvc.lock").read_text())
    assert sorted(lock["stages"]) == sorted(STAGES)
    assert set(lock["stages"]["train"]["params"]["params.yaml"]) == {
        "features",
        "model",
        "train",
        "tune",
        "split.key",  # the key column is never a feature
        "read.infinity",  # the model's first step reads rows by the contract
        "gate.classification.metric",  # model=auto chooses by the gate's metric
        "gate.regression.metric",
        "gate.bootstrap",
    }
    assert set(lock["stages"]["validate"]["params"]["params.yaml"]) == {
        "data.target",
        "data.task",
        "validate",
        "split.key",
        "features.max_categories",
        "engine",
    }
    assert "params" not in lock["stages"]["evaluate"]


def test_train_only_param_reruns_train_and_after(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.mlops("params", "compose", "model.candidates.linear.alpha=0.5")  # linear is chosen
    done = copy.run("dvc", "repro")
    assert ran_stages(done.stdout) == ["check_params", "train", "evaluate"]
    for stage in ["collect", "validate", "prepare"]:
        assert f"Stage '{stage}' didn't change, skipping" in done.stdout


def test_exp_run_switches_model(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.commit("pipeline run")
    done = copy.run("dvc", "exp", "run", "-S", "model=random_forest", "-S", "model.n_estimators=25")
    assert ran_stages(done.stdout) == ["check_params", "train", "evaluate"]
    params = yaml.safe_load(copy.path("params.yaml").read_text())
    assert params["model"] == {
        "type": "random_forest",
        "n_estimators": 25,
        "max_depth": None,
        "min_samples_leaf": 1,
        "max_features": "sqrt",
        "class_weight": None,
        "loss": None,
        "search": {
            "min_samples_leaf": {"low": 1, "high": 20, "log": True},
            "max_features": {"low": 0.1, "high": 1.0},
        },
    }
    # DVC's Hydra composition and ours write the same file for the same overrides.
    dvc_composed = copy.path("params.yaml").read_text()
    copy.mlops("params", "compose", "model=random_forest", "model.n_estimators=25")
    assert copy.path("params.yaml").read_text() == dvc_composed
    metrics = json.loads(copy.path("metrics.json").read_text())
    assert metrics["accuracy"] > 0.9
    shown = copy.run("dvc", "exp", "show", "--csv").stdout
    assert "random_forest" in shown


def test_temp_experiment_tracks_into_the_projects_default_store(reproduced, tmp_path):
    """`dvc exp run --temp` runs in .dvc/tmp/exps/; its runs still land in ./mlflow.db."""
    copy = reproduced.clone_to(tmp_path / "copy")
    copy.commit("pipeline run")
    del copy.env["MLFLOW_TRACKING_URI"]  # the default local store
    done = copy.run("dvc", "exp", "run", "--temp", "-S", "model.candidates.linear.alpha=0.2")
    assert ran_stages(done.stdout) == ["check_params", "train", "evaluate"]

    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{copy.path('mlflow.db')}")
    try:
        runs = mlflow.search_runs(experiment_names=["mlops-template"], output_format="list")
        (parent,) = [r for r in runs if "dvc.experiment" in r.data.tags]
        experiment = parent.data.tags["dvc.experiment"]
        assert parent.info.run_name == experiment and experiment in done.stdout
        train = next(r for r in runs if r.info.run_name == "train")
        assert train.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert train.data.params["model.candidates.linear.alpha"] == "0.2"
        assert train.info.artifact_uri.startswith(copy.path("mlruns").as_uri())
        assert list(copy.path("mlruns").rglob("MLmodel"))
    finally:
        mlflow.set_tracking_uri(None)
