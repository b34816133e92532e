"""collect on Spark (io/spark_collect.py) writes the pandas engine's raw.parquet, row for
row and type for type, and refuses what it refuses with the same message: tricky Parquet
files read in several partitions (a file of many row groups, split small), Delta tables
(one partitioned), labelled batches."""

from __future__ import annotations

import copy
import json
import os
from decimal import Decimal
from pathlib import Path

import deltalake
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mlops_template.config import parse_config
from mlops_template.config.base import Engine
from mlops_template.core.raw_facts import Facts
from mlops_template.errors import PipelineError
from mlops_template.io.datasets import incoming_folder, load_source
from mlops_template.io.spark_collect import collect_on_spark
from mlops_template.io.spark_tables import data_session
from mlops_template.stages import collect
from tests.helpers.template import example_params_text

pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support")
PARAMS = yaml.safe_load(example_params_text())
N = 2000  # rows of a table; row groups of ROW_GROUP rows, partitions of one or two
ROW_GROUP = 250


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pytest.importorskip("pyspark")  # the spark extra
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("spark"))  # the JVM's log: reports/spark/
        try:
            session = data_session(
                Engine(name="spark", spark={"master": "local[2]", "conf": {}}), "test"
            )
        except PipelineError as err:  # no Java 17
            pytest.skip(str(err))
        # Bytes, not rows: a file of many row groups is read in several partitions.
        session.conf.set("spark.sql.files.maxPartitionBytes", "8192")
        yield session
        session.stop()


def config(path: Path, fmt: str = "parquet", drop=(), engine: str = "pandas", **read):
    params = copy.deepcopy(PARAMS)
    params["data"] = {
        "source": "file",
        "format": fmt,
        "path": str(path),
        "target": "y",
        "task": "auto",
        "drop_columns": list(drop),
        "sep": ",",
        "watch": str(path),
    }
    root = path.parent
    params["paths"].update(raw=str(root / f"{engine}.parquet"), incoming=str(root / "incoming"))
    params["paths"]["allow_outside"] = True
    params["read"].update(read)
    params["engine"]["name"] = engine
    return parse_config(params)


def outcomes(spark, path: Path, fmt: str = "parquet", **settings):
    """The pandas engine's raw.parquet (or its refusal), and the Spark engine's."""
    said = []
    for engine in ("pandas", "spark"):
        cfg = config(path, fmt, engine=engine, **settings)
        try:
            collect.run(cfg) if engine == "pandas" else collect_on_spark(spark, cfg)
            said.append(pd.read_parquet(cfg.paths.raw))
        except PipelineError as err:
            said.append(str(err))
    return said


def assert_same(spark, path: Path, fmt: str = "parquet", **settings):
    want, got = outcomes(spark, path, fmt, **settings)
    if isinstance(want, str) or isinstance(got, str):  # a refusal: both, the same words
        assert isinstance(want, str) and isinstance(got, str) and got == want, (want, got)
    else:
        pd.testing.assert_frame_equal(got, want)
        # Byte for byte, whatever Spark's partitions: switching engines retrains nothing.
        written = [config(path, fmt, engine=e).paths.raw for e in ("pandas", "spark")]
        assert Path(written[0]).read_bytes() == Path(written[1]).read_bytes()
    return want


def parquet(tmp_path: Path, columns: dict, **written) -> Path:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({**columns, "y": np.arange(N) % 2}), path, ROW_GROUP, **written)
    return path


def numbers(bad: dict[int, str], words_from: int = N) -> list[str]:
    cells = [str(i) if i < words_from else f"word{i % 9}" for i in range(N)]
    return [bad.get(i, cell) for i, cell in enumerate(cells)]


def dates(bad: dict[int, str]) -> list[str]:
    cells = pd.date_range("2024-01-01", periods=N, freq="37min").strftime("%Y-%m-%dT%H:%M:%S")
    return [bad.get(i, cell) for i, cell in enumerate(cells)]


def stamps(freq: str, tz: str | None = None) -> pa.Array:
    """Instants from 2024-03-31 (UTC), in nanoseconds if `freq` is."""
    ticks = pa.array(pd.date_range("2024-03-31", periods=N, freq=freq).asi8, pa.timestamp("ns", tz))
    return ticks if freq.endswith("ns") else ticks.cast(pa.timestamp("us", tz))


