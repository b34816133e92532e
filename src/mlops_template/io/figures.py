"""PNG figures a person can open offline (and `dvc plots show` renders as images)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Fixed size and DPI: the same data gives the same bytes.
_SIZE, _DPI = (5, 4), 100


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=_SIZE, dpi=_DPI)
    return plt, fig, ax


def _save(plt: Any, fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def _curve(
    path: Path, points: list[dict], keys: tuple[str, str], labels: tuple[str, str], title: str
) -> None:
    plt, fig, ax = _figure()
    ax.plot([p[keys[0]] for p in points], [p[keys[1]] for p in points], drawstyle="steps-post")
    ax.set(xlabel=labels[0], ylabel=labels[1], title=title, xlim=(0, 1), ylim=(0, 1.02))
    _save(plt, fig, path)


def classification_figures(
    folder: Path, plots: dict[str, list[dict]], y_true: Any, y_pred: Any, classes: list
) -> None:
    # Past two classes the curves pool every class's one-vs-rest rows (core/evaluation.py):
    # their area is not metrics.json's roc_auc, the classes' macro average.
    pooled = "" if len(classes) == 2 else f", micro-average of {len(classes)} classes"
    _curve(
        folder / "roc.png",
        plots["roc.json"],
        ("fpr", "tpr"),
        ("false positive rate", "true positive rate"),
        f"ROC{pooled}",
    )
    _curve(
        folder / "precision_recall.png",
        plots["precision_recall.json"],
        ("recall", "precision"),
        ("recall", "precision"),
        f"Precision-recall{pooled}",
    )

    from sklearn.metrics import ConfusionMatrixDisplay

    plt, fig, ax = _figure()
    ConfusionMatrixDisplay.from_predictions(y_true, y_pred, labels=classes, ax=ax, colorbar=False)
    ax.set_title("Confusion matrix (test set)")
    _save(plt, fig, folder / "confusion_matrix.png")


def regression_figures(folder: Path, rows: list[dict]) -> None:
    actual = np.array([r["actual"] for r in rows])
    predicted = np.array([r["predicted"] for r in rows])
    plt, fig, ax = _figure()
    ax.scatter(actual, predicted, s=10, alpha=0.6)
    low, high = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual (test set)")
    _save(plt, fig, folder / "predicted_vs_actual.png")

    plt, fig, ax = _figure()
    ax.scatter(predicted, actual - predicted, s=10, alpha=0.6)
    ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    ax.set(xlabel="predicted", ylabel="residual (actual - predicted)", title="Residuals")
    _save(plt, fig, folder / "residuals.png")
