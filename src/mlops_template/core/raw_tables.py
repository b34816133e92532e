"""The raw-row contract applied to whole tables: a training file's columns typed by what
their cells hold (`conform_frame`), and what a file's columns must be before any cell is
read (Arrow types, repeated names, nested columns). The cell-level rules are in
`raw_rows`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core.raw_rows import (
    SHOWN,
    BadCells,
    as_dates,
    as_numbers,
    as_text,
    is_missing,
    looks_like_dates,
)
from mlops_template.core.shares import percent


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


def looks_boolean(values: pd.Series) -> bool:
    """Every present cell is a boolean or the text true/false in any case."""
    distinct = values.dropna().unique()
    if not 0 < len(distinct) <= 6:  # True, False and their spellings at most
        return False
    return all(
        isinstance(v, bool | np.bool_) or str(v).lower() in ("true", "false") for v in distinct
    )


def numeric_share(values: pd.Series) -> tuple[float, list[Any]]:
    """For a text column: the share of its present cells that are numbers, and the rest."""
    present = values[~is_missing(values)]
    if present.empty:
        return 0.0, []
    # pandas' parser is a fast first pass; cells it cannot read get Python's float().
    parsed = pd.to_numeric(present.astype(object), errors="coerce")
    unread = present[parsed.isna()].tolist()
    if len(unread) > len(present) / 2:
        return 1 - len(unread) / len(present), unread  # text: no need to look closer
    bad = []
    for value in unread:
        try:
            float(value)
        except (TypeError, ValueError):
            bad.append(value)
    return 1 - len(bad) / len(present), bad


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
    the column."""
    frame = frame.copy()
    notes = []
    for name in frame.columns:
        values = frame[name]
        if pd.api.types.is_bool_dtype(values):
            continue
        if pd.api.types.is_numeric_dtype(values):
            numbers = as_numbers(values, name, infinity)
            if infinity == "missing" and numbers.isna().sum() > values.isna().sum():
                notes.append(f"column '{name}': infinite values read as missing")
                frame[name] = numbers
            continue
        if not pd.api.types.is_datetime64_any_dtype(values):  # text: tokens are missing
            values = values.mask(is_missing(values), np.nan)
            frame[name] = values
        if pd.api.types.is_datetime64_any_dtype(values) or looks_like_dates(values):
            if dates == "error":
                raise BadCells(
                    f"column '{name}' holds dates; set read.dates=features to use them, "
                    "or list it in data.drop_columns"
                )
            frame[name] = as_dates(values, name)
            continue
        if looks_boolean(values):  # true/False/TRUE with gaps: a boolean, not text
            flags = as_text(values, boolean=True)
            frame[name] = flags.map({"True": True, "False": False}).astype("boolean")
            continue
        numbers_share, bad = numeric_share(values)
        if not bad or numbers_share < share:
            continue  # text, or numbers already
        examples = sorted({str(v) for v in bad})[:SHOWN]
        if non_numeric == "error":
            raise BadCells(
                f"column '{name}': {len(bad)} of its values are not numbers though "
                f"{percent(numbers_share)} are, e.g. {examples}; fix them, or set "
                "read.non_numeric=missing to read them as missing"
            )
        cleared = values.mask(values.isin(bad), np.nan)
        frame[name] = as_numbers(cleared, name, infinity)
        notes.append(
            f"column '{name}': {len(bad)} values that are not numbers, e.g. {examples}, "
            "read as missing"
        )
    return frame, notes
