"""The predictions table's guards, on real Delta tables: paths it refuses, and its lock."""

from __future__ import annotations

import fcntl
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mlops_template.errors import PipelineError
from mlops_template.io import logged_predictions, predictions_table, table_lock

from .conftest import REPO

SCHEMA = predictions_table.table_schema(["0", "1"], [], [])


def rows(n: int, schema: pa.Schema = SCHEMA) -> pa.Table:
    values = {
        "row_number": pa.array(range(n), pa.int64()),
        "request_id": pa.nulls(n, pa.string()),
        "prediction": pa.array(["1"] * n),
        "proba_0": pa.array([0.2] * n),
        "proba_1": pa.array([0.8] * n),
        "scored_at": pa.array([0] * n, pa.timestamp("us", tz="UTC")),
    }
    constants = {"model_name": "m", "model_version": "1", "model_alias": "", "batch_hash": "h"}
    values.update({name: pa.array([value] * n) for name, value in constants.items()})
    values["shadow"] = pa.array([False] * n)
    return pa.table([values[f.name] for f in schema], schema=schema)


def refused(table: Path, *expected: str, schema: pa.Schema | None = SCHEMA) -> None:
    before = sorted(p.relative_to(table.parent) for p in table.parent.rglob("*"))
    with pytest.raises(PipelineError) as err:
        predictions_table.check(str(table), schema)
    message = str(err.value)
    assert "\n" not in message and str(table) in message
    for text in expected:
        assert text in message, message
    assert sorted(p.relative_to(table.parent) for p in table.parent.rglob("*")) == before


def test_a_new_table_an_empty_directory_and_a_predictions_table_are_accepted(tmp_path):
    table = tmp_path / "predictions"
    predictions_table.check(str(table), SCHEMA)
    table.mkdir()
    predictions_table.check(str(table), SCHEMA)
    write_deltalake(str(table), rows(3))
    predictions_table.check(str(table), SCHEMA)
    predictions_table.check(str(table))


def test_a_file_is_refused(tmp_path):
    table = tmp_path / "predictions"
    table.write_text("not a table")
    refused(table, "is a file", "--table")
    refused(table, "is a file", schema=None)


def test_a_directory_of_other_files_is_refused(tmp_path):
    table = tmp_path / "predictions"
    table.mkdir()
    (table / "notes.txt").write_text("mine")
    refused(table, "not a Delta table", "refusing to write into it")


def test_a_foreign_delta_table_is_refused_by_name(tmp_path):
    table = tmp_path / "predictions"
    write_deltalake(str(table), pa.table({"a": [1, 2], "batch_hash": ["x", "y"]}))
    refused(table, "not a predictions table", "row_number", "model_version", schema=None)
    with pytest.raises(PipelineError) as err:
        predictions_table.check(str(table), SCHEMA)
    assert "batch_hash" not in str(err.value)  # it has that one


def test_a_predictions_table_with_other_types_is_refused(tmp_path):
    """The Delta writer's schema merge would cast a regression's float predictions into a
    classifier's string column; the check refuses them first."""
    table = tmp_path / "predictions"
    write_deltalake(str(table), rows(3))
    regression = predictions_table.table_schema(None, [], [])
    refused(
        table,
        "do not fit the table's columns",
        "prediction: table string, batch double",
        schema=regression,
    )
    predictions_table.check(str(table))  # the columns are all there: fine without a schema


def _readers_refuse(table: Path, *expected: str) -> None:
    """The log's readers (labels, monitor --log, shadow-report) say it in one line."""
    with pytest.raises(PipelineError) as err:
        logged = logged_predictions.open_logged(str(table))
        logged_predictions.logged_frame(logged, str(table), ["scored_at"])
    assert "\n" not in str(err.value) and str(table) in str(err.value)
    for text in expected:
        assert text in str(err.value), str(err.value)


