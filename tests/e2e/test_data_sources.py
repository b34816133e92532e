"""Any tabular data through config alone: files, bundled sets, generated data; every task."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mlops_template.io.model_file import load_model
from tests.e2e.customers import customer_frame, data_path, use_csv
from tests.helpers.template import STAGES, ran_stages

pytestmark = pytest.mark.slow


def _outputs(template):
    schema = json.loads(template.path("models/schema.json").read_text())
    metrics = json.loads(template.path("metrics.json").read_text())
    return schema, metrics


def _pipeline(template, *overrides: str):
    """Every stage in order, in this process: these tests are about the data (a file
    source's `dvc repro` is csv_trained's). DVC resolves dvc.yaml with these params."""
    template.main("params", "compose", *overrides)
    for stage in STAGES:
        template.main(stage)
    template.run("dvc", "status")  # fails on a dep or param dvc.yaml cannot resolve
    return _outputs(template)


def test_csv_with_categorical_columns_and_missing_values(csv_copy, tmp_path):
    assert ran_stages(csv_copy.repro_output) == STAGES  # through `dvc repro`
    schema, metrics = _outputs(csv_copy)
    kinds = {c["name"]: c["kind"] for c in schema["columns"]}
    assert kinds == {
        "plan": "categorical",
        "tenure": "numeric",
        "spend": "numeric",
        "region": "categorical",
    }
    plan = next(c for c in schema["columns"] if c["name"] == "plan")
    assert plan["categories"] == ["basic", "plus", "pro"] and plan["nullable"]
    assert schema["target"]["classes"] == ["no", "yes"]
    assert metrics["accuracy"] > 0.8
    # Preprocessing is inside the model: raw rows with gaps and a new category score.
    model = load_model(csv_copy.path("models/model.skops"))
    raw = pd.DataFrame(
        {
            "plan": ["enterprise", None],
            "tenure": [np.nan, 5.0],
            "spend": [10.0, np.nan],
            "region": [None, "east"],
        }
    )
    assert set(model.predict(raw)) <= {"no", "yes"}
    # The CSV, outside the repository, is a DVC dependency: editing it re-collects. (An own
    # copy of it: the shared build's is left alone.)
    csv = tmp_path / "customers.csv"
    shutil.copyfile(data_path(csv_copy), csv)
    csv_copy.main(*use_csv(csv))
    assert ran_stages(csv_copy.run("dvc", "repro", "collect").stdout) == ["collect"]
    assert ran_stages(csv_copy.run("dvc", "repro", "collect").stdout) == []
    customer_frame(seed=4).to_csv(csv, index=False)
    assert ran_stages(csv_copy.run("dvc", "repro", "collect").stdout) == ["collect"]


@pytest.mark.parametrize(
    ("overrides", "task", "n_classes"),
    [
        (["data=diabetes", "model=random_forest", "model.n_estimators=50"], "regression", None),
        (["data=wine", "model=linear"], "classification", 3),
        (
            ["data=synthetic", "data.task=regression", "data.n_rows=400", "model=linear"],
            "regression",
            None,
        ),
        (["data=synthetic", "data.n_classes=3", "data.n_rows=600"], "classification", 3),
    ],
    ids=[
        "diabetes-regression-rf",
        "wine-multiclass-linear",
        "synthetic-regression",
        "synthetic-multiclass-auto",
    ],
)
def test_bundled_and_generated_sets(template, overrides, task, n_classes):
    schema, metrics = _pipeline(template, *overrides)
    assert schema["task"] == task
    plots = template.path("reports/plots")
    figures = {p.name for p in template.path("reports/figures").iterdir()}
    if task == "regression":
        assert set(metrics) == {"rmse", "mae", "r2"} and metrics["r2"] > 0.2
        assert figures == {"predicted_vs_actual.png", "residuals.png"}
        assert json.loads((plots / "predictions.json").read_text())
        assert json.loads((plots / "roc.json").read_text()) == []
    else:
        assert len(schema["target"]["classes"]) == n_classes
        assert metrics["accuracy"] > 0.6 and "roc_auc" in metrics
        assert figures == {"roc.png", "precision_recall.png", "confusion_matrix.png"}


def test_parquet_source_with_task_override(template, tmp_path):
    frame = customer_frame(400)
    frame["visits"] = (frame["spend"] // 10).astype(int)  # few distinct integers
    path = tmp_path / "customers.parquet"
    frame.drop(columns="churn").to_parquet(path)
    # An integer target with few values looks like classes; the config says otherwise.
    overrides = ["data=parquet", f"data.path={path}", "data.target=visits", "data.task=regression"]
    schema, metrics = _pipeline(template, *overrides)
    assert schema["task"] == "regression" and "rmse" in metrics


def test_count_target_is_inferred_as_regression(template, tmp_path):
    """Visits per customer (0 to 9, a long right tail): counts, so regression, though
    ten integer values would pass for classes; the Poisson loss fits counts."""
    frame = customer_frame(400).drop(columns="churn")
    tenure = frame["tenure"].fillna(frame["tenure"].median())
    rng = np.random.default_rng(5)
    frame["visits"] = rng.poisson(np.exp(0.2 + 1.2 * tenure / tenure.max())).clip(0, 9)
    path = tmp_path / "visits.parquet"
    frame.to_parquet(path)
    overrides = ["data=parquet", f"data.path={path}", "data.target=visits"]
    schema, metrics = _pipeline(
        template, *overrides, "model=hist_gradient_boosting", "model.loss=poisson"
    )
    report = json.loads(template.path("data/interim/validation.json").read_text())
    assert report["task"] == schema["task"] == "regression"
    assert "counts, regression" in report["task_reason"]
    assert set(metrics) == {"rmse", "mae", "r2"} and metrics["r2"] > 0
