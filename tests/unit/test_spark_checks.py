"""io/spark_checks.py: validate's report on Spark equals the pandas engine's, field for
field and word for word, for the tables the checks decide on (each written as collect
writes it, and read back by each engine)."""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Validate
from mlops_template.config.base import Engine
from mlops_template.config.data import SyntheticData
from mlops_template.core.dataset_checks import check_dataset, check_table
from mlops_template.core.synthetic import generate
from mlops_template.errors import PipelineError
from mlops_template.io.atomic import write_parquet
from mlops_template.io.parquet_chunks import pandas_dtypes
from mlops_template.io.parquet_facts import ParquetFacts
from mlops_template.io.spark_checks import INSIDE, WHITESPACE, WORD, check_spark_dataset

pytest.importorskip("pyspark")

N = 200


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from mlops_template.io.spark_tables import data_session

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("spark"))  # the JVM's log: reports/spark/
        session = data_session(
            Engine(name="spark", spark={"master": "local[2]", "conf": {}}), "test"
        )
        # Read as pandas reads: 'Churn' and 'churn' are two columns (as validate reads).
        session.conf.set("spark.sql.caseSensitive", "true")
        yield session
        session.stop()


def outcome(check) -> Any:
    try:
        return check().as_json()
    except PipelineError as err:
        return f"PipelineError: {err}"


def both(
    spark,
    tmp_path: Path,
    frame: pd.DataFrame,
    target: str = "y",
    *,
    task: str = "auto",
    key: str | None = None,
    max_categories: int | None = 20,
    **settings,
) -> Any:
    """The report (or error) of `frame` as collect writes it, from the frame in memory,
    asserted equal to the file read a column at a time and to the Spark engine's."""
    path = tmp_path / "raw.parquet"
    write_parquet(path, frame)
    validate = Validate(**{"min_rows": 2, "max_classes": 20, **settings})
    how = {"requested_task": task, "source": "data.csv", "key": key}
    how["max_categories"] = max_categories
    on_pandas = outcome(lambda: check_dataset(pd.read_parquet(path), target, validate, **how))
    by_column = outcome(lambda: check_table(ParquetFacts(path), target, validate, **how))
    assert by_column == on_pandas  # validate's pandas engine reads the file a column at a time
    table = spark.read.parquet(str(path))
    dtypes = pandas_dtypes(path)
    on_spark = outcome(lambda: check_spark_dataset(table, dtypes, target, validate, **how))
    assert on_spark == on_pandas
    return on_pandas


def repeated(counts: dict[Any, int], seed: int = 0) -> np.ndarray:
    values = np.repeat(list(counts), list(counts.values()))
    return np.random.default_rng(seed).permutation(values)


def with_target(y: Any, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=len(y)), "y": y})


POISSON_COUNTS = {0: 135, 1: 271, 2: 271, 3: 180, 4: 90, 5: 36, 6: 12, 7: 3, 8: 1, 9: 1}


TARGETS = {
    "text": repeated({"a": 30, "b": 20, "c": 3}).astype(object),
    "text with gaps": pd.Series(["b", "a", "b", "b", None, "a"] * 5, dtype="str"),
    "boolean": repeated({True: 30, False: 12}),
    "nullable boolean": pd.array([True, False, None, True] * 10, dtype="boolean"),
    "two integers": repeated({0: 212, 1: 357}),
    "three integers": repeated({0: 59, 1: 71, 2: 48}),
    "bell-shaped rating": repeated({1: 50, 2: 200, 3: 500, 4: 200, 5: 50}),
    "integers with gaps": pd.array(repeated({0: 59, 1: 71, 2: 48}), dtype="Int64"),
    "fractions": np.linspace(0.5, 9.5, 60),
    "many integers": np.arange(60) % 30,
    "counts": repeated(POISSON_COUNTS),
    "counts as floats with gaps": np.where(
        np.arange(1000) % 17 == 0, np.nan, repeated(POISSON_COUNTS).astype(float)
    ),
    "negative integers": repeated({-2: 300, -1: 200, 0: 100, 1: 50, 2: 20}),
    "geometric": repeated({k: 512 >> k for k in range(9)}),
    "categories": pd.Categorical(repeated({"a": 30, "b": 20, "c": 4})),
}


@pytest.mark.parametrize("name", TARGETS)
def test_targets_give_the_same_task_and_classes(spark, tmp_path, name):
    report = both(spark, tmp_path, with_target(TARGETS[name]))
    assert isinstance(report, dict), report


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_task_set_in_config(spark, tmp_path, task):
    both(spark, tmp_path, with_target(np.linspace(0.5, 2.5, 40).round()), task=task)
    both(spark, tmp_path, with_target(repeated({"a": 20, "b": 20})), task=task)


