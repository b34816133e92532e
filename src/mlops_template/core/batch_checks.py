"""Checks of an incoming batch against the training schema, before it is scored."""

from __future__ import annotations

import pandas as pd

from mlops_template.core.raw_rows import as_text
from mlops_template.core.schema import TrainingSchema

SHOWN = 10  # values listed per column in a message


def check_columns(
    schema: TrainingSchema,
    batch_columns: dict[str, bool],
    *,
    allowed_extra: set[str],
    extra_policy: str,
    source: str,
) -> tuple[list[str], list[str]]:
    """Problems with the batch's columns, and the extra columns to drop.

    `batch_columns` maps each column to whether it holds numbers. Numeric training
    columns must arrive as numbers; categorical ones may arrive as anything.
    """
    expected = {c.name: c for c in schema.columns}
    problems = []
    missing = [name for name in expected if name not in batch_columns]
    if missing:
        problems.append(f"{source}: missing columns {missing}")
    extra = [c for c in batch_columns if c not in expected and c not in allowed_extra]
    if extra and extra_policy == "error":
        problems.append(f"{source}: columns the model was not trained on {extra}")
    for name, numeric in batch_columns.items():
        if name in expected and expected[name].kind == "numeric" and not numeric:
            problems.append(f"{source}: column '{name}' is not numeric; the model expects numbers")
    return problems, extra


def unseen_categories(schema: TrainingSchema, frame: pd.DataFrame) -> dict[str, list[str]]:
    """Per categorical column, values never seen in training (missing values excluded)."""
    found = {}
    for column in schema.columns:
        if column.kind != "categorical" or column.name not in frame:
            continue
        # Read as the model reads them (core/raw_rows.py): "" is missing, "true" is "True".
        values = as_text(frame[column.name], column.is_boolean).dropna().unique()
        new = sorted(set(values) - set(column.categories or []))
        if new:
            found[column.name] = new
    return found


def describe_unseen(unseen: dict[str, list[str]], source: str) -> str:
    parts = [
        f"'{name}': {values[:SHOWN]}{' ...' if len(values) > SHOWN else ''}"
        for name, values in unseen.items()
    ]
    return f"{source}: categories never seen in training: " + "; ".join(parts)
