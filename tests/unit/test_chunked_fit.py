"""Past train.cv.sample_rows the chosen model is fitted in chunks (core/chunked_fit.py):
the same pipeline as preprocessing fitted on the sample and the learner fitted on every
row's preprocessed array, whatever the chunks; and the train stage does so from its file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlops_template.config import parse_config
from mlops_template.core import chunked_fit
from mlops_template.core.dataset_checks import check_dataset
from mlops_template.core.models import model_for_rows
from mlops_template.io.atomic import write_json, write_parquet
from mlops_template.io.model_file import load_model
from mlops_template.stages import train

ROWS = 3000


def table(n: int = ROWS) -> pd.DataFrame:
    """Numbers with gaps, text with gaps, a label no linear model separates."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, size=(n, 3))
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame["kind"] = pd.Series(rng.choice(["red", "green", "blue"], n), dtype="str")
    frame.loc[rng.random(n) < 0.1, "a"] = np.nan
    frame.loc[rng.random(n) < 0.1, "kind"] = None
    frame["y"] = np.where(x[:, 0] * x[:, 1] > 0, "yes", "no")
    return frame


@pytest.fixture
def sampled(params):
    """model=auto on a table past sample_rows: chosen on a sample, to be fitted on all."""
    params["train"]["cv"].update(max_rows=1000, sample_rows=1500)
    cfg = parse_config(params)
    training = model_for_rows(cfg, table(), "y", "classification")
    assert training.folds.sample is not None and training.selection.fitted is None
    return cfg, training


def chunked(training, seed: int, size: int):
    """The final fit as train makes it past sample_rows, the table's chunks `size` rows."""
    model = clone(training.model)
    sample, x, y = training.folds.sample, training.features, training.y
    assert chunked_fit.fits_in_chunks(model)
    sampled = chunked_fit.fit_preprocessing(model, x[sample], y[sample])
    labels = chunked_fit.label_array(y)
    held = chunked_fit.early_stopping_rows(model[-1], training.ids, seed, labels)
    chunks = (x.iloc[i : i + size] for i in range(0, len(x), size))
    fit_x, held_x = chunked_fit.preprocessed(model, chunks, sample, sampled, held)
    chunked_fit.fit_learner(model[-1], fit_x, held_x, labels, held)
    return model, held


def test_the_fit_is_the_learner_on_every_rows_array(sampled):
    """The preprocessing is the one fitted on the sample; the learner is fitted on every
    row's preprocessed array, with the hashed rows as its early-stopping set."""
    cfg, training = sampled
    model, held = chunked(training, cfg.train.seed, size=700)
    sample, x, y = training.folds.sample, training.features, training.y
    reference = clone(training.model)
    arrays = np.empty((ROWS, reference[:-1].fit_transform(x[sample], y[sample]).shape[1]))
    arrays[sample] = clone(training.model)[:-1].fit_transform(x[sample], y[sample])
    arrays[~sample] = reference[:-1].transform(x[~sample])
    labels = y.to_numpy()
    reference[-1].fit(arrays[~held], labels[~held], X_val=arrays[held], y_val=labels[held])
    np.testing.assert_array_equal(model[:-1].transform(x[~sample]), arrays[~sample])
    np.testing.assert_array_equal(model.predict_proba(x), reference.predict_proba(x))
    assert 0.05 < held.mean() < 0.15  # validation_fraction 0.1 of the rows


def test_chunks_of_any_size_give_the_same_model(sampled):
    cfg, training = sampled
    small, _ = chunked(training, cfg.train.seed, size=333)
    whole, _ = chunked(training, cfg.train.seed, size=ROWS)
    x = training.features
    np.testing.assert_array_equal(small.predict_proba(x), whole.predict_proba(x))


def test_chunks_that_miss_rows_are_refused(sampled):
    _, training = sampled
    model, sample = clone(training.model), training.folds.sample
    x, y = training.features, training.y
    sampled = chunked_fit.fit_preprocessing(model, x[sample], y[sample])
    with pytest.raises(ValueError, match=f"the chunks hold 2999 rows, the labels {ROWS}"):
        chunked_fit.preprocessed(model, [x.iloc[:-1]], sample, sampled, np.zeros(ROWS, dtype=bool))


