"""Checks of an incoming batch against the training schema, before it is scored, and its
rows in the training data's types, for `ct` to add to the training data."""

from __future__ import annotations

import re

import pandas as pd

from mlops_template.core.raw_rows import BadCells, as_dates, as_numbers, as_text
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
        near = [f"'{found}'" for found in near_misses(missing, list(batch_columns)).values()]
        hint = f" (the batch has {', '.join(near)}: names must match exactly)" if near else ""
        problems.append(f"{source}: missing columns {missing}{hint}")
    extra = [c for c in batch_columns if c not in expected and c not in allowed_extra]
    beside = near_misses([name for name in expected if name in batch_columns], extra)
    if beside:  # one of the two would be dropped
        said = ", ".join(f"'{found}' beside '{name}'" for name, found in beside.items())
        problems.append(f"{source}: columns that name the model's in another spelling: {said}")
    if extra and extra_policy == "error":
        problems.append(f"{source}: columns the model was not trained on {extra}")
    for name, numeric in batch_columns.items():
        if name in expected and expected[name].kind == "numeric" and not numeric:
            problems.append(f"{source}: column '{name}' is not numeric; the model expects numbers")
    return problems, extra


def near_misses(wanted: list[str], found: list[str]) -> dict[str, str]:
    """Wanted column -> a column found whose name differs from it only in case, in spaces
    around it, or in a space, `_` or `-` between its words (`plot_type` for `plot type`):
    the likely cause, said."""
    by_key = {_spelling(c): c for c in found}
    return {w: by_key[k] for w in wanted if (k := _spelling(w)) in by_key}


def _spelling(name: str) -> str:
    return re.sub(r"[\s_-]+", " ", name.strip()).casefold()


def refuse_misnamed(found: list[str], expected: list[str]) -> None:
    """Refuse columns that name expected ones in another spelling (near_misses). Where a
    missing column is allowed (an optional one, over REST), the misnamed one was dropped
    as unknown and the expected one read missing in every row, without a word; beside the
    expected one, one of the two values was dropped."""
    near = near_misses(expected, [name for name in found if name not in expected])
    if near:
        said = ", ".join(f"'{found}' (the model's '{name}')" for name, found in near.items())
        raise BadCells(f"columns the model does not know: {said}; names must match exactly")


def unseen_categories(schema: TrainingSchema, frame: pd.DataFrame) -> dict[str, list[str]]:
    """Per categorical column, values never seen in training (missing values excluded).
    Free text and columns of many levels meet new values all the time: not listed."""
    found = {}
    for column in schema.columns:
        if not column.has_listed_values or column.name not in frame:
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


def as_training_types(frame: pd.DataFrame, schema: TrainingSchema) -> pd.DataFrame:
    """Batch rows (features and labels) in the types the training data has, read by the
    contract (core/raw_rows.py) as `collect` reads its source: `collect` writes them into
    one Parquet file with the training rows, where a column holds one type. A CSV batch
    brings dates and booleans as text, a Parquet one may bring numbers in a text column.
    Raises BadCells naming a column whose values the training type cannot hold."""
    columns = {}
    for column in schema.columns:
        name, values = column.name, frame[column.name]
        if column.kind == "date":
            columns[name] = as_dates(values, name)
        elif column.kind == "numeric":
            # Infinity left here is one the model reads as missing (monitor refused the
            # batch otherwise), as training reads it.
            numbers = as_numbers(values, name, infinity="missing")
            whole = numbers.notna().all() and (numbers % 1 == 0).all()
            integer = pd.api.types.is_integer_dtype(column.dtype)
            columns[name] = numbers.astype(column.dtype) if integer and whole else numbers
        elif column.is_boolean:
            text = as_text(values, boolean=True)
            other = sorted(set(text.dropna()) - {"True", "False"})
            if other:
                raise BadCells(
                    f"column '{name}': {len(other)} values that are not true/false, e.g. "
                    f"{other[:SHOWN]}; the training data holds booleans there"
                )
            columns[name] = text.map({"True": True, "False": False}).astype("boolean")
        else:
            columns[name] = as_text(values)
    target = schema.target
    columns[target.name] = frame[target.name].astype(target.dtype)
    return pd.DataFrame(columns, index=frame.index)
