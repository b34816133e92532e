"""Any tabular data through config alone: files, bundled sets, generated data; every task."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_template.io.model_file import load_model
from tests.conftest import ran_stages

pytestmark = pytest.mark.slow


def customer_frame(n: int = 300, seed: int = 3) -> pd.DataFrame:
    """Numeric and categorical columns with missing values and a text target."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["basic", "plus", "pro"], n)
    tenure = rng.integers(1, 60, n).astype(float)
    spend = rng.gamma(2.0, 30.0, n)
    churn = np.where((plan == "basic") & (tenure < 20) | (spend > 120), "yes", "no")
    frame = pd.DataFrame({"plan": plan, "tenure": tenure, "spend": spend, "churn": churn})
    frame.loc[rng.random(n) < 0.1, "tenure"] = np.nan
    frame.loc[rng.random(n) < 0.1, "plan"] = None
    frame["region"] = rng.choice(["north", "south", None], n)
    return frame


def _repro(template, *overrides: str):
    template.mlops("params", "compose", *overrides)
    done = template.run("dvc", "repro")
    assert ran_stages(done.stdout) == ["collect", "validate", "prepare", "train", "evaluate"]
    schema = json.loads(template.path("models/schema.json").read_text())
    metrics = json.loads(template.path("metrics.json").read_text())
    return schema, metrics


def test_csv_with_categorical_columns_and_missing_values(template, tmp_path):
    csv = tmp_path / "customers.csv"
    customer_frame().to_csv(csv, index=False)
    schema, metrics = _repro(template, "data=csv", f"data.path={csv}", "data.target=churn")
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
    model = load_model(template.path("models/model.skops"))
    raw = pd.DataFrame(
        {
            "plan": ["enterprise", None],
            "tenure": [np.nan, 5.0],
            "spend": [10.0, np.nan],
            "region": [None, "east"],
        }
    )
    assert set(model.predict(raw)) <= {"no", "yes"}
    # The CSV is a DVC dependency: editing it re-collects.
    customer_frame(seed=4).to_csv(csv, index=False)
    assert ran_stages(template.run("dvc", "repro").stdout)[0] == "collect"


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
        "synthetic-multiclass-hgb",
    ],
)
def test_bundled_and_generated_sets(template, overrides, task, n_classes):
    schema, metrics = _repro(template, *overrides)
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
    schema, metrics = _repro(
        template, "data=parquet", f"data.path={path}", "data.target=visits", "data.task=regression"
    )
    assert schema["task"] == "regression" and "rmse" in metrics