def test_a_damaged_log_is_one_line_for_writers_and_readers(tmp_path):
    table = tmp_path / "predictions"
    write_deltalake(str(table), rows(3))
    with open(next((table / "_delta_log").glob("*.json")), "a") as log:
        log.write('{"add": garbage\n')
    refused(table, "the Delta table cannot be read (", "put them back")
    _readers_refuse(table, "the Delta table cannot be read (")


def test_a_removed_data_file_is_one_line_for_the_readers(tmp_path):
    table = tmp_path / "predictions"
    write_deltalake(str(table), rows(3))
    for part in table.glob("*.parquet"):
        part.unlink()
    _readers_refuse(table, "the Delta table cannot be read (", ".parquet")


def test_a_removed_data_file_is_found_before_a_write(tmp_path):
    table = tmp_path / "odd name 100%" / "predictions"  # the log's paths are URL-encoded
    for n in (3, 2):
        write_deltalake(str(table), rows(n), mode="append")
    predictions_table.refuse_missing_files(str(table))  # whole: fine
    predictions_table.refuse_missing_files(str(tmp_path / "new"))  # no table yet: fine
    first = sorted(table.glob("*.parquet"), key=lambda p: p.stat().st_mtime_ns)[0]
    first.unlink()
    with pytest.raises(PipelineError) as err:
        predictions_table.refuse_missing_files(str(table))
    assert str(err.value) == (
        f"{table}: the Delta table cannot be read (1 of its 2 data files are missing, "
        f"{first.name} first); if its log or data files were changed or removed by hand, "
        "put them back, or use another table"
    )


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda t: t.drop_columns(["scored_at"]), "missing columns: scored_at"),
        (
            lambda t: t.set_column(
                t.schema.get_field_index("scored_at"), "scored_at", pa.array(["x"] * len(t))
            ),
            "columns of another type: scored_at: string, not timestamp[us, tz=UTC]",
        ),
    ],
    ids=["missing", "retyped"],
)
def test_the_readers_refuse_a_table_without_the_columns_they_read(tmp_path, change, expected):
    table = tmp_path / "predictions"
    write_deltalake(str(table), change(rows(3)))
    _readers_refuse(table, "is a Delta table but not a predictions table", expected)
    refused(table, expected, schema=None)  # as predict and serve refuse it


def test_a_failed_first_write_leaves_the_path_as_it_was(tmp_path):
    def failing():
        yield from rows(100).to_batches()
        raise PipelineError("a late chunk is refused")

    for existed in (False, True):
        table = tmp_path / f"predictions-{existed}"
        if existed:
            table.mkdir()
        with pytest.raises(PipelineError, match="a late chunk"):
            predictions_table.append(str(table), SCHEMA, failing())
        assert list(table.iterdir()) == [] if existed else not table.exists()
        predictions_table.check(str(table), SCHEMA)  # the next run may write there


def test_lock_is_beside_the_table_and_works_before_it_exists(tmp_path):
    table = tmp_path / "new" / "predictions"
    with table_lock.locked(str(table)):
        assert (tmp_path / "new" / "predictions.lock").is_file()
        assert not table.exists()
        predictions_table.append(str(table), SCHEMA, iter(rows(2).to_batches()))
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 2
    assert sorted(p.name for p in table.iterdir() if p.suffix != ".parquet") == ["_delta_log"]


def test_a_held_lock_is_waited_for_then_refused_in_one_line(tmp_path, capsys):
    table = tmp_path / "predictions"
    with table_lock.locked(str(table)):
        # Another open file description: flock treats it as another process would be.
        with pytest.raises(PipelineError) as err, table_lock.locked(str(table), wait=0.5):
            pass
        assert "another process is writing" in capsys.readouterr().err
    message = str(err.value)
    assert "\n" not in message and "locked" in message and "predictions.lock" in message
    with table_lock.locked(str(table), wait=0):  # released when its holder left
        pass


