"""prepare on Spark (`engine=spark`): raw rows relabelled and sided by the pandas engine's
per-row functions (core/split.sided) a Spark partition at a time; the driver writes the
two files as the pandas engine does (io/split_files.py), a chunk at a time."""

# No `from __future__ import annotations`: PySpark reads the UDF's hints.
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config import Config
from mlops_template.core.split import refuse_key_column, sided
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.parquet_chunks import (
    as_dtypes,
    exact_pandas,
    pandas_dtypes,
    parquet_chunks,
)
from mlops_template.io.spark_tables import spark_parts
from mlops_template.io.split_files import split_dtypes, write_split

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

SIDE = "__in_test"  # the column Spark adds to each row for the driver to read


def split_on_spark(spark: "SparkSession", cfg: Config, report: ValidationReport) -> tuple[int, int]:
    """Write paths.train and paths.test from paths.raw as the pandas engine does (the same
    rows, in the same order, the same refusals); return their rows."""
    import pyarrow as pa
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import BooleanType, StructField, StructType

    raw = pandas_dtypes(cfg.paths.raw)
    frame = spark.read.parquet(str(Path(cfg.paths.raw).resolve()))
    names = frame.columns
    refuse_key_column(names, report.target, cfg.split.key)  # before Spark's work
    # Through mapInArrow by position (_0, _1, ...): it cannot resolve some names (a dot).
    positional = frame.toDF(*(f"_{i}" for i in range(len(names))))
    schema = StructType([*positional.schema.fields, StructField(SIDE, BooleanType(), False)])
    arrow_schema = to_arrow_schema(schema)

    def flagged(batches):  # Arrow, not Spark's own pandas conversion: integers stay exact
        for batch in batches:
            named = batch.rename_columns(names)
            rows, in_test = sided(as_dtypes(exact_pandas(named), raw), report, cfg.split)
            flags = rows.assign(**{SIDE: in_test}).set_axis(arrow_schema.names, axis=1)
            yield pa.RecordBatch.from_pandas(flags, schema=arrow_schema, preserve_index=False)

    sided_rows = positional.mapInArrow(flagged, schema).toDF(*names, SIDE)
    with spark_parts(sided_rows, cfg.paths.train) as parts:
        chunks = ((c, c.pop(SIDE).to_numpy(dtype=bool)) for c in parquet_chunks(parts))
        return write_split(chunks, frame.columns, cfg, report, split_dtypes(raw, report))
