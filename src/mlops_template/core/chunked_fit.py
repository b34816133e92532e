"""The chosen model fitted on every training row when they are many, in bounded memory.

scikit-learn's own fit of the whole pipeline holds the preprocessed rows about four
times over: the ColumnTransformer keeps each part beside their concatenation, and
gradient boosting copies its rows to carve its early-stopping split (ten million rows
of 54 preprocessed columns took 11 GiB). Past `train.cv.sample_rows` rows, where the
choice was made on a sample (core/cross_validation.py), the chosen pipeline is fitted
here instead:

- the preprocessing is fitted on that same sample (its medians, scales, categories and
  encodings: statistics a sample of a million rows gives as well as all of them);
- every row is preprocessed a chunk at a time into one preallocated array;
- gradient boosting's early-stopping rows are chosen by a hash of each row's identity
  (as the folds are) and written to an array of their own, which the learner takes as
  its validation set, so it does not copy its rows to split them.

The result is the same kind of pipeline, scored the same way on every path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from mlops_template.core.row_ids import uniform

# Rows preprocessed at once: their transient copies (the preprocessing's parts, and
# their concatenation) stay small beside the arrays they fill.
PREPROCESSED_ROWS = 50_000
VALIDATION_STREAM = 3  # row_ids.uniform's stream for early stopping's rows


def early_stopping_rows(model: Any, ids: np.ndarray, seed: int) -> np.ndarray | None:
    """The rows gradient boosting stops early on (a mask), drawn by row hash; None for a
    learner that takes no validation set at fit, or one weighting its classes (its own
    split weighs them)."""
    boosting = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    if not isinstance(model, boosting) or getattr(model, "class_weight", None) is not None:
        return None
    stops = model.early_stopping is True or (model.early_stopping == "auto" and len(ids) > 10_000)
    if not stops or model.validation_fraction is None:
        return None
    return uniform(ids, seed, VALIDATION_STREAM) < model.validation_fraction


def fit_preprocessing(pipeline: Pipeline, rows: pd.DataFrame, y: pd.Series) -> bool:
    """Fit the pipeline's reading and preprocessing on `rows` (the sample); False if its
    output is not one dense array (a learner reading categoricals natively gets a frame):
    then the pipeline is to be fitted whole."""
    read, preprocess, _ = (step for _, step in pipeline.steps)
    out = preprocess.fit_transform(read.fit_transform(rows), y)
    return isinstance(out, np.ndarray)


def fit_on_chunks(
    pipeline: Pipeline, chunks: Iterable[pd.DataFrame], y: pd.Series, held: np.ndarray | None
) -> None:
    """Fit the pipeline's learner on every row, `chunks` in order, each preprocessed by
    the fitted preprocessing into one array; the `held` rows (early_stopping_rows) into
    another, the learner's validation set."""
    read, preprocess, model = (step for _, step in pipeline.steps)
    held = np.zeros(len(y), dtype=bool) if held is None else held
    fit_x = held_x = None
    fit_at = held_at = start = 0
    for chunk in chunks:
        part = preprocess.transform(read.transform(chunk))
        if fit_x is None:
            fit_x = np.empty((int((~held).sum()), part.shape[1]), dtype=part.dtype)
            held_x = np.empty((int(held.sum()), part.shape[1]), dtype=part.dtype)
        mine = held[start : start + len(part)]
        kept, out = part[~mine], part[mine]
        fit_x[fit_at : fit_at + len(kept)] = kept
        held_x[held_at : held_at + len(out)] = out
        fit_at, held_at, start = fit_at + len(kept), held_at + len(out), start + len(part)
    if start != len(y):
        raise ValueError(f"the chunks hold {start} rows, the labels {len(y)}")
    # Text labels through their categories: one Python string per class, not per row.
    labels = y.to_numpy() if pd.api.types.is_numeric_dtype(y) else np.asarray(y.astype("category"))
    if held.any():
        model.fit(fit_x, labels[~held], X_val=held_x, y_val=labels[held])
    else:
        model.fit(fit_x, labels)
