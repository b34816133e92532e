"""predict --engine spark: the same checked batch scored on a Spark session, into the same table.

Spark reads the batch; `mlflow.pyfunc.spark_udf` gives each row's prediction (the model's
own predict, as the REST server answers) and a pandas UDF on the same sklearn model gives
the class probabilities. Executors write Parquet files under the table's directory; the
driver then adds them to the Delta log in one commit, so a job that fails leaves the
table as it was.
"""

# No `from __future__ import annotations`: pandas_udf reads its function's type hints.
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config import Predict
from mlops_template.core.batch_checks import SHOWN, describe_unseen
from mlops_template.core.logged_inputs import input_columns, input_fields
from mlops_template.core.raw_rows import MISSING_TOKENS
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table
from mlops_template.io.batch_files import batch_columns, batch_format, refuse_empty
from mlops_template.io.model_versions import signature_readable
from mlops_template.io.spark_session import SPARK_LOG, quoted, spark_reason, spark_session
from mlops_template.operate.batch.scoring_job import ScoringJob

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession


# A number as the pandas engine reads a CSV cell: decimal, exponent, inf or nan, in any
# case, spaces around it.
DECIMAL = r"(?i)^\s*[+-]?((\d+\.?\d*|\.\d+)(e[+-]?\d+)?|inf|infinity|nan)\s*$"
# monotonically_increasing_id() puts the partition index above this many bits.
PARTITION_SHIFT = 33


def row_offsets(counts: dict[int, int]) -> dict[int, int]:
    """First row number of each partition, given the rows in each (partitions in file order)."""
    offsets, total = {}, 0
    for partition in sorted(counts):
        offsets[partition] = total
        total += counts[partition]
    return offsets


def score_with_spark(job: ScoringJob, settings: Predict) -> int:
    # Checked before Spark starts: a table whose columns conflict would refuse the rows,
    # and MLflow's UDF would fail on a signature it cannot read in each task.
    signature_readable(job.folder, job.ref.label)
    predictions_table.prepare_for(job.table, job.out_schema)
    # predict holds the table's lock: no other writer can make the table meanwhile, so a
    # failed job may remove a table it started.
    new_table = not Path(job.table).exists()
    staging = Path(job.table) / f"spark-{uuid.uuid4().hex}"
    spark = None
    try:
        spark = spark_session(settings.spark)
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
            f"{job.path}: Spark could not score the batch: {spark_reason(err)} "
            f"(Spark's own output: {SPARK_LOG})"
        ) from None
    finally:
        if spark is not None:
            spark.stop()


def _read_batch(spark: "SparkSession", job: ScoringJob) -> "DataFrame":
    """The batch as Spark reads it, training columns typed as the pandas engine reads them."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    kinds = {c.name: c.kind for c in job.schema.columns}
    path = str(job.path.resolve())
    if batch_format(job.path) == "parquet":
        frame = spark.read.parquet(path)
    else:
        header = list(batch_columns(job.path, job.schema))  # as the checks read it
        # Read as text: Spark's CSV reader refuses `NA` in a number column, which pandas
        # reads as missing (docs/reading-rules.md: any path).
        fields = [StructField(name, StringType()) for name in header]
        frame = spark.read.csv(path, schema=StructType(fields), header=True, mode="FAILFAST")
        frame = frame.select(
            *(
                _number(F.col(quoted(name)), name) if kinds.get(name) == "numeric" else quoted(name)
                for name in header
            )
        )
    typed = [
        F.col(quoted(name)).cast("double" if kind == "numeric" else "string").alias(name)
        for name, kind in kinds.items()
    ]
    passthrough = [F.col(quoted(name)).cast("string").alias(name) for name in job.passthrough]
    return frame.select(*typed, *passthrough)


def _number(text: "Column", name: str) -> "Column":
    """A CSV cell as a number: missing where pandas reads a missing marker, and a job
    that fails naming the column and the cell where it holds text that is no number."""
    from pyspark.sql import functions as F

    # Java's parser, which try_cast uses, also takes `1d`, `1f` and `0x1p3`; the pandas
    # engine does not.
    number = F.when(text.rlike(DECIMAL), text.try_cast("double"))
    said = F.concat(F.lit(f"column '{name}' holds text that is no number: '"), text, F.lit("'"))
    return (
        F.when(text.isNull() | text.isin(list(MISSING_TOKENS)), F.lit(None).cast("double"))
        .when(number.isNotNull(), number)
        .otherwise(F.raise_error(said).cast("double"))
        .alias(name)
    )


def _rows_and_any_value(frame: "DataFrame", schema: TrainingSchema) -> tuple[int, bool]:
    """The row count, and whether any feature cell is present (one job): as the pandas
    engine reads cells, NaN and the contract's missing markers in text are missing too."""
    from pyspark.sql import functions as F

    present = F.lit(False)
    for column in schema.columns:
        col = F.col(quoted(column.name))
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
        if not column.has_listed_values:
            continue
        col = F.col(quoted(column.name))
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

    features = F.struct(*[F.col(quoted(name)) for name in job.features])
    regression = job.classes is None
    predict_udf = mlflow.pyfunc.spark_udf(
        spark, job.folder, env_manager="local", result_type="double" if regression else "string"
    )
    numbered = frame.withColumn("_id", F.monotonically_increasing_id())
    columns = {
        "row_number": _row_number(numbered),
        **{name: F.col(quoted(name)) for name in job.passthrough},
        "prediction": predict_udf(features),
    }
    if not regression:
        probabilities = _probability_udf(spark, job)(features)
        columns.update({f"proba_{c}": probabilities[f"proba_{c}"] for c in job.classes})
    inputs = _inputs_udf(job)(features)
    columns.update({f.name: inputs[f.name] for f in input_fields(job.schema)})
    constants = dict(job.constants)
    scored_at = F.timestamp_micros(F.lit(constants.pop("scored_at")))
    # Typed, a null one (request_id) too: a bare null literal has no type to write.
    columns.update(
        {
            name: F.lit(value).cast("boolean" if isinstance(value, bool) else "string")
            for name, value in constants.items()
        }
    )
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


def _inputs_udf(job: ScoringJob):
    """The features as the contract reads them (core/logged_inputs.py), as the pandas
    engine logs them."""
    import pandas as pd
    import pyarrow as pa
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.pandas.types import from_arrow_type
    from pyspark.sql.types import StructField, StructType

    fields = input_fields(job.schema)
    # Spark's timestamps are instants, read and written in the session's zone (UTC).
    spark_types = [
        from_arrow_type(pa.timestamp("us") if pa.types.is_timestamp(f.type) else f.type)
        for f in fields
    ]
    struct = StructType([StructField(f.name, t) for f, t in zip(fields, spark_types, strict=True)])
    schema, infinity = job.schema, job.infinity

    @pandas_udf(struct)
    def inputs(features: pd.DataFrame) -> pd.DataFrame:
        read = pa.table(input_columns(features, schema, infinity)).to_pandas()
        return read.set_axis(features.index)

    return inputs
