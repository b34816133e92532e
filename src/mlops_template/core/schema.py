"""The training schema: what the model was fitted on, saved with it to check later batches."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_template.core.dataset_checks import is_categorical


def infer_schema(features: pd.DataFrame, target: pd.Series, task: str) -> dict[str, Any]:
    """Columns in order with dtype, kind, missing share, and range or categories."""
    columns = []
    for name in features.columns:
        col = features[name]
        entry: dict[str, Any] = {
            "name": str(name),
            "dtype": str(col.dtype),
            "nullable": bool(col.isna().any()),
        }
        if pd.api.types.is_datetime64_any_dtype(col):
            entry["kind"] = "date"  # numeric features inside the model (core/raw_rows.py)
            entry["min"], entry["max"] = (_date(col.min()), _date(col.max()))
        elif is_categorical(col):
            entry["kind"] = "categorical"
            entry["categories"] = sorted(str(v) for v in col.dropna().unique())
        else:
            entry["kind"] = "numeric"
            entry["min"] = _number(col.min())
            entry["max"] = _number(col.max())
        columns.append(entry)
    schema: dict[str, Any] = {
        "task": task,
        "target": {"name": str(target.name), "dtype": str(target.dtype)},
        "columns": columns,
        "n_rows": len(features),
    }
    if task == "classification":
        schema["target"]["classes"] = sorted(target.dropna().unique().tolist(), key=str)
    return schema


def split_columns(schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) column names of a schema, in column order."""
    numeric = [c["name"] for c in schema["columns"] if c["kind"] == "numeric"]
    categorical = [c["name"] for c in schema["columns"] if c["kind"] == "categorical"]
    return numeric, categorical


BOOLEAN_DTYPES = ("bool", "boolean")  # numpy's and pandas' nullable one


def is_boolean(column: dict[str, Any]) -> bool:
    """A schema column that was a boolean in training: "true"/"TRUE" read as "True"."""
    return column.get("dtype") in BOOLEAN_DTYPES


def boolean_columns(schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(c["name"] for c in schema["columns"] if is_boolean(c))


def date_columns(schema: dict[str, Any]) -> tuple[str, ...]:
    return tuple(c["name"] for c in schema["columns"] if c["kind"] == "date")


def _date(value: Any) -> str | None:
    return None if pd.isna(value) else pd.Timestamp(value).isoformat()


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)
