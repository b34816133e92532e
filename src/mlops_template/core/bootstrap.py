"""How sure a comparison is: metrics on resampled rows, and bootstrap intervals.

Gate and monitor resample the evaluation rows (with replacement, seeded) and recompute
the metric each time; a difference whose interval holds zero is noise, not a verdict.
Metrics are computed here with NumPy (from a confusion matrix, or per-row losses), equal
to scikit-learn's definitions (a unit test holds them to it) and fast enough to run a
thousand times; ROC AUC is scikit-learn's own.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.config.release import Bootstrap
from mlops_template.errors import PipelineError
from mlops_template.metric_names import improvement

BETTER, WORSE, NOISE = "better", "worse", "within noise"
_CONFUSION = {"accuracy", "balanced_accuracy", "f1_macro", "precision_macro", "recall_macro"}
_RESIDUALS = {"rmse", "mae", "r2"}
# Every metric resampled here: one added to metric_names (and core/evaluation.py) needs
# its own branch below before the gate can judge by it (docs/release.md).
METRICS = frozenset({*_CONFUSION, "log_loss", "roc_auc", *_RESIDUALS})


@dataclass(frozen=True)
class Outputs:
    """A model's predictions on some rows (and class probabilities, for classifiers)."""

    predicted: np.ndarray
    proba: np.ndarray | None = None
    classes: list[Any] | None = None


class _Metric:
    """One metric over several models' outputs on the same rows, for any subset of rows."""

    def __init__(self, metric: str, y: pd.Series, models: list[Outputs]) -> None:
        if metric not in METRICS:  # read as a regression metric, it gave another number
            raise PipelineError(
                f"the gate cannot resample metric {metric!r}: core/bootstrap.py computes "
                f"only {', '.join(sorted(METRICS))} (docs/release.md, 'A metric of your own')"
            )
        self.metric = metric
        self.y = y.to_numpy()
        if metric in _CONFUSION:
            labels = sorted(
                {*y.tolist(), *(v for m in models for v in m.predicted.tolist())}, key=str
            )
            index = {label: i for i, label in enumerate(labels)}
            self.k = len(labels)
            self.true = np.array([index[v] for v in y.tolist()])
            self.codes = [np.array([index[v] for v in m.predicted.tolist()]) for m in models]
        elif metric == "log_loss":
            self.losses = [_row_log_loss(y, m) for m in models]
        elif metric in _RESIDUALS:
            self.errors = [self.y.astype("float64") - m.predicted.astype("float64") for m in models]
        self.models = models

    def value(self, i: int, rows: np.ndarray) -> float:
        metric = self.metric
        if metric in _CONFUSION:
            pairs = self.true[rows] * self.k + self.codes[i][rows]
            matrix = np.bincount(pairs, minlength=self.k * self.k).reshape(self.k, self.k)
            return _from_confusion(metric, matrix)
        if metric == "log_loss":
            return float(self.losses[i][rows].mean())
        if metric == "roc_auc":
            return _roc_auc(self.y[rows], self.models[i], rows)
        errors = self.errors[i][rows]
        if metric == "rmse":
            return float(np.sqrt(np.mean(errors**2)))
        if metric == "mae":
            return float(np.mean(np.abs(errors)))
        y = self.y[rows].astype("float64")
        total = float(np.sum((y - y.mean()) ** 2))
        return float(1 - np.sum(errors**2) / total) if total > 0 else float("nan")  # r2


def _from_confusion(metric: str, matrix: np.ndarray) -> float:
    hits = np.diag(matrix).astype("float64")
    support, predicted = matrix.sum(axis=1), matrix.sum(axis=0)
    if metric == "accuracy":
        return float(hits.sum() / matrix.sum())
    if metric == "balanced_accuracy":  # recall over the classes present in the truth
        present = support > 0
        return float(np.mean(hits[present] / support[present]))
    labels = (support > 0) | (predicted > 0)  # scikit-learn's macro average, zero_division=0
    with np.errstate(divide="ignore", invalid="ignore"):
        per_label = {
            "recall_macro": hits / support,
            "precision_macro": hits / predicted,
            "f1_macro": 2 * hits / (support + predicted),
        }[metric]
    return float(np.mean(np.nan_to_num(per_label[labels])))


