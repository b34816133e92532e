from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_template.core.schema import infer_schema, split_columns


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "size": [3.5, np.nan, -1.0, 2.0],
            "colour": ["red", None, "blue", "green"],
            "count": [1, 2, 3, 4],
        }
    )


def test_columns_in_order_with_kind_and_range():
    schema = infer_schema(frame(), pd.Series([1, 0, 1, 0], name="y"), "classification")
    size, colour, count = schema["columns"]
    assert size == {
        "name": "size",
        "dtype": "float64",
        "nullable": True,
        "kind": "numeric",
        "min": -1.0,
        "max": 3.5,
    }
    assert colour["kind"] == "categorical"
    assert colour["nullable"] is True
    assert colour["categories"] == ["blue", "green", "red"]
    assert "min" not in colour
    assert count["nullable"] is False
    assert (count["min"], count["max"]) == (1.0, 4.0)
    assert schema["n_rows"] == 4
    assert schema["task"] == "classification"


def test_classes_for_classification():
    target = pd.Series(["b", "a", None, "b"], name="label")
    schema = infer_schema(frame(), target, "classification")
    assert schema["target"]["name"] == "label"
    assert schema["target"]["classes"] == ["a", "b"]


def test_no_classes_for_regression():
    schema = infer_schema(frame(), pd.Series([0.5, 1.5, 2.0, 3.0], name="y"), "regression")
    assert schema["target"] == {"name": "y", "dtype": "float64"}


def test_all_missing_numeric_column_has_no_range():
    schema = infer_schema(pd.DataFrame({"x": [np.nan, np.nan]}), pd.Series([1, 2]), "regression")
    assert schema["columns"][0]["min"] is None
    assert schema["columns"][0]["max"] is None


def test_split_columns():
    schema = infer_schema(frame(), pd.Series([0, 1, 0, 1], name="y"), "classification")
    assert split_columns(schema) == (["size", "count"], ["colour"])
