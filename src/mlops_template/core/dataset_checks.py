"""Checks on a collected data set, and the learning task its target implies."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_template.errors import PipelineError

CLASSIFICATION = "classification"
REGRESSION = "regression"


def is_categorical(series: pd.Series) -> bool:
    """Text, boolean and pandas categorical columns are one-hot encoded; numbers are not."""
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def infer_task(target: pd.Series, requested: str, max_classes: int) -> str:
    """The task a target implies, unless the config names one.

    Text, boolean and categorical targets are labels; so are integer (or integral
    float) targets with at most `max_classes` distinct values. Anything else is a
    number to regress on.
    """
    if requested != "auto":
        return requested
    values = target.dropna()
    if is_categorical(values):
        return CLASSIFICATION
    integral = pd.api.types.is_integer_dtype(values) or bool((values % 1 == 0).all())
    return CLASSIFICATION if integral and values.nunique() <= max_classes else REGRESSION


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
    source: str,
) -> dict[str, Any]:
    """Raise PipelineError naming the file and column if the data cannot be learned from.

    Returns a report of what was checked (task, rows, columns, missing values, classes).
    """
    if frame.shape[1] == 0 or frame.empty:
        raise PipelineError(f"{source}: the data set is empty ({frame.shape[0]} rows)")
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise PipelineError(f"{source}: duplicate column names {dupes}")
    require_target(frame, target, source)
    task = infer_task(frame[target], requested_task, max_classes)
    features = [c for c in frame.columns if c != target]
    if not features:
        raise PipelineError(f"{source}: no feature columns besides the target '{target}'")
    unsupported = [
        f"{c} ({frame[c].dtype})"
        for c in features
        if not (pd.api.types.is_numeric_dtype(frame[c]) or is_categorical_dtype_ok(frame[c]))
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
        "n_rows": len(frame),
        "n_rows_without_target": int(len(frame) - labelled),
        "features": features,
        "categorical": [c for c in features if is_categorical(frame[c])],
        "missing": {c: int(n) for c, n in frame[features].isna().sum().items() if n},
        "warnings": [
            f"column '{c}' has a different value in every row, like an ID; "
            "list it in data.drop_columns unless it carries signal"
            for c in id_like_columns(frame[features])
        ],
    }
    if task == CLASSIFICATION:
        counts = y.dropna().value_counts()
        if len(counts) < 2:
            raise PipelineError(
                f"{source}: target column '{target}' has a single class "
                f"{counts.index.tolist()}; classification needs at least two"
            )
        report["classes"] = {str(k): int(v) for k, v in sorted(counts.items(), key=_label_key)}
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


def _label_key(item: tuple[Any, int]) -> str:
    return str(item[0])
