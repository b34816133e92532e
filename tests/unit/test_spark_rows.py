"""Pure parts of the Spark engine: row numbering across partitions, error summaries."""

from __future__ import annotations

import pytest

from mlops_template.io.spark_session import spark_reason
from mlops_template.operate.batch.spark_predict import row_offsets


def test_row_offsets_follow_partition_order_not_dict_order():
    assert row_offsets({2: 5, 0: 3, 1: 4}) == {0: 0, 1: 3, 2: 7}


def test_row_offsets_skip_partitions_spark_did_not_report():
    # An empty partition yields no rows, so it never appears in the counts.
    assert row_offsets({0: 10, 3: 1}) == {0: 0, 3: 10}
    assert row_offsets({}) == {}


def test_spark_error_is_summarised_by_its_causes_once():
    trace = (
        "An error occurred while calling o53.parquet.\n"
        ": org.apache.spark.SparkException: Job aborted.\n"
        "\tat org.apache.spark.Foo(Foo.scala:1)\n"
        "Caused by: org.apache.spark.SparkException: Malformed records are detected\n"
        'Caused by: java.lang.NumberFormatException: For input string: "high"\n'
        "\tat java.base/Bar\n"
        'Caused by: java.lang.NumberFormatException: For input string: "high"\n'
    )
    assert spark_reason(RuntimeError(trace)) == (
        "org.apache.spark.SparkException: Malformed records are detected; "
        'java.lang.NumberFormatException: For input string: "high"'
    )


def test_spark_error_without_causes_gives_its_exception_line():
    assert spark_reason(RuntimeError("x\n: java.io.IOException: disk full\n")) == (
        "java.io.IOException: disk full"
    )
    assert spark_reason(RuntimeError("")) == "RuntimeError"


def test_a_pyspark_error_gives_its_condition_and_message():
    """PySpark 4's own errors name no exception in their text: the one-line error said
    only 'AnalysisException', and Spark's log held nothing more."""
    AnalysisException = pytest.importorskip("pyspark.errors").AnalysisException
    said = "[UNRESOLVED_COLUMN.WITH_SUGGESTION] A column `geo`.`lat` cannot be resolved."
    assert spark_reason(AnalysisException(said)) == f"AnalysisException: {said}"


def test_a_python_workers_error_gives_its_last_line():
    trace = (
        "An exception was thrown from the Python worker.\n"
        "Traceback (most recent call last):\n"
        '  File "worker.py", line 1, in main\n'
        "mlops_template.core.raw_rows.BadCells: column 'x': 2 infinite values\n"
    )
    said = spark_reason(RuntimeError(trace))
    assert said == "mlops_template.core.raw_rows.BadCells: column 'x': 2 infinite values"
