"""Checks on a collected data set; the task its target implies comes from `core.target`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_template.config import Validate
from mlops_template.core.columns import (
    column_kind,
    identifier_columns,
    panel_units,
    text_encodings,
)
from mlops_template.core.target import CLASSIFICATION, class_balance, infer_task
from mlops_template.core.validation_report import ValidationReport
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
    settings: Validate,
    *,
    requested_task: str,
    source: str,
    key: str | None = None,
    max_categories: int | None = 20,
) -> ValidationReport:
    """Raise PipelineError naming the file and column if the data cannot be learned from.

    Returns a report of what was checked (task and why, rows, columns and their kinds,
    the columns that name rows, missing values, classes) with warnings for people.
    """
    if frame.shape[1] == 0 or frame.empty:
        raise PipelineError(f"{source}: the data set is empty ({frame.shape[0]} rows)")
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise PipelineError(f"{source}: duplicate column names {dupes}")
    require_target(frame, target, source)
    task, reason = infer_task(frame[target], requested_task, settings.max_classes)
    # The split key is an ID by design: it identifies rows and is never a feature.
    features = [c for c in frame.columns if c not in (target, key)]
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
    if labelled < settings.min_rows:
        raise PipelineError(
            f"{source}: {labelled} rows with a target '{target}', fewer than "
            f"validate.min_rows={settings.min_rows}"
        )
    identifiers = identifier_columns(frame, features)
    kinds = {c: column_kind(frame[c]) for c in features}
    dropped = identifiers if settings.identifiers == "drop" else []
    kept = [c for c in features if c not in dropped]
    report: dict[str, Any] = {
        "target": target,
        "task": task,
        "task_reason": reason,
        "n_rows": len(frame),
        "n_rows_without_target": int(len(frame) - labelled),
        "features": kept,
        "categorical": [c for c in features if kinds[c] == "categorical" and c not in dropped],
        "dates": [c for c in features if kinds[c] == "date" and c not in dropped],
        "identifiers": dropped,
        "encodings": text_encodings(frame, kept, max_categories),
        "missing": {c: n for c in features if (n := int(frame[c].isna().sum()))},  # no copy
        "warnings": [
            *(identifier_line(c, settings.identifiers) for c in identifiers),
            *(panel_line(unit, period) for unit, period in panel_units(frame, features)),
        ],
    }
    if task == CLASSIFICATION:
        balance, warnings = class_balance(y, settings, source=source)
        report.update(balance)
        report["warnings"] += warnings
    elif not pd.api.types.is_numeric_dtype(y):
        raise PipelineError(
            f"{source}: target column '{target}' is {y.dtype}, not numeric; "
            "regression needs numbers (or set data.task=classification)"
        )
    copies = copies_of_target(frame, features, target, task)
    if copies:
        message = (
            f"{'; '.join(copies)}: a model would learn the answer from it, and score "
            "perfectly only where the answer is known; list it in data.drop_columns (or "
            "set validate.target_copies=warn if it is known when predicting)"
        )
        if settings.target_copies == "error":
            raise PipelineError(f"{source}: {message}")
        report["warnings"].append(message)
    return ValidationReport(**report)


# Labelled rows (spread over the data) compared before whole columns: almost every
# column differs from the target within them, so 10M rows cost little more than 1,000.
SCREEN_ROWS = 1000


def copies_of_target(frame: pd.DataFrame, columns: list[str], target: str, task: str) -> list[str]:
    """The columns that hold the target on every labelled row (the rows a model learns
    from), whatever their name ('Churn' beside 'churn'), each described for a message.

    A copy has the target's values (a float copy of an integer target counts); for
    classification, also its classes under other names ('yes'/'no' for 1/0): a
    one-to-one mapping between the column's values and the classes. A regression
    target's other one-to-one mappings are not refused: an ID column is one too."""
    labels = frame[target]
    rows = np.flatnonzero(labels.notna().to_numpy())
    screen = rows[:: max(1, len(rows) // SCREEN_ROWS)]
    pair = _pair_classes if task == CLASSIFICATION else _same_numbers
    found, y = [], None
    for column in columns:
        if pair(frame[column].iloc[screen], labels.iloc[screen]) is None:
            continue
        y = labels.iloc[rows] if y is None else y
        pairs = pair(frame[column].iloc[rows], y)
        if pairs is not None:
            found.append(_describe(column, target, pairs))
    return found


def _same_numbers(x: pd.Series, y: pd.Series) -> list[tuple[Any, Any]] | None:
    """No pairs to show if x holds y's numbers; None if not."""
    if not pd.api.types.is_numeric_dtype(x) or pd.api.types.is_bool_dtype(x):
        return None
    return [] if np.array_equal(x.to_numpy(float, na_value=np.nan), y.to_numpy(float)) else None


def _pair_classes(x: pd.Series, y: pd.Series) -> list[tuple[Any, Any]] | None:
    """x's values (missing is one) paired with y's classes if they map one to one."""
    x_codes, x_values = x.factorize(use_na_sentinel=False)
    y_codes, y_values = y.factorize()
    if len(x_values) != len(y_values):
        return None
    pairs = pd.unique(x_codes.astype(np.int64) * len(y_values) + y_codes)
    if len(pairs) != len(y_values):
        return None
    xs, ys = x_values.tolist(), y_values.tolist()
    return sorted(((xs[p // len(ys)], ys[p % len(ys)]) for p in pairs), key=lambda p: str(p[1]))


def _describe(column: str, target: str, pairs: list[tuple[Any, Any]]) -> str:
    if all(_equal(a, b) for a, b in pairs):
        return f"column '{column}' is a copy of the target '{target}'"
    shown = ", ".join(f"{a!r} for {b!r}" for a, b in pairs[:5])
    more = ", ..." if len(pairs) > 5 else ""
    return f"column '{column}' is the target '{target}' under other names ({shown}{more})"


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except TypeError:  # pd.NA has no truth value
        return False


def identifier_line(column: str, setting: str) -> str:
    what = f"column '{column}' has a different value in nearly every row, like a row number or code"
    if setting == "keep":
        return f"{what}: kept as a feature, as validate.identifiers=keep says"
    return (
        f"{what}: not a feature (validate.identifiers=keep keeps it; split.key={column} "
        "makes the split follow it)"
    )


def panel_line(unit: str, period: str) -> str:
    return (
        f"columns '{unit}' and '{period}' together identify every row, and '{unit}' repeats: "
        f"each '{unit}' is seen over several '{period}'; set split.key={unit} so that one "
        f"'{unit}' never lands on both sides of the split (else the test rows flatter the model)"
    )


def is_categorical_dtype_ok(series: pd.Series) -> bool:
    return (
        pd.api.types.is_string_dtype(series)
        or pd.api.types.is_bool_dtype(series)
        or isinstance(series.dtype, pd.CategoricalDtype)
        or series.dtype == object
    )
