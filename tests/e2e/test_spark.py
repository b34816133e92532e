"""predict --engine spark: a real local Spark session scores into the same Delta table,
with the same predictions as the pandas engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from mlops_template.io.lineage import file_md5
from mlops_template.io.spark_session import SPARK_LOG
from tests.e2e.customers import customer_frame, data_path, use_csv
from tests.e2e.test_predict import TABLE, _write, batch, table_version
from tests.helpers.template import Template

pytestmark = pytest.mark.slow

# Two local cores, and splits of 128 KiB so even a small CSV is read as many partitions:
# row numbers must follow the file across them.
SPARK = [
    "predict.spark.master='local[2]'",
    "++predict.spark.conf={spark.sql.files.maxPartitionBytes:131072}",
]
SCORED = ["prediction", "model_name", "model_version", "model_alias"]


def rows_of(copy: Template, path) -> pd.DataFrame:
    rows = DeltaTable(str(copy.path(TABLE))).to_pandas()
    rows = rows[rows["batch_hash"] == file_md5(path)]
    return rows.sort_values("row_number").reset_index(drop=True)


def assert_same_predictions(left: pd.DataFrame, right: pd.DataFrame) -> None:
    assert len(left) == len(right) > 0
    assert left["row_number"].tolist() == list(range(len(left)))
    assert left["id"].tolist() == right["id"].tolist()
    pd.testing.assert_frame_equal(left[SCORED], right[SCORED])
    probabilities = [c for c in left.columns if c.startswith("proba_")]
    assert probabilities and probabilities == [c for c in right.columns if c.startswith("proba_")]
    # Equal to the last bits or two: BLAS may sum a row's terms in another order when the
    # engines hand the model batches of other sizes (a linear model's dot products); any
    # real difference in reading or preprocessing would be far larger.
    np.testing.assert_allclose(left[probabilities], right[probabilities], rtol=1e-12, atol=0)


def test_spark_and_pandas_engines_write_the_same_rows(copy, tmp_path):
    copy.main("params", "compose", "predict.passthrough_columns=[id]", *SPARK)
    frame = batch(copy, rows=3000)
    frame.insert(0, "id", [f"row-{i}" for i in range(len(frame))])
    # R's missing marker in a number column: missing on both engines (Spark's CSV reader
    # refused the batch).
    frame.loc[::50, "mean radius"] = np.nan
    by_pandas = _write(tmp_path / "batch.parquet", frame)
    by_spark = tmp_path / "batch.csv"
    frame.to_csv(by_spark, index=False, na_rep="NA")

    copy.main("predict", str(by_pandas))
    done = copy.mlops("predict", str(by_spark), "--engine", "spark")
    assert "3000 rows appended" in done.stderr
    jvm = "Spark's default log4j profile"  # what the JVM prints as it starts
    assert jvm not in done.stderr and jvm in copy.path(SPARK_LOG).read_text()
    assert len(done.stderr.splitlines()) <= 3, done.stderr  # what a person reads
    table = DeltaTable(str(copy.path(TABLE)))
    assert table.version() == 1  # one commit per batch, whatever the engine
    spark_files = list(copy.path(TABLE).glob("spark-*/*.parquet"))
    assert len(spark_files) > 1, "the CSV should have been read as several partitions"
    assert_same_predictions(rows_of(copy, by_spark), rows_of(copy, by_pandas))

    again = copy.main("predict", str(by_spark), "--engine", "spark")  # no Spark needed
    assert "nothing to do" in again.stderr and table_version(copy) == 1

    # Text deep in a numeric column passes the header check and fails inside the Spark job.
    typed = frame.astype({"mean texture": "str"})
    typed.loc[2900, "mean texture"] = "high"
    bad = _write(tmp_path / "typed.csv", typed)
    refused = copy.mlops("predict", str(bad), "--engine", "spark", check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    said = "column 'mean texture' holds text that is no number: 'high'"
    assert said in refused.stderr, refused.stderr
    assert f"Spark's own output: {SPARK_LOG}" in refused.stderr
    assert table_version(copy) == 1
    assert sorted(copy.path(TABLE).glob("spark-*")) == sorted({f.parent for f in spark_files})


def test_spark_engine_with_categories_and_missing_values(csv_copy, tmp_path):
    use_csv_data = use_csv(data_path(csv_copy))
    csv_copy.main(*use_csv_data, "predict.unseen_categories=error", *SPARK)
    frame = customer_frame(2000, seed=9).drop(columns="churn")
    frame.insert(0, "id", range(len(frame)))
    frame.loc[1900, "plan"] = "enterprise"
    unseen = _write(tmp_path / "unseen.csv", frame)
    refused = csv_copy.mlops("predict", str(unseen), "--engine", "spark", check=False)
    assert refused.returncode == 2, refused.stderr
    assert "'plan': ['enterprise']" in refused.stderr
    assert not csv_copy.path(TABLE).exists()  # a new table is not left half made

    csv_copy.main(*use_csv_data, "predict.passthrough_columns=[id]", *SPARK)
    by_pandas = _write(tmp_path / "batch.parquet", frame)
    csv_copy.main("predict", str(by_pandas))
    csv_copy.mlops("predict", str(unseen), "--engine", "spark")
    assert_same_predictions(rows_of(csv_copy, unseen), rows_of(csv_copy, by_pandas))
    assert set(rows_of(csv_copy, unseen)["prediction"]) <= {"no", "yes"}
