"""A logged dataset's schema as MLflow infers it, in vectorised pandas: MLflow reads every
cell of a text column in Python to find its type and of every column to find whether it
has missing values (7 s of a million rows, 70 s of ten million, in each stage that logs
its table)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def frame_schema(frame: pd.DataFrame) -> Any:
    """mlflow.types.utils._infer_schema(frame), the same schema: a text column (pandas'
    str dtype holds only text) is a string, any other column typed by MLflow itself (by
    its dtype, or for an object column by its values); required where nothing is
    missing. None where MLflow cannot infer one."""
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.utils import _infer_pandas_column

    def column_type(column: pd.Series) -> Any:
        if isinstance(column.dtype, pd.StringDtype) and column.notna().any():
            return DataType.string
        return _infer_pandas_column(column)

    try:
        return Schema(
            [
                ColSpec(
                    type=column_type(frame[name]),
                    name=name,
                    required=not frame[name].isna().any(),
                )
                for name in frame.columns
            ]
        )
    except Exception:  # as MLflow's PandasDataset has it: no schema, rather than no run
        return None
