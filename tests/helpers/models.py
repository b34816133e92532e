"""Small models built as train builds them, for tests that need a fitted pipeline fast."""

from __future__ import annotations

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


def learner_config(name: str) -> Any:
    """A model config of conf/model/ as the pipeline reads it (lightgbm, xgboost, ...)."""
    from pydantic import TypeAdapter

    from mlops_template.config.model import Estimator

    text = (REPO / "conf" / "model" / f"{name}.yaml").read_text(encoding="utf-8")
    return TypeAdapter(Estimator).validate_python(yaml.safe_load(text))
