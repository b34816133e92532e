"""The Spark session the data stages (`engine=spark`) and `predict --engine spark` run on:
Java checked first, settings that make Spark's tables match the pandas engine's, and the
JVM's own output kept in a log."""

# No `from __future__ import annotations`, as in spark_predict.
import os
import shutil
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_template.config.base import Spark
from mlops_template.errors import PipelineError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

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


# Spark's own output (the JVM's, and that of the Python workers it starts in local mode).
SPARK_LOG = Path("reports/spark/predict.log")
_started_logs: set[Path] = set()  # logs a JVM of this process writes to


# PySpark 4 (pyproject.toml's spark extra) runs on Java 17 or later.
JAVA_NEEDED = 17


def launcher_java() -> str | None:
    """The java Spark's launcher (spark-class) runs: $JAVA_HOME/bin/java if JAVA_HOME is
    set (there or not), else java on PATH; None if neither is set or found."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home, "bin", "java")) if home else shutil.which("java")


def check_java() -> None:
    """The java Spark's launcher would run, found and new enough; else a one-line error
    (PySpark says only that its gateway exited)."""
    import re
    import subprocess

    home = os.environ.get("JAVA_HOME")
    java = launcher_java()
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


def spark_session(
    settings: Spark, app: str = "mlops-template predict", log: Path = SPARK_LOG
) -> "SparkSession":
    """A session on `settings.master` (local[*], or a cluster's URL) with its `conf`; a
    session this process already has is reused (its settings stay as they were)."""
    check_java()  # before PySpark starts its JVM
    from pyspark.sql import SparkSession

    # Executors run the model in this environment's Python unless told otherwise.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # PySpark warns about pandas 3 on every UDF; the parity test checks the results.
    warnings.filterwarnings("ignore", "PySpark does not yet fully support", FutureWarning)
    master = settings.master
    local = master.startswith("local")
    if local:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    conf = {**TABLE_SETTINGS, **(LOCAL_SETTINGS if local else {})}
    conf["spark.ui.showConsoleProgress"] = "false"  # the bar would go to the log
    conf.update({key: str(value) for key, value in settings.conf.items()})
    builder = SparkSession.builder.appName(app).master(master)
    for key, value in conf.items():
        builder = builder.config(key, value)
    with output_to(log):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # failures are raised, and reported once
    return spark


def quoted(name: str) -> str:
    """A column name as Spark reads it literally (dots, spaces, backticks and all)."""
    return "`" + name.replace("`", "``") + "`"


def spark_reason(err: BaseException) -> str:
    """The causes of a Spark error (the JVM's "Caused by" lines, not its stack), or the
    last line of a Python worker's traceback."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    if not causes and any(line.startswith("Traceback") for line in lines):
        causes = lines[-1:]
    if not causes:
        # py4j puts ": " before the JVM's exception line ("... calling o53.parquet.\n: ...");
        # PySpark's own errors say their condition on the first ("[UNRESOLVED_COLUMN] ...").
        found = (line.removeprefix(": ") for line in lines if "Exception" in line)
        first = f"{type(err).__name__}: {lines[0]}" if lines else type(err).__name__
        causes = [next(found, first)]
    return "; ".join(cause[:300] for cause in dict.fromkeys(causes))


@contextmanager
def output_to(log: Path) -> Iterator[None]:
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