def test_a_file_of_many_partitions_reads_as_pandas_reads_it(spark, tmp_path):
    rng = np.random.default_rng(0)
    path = parquet(
        tmp_path,
        {
            "text": rng.choice(["a", "b", "NA", "?", "", "n/a", "null", "None"], N),
            "flags": [["true", "False", "", None, "TRUE"][i % 5] for i in range(N)],
            "when": dates({3: "NA", 1500: "2024-03-05T10:00:00+02:00", 1900: ""}),
            "paris": stamps("7min", "Europe/Paris"),  # over a change to summer time
            "naive": stamps("h"),
            "nanos": stamps("1001ns", "UTC"),
            "day": pa.array(
                [None if i % 7 else pd.Timestamp(2024, 1, 1 + i % 28).date() for i in range(N)]
            ),
            "spend": pa.array(
                [Decimal(f"{i / 7:.2f}") if i % 11 else None for i in range(N)],
                pa.decimal128(10, 2),
            ),
            "plan": pa.array(rng.choice(["pro", "basic", "NA", None], N)).dictionary_encode(),
            "code": pa.array(
                [None if i % 13 == 0 else i % 5 for i in range(N)]
            ).dictionary_encode(),
            "late_null": pa.array([None if i == N - 1 else i for i in range(N)], pa.int64()),
            "full": pa.array(range(N), pa.int32()),
            "small": pa.array([i % 200 for i in range(N)], pa.uint8()),
            "flag_gap": pa.array([None if i == N - 1 else i % 2 == 0 for i in range(N)]),
            "flag": pa.array([i % 3 == 0 for i in range(N)]),
            "ratio": pa.array(rng.normal(size=N), pa.float32()),
        },
    )
    read = assert_same(spark, path)
    assert spark.read.parquet(str(path)).rdd.getNumPartitions() > 3
    assert read["flags"].dtype == "boolean" and read["late_null"].dtype == "float64"
    assert str(read["when"].dtype) == "datetime64[us]" and read["plan"].isna().any()


