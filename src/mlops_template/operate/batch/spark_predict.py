"""predict --engine spark: the same checked batch scored on a Spark session, into the same table.

Spark reads the batch; `mlflow.pyfunc.spark_udf` gives each row's prediction (the model's
own predict, as the REST server answers) and a pandas UDF on the same sklearn model gives
the class probabilities. Executors write Parquet files under the table's directory; the
driver then adds them to the Delta log in one commit, so a job that fails leaves the
table as it was.
"""

# No `from __future__ import annotations`: pandas_udf reads its function's type hints.
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config import Predict
from mlops_template.core.batch_checks import SHOWN, describe_unseen
from mlops_template.core.raw_rows import MISSING_TOKENS
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table
from mlops_template.io.batch_files import batch_columns, batch_format, refuse_empty
from mlops_template.operate.batch.scoring_job import ScoringJob

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


# monotonically_increasing_id() puts the partition index above this many bits.
PARTITION_SHIFT = 33

# Spark settings that make the output match the pandas engine's table type for type.
TABLE_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs": "false",
}
# In local mode the driver stays on loopback and serves no web UI.
LOCAL_SETTINGS = {
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
}


def row_offsets(counts: dict[int, int]) -> dict[int, int]:
    """First row number of each partition, given the rows in each (partitions in file order)."""
    offsets, total = {}, 0
    for partition in sorted(counts):
        offsets[partition] = total
        total += counts[partition]
    return offsets


# Spark's own output (the JVM's, and that of the Python workers it starts in local mode).
SPARK_LOG = Path("reports/spark/predict.log")
_started_logs: set[Path] = set()  # logs a JVM of this process writes to


# PySpark 4 (pyproject.toml's spark extra) runs on Java 17 or later.
JAVA_NEEDED = 17


def check_java() -> None:
    """The java Spark's launcher would run, found and new enough; else a one-line error
    (PySpark says only that its gateway exited). The launcher (spark-class) takes
    $JAVA_HOME/bin/java if JAVA_HOME is set, else java on PATH."""
    import re
    import subprocess

    home = os.environ.get("JAVA_HOME")
    java = str(Path(home, "bin", "java")) if home else shutil.which("java")
    how = (
        f"install Java {JAVA_NEEDED} or later (apt-get install openjdk-{JAVA_NEEDED}-jre-headless) "
        "and set JAVA_HOME to it, or put its java on PATH"
    )
    if home and not os.access(java, os.X_OK):
        raise PipelineError(
            f"the Spark engine needs Java {JAVA_NEEDED} or later: JAVA_HOME={home} has no "
            f"bin/java; {how}"
        )
    if not java:
        raise PipelineError(
            f"the Spark engine needs Java {JAVA_NEEDED} or later, and there is none: JAVA_HOME "
            f"is not set and java is not on PATH; {how}"
        )
    said = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    found = re.search(r'version "(?:1\.)?(\d+)', said)  # "1.8.0_392" is Java 8
    if found and int(found[1]) < JAVA_NEEDED:
        raise PipelineError(
            f"the Spark engine needs Java {JAVA_NEEDED} or later; {java} is Java {found[1]}: {how}"
        )


def spark_session(settings: Predict) -> "SparkSession":
    check_java()  # before PySpark starts its JVM
    from pyspark.sql import SparkSession

    # Executors run the model in this environment's Python unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # PySpark warns about pandas 3 on every UDF; the parity test checks the results.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    master = settings.spark.master
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {**TABLE_SETTINGS, **(LOCAL_SETTINGS if local else {})}
    conf["spark.ui.showConsoleProgress"] = "false"  # the bar would go to the log
    conf.update({key: str(value) for key, value in settings.spark.conf.items()})
    builder = SparkSession.builder.appName("mlops-template predict").master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    with _output_to(SPARK_LOG):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # failures are raised, and reported once
    return spark


@contextmanager
def _output_to(log: Path) -> Iterator[None]:
    """This process's stdout and stderr (fds 1 and 2) go to the log meanwhile, so a JVM
    started then writes there for good: its start-up warnings, and the tracebacks of
    workers cut off when a failed job is cancelled, stay out of the one-line error.
    The log is emptied when the process starts its first JVM."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab" if log in _started_logs else "wb") as file:
        _started_logs.add(log)
        os.dup2(file.fileno(), 1)
        os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def score_with_spark(job: ScoringJob, settings: Predict) -> int:
    # Checked before Spark starts: a table whose columns conflict would refuse the rows.
    predictions_table.prepare_for(job.table, job.out_schema)
    # predict holds the table's lock: no other writer can make the table meanwhile, so a
    # failed job may remove a table it started.
    new_table = not Path(job.table).exists()
    staging = Path(job.table) / f"spark-{uuid.uuid4().hex}"
    spark = None
    try:
        spark = spark_session(settings)
        frame = _read_batch(spark, job)
        refuse_empty(job.path, *_rows_and_any_value(frame, job.schema))
        if settings.unseen_categories == "error" and (unseen := _unseen(frame, job.schema)):
            raise PipelineError(describe_unseen(unseen, str(job.path)))
        scored = _scored(spark, frame, job)
        scored.write.parquet(str(staging.resolve()))
        for leftover in staging.glob(".*.crc"):  # Hadoop's local checksums, not table data
            leftover.unlink()
        return predictions_table.commit_files(job.table, job.out_schema, staging)
    except Exception as err:
        if spark is not None:
            spark.stop()  # first, so no task is still writing into the staging folder
        shutil.rmtree(job.table if new_table else staging, ignore_errors=True)
        if isinstance(err, PipelineError):
            raise
        raise PipelineError(
            f"{job.path}: Spark could not score the batch: {_reason(err)} "
            f"(Spark's own output: {SPARK_LOG})"
        ) from None
    finally:
        if spark is not None:
            spark.stop()


def _read_batch(spark: "SparkSession", job: ScoringJob) -> "DataFrame":
    """The batch as Spark reads it, training columns typed as the pandas engine reads them."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    kinds = {c.name: c.kind for c in job.schema.columns}
    path = str(job.path.resolve())
    if batch_format(job.path) == "parquet":
        frame = spark.read.parquet(path)
    else:
        header = list(batch_columns(job.path, job.schema))  # as the checks read it
        fields = [
            StructField(name, DoubleType() if kinds.get(name) == "numeric" else StringType())
            for name in header
        ]
        frame = spark.read.csv(path, schema=StructType(fields), header=True, mode="FAILFAST")
    typed = [
        F.col(_quoted(name)).cast("double" if kind == "numeric" else "string").alias(name)
        for name, kind in kinds.items()
    ]
    passthrough = [F.col(_quoted(name)).cast("string").alias(name) for name in job.passthrough]
    return frame.select(*typed, *passthrough)


