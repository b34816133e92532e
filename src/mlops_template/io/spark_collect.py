"""collect on a Spark session (engine=spark): a Parquet file or a Delta table read by the
same contract as the pandas engine, into the same raw.parquet.

Spark reads the rows; each partition's record batches are turned into pandas chunks as
the pandas engine reads the whole file (`plain_arrow`, then Arrow's `to_pandas` in the
file's own types), so a chunk equals the pandas reading of the same rows. The contract
is decided from facts merged across partitions and applied chunk by chunk
(core/raw_facts.py); the labelled batches join as `pd.concat` joins them. A Delta table
is read without the Delta connector: its current files, listed by deltalake, are read
in the log's order (the pandas engine's row order), partition values added as columns.
PySpark is imported inside functions: it is an optional extra."""

# No `from __future__ import annotations`, as in spark_tables.
import pickle
from dataclasses import dataclass
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_template.config import Config
from mlops_template.config.data import Data, FileData
from mlops_template.core.dataset_checks import require_target
from mlops_template.core.raw_facts import Facts, Plan, chunk_facts
from mlops_template.core.raw_tables import apply, plain_arrow
from mlops_template.io.datasets import (
    delta_snapshot,
    labelled_batches,
    planned,
    read_errors,
    refuse_duplicate_columns,
    refuse_missing_file,
    refuse_nested,
    refuse_unknown_drops,
    unbatched,
)
from mlops_template.io.spark_session import quoted
from mlops_template.io.spark_tables import spark_errors, write_parquet

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Spark settings for reading any file as pyarrow does (with spark_tables.DATA_SETTINGS):
# nanosecond timestamps (refused by Spark) read as their numbers, then cast; and chunks
# of rows big enough that pandas' work per column is the cost, not its calls.
READING = {
    "spark.sql.legacy.parquet.nanosAsLong": "true",
    "spark.sql.execution.arrow.maxRecordsPerBatch": "100000",
}


def reads_on_spark(data: Data) -> bool:
    """Whether collect reads this source on Spark: a Parquet file or a Delta table.
    Bundled, generated and CSV sources (small, or made on the driver) stay on pandas, and
    so do Parquet files at http(s) URLs, which pandas fetches."""
    return (
        isinstance(data, FileData)
        and data.format in ("parquet", "delta")
        and not data.path.startswith(("http://", "https://"))
    )


@dataclass
class Collected:
    rows: int
    columns: int
    batches: list[tuple[Path, pd.DataFrame]]  # the labelled batches added, as read


def collect_on_spark(spark: "SparkSession", cfg: Config) -> Collected:
    """cfg.data read on `spark` by the contract, its labelled batches appended, written to
    cfg.paths.raw: the file the pandas engine writes, row for row."""
    with spark_errors(
        f"{cfg.data.origin}: Spark could not read it as {cfg.data.format}", "collect"
    ):
        return _collect(spark, cfg)


def _collect(spark: "SparkSession", cfg: Config) -> Collected:
    import pyarrow as pa

    data = cfg.data
    for key, value in READING.items():
        spark.conf.set(key, value)
    batches = labelled_batches(cfg.paths.incoming, data)
    frame, schema = _source(spark, data, batches)
    read = _reader(schema, _widened(frame, schema))
    empty = read(pa.RecordBatch.from_pylist([], schema=schema).rename_columns(_named(schema)))
    facts = _facts(frame, read, chunk_facts(empty))
    if uncounted := facts.uncounted():  # decided by cells some partitions did not count
        subset = frame.select(*(_position(schema, n) for n in uncounted))
        facts = facts.recounted(_facts(subset, read, chunk_facts(empty[uncounted]), True))
    plan = planned(facts, cfg.read, data.origin)
    columns = apply(plan, empty)
    require_target(columns, data.target, data.origin)
    for path, batch in batches:
        require_target(batch, data.target, str(path))
    # The labelled rows as pd.concat appends them to the table's: its dtypes decide theirs.
    tail = pd.concat([columns, *(b for _, b in batches)], ignore_index=True)
    arrow_schema, spark_schema = _output_schemas(tail)
    out = frame.mapInArrow(_applying(plan, read, tail.iloc[:0], arrow_schema), spark_schema)
    if len(tail):
        rows = _arrow(tail).cast(arrow_schema)
        out = out.union(spark.createDataFrame(rows, schema=spark_schema))
    write_parquet(out, cfg.paths.raw, {str(c): str(t) for c, t in tail.dtypes.items()})
    return Collected(facts.rows + len(tail), tail.shape[1], batches)