def test_rows_without_a_target_too_few_labelled_and_no_labels(spark, tmp_path):
    frame = with_target(np.where(np.arange(40) % 3 == 0, np.nan, np.arange(40) % 2))
    assert both(spark, tmp_path, frame)["n_rows_without_target"] == 14
    assert "fewer than validate.min_rows=30" in both(spark, tmp_path, frame, min_rows=30)
    assert "the data set is empty" not in both(spark, tmp_path, frame.assign(y=np.nan))


def test_rare_classes_tied_are_listed_in_the_same_order(spark, tmp_path):
    counts = {"big": 1000, **{f"c{i:02d}": 3 for i in np.random.default_rng(1).permutation(29)}}
    report = both(spark, tmp_path, with_target(repeated(counts).astype(object)))
    assert "rare classes" in report["warnings"][0]


def test_ties_keep_the_files_order_across_partitions(spark, tmp_path):
    """Classes tied in rows are listed as their values first appear in the file, which
    Spark reads in many partitions when its row groups are many."""
    counts = {"big": 3000, **{f"c{i:02d}": 3 for i in range(29)}}
    y = repeated(counts, seed=5).astype(object)
    path = tmp_path / "raw.parquet"
    with_target(y).to_parquet(path, index=False, row_group_size=100)
    validate = Validate(min_rows=2, max_classes=20)
    how = {"requested_task": "auto", "source": "data.csv"}
    expected = check_dataset(pd.read_parquet(path), "y", validate, **how).as_json()
    before = spark.conf.get("spark.sql.files.maxPartitionBytes")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    try:
        from pyspark.sql import functions as F

        table = spark.read.parquet(str(path))
        assert table.select(F.spark_partition_id()).distinct().count() > 5
        got = check_spark_dataset(table, pandas_dtypes(path), "y", validate, **how).as_json()
    finally:
        spark.conf.set("spark.sql.files.maxPartitionBytes", before)
    assert got == expected
    assert expected["warnings"][0].startswith("rare classes ")


def test_identifiers_codes_and_words(spark, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "rownames": np.arange(1, N + 1),
            "sampled_rows": np.sort(rng.choice(5 * N, N, replace=False)),
            "code": [f"C-{i:04d}" for i in rng.permutation(N)],
            "price_cents": rng.choice(10_000_000, N, replace=False),
            "title": [f"a painting of {i} ships" for i in range(N)],
            "spend": rng.normal(size=N),
            "plan": rng.choice(["a", "b"], N),
            "flag": [True, False] * (N // 2),
            "y": rng.choice([0, 1], N),
        }
    )
    report = both(spark, tmp_path, frame)
    assert report["identifiers"] == ["rownames", "sampled_rows", "code"]
    assert "title" in report["features"]
    both(spark, tmp_path, frame, identifiers="keep")
    both(spark, tmp_path, frame, key="code")
    both(spark, tmp_path, frame.head(19))  # too few rows to say


