"""engine=spark: `dvc repro` runs collect, validate and prepare on a real local Spark
session, and they make what the pandas engine makes from the same table: the same rows
read by the contract, the same validation report, the same split, so train's schema is
the same too. Each engine runs the real pipeline in a copy of its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from deltalake import write_deltalake

from mlops_template.core.demo import customers
from tests.helpers.template import Template

pytestmark = pytest.mark.slow

ROWS = 6000
COMMON = ["tracking.uri=null", "data.target=churned", "read.non_numeric=missing"]
# Two local cores, and 64 KiB splits: the table is read as many partitions, whose facts
# (a column of dates, of numbers) must be merged as the whole column's.
SPARK = [
    "engine=spark",
    "engine.spark.master='local[2]'",
    "engine.spark.conf={spark.sql.files.maxPartitionBytes:65536}",
]
PATHS = {
    "raw": "data/raw/dataset.parquet",
    "train": "data/prepared/train.parquet",
    "test": "data/prepared/test.parquet",
}
REPORTS = ["data/interim/validation.json", "models/schema.json"]


def table(rows: int = ROWS) -> pd.DataFrame:
    """The demo's customers as an export writes them: dates and flags as text, missing
    cells as tokens, a number column with a stray word, a code of 40 levels and free
    text (validate picks their encodings), and a customer code that names the row."""
    rng = np.random.default_rng(11)
    frame = customers(rows, seed=11)
    frame["autopay"] = np.where(rng.random(rows) < 0.5, "TRUE", "false").astype(object)
    frame.loc[rng.random(rows) < 0.05, "autopay"] = "NA"
    charges = frame["monthly_charges"].round(2).astype(str).astype(object)
    charges[rng.random(rows) < 0.01] = "unknown"
    frame["monthly_charges"] = charges
    frame["branch"] = [f"B{n:02d}" for n in rng.integers(0, 40, rows)]
    words = np.array(["late", "fee", "upgrade", "call", "refund", "app", "slow", "thanks"])
    frame["note"] = [" ".join(rng.choice(words, 3)) for _ in range(rows)]
    frame.loc[rng.random(rows) < 0.03, "note"] = "?"
    return frame


def pipeline(root, source: str, fmt: str, *overrides: str) -> Template:
    data = [f"data={fmt}", f"data.path={source}", *COMMON, *overrides]
    copy = Template.fresh(root, overrides=data)
    copy.run("dvc", "repro", "train")
    return copy


@pytest.fixture(scope="module", params=["parquet", "delta"])
def engines(request, tmp_path_factory):
    """The same table through the data stages and train on each engine."""
    root = tmp_path_factory.mktemp(request.param)
    source = root / f"customers.{request.param}"
    if request.param == "parquet":
        table().to_parquet(source, index=False, row_group_size=500)
    else:
        write_deltalake(str(source), table().iloc[: ROWS // 2])  # two versions, two files
        write_deltalake(str(source), table().iloc[ROWS // 2 :], mode="append")
    by_pandas = pipeline(root / "pandas", str(source), request.param)
    by_spark = pipeline(root / "spark", str(source), request.param, *SPARK)
    return by_pandas, by_spark


def test_the_same_rows_report_split_and_schema(engines):
    by_pandas, by_spark = engines
    for name, rel in PATHS.items():
        left, right = pd.read_parquet(by_pandas.path(rel)), pd.read_parquet(by_spark.path(rel))
        assert len(left) > 500, name  # rows on both sides: the comparison means something
        pd.testing.assert_frame_equal(right, left, obj=name)
    for rel in REPORTS:
        assert by_spark.path(rel).read_text() == by_pandas.path(rel).read_text(), rel
    report = by_pandas.path(REPORTS[0]).read_text()
    # What makes the table hard was read so: the report is not trivially equal.
    assert '"customer_id"' in report and '"note": "text"' in report
    assert '"branch": "many_levels"' in report and '"signup_date"' in report


def test_the_data_stages_ran_on_spark(engines):
    by_pandas, by_spark = engines
    for stage in ("collect", "validate", "prepare"):
        log = by_spark.path(f"reports/spark/{stage}.log")
        assert log.is_file() and "Spark" in log.read_text(), stage  # a JVM started there
    assert not by_pandas.path("reports/spark").exists()
    lock = by_spark.path("dvc.lock").read_text()
    assert "name: spark" in lock  # the stages record the engine they ran on