def _source(
    spark: "SparkSession", data: FileData, batches: list[tuple[Path, pd.DataFrame]]
) -> tuple["DataFrame", Any]:
    """The rows as Spark reads them, the columns kept (not dropped, nor lacking in every
    labelled batch), in the order the pandas engine reads them, named by position
    (PySpark's mapInArrow cannot name some: a backtick); and their Arrow schema as pyarrow
    reads the file (its pandas metadata kept)."""
    import pyarrow as pa
    from pyspark.sql import functions as F

    if data.format == "delta":
        table, dataset = delta_snapshot(data)
        schema = dataset.schema
    else:
        refuse_missing_file(data)
        schema = _parquet_schema(data)
    refuse_nested(schema, data)
    names = list(plain_arrow(schema.empty_table()).to_pandas().columns)
    refuse_unknown_drops(names, data)
    dropped = {*data.drop_columns, *unbatched(names, batches, data)}
    kept = [f for f in schema if f.name not in dropped]
    schema = pa.schema(kept, metadata=schema.metadata)
    if data.format == "delta":
        frame = _delta_frame(spark, table, dataset, schema)
    else:
        path = data.path if "://" in data.path else str(Path(data.path).resolve())
        frame = spark.read.parquet(path).select(*(F.col(quoted(n)) for n in schema.names))
    return frame.toDF(*_named(schema)), schema


def _parquet_schema(data: FileData) -> Any:
    import pyarrow.parquet as pq

    with read_errors(data):
        schema = pq.read_schema(data.path)
    refuse_duplicate_columns(schema.names, data.path)
    return schema


def _delta_frame(spark: "SparkSession", table: Any, dataset: Any, schema: Any) -> "DataFrame":
    """The table's current files read one by one and appended in the log's order (Spark
    would order files by size), each file's partition values as literal columns."""
    import pyarrow.dataset as pds
    from pyspark.sql import functions as F
    from pyspark.sql.types import StructField, StructType

    partitioned = set(table.metadata().partition_columns)
    fields = {f.name: StructField(f.name, _spark_type(f.type)) for f in schema}
    in_files = StructType([fields[n] for n in schema.names if n not in partitioned])
    root = table.table_uri.rstrip("/")
    frames = []
    for fragment in dataset.get_fragments():
        values = pds.get_partition_keys(fragment.partition_expression)
        rows = spark.read.schema(in_files).parquet(f"{root}/{fragment.path}")
        value = {n: F.lit(values.get(n)).cast(fields[n].dataType).alias(n) for n in partitioned}
        frames.append(rows.select(*(value.get(n, F.col(quoted(n))) for n in schema.names)))
    if not frames:
        return spark.createDataFrame([], StructType(list(fields.values())))
    return reduce(lambda a, b: a.union(b), frames)


def _widened(frame: "DataFrame", schema: Any) -> dict[str, str]:
    """Columns Arrow gives pandas in another dtype when the table has a null in them:
    integers as float64, booleans as objects. A chunk without one is read so too."""
    from pyspark.sql import functions as F

    dtypes = plain_arrow(schema.empty_table()).to_pandas().dtypes
    widening = {
        str(name): "float64" if dtype.kind in "iu" else "object"
        for name, dtype in dtypes.items()
        if isinstance(dtype, np.dtype) and dtype.kind in "iub"
    }
    if not widening:
        return {}
    nulls = [F.max(F.col(_position(schema, n)).isNull().cast("int")) for n in widening]
    row = frame.select(*nulls).first()
    return {n: dtype for (n, dtype), null in zip(widening.items(), row, strict=True) if null}


