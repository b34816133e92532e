"""Small models built as train builds them, for tests that need a fitted pipeline fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops_template.config import Features
from mlops_template.config.model import LinearModel
from mlops_template.core.models import build_pipeline
from tests.helpers.template import REPO


def linear_classifier(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    numeric: list[str],
    categorical: list[str],
    boolean: list[str] | None = None,
    dates: list[str] | None = None,
    model: Any = None,
    encodings: dict[str, str] | None = None,
):
    """The project's pipeline (linear, or `model`, a model config), fitted on `features`
    with these column kinds (and text columns read by `encodings`, core/columns.py)."""
    pipeline = build_pipeline(
        model or LinearModel(type="linear"),
        Features(),
        task="classification",
        numeric=numeric,
        categorical=categorical,
        boolean=boolean or [],
        dates=dates or [],
        seed=0,
        encodings=encodings,
    )
    return pipeline.fit(features, labels)


def log_small_model(folder: Path, experiment_id: str | None = None) -> pd.DataFrame:
    """A linear classifier of a number `x` and a category `c`, written to
    folder/model.skops and logged as train logs it, in a run of its own on the current
    store (in `experiment_id`, else the active experiment); its features."""
    import mlflow
    import numpy as np

    from mlops_template.core.schema import infer_schema
    from mlops_template.io.model_file import dump_model
    from mlops_template.io.model_logging import log_model

    rng = np.random.default_rng(0)
    features = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(["a", "b"], 60)})
    labels = pd.Series((features["x"] > 0).astype("int64"), name="y")
    schema = infer_schema(features, labels, "classification")
    model = linear_classifier(features, labels, numeric=["x"], categorical=["c"])
    path = dump_model(model, folder / "model.skops")
    with mlflow.start_run(experiment_id=experiment_id):
        log_model(model, features, schema, str(path), "md5")
    return features


def learner_config(name: str) -> Any:
    """A model config of conf/model/ as the pipeline reads it (lightgbm, xgboost, ...)."""
    from pydantic import TypeAdapter

    from mlops_template.config.model import Estimator

    text = (REPO / "conf" / "model" / f"{name}.yaml").read_text(encoding="utf-8")
    return TypeAdapter(Estimator).validate_python(yaml.safe_load(text))
