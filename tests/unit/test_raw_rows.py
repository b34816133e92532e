"""The raw-row contract, cell by cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.raw_rows import (
    BadCells,
    RawRows,
    as_numbers,
    as_text,
    date_parts,
)
from mlops_template.core.raw_tables import conform_frame, duplicate_names
from mlops_template.core.shares import percent
from mlops_template.core.target import describe_classes


def conform(frame, **policy):
    settings = {"infinity": "error", "non_numeric": "error", "share": 0.9}
    return conform_frame(frame, **{**settings, **policy})


def test_missing_spellings_and_booleans():
    values = pd.Series(["", "NA", "n/a", "null", "None", "x", " NA", None, np.nan])
    assert as_text(values).isna().tolist() == [True] * 5 + [False, False, True, True]
    flags = pd.Series([True, "true", "TRUE", "False", None])
    assert as_text(flags, boolean=True).tolist()[:4] == ["True", "True", "True", "False"]


def test_a_mapping_or_list_in_a_text_cell_is_refused():
    """Nested JSON in a REST request: its Python text would be a category of its own."""
    nested = pd.Series(["basic", {"a": 1}, ["x"], None], name="plan", dtype=object)
    with pytest.raises(BadCells, match=r"column 'plan': 2 values are not text, numbers or"):
        as_text(nested)
    beside_a_number = pd.Series([7, {"a": "x" * 500}], name="plan", dtype=object)
    with pytest.raises(BadCells, match=r"1 values are not .*, e.g. \{'a': 'x{40,}\.\.\.$"):
        as_text(beside_a_number)  # a long one shortened
    mixed = pd.Series(["basic", 1, 2.5, True, None], name="plan", dtype=object)
    assert as_text(mixed).tolist()[:4] == ["basic", "1", "2.5", "True"]


def test_numbers_from_text_and_infinity_by_policy():
    assert as_numbers(pd.Series(["1.5", "", "NA", 2]), "x").tolist()[::3] == [1.5, 2.0]
    with pytest.raises(BadCells, match=r"column 'x': 1 values are not numbers, e.g. \['abc'\]"):
        as_numbers(pd.Series(["1", "abc"]), "x")
    with pytest.raises(BadCells, match=r"column 'x': 1 infinite values .* read\.infinity=missing"):
        as_numbers(pd.Series([1.0, np.inf]), "x")
    assert np.isnan(as_numbers(pd.Series([1.0, -np.inf]), "x", infinity="missing")[1])


def test_a_few_text_cells_in_numbers_are_refused_or_missing_by_policy():
    frame = pd.DataFrame({"a": [str(i) for i in range(30)] + ["?", "unknown"]})
    with pytest.raises(BadCells, match=r"column 'a': 2 of its values are not numbers .* 93\.8%"):
        conform(frame)
    read, notes = conform(frame, non_numeric="missing")
    assert read["a"].dtype == "float64" and read["a"].isna().sum() == 2
    assert notes == [
        "column 'a': 2 values that are not numbers, e.g. ['?', 'unknown'], read as missing"
    ]
    text = pd.DataFrame({"a": ["red", "blue", "12"] * 10})  # mostly text: a text column
    assert conform(text)[0]["a"].tolist()[:3] == ["red", "blue", "12"]


def test_a_share_short_of_all_is_never_printed_as_all():
    """4 text cells in 20,765 (rows of a file read wrongly): 99.98% are numbers, not 100.0%."""
    frame = pd.DataFrame({"rownames": [str(i) for i in range(20_761)] + ["a", "b", "c", "d"]})
    with pytest.raises(BadCells, match=r"4 of its values are not numbers though 99\.98% are"):
        conform(frame)
    assert [percent(s) for s in (0.9998, 0.00002, 0.5, 1.0, 0.0, 0.99949)] == [
        "99.98%",
        "0.002%",
        "50.0%",
        "100.0%",
        "0.0%",
        "99.9%",
    ]
    assert percent(1 - 1e-9, 0) == "99.9999999%"
    assert describe_classes({"a": 99_999, "b": 1}) == "a: 99999 (99.999%), b: 1 (0.001%)"


def test_duplicate_names():
    assert duplicate_names(["a", "b", "a", "c", "b"]) == ["a", "b"]
    assert duplicate_names(["a", "b"]) == []


def test_dates_are_numbers_the_model_can_use_on_future_dates():
    text = pd.Series(["2024-03-05", "2024-03-05T12:00:00Z", "2031-12-31T23:00:00+01:00", "NA"])
    parts = date_parts(text, "d")
    assert parts["d_year"].tolist()[:3] == [2024, 2024, 2031] and np.isnan(parts["d_year"][3])
    assert parts["d_weekday"][0] == 1  # a Tuesday
    assert parts["d_days"][1] - parts["d_days"][0] == 0.5
    assert parts["d_days"][2] == (pd.Timestamp("2031-12-31T22:00") - pd.Timestamp(0)).days + 22 / 24
    # Text and timestamps of the same instants give the same floats.
    stamps = pd.Series(pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce"))
    for key, values in date_parts(stamps, "d").items():
        pd.testing.assert_series_equal(values, parts[key])
    with pytest.raises(BadCells, match=r"column 'd': 1 values are not ISO 8601 dates"):
        date_parts(pd.Series(["2024-03-05", "5 March"]), "d")


def test_dates_in_training_data_by_policy():
    frame = pd.DataFrame({"d": ["2024-01-01", "2024-02-01", ""], "y": [1, 2, 3]})
    read, _ = conform(frame)
    assert str(read["d"].dtype) == "datetime64[us]" and read["d"].isna().tolist()[2]
    with pytest.raises(BadCells, match=r"column 'd' holds dates; set read\.dates=features"):
        conform(frame, dates="error")


def test_the_model_step_reads_left_out_columns_as_missing():
    rows = RawRows(("n",), ("c",), dates=("d",)).fit(None)
    out = rows.transform(pd.DataFrame({"c": ["x"]}))
    assert list(out.columns) == [
        "n",
        *[f"d_{p}" for p in ("year", "month", "day", "weekday", "days")],
        "c",
    ]
    assert out.drop(columns="c").isna().all(axis=None) and out["c"].tolist() == ["x"]
    assert list(rows.get_feature_names_out()) == list(out.columns)
