"""Tables the data stages read and write on Spark (`engine=spark`): the session a stage
runs on, and its Spark table written as the one Parquet file the pandas engine writes,
so that every later stage, DVC and the lineage read the same file either way."""

# No `from __future__ import annotations`, as in spark_predict: PySpark reads the hints.
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config.base import Engine
from mlops_template.io.atomic import atomic_path
from mlops_template.io.spark_session import spark_session

if TYPE_CHECKING:
    import pandas as pd
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
    """`frame` as one Parquet file at `target`, its columns in `dtypes`' pandas dtypes:
    what pd.read_parquet reads from it equals the pandas engine's file. Written
    atomically: a failure leaves `target` as it was."""
    with (
        spark_parts(frame, target) as parts,
        atomic_path(target) as tmp,
        ParquetSink(tmp, dtypes) as sink,
    ):
        for chunk in chunks_of(parts):
            sink.write(chunk)
    return Path(target)


@contextmanager
def spark_parts(frame: "DataFrame", near: str | Path) -> Iterator[list[Path]]:
    """`frame` written by Spark (its partitions in parallel) into a folder beside `near`:
    its part files in the rows' order (Spark names them by partition), removed after."""
    Path(near).parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".spark-", dir=Path(near).parent))
    try:
        frame.write.parquet(str((staging / "parts").resolve()))
        yield sorted((staging / "parts").glob("part-*.parquet"))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def chunks_of(parts: list[Path]) -> Iterator["pd.DataFrame"]:
    """The part files' rows in order, a pandas chunk of at most COPY_ROWS at a time: the
    driver holds one chunk, not the table."""
    import pyarrow.parquet as pq

    for part in parts:
        for batch in pq.ParquetFile(part).iter_batches(batch_size=COPY_ROWS):
            yield batch.to_pandas()


class ParquetSink:
    """One Parquet file written a chunk at a time, in the pandas engine's dtypes (Spark
    has no nullable boolean and keeps timestamps as instants); with no rows, the columns."""

    def __init__(self, path: Path, dtypes: Mapping[str, str]) -> None:
        self.path, self.dtypes, self.writer, self.rows = path, dtypes, None, 0

    def write(self, chunk: "pd.DataFrame") -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(as_dtypes(chunk, self.dtypes), preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))
        self.rows += len(chunk)

    def __enter__(self) -> "ParquetSink":
        return self

    def __exit__(self, *exc: object) -> None:
        import pandas as pd

        if self.writer is not None:
            self.writer.close()
        elif exc[0] is None:
            columns = {name: pd.Series(dtype=d) for name, d in self.dtypes.items()}
            pd.DataFrame(columns).to_parquet(self.path, index=False, engine="pyarrow")


def as_dtypes(chunk, dtypes: Mapping[str, str]):
    """A chunk of Spark's rows in the pandas engine's dtypes: booleans with gaps as pandas'
    nullable boolean, timestamps (instants in UTC) as naive UTC datetimes, integers with
    gaps as pandas' nullable Int64 where the pandas engine has them."""
    import pandas as pd

    for name, dtype in dtypes.items():
        column = chunk[name]
        if str(column.dtype) == dtype:
            continue
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        chunk[name] = column.astype(dtype)
    return chunk[list(dtypes)]
