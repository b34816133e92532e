from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.schema import TrainingSchema, infer_schema
from mlops_template.errors import PipelineError


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size": [3.5, np.nan, -1.0, 2.0],
            "colour": ["red", None, "blue", "green"],
            "count": [1, 2, 3, 4],
            "member": pd.array([True, False, True, None], dtype="boolean"),
        }
    )


def test_columns_in_order_with_kind_and_range():
    schema = infer_schema(frame(), pd.Series([1, 0, 1, 0], name="y"), "classification")
    size, colour, count, member = schema.as_json()["columns"]  # as stored, key for key
    assert size == {
        "name": "size",
        "dtype": "float64",
        "nullable": True,
        "kind": "numeric",
        "min": -1.0,
        "max": 3.5,
    }
    assert colour.pop("dtype") in {"object", "str"}  # pandas' text dtype, by version
    assert colour == {
        "name": "colour",
        "nullable": True,
        "kind": "categorical",
        "categories": ["blue", "green", "red"],
    }
    assert count["nullable"] is False
    assert (count["min"], count["max"]) == (1.0, 4.0)
    assert schema.n_rows == 4 and schema.task == "classification"
    assert schema.features == ["size", "colour", "count", "member"]
    assert schema.names("numeric") == ["size", "count"]
    assert schema.names("categorical") == ["colour", "member"]
    assert member["kind"] == "categorical" and member["dtype"] == "boolean"
    assert schema.booleans == ("member",) and schema.dates == ()


def test_classes_for_classification():
    target = pd.Series(["b", "a", None, "b"], name="label")
    schema = infer_schema(frame(), target, "classification")
    assert schema.target.name == "label"
    assert schema.target.classes == ["a", "b"]


def test_no_classes_for_regression():
    schema = infer_schema(frame(), pd.Series([0.5, 1.5, 2.0, 3.0], name="y"), "regression")
    assert schema.as_json()["target"] == {"name": "y", "dtype": "float64"}


def test_all_missing_numeric_column_has_no_range():
    schema = infer_schema(pd.DataFrame({"x": [np.nan, np.nan]}), pd.Series([1, 2]), "regression")
    stored = schema.as_json()["columns"][0]
    assert stored["min"] is None and stored["max"] is None  # kept as null, not left out


def test_stored_and_read_back_unchanged(tmp_path):
    schema = infer_schema(frame(), pd.Series([1, 0, 1, 0], name="y"), "classification")
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(schema.as_json()))
    again = TrainingSchema.read(path)
    assert again == schema and again.as_json() == schema.as_json()


def test_a_file_that_is_not_a_schema_is_named(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"task": "clustering", "columns": []}))
    with pytest.raises(PipelineError, match=r"schema\.json: not a training schema \(task"):
        TrainingSchema.read(path)