def test_a_file_pandas_wrote_with_its_index_and_dtypes(spark, tmp_path):
    """pandas' own metadata (an index kept as a column, nullable dtypes) read as pandas
    reads it: the index is no feature, Int64 and boolean stay so whatever the partition."""
    rows = pd.DataFrame(
        {
            "count": pd.array([None if i % 17 == 0 else i for i in range(N)], dtype="Int64"),
            "flag": pd.array([None if i % 19 == 0 else i % 2 == 0 for i in range(N)], "boolean"),
            "kind": pd.Series(["a", "NA", None, "b"] * (N // 4), dtype="str"),
            "y": np.arange(N) % 2,
        },
        index=[f"row{i}" for i in range(N)],
    )
    path = tmp_path / "data.parquet"
    rows.to_parquet(path, row_group_size=ROW_GROUP)
    read = assert_same(spark, path)
    assert list(read.columns) == ["count", "flag", "kind", "y"]
    assert (str(read["count"].dtype), str(read["flag"].dtype)) == ("Int64", "boolean")


@pytest.mark.parametrize("non_numeric", ["error", "missing"])
@pytest.mark.parametrize("infinity", ["error", "missing"])
def test_numbers_with_bad_cells_and_infinity(spark, tmp_path, non_numeric, infinity, capsys):
    path = parquet(
        tmp_path,
        {
            "count": numbers({5: "?", 1700: "unknown", 1999: "inf"}),
            "level": np.where(np.arange(N) == 1234, np.inf, np.arange(N) / 3),
        },
    )
    assert_same(spark, path, non_numeric=non_numeric, infinity=infinity)
    said = capsys.readouterr().err.splitlines()
    notes = [line for line in said if line.startswith("warning:")]
    assert notes[: len(notes) // 2] == notes[len(notes) // 2 :]  # each engine said the same


@pytest.mark.parametrize(
    "settings",
    [
        {},  # a third of words: text, not numbers
        {"numeric_share": 0.6},  # numbers with bad cells: refused
        {"numeric_share": 0.6, "non_numeric": "missing"},
    ],
)
def test_partitions_of_words_are_counted_again(spark, tmp_path, monkeypatch, settings):
    """A partition of words alone is not looked at closer, as a text column is not; its
    words are counted when the table's numbers are most of it."""
    recounted = []
    real = Facts.recounted
    monkeypatch.setattr(
        Facts, "recounted", lambda self, exact: recounted.append(exact) or real(self, exact)
    )
    path = parquet(tmp_path, {"count": numbers({}, words_from=N * 2 // 3)})
    said = assert_same(spark, path, **settings)
    assert recounted
    if settings == {"numeric_share": 0.6}:
        assert "667 of its values are not numbers though" in said


@pytest.mark.parametrize(
    "cells",
    [
        dates({1900: "soon"}),  # dates in the first partitions, not the last: text
        dates({1900: "2024-02-30", 1901: "2024-13-01"}),  # no dates in the last partition
    ],
)
def test_dates_are_decided_on_every_partition(spark, tmp_path, cells):
    said = assert_same(spark, parquet(tmp_path, {"when": cells}))
    if cells[1901] == "2024-13-01":
        assert "2 values are not ISO 8601 dates, e.g. ['2024-02-30', '2024-13-01']" in said
    else:
        assert said["when"].dtype == "str"


def test_dates_refused_by_setting(spark, tmp_path):
    said = assert_same(spark, parquet(tmp_path, {"when": dates({})}), dates="error")
    assert "holds dates" in said


def test_labelled_batches_join_as_pd_concat_joins_them(spark, tmp_path, capsys):
    """A column no batch has (a row number) is left out: missing in exactly the added
    rows, it was no longer unique by dtype (ints with NaN are floats) and became a feature."""
    row_number = pa.array(range(N), pa.int64())
    path = parquet(
        tmp_path, {"count": numbers({}), "kind": ["a", "NA"] * (N // 2), "row": row_number}
    )
    folder = incoming_folder(str(tmp_path / "incoming"), config(path).data)
    folder.mkdir(parents=True)
    pd.DataFrame({"count": ["3", "NA"], "kind": ["b", None], "y": [1.0, 0.0]}).to_parquet(
        folder / "batch-1.parquet"
    )
    pd.DataFrame({"kind": ["c"], "note": ["new"], "y": [1]}).to_parquet(folder / "batch-2.parquet")
    read = assert_same(spark, path)
    assert len(read) == N + 3 and read["y"].dtype == "float64" and "note" in read
    assert "row" not in read and "count" in read  # `count`: in one batch of two
    assert (
        "note: column ['row'] left out of the training data, every row's" in capsys.readouterr().err
    )


def test_an_empty_file(spark, tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.string()), "y": pa.array([], pa.int64())}), path)
    assert len(assert_same(spark, path)) == 0


@pytest.mark.parametrize(
    ("table", "settings", "said"),
    [
        (pa.table({"tags": [["a"], None] * 2, "y": [0, 1] * 2}), {}, "holds list<element"),
        (pa.Table.from_arrays([pa.array([1]), pa.array([2])], ["y", "y"]), {}, "duplicate"),
        (pa.table({"a": [1], "y": [0]}), {"drop": ["nope"]}, "unknown columns ['nope']"),
        (pa.table({"a": [1], "label": [0]}), {}, "target column 'y' (data.target) not found"),
    ],
)
def test_refusals_are_the_same(spark, tmp_path, table, settings, said):
    path = tmp_path / "data.parquet"
    pq.write_table(table, path)
    assert said in assert_same(spark, path, **settings)


def delta(tmp_path: Path, table: pa.Table, **written) -> Path:
    """A table of three writes: deltalake reads the last one's files first."""
    path = tmp_path / "table"
    for start in range(0, len(table), 700):  # a file per write, and per partition
        deltalake.write_deltalake(path, table.slice(start, 700), mode="append", **written)
    return path


def delta_rows() -> pa.Table:
    rng = np.random.default_rng(1)
    return pa.table(
        {
            "count": numbers({5: "?"}),
            "kind": rng.choice(["a", "b", "NA", ""], N),
            "when": stamps("h", "UTC"),
            "region": pa.array([None if i % 9 == 0 else f"r{i % 3}" for i in range(N)]),
            "size": pa.array([None if i == N - 1 else i for i in range(N)], pa.int64()),
            "y": np.arange(N) % 2,
        }
    )


@pytest.mark.parametrize("partition_by", [None, ["region", "y"]])
def test_a_delta_table_reads_as_pandas_reads_it(spark, tmp_path, partition_by):
    path = delta(tmp_path, delta_rows(), partition_by=partition_by)
    assert "not numbers" in assert_same(spark, path, "delta")
    read = assert_same(spark, path, "delta", non_numeric="missing")
    assert len(read) == N and read["region"].isna().any()


def test_a_delta_table_on_pandas_reads_as_its_parquet_file_does(tmp_path):
    rows = delta_rows().drop_columns(["when"])  # Delta keeps instants in UTC alone
    pq.write_table(rows, tmp_path / "data.parquet")
    path = tmp_path / "table"
    deltalake.write_deltalake(path, rows)
    as_table, as_file = (
        config(source, fmt, non_numeric="missing")
        for source, fmt in ((path, "delta"), (tmp_path / "data.parquet", "parquet"))
    )
    pd.testing.assert_frame_equal(
        load_source(as_table.data, as_table.read), load_source(as_file.data, as_file.read)
    )
    with pytest.raises(PipelineError, match=r"nope: Delta table not found \(data.path\)"):
        load_source(config(tmp_path / "nope", "delta").data)
    with pytest.raises(PipelineError, match="is a file, not a Delta table's folder"):
        load_source(config(tmp_path / "data.parquet", "delta").data)


def test_a_folder_that_is_no_delta_table(spark, tmp_path):
    (tmp_path / "table").mkdir()
    said = assert_same(spark, tmp_path / "table", "delta")
    assert said.endswith(
        "table: not a Delta table (no commit in its _delta_log folder) (data.path)"
    )


def test_delta_features_read_wrong_are_refused(spark, tmp_path):
    path = tmp_path / "table"
    deltalake.write_deltalake(
        path, pa.table({"a": [1], "y": [0]}), configuration={"delta.columnMapping.mode": "name"}
    )
    assert "delta.columnMapping.mode=name" in assert_same(spark, path, "delta")
    vectors = tmp_path / "vectors"
    deltalake.write_deltalake(vectors, pa.table({"a": [1], "y": [0]}))
    features = {"readerFeatures": ["deletionVectors"], "writerFeatures": ["deletionVectors"]}
    protocol = {"protocol": {"minReaderVersion": 3, "minWriterVersion": 7, **features}}
    (vectors / "_delta_log" / "00000000000000000001.json").write_text(json.dumps(protocol) + "\n")
    assert "deletionVectors" in assert_same(spark, vectors, "delta")


class Session:
    """The module's session as a stage gets it; stopping it is only recorded."""

    def __init__(self, spark):
        self.spark, self.stopped = spark, False

    def __getattr__(self, name):
        return getattr(self.spark, name)

    def stop(self):
        self.stopped = True


def test_the_stage_runs_on_spark_and_records_what_it_read(spark, tmp_path, monkeypatch):
    session = Session(spark)
    monkeypatch.setattr(collect, "data_session", lambda engine, stage: session)
    path = delta(tmp_path, delta_rows(), partition_by=["y"])
    record = collect.run(config(path, "delta", engine="spark", non_numeric="missing"))
    assert session.stopped and record.metrics == {"n_rows": N, "n_columns": 6}
    (source,) = record.inputs
    assert (source.context, source.frame) == ("collected", None)
    assert Path(source.path).is_file()  # digested as DVC does: a Delta table is a folder
    pandas = collect.run(config(path, "delta", non_numeric="missing")).inputs[0]
    assert (pandas.context, Path(pandas.path).name) == ("collected", "pandas.parquet")


def test_other_sources_stay_on_pandas(tmp_path, monkeypatch, capsys):
    def no_session(*_):
        raise AssertionError("no Spark session for a generated source")

    monkeypatch.setattr(collect, "data_session", no_session)
    params = copy.deepcopy(PARAMS)
    params["data"] = {"source": "demo", "name": "customers", "n_rows": 200, "target": "churned"}
    params["data"]["watch"] = "uv.lock"
    params["paths"].update(raw=str(tmp_path / "raw.parquet"), incoming=str(tmp_path / "in"))
    params["paths"]["allow_outside"] = True
    params["engine"]["name"] = "spark"
    record = collect.run(parse_config(params))
    assert record.metrics["n_rows"] == 200
    assert "is collected on pandas" in capsys.readouterr().err
    assert os.path.exists(tmp_path / "raw.parquet")
