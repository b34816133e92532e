"""The contract decided from facts merged across chunks of rows (core/raw_facts.py): any
cut of a table into chunks gives the plan, the notes, the refusal and the rows that the
whole table gives (raw_tables.conform_frame), as Spark's partitions must."""

from __future__ import annotations

from functools import reduce

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.raw_facts import (
    BOOLEAN,
    DATES,
    TEXT_NUMBERS,
    ColumnFacts,
    Facts,
    chunk_facts,
    decide,
)
from mlops_template.core.raw_rows import BadCells
from mlops_template.core.raw_tables import apply, conform_frame, text_as_str

N = 60
WORDS = [f"word{i}" for i in range(N)]


def numbers(**cells: str) -> list[str]:
    out = [str(i) for i in range(N)]
    for at, cell in cells.items():
        out[int(at[1:])] = cell
    return out


TABLES = {
    "tokens": {"a": ["x", "NA", "", None, "n/a", "y"] * 10},
    "numbers with bad cells": {"a": numbers(r5="?", r50="unknown")},
    "numbers, a chunk of words": {"a": numbers()[:40] + WORDS[:20]},
    "numbers with infinity": {"a": numbers(r3="?", r59="-Infinity"), "b": [1.5, np.inf] * 30},
    "dates, then text": {"d": ["2024-01-01"] * 50 + ["soon"] * 10},
    "dates, a wrong one last": {"d": ["2024-01-01T10:00:00Z"] * 58 + ["2024-02-30", ""]},
    "booleans in chunks": {"f": ["true", "", "FALSE"] * 19 + ["False", "TRUE", "tRuE"]},
    "seven spellings": {"f": ["true"] * 54 + ["false", "True", "False", "TRUE", "FALSE", "tRue"]},
    "mixed objects": {"m": pd.Series([1, "a", 2.5, None] * 15, dtype=object)},
    "timestamps": {"t": pd.date_range("2024-01-01", periods=N, freq="h", tz="Europe/Paris")},
    "refusals in column order": {"x": numbers(r7="bad"), "d": ["2024-01-01", "x"] * 30},
}
POLICIES = [
    {"infinity": i, "non_numeric": n, "share": s, "dates": d}
    for i in ("error", "missing")
    for n in ("error", "missing")
    for s in (0.9, 0.6)
    for d in ("features", "error")
]


def outcome(read, *args, **policy):
    try:
        frame, notes = read(*args, **policy)
    except BadCells as err:
        return str(err)
    return frame.reset_index(drop=True), notes


def in_chunks(frame: pd.DataFrame, cuts: list[int], policy: dict):
    chunks = [frame.iloc[a:b] for a, b in zip([0, *cuts], [*cuts, len(frame)], strict=True)]
    facts = reduce(Facts.merged, [chunk_facts(c) for c in chunks])
    if uncounted := facts.uncounted():
        exact = [chunk_facts(c[uncounted], exact=True) for c in chunks]
        facts = facts.recounted(reduce(Facts.merged, exact))
    plan = decide(facts, **policy)
    return pd.concat([apply(plan, c) for c in chunks]), plan.notes


@pytest.mark.parametrize("name", TABLES)
def test_any_cut_into_chunks_reads_as_the_whole(name):
    frame = pd.DataFrame(TABLES[name])
    rng = np.random.default_rng(len(name))
    for policy in POLICIES:
        whole = outcome(conform_frame, frame, **policy)
        if not isinstance(whole, str):
            whole = (text_as_str(whole[0]), whole[1])
        for cuts in ([], [40], sorted(rng.choice(N, 3, replace=False))):
            chunked = outcome(in_chunks, frame, list(cuts), policy)
            if isinstance(whole, str) or isinstance(chunked, str):
                assert chunked == whole, (policy, cuts)
            else:
                pd.testing.assert_frame_equal(chunked[0], whole[0])
                assert chunked[1] == whole[1]


def test_facts_merge_counts_and_keep_the_smallest_examples():
    first = chunk_facts(pd.DataFrame({"a": numbers(r1="zeta", r2="beta")}))
    second = chunk_facts(pd.DataFrame({"a": numbers(r1="alpha", r2="beta", r3="inf")}))
    merged = first.merged(second).columns["a"]
    assert (merged.present, merged.unread, merged.bad, merged.infinite) == (120, 4, 4, 1)
    assert merged.bad_examples == ("alpha", "beta", "zeta")
    assert first.merged(second).rows == 120


def test_a_chunk_of_words_is_not_counted_until_it_matters():
    words = chunk_facts(pd.DataFrame({"a": WORDS[:10]})).columns["a"]
    assert (words.unread, words.bad, words.number_share()) == (10, None, 0.0)
    digits = chunk_facts(pd.DataFrame({"a": numbers()}))
    merged = Facts(10, {"a": words}).merged(digits)
    assert merged.uncounted() == ["a"]  # 10 in 70 unread: are they numbers?
    with pytest.raises(ValueError, match="did not count"):
        decide(merged, infinity="error", non_numeric="error", share=0.8)
    exact = chunk_facts(pd.DataFrame({"a": WORDS[:10]}), exact=True).merged(digits)
    assert merged.recounted(exact).columns["a"].bad == 10


def test_distinct_values_are_kept_to_seven():
    spellings = ["true", "false", "True", "False", "TRUE", "FALSE", "tRue", "fAlse"]
    parts = [chunk_facts(pd.DataFrame({"f": spellings[i : i + 3]})) for i in (0, 3, 6)]
    merged = reduce(Facts.merged, parts).columns["f"]
    assert merged.distinct == tuple(spellings[:7])
    six = reduce(Facts.merged, [chunk_facts(pd.DataFrame({"f": spellings[:6]}))] * 2)
    assert decide(six, infinity="error", non_numeric="error", share=0.9).steps == {"f": BOOLEAN}


def test_the_plan_names_what_each_column_becomes_and_the_notes():
    frame = pd.DataFrame(
        {
            "d": ["2024-01-01", "NA"] * 30,
            "a": numbers(r0="?"),
            "b": [1.0, np.inf] * 30,
            "n": range(N),
        }
    )
    plan = decide(chunk_facts(frame), infinity="missing", non_numeric="missing", share=0.9)
    assert plan.steps == {"d": DATES, "a": TEXT_NUMBERS, "b": "numbers"}
    assert plan.notes == [
        "column 'a': 1 values that are not numbers, e.g. ['?'], read as missing",
        "column 'b': infinite values read as missing",
    ]
    empty = apply(plan, frame.iloc[:0])  # the dtypes of any chunk, with no rows
    assert empty.dtypes.to_dict() == apply(plan, frame).dtypes.to_dict()


def test_facts_of_different_kinds_do_not_merge():
    with pytest.raises(ValueError, match="read as numeric in one chunk, text in another"):
        ColumnFacts("numeric").merged(ColumnFacts("text"))