def test_identifiers_with_gaps_repeats_and_nullable_types(spark, tmp_path):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "code": pd.Series([f"C-{i}" for i in range(N)], dtype="str"),
            "row": pd.array(np.arange(N), dtype="Int64"),
            "plan": rng.choice(["a", "b"], N),
            "y": rng.choice(["u", "v"], N),
        }
    )
    frame.loc[[3, 9], ["code", "row"]] = None
    frame.loc[N - 5 :, "row"] = np.arange(5)
    assert both(spark, tmp_path, frame)["identifiers"] == ["code", "row"]
    frame["row"] = np.arange(N) % (N // 2)
    assert both(spark, tmp_path, frame)["identifiers"] == ["code"]


# Whitespace as Python has it, beyond ASCII: inside a code (words, not a code), around it
# (stripped: still a code), and between words; and characters that are not whitespace.
UNICODE_TEXT = {
    "nbsp inside": lambda i: f"C\xa0{i}",
    "ideographic around": lambda i: f"\u3000C{i}\u3000",
    "line separator inside": lambda i: f"C\u2028{i}",
    "em spaces between words": lambda i: f"w{i}\u2003v{i}\u2003u",
    "unit separator inside": lambda i: f"C\x1f{i}",
    "zero width space inside": lambda i: f"C\u200b{i}",
    "byte order mark inside": lambda i: f"C\ufeff{i}",
    "vertical tab around": lambda i: f"\x0bC{i}\x0b",
    "next line inside": lambda i: f"C\x85{i}",
    "astral": lambda i: f"\U0001f600{i}\U0001f600 \U00010348",
}


@pytest.mark.parametrize("name", UNICODE_TEXT)
def test_unicode_whitespace_reads_as_in_pandas(spark, tmp_path, name):
    frame = pd.DataFrame(
        {
            "text": [UNICODE_TEXT[name](i) for i in range(N)],
            "y": [0, 1] * (N // 2),
        }
    )
    both(spark, tmp_path, frame)
    both(spark, tmp_path, frame.assign(text=frame["text"].str.slice(0, 3)))  # many levels


def test_whitespace_is_pythons_and_pandas(spark):
    """pandas' strip, \\s and \\S are Python's whitespace; Spark's patterns match each
    character as they do."""
    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert "".join(c for c in every if c.isspace()) == WHITESPACE
    text = pd.Series(every).astype(str)
    assert (text.str.strip() == "").tolist() == [c.isspace() for c in every]
    assert text.str.contains(r"\s", regex=True).tolist() == [c.isspace() for c in every]
    assert text.str.count(r"\S+").tolist() == [int(not c.isspace()) for c in every]
    from pyspark.sql import functions as F

    near = [
        c for c in every if c.isspace() or unicodedata.category(c) in {"Zs", "Zl", "Zp", "Cc", "Cf"}
    ]
    cells = lambda c: [f"{c}a{c}", f"a{c}b", f"a{c}{c}b{c}c", c, "\U0001f600" + c]  # noqa: E731
    rows = pd.DataFrame({"s": [cell for c in near for cell in cells(c)]}, dtype="str")
    table = spark.createDataFrame(rows).select(
        F.col("s").rlike(INSIDE).alias("inside"),
        F.regexp_count("s", F.lit(WORD)).alias("words"),
    )
    got = table.toPandas()
    assert got["inside"].tolist() == rows["s"].str.strip().str.contains(r"\s").tolist()
    assert got["words"].tolist() == rows["s"].str.count(r"\S+").tolist()


def test_a_panel(spark, tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "person": np.repeat([f"p{i}" for i in range(50)], 4),
            "year": np.tile([2001, 2002, 2003, 2004], 50),
            "region": rng.choice(["n", "s", "e", "w"], N),
            "income": rng.normal(size=N),
            "y": rng.choice([0, 1], N),
        }
    )
    assert both(spark, tmp_path, frame)["warnings"][0].startswith("columns 'person' and 'year'")
    both(spark, tmp_path, frame, key="person")
    frame.loc[1, "year"] = 2001  # a person twice in one year: no panel
    assert both(spark, tmp_path, frame)["warnings"] == []
    dated = frame.assign(year=pd.to_datetime(frame["year"].astype(str) + "-06-30"))
    dated.loc[7, "year"] = pd.NaT
    both(spark, tmp_path, dated)


def test_a_panel_found_a_pair_per_pass(spark, tmp_path, monkeypatch):
    """Pairs asked about a pass at a time: the first pair that identifies the rows is
    the one pandas finds, after one that does not."""
    from mlops_template.io import spark_checks

    monkeypatch.setattr(spark_checks, "PAIRS_PER_PASS", 1)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "person": np.repeat([f"p{i}" for i in range(50)], 4),
            "region": rng.choice(["n", "s", "e", "w"], N),  # asked about first: repeats
            "year": np.tile([2001, 2002, 2003, 2004], 50),
            "y": rng.choice([0, 1], N),
        }
    )
    assert both(spark, tmp_path, frame)["warnings"][0].startswith("columns 'person' and 'year'")


def test_many_levels_and_free_text(spark, tmp_path):
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(
        {
            "city": [f"city{i}" for i in rng.integers(0, 60, N)],
            "notes": [" ".join(rng.choice(["late", "refund", "new", "card"], 3)) for _ in range(N)],
            "plan": rng.choice(["basic", "pro"], N),
            "visits": rng.integers(0, 100, N),
            "y": rng.choice(["a", "b"], N),
        }
    )
    frame.loc[::7, "notes"] = None
    report = both(spark, tmp_path, frame)
    assert report["encodings"] == {"city": "many_levels", "notes": "text"}
    both(spark, tmp_path, frame, max_categories=100)
    both(spark, tmp_path, frame, max_categories=None)
    both(spark, tmp_path, frame.astype({"city": "category"}))


