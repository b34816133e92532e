from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import (
    Features,
    HistGradientBoostingModel,
    LinearModel,
    RandomForestModel,
)
from mlops_template.core.models import build_pipeline

MODELS = [
    LinearModel(type="linear"),
    RandomForestModel(type="random_forest", n_estimators=10),
    HistGradientBoostingModel(type="hist_gradient_boosting", max_iter=10, min_samples_leaf=2),
]
TASKS = ["classification", "regression"]


def training_frame() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(0)
    n = 40
    x = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "colour": pd.Series(rng.choice(["red", "blue", "green"], size=n), dtype="str"),
        }
    )
    x.loc[[1, 5, 9], "size"] = np.nan
    x.loc[[2, 6], "colour"] = np.nan
    labels = pd.Series(np.where(x["size"].fillna(0) > 0, "yes", "no"))
    values = x["size"].fillna(0) * 2 + (x["colour"] == "red")
    return x, labels, values


NEW_ROWS = pd.DataFrame(
    {"size": [0.5, np.nan, -2.0], "colour": pd.Series(["purple", None, "red"], dtype="str")}
)


def fit_predict(model, task, seed=0):
    x, labels, values = training_frame()
    pipeline = build_pipeline(
        model, Features(), task=task, numeric=["size"], categorical=["colour"], seed=seed
    )
    pipeline.fit(x, labels if task == "classification" else values)
    return pipeline, pipeline.predict(NEW_ROWS)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.type)
def test_fits_and_predicts_unseen_category(model, task):
    pipeline, predicted = fit_predict(model, task)
    assert len(predicted) == len(NEW_ROWS)
    if task == "classification":
        assert set(predicted) <= {"yes", "no"}
        proba = pipeline.predict_proba(NEW_ROWS)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    else:
        assert np.isfinite(predicted).all()


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.type)
def test_same_seed_same_predictions(model, task):
    _, first = fit_predict(model, task, seed=5)
    _, second = fit_predict(model, task, seed=5)
    np.testing.assert_array_equal(first, second)


def test_estimator_follows_config():
    model = RandomForestModel(type="random_forest", n_estimators=7, max_depth=3)
    pipeline, _ = fit_predict(model, "regression", seed=11)
    forest = pipeline.named_steps["model"]
    assert type(forest).__name__ == "RandomForestRegressor"
    assert (forest.n_estimators, forest.max_depth, forest.random_state) == (7, 3, 11)
    linear = fit_predict(LinearModel(type="linear", alpha=4.0), "classification")[0]
    assert linear.named_steps["model"].C == 0.25


def test_scaling_can_be_turned_off():
    x, labels, _ = training_frame()
    kwargs = {"task": "classification", "numeric": ["size"], "categorical": ["colour"], "seed": 0}
    scaled = build_pipeline(LinearModel(type="linear"), Features(), **kwargs)
    raw = build_pipeline(LinearModel(type="linear"), Features(scale_numeric=False), **kwargs)
    out_scaled = scaled.fit(x, labels)[:-1].transform(x)
    out_raw = raw.fit(x, labels)[:-1].transform(x)
    assert abs(out_scaled[:, 0].mean()) < 1e-9
    np.testing.assert_allclose(out_raw[:, 0], x["size"].fillna(x["size"].median()))
