"""One archive of the classes Spark's JVM loads (Java's class data sharing), for every JVM
the tests start: mapped from it, a local session and its first jobs take half the CPU
(8.5 s -> 4.4 s here, both with C1 only). Made once per environment (about 20 s) by a JVM
that ran a session and dumped its classes at exit, before the first test; where it cannot
be made, the JVMs start as before. An archive that does not match (another Java, other
jars) is skipped silently: its name carries the Java and PySpark that made it.

`python -m tests.helpers.spark_classes ARCHIVE` makes the archive."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops_template.io.spark_session import launcher_java

# C1 only: on the tests' small tables the optimising compiler costs more CPU than it saves.
JAVA_OPTIONS = "-XX:TieredStopAtLevel=1 -Xlog:cds=off,cds+dynamic=off"
MAKING_TIMEOUT = 300  # seconds


def archive_path() -> Path | None:
    """Where this environment's archive lives: beside its Python, named after the Java
    and PySpark that made it (no Java or PySpark: None)."""
    try:
        import pyspark
    except ImportError:
        return None
    java = launcher_java()  # the one every Spark JVM of the tests is
    if java is None or not os.access(java, os.X_OK):
        return None
    said = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    build = hashlib.sha256(f"{said.stderr}{pyspark.__version__}".encode()).hexdigest()[:12]
    return Path(sys.prefix) / f"spark-classes-{build}.jsa"


def submit_args(archive: Path | None, dump: bool = False) -> str:
    """PYSPARK_SUBMIT_ARGS for the tests' JVMs: no archive named if none is ready (a
    named archive that is missing would turn off the JDK's own one too)."""
    option = "ArchiveClassesAtExit" if dump else "SharedArchiveFile"
    shared = f" -XX:{option}={archive}" if archive else ""
    return f"--driver-java-options '{JAVA_OPTIONS}{shared}' pyspark-shell"


def ready_archive() -> Path | None:
    """This environment's archive, made now if it is not there yet; None without Java or
    PySpark, where Spark would split its path (a space), or where making it failed once
    (said in `<archive>.failed`)."""
    archive = archive_path()
    if archive is None or " " in str(archive):
        return None
    failed = archive.with_suffix(".failed")
    if archive.exists():
        return archive
    if failed.exists():
        return None
    print(f"making {archive.name} for the tests' Spark JVMs (once)", file=sys.__stderr__)
    maker = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.spark_classes", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its JVM too is stopped if it takes too long
        cwd=Path(__file__).parents[2],
    )
    try:
        said = maker.communicate(timeout=MAKING_TIMEOUT)[0]
    except subprocess.TimeoutExpired:
        os.killpg(maker.pid, signal.SIGKILL)
        said = maker.communicate()[0] + f"\nno archive after {MAKING_TIMEOUT} s"
    if maker.returncode == 0 and archive.exists():
        for old in archive.parent.glob("spark-classes-*.jsa"):  # another Java's or PySpark's
            if old != archive:
                old.unlink()
        return archive
    with contextlib.suppress(OSError):  # a read-only environment: tried again next time
        failed.write_text(said)
    return None


def make(archive: Path) -> None:
    """Run a session through what the tests' sessions do (a frame from pandas, Parquet
    written and read, aggregates, rows back to pandas) in a JVM that dumps its classes
    when it exits; the archive appears whole (renamed) once that JVM has exited well."""
    import pandas as pd

    from mlops_template.config.base import Engine
    from mlops_template.io.spark_tables import data_session

    partial = archive.with_name(f"{archive.name}.{os.getpid()}.tmp")
    os.environ["PYSPARK_SUBMIT_ARGS"] = submit_args(partial, dump=True)
    jvm = None
    try:
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
            if jvm.wait(timeout=120) != 0:
                raise RuntimeError(f"the JVM exited with {jvm.returncode}")
        os.replace(partial, archive)
    finally:
        if jvm is not None and jvm.poll() is None:
            jvm.kill()
        partial.unlink(missing_ok=True)


if __name__ == "__main__":
    make(Path(sys.argv[1]))
