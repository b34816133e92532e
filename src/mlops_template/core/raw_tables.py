"""The raw-row contract applied to whole tables: a training file's columns typed by what
their cells hold (`conform_frame`), and what a file's columns must be before any cell is
read (Arrow types, repeated names, nested columns); a chunk of rows converted by a plan
decided for the whole table (`apply`). The cell-level rules are in `raw_rows`, the
column-level decisions in `raw_facts`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core.raw_facts import (
    BOOLEAN,
    DATES,
    NUMBERS,
    Plan,
    decide,
    frame_facts,
    missing_as_nan,
    not_numbers,
)
from mlops_template.core.raw_rows import as_dates, as_numbers, as_text


def plain_arrow(data: Any) -> Any:
    """An Arrow table or record batch (a Parquet file's columns, training or batch) in the
    types the contract reads: dictionary-encoded columns as their values, as the plain
    column would be; decimals as float64 parsed from their text, as the same number in a
    CSV cell or JSON is (Arrow's own cast from decimal is not correctly rounded: one
    decimal(10,2) value in eight comes out a bit off). The schema's metadata is kept."""
    import pyarrow as pa

    columns = []
    for read in data.columns:
        column = read.cast(read.type.value_type) if pa.types.is_dictionary(read.type) else read
        if pa.types.is_decimal(column.type):
            column = column.cast(pa.string()).cast(pa.float64())
        columns.append(column)
    fields = [field.with_type(c.type) for field, c in zip(data.schema, columns, strict=True)]
    return type(data).from_arrays(columns, schema=pa.schema(fields, data.schema.metadata))


def is_arrow_numeric(arrow_type: Any) -> bool:
    """Whether an Arrow column holds numbers the contract reads as numbers."""
    import pyarrow as pa

    if pa.types.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    return (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or pa.types.is_decimal(arrow_type)
    )


def nested_columns(arrow_schema: Any) -> dict[str, str]:
    """Columns of lists, structs or maps (name -> type), which no model step reads: the
    contract's cells are numbers, text or dates."""
    import pyarrow as pa

    return {f.name: str(f.type) for f in arrow_schema if pa.types.is_nested(f.type)}


def duplicate_names(names: list[str]) -> list[str]:
    """Column names that appear more than once (pandas would rename them silently)."""
    seen: set[str] = set()
    return sorted({n for n in names if n in seen or seen.add(n)})


def conform_frame(
    frame: pd.DataFrame,
    *,
    infinity: str,
    non_numeric: str,
    share: float,
    dates: str = "features",
) -> tuple[pd.DataFrame, list[str]]:
    """A frame read by the contract, and notes on what was read as missing.

    Missing tokens in text cells become missing; text that is all ISO 8601 dates becomes
    dates (or is refused, `dates`); true/false text becomes booleans; a text column whose
    cells are mostly numbers is refused or read as numbers with the others missing
    (`non_numeric`); infinity is refused or missing (`infinity`). Raises BadCells naming
    the column. Decided from the whole frame's facts (core/raw_facts.py), as Spark
    decides from its partitions' facts merged."""
    frame = missing_as_nan(frame)
    plan = decide(
        frame_facts(frame), infinity=infinity, non_numeric=non_numeric, share=share, dates=dates
    )
    return convert(plan, frame), plan.notes


def apply(plan: Plan, chunk: pd.DataFrame) -> pd.DataFrame:
    """A chunk of rows (as read) by the plan, text columns as plain strings."""
    return text_as_str(convert(plan, missing_as_nan(chunk)))


def convert(plan: Plan, frame: pd.DataFrame) -> pd.DataFrame:
    """The planned columns of `frame` (missing tokens already NaN) converted."""
    frame = frame.copy(deep=False)
    for name, step in plan.steps.items():
        values = frame[name]
        if step == NUMBERS:
            frame[name] = as_numbers(values, name, plan.infinity)
        elif step == DATES:
            frame[name] = as_dates(values, name)
        elif step == BOOLEAN:
            flags = as_text(values, boolean=True)
            frame[name] = flags.map({"True": True, "False": False}).astype("boolean")
        else:  # TEXT_NUMBERS
            bad = values.isin(not_numbers(values))
            frame[name] = as_numbers(values.mask(bad, np.nan), name, plan.infinity)
    return frame


def text_as_str(frame: pd.DataFrame) -> pd.DataFrame:
    """Mixed-type text columns as plain strings, so encoders see one type."""
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.astype({c: "str" for c in text}) if text else frame