def test_the_lock_is_released_when_its_holder_fails(tmp_path):
    table = tmp_path / "predictions"
    with pytest.raises(RuntimeError), table_lock.locked(str(table)):
        raise RuntimeError("scoring failed")
    with open(table_lock.lock_path(str(table)), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise if still held


def test_a_lock_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "data").write_text("a file where a folder should be")
    table = tmp_path / "data" / "predictions"
    with (
        pytest.raises(PipelineError, match="cannot create its lock file"),
        table_lock.locked(str(table)),
    ):
        pass


# Rows that do not compress (so a few MB of them fill a Parquet file), made in a child
# process that imports no more than the table's module.
CHILD_ROWS = """
import sys, time
from pathlib import Path
import numpy as np, pyarrow as pa
from mlops_template.errors import PipelineError
from mlops_template.io import logged_predictions, predictions_table, table_lock

def rows(n):
    random = np.random.default_rng(0).random(n)
    return pa.table({"row_number": np.arange(n), "proba_1": random})
"""
# A writer that is killed once deltalake is uploading its first data file.
WRITER_KILLED_MID_WRITE = (
    CHILD_ROWS
    + """
table, chunk = sys.argv[1], rows(200_000)
earlier = set(Path(table).glob("part-*"))

def batches():
    while not set(Path(table).glob("part-*")) - earlier:
        yield from chunk.to_batches()
    print("writing", flush=True)
    time.sleep(600)

with table_lock.locked(table):
    predictions_table.append(table, chunk.schema, batches())
"""
)


@pytest.mark.parametrize("first", [True, False])
def test_a_write_killed_midway_leaves_the_table_as_it_was_and_the_next_completes_once(
    tmp_path, capsys, first
):
    table = tmp_path / "predictions"
    if not first:
        write_deltalake(str(table), rows(3))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER_KILLED_MID_WRITE, str(table)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline() == "writing\n"
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    if first:
        assert not DeltaTable.is_deltatable(str(table)) and list(table.glob("part-*"))
        assert table_lock.first_write_marker(str(table)).exists()  # how they are known
    else:  # its data file, uncommitted, is not part of the table
        assert len(list(table.glob("part-*"))) == 2
        assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 3

    predictions_table.check(str(table), SCHEMA)  # not refused as somebody else's files
    with table_lock.locked(str(table)):
        predictions_table.check(str(table), SCHEMA)
        predictions_table.append(str(table), SCHEMA, iter(rows(5).to_batches()))
    cleared = "cleared what an interrupted first write left" in capsys.readouterr().err
    assert cleared == first
    history = [
        DeltaTable(str(table), version=v).to_pyarrow_table().num_rows
        for v in range(DeltaTable(str(table)).version() + 1)
    ]
    assert history == ([5] if first else [3, 8])  # one commit, each row once
    assert not table_lock.first_write_marker(str(table)).exists()


def spark_job_killed(table: Path) -> None:
    """What a Spark job's first write leaves when predict is killed as its tasks write
    (spark_predict.py writes under the table's directory, then commits the files)."""
    attempt = table / f"spark-{'0a' * 16}/_temporary/0/_temporary/attempt_202612030733_0001_m_0"
    attempt.mkdir(parents=True)
    (attempt / "part-00000-9f1c-c000.snappy.parquet").write_bytes(b"PAR1")
    (attempt / ".part-00000-9f1c-c000.snappy.parquet.crc").write_bytes(b"crc")


def commit_being_written(table: Path) -> None:
    """deltalake's files once its data is written, the first commit not yet in place."""
    (table / "_delta_log").mkdir(parents=True)
    (table / "_delta_log/_commit_5e0b.json.tmp").write_text("{")
    (table / "part-00000-5e0b-c000.snappy.parquet").write_bytes(b"PAR1")


