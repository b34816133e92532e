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
from mlops_template.errors import PipelineError
from mlops_template.io.atomic import atomic_path
from mlops_template.io.parquet_chunks import ParquetSink, parquet_chunks
from mlops_template.io.spark_session import spark_reason, spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


@contextmanager
def spark_errors(what: str, stage: str) -> Iterator[None]:
    """A failed Spark job as one line naming `what` and the cause (the JVM's, or a Python
    worker's last line), not the JVM's stack; other errors (a full disk) as they are."""
    try:
        yield
    except Exception as err:
        if not type(err).__module__.startswith(("py4j", "pyspark")):
            raise
        raise PipelineError(
            f"{what}: {spark_reason(err)} (Spark's own output: {stage_log(stage)})"
        ) from None


def stage_log(stage: str) -> Path:
    """Where the JVM's own output goes while `stage` runs."""
    return Path("reports/spark") / f"{stage}.log"


# Columns by their exact names, as pandas reads them ('Churn' beside 'churn').
DATA_SETTINGS = {"spark.sql.caseSensitive": "true"}


def data_session(engine: Engine, stage: str) -> "SparkSession":
    """The stage's session. Local only: the stages' files are the project's (DVC tracks
    them), and a cluster's executors would write their parts where the driver cannot
    read them."""
    if not engine.spark.master.startswith("local"):
        raise PipelineError(
            f"engine.spark.master={engine.spark.master}: the data stages run on a local "
            "master (local[*]) for now: their files live in the project, which a cluster's "
            "executors do not share (predict --engine spark runs on a cluster)"
        )
    settings = engine.spark.model_copy(update={"conf": {**engine.spark.conf, **DATA_SETTINGS}})
    return spark_session(settings, app=f"mlops-template {stage}", log=stage_log(stage))


def write_parquet(frame: "DataFrame", target: str | Path, dtypes: Mapping[str, str]) -> Path:
    """`frame` as one Parquet file at `target`, its columns in `dtypes`' pandas dtypes:
    what pd.read_parquet reads from it equals the pandas engine's file. Written
    atomically: a failure leaves `target` as it was."""
    with (
        spark_parts(frame, target) as parts,
        atomic_path(target) as tmp,
        ParquetSink(tmp, dtypes) as sink,
    ):
        for chunk in parquet_chunks(parts):
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
        # part-00012-<uuid>...: in partition order by number (past 99,999 by name is not).
        yield sorted(
            (staging / "parts").glob("part-*.parquet"), key=lambda p: int(p.name.split("-")[1])
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
