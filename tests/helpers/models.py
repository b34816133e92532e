"""Small models built as train builds them, for tests that need a fitted pipeline fast."""

from __future__ import annotations

import pandas as pd

from mlops_template.config import Features
from mlops_template.config.model import LinearModel
from mlops_template.core.models import build_pipeline


def linear_classifier(
    features: pd.DataFrame,
    labels: pd.Series,
    *,
    numeric: list[str],
    categorical: list[str],
    boolean: list[str] | None = None,
    dates: list[str] | None = None,
):
    """The project's linear pipeline, fitted on `features` with these column kinds."""
    pipeline = build_pipeline(
        LinearModel(type="linear"),
        Features(),
        task="classification",
        numeric=numeric,
        categorical=categorical,
        boolean=boolean or [],
        dates=dates or [],
        seed=0,
    )
    return pipeline.fit(features, labels)
