from __future__ import annotations

import math

import numpy as np
import pandas as pd

from mlops_template.core.evaluation import (
    PLOT_POINTS,
    classification_metrics,
    confusion_rows,
    evenly_spaced,
    precision_recall_points,
    regression_metrics,
    regression_rows,
    roc_points,
)

BINARY = ["neg", "pos"]


def test_perfect_binary_classifier():
    y = pd.Series(["neg", "pos", "pos", "neg"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.1, 0.9], [0.7, 0.3]])
    scores = classification_metrics(y, y.to_numpy(), proba, BINARY)
    assert scores["accuracy"] == 1.0
    assert scores["balanced_accuracy"] == 1.0
    assert scores["f1_macro"] == 1.0
    assert scores["roc_auc"] == 1.0
    assert 0 < scores["log_loss"] < 0.5


def test_wrong_binary_classifier():
    y = pd.Series(["neg", "pos", "pos", "neg"])
    proba = np.array([[0.1, 0.9], [0.8, 0.2], [0.9, 0.1], [0.3, 0.7]])
    scores = classification_metrics(y, np.array(["pos", "neg", "neg", "pos"]), proba, BINARY)
    assert scores["accuracy"] == 0.0
    assert scores["roc_auc"] == 0.0


def test_multiclass_metrics():
    y = pd.Series([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.2, 0.3]])
    scores = classification_metrics(y, np.array([0, 1, 2, 0]), proba, [0, 1, 2])
    assert scores["accuracy"] == 0.75
    assert 0.5 < scores["roc_auc"] <= 1.0


def test_roc_auc_omitted_when_a_class_is_absent():
    y = pd.Series([0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.2, 0.7, 0.1]])
    scores = classification_metrics(y, y.to_numpy(), proba, [0, 1, 2])
    assert "roc_auc" not in scores
    assert scores["accuracy"] == 1.0


def test_metrics_rounded_to_six_digits():
    y = pd.Series(["neg", "pos", "pos"])
    proba = np.array([[0.7, 0.3], [0.3, 0.7], [0.6, 0.4]])
    scores = classification_metrics(y, np.array(["neg", "pos", "neg"]), proba, BINARY)
    assert scores["accuracy"] == 0.666667


def test_binary_curves():
    y = pd.Series(["neg", "pos", "pos", "neg", "pos"])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    roc = roc_points(y, proba, BINARY)
    assert roc[0] == {"fpr": 0.0, "tpr": 0.0}
    assert roc[-1] == {"fpr": 1.0, "tpr": 1.0}
    pr = precision_recall_points(y, proba, BINARY)
    assert set(pr[0]) == {"recall", "precision"}
    assert pr[-1] == {"recall": 0.0, "precision": 1.0}
    assert max(p["recall"] for p in pr) == 1.0


def test_multiclass_curves_are_micro_averaged():
    y = pd.Series(["a", "b", "c"])
    proba = np.eye(3) * 0.8 + 0.2 / 3
    roc = roc_points(y, proba, ["a", "b", "c"])
    assert roc[0] == {"fpr": 0.0, "tpr": 0.0}
    assert roc[-1] == {"fpr": 1.0, "tpr": 1.0}
    assert {"fpr": 0.0, "tpr": 1.0} in roc  # perfect separation
    assert len(precision_recall_points(y, proba, ["a", "b", "c"])) >= 2


def test_regression_metrics_on_known_numbers():
    scores = regression_metrics(pd.Series([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert scores["rmse"] == round(math.sqrt(4 / 3), 6)
    assert scores["mae"] == round(2 / 3, 6)
    assert scores["r2"] == -1.0


def test_confusion_rows():
    rows = confusion_rows(pd.Series([0, 1, 1]), np.array([0, 0, 1]))
    assert rows == [
        {"actual": "0", "predicted": "0"},
        {"actual": "1", "predicted": "0"},
        {"actual": "1", "predicted": "1"},
    ]


def test_regression_rows():
    rows = regression_rows(pd.Series([1.0, 2.5]), np.array([1.5, 2.0]))
    assert rows == [
        {"actual": 1.0, "predicted": 1.5, "residual": -0.5},
        {"actual": 2.5, "predicted": 2.0, "residual": 0.5},
    ]


def test_large_curves_and_scatters_are_thinned_to_evenly_spaced_points():
    """65k test rows made 8.8 MB of plot files: the curves and the scatter keep
    PLOT_POINTS evenly spaced points, their ends too; the confusion rows stay whole."""
    rng = np.random.default_rng(0)
    n = 5 * PLOT_POINTS
    y = pd.Series(rng.choice(BINARY, n))
    score = np.clip((y == "pos") * 0.3 + rng.normal(0.35, 0.25, n), 0, 1).to_numpy()
    proba = np.column_stack([1 - score, score])
    for points, first, last in [
        (roc_points(y, proba, BINARY), {"fpr": 0.0, "tpr": 0.0}, {"fpr": 1.0, "tpr": 1.0}),
        (precision_recall_points(y, proba, BINARY), None, {"recall": 0.0, "precision": 1.0}),
    ]:
        assert PLOT_POINTS // 2 < len(points) <= PLOT_POINTS
        assert points[-1] == last and (first is None or points[0] == first)
    assert precision_recall_points(y, proba, BINARY)[0]["recall"] == 1.0
    actual = pd.Series(np.arange(n, dtype=float))
    rows = regression_rows(actual, actual.to_numpy() + 1)
    assert len(rows) == PLOT_POINTS and rows[0]["actual"] == 0 and rows[-1]["actual"] == n - 1
    assert len(confusion_rows(y, np.array(["pos"] * n))) == n
    assert list(evenly_spaced(5)) == [0, 1, 2, 3, 4]
    assert list(evenly_spaced(9, most=3)) == [0, 4, 8]
