"""core/columns.py: which columns name rows, and how text with many levels is read."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_template.core.columns import (
    MANY_LEVELS,
    TEXT,
    column_kind,
    identifier_columns,
    panel_units,
    text_encodings,
)

N = 200


def test_row_numbers_and_codes_are_identifiers_measurements_and_words_are_not():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "rownames": np.arange(1, N + 1),  # a counter
            "sampled_rows": np.sort(rng.choice(5 * N, N, replace=False)),  # a tenth kept
            "code": [f"C-{i:04d}" for i in rng.permutation(N)],
            "price_cents": rng.choice(10_000_000, N, replace=False),  # spread far wider
            "title": [f"a painting of {i} ships" for i in range(N)],  # unique, but words
            "spend": rng.normal(size=N),  # unique floats
            "plan": rng.choice(["a", "b"], N),
            "flag": [True, False] * (N // 2),
        }
    )
    assert identifier_columns(frame, list(frame.columns)) == ["rownames", "sampled_rows", "code"]
    assert identifier_columns(frame.head(19), list(frame.columns)) == []  # too few rows to say


def test_a_column_has_one_kind():
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=3),
            "flag": [True, False, True],
            "n": [1, 2, 3],
            "text": ["a", "b", None],
        }
    )
    kinds = [column_kind(frame[c]) for c in frame.columns]
    assert kinds == ["date", "categorical", "numeric", "categorical"]


def test_a_unit_over_periods_is_a_panel_and_ordinary_columns_are_not():
    rng = np.random.default_rng(1)
    people = np.repeat([f"p{i}" for i in range(50)], 4)
    frame = pd.DataFrame(
        {
            "person": people,
            "year": np.tile([2001, 2002, 2003, 2004], 50),
            "region": rng.choice(["n", "s", "e", "w"], N),
            "income": rng.normal(size=N),
        }
    )
    assert panel_units(frame, list(frame.columns)) == [("person", "year")]
    # A person seen twice in one year is not a panel by person and year.
    frame.loc[1, "year"] = 2001
    assert panel_units(frame, list(frame.columns)) == []


def test_many_levels_read_by_effect_and_free_text_by_words():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "city": [f"city{i}" for i in rng.integers(0, 60, N)],
            "notes": [" ".join(rng.choice(["late", "refund", "new", "card"], 3)) for _ in range(N)],
            "plan": rng.choice(["basic", "pro"], N),  # within one-hot's cap
            "visits": rng.integers(0, 100, N),
        }
    )
    frame.loc[::7, "notes"] = None
    assert text_encodings(frame, list(frame.columns), 20) == {"city": MANY_LEVELS, "notes": TEXT}
    assert text_encodings(frame, list(frame.columns), 100) == {}  # one-hot keeps them all
    assert text_encodings(frame, list(frame.columns), None) == {}  # no cap: one-hot, as configured


def test_identifiers_with_gaps_repeats_or_nullable_types_are_still_identifiers():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "code": pd.Series([f"C-{i}" for i in range(N)], dtype="str"),
            "row": pd.array(np.arange(N), dtype="Int64"),  # pandas' nullable integers
            "plan": rng.choice(["a", "b"], N),
        }
    )
    frame.loc[[3, 9], ["code", "row"]] = None  # two missing: no value, not a repeat
    frame.loc[N - 5 :, "row"] = np.arange(5)  # a batch numbered from 0 again
    assert identifier_columns(frame, list(frame.columns)) == ["code", "row"]
    frame["row"] = np.arange(N) % (N // 2)  # every number twice: a unit, not a row
    assert identifier_columns(frame, list(frame.columns)) == ["code"]