def _rows_and_any_value(frame: "DataFrame", schema: TrainingSchema) -> tuple[int, bool]:
    """The row count, and whether any feature cell is present (one job): as the pandas
    engine reads cells, NaN and the contract's missing markers in text are missing too."""
    from pyspark.sql import functions as F

    present = F.lit(False)
    for column in schema.columns:
        col = F.col(_quoted(column.name))
        if column.kind == "numeric":
            present = present | (col.isNotNull() & ~F.isnan(col))
        else:
            present = present | (col.isNotNull() & ~col.isin(list(MISSING_TOKENS)))
    row = frame.select(
        F.count(F.lit(1)).alias("rows"), F.max(present.cast("int")).alias("any")
    ).first()
    return row["rows"], bool(row["any"])


def _unseen(frame: "DataFrame", schema: TrainingSchema) -> dict[str, list[str]]:
    """Per categorical column, a few values never seen in training (one small job each)."""
    from pyspark.sql import functions as F

    found = {}
    for column in schema.columns:
        if column.kind != "categorical":
            continue
        col = F.col(_quoted(column.name))
        rows = (
            frame.where(col.isNotNull() & ~col.isin(column.categories))
            .select(col)
            .distinct()
            .limit(SHOWN + 1)
            .collect()
        )
        if rows:
            found[column.name] = sorted(row[0] for row in rows)
    return found


def _scored(spark: "SparkSession", frame: "DataFrame", job: ScoringJob) -> "DataFrame":
    import mlflow.pyfunc
    from pyspark.sql import functions as F

    features = F.struct(*[F.col(_quoted(name)) for name in job.features])
    regression = job.classes is None
    predict_udf = mlflow.pyfunc.spark_udf(
        spark, job.folder, env_manager="local", result_type="double" if regression else "string"
    )
    numbered = frame.withColumn("_id", F.monotonically_increasing_id())
    columns = {
        "row_number": _row_number(numbered),
        **{name: F.col(_quoted(name)) for name in job.passthrough},
        "prediction": predict_udf(features),
    }
    if not regression:
        probabilities = _probability_udf(spark, job)(features)
        columns.update({f"proba_{c}": probabilities[f"proba_{c}"] for c in job.classes})
    constants = dict(job.constants)
    scored_at = F.timestamp_micros(F.lit(constants.pop("scored_at")))
    columns.update({name: F.lit(value) for name, value in constants.items()})
    columns["scored_at"] = scored_at
    return numbered.select(*[columns[f.name].alias(f.name) for f in job.out_schema])


def _row_number(numbered: "DataFrame") -> "Column":
    """The row's 0-based position in the batch: Spark reads a file's splits in order, and
    monotonically_increasing_id() is (partition << 33) + position within the partition."""
    from pyspark.sql import functions as F

    partition = F.shiftright(F.col("_id"), PARTITION_SHIFT)
    counts = dict(numbered.groupBy(partition.alias("p")).count().collect())
    offsets = row_offsets(counts)
    mapping = F.create_map(*[F.lit(v) for pair in offsets.items() for v in pair])
    within = F.col("_id") - F.shiftleft(partition, PARTITION_SHIFT)
    return (F.element_at(mapping, partition) + within).cast("long")


def _probability_udf(spark: "SparkSession", job: ScoringJob):
    """Class probabilities from the sklearn model, broadcast to the executors once."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import DoubleType, StructField, StructType

    names = [f"proba_{c}" for c in job.classes]
    model = spark.sparkContext.broadcast(job.model)

    @pandas_udf(StructType([StructField(name, DoubleType()) for name in names]))
    def probabilities(features: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(model.value.predict_proba(features), columns=names)

    return probabilities


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _reason(err: BaseException) -> str:
    """The causes of a Spark error (the JVM's "Caused by" lines, not its stack)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    if not causes:
        causes = [next((line for line in lines if "Exception" in line), type(err).__name__)]
    return "; ".join(cause[:300] for cause in dict.fromkeys(causes))
