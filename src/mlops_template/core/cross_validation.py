"""Scoring a model on the training rows: folds, or one hold-out split on large data.

model=auto's choice and every trial of a tuning search are scored here, and only on the
rows they are given: the training rows. Rows go to folds by a hash of their identity (as
the split does), so duplicate rows, and rows sharing a `split.key`, stay in one fold.
Past `train.cv.max_rows` one hold-out split replaces the folds: on large data a fifth of
the rows scores a model as steadily as folds do, for a fraction of the fits. Past
`train.cv.sample_rows` the split is carved from a sample of that many rows: the choice
costs the same at 1e7 rows as at 1e6, and the chosen model is fitted on every row
(core/chunked_fit.py).
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from mlops_template.config import CrossValidation
from mlops_template.core.bootstrap import Outputs
from mlops_template.core.row_ids import uniform

FOLD_STREAM = 1  # row_ids.uniform's stream for the folds: independent of the split
SAMPLE_STREAM = 2  # its stream for the sample the choice is made on
NOT_HELD = -1  # a row no fit leaves out: the training side of a hold-out split
OUT = -2  # a row outside the sample: no choice's fit or score reads it
# Below this many rows a fit runs on one thread: starting OpenMP threads costs more than
# they save (the bundled sets' selection took 20-40 % less time on one thread).
ONE_THREAD_ROWS = 10_000


def threads_for(rows: int) -> AbstractContextManager:
    """Fits on few rows on one thread; on more, as many as the learner uses."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1) if rows < ONE_THREAD_ROWS else nullcontext()


@dataclass(frozen=True)
class Folds:
    """Which fold each training row is held out in (NOT_HELD: never)."""

    of_row: np.ndarray
    holdout: bool

    @property
    def numbers(self) -> list[int]:
        return sorted(int(f) for f in np.unique(self.of_row) if f >= 0)

    @property
    def scored(self) -> np.ndarray:
        """The rows a score is computed on: every row, or the hold-out split's."""
        return self.of_row >= 0

    @property
    def sample(self) -> np.ndarray | None:
        """The rows the choice read (a mask), if a sample of them; else None."""
        return self.of_row != OUT if self.sampled else None

    @property
    def sampled(self) -> bool:
        """Whether the choice reads a sample of the rows (then the model is refitted)."""
        return bool((self.of_row == OUT).any())

    def describe(self) -> str:
        rows = len(self.of_row)
        if self.sampled:
            used = int((self.of_row != OUT).sum())
            return (
                f"a hold-out split of {int(self.scored.sum())} of a sample of {used} "
                f"of {rows} training rows"
            )
        if self.holdout:
            return f"a hold-out split of {int(self.scored.sum())} of {rows} training rows"
        return f"{len(self.numbers)}-fold cross-validation on {rows} training rows"

    def without(self, fold: int) -> np.ndarray:
        """The rows a fold's model is fitted on."""
        return (self.of_row != fold) & (self.of_row != OUT)


def folds_for(ids: np.ndarray, cv: CrossValidation, seed: int) -> Folds:
    """Folds from each row's identity hash: the same rows, the same folds."""
    draw = uniform(ids, seed, FOLD_STREAM)
    if len(ids) <= cv.max_rows:
        return Folds((draw * cv.folds).astype(int), holdout=False)
    of_row = np.where(draw < cv.holdout, 0, NOT_HELD)
    if len(ids) > cv.sample_rows:
        of_row[uniform(ids, seed, SAMPLE_STREAM) >= cv.sample_rows / len(ids)] = OUT
    return Folds(of_row, holdout=True)


@dataclass
class Cost:
    """Fits run and the time they took, summed over a selection or a search."""

    fits: int = 0
    seconds: float = 0.0

    def add(self, fits: int, seconds: float) -> None:
        self.fits += fits
        self.seconds += seconds

    def describe(self) -> str:
        return f"{self.fits} fits in {self.seconds:.1f} s"


@dataclass(frozen=True)
class FoldRows:
    """One fold's rows, preprocessed by a preprocessing fitted without them."""

    held: np.ndarray  # mask over the training rows
    fit_x: Any
    fit_y: pd.Series
    held_x: Any
    preprocessing: Any  # fitted on the rows outside the fold


