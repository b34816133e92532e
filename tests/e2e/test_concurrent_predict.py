"""predict from real processes at once: a batch lands in the table exactly once, and table
paths predict cannot write to are refused in one line."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mlops_template.io import table_lock
from mlops_template.io.lineage import file_md5
from tests.e2e.test_predict import TABLE, _write, batch

pytestmark = pytest.mark.slow


def test_the_same_batch_from_many_processes_is_scored_once(copy, tmp_path):
    frame = batch(copy)
    same = _write(tmp_path / "same.parquet", frame)
    others = [
        _write(tmp_path / "other.csv", frame.head(50)),
        _write(tmp_path / "another.parquet", frame.tail(70)),
    ]
    # Four writers of one batch (one of them on Spark) and two of others, into a table
    # none of them finds: they race to make it too.
    commands = [["predict", str(same)] for _ in range(3)]
    commands += [["predict", str(same), "--engine", "spark"]]
    commands += [["predict", str(path)] for path in others]
    logs = [tmp_path / f"predict-{i}.log" for i in range(len(commands))]
    # The test holds the table's lock until every process waits for it, so all of them
    # have found the batch not yet scored: the worst case, whatever the machine's speed.
    started: list[subprocess.Popen] = []
    try:
        with table_lock.locked(str(copy.path(TABLE))):
            started += [_started(copy, args, log) for args, log in zip(commands, logs, strict=True)]
            _until_all_wait(started, logs)
        for process, log in zip(started, logs, strict=True):
            process.wait(timeout=600)
            assert process.returncode == 0 and "Traceback" not in log.read_text(), log.read_text()
    finally:
        for process in started:  # those a failure left running
            if process.poll() is None:
                process.kill()
                process.wait()

    outputs = [log.read_text() for log in logs[:4]]
    assert sum("rows appended" in out for out in outputs) == 1, outputs
    assert sum("nothing to do" in out for out in outputs) == 3, outputs
    rows = DeltaTable(str(copy.path(TABLE))).to_pandas()
    for path, expected in [(same, len(frame)), (others[0], 50), (others[1], 70)]:
        scored = rows[rows["batch_hash"] == file_md5(path)]
        assert len(scored) == expected, f"{path.name}: {len(scored)} rows, not {expected}"
        assert sorted(scored["row_number"]) == list(range(expected))
    assert len(rows) == len(frame) + 120
    assert DeltaTable(str(copy.path(TABLE))).version() == 2  # one commit per batch


def _started(copy, args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mlops_template", *args],
            cwd=copy.root,
            env=copy.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _until_all_wait(started: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + 300
    while not all("another process is writing to it" in log.read_text() for log in logs):
        for process, log in zip(started, logs, strict=True):
            assert process.poll() is None, f"ended without waiting for the lock:\n{log.read_text()}"
        assert time.monotonic() < deadline, "the processes did not all reach the table's lock"
        time.sleep(0.2)


@pytest.mark.parametrize("kind", ["file", "folder", "foreign"])
def test_a_table_path_predict_cannot_write_to_is_refused(copy, tmp_path, kind):
    table = tmp_path / "predictions"
    if kind == "file":
        table.write_text("a file, not a table")
        expected = "is a file"
    elif kind == "folder":
        table.mkdir()
        (table / "notes.txt").write_text("someone else's")
        expected = "is a directory with files in it but not a Delta table"
    else:
        write_deltalake(str(table), pa.table({"customer": ["a", "b"], "score": [0.5, 0.7]}))
        expected = "is a Delta table but not a predictions table"
    before = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    path = _write(tmp_path.parent / f"batch-{kind}.parquet", batch(copy))
    refused = copy.main("predict", str(path), "--table", str(table), check=False)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    error = refused.stderr.strip().splitlines()[-1]
    assert error.startswith("error:") and str(table) in error and expected in error, error
    after = sorted((p.relative_to(tmp_path), p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert after == before  # nothing written, not even a lock file
