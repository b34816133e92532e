"""What a feature column is, one view for every stage: its kind (validate's report and the
model's schema agree), and whether it identifies rows rather than describes them."""

from __future__ import annotations

from typing import Literal

import pandas as pd

Kind = Literal["numeric", "categorical", "date"]

# Fewer rows than this say nothing about a column being unique by design.
IDENTIFIER_MIN_ROWS = 20
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


def column_kind(series: pd.Series) -> Kind:
    """Dates (reaching the model as numbers, core/raw_rows.py), categories (text, booleans,
    pandas categoricals: encoded), or numbers."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        return "categorical"
    return "numeric"


def is_text(series: pd.Series) -> bool:
    return column_kind(series) == "categorical" and not pd.api.types.is_bool_dtype(series)


def is_counter(series: pd.Series) -> bool:
    """Integers a row counter would give: unique and close together."""
    if not pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series):
        return False
    span = int(series.max()) - int(series.min()) + 1
    return span <= IDENTIFIER_SPAN * len(series)


def identifier_columns(features: pd.DataFrame) -> list[str]:
    """Columns with a different value in every row that name the row rather than describe
    it: row numbers and codes. A model memorises them (a row number that follows the
    target's order scores perfectly on a random split, and means nothing on new rows)."""
    if len(features) < IDENTIFIER_MIN_ROWS:
        return []
    found = []
    for name in features.columns:
        column = features[name]
        if column.nunique(dropna=False) != len(column):
            continue
        if is_counter(column) or (is_text(column) and not is_wordy(column)):
            found.append(str(name))
    return found


def is_wordy(column: pd.Series) -> bool:
    """Text with whitespace inside most values: words, not codes."""
    text = column.dropna().astype(str).str.strip()
    return bool(text.str.contains(r"\s", regex=True).mean() > IDENTIFIER_WORDY_SHARE)


def panel_units(features: pd.DataFrame) -> list[tuple[str, str]]:
    """(unit, period) column pairs where the unit repeats and the two together identify
    every row: a person observed per year. Split on the unit (split.key), or the same
    person lands on both sides of the split and the test set flatters the model."""
    if len(features) < IDENTIFIER_MIN_ROWS:
        return []
    distinct = features.nunique(dropna=False)
    units = [
        c
        for c in features.columns
        if (is_text(features[c]) or pd.api.types.is_integer_dtype(features[c]))
        and not pd.api.types.is_bool_dtype(features[c])
        and PANEL_MIN_UNITS <= distinct[c] <= len(features) // 2
    ]
    # Periods are counted (years, waves) or dated, and fewer than the units.
    periods = [
        c
        for c in features.columns
        if column_kind(features[c]) == "date"
        or is_text(features[c])
        or pd.api.types.is_integer_dtype(features[c])
    ]
    found = []
    for unit in units:
        for period in periods:
            if (
                period != unit
                and 2 <= distinct[period] <= min(PANEL_MAX_PERIODS, distinct[unit] - 1)
                and not features.duplicated([unit, period]).any()
            ):
                found.append((str(unit), str(period)))
                break
    return found


# Free text: values of this many words on average (titles, descriptions, job titles);
# fewer, and many levels are codes or names (cities, products): target-encoded.
TEXT_MIN_WORDS = 2.0
TEXT, MANY_LEVELS = "text", "many_levels"


def text_encodings(features: pd.DataFrame, max_categories: int | None) -> dict[str, str]:
    """How the model reads each text column with more levels than one-hot keeps
    (`features.max_categories`): TEXT (its words) or MANY_LEVELS (each level's effect on
    the target, cross-fitted). Columns not named keep one-hot or native categories."""
    if max_categories is None:
        return {}
    found = {}
    for name in features.columns:
        column = features[name]
        if not is_text(column) or column.nunique() <= max_categories:
            continue
        words = column.dropna().astype(str).str.split().str.len().mean()
        found[str(name)] = TEXT if words >= TEXT_MIN_WORDS else MANY_LEVELS
    return found
