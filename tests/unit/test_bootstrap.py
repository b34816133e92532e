"""The gate's metrics and intervals: equal to scikit-learn's, and honest about noise."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config.release import Bootstrap
from mlops_template.core import bootstrap as bs
from mlops_template.core.evaluation import classification_metrics, regression_metrics

NOISE = Bootstrap(samples=300, confidence=0.95, seed=0)


def classifier_outputs(y: pd.Series, accuracy: float, seed: int) -> bs.Outputs:
    rng = np.random.default_rng(seed)
    classes = sorted(y.unique().tolist())
    right = rng.random(len(y)) < accuracy
    guess = rng.choice(classes, len(y))
    predicted = np.where(right, y.to_numpy(), guess)
    proba = rng.dirichlet(np.ones(len(classes)), len(y)) * 0.5
    proba[np.arange(len(y)), [classes.index(p) for p in predicted]] += 0.5
    return bs.Outputs(predicted, proba, classes)


@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_classification_metrics_equal_scikit_learns(n_classes):
    rng = np.random.default_rng(n_classes)
    y = pd.Series(rng.choice([f"c{i}" for i in range(n_classes)], 400, p=None))
    out = classifier_outputs(y, 0.6, seed=1)
    expected = classification_metrics(y, out.predicted, out.proba, out.classes)
    for metric, value in expected.items():
        assert bs.metric_value(metric, y, out) == pytest.approx(value, abs=1e-6), metric


def test_regression_metrics_equal_scikit_learns():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.normal(100, 30, 300))
    out = bs.Outputs(y.to_numpy() + rng.normal(0, 10, 300))
    for metric, value in regression_metrics(y, out.predicted).items():
        assert bs.metric_value(metric, y, out) == pytest.approx(value, abs=1e-6), metric


def test_every_metric_a_task_has_is_resampled_and_another_is_refused():
    """An extension trial added `brier` to evaluation and metric_names: the gate read it as
    a regression metric (on labels: a crash; on 0/1 labels: r2 of the hard labels)."""
    from mlops_template.errors import PipelineError
    from mlops_template.metric_names import CLASSIFICATION_METRICS, REGRESSION_METRICS

    assert CLASSIFICATION_METRICS | REGRESSION_METRICS == bs.METRICS
    y = pd.Series([0, 1, 1, 0])
    with pytest.raises(PipelineError, match=r"cannot resample metric 'brier': core/bootstrap"):
        bs.metric_value("brier", y, bs.Outputs(y.to_numpy(), np.eye(2)[y], [0, 1]))


def test_a_clear_difference_is_better_and_a_tiny_one_is_noise():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.choice(["a", "b"], 500))
    strong, weak = classifier_outputs(y, 0.9, 1), classifier_outputs(y, 0.5, 2)
    result = bs.paired("balanced_accuracy", y, strong, weak, NOISE)
    assert result.verdict == bs.BETTER and result.interval[0] > 0
    assert result.rows == 500 and result.a > result.b
    assert bs.paired("balanced_accuracy", y, weak, strong, NOISE).verdict == bs.WORSE
    # Two models that differ on three rows of 500: not a verdict.
    close = bs.Outputs(strong.predicted.copy(), strong.proba, strong.classes)
    close.predicted[:3] = np.where(y[:3] == "a", "b", "a")
    assert bs.paired("balanced_accuracy", y, strong, close, NOISE).verdict == bs.NOISE


def test_lower_is_better_metrics_are_turned():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.normal(0, 1, 400))
    good, bad = bs.Outputs(y.to_numpy() * 0.9), bs.Outputs(np.zeros(400))
    result = bs.paired("rmse", y, good, bad, NOISE)
    assert result.improvement > 0 and result.verdict == bs.BETTER


def test_same_seed_same_interval():
    y = pd.Series(np.random.default_rng(0).normal(size=200))
    out = bs.Outputs(y.to_numpy() * 0.5)
    assert bs.spread("mae", y, out, NOISE) == bs.spread("mae", y, out, NOISE)
    other = bs.spread("mae", y, out, Bootstrap(samples=300, confidence=0.95, seed=1))
    assert other["interval"] != bs.spread("mae", y, out, NOISE)["interval"]


def test_trivial_outputs_are_the_majority_and_the_mean():
    train = pd.Series([0, 0, 0, 1])
    out = bs.trivial_outputs(train, 3, "classification")
    assert out.predicted.tolist() == [0, 0, 0] and out.classes == [0, 1]
    assert out.proba.tolist() == [[0.75, 0.25]] * 3
    assert bs.trivial_outputs(pd.Series([1.0, 3.0]), 2, "regression").predicted.tolist() == [2, 2]
