from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from mlops_template.config import parse_config
from mlops_template.config.data import SyntheticData
from mlops_template.core import synthetic
from mlops_template.core.synthetic import generate
from mlops_template.errors import PipelineError


def config(**changes) -> SyntheticData:
    values = {
        "source": "synthetic",
        "task": "classification",
        "n_rows": 400,
        "seed": 7,
        "n_numeric": 3,
        "n_categorical": 2,
        "n_classes": 3,
        "missing_rate": 0.1,
        "target": "label",
        "watch": "uv.lock",
    }
    return SyntheticData(**{**values, **changes})


def test_same_seed_same_frame():
    pd.testing.assert_frame_equal(generate(config()), generate(config()))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_same_seed_same_frame_in_many_chunks(monkeypatch, task):
    """Rows drawn a chunk at a time (the last one short), with every kind of column."""
    monkeypatch.setattr(synthetic, "CHUNK_ROWS", 150)
    cfg = config(task=task, n_levels=30, text=True)
    frame = generate(cfg)
    pd.testing.assert_frame_equal(frame, generate(cfg))
    assert len(frame) == 400 and frame.index.equals(pd.RangeIndex(400))
    assert frame["code"].nunique() == 30
    assert frame.drop(columns="label").isna().any().all() and frame["label"].notna().all()


def test_column_types():
    frame = generate(config(n_levels=30, text=True))
    assert list(frame.columns[-3:]) == ["code", "text", "label"]
    assert (frame.dtypes[["num_0", "num_1", "num_2"]] == np.float64).all()
    assert (frame.dtypes[["cat_0", "cat_1", "code", "text", "label"]] == "str").all()
    assert frame["code"].dropna().str.fullmatch(r"L\d{5}").all()
    words = frame["text"].dropna().str.split()
    assert words.map(len).between(4, 9).all()  # 3-8 filler words and one signal word
    assert words.map(lambda w: sum(x.startswith("s") for x in w) == 1).all()
    assert words.map(lambda w: len(set(w)) == len(w)).all()
    assert generate(config(task="regression")).dtypes["label"] == np.float64


def test_other_seed_other_frame():
    assert not generate(config()).equals(generate(config(seed=8)))


def test_shape_and_columns():
    frame = generate(config())
    assert list(frame.columns) == ["num_0", "num_1", "num_2", "cat_0", "cat_1", "label"]
    assert len(frame) == 400
    assert set(frame["cat_0"].dropna()) <= set("abcd")


def test_missing_rate_roughly_as_configured():
    frame = generate(config(n_rows=2000, missing_rate=0.2))
    features = frame.drop(columns="label")
    assert features.isna().mean().between(0.16, 0.24).all()
    assert frame["label"].notna().all()


def test_missing_rate_close_in_every_column():
    frame = generate(config(n_rows=20_000, missing_rate=0.05, n_levels=50, text=True))
    assert frame.drop(columns="label").isna().mean().between(0.04, 0.06).all()


def test_categories_are_balanced_quartiles():
    shares = generate(config(n_rows=4000, missing_rate=0.0))["cat_1"].value_counts(normalize=True)
    assert sorted(shares.index) == list("abcd") and shares.between(0.24, 0.26).all()


@pytest.mark.parametrize("n_classes", [2, 3])
def test_classes_balanced_and_learnable(n_classes):
    """make_classification's problem: balanced classes a model tells apart on rows it
    did not see, from the numbers and the categories."""
    frame = generate(config(n_rows=20_000, n_classes=n_classes, missing_rate=0.05))
    shares = frame["label"].value_counts(normalize=True) * n_classes
    assert shares.between(0.8, 1.2).all()
    x = frame.drop(columns="label").astype({"cat_0": "category", "cat_1": "category"})
    x_train, x_test, y_train, y_test = train_test_split(x, frame["label"], random_state=0)
    model = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    score = balanced_accuracy_score(y_test, model.fit(x_train, y_train).predict(x_test))
    assert score > 0.5 + 0.5 / n_classes  # chance is 1 / n_classes


def test_no_missing_by_default():
    assert not generate(config(missing_rate=0.0)).isna().any().any()


def test_classification_target_has_n_classes():
    frame = generate(config(n_classes=4))
    assert sorted(frame["label"].unique()) == ["class_0", "class_1", "class_2", "class_3"]


def test_regression_target_is_numeric():
    frame = generate(config(task="regression"))
    assert pd.api.types.is_float_dtype(frame["label"])
    assert frame["label"].nunique() == 400


@pytest.mark.parametrize(
    "changes",
    [{"n_numeric": 1, "n_categorical": 0, "n_classes": 2}, {"n_numeric": 2, "n_categorical": 0}],
)
def test_too_few_features_for_the_classes_fail_at_config_load(changes):
    with pytest.raises(ValidationError, match=r"n_classes=.* needs more features"):
        config(**changes)


def test_too_few_features_reported_with_the_key(params):
    params["data"] = {**config().model_dump(), "n_numeric": 1, "n_categorical": 0}
    with pytest.raises(PipelineError, match=r"data: .*n_classes=3 needs more features"):
        parse_config(params)


def test_enough_features_generate():
    frame = generate(config(n_numeric=2, n_categorical=0, n_classes=2))
    assert frame["label"].nunique() == 2
