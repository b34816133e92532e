"""Tables the data stages read and write on Spark (`engine=spark`): the session a stage
runs on, and its Spark table written as the one Parquet file the pandas engine writes,
so that every later stage, DVC and the lineage read the same file either way."""

# No `from __future__ import annotations`, as in spark_predict: PySpark reads the hints.
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config.base import Engine
from mlops_template.io.atomic import write_with
from mlops_template.io.spark_session import spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# Rows per record batch copied from Spark's part files into the stage's one file.
COPY_ROWS = 200_000


def stage_log(stage: str) -> Path:
    """Where the JVM's own output goes while `stage` runs."""
    return Path("reports/spark") / f"{stage}.log"


def data_session(engine: Engine, stage: str) -> "SparkSession":
    return spark_session(engine.spark, app=f"mlops-template {stage}", log=stage_log(stage))


def pandas_dtypes(path: str | Path) -> dict[str, str]:
    """The pandas dtype of each column of a Parquet file, as pd.read_parquet gives it."""
    import pyarrow.parquet as pq

    empty = pq.read_schema(path).empty_table().to_pandas()
    return {str(name): str(dtype) for name, dtype in empty.dtypes.items()}


def write_parquet(frame: "DataFrame", target: str | Path, dtypes: Mapping[str, str]) -> Path:
    """`frame` as one Parquet file at `target`, its columns in `dtypes`' pandas dtypes
    (Spark has no nullable boolean, and keeps timestamps as instants): what pd.read_parquet
    reads from it equals the pandas engine's file. Spark writes its partitions in parallel;
    they are copied in partition order (the rows' order) a batch at a time, so the driver
    holds one batch, not the table. Written atomically: a failure leaves `target` as it was."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    Path(target).parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".spark-", dir=Path(target).parent))
    try:
        parts_dir = staging / "parts"
        frame.write.parquet(str(parts_dir.resolve()))
        parts = sorted(parts_dir.glob("part-*.parquet"))

        def copy(tmp: Path) -> None:
            writer = None
            try:
                for part in parts:
                    for batch in pq.ParquetFile(part).iter_batches(batch_size=COPY_ROWS):
                        chunk = _as_dtypes(batch.to_pandas(), dtypes)
                        table = pa.Table.from_pandas(chunk, preserve_index=False)
                        if writer is None:
                            writer = pq.ParquetWriter(tmp, table.schema)
                        writer.write_table(table.cast(writer.schema))
                if writer is None:  # no rows: the columns still
                    empty = _as_dtypes(
                        pq.read_schema(parts[0]).empty_table().to_pandas()
                        if parts
                        else _empty(frame),
                        dtypes,
                    )
                    empty.to_parquet(tmp, index=False, engine="pyarrow")
            finally:
                if writer is not None:
                    writer.close()

        return write_with(target, copy)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _empty(frame: "DataFrame"):
    import pandas as pd

    return pd.DataFrame({name: pd.Series(dtype=object) for name in frame.columns})


def _as_dtypes(chunk, dtypes: Mapping[str, str]):
    """A chunk of Spark's rows in the pandas engine's dtypes: booleans with gaps as pandas'
    nullable boolean, timestamps (instants in UTC) as naive UTC datetimes."""
    import pandas as pd

    for name, dtype in dtypes.items():
        column = chunk[name]
        if str(column.dtype) == dtype:
            continue
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        chunk[name] = column.astype(dtype)
    return chunk[list(dtypes)]
