"""prepare, a chunk of rows at a time, on pandas and on Spark (`engine=spark`), writes the
train and test files split_frame gives the whole table: the same rows in the same order
and dtypes, the same refusals, whatever the chunks and partitions. Spark runs in this
process on local[2], its partitions made small; the pandas chunks are small too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_template.config import Engine, parse_config
from mlops_template.core.class_labels import relabelled
from mlops_template.core.dataset_checks import check_dataset
from mlops_template.core.demo import customers
from mlops_template.core.split import split_frame
from mlops_template.errors import PipelineError
from mlops_template.io import parquet_chunks
from mlops_template.io.atomic import write_json
from mlops_template.stages import prepare
from tests.helpers.template import template_text

pytest.importorskip("pyspark")

# A few hundred rows per Spark partition: every table below spans several.
SMALL_PARTITIONS = {"spark.sql.files.maxPartitionBytes": 16384}
PATHS = ("data/prepared/train.parquet", "data/prepared/test.parquet")


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    from mlops_template.io.spark_tables import data_session

    folder = tmp_path_factory.mktemp("spark")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # the JVM's log goes to reports/spark/ here
        engine = Engine(name="spark", spark={"master": "local[2]", "conf": SMALL_PARTITIONS})
        yield data_session(engine, "test")


def config(*overrides: str):
    """The config for a raw table (prepare reads paths.raw, not data.path)."""
    data = ["data=parquet", "data.path=source.parquet"]  # a project's own data, not the demo
    return parse_config(yaml.safe_load(template_text(*data, *overrides)))


def both_ways(spark, raw: pd.DataFrame, target: str, *overrides: str):
    """(split_frame's train and test, the Spark engine's), or each one's refusal as text;
    the pandas engine's prepare is checked against split_frame's on the way."""
    from mlops_template.io.spark_split import split_on_spark

    keyed = any(o.startswith("split.key=") for o in overrides)
    cfg = config(f"data.target={target}", *overrides, *([] if keyed else ["split.key=null"]))
    Path(cfg.paths.raw).parent.mkdir(parents=True, exist_ok=True)
    raw.to_parquet(cfg.paths.raw, index=False, row_group_size=200)
    frame = pd.read_parquet(cfg.paths.raw)
    report = check_dataset(frame, target, cfg.validate_, requested_task=cfg.data.task, source="raw")
    try:
        rows = relabelled(frame, target, report.small_classes)
        expected = split_frame(rows, target, report.task, cfg.split, report.identifiers)
    except PipelineError as err:
        expected = str(err)
    write_json(cfg.paths.validation, report.as_json())
    by_pandas = outputs(lambda: prepare.run(cfg))
    assert type(by_pandas) is type(expected)
    if isinstance(expected, str):
        assert by_pandas == expected
    else:
        assert_same(expected, by_pandas)
    files = [Path(path).read_bytes() for path in PATHS]
    by_spark = outputs(lambda: split_on_spark(spark, cfg, report))
    if not isinstance(by_spark, str):  # byte for byte: switching engines retrains nothing
        assert [Path(path).read_bytes() for path in PATHS] == files
    return expected, by_spark


def outputs(run):
    """The train and test files `run` writes, or its refusal as text (the files a run
    before it wrote, left as they were)."""
    for path in PATHS:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(b"stored before")
    try:
        run()
    except PipelineError as err:
        assert all(Path(path).read_bytes() == b"stored before" for path in PATHS)
        assert not list(Path(PATHS[0]).parent.glob(".*"))  # no temporary file left
        return str(err)
    return tuple(pd.read_parquet(path) for path in PATHS)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(parquet_chunks, "CHUNK_ROWS", 97)  # many chunks per file
    (tmp_path / "data").mkdir()
    return tmp_path


def assert_same(expected, got):
    assert not isinstance(expected, str), expected
    assert not isinstance(got, str), got
    for pandas_side, spark_side in zip(expected, got, strict=True):
        pd.testing.assert_frame_equal(spark_side, pandas_side)


def test_dates_booleans_text_and_numbers_split_alike(spark, workdir):
    raw = customers(3000, seed=3)
    raw.loc[::7, "tenure_days"] = np.nan  # gaps: the integers read as floats
    expected, got = both_ways(spark, raw, "churned")
    assert_same(expected, got)
    assert len(expected[1]) > 300  # both sides hold rows: the comparison means something


def test_a_nullable_integer_target_with_a_merged_class(spark, workdir):
    rng = np.random.default_rng(0)
    raw = pd.DataFrame({"x": rng.normal(size=2000), "code": rng.choice(list("pqrs"), 2000)})
    # Integers past 2**53 with gaps: exact on both engines (float64 would round them).
    raw["account"] = pd.array(2**60 + np.arange(2000), dtype="Int64")
    raw.loc[::9, "account"] = pd.NA
    raw["label"] = pd.array(rng.integers(0, 3, 2000), dtype="Int64")
    raw.loc[5, "label"] = 7  # classes of one row, merged into -1
    raw.loc[6, "label"] = 8
    raw.loc[10:40, "label"] = pd.NA
    expected, got = both_ways(
        spark,
        raw,
        "label",
        "data.task=classification",
        "validate.small_classes=merge",
        "validate.merged_class=-1",
    )
    assert_same(expected, got)
    assert str(got[0]["label"].dtype) == "Int64" and -1 in set(got[0]["label"]) | set(
        got[1]["label"]
    )
    assert (2**60 + 1) in set(got[0]["account"].dropna()) | set(got[1]["account"].dropna())


def test_integer_codes_with_empty_target_cells_are_written_as_integers(spark, workdir):
    """Read as floats for their gaps, class codes are written as the integers they are:
    the model's classes were 0.0, 1.0 and 2.0, and `labels` refused every file."""
    rng = np.random.default_rng(1)
    raw = pd.DataFrame({"x": rng.normal(size=1500)})
    raw["vote"] = rng.integers(0, 3, 1500).astype("float64")
    raw.loc[::11, "vote"] = np.nan
    expected, got = both_ways(spark, raw, "vote")
    assert_same(expected, got)
    assert str(got[0]["vote"].dtype) == "Int64" and set(got[0]["vote"]) == {0, 1, 2}


