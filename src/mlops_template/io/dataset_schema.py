"""A file a stage read, as an MLflow dataset; its schema as MLflow infers it, in vectorised
pandas: MLflow reads every cell of a text column in Python to find its type and of every
column to find whether it has missing values (7 s of a million rows, 70 s of ten
million, in each stage that logs its table)."""

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


def logged_dataset(path: str, frame: Any, target: str | None, schema: Any) -> Any:
    """The file at `path` as an MLflow dataset, named and digested as DVC knows it: from
    `frame` (its schema and size) if given, else with `schema`."""
    import warnings

    import mlflow.data
    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset

    from mlops_template.io.lineage import file_md5

    digest = file_md5(path)  # what DVC records for the file
    with warnings.catch_warnings():
        # A local path matches two equivalent MLflow source types; either is right.
        warnings.simplefilter("ignore", UserWarning)
        source = resolve_dataset_source(path)
    if frame is not None:
        dataset = mlflow.data.from_pandas(
            frame, source=source, targets=target, name=path, digest=digest
        )
        dataset.schema = frame_schema(frame)  # MLflow's own, without a cell-by-cell read
        return dataset
    return MetaDataset(source, name=path, digest=digest, schema=schema)