def prepare(preprocessing: Any, x: pd.DataFrame, y: pd.Series, folds: Folds) -> list[FoldRows]:
    """Each fold's rows through `preprocessing` (a pipeline without its estimator) fitted
    on the other rows: done once, then every candidate and every trial that shares the
    preprocessing fits only its estimator, as the whole pipeline would have."""
    parts = []
    for fold in folds.numbers:
        held, fit = folds.of_row == fold, folds.without(fold)
        fit_x, fit_y = x[fit], y[fit]
        fitted = clone(preprocessing)
        fit_rows = fitted.fit_transform(fit_x, fit_y)  # one pass: fit, and its rows' output
        parts.append(FoldRows(held, fit_rows, fit_y, fitted.transform(x[held]), fitted))
    return parts


class PreparedFolds:
    """The training rows' folds, and each preprocessing's output on them, made once:
    model=auto's candidates and every trial of a search that share a preprocessing (all
    the bundled learners do) share its folds' rows."""

    def __init__(self, x: pd.DataFrame, y: pd.Series, folds: Folds) -> None:
        self.x, self.y, self.folds = x.reset_index(drop=True), y.reset_index(drop=True), folds
        self._made: dict[str, list[FoldRows]] = {}

    def rows(self, preprocessing: Any) -> list[FoldRows]:
        import joblib

        key = joblib.hash(preprocessing)
        if key not in self._made:
            self._made[key] = prepare(preprocessing, self.x, self.y, self.folds)
        return self._made[key]

    def fit_targets(self) -> list[pd.Series]:
        """The labels each fold's model is fitted on: a config is checked against them
        before sklearn's own error (early stopping's hold-out needs every class twice)."""
        return [self.y[self.folds.without(fold)] for fold in self.folds.numbers]


@dataclass(frozen=True)
class FoldOutputs:
    """One fold's model on its held-out rows."""

    held: np.ndarray
    predicted: np.ndarray
    proba: np.ndarray | None  # columns in `classes` order
    model: Any  # the estimator fitted without the fold


def fitted_pipeline(rows: FoldRows, part: FoldOutputs) -> Pipeline:
    """The whole pipeline as fitted without the fold: on large data, the hold-out split's
    model is the model (a refit on every row would double the cost for a fifth more)."""
    return Pipeline([*rows.preprocessing.steps, ("model", part.model)])


def fit_fold(estimator: Any, rows: FoldRows, classes: list | None) -> FoldOutputs:
    """Fit on the rows outside the fold, predict the rows in it."""
    model = clone(estimator).fit(rows.fit_x, rows.fit_y)
    if classes is None:
        return FoldOutputs(rows.held, np.asarray(model.predict(rows.held_x)), None, model)
    # A class absent from the other folds gets probability 0 on this fold. The label is
    # the likeliest class, as the classifiers' own predict has it (one pass, not two).
    own = model.predict_proba(rows.held_x)
    predicted = model.classes_[np.argmax(own, axis=1)]
    proba = np.zeros((len(predicted), len(classes)))
    proba[:, [classes.index(c) for c in model.classes_.tolist()]] = own
    return FoldOutputs(rows.held, predicted, proba, model)


def classes_of(y: pd.Series, task: str) -> list | None:
    return sorted(pd.unique(y).tolist()) if task == "classification" else None


def assemble(parts: list[FoldOutputs], folds: Folds, classes: list | None) -> Outputs:
    """The scored rows' predictions, in row order, each from the model that did not see it."""
    keep = folds.scored  # arrays over the scored rows only: a hold-out is a fifth of them
    rows = int(keep.sum())
    predicted = np.empty(rows, dtype=object if classes else "float64")
    proba = np.zeros((rows, len(classes))) if classes else None
    for part in parts:
        held = part.held[keep]  # every held row is scored
        predicted[held] = part.predicted
        if proba is not None and part.proba is not None:
            proba[held] = part.proba
    return Outputs(predicted, proba, classes)


def out_of_fold(
    estimator: Any,
    prepared: list[FoldRows],
    folds: Folds,
    classes: list | None,
    *,
    n_jobs: int = 1,
    cost: Cost | None = None,
) -> tuple[Outputs, list[FoldOutputs]]:
    """Each scored row predicted by the estimator fitted without its fold, and each fold's
    model; `n_jobs` folds at once in worker processes. Score the outputs against the rows
    `folds.scored` keeps."""
    start = time.perf_counter()
    if n_jobs == 1 or len(prepared) == 1:
        parts = [fit_fold(estimator, rows, classes) for rows in prepared]
    else:
        from joblib import Parallel, delayed

        parts = Parallel(n_jobs=n_jobs)(delayed(fit_fold)(estimator, r, classes) for r in prepared)
    if cost is not None:
        cost.add(len(parts), time.perf_counter() - start)  # wall time, folds at once or not
    return assemble(parts, folds, classes), parts