def test_dates_booleans_and_missing_values(spark, tmp_path):
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(
        {
            "when": pd.date_range("2024-01-01", periods=N, freq="h"),
            "day": pd.date_range("2024-01-01", periods=N, freq="D", tz="Europe/Paris"),
            "flag": pd.array(rng.choice([True, False], N), dtype="boolean"),
            "count": pd.array(rng.integers(0, 5, N), dtype="Int64"),
            "amount": rng.normal(size=N),
            "label": pd.Series(rng.choice(["x", "y z"], N), dtype="str"),
            "y": rng.choice([0, 1], N),
        }
    )
    for i, name in enumerate(frame.columns[:-1]):
        frame.loc[rng.random(N) < 0.05 * (i + 1), name] = None
    report = both(spark, tmp_path, frame)
    assert set(report["missing"]) == set(frame.columns[:-1])
    assert report["dates"] == ["when", "day"]


def test_columns_of_one_value(spark, tmp_path):
    """A column of one value in every row (a year the data was cut to) is named with the
    fix, of every type; one missing value or one other value is information."""
    rng = np.random.default_rng(5)
    one = {
        "year": np.full(N, 2013),
        "rate": np.full(N, 0.5),
        "city": pd.Series(["Oslo"] * N, dtype="str"),
        "flag": np.full(N, True),
        "day": pd.Series(pd.Timestamp("2024-01-01"), index=range(N)),
    }
    frame = pd.DataFrame({**one, "y": rng.choice([0, 1], N)})
    frame["one_missing"], frame["one_other"] = 1.0, "a"
    frame.loc[3, "one_missing"], frame.loc[4, "one_other"] = None, "b"
    report = both(spark, tmp_path, frame)
    assert [w.split("'")[1] for w in report["warnings"] if "same value" in w] == list(one)
    assert report["features"] == [*one, "one_missing", "one_other"]  # kept: warned only


def test_synthetic_tables(spark, tmp_path):
    common = {"source": "synthetic", "target": "y", "watch": "uv.lock", "seed": 3}
    common |= {"n_rows": 3000, "n_numeric": 4}
    for cfg in [
        SyntheticData(task="classification", n_categorical=2, n_levels=50, text=True, **common),
        SyntheticData(task="classification", n_categorical=2, missing_rate=0.1, **common),
        SyntheticData(task="regression", n_categorical=1, n_levels=300, text=True, **common),
    ]:
        both(spark, tmp_path, generate(cfg))


@pytest.mark.parametrize("target", ["y", "n", "f"])
def test_the_facts_themselves_are_equal(spark, tmp_path, target):
    """Not only the decisions: the facts (word means to the bit, value counts with their
    order, dtype and index) are the same on both engines, and read a column at a time."""
    from mlops_template.core.columns import is_integer, is_text
    from mlops_template.core.table_facts import FrameFacts
    from mlops_template.io.spark_checks import SparkFacts

    cfg = {"source": "synthetic", "target": "y", "watch": "uv.lock", "seed": 4, "n_rows": 2000}
    cfg |= {"n_numeric": 2, "n_categorical": 2, "n_levels": 40, "text": True, "missing_rate": 0.05}
    rng = np.random.default_rng(4)
    frame = generate(SyntheticData(task="classification", **cfg)).assign(
        n=pd.array(rng.poisson(2, 2000), dtype="Int64"), f=rng.poisson(3, 2000) * 1.0
    )
    frame.loc[::11, ["n", "f"]] = None
    path = tmp_path / "raw.parquet"
    write_parquet(path, frame)
    pandas = FrameFacts(pd.read_parquet(path))
    on_spark = SparkFacts(spark.read.parquet(str(path)), pandas_dtypes(path), target, None)
    texts = [c for c in pandas.columns if is_text(pandas.dtype(c))]
    for other in (on_spark, ParquetFacts(path)):  # Spark's, and the file's a column at a time
        assert other.rows == pandas.rows
        assert other.wordy_shares(texts) == pandas.wordy_shares(texts)
        assert other.mean_words(texts) == pandas.mean_words(texts)
        for name in [c for c in pandas.columns if c != target]:
            assert other.dtype(name) == pandas.dtype(name)
            assert other.missing(name) == pandas.missing(name)
            if is_text(pandas.dtype(name)) or is_integer(pandas.dtype(name)):
                assert other.distinct(name) == pandas.distinct(name)
                assert other.levels(name) == pandas.levels(name)
            if is_integer(pandas.dtype(name)):
                assert other.span(name) == pandas.span(name)
        y, expected = other.target(target), pandas.target(target)
        assert (y.labelled, y.distinct) == (expected.labelled, expected.distinct)
        if target != "y":
            assert y.bounds == expected.bounds and y.whole == expected.whole
        pd.testing.assert_series_equal(y.counts, expected.counts)


