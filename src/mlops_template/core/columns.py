"""What a feature column is, one view for every stage: its kind (validate's report and the
model's schema agree), and whether it identifies rows rather than describes them."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd

from mlops_template.core.table_facts import TableFacts, as_facts
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


def column_kind(column: Any) -> Kind:
    """Dates (reaching the model as numbers, core/raw_rows.py), categories (text, booleans,
    pandas categoricals: encoded), or numbers. Of a column or its dtype."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return "date"
    return "categorical" if is_categorical(column) else "numeric"


def is_text(dtype: Any) -> bool:
    return column_kind(dtype) == "categorical" and not pd.api.types.is_bool_dtype(dtype)


def is_integer(dtype: Any) -> bool:
    return pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def is_unique(facts: TableFacts, name: Any) -> bool:
    """A different value in (nearly) every row that has one: a few repeats (rows added
    twice, a batch numbered from 1 again) do not turn an identifier into a feature."""
    present = facts.rows - facts.missing(name)
    return present >= IDENTIFIER_MIN_ROWS and (
        facts.distinct(name) >= IDENTIFIER_DISTINCT_SHARE * present
    )


def is_counter(facts: TableFacts, name: Any) -> bool:
    """Integers as a row counter gives them: close together (spread over at most
    IDENTIFIER_SPAN times the rows that have one)."""
    if not is_integer(facts.dtype(name)):
        return False
    return facts.span(name) <= IDENTIFIER_SPAN * (facts.rows - facts.missing(name))


def identifier_columns(table: pd.DataFrame | TableFacts, columns: list[Any]) -> list[str]:
    """Columns with a different value in (nearly) every row that name the row rather than
    describe it: row numbers and codes. A model memorises them (a row number that follows the
    target's order scores perfectly on a random split, and means nothing on new rows)."""
    facts = as_facts(table)
    if facts.rows < IDENTIFIER_MIN_ROWS:
        return []
    unique = [
        c
        for c in columns
        if (is_integer(facts.dtype(c)) or is_text(facts.dtype(c))) and is_unique(facts, c)
    ]
    # Text with whitespace inside most values: words, not codes.
    wordy = facts.wordy_shares([c for c in unique if is_text(facts.dtype(c))])
    return [
        str(c)
        for c in unique
        if is_counter(facts, c) or (c in wordy and not wordy[c] > IDENTIFIER_WORDY_SHARE)
    ]


def panel_units(table: pd.DataFrame | TableFacts, columns: list[Any]) -> list[tuple[str, str]]:
    """(unit, period) column pairs where the unit repeats and the two together identify
    every row: a person observed per year. Split on the unit (split.key), or the same
    person lands on both sides of the split and the test set flatters the model."""
    facts = as_facts(table)
    rows = facts.rows
    if rows < IDENTIFIER_MIN_ROWS:
        return []
    kinds = {c: column_kind(facts.dtype(c)) for c in columns}
    countable = [
        c
        for c in columns
        if is_text(facts.dtype(c)) or is_integer(facts.dtype(c)) or kinds[c] == "date"
    ]
    distinct = {c: facts.levels(c) for c in countable}
    units = [
        c for c in countable if kinds[c] != "date" and PANEL_MIN_UNITS <= distinct[c] <= rows // 2
    ]
    # Periods are counted (years, waves), named or dated, and fewer than the units.
    candidates = {
        unit: [
            period
            for period in countable
            if period != unit
            and 2 <= distinct[period] <= min(PANEL_MAX_PERIODS, distinct[unit] - 1)
        ]
        for unit in units
    }
    periods = facts.first_unique_pairs({u: p for u, p in candidates.items() if p})
    return [(str(unit), str(periods[unit])) for unit in units if unit in periods]


# Free text: values of this many words on average (titles, descriptions, job titles);
# fewer, and many levels are codes or names (cities, products): target-encoded.
TEXT_MIN_WORDS = 2.0
TEXT, MANY_LEVELS = "text", "many_levels"


def text_encodings(
    table: pd.DataFrame | TableFacts, columns: list[Any], max_categories: int | None
) -> dict[str, str]:
    """How the model reads each text column with more levels than one-hot keeps
    (`features.max_categories`): TEXT (its words) or MANY_LEVELS (each level's effect on
    the target, cross-fitted). Columns not named keep one-hot or native categories."""
    if max_categories is None:
        return {}
    facts = as_facts(table)
    many = [c for c in columns if is_text(facts.dtype(c)) and facts.distinct(c) > max_categories]
    words = facts.mean_words(many)
    return {str(c): TEXT if words[c] >= TEXT_MIN_WORDS else MANY_LEVELS for c in many}
