"""Scoring on the training rows: folds by row identity, a hold-out split on large data,
preprocessing shared by every estimator that uses it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from mlops_template.config import CrossValidation
from mlops_template.core.cross_validation import (
    NOT_HELD,
    OUT,
    Cost,
    classes_of,
    fitted_pipeline,
    folds_for,
    out_of_fold,
    prepare,
)
from mlops_template.core.row_ids import row_ids, uniform
from tests.helpers.template import REPO


def numbered_rows(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(rng.normal(size=(n, 3)), columns=["a", "b", "c"])


def test_folds_follow_the_rows_not_their_order_nor_the_split():
    rows = numbered_rows(400)
    ids = row_ids(rows, list(rows.columns))
    training = ids[uniform(ids, 42) >= 0.2]  # the training side of the split, seed 42
    cv = CrossValidation(folds=5)
    folds = folds_for(training, cv, 42)
    counts = np.bincount(folds.of_row, minlength=5)
    assert counts.sum() == len(training) and counts.min() > 0.6 * len(training) / 5
    assert folds.numbers == [0, 1, 2, 3, 4] and folds.scored.all() and not folds.holdout
    shuffled = np.random.default_rng(0).permutation(len(training))
    assert (folds_for(training[shuffled], cv, 42).of_row == folds.of_row[shuffled]).all()
    assert not (folds_for(training, cv, 7).of_row == folds.of_row).all()  # the seed matters


def test_duplicate_rows_share_a_fold():
    rows = numbered_rows(60)
    doubled = pd.concat([rows, rows], ignore_index=True)
    folds = folds_for(row_ids(doubled, list(doubled.columns)), CrossValidation(), 0).of_row
    assert (folds[:60] == folds[60:]).all()


def test_past_max_rows_a_hold_out_split_replaces_the_folds():
    rows = numbered_rows(2000)
    ids = row_ids(rows, list(rows.columns))
    folds = folds_for(ids, CrossValidation(max_rows=1000, holdout=0.2), 3)
    assert folds.holdout and folds.numbers == [0]
    assert 0.15 < folds.scored.mean() < 0.25
    assert folds.describe() == f"a hold-out split of {folds.scored.sum()} of 2000 training rows"
    assert not folds_for(ids, CrossValidation(max_rows=2000), 3).holdout  # at the bound: folds


def test_past_sample_rows_the_split_is_made_in_a_sample_and_the_rest_is_not_read():
    rows = numbered_rows(6000)
    ids = row_ids(rows, list(rows.columns))
    cv = CrossValidation(max_rows=1000, sample_rows=1500, holdout=0.2)
    folds = folds_for(ids, cv, 3)
    used = folds.of_row != OUT
    assert folds.sampled and folds.holdout and 1300 < used.sum() < 1700
    assert 250 < folds.scored.sum() < 350 and not (folds.scored & ~used).any()
    assert folds.describe() == (
        f"a hold-out split of {folds.scored.sum()} of a sample of {used.sum()} of 6000 "
        "training rows"
    )
    # The same rows by their hash, whatever their order; the fit reads only the sample.
    shuffled = np.random.default_rng(1).permutation(6000)
    assert (folds_for(ids[shuffled], cv, 3).of_row == folds.of_row[shuffled]).all()
    x = rows.astype("float64")
    (fold,) = prepare(FunctionTransformer(), x, pd.Series(np.arange(6000) % 2), folds)
    assert len(fold.fit_x) == int((folds.of_row == NOT_HELD).sum())
    assert not folds_for(ids, cv.model_copy(update={"sample_rows": 6000}), 3).sampled


def test_a_class_missing_from_a_fold_gets_probability_zero():
    x = pd.DataFrame({"a": np.arange(30.0)})
    y = pd.Series(["no"] * 14 + ["yes"] * 14 + ["rare"] * 2)
    folds = folds_for(np.arange(30, dtype=np.uint64), CrossValidation(folds=2), 0)
    folds.of_row[:] = np.repeat([0, 1], 15)  # both "rare" rows in fold 1: its model never saw it
    prepared = prepare(FunctionTransformer(), x, y, folds)
    outputs, _ = out_of_fold(LogisticRegression(), prepared, folds, classes_of(y, "classification"))
    assert outputs.classes == ["no", "rare", "yes"]
    assert np.allclose(outputs.proba.sum(axis=1), 1)
    assert (outputs.proba[15:, 1] == 0).all() and (outputs.proba[:15, 1] > 0).all()
    assert set(outputs.predicted[15:]) <= {"no", "yes"}


def test_shared_preprocessing_predicts_as_the_whole_pipeline_would():
    """Preprocessing fitted once per fold and shared: each held-out row gets what the
    whole pipeline, fitted without its fold, predicts."""
    x, y, folds, pipeline = _rows_and_pipeline()
    cost = Cost()
    prepared = prepare(pipeline[:-1], x, y, folds)
    outputs, parts = out_of_fold(
        pipeline[-1], prepared, folds, classes_of(y, "classification"), cost=cost
    )
    expected = np.empty(len(y), dtype=object)
    for fold in folds.numbers:
        held = folds.of_row == fold
        expected[held] = clone(pipeline).fit(x[~held], y[~held]).predict(x[held])
    assert (outputs.predicted == expected).all()
    assert cost.fits == 3 and cost.seconds > 0
    # Each fold's model, with its preprocessing, is the whole pipeline fitted without it.
    held = folds.of_row == 2
    whole = fitted_pipeline(prepared[2], parts[2])
    assert (whole.predict(x[held]) == expected[held]).all()


def _rows_and_pipeline():
    x = numbered_rows(300) * [1.0, 100.0, 0.01]
    y = pd.Series(np.where(x["a"] + x["b"] / 100 > 0, "up", "down"))
    folds = folds_for(row_ids(x, list(x.columns)), CrossValidation(folds=3), 1)
    return x, y, folds, make_pipeline(StandardScaler(), LogisticRegression())


PARALLEL = """
import numpy as np
from tests.unit.test_cross_validation import _rows_and_pipeline
from mlops_template.core.cross_validation import classes_of, out_of_fold, prepare
x, y, folds, pipeline = _rows_and_pipeline()
prepared = prepare(pipeline[:-1], x, y, folds)
runs = [out_of_fold(pipeline[-1], prepared, folds, classes_of(y, "classification"), n_jobs=n)[0]
        for n in (1, 2)]
