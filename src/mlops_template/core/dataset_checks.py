"""Checks on a collected data set; the task its target implies comes from `core.target`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_template.core.target import CLASSIFICATION, class_balance, infer_task, is_categorical
from mlops_template.errors import PipelineError


def require_target(frame: pd.DataFrame, target: str, source: str) -> None:
    if target not in frame.columns:
        raise PipelineError(
            f"{source}: target column '{target}' (data.target) not found; "
            f"columns are {list(frame.columns)}"
        )


def check_dataset(
    frame: pd.DataFrame,
    target: str,
    *,
    requested_task: str,
    max_classes: int,
    min_rows: int,
    min_class_share: float,
    source: str,
    key: str | None = None,
) -> dict[str, Any]:
    """Raise PipelineError naming the file and column if the data cannot be learned from.

    Returns a report of what was checked (task and why, rows, columns, missing values,
    classes) with warnings for people.
    """
    if frame.shape[1] == 0 or frame.empty:
        raise PipelineError(f"{source}: the data set is empty ({frame.shape[0]} rows)")
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise PipelineError(f"{source}: duplicate column names {dupes}")
    require_target(frame, target, source)
    task, reason = infer_task(frame[target], requested_task, max_classes)
    features = [c for c in frame.columns if c != target]
    if not features:
        raise PipelineError(f"{source}: no feature columns besides the target '{target}'")
    unsupported = [
        f"{c} ({frame[c].dtype})"
        for c in features
        if not (
            pd.api.types.is_numeric_dtype(frame[c])
            or pd.api.types.is_datetime64_any_dtype(frame[c])
            or is_categorical_dtype_ok(frame[c])
        )
    ]
    if unsupported:
        raise PipelineError(
            f"{source}: unsupported column types {unsupported}; convert them to numbers or "
            "text, or list them in data.drop_columns"
        )
    y = frame[target]
    labelled = int(y.notna().sum())
    if labelled < min_rows:
        raise PipelineError(
            f"{source}: {labelled} rows with a target '{target}', fewer than "
            f"validate.min_rows={min_rows}"
        )
    report: dict[str, Any] = {
        "target": target,
        "task": task,
        "task_reason": reason,
        "n_rows": len(frame),
        "n_rows_without_target": int(len(frame) - labelled),
        "features": features,
        "categorical": [c for c in features if is_categorical(frame[c])],
        "missing": {c: int(n) for c, n in frame[features].isna().sum().items() if n},
        # The split key is an ID by design: it identifies rows and is never a feature.
        "warnings": [
            f"column '{c}' has a different value in every row, like an ID: set "
            f"split.key={c} if it identifies rows (the split then follows it, and it is "
            "not a feature), else list it in data.drop_columns unless it carries signal"
            for c in id_like_columns(frame[[c for c in features if c != key]])
        ],
    }
    if task == CLASSIFICATION:
        balance, warnings = class_balance(y, min_class_share=min_class_share, source=source)
        report.update(balance)
        report["warnings"] += warnings
    elif not pd.api.types.is_numeric_dtype(y):
        raise PipelineError(
            f"{source}: target column '{target}' is {y.dtype}, not numeric; "
            "regression needs numbers (or set data.task=classification)"
        )
    return report


def id_like_columns(features: pd.DataFrame) -> list[str]:
    """Text or integer columns unique in every row: identifiers, which models memorise."""
    return [
        c
        for c in features.columns
        if len(features) >= 20
        and (is_categorical(features[c]) or pd.api.types.is_integer_dtype(features[c]))
        and features[c].nunique(dropna=False) == len(features)
    ]


def is_categorical_dtype_ok(series: pd.Series) -> bool:
    return (
        pd.api.types.is_string_dtype(series)
        or pd.api.types.is_bool_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
        or series.dtype == object
    )
