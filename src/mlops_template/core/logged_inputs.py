"""The model's inputs as the predictions table logs them: one `input_<feature>` column per
training feature, holding the cell as the raw-row contract read it (core/raw_rows.py).

REST and batch rows log the same columns, so monitoring reads any mix of them the same
way: numbers as float64 (infinity read as the model read it), categories as text
(booleans as "True"/"False"), dates as UTC timestamps, missing as null.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlops_template.core.raw_rows import as_dates, as_numbers, as_text
from mlops_template.core.schema import TrainingSchema

PREFIX = "input_"
DATE_TYPE = pa.timestamp("us", tz="UTC")


def column_name(feature: str) -> str:
    return f"{PREFIX}{feature}"


def input_fields(schema: TrainingSchema) -> list[pa.Field]:
    types = {"numeric": pa.float64(), "categorical": pa.string(), "date": DATE_TYPE}
    return [pa.field(column_name(c.name), types[c.kind]) for c in schema.columns]


def input_columns(frame: pd.DataFrame, schema: TrainingSchema, infinity: str) -> dict[str, Any]:
    """The frame's features read by the contract, as Arrow arrays named by `input_fields`.
    A feature the frame lacks is missing in every row, as the model reads it. Raises
    BadCells for a cell the contract refuses."""
    absent = pd.Series(np.nan, index=frame.index, dtype=object)
    columns = {}
    for column in schema.columns:
        values = frame.get(column.name, absent)
        if column.kind == "numeric":
            read = pa.array(as_numbers(values, column.name, infinity), from_pandas=True)
        elif column.kind == "date":
            read = pa.array(as_dates(values, column.name), from_pandas=True).cast(DATE_TYPE)
        else:
            read = pa.array(as_text(values, column.is_boolean), type=pa.string(), from_pandas=True)
        columns[column_name(column.name)] = read
    return columns


def features_from_log(frame: pd.DataFrame, schema: TrainingSchema) -> pd.DataFrame:
    """The logged inputs back under their feature names (for monitoring), dates as the
    zoneless UTC timestamps the contract reads."""
    features = {}
    for column in schema.columns:
        values = frame[column_name(column.name)]
        if column.kind == "date":
            values = pd.to_datetime(values, utc=True).dt.tz_localize(None)
        features[column.name] = values
    return pd.DataFrame(features, index=frame.index)