assert (runs[0].predicted == runs[1].predicted).all()
assert np.array_equal(runs[0].proba, runs[1].proba)
print("same")
"""


def test_folds_in_worker_processes_give_the_same_outputs():
    """n_jobs=2 fits folds in loky's worker processes; run in a fresh interpreter, as a
    stage is (this test process's pool may hold workers started by other tests)."""
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "same", done.stderr


def test_a_fold_reads_its_levels_cross_fitted_never_its_own_targets():
    """The rows a candidate is fitted on carry each level's effect as fitted without the
    row itself: a level held by one row says nothing of its target (fit, then transform,
    would hand it over: the encoded column would be the target, shrunk)."""
    from mlops_template.config import Features
    from mlops_template.config.model import LinearModel
    from mlops_template.core.models import build_pipeline

    n = 600
    rng = np.random.default_rng(0)
    x = pd.DataFrame({"code": [f"u{i}" for i in range(n)], "z": rng.normal(size=n)})
    y = pd.Series(rng.normal(size=n))
    pipeline = build_pipeline(
        LinearModel(type="linear"),
        Features(),
        task="regression",
        numeric=["z"],
        categorical=["code"],
        seed=0,
        encodings={"code": "many_levels"},
    )
    folds = folds_for(row_ids(x, list(x.columns)), CrossValidation(), 0)
    for rows in prepare(pipeline[:-1], x, y, folds):
        encoded = np.asarray(rows.fit_x)[:, -1]  # the many-levels column comes last
        assert abs(np.corrcoef(encoded, rows.fit_y)[0, 1]) < 0.2