def _row_log_loss(y: pd.Series, model: Outputs) -> np.ndarray:
    """Each row's log loss: minus the log of the probability given to its true class."""
    assert model.proba is not None and model.classes is not None
    index = {label: i for i, label in enumerate(model.classes)}
    column = np.array([index.get(v, -1) for v in y.tolist()])
    p_true = np.where(column >= 0, model.proba[np.arange(len(y)), np.maximum(column, 0)], 0.0)
    eps = np.finfo(model.proba.dtype).eps
    return -np.log(np.clip(p_true, eps, 1 - eps))


def _roc_auc(y: np.ndarray, model: Outputs, rows: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    assert model.proba is not None and model.classes is not None
    proba = model.proba[rows]
    try:
        if len(model.classes) == 2:
            return float(roc_auc_score(y == model.classes[1], proba[:, 1]))
        return float(
            roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=model.classes)
        )
    except ValueError:  # a resample without every class
        return float("nan")


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(values, [tail, 100 - tail])
    return round(float(low), 6), round(float(high), 6)


def _resamples(n: int, noise: Bootstrap):
    rng = np.random.default_rng(noise.seed)
    for _ in range(noise.samples):
        yield rng.integers(0, n, n)


@dataclass(frozen=True)
class Paired:
    """Model `a` against model `b` on the same rows (bootstrap.paired). `lead` is set by
    whoever knows it: b's margin over the trivial model on those rows (the gate)."""

    metric: str
    rows: int
    a: float
    b: float
    improvement: float
    interval: tuple[float, float]
    verdict: str
    lead: float | None = None

    def with_lead(self, lead: float) -> Paired:
        return replace(self, lead=lead)

    def as_json(self) -> dict[str, Any]:
        found = {**asdict(self), "interval": list(self.interval)}
        return found if self.lead is not None else {k: v for k, v in found.items() if k != "lead"}


def paired(metric: str, y: pd.Series, a: Outputs, b: Outputs, noise: Bootstrap) -> Paired:
    """How much better `a` is than `b` on the same rows, with a bootstrap interval:
    `better` or `worse` only when the whole interval is on that side of zero."""
    scorer = _Metric(metric, y, [a, b])
    every = np.arange(len(y))
    gain = improvement(metric, scorer.value(0, every), scorer.value(1, every))
    gains = np.array(
        [
            improvement(metric, scorer.value(0, r), scorer.value(1, r))
            for r in _resamples(len(y), noise)
        ]
    )
    low, high = _interval(gains, noise.confidence)
    verdict = BETTER if low > 0 else WORSE if high < 0 else NOISE
    return Paired(
        metric=metric,
        rows=len(y),
        a=round(scorer.value(0, every), 6),
        b=round(scorer.value(1, every), 6),
        improvement=round(gain, 6),
        interval=(low, high),
        verdict=verdict,
    )


def spread(metric: str, y: pd.Series, model: Outputs, noise: Bootstrap) -> dict[str, Any]:
    """A model's metric on some rows, with the bootstrap interval of it."""
    scorer = _Metric(metric, y, [model])
    values = np.array([scorer.value(0, r) for r in _resamples(len(y), noise)])
    return {
        "value": round(scorer.value(0, np.arange(len(y))), 6),
        "interval": list(_interval(values, noise.confidence)),
    }


def metric_value(metric: str, y: pd.Series, model: Outputs) -> float:
    return _Metric(metric, y, [model]).value(0, np.arange(len(y)))


def trivial_outputs(train_target: pd.Series, rows: int, task: str) -> Outputs:
    """The baseline any model must beat: the majority class with the training class
    shares as probabilities, or the training mean."""
    if task != "classification":
        return Outputs(np.full(rows, float(train_target.mean())))
    shares = train_target.value_counts(normalize=True)
    classes = sorted(shares.index.tolist(), key=str)
    majority = shares.sort_index(key=lambda s: s.astype(str)).idxmax()
    proba = np.tile(shares.reindex(classes).to_numpy(dtype="float64"), (rows, 1))
    predicted = pd.Series([majority] * rows, dtype=train_target.dtype).to_numpy()
    return Outputs(predicted, proba, classes)
