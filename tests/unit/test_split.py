from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Split
from mlops_template.core.split import split_frame
from mlops_template.errors import PipelineError


def frame() -> pd.DataFrame:
    y = ["a"] * 60 + ["b"] * 30 + ["c"] * 10 + [None] * 5
    return pd.DataFrame({"x": np.arange(len(y)), "y": y})


def split(df, seed=0, task="classification", stratify=True, test_size=0.2):
    return split_frame(df, "y", task, Split(test_size=test_size, seed=seed, stratify=stratify))


def test_stratified_split_keeps_proportions():
    train, test = split(frame())
    assert len(train) == 80
    assert len(test) == 20
    assert test["y"].value_counts().to_dict() == {"a": 12, "b": 6, "c": 2}
    assert train["y"].value_counts().to_dict() == {"a": 48, "b": 24, "c": 8}


def test_rows_without_target_are_dropped():
    train, test = split(frame())
    assert train["y"].notna().all()
    assert test["y"].notna().all()
    assert sorted([*train["x"], *test["x"]]) == list(range(100))
    assert list(train.index) == list(range(len(train)))


def test_same_seed_same_split():
    a_train, a_test = split(frame(), seed=3)
    b_train, b_test = split(frame(), seed=3)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_test, b_test)


def test_other_seed_other_split():
    _, a_test = split(frame(), seed=3)
    _, b_test = split(frame(), seed=4)
    assert set(a_test["x"]) != set(b_test["x"])


def test_single_row_class_cannot_be_stratified():
    df = pd.concat([frame(), pd.DataFrame({"x": [200], "y": ["lonely"]})], ignore_index=True)
    with pytest.raises(PipelineError, match=r"\['lonely'\].*split\.stratify"):
        split(df)
    train, test = split(df, stratify=False)
    assert len(train) + len(test) == 101


def test_regression_is_not_stratified():
    df = pd.DataFrame({"x": range(10), "y": [float(v) for v in range(10)]})
    train, test = split(df, task="regression")
    assert (len(train), len(test)) == (8, 2)


def test_too_few_rows_for_test_size():
    df = pd.DataFrame({"x": range(4), "y": ["a", "b"] * 2})
    with pytest.raises(PipelineError, match=r"cannot split 4 rows \(split\.test_size\)"):
        split(df, test_size=0.1)
