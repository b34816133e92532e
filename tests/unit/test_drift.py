"""Drift decisions: tests for small samples, distances for large ones, thresholds from config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Monitor
from mlops_template.core.drift import (
    DRIFT,
    ID_LIKE,
    IN_RANGE,
    NO_DRIFT,
    OUT_OF_RANGE,
    TOO_FEW,
    categorical_drift,
    dataset_drift,
    feature_drift,
    numeric_drift,
    performance,
)

from .conftest import training_schema


@pytest.fixture
def settings(params) -> Monitor:
    return Monitor(**params["monitor"])


def normal(n: int, shift: float = 0.0, seed: int = 0) -> pd.Series:
    return pd.Series(np.random.default_rng(seed).normal(shift, 1.0, n))


def test_small_numeric_samples_are_tested_with_ks(settings):
    same = numeric_drift(normal(500), normal(200, seed=1), settings)
    moved = numeric_drift(normal(500), normal(200, shift=1.0, seed=1), settings)
    assert same.test == moved.test == "ks"
    assert same.decision == NO_DRIFT and same.p_value > 0.05
    assert moved.decision == DRIFT and moved.p_value < 0.05


def test_large_numeric_samples_use_a_distance_that_ignores_negligible_shifts(settings):
    tiny = numeric_drift(normal(50_000), normal(50_000, shift=0.03, seed=1), settings)
    assert tiny.test == "wasserstein_normed" and tiny.decision == NO_DRIFT
    # The same shift is "significant" to KS at this size: why the distance decides.
    assert (
        numeric_drift(
            normal(50_000),
            normal(50_000, shift=0.03, seed=1),
            settings.model_copy(update={"large_sample_rows": 10**9}),
        ).decision
        == DRIFT
    )
    big = numeric_drift(normal(50_000), normal(50_000, shift=0.5, seed=1), settings)
    assert big.decision == DRIFT and big.statistic == pytest.approx(0.5, abs=0.03)


def test_thresholds_come_from_config(settings):
    ref, cur = normal(50_000), normal(50_000, shift=0.2, seed=1)
    assert numeric_drift(ref, cur, settings).decision == DRIFT
    loose = settings.model_copy(update={"wasserstein": 0.3})
    assert numeric_drift(ref, cur, loose).decision == NO_DRIFT
    ref, cur = normal(300), normal(100, shift=0.5, seed=2)
    small = numeric_drift(ref, cur, settings)
    assert small.decision == DRIFT
    strict = settings.model_copy(update={"p_value": small.p_value / 2})
    assert numeric_drift(ref, cur, strict).decision == NO_DRIFT


def test_too_few_values_give_no_decision(settings):
    result = numeric_drift(normal(500), pd.Series([1.0, np.nan] * 10), settings)
    assert result.decision == TOO_FEW and result.current_rows == 10
    assert result.current_missing == 0.5 and "test" not in result.as_json()


def test_categories_chi2_for_small_js_for_large(settings):
    ref = pd.Series(["a"] * 300 + ["b"] * 300)
    assert categorical_drift(ref, pd.Series(["a"] * 50 + ["b"] * 50), settings).decision == (
        NO_DRIFT
    )
    moved = categorical_drift(ref, pd.Series(["a"] * 90 + ["b"] * 10), settings)
    assert moved.test == "chi2" and moved.decision == DRIFT
    big_ref = pd.Series(["a", "b"] * 5000)
    shifted = categorical_drift(big_ref, pd.Series(["a"] * 9000 + ["b"] * 1000), settings)
    assert shifted.test == "jensen_shannon" and shifted.decision == DRIFT
    new = categorical_drift(big_ref, pd.Series(["a", "b", "c", "c"] * 2500), settings)
    assert new.test == "unseen" and new.decision == DRIFT  # half the batch never seen
    assert new.unseen == ["c"] and new.unseen_share == 0.5
    one = categorical_drift(pd.Series(["a"] * 100), pd.Series(["a"] * 100), settings)
    assert one.decision == NO_DRIFT


def test_unseen_values_drift_a_column_and_an_id_like_column_is_not_compared(settings):
    """A chi-squared test on values seen once each says nothing (every batch value new
    reads as "no drift"): a column like an ID is said to be one, and a batch whose
    values are mostly new drifts, whatever the test says."""
    ids = categorical_drift(
        pd.Series([f"c{i}" for i in range(500)]), pd.Series([f"n{i}" for i in range(100)]), settings
    )
    assert ids.decision == ID_LIKE and ids.unseen_share == 1.0 and len(ids.unseen) == 10
    plan = pd.Series(["basic", "pro", "team"] * 200)
    renamed = pd.Series(["basic", "pro", "Team"] * 40)  # a third of the values never seen
    found = categorical_drift(plan, renamed, settings)
    assert found.decision == DRIFT and found.test == "unseen" and found.unseen == ["Team"]
    rare = pd.Series(["basic", "pro", "team"] * 33 + ["enterprise"])  # 1% new: the test decides
    assert categorical_drift(plan, rare, settings).test == "chi2"
    by_feature = {"id": ids, "plan": found}
    assert dataset_drift(by_feature, 0.5).decided == 1  # the ID-like column is not counted


def test_dataset_drift_counts_decided_features_only(settings):
    schema = training_schema(
        {"name": "x", "kind": "numeric"},
        {"name": "y", "kind": "numeric"},
        {"name": "c", "kind": "categorical"},
        name="label",
    )
    # c: too few values on either side to compare, and as often missing in both
    sparse = ["a", "b"] * 5 + [None] * 390
    ref = pd.DataFrame({"x": normal(400), "y": normal(400), "c": sparse})
    cur = pd.DataFrame({"x": normal(100, 2.0, 1), "y": normal(100, 0, 2), "c": [None] * 100})
    features = feature_drift(schema, ref, cur, settings)
    assert [features[n].decision for n in "xyc"] == [DRIFT, NO_DRIFT, TOO_FEW]
    summary = dataset_drift(features, drift_share=0.5)
    assert summary.drifted == ["x"] and summary.share == 0.5
    assert summary.decision == DRIFT and summary.decided == 2
    assert dataset_drift(features, drift_share=0.6).decision == NO_DRIFT


def test_a_column_no_longer_filled_drifts_and_noise_in_its_gaps_does_not(settings):
    """A batch whose feed stopped filling a column was 'too few rows' for it (the tests
    read only the values present) and left out of the summary."""
    rng = np.random.default_rng(5)

    def gaps(values: pd.Series, share: float) -> pd.Series:
        return values.mask(rng.random(len(values)) < share)

    filled = normal(2000)
    empty = numeric_drift(filled, pd.Series([np.nan] * 200), settings)
    assert (empty.decision, empty.test, empty.statistic) == (DRIFT, "missing", 1.0)
    words = pd.Series(rng.choice(["a", "b", "c"], 2000))
    sparse = categorical_drift(
        words, gaps(pd.Series(rng.choice(["a", "b", "c"], 300)), 0.4), settings
    )
    assert sparse.decision == DRIFT and sparse.test == "missing" and sparse.statistic > 0.3
    refilled = numeric_drift(gaps(filled, 0.5), normal(300, seed=2), settings)
    assert refilled.decision == DRIFT and refilled.statistic < -0.4  # filled again: also a change
    # The same share of gaps, and a small move, are no drift; nor is a handful of rows.
    for current in [gaps(normal(300, seed=3), 0.1), gaps(normal(3000, seed=4), 0.15)]:
        kept = numeric_drift(gaps(filled, 0.1), current, settings)
        assert kept.decision == NO_DRIFT and kept.test != "missing", kept
    few = numeric_drift(filled, pd.Series([np.nan] * (settings.min_rows - 1)), settings)
    assert few.decision == TOO_FEW
    # The boundary: 2% to 12% is a move of 0.1 (0.0999... in floats, which passed).
    two = pd.Series(np.where(np.arange(2000) % 50 == 0, np.nan, 1.0))
    twelve = pd.Series(np.where(np.arange(300) % 25 < 3, np.nan, 1.0))
    assert numeric_drift(two, twelve, settings).test == "missing"
    # Noise both ways: no gaps in 40 training rows is no certainty that there are none
    # (3 of 30 in a batch: p = 0.07 two-sided; a one-sample test said p = 0).
    clean, three = pd.Series(np.ones(40)), pd.Series([np.nan] * 3 + [1.0] * 27)
    assert numeric_drift(clean, three, settings).test != "missing"


def test_performance_allows_a_share_of_the_lead_over_the_trivial_baseline():
    def decision(metric, batch, interval, evaluation, trivial, *, max_drop=0.25):
        result = performance(
            metric, {"value": batch, "interval": interval}, evaluation, trivial, max_drop
        )
        return result.decision

    # Balanced accuracy 0.93 against 0.5 for the trivial model: a lead of 0.43, so a
    # quarter of it (0.1075) may go.
    assert decision("balanced_accuracy", 0.85, [0.84, 0.86], 0.93, 0.5) == IN_RANGE
    assert decision("balanced_accuracy", 0.80, [0.79, 0.81], 0.93, 0.5) == OUT_OF_RANGE
    # ...unless the batch is too small to tell: its interval reaches back into range.
    assert decision("balanced_accuracy", 0.80, [0.60, 0.95], 0.93, 0.5) == IN_RANGE
    # rmse in the hundreds: the same share of the lead, whatever the units.
    assert decision("rmse", 560.0, [550.0, 570.0], 544.0, 800.0) == IN_RANGE
    assert decision("rmse", 700.0, [690.0, 710.0], 544.0, 800.0) == OUT_OF_RANGE
    result = performance("rmse", {"value": 700.0, "interval": [690.0, 710.0]}, 544.0, 800.0, 0.25)
    assert result.drop == 156.0 and result.max_drop == 64.0
    # A model no better than the trivial one has no lead to lose: any clear drop is out.
    assert decision("rmse", 820.0, [810.0, 830.0], 800.0, 790.0) == OUT_OF_RANGE


def test_infinite_values_count_as_missing(settings):
    current = pd.Series([np.inf, -np.inf, *normal(100, seed=4)])
    result = numeric_drift(normal(300), current, settings)
    assert result.current_rows == 100 and result.decision == NO_DRIFT


def many_levels(rows: int, seed: int, levels: int = 5000) -> pd.Series:
    """Levels drawn with a long tail (a few common, most rare), as cities or job titles."""
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, levels + 1)
    return pd.Series([f"L{i}" for i in rng.choice(levels, rows, p=weights / weights.sum())])


def test_new_levels_of_a_many_level_column_are_not_drift_alone(settings):
    """Another sample of the same many-level column meets levels the reference never
    held, as many as the reference's own levels seen once foretell (Good-Turing): not
    drift. The same column whose common levels move does drift."""
    reference = many_levels(4_000, seed=0)
    same = categorical_drift(reference, many_levels(2_000, seed=1), settings)
    assert same.unseen_share > settings.unseen_share  # more new values than the bar...
    assert same.decision == NO_DRIFT  # ...but as many as expected
    rng = np.random.default_rng(2)
    moved = many_levels(2_000, seed=3).where(rng.random(2_000) > 0.3, "L0")  # L0 takes 30 %
    assert categorical_drift(reference, moved, settings).decision == DRIFT