def test_a_dropped_class_and_a_split_key(spark, workdir):
    raw = customers(2500, seed=4)
    raw["plan"] = raw["plan"].astype(object)
    raw.loc[3, "plan"] = "solo"  # one row: dropped
    raw["customer"] = np.arange(2500) // 3  # three rows per customer
    expected, got = both_ways(
        spark, raw, "plan", "validate.small_classes=drop", "split.key=customer"
    )
    assert_same(expected, got)
    assert "solo" not in set(got[0]["plan"]) | set(got[1]["plan"])
    train_keys, test_keys = set(got[0]["customer"]), set(got[1]["customer"])
    assert not train_keys & test_keys


@pytest.mark.parametrize(
    ("overrides", "said"),
    [
        (["split.key=nowhere"], "split.key (data.id_column unless set): 'nowhere' is not a column"),
        (["split.key=plan"], "split.key: column 'plan' is missing in 40 rows"),
        (["split.test_size=0.0001"], "cannot split 1200 rows with split.test_size=0.0001"),
    ],
)
def test_refusals_are_the_pandas_engines(spark, workdir, overrides, said):
    raw = customers(1200, seed=5)
    raw["plan"] = raw["plan"].astype(object)
    raw.loc[100:139, "plan"] = None
    expected, got = both_ways(spark, raw, "churned", *overrides)
    assert isinstance(expected, str) and said in expected
    assert got == expected


def test_a_class_only_on_the_test_side_is_refused_alike(spark, workdir):
    raw = customers(1200, seed=6).drop(columns="customer_id")
    raw["tier"] = np.where(np.arange(1200) % 2, "a", "b").astype(object)
    raw.loc[[0, 1], "tier"] = "rare"
    # Both rows of the class hashed to the test side: a seed found by the pandas split.
    cfg = config("data.target=tier", "split.test_size=0.5", "split.key=null")
    seed = None
    for s in range(1000):
        split = cfg.split.model_copy(update={"seed": s})
        try:
            split_frame(raw, "tier", "classification", split)
        except PipelineError:
            seed = s
            break
    expected, got = both_ways(spark, raw, "tier", "split.test_size=0.5", f"split.seed={seed}")
    assert isinstance(expected, str) and "every row of classes ['rare']" in expected
    assert got == expected


def test_a_cluster_master_is_refused_before_spark_starts():
    from mlops_template.io.spark_tables import data_session

    engine = Engine(name="spark", spark={"master": "spark://host:7077", "conf": {}})
    with pytest.raises(PipelineError, match="run on a local master"):
        data_session(engine, "prepare")


def test_names_with_dots_backticks_and_spaces_split_alike(spark, workdir):
    """prepare on Spark failed on any column name with a dot (`geo.lat`): PySpark's
    mapInArrow could not resolve it, and the run stopped with 'AnalysisException'."""
    rng = np.random.default_rng(4)
    raw = pd.DataFrame(
        {
            "geo.lat": rng.normal(size=1500),
            "a`b": rng.choice(["p", "q"], 1500),
            "stop id": [f"s{i}" for i in range(1500)],
        }
    )
    raw["search.flag"] = np.where(raw["geo.lat"] + rng.normal(size=1500) > 0, "YES", "NO")
    for key in ["split.key=null", "split.key='stop id'"]:
        expected, got = both_ways(spark, raw, "search.flag", key)
        assert_same(expected, got)
        assert list(got[0].columns) == list(raw.columns)