def churn_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"tenure": rng.normal(size=n), "churn": np.array([0, 1] * (n // 2))})


@pytest.mark.parametrize(
    "copy",
    [
        lambda y: y,
        lambda y: y.astype(float),
        lambda y: y.map({0: "no", 1: "yes"}),
        lambda y: y.map({0: "no", 1: None}),
        lambda y: pd.Series(pd.to_datetime(y.map({0: "2024-01-01", 1: "2025-01-01"}))),
    ],
    ids=["name differing in case", "float copy", "relabelled", "missing for one", "dates"],
)
@pytest.mark.parametrize("setting", ["error", "warn"])
def test_a_copy_of_the_target(spark, tmp_path, copy, setting):
    frame = churn_frame()
    frame.insert(1, "Churn", copy(frame["churn"]))
    report = both(spark, tmp_path, frame, "churn", target_copies=setting)
    if setting == "error":
        assert report.startswith("PipelineError: data.csv: column 'Churn' ")
    else:
        assert "column 'Churn'" in report["warnings"][-1]


def test_copies_compared_on_labelled_rows_and_past_the_screen(spark, tmp_path):
    frame = churn_frame().astype({"churn": float})
    frame["Churn"] = frame["churn"]
    frame.loc[[0, 1], "churn"] = np.nan
    frame.loc[2, "Churn"] = np.nan
    assert both(spark, tmp_path, frame, "churn")["features"] == ["tenure", "Churn"]
    frame.loc[2, "Churn"] = frame.loc[2, "churn"]
    assert "is a copy of the target" in both(spark, tmp_path, frame, "churn")
    frame = churn_frame(20_000)
    frame["almost"] = frame["churn"]
    frame.loc[19_999, "almost"] = 1 - frame.loc[19_999, "churn"]
    frame["plan"] = np.where(frame["churn"] == 1, "pro", "basic")
    frame.loc[19_998, "plan"] = "plus"
    assert both(spark, tmp_path, frame, "churn")["features"] == ["tenure", "almost", "plan"]


def test_a_copy_of_a_regression_target(spark, tmp_path):
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.linspace(0.5, 9.5, 40)})
    frame["id"] = np.arange(40)
    frame["flag"] = frame["y"] > 5
    assert both(spark, tmp_path, frame)["task"] == "regression"
    frame["price"] = frame["y"]
    frame.loc[5, "price"] = np.nan
    assert isinstance(both(spark, tmp_path, frame), dict)
    frame.loc[5, "price"] = frame.loc[5, "y"]
    assert "column 'price' is a copy" in both(spark, tmp_path, frame)


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"small_classes": "drop"},
        {"small_classes": "merge"},
        {"small_classes": "merge", "merged_class": "a"},
        {"small_classes": "merge", "min_class_rows": 5},
        {"small_classes": "drop", "min_class_rows": 40},
    ],
)
@pytest.mark.parametrize("labels", ["text", "integers"])
def test_classes_too_small(spark, tmp_path, settings, labels):
    counts = {"a": 40, "b": 30, "c": 1, "d": 3}
    y = repeated(counts).astype(object)
    task = "auto"
    if labels == "integers":  # classes by config: as counts they would be regressed on
        y, task = pd.Series(y).map({"a": 0, "b": 1, "c": 2, "d": 3}).to_numpy(), "classification"
        settings = {"merged_class": -1, **settings}
    both(spark, tmp_path, with_target(y), task=task, **settings)


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame({"x": pd.Series([], dtype=float), "y": pd.Series([], dtype="str")}),
        pd.DataFrame({"y": [0, 1, 0, 1]}),
        pd.DataFrame({"x": [1.0, 2.0], "z": [3, 4]}),
        pd.DataFrame({"x": pd.to_timedelta([1, 2, 3, 4], unit="D"), "y": [0, 1, 0, 1]}),
        pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", "a", "a"]}),
    ],
    ids=["empty", "no features", "no target", "unsupported", "single class"],
)
def test_tables_refused(spark, tmp_path, frame):
    assert both(spark, tmp_path, frame).startswith("PipelineError: data.csv: ")


def test_awkward_names(spark, tmp_path):
    frame = with_target(repeated({"a": 20, "b": 20})).rename(columns={"x": "x.1 `odd`"})
    frame["y.label"] = frame.pop("y")
    both(spark, tmp_path, frame, "y.label")