def test_early_stopping_rows_are_the_boosting_learners_own():
    ids = np.arange(50_000, dtype=np.uint64)
    labels = np.arange(50_000) % 2
    boosting = HistGradientBoostingClassifier(early_stopping=True, validation_fraction=0.2)
    held = chunked_fit.early_stopping_rows(boosting, ids, 1, labels)
    assert 0.19 < held.mean() < 0.21
    np.testing.assert_array_equal(held, chunked_fit.early_stopping_rows(boosting, ids, 1, labels))
    assert not np.array_equal(held, chunked_fit.early_stopping_rows(boosting, ids, 2, labels))

    def none(model, n=50_000):
        return not chunked_fit.early_stopping_rows(model, ids[:n], 1, labels[:n]).any()

    assert none(LogisticRegression())
    assert none(clone(boosting).set_params(early_stopping=False))
    assert none(clone(boosting).set_params(class_weight="balanced"))  # its split weighs them
    auto = HistGradientBoostingClassifier(early_stopping="auto", validation_fraction=0.1)
    assert none(auto, 11_000)  # 'auto' stops when it fits past 10,000 rows: 9,900 here
    assert not none(auto, 11_200)


def test_a_class_whose_rows_are_all_held_stays_with_the_fitted_rows():
    ids = np.arange(20_000, dtype=np.uint64)
    boosting = HistGradientBoostingClassifier(early_stopping=True)
    drawn = chunked_fit.early_stopping_rows(boosting, ids, 1, np.zeros(20_000, dtype=int))
    labels = np.where(drawn, 0, 1)  # class 0 has only rows the hash holds out
    labels[np.flatnonzero(drawn)[2:]] = 1
    held = chunked_fit.early_stopping_rows(boosting, ids, 1, labels)
    assert not held[labels == 0].any() and held[labels == 1].any()


def test_sample_rows_are_read_as_the_fit_made_them(params):
    """A cross-fitted target encoding never encodes a row with its own label: the sample's
    rows reach the learner as the preprocessing's fit gave them, not as it transforms."""
    params["train"]["cv"].update(max_rows=1000, sample_rows=1500)
    rng = np.random.default_rng(5)
    frame = table().assign(
        code=pd.Series([f"L{i}" for i in rng.integers(0, 900, ROWS)], dtype="str")
    )
    training = model_for_rows(
        parse_config(params), frame, "y", "classification", {"code": "many_levels"}
    )
    sample, x, y = training.folds.sample, training.features, training.y
    model = clone(training.model)
    sampled = chunked_fit.fit_preprocessing(model, x[sample], y[sample])
    fit_x, _ = chunked_fit.preprocessed(model, [x], sample, sampled, np.zeros(ROWS, dtype=bool))
    np.testing.assert_array_equal(fit_x[sample], sampled)
    assert not np.array_equal(model[:-1].transform(x[sample]), sampled)  # the leak avoided


def test_a_learner_reading_categoricals_natively_is_fitted_whole(params):
    params["train"]["cv"].update(max_rows=1000, sample_rows=1500)
    params["model"]["candidates"]["hist_gradient_boosting"]["categorical"] = "native"
    training = model_for_rows(parse_config(params), table(), "y", "classification")
    assert training.folds.sample is not None and not chunked_fit.fits_in_chunks(training.model)


def test_the_train_stage_fits_in_chunks_from_its_file(params, tmp_path, monkeypatch, capsys):
    """The stage reads its file a chunk at a time in the table's dtypes, in its order:
    the model is the one fitted in chunks from the table in memory."""
    monkeypatch.chdir(tmp_path)
    params["train"]["cv"].update(max_rows=1000, sample_rows=1500)
    params["split"]["key"] = None
    cfg = parse_config(params)
    frame = table().assign(n=pd.array(np.arange(ROWS) % 7, dtype="int64"))
    report = check_dataset(frame, "y", cfg.validate_, requested_task="auto", source="t")
    write_json(cfg.paths.validation, report.as_json())
    write_parquet(cfg.paths.train, frame)
    record = train.run(cfg)
    assert "preprocessing fitted on a sample of" in capsys.readouterr().out
    dataset = record.inputs[0]  # the table was let go: its digest and schema are logged
    assert dataset.frame is None and [c.name for c in dataset.schema.inputs] == list(frame)
    training = model_for_rows(cfg, frame, "y", "classification", report.encodings)
    expected, _ = chunked(training, cfg.train.seed, size=ROWS)
    served = load_model(cfg.paths.model)
    np.testing.assert_array_equal(served.predict_proba(frame), expected.predict_proba(frame))
