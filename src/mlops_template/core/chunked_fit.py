"""The model fitted on every training row when they are many, in bounded memory.

scikit-learn's own fit of the whole pipeline holds the preprocessed rows about four
times over: the ColumnTransformer keeps each part beside their concatenation, and
gradient boosting copies its rows to carve its early-stopping split (ten million rows
of 54 preprocessed columns took 11 GiB). Past `train.cv.sample_rows` training rows,
where the choice or search was made on a sample (core/cross_validation.py), the final
fit is made here instead, for any model whose preprocessing gives one array:

- the preprocessing is fitted on that same sample (medians, scales and categories
  settle well within a million rows; a category or level no sampled row has reads as
  unseen, as serving reads a new one, and a level's target encoding rests on its
  sampled rows);
- the sample's rows are the preprocessing's own fit output, as in a whole fit: a
  cross-fitted target encoding never encodes a row with its own label; every other row
  is preprocessed a chunk at a time; all into one preallocated array;
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
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline

from mlops_template.core.row_ids import uniform

# Rows preprocessed at once: their transient copies (the preprocessing's parts, and
# their concatenation) stay small beside the arrays they fill.
PREPROCESSED_ROWS = 50_000
VALIDATION_STREAM = 3  # row_ids.uniform's stream for early stopping's rows


def fits_in_chunks(pipeline: Pipeline) -> bool:
    """Whether the preprocessing gives one array to fill (a learner reading categoricals
    natively gets a frame instead: it is fitted whole)."""
    return isinstance(pipeline.steps[1][1], ColumnTransformer)


def early_stopping_rows(model: Any, ids: np.ndarray, seed: int, labels: np.ndarray) -> np.ndarray:
    """The rows gradient boosting stops early on (a mask), drawn by row hash; none for a
    learner that takes no validation set at fit, or one weighting its classes (its own
    split weighs them). A class none of the other rows has stays with them: the learner
    must see every class it is to stop early on."""
    held = np.zeros(len(ids), dtype=bool)
    boosting = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
    if not isinstance(model, boosting) or getattr(model, "class_weight", None) is not None:
        return held
    fraction = model.validation_fraction
    fitted = (1 - (fraction or 0)) * len(ids)  # scikit-learn's 'auto' counts rows it fits
    stops = model.early_stopping is True or (model.early_stopping == "auto" and fitted > 10_000)
    if fraction is None or not stops:
        return held
    held = uniform(ids, seed, VALIDATION_STREAM) < fraction
    if isinstance(model, HistGradientBoostingClassifier):
        unseen = np.setdiff1d(np.unique(labels[held]), np.unique(labels[~held]))
        held[np.isin(labels, unseen)] = False
    return held


def label_array(y: pd.Series) -> np.ndarray:
    """The labels as the learner takes them; text through its categories: one Python
    string per class, not per row."""
    return y.to_numpy() if pd.api.types.is_numeric_dtype(y) else np.asarray(y.astype("category"))


def fit_preprocessing(pipeline: Pipeline, rows: pd.DataFrame, y: pd.Series) -> np.ndarray:
    """Fit the pipeline's reading and preprocessing on the sample's `rows`; their
    preprocessed array, as the fit made it."""
    read, preprocess = pipeline.steps[0][1], pipeline.steps[1][1]
    return preprocess.fit_transform(read.fit_transform(rows), y)


def preprocessed(
    pipeline: Pipeline,
    chunks: Iterable[pd.DataFrame],
    sample: np.ndarray,
    sampled: np.ndarray,
    held: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row of `chunks` (the whole table again, in order) preprocessed, into one
    array for the learner's fit and one of the `held` rows: a sample row as the fit made
    it (`sampled`), any other by the fitted preprocessing."""
    read, preprocess = pipeline.steps[0][1], pipeline.steps[1][1]
    width, dtype = sampled.shape[1], sampled.dtype
    fit_x = np.empty((int((~held).sum()), width), dtype=dtype)
    held_x = np.empty((int(held.sum()), width), dtype=dtype)
    fit_at = held_at = sampled_at = start = 0
    for chunk in chunks:
        stop = start + len(chunk)
        part, mine = np.empty((len(chunk), width), dtype=dtype), sample[start:stop]
        taken = int(mine.sum())
        part[mine] = sampled[sampled_at : sampled_at + taken]
        if not mine.all():
            part[~mine] = preprocess.transform(read.transform(chunk[~mine]))
        kept, out = part[~held[start:stop]], part[held[start:stop]]
        fit_x[fit_at : fit_at + len(kept)] = kept
        held_x[held_at : held_at + len(out)] = out
        fit_at, held_at, sampled_at = fit_at + len(kept), held_at + len(out), sampled_at + taken
        start = stop
    if start != len(held):
        raise ValueError(f"the chunks hold {start} rows, the labels {len(held)}")
    return fit_x, held_x


def fit_learner(
    model: Any, fit_x: np.ndarray, held_x: np.ndarray, labels: np.ndarray, held: np.ndarray
) -> None:
    """The learner on its rows, the held ones as its early-stopping set if any."""
    if held.any():
        model.fit(fit_x, labels[~held], X_val=held_x, y_val=labels[held])
    else:
        model.fit(fit_x, labels)