def _reader(schema: Any, widened: dict[str, str]):
    """A record batch from Spark as a pandas chunk read as the pandas engine reads the file:
    in the file's Arrow types (Spark has no unsigned integers, dictionaries, time zones of
    its own or nanoseconds), by `plain_arrow` and `to_pandas`."""
    import pyarrow as pa

    # The file's types, dictionaries as their values (Spark's strings): plain_arrow
    # reads decimals from their text, as the pandas engine does.
    types = [
        f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema
    ]

    def read(batch: Any) -> pd.DataFrame:
        fields = [types[int(name[1:])] for name in batch.schema.names]  # _0, _1, ...
        arrays = [
            pa.nulls(len(column)) if pa.types.is_null(f.type) else column.cast(f.type)
            for column, f in zip(batch.columns, fields, strict=True)
        ]
        typed = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields, schema.metadata))
        chunk = plain_arrow(typed).to_pandas()
        for name in set(widened) & set(chunk.columns):
            chunk[name] = chunk[name].astype(widened[name])
        return chunk

    return read


def _facts(frame: "DataFrame", read, base: Facts, exact: bool = False) -> Facts:
    """The facts of each partition (its batches' merged), merged in partition order."""
    import pyarrow as pa

    def partition_facts(batches):
        from pyspark import TaskContext

        facts = None
        for batch in batches:
            chunk = chunk_facts(read(batch), exact)
            facts = chunk if facts is None else facts.merged(chunk)
        if facts is not None:
            partition = pa.array([TaskContext.get().partitionId()], pa.int32())
            blob = pa.array([pickle.dumps(facts)], pa.binary())
            yield pa.RecordBatch.from_arrays([partition, blob], names=["partition", "facts"])

    rows = frame.mapInArrow(partition_facts, "partition int, facts binary").collect()
    for row in sorted(rows, key=lambda r: r["partition"]):
        base = base.merged(pickle.loads(row["facts"]))
    return base


def _applying(plan: Plan, read, columns: pd.DataFrame, arrow_schema: Any):
    """The function each partition's batches go through: read, the plan applied, the
    columns (and dtypes) of the table with its labelled batches."""

    def applied(batches):
        for batch in batches:
            chunk = pd.concat([apply(plan, read(batch)), columns], ignore_index=True)
            yield from _arrow(chunk).cast(arrow_schema).combine_chunks().to_batches()

    return applied


def _output_schemas(frame: pd.DataFrame) -> tuple[Any, Any]:
    """The Arrow schema Spark takes the collected rows in, and the Spark schema."""
    from pyspark.sql.pandas.types import to_arrow_schema
    from pyspark.sql.types import StructField, StructType

    arrow = _arrow(frame).schema
    spark = StructType([StructField(f.name, _spark_type(f.type)) for f in arrow])
    return to_arrow_schema(spark), spark


def _arrow(frame: pd.DataFrame) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, preserve_index=False)


def _spark_type(arrow_type: Any) -> Any:
    """Spark's type for an Arrow type: unsigned integers in a wider signed one (uint64 as
    decimal(20,0), as Spark reads it), durations as their counts, a column of no values as
    text."""
    import pyarrow as pa
    from pyspark.sql import types as T
    from pyspark.sql.pandas.types import from_arrow_type

    if pa.types.is_unsigned_integer(arrow_type):
        wider = {8: T.ShortType(), 16: T.IntegerType(), 32: T.LongType()}
        return wider.get(arrow_type.bit_width, T.DecimalType(20, 0))
    if pa.types.is_float16(arrow_type):
        return T.FloatType()
    if pa.types.is_null(arrow_type):
        return T.StringType()
    if pa.types.is_duration(arrow_type):
        return T.LongType()
    return from_arrow_type(arrow_type)


def _named(schema: Any) -> list[str]:
    """The columns' names on Spark: their positions (_0, _1, ...)."""
    return [f"_{i}" for i in range(len(schema))]


def _position(schema: Any, name: str) -> str:
    return f"_{schema.get_field_index(name)}"