@pytest.mark.parametrize("leftovers", [spark_job_killed, commit_being_written])
def test_the_leftovers_of_a_killed_first_write_are_cleared(tmp_path, leftovers):
    table = tmp_path / "predictions"
    leftovers(table)
    table_lock.first_write_marker(str(table)).touch()  # its writer's mark

    predictions_table.check(str(table), SCHEMA)
    with table_lock.locked(str(table)):
        assert list(table.iterdir()) == []
        predictions_table.append(str(table), SCHEMA, iter(rows(4).to_batches()))
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 4
    assert not table_lock.first_write_marker(str(table)).exists()


@pytest.mark.parametrize("marked", [False, True])
def test_files_not_left_by_a_marked_first_write_of_ours_are_kept_and_refused(tmp_path, marked):
    """Without our mark, Parquet files named as Spark and deltalake name them may be
    someone's data; with it, a file we never write means someone else's too."""
    table = tmp_path / "predictions"
    commit_being_written(table)
    if marked:
        (table / "notes.txt").write_text("mine")
        table_lock.first_write_marker(str(table)).touch()
    refused(table, "not a Delta table", "refusing to write into it")
    with table_lock.locked(str(table)):
        refused(table, "not a Delta table")


def test_a_mark_left_beside_a_committed_table_is_dropped(tmp_path):
    """The writer was killed after its commit, before removing its mark."""
    table = tmp_path / "predictions"
    write_deltalake(str(table), rows(3))
    table_lock.first_write_marker(str(table)).touch()
    files = sorted(table.rglob("*"))
    with table_lock.locked(str(table)):
        predictions_table.check(str(table), SCHEMA)
    assert sorted(table.rglob("*")) == files
    assert not table_lock.first_write_marker(str(table)).exists()


# Run in a user and mount namespace of its own, on a 1 MB filesystem that ends with it:
# a first write and an append larger than the disk (200,000 rows, 3.2 MB).
WRITES_ON_A_FULL_DISK = (
    CHILD_ROWS
    + """
import json, os, subprocess
from deltalake import DeltaTable

disk = sys.argv[1]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", disk], check=True)
big = rows(200_000)

def write(table, data):
    try:
        with table_lock.locked(table):
            predictions_table.append(table, data.schema, iter(data.to_batches()))
    except PipelineError as err:
        return str(err)

result = {"first": write(f"{disk}/new", big), "new": sorted(os.listdir(disk))}
table = f"{disk}/predictions"
assert write(table, rows(3)) is None
result["append"] = write(table, big)
result["versions"] = [
    DeltaTable(table, version=v).to_pyarrow_table().num_rows
    for v in range(DeltaTable(table).version() + 1)
]
result["files"] = sorted(os.listdir(table))
print(json.dumps(result), flush=True)
os._exit(0)  # as the CLI ends after this error (exit_at_once): the writer's threads
# may abort the interpreter's shutdown
"""
)


def test_a_full_disk_is_one_line_and_the_table_stays_as_it_was(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    namespace = ["unshare", "--user", "--map-root-user", "--mount"]
    probe = [*namespace, "mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)]
    if (
        not shutil.which("unshare")
        or subprocess.run(probe, check=False, capture_output=True).returncode
    ):
        pytest.skip("cannot mount a small filesystem in a user namespace here")
    run = subprocess.run(
        [*namespace, sys.executable, "-c", WRITES_ON_A_FULL_DISK, str(disk)],
        check=False,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr  # no Rust panic either
    result = json.loads(run.stdout)
    for key, table in [("first", "new"), ("append", "predictions")]:
        message = result[key]
        assert "\n" not in message and f"{disk}/{table}:" in message, message
        assert "No space left on device (os error 28)" in message
    assert "no table made" in result["first"] and "the table is as it was" in result["append"]
    assert result["new"] == ["new.lock"]  # no directory, no mark: as it was
    assert result["versions"] == [3]  # the earlier version alone, whole and readable
    assert sum(name.startswith("part-") for name in result["files"]) == 1  # no partial file
