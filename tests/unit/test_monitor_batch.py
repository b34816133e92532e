"""Reading a batch for monitoring: refused when empty, labels typed as in training."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_template.config import parse_config
from mlops_template.errors import PipelineError
from mlops_template.operate.monitor import read_batch

from .conftest import training_schema

SCHEMA = training_schema(
    {"name": "x", "kind": "numeric"},
    {"name": "c", "kind": "categorical"},
    name="label",
    classes=[0, 1],
)


@pytest.fixture
def cfg(params):
    return parse_config(params)


def test_an_empty_batch_is_refused(cfg, tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"x": pd.Series([], dtype="float64"), "c": pd.Series([], dtype="str")}).to_parquet(
        path
    )
    with pytest.raises(PipelineError, match="no rows"):
        read_batch(path, SCHEMA, cfg)


def test_labels_are_typed_as_in_training(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("x,c,label\n1.5,a,1.0\n2.5,b,0.0\n")
    frame = read_batch(path, SCHEMA, cfg)
    assert frame["label"].tolist() == [1, 0] and frame["label"].dtype == "int64"


def test_labels_that_cannot_be_typed_are_refused(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("x,c,label\n1.5,a,yes\n")
    with pytest.raises(PipelineError, match="'label'"):
        read_batch(path, SCHEMA, cfg)


def test_a_batch_with_wrong_columns_is_refused(cfg, tmp_path):
    path = tmp_path / "batch.csv"
    path.write_text("y,c\n1,a\n")
    with pytest.raises(PipelineError, match=r"not monitored[\s\S]*missing columns \['x'\]"):
        read_batch(path, SCHEMA, cfg)
