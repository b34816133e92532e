"""What a feature column is, one view for every stage: its kind (validate's report and the
model's schema agree), and whether it identifies rows rather than describes them."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from mlops_template.core.target import is_categorical

Kind = Literal["numeric", "categorical", "date"]

# Fewer rows than this say nothing about a column being unique by design.
IDENTIFIER_MIN_ROWS = 20
# Distinct values per row with a value from which a column names rows.
IDENTIFIER_DISTINCT_SHARE = 0.95
# A counter's values lie close together: unique integers spread over more than this many
# times the rows (prices in cents, populations) are measurements, not row numbers.
IDENTIFIER_SPAN = 10
# Unique text is an identifier when its values are codes (single tokens: "C-1023"); unique
# text whose values have words in them is free text, which a model can read.
IDENTIFIER_WORDY_SHARE = 0.1
# A panel: a unit (person, firm) observed once per period (year, wave). The period column
# has at most this many values, and each unit at least two rows on average.
PANEL_MAX_PERIODS = 1000
PANEL_MIN_UNITS = 20
PANEL_SAMPLE = 100_000


def column_kind(series: pd.Series) -> Kind:
    """Dates (reaching the model as numbers, core/raw_rows.py), categories (text, booleans,
    pandas categoricals: encoded), or numbers."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    return "categorical" if is_categorical(series) else "numeric"


def is_text(series: pd.Series) -> bool:
    return column_kind(series) == "categorical" and not pd.api.types.is_bool_dtype(series)


def is_integer(series: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(series)


def is_unique(column: pd.Series) -> bool:
    """A different value in (nearly) every row that has one: a few repeats (rows added
    twice, a batch numbered from 1 again) do not turn an identifier into a feature."""
    present = column.dropna()
    return len(present) >= IDENTIFIER_MIN_ROWS and (
        present.nunique() >= IDENTIFIER_DISTINCT_SHARE * len(present)
    )


def is_counter(series: pd.Series) -> bool:
    """Integers as a row counter gives them: close together (spread over at most
    IDENTIFIER_SPAN times the rows that have one)."""
    if not is_integer(series):
        return False
    span = int(series.max()) - int(series.min()) + 1
    return span <= IDENTIFIER_SPAN * int(series.notna().sum())


def identifier_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Columns with a different value in (nearly) every row that name the row rather than
    describe it: row numbers and codes. A model memorises them (a row number that follows the
    target's order scores perfectly on a random split, and means nothing on new rows)."""
    if len(frame) < IDENTIFIER_MIN_ROWS:
        return []
    found = []
    for name in columns:
        column = frame[name]
        if not (is_integer(column) or is_text(column)) or not is_unique(column):
            continue
        if is_counter(column) or (is_text(column) and not is_wordy(column)):
            found.append(str(name))
    return found


def is_wordy(column: pd.Series) -> bool:
    """Text with whitespace inside most values: words, not codes."""
    text = column.dropna().astype(str).str.strip()
    return bool(text.str.contains(r"\s", regex=True).mean() > IDENTIFIER_WORDY_SHARE)


def panel_units(frame: pd.DataFrame, columns: list[str]) -> list[tuple[str, str]]:
    """(unit, period) column pairs where the unit repeats and the two together identify
    every row: a person observed per year. Split on the unit (split.key), or the same
    person lands on both sides of the split and the test set flatters the model."""
    if len(frame) < IDENTIFIER_MIN_ROWS:
        return []
    countable = [
        c
        for c in columns
        if is_text(frame[c]) or is_integer(frame[c]) or column_kind(frame[c]) == "date"
    ]
    distinct = {c: frame[c].nunique(dropna=False) for c in countable}
    units = [
        c
        for c in countable
        if column_kind(frame[c]) != "date" and PANEL_MIN_UNITS <= distinct[c] <= len(frame) // 2
    ]
    # Periods are counted (years, waves), named or dated, and fewer than the units.
    found = []
    for unit in units:
        for period in countable:
            if (
                period != unit
                and 2 <= distinct[period] <= min(PANEL_MAX_PERIODS, distinct[unit] - 1)
                # a repeat among the first rows settles most pairs at a fraction of the cost
                and not frame[[unit, period]].head(PANEL_SAMPLE).duplicated().any()
                and not frame.duplicated([unit, period]).any()
            ):
                found.append((str(unit), str(period)))
                break
    return found


# Free text: values of this many words on average (titles, descriptions, job titles);
# fewer, and many levels are codes or names (cities, products): target-encoded.
TEXT_MIN_WORDS = 2.0
TEXT, MANY_LEVELS = "text", "many_levels"


def text_encodings(
    frame: pd.DataFrame, columns: list[str], max_categories: int | None
) -> dict[str, str]:
    """How the model reads each text column with more levels than one-hot keeps
    (`features.max_categories`): TEXT (its words) or MANY_LEVELS (each level's effect on
    the target, cross-fitted). Columns not named keep one-hot or native categories."""
    if max_categories is None:
        return {}
    found = {}
    for name in columns:
        column = frame[name]
        if not is_text(column) or column.nunique() <= max_categories:
            continue
        words = column.dropna().astype(str).str.count(r"\S+").mean()
        found[str(name)] = TEXT if words >= TEXT_MIN_WORDS else MANY_LEVELS
    return found
