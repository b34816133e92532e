"""What one `dvc repro` leaves in MLflow: a parent run, a child per stage, full lineage."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient

from mlops_template.io.model_file import load_model

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(reproduced):
    mlflow.set_tracking_uri(reproduced.env["MLFLOW_TRACKING_URI"])
    client = MlflowClient()
    experiment = client.get_experiment_by_name("mlops-template")
    found = client.search_runs([experiment.experiment_id])
    yield client, {r.info.run_name: r for r in found}, found
    mlflow.set_tracking_uri(None)


def test_one_parent_run_with_a_child_per_stage(runs, reproduced):
    _, by_name, found = runs
    parents = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    assert parent.info.status == "FINISHED"
    children = sorted(
        r.info.run_name
        for r in found
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    )
    assert children == sorted(["collect", "validate", "prepare", "train", "evaluate"])
    head = reproduced.run("git", "rev-parse", "HEAD").stdout.strip()
    for run in found:
        assert run.data.tags["pipeline.git_commit"] == head
        assert run.data.tags["pipeline.git_dirty"] == "false"
    for name in children:
        assert by_name[name].data.tags["pipeline.stage"] == name


def test_params_are_flattened(runs, reproduced):
    _, by_name, found = runs
    params = yaml.safe_load(reproduced.path("params.yaml").read_text())
    parent = next(r for r in found if r.info.run_name == "pipeline")
    assert parent.data.params["model.type"] == params["model"]["type"]
    assert parent.data.params["paths.raw"] == params["paths"]["raw"]
    train = by_name["train"].data.params
    assert set(train) == {
        k
        for k in parent.data.params
        if k.split(".")[0] in {"model", "features", "train", "tune"}
        or k in {"split.key", "read.infinity", "gate.classification.metric"}
        or k == "gate.regression.metric"
        or k.startswith("gate.bootstrap.")
    }
    assert set(by_name["validate"].data.params) == {
        "data.target",
        "data.task",
        "validate.min_rows",
        "validate.max_classes",
        "validate.min_class_ratio",
        "validate.min_class_rows",
        "validate.small_classes",
        "validate.merged_class",
        "validate.target_copies",
        "validate.identifiers",
        "split.key",
        "features.max_categories",
        "engine.name",  # where it ran, pandas or Spark, and the session's settings
        "engine.spark.master",
    }


def test_train_records_how_model_auto_chose(runs, reproduced):
    """The default model=auto logs each candidate's cross-validated score and its pick."""
    _, by_name, _ = runs
    train = by_name["train"].data
    candidates = yaml.safe_load(reproduced.path("params.yaml").read_text())["model"]["candidates"]
    scores = {k: v for k, v in train.metrics.items() if k.startswith("cv_balanced_accuracy.")}
    assert set(scores) == {f"cv_balanced_accuracy.{name}" for name in candidates}
    best = max(scores, key=scores.__getitem__).removeprefix("cv_balanced_accuracy.")
    assert train.tags["model_type"] == candidates[best]["type"]
    folds = yaml.safe_load(reproduced.path("params.yaml").read_text())["train"]["cv"]["folds"]
    assert train.tags["model_selection"].startswith(f"model=auto chose {best} by {folds}-fold")


def test_inputs_carry_the_md5s_dvc_recorded(runs, reproduced):
    _, by_name, _ = runs
    lock = yaml.safe_load(reproduced.path("dvc.lock").read_text())
    recorded = {
        out["path"]: out["md5"]
        for stage in lock["stages"].values()
        for out in stage.get("outs", [])
    }
    checked = 0
    for stage in ["validate", "prepare", "train", "evaluate"]:
        inputs = by_name[stage].inputs.dataset_inputs
        assert inputs, stage
        for item in inputs:
            assert item.dataset.digest == recorded[item.dataset.name], (stage, item.dataset.name)
            checked += 1
    assert checked >= 6


def test_metrics_logged_match_metrics_json(runs, reproduced):
    _, by_name, _ = runs
    metrics = json.loads(reproduced.path("metrics.json").read_text())
    assert by_name["evaluate"].data.metrics == pytest.approx(metrics)
    artifacts = {a.path for a in runs[0].list_artifacts(by_name["evaluate"].info.run_id, "figures")}
    assert artifacts == {
        "figures/roc.png",
        "figures/precision_recall.png",
        "figures/confusion_matrix.png",
    }


def test_model_logged_in_skops_with_signature_and_example(runs, reproduced):
    _, by_name, _ = runs
    train = by_name["train"]
    (logged,) = mlflow.search_logged_models(
        experiment_ids=[train.info.experiment_id], output_format="list"
    )
    assert logged.source_run_id == train.info.run_id
    info = mlflow.models.get_model_info(logged.model_uri)
    assert info.flavors["sklearn"]["serialization_format"] == "skops"
    assert info.signature is not None and len(info.signature.inputs.inputs) == 30
    assert info.saved_input_example_info is not None
    schema = json.loads(reproduced.path("models/schema.json").read_text())
    assert info.metadata["schema"] == schema
    assert info.metadata["model_md5"] == train.data.tags["model_md5"]

    test = pd.read_parquet(reproduced.path("data/prepared/test.parquet")).drop(columns="target")
    served = mlflow.pyfunc.load_model(logged.model_uri).predict(test)
    local = load_model(reproduced.path("models/model.skops")).predict(test)
    np.testing.assert_array_equal(np.asarray(served), local)
