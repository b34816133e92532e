"""Checks on a collected data set; the task its target implies comes from `core.target`."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_template.config import Validate
from mlops_template.core.columns import (
    column_kind,
    identifier_columns,
    panel_units,
    text_encodings,
)
from mlops_template.core.table_facts import FrameFacts, TableFacts, as_facts
from mlops_template.core.target import CLASSIFICATION, balance, choose_task
from mlops_template.core.validation_report import ValidationReport
from mlops_template.errors import PipelineError


def require_target(frame: Any, target: str, source: str) -> None:
    """`frame`: anything with columns (a pandas or Spark frame, a table's facts)."""
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
    return check_table(
        FrameFacts(frame),
        target,
        settings,
        requested_task=requested_task,
        source=source,
        key=key,
        max_categories=max_categories,
    )


def check_table(
    facts: TableFacts,
    target: str,
    settings: Validate,
    *,
    requested_task: str,
    source: str,
    key: str | None = None,
    max_categories: int | None = 20,
) -> ValidationReport:
    """`check_dataset` of a table's facts (a pandas frame's, or a Spark table's)."""
    columns = pd.Index(facts.columns)
    if len(columns) == 0 or facts.rows == 0:
        raise PipelineError(f"{source}: the data set is empty ({facts.rows} rows)")
    if columns.duplicated().any():
        dupes = sorted(set(columns[columns.duplicated()]))
        raise PipelineError(f"{source}: duplicate column names {dupes}")
    require_target(facts, target, source)
    if key is not None and key not in columns:  # else prepare would be the first to say
        raise PipelineError(
            f"{source}: no column '{key}' to split by (split.key, which is data.id_column "
            f"unless set); columns are {list(columns)}"
        )
    y = facts.target(target)
    task, reason = choose_task(y, requested_task, settings.max_classes)
    # The split key is an ID by design: it identifies rows and is never a feature.
    features = [c for c in facts.columns if c not in (target, key)]
    if not features:
        raise PipelineError(f"{source}: no feature columns besides the target '{target}'")
    dtypes = {c: facts.dtype(c) for c in features}
    unsupported = [
        f"{c} ({dtype})"
        for c, dtype in dtypes.items()
        if not (
            pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
            or is_categorical_dtype_ok(dtype)
        )
    ]
    if unsupported:
        raise PipelineError(
            f"{source}: unsupported column types {unsupported}; convert them to numbers or "
            "text, or list them in data.drop_columns"
        )
    labelled = y.labelled
    if labelled < settings.min_rows:
        raise PipelineError(
            f"{source}: {labelled} rows with a target '{target}', fewer than "
            f"validate.min_rows={settings.min_rows}"
        )
    identifiers = identifier_columns(facts, features)
    kinds = {c: column_kind(dtype) for c, dtype in dtypes.items()}
    dropped = identifiers if settings.identifiers == "drop" else []
    kept = [c for c in features if c not in dropped]
    report: dict[str, Any] = {
        "target": target,
        "task": task,
        "task_reason": reason,
        "n_rows": facts.rows,
        "n_rows_without_target": int(facts.rows - labelled),
        "features": kept,
        "categorical": [c for c in features if kinds[c] == "categorical" and c not in dropped],
        "dates": [c for c in features if kinds[c] == "date" and c not in dropped],
        "identifiers": dropped,
        "encodings": text_encodings(facts, kept, max_categories),
        "missing": {c: n for c in features if (n := facts.missing(c))},
        "warnings": [
            *(identifier_line(c, settings.identifiers) for c in identifiers),
            *(
                f"column '{c}' is empty in every row: a model learns nothing from it, and "
                "every batch would still need it; list it in data.drop_columns"
                for c in kept
                if facts.missing(c) == facts.rows
            ),
            *(
                f"column '{c}' holds the same value in every row: a model learns nothing from "
                "it, and every batch would still need it; list it in data.drop_columns"
                for c in kept
                if facts.constant(c)
            ),
            *(panel_line(unit, period) for unit, period in panel_units(facts, features)),
        ],
    }
    if task == CLASSIFICATION:
        balance_report, warnings = balance(y, settings, source=source)
        report.update(balance_report)
        report["warnings"] += warnings
    elif not pd.api.types.is_numeric_dtype(y.dtype):
        raise PipelineError(
            f"{source}: target column '{target}' is {y.dtype}, not numeric; "
            "regression needs numbers (or set data.task=classification)"
        )
    copies = copies_of_target(facts, features, target, task)
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


def copies_of_target(
    table: pd.DataFrame | TableFacts, columns: list[str], target: str, task: str
) -> list[str]:
    """The columns that hold the target on every labelled row (the rows a model learns
    from), whatever their name ('Churn' beside 'churn'), each described for a message.

    A copy has the target's values (a float copy of an integer target counts); for
    classification, also its classes under other names ('yes'/'no' for 1/0): a
    one-to-one mapping between the column's values and the classes. A regression
    target's other one-to-one mappings are not refused: an ID column is one too."""
    facts = as_facts(table)
    classes = task == CLASSIFICATION
    if not classes:  # numbers only: a copy of a regression target holds its numbers
        columns = [
            c
            for c in columns
            if pd.api.types.is_numeric_dtype(dtype := facts.dtype(c))
            and not pd.api.types.is_bool_dtype(dtype)
        ]
    found = facts.target_pairs(columns, target, classes)
    return [_describe(c, target, pairs) for c, pairs in found.items()]


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


def is_categorical_dtype_ok(dtype: Any) -> bool:
    return (
        pd.api.types.is_string_dtype(dtype)
        or pd.api.types.is_bool_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
    )
