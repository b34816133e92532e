"""Metrics and plot data from true and predicted values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlops_template.core.bootstrap import Outputs
from mlops_template.core.schema import TrainingSchema


@dataclass(frozen=True)
class Scored:
    """A model's predictions on a labelled frame, and the metrics they give."""

    y: pd.Series
    predicted: np.ndarray
    metrics: dict[str, float]
    proba: np.ndarray | None = None
    classes: list[Any] | None = None

    @property
    def outputs(self) -> Outputs:
        """What the bootstrap resamples: predictions and probabilities, without metrics."""
        return Outputs(np.asarray(self.predicted), self.proba, self.classes)


def score(model: Any, frame: pd.DataFrame, schema: TrainingSchema) -> Scored:
    """Score `model` on `frame` (features and target, as in the training schema)."""
    features, y = frame[schema.features], frame[schema.target.name]
    predicted = model.predict(features)
    if schema.task != "classification":
        return Scored(y, predicted, regression_metrics(y, predicted))
    proba, classes = with_new_classes(model.predict_proba(features), model.classes_.tolist(), y)
    metrics = classification_metrics(y, predicted, proba, classes)
    return Scored(y, predicted, metrics, proba, classes)


def with_new_classes(
    proba: np.ndarray, classes: list[Any], y: pd.Series
) -> tuple[np.ndarray, list[Any]]:
    """Probabilities over the model's classes and any class of `y` it never learned (a
    champion judged on data that gained a class), which it gives no probability: it is
    wrong on those rows, as it would be in use. Sorted, as scikit-learn's metrics read
    the columns."""
    new = set(y.dropna().tolist()) - set(classes)
    if not new:
        return proba, classes
    every = sorted({*classes, *new})
    full = np.zeros((len(proba), len(every)), dtype=proba.dtype)
    full[:, [every.index(c) for c in classes]] = proba
    return full, every


def _round(value: float) -> float:
    # Fixed precision keeps metrics.json stable and readable; 6 digits is far below noise.
    return round(float(value), 6)


def classification_metrics(
    y_true: pd.Series, y_pred: np.ndarray, proba: np.ndarray, classes: list[Any]
) -> dict[str, float]:
    scores = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        "f1_macro": skm.f1_score(y_true, y_pred, average="macro", zero_division=0),
        "precision_macro": skm.precision_score(y_true, y_pred, average="macro", zero_division=0),
        "recall_macro": skm.recall_score(y_true, y_pred, average="macro", zero_division=0),
        "log_loss": skm.log_loss(y_true, proba, labels=classes),
    }
    if y_true.nunique() == len(classes):  # AUC needs every class present in the test set
        if len(classes) == 2:
            scores["roc_auc"] = skm.roc_auc_score(y_true, proba[:, 1])
        else:
            scores["roc_auc"] = skm.roc_auc_score(
                y_true, proba, multi_class="ovr", average="macro", labels=classes
            )
    return {k: _round(v) for k, v in scores.items()}


def regression_metrics(y_true: pd.Series, y_pred: np.ndarray) -> dict[str, float]:
    scores = {
        "rmse": skm.root_mean_squared_error(y_true, y_pred),
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "r2": skm.r2_score(y_true, y_pred),
    }
    return {k: _round(v) for k, v in scores.items()}


# A plotted curve or scatter shows no more points than a screen has pixels: curves and
# regression rows are thinned to evenly spaced ones, both ends kept, so the plot files do
# not grow with the test set (65k test rows made 8.8 MB). Metrics read every row; the
# confusion rows stay whole, as the plot counts them.
PLOT_POINTS = 2000


def evenly_spaced(n: int, most: int = PLOT_POINTS) -> np.ndarray:
    """Indices of at most `most` of `n` points, evenly spaced, the first and last kept."""
    if n <= most:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, most).round().astype(int))


def _one_vs_rest(y_true: pd.Series, proba: np.ndarray, classes: list[Any]):
    """Binary: the positive (second) class. Multiclass: micro-average over classes."""
    if len(classes) == 2:
        return (y_true == classes[1]).to_numpy().astype(int), proba[:, 1]
    onehot = np.column_stack([(y_true == c).to_numpy() for c in classes]).astype(int)
    return onehot.ravel(), proba.ravel()


def roc_points(y_true: pd.Series, proba: np.ndarray, classes: list[Any]) -> list[dict]:
    truth, score = _one_vs_rest(y_true, proba, classes)
    fpr, tpr, _ = skm.roc_curve(truth, score)
    kept = evenly_spaced(len(fpr))
    return [{"fpr": _round(f), "tpr": _round(t)} for f, t in zip(fpr[kept], tpr[kept], strict=True)]


def precision_recall_points(y_true: pd.Series, proba: np.ndarray, classes: list[Any]) -> list[dict]:
    truth, score = _one_vs_rest(y_true, proba, classes)
    precision, recall, _ = skm.precision_recall_curve(truth, score)
    kept = evenly_spaced(len(recall))
    return [
        {"recall": _round(r), "precision": _round(p)}
        for r, p in zip(recall[kept], precision[kept], strict=True)
    ]


def confusion_rows(y_true: pd.Series, y_pred: np.ndarray) -> list[dict]:
    """One row per test example, the form `dvc plots` confusion templates take."""
    return [
        {"actual": str(a), "predicted": str(p)}
        for a, p in zip(y_true.tolist(), y_pred.tolist(), strict=True)
    ]


def regression_rows(y_true: pd.Series, y_pred: np.ndarray) -> list[dict]:
    """The scatter's points: evenly spaced test rows (PLOT_POINTS at most)."""
    kept = evenly_spaced(len(y_pred))
    return [
        {"actual": _round(a), "predicted": _round(p), "residual": _round(a - p)}
        for a, p in zip(y_true.to_numpy()[kept].tolist(), y_pred[kept].tolist(), strict=True)
    ]
