"""One archive of the classes Spark's JVM loads (Java's class data sharing), for every JVM
the tests start: mapped from it, a local session and its first jobs take half the CPU
(8.5 s -> 4.4 s here). Made once per environment, in the background, by a JVM that ran a
session and dumped its classes at exit; until it is there, JVMs start without it (a
missing archive is no error), and one that does not match (another Java, other jars) is
skipped silently.

`python -m tests.helpers.spark_classes ARCHIVE` makes the archive."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# C1 only: on the tests' small tables the optimising compiler costs more CPU than it saves.
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -Xlog:cds=off,cds+dynamic=off"


def archive_path() -> Path | None:
    """Where this environment's archive lives: beside its Python, named after the Java
    and PySpark that made it (no Java or PySpark: None)."""
    home = os.environ.get("JAVA_HOME")
    java = (home and shutil.which("java", path=os.path.join(home, "bin"))) or shutil.which("java")
    try:
        import pyspark
    except ImportError:
        return None
    if java is None:
        return None
    said = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    build = hashlib.sha256(f"{said.stderr}{pyspark.__version__}".encode()).hexdigest()[:12]
    return Path(sys.prefix) / f"spark-classes-{build}.jsa"


def submit_args(archive: Path | None, dump: bool = False) -> str:
    option = "ArchiveClassesAtExit" if dump else "SharedArchiveFile"
    shared = f" -XX:{option}={archive}" if archive else ""
    return f"--driver-java-options '{JAVA_OPTIONS}{shared}' pyspark-shell"


def make_in_background(archive: Path, log: Path) -> None:
    """Start making the archive, unless it is there; this process does not wait."""
    if archive.exists():
        return
    with log.open("w") as out:
        subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.spark_classes", str(archive)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=Path(__file__).parents[2],
        )


def make(archive: Path) -> None:
    """Run a session through what the tests' sessions do (a frame from pandas, Parquet
    written and read, aggregates, rows back to pandas) in a JVM that dumps its classes
    when it exits; the archive appears whole (renamed) once that JVM has exited."""
    import pandas as pd

    from mlops_template.config.base import Engine
    from mlops_template.io.spark_tables import data_session

    partial = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    os.environ["PYSPARK_SUBMIT_ARGS"] = submit_args(partial, dump=True)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the JVM's log: reports/spark/
        session = data_session(Engine(name="spark", spark={"master": "local[2]"}), "classes")
        jvm = session.sparkContext._gateway.proc
        frame = session.createDataFrame(pd.DataFrame({"a": range(100), "b": ["x", "y"] * 50}))
        frame.write.parquet("rows.parquet")
        rows = session.read.parquet("rows.parquet")
        rows.groupBy("b").agg({"a": "min"}).collect()
        rows.selectExpr("count(distinct a)", "max(b)").collect()
        rows.toPandas()
        session.stop()
        jvm.stdin.close()  # PySpark's gateway exits when its stdin closes; then it dumps
        jvm.wait(timeout=120)
    if partial.exists():
        os.replace(partial, archive)


if __name__ == "__main__":
    make(Path(sys.argv[1]))
