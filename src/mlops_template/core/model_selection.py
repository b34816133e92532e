"""model=auto: choose the learner by cross-validation on the training rows.

No single learner wins on tabular data: boosted trees need rows, a linear model wins on
small, smooth data. Each candidate is fitted `cv_folds` times, each time without one fold
of the TRAINING rows, and judged on the gate's metric over the out-of-fold predictions:
the test rows never take part in the choice. Folds follow a hash of each row's identity
(as the split does), so duplicate rows, and rows sharing a `split.key`, stay in one fold.
The paired bootstrap says whether the winner is better than the runner-up or only
within noise (then the choice is a coin the data cannot call, and the report says so).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from mlops_template.config import Bootstrap
from mlops_template.config.model import AutoModel, Estimator
from mlops_template.core.bootstrap import NOISE, Outputs, Paired, metric_value, paired
from mlops_template.core.row_ids import uniform
from mlops_template.errors import PipelineError
from mlops_template.metric_names import improvement

FOLD_STREAM = 1  # row_ids.uniform's stream for the folds: independent of the split


@dataclass(frozen=True)
class Selection:
    """Which candidate was chosen, and the cross-validated scores behind the choice."""

    chosen: str
    metric: str
    scores: dict[str, float]  # the metric over out-of-fold predictions, per candidate
    folds: int
    rows: int
    versus: Paired | None  # paired bootstrap, chosen against the runner-up
    skipped: dict[str, str]  # candidates a fold was too small for, and why

    def metrics(self) -> dict[str, float]:
        """For the train run: each candidate's cross-validated score."""
        return {f"cv_{self.metric}.{name}": score for name, score in self.scores.items()}

    def summary(self) -> str:
        ranked = ", ".join(f"{name} {score:.4g}" for name, score in self.scores.items())
        line = (
            f"model=auto chose {self.chosen} by {self.folds}-fold cross-validation on "
            f"{self.rows} training rows ({self.metric}: {ranked})"
        )
        if self.versus and self.versus.verdict == NOISE:
            line += "; the lead is within noise, so another choice would do as well"
        for name, why in self.skipped.items():
            line += f"; skipped {name}, a fold is too small for it: {why}"
        return line


def fold_of_rows(ids: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """A fold number per row from its identity hash: the same rows, the same folds."""
    return (uniform(ids, seed, FOLD_STREAM) * folds).astype(int)


def out_of_fold(
    pipeline: Any, x: pd.DataFrame, y: pd.Series, folds: np.ndarray, task: str
) -> Outputs:
    """Each row predicted by the model fitted on the other folds."""
    classes = sorted(pd.unique(y).tolist()) if task == "classification" else None
    predicted = np.empty(len(y), dtype=object if classes else "float64")
    proba = np.zeros((len(y), len(classes))) if classes else None
    for fold in np.unique(folds):
        held = folds == fold
        model = clone(pipeline).fit(x[~held], y[~held])
        predicted[held] = model.predict(x[held])
        if proba is not None and classes is not None:
            # A class absent from the other folds gets probability 0 on this fold.
            columns = [classes.index(c) for c in model.classes_.tolist()]
            proba[np.ix_(held, columns)] = model.predict_proba(x[held])
    return Outputs(predicted, proba, classes)


def select(
    auto: AutoModel,
    pipeline_for: Callable[[str, Estimator, pd.Series], Any],
    x: pd.DataFrame,
    y: pd.Series,
    *,
    ids: np.ndarray,
    task: str,
    metric: str,
    seed: int,
    noise: Bootstrap,
) -> Selection:
    """Cross-validate every candidate. `pipeline_for(name, config, target)` checks that
    the config can train on `target` (raising a PipelineError naming the key) and builds
    the unfitted pipeline. A config that cannot train on the training rows is an error; one
    that only a fold is too small for (early stopping with a class of a few rows) is
    skipped, and said so, unless every candidate is."""
    folds = fold_of_rows(ids, auto.cv_folds, seed)
    y = y.reset_index(drop=True)
    x = x.reset_index(drop=True)
    outputs, scores, skipped = {}, {}, {}
    for name, config in auto.candidates.items():
        pipeline = pipeline_for(name, config, y)
        try:
            for fold in np.unique(folds):
                pipeline_for(name, config, y[folds != fold])  # before sklearn's own error
        except PipelineError as err:
            skipped[name] = str(err)
            continue
        outputs[name] = out_of_fold(pipeline, x, y, folds, task)
        scores[name] = metric_value(metric, y, outputs[name])
    if not scores:
        raise PipelineError(
            f"model=auto: no candidate can be cross-validated in model.cv_folds="
            f"{auto.cv_folds} folds of {len(y)} training rows ({'; '.join(skipped.values())}); "
            "set model.cv_folds lower, or choose one model (model=linear)"
        )
    # Best first (improvement over 0 orients the metric); ties keep the listed order.
    ranked = sorted(scores, key=lambda n: improvement(metric, 0.0, scores[n]))
    chosen = ranked[0]
    versus = None
    if len(ranked) > 1:
        versus = paired(metric, y, outputs[chosen], outputs[ranked[1]], noise)
    return Selection(
        chosen=chosen,
        metric=metric,
        scores={n: round(scores[n], 6) for n in ranked},
        folds=len(np.unique(folds)),
        rows=len(y),
        versus=versus,
        skipped=skipped,
    )
