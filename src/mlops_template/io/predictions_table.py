"""The predictions store: a Delta table, appended to in one transaction per batch.

Writers take the table's lock (io/table_lock.py) and check it again under the lock
before they commit, so a batch scored by several processes at once is in the table
exactly once.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa

from mlops_template.config.operate import PREDICTIONS_COLUMNS
from mlops_template.errors import PipelineError
from mlops_template.io.table_lock import interrupted_first_write

# The columns every predictions table has, whatever the model: probability and passthrough
# columns follow the model's classes and the settings, and are added as they come.
REQUIRED = PREDICTIONS_COLUMNS


def table_schema(
    classes: list[Any] | None, passthrough: list[pa.Field], inputs: list[pa.Field]
) -> pa.Schema:
    """The predictions table's columns, for batch and REST rows alike (a REST row has a
    request id and no batch hash, a batch row the other way round; a shadow model's
    rows are marked), the model's inputs last (core/logged_inputs.py)."""
    fields = [pa.field("row_number", pa.int64()), pa.field("request_id", pa.string())]
    fields += passthrough
    if classes is None:
        fields.append(pa.field("prediction", pa.float64()))
    else:
        fields.append(pa.field("prediction", pa.string()))
        fields += [pa.field(f"proba_{c}", pa.float64()) for c in classes]
    fields += [
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("model_alias", pa.string()),
        pa.field("shadow", pa.bool_()),  # scored beside the answer, not returned (serve.shadow)
        pa.field("batch_hash", pa.string()),
        pa.field("scored_at", pa.timestamp("us", tz="UTC")),
        *inputs,
    ]
    return pa.schema(fields)


def check(table: str, schema: pa.Schema | None = None, other: str = "--table") -> None:
    """Refuse, before anything is scored, a table path our rows cannot go to: a file, a
    directory with other files in it, a Delta table that is not a predictions table, or
    (given the rows' schema) one whose columns have other types. `other` says how to
    name another table."""
    from deltalake import DeltaTable

    path = Path(table)
    if path.exists() and not path.is_dir():
        raise PipelineError(
            f"{table} is a file, not a predictions table (a Delta table's directory); "
            f"name another path with {other}"
        )
    if not path.is_dir():
        return  # a new table
    if not DeltaTable.is_deltatable(table):
        if any(path.iterdir()) and interrupted_first_write(table) is None:
            raise PipelineError(
                f"{table} is a directory with files in it but not a Delta table; refusing to "
                f"write into it: name another path with {other}"
            )
        return
    with readable(table):
        current = pa.schema(DeltaTable(table).schema().to_arrow())
    refuse_unlike(table, current, f"name another path with {other}")
    conflicts = [
        f"{field.name}: table {current.field(field.name).type}, batch {field.type}"
        for field in schema or []
        if field.name in current.names and current.field(field.name).type != field.type
    ]
    if conflicts:
        raise PipelineError(
            f"{table}: the scored rows do not fit the table's columns ({'; '.join(conflicts)}); "
            f"write to another table ({other})"
        )


def refuse_missing_files(table: str) -> None:
    """Refuse a table whose log lists a data file the disk no longer has (removed by
    hand): an append would still commit, and every reader of the table would refuse it.
    Called once before a batch or a server starts writing, not on each flush."""
    from urllib.parse import unquote

    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(table):
        return
    with readable(table):
        files = DeltaTable(table).get_add_actions(flatten=True).column("path").to_pylist()
        if missing := [f for f in files if not (Path(table) / unquote(f)).exists()]:
            raise FileNotFoundError(
                f"{len(missing)} of its {len(files)} data files are missing, {missing[0]} first"
            )


def already_scored(table: str, batch_hash: str, model_name: str, version: str) -> int:
    """Rows already in the table for this batch and model version."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(table):
        return 0
    import pyarrow.compute as pc

    match = (
        (pc.field("batch_hash") == batch_hash)
        & (pc.field("model_name") == model_name)
        & (pc.field("model_version") == version)
    )
    with readable(table):
        return DeltaTable(table).to_pyarrow_dataset().count_rows(filter=match)


def append(table: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
    """Append all batches as one commit: if the iterator raises, nothing is committed
    and its own error (not the Delta writer's wrapper around it) propagates.
    Called under `locked`."""
    from deltalake import DeltaTable, write_deltalake

    failure: list[BaseException] = []

    def guarded() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except BaseException as err:
            failure.append(err)
            raise

    path = Path(table)
    existed, first_write = path.exists(), not DeltaTable.is_deltatable(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    reader = pa.RecordBatchReader.from_batches(schema, guarded())
    with tempfile.TemporaryFile() as native_output:
        try:
            with _native_stderr_to(native_output):
                write_deltalake(table, reader, mode="append", schema_mode="merge")
        except BaseException as err:
            if first_write:
                # A failed first write leaves Parquet files and no Delta log: removed, the
                # next run finds the path as it was, not files that `check` refuses.
                shutil.rmtree(path, ignore_errors=True)
                if existed:
                    path.mkdir()
            if failure:
                _replay(native_output)
                raise failure[0] from None
            if reason := _os_error(err):  # the disk is full, say: the panic is not replayed
                failed = PipelineError(
                    f"{table}: cannot write the scored rows: {reason}; nothing added, "
                    f"{'no table made' if first_write else 'the table is as it was'}"
                )
                failed.exit_at_once = True  # the panicked writer's threads may abort the exit
                raise failed from None
            _replay(native_output)
            raise
        _replay(native_output)


@contextmanager
def _native_stderr_to(file) -> Iterator[None]:
    """The process's fd 2 goes to `file` meanwhile, Python's own stderr (warnings, the
    progress bar) still where it went. When an upload fails (a full disk), deltalake's
    worker threads print a Rust panic on fd 2: the failure it follows is said in one line."""
    sys.stderr.flush()
    python_stderr, saved = sys.stderr, os.dup(2)
    sys.stderr = open(saved, "w", buffering=1, closefd=False, errors="backslashreplace")  # noqa: SIM115
    os.dup2(file.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)


def _replay(file) -> None:
    """What went to fd 2 meanwhile, where it would have gone."""
    file.seek(0)
    if text := file.read():
        sys.stderr.flush()
        os.write(2, text)


def _os_error(err: BaseException) -> str | None:
    """The operating system's reason for a write that failed, as deltalake words it
    ("No space left on device (os error 28)"), if that is why it failed."""
    if isinstance(err, OSError):
        return f"{err.strerror} (os error {err.errno})" if err.strerror else str(err)
    found = re.search(r"([^:]+ \(os error \d+\))", str(err))
    return found.group(1).strip() if found else None


def prepare_for(table: str, schema: pa.Schema) -> None:
    """Make an existing table ready to take rows of `schema` written by another writer:
    refuse columns whose type differs, add the columns it lacks (as the pandas engine's
    schema merge would). Nothing is changed when a type conflicts."""
    from deltalake import DeltaTable, Schema

    check(table, schema)
    if not DeltaTable.is_deltatable(table):
        return
    current = pa.schema(DeltaTable(table).schema().to_arrow())
    new = [field for field in schema if field.name not in current.names]
    if new:
        DeltaTable(table).alter.add_columns(Schema.from_arrow(pa.schema(new)).fields)


def commit_files(table: str, schema: pa.Schema, folder: Path) -> int:
    """Add the Parquet files another writer (Spark) put in `folder`, inside the table's
    directory, to the table in one commit; returns the rows added."""
    import json

    import pyarrow.parquet as pq
    from deltalake import DeltaTable, Schema
    from deltalake.transaction import AddAction, create_table_with_add_actions

    actions, rows = [], 0
    for file in sorted(folder.glob("*.parquet")):
        count = pq.ParquetFile(file).metadata.num_rows
        rows += count
        actions.append(
            AddAction(
                path=file.relative_to(table).as_posix(),
                size=file.stat().st_size,
                partition_values={},
                modification_time=int(file.stat().st_mtime * 1000),
                data_change=True,
                stats=json.dumps({"numRecords": count}),
            )
        )
    if DeltaTable.is_deltatable(table):
        DeltaTable(table).create_write_transaction(actions, mode="append", schema=schema)
    else:
        create_table_with_add_actions(table, Schema.from_arrow(schema), actions, mode="append")
    return rows


# The columns every predictions table has, with their types (the prediction's follows
# the task): a reader relies on them as a writer does.
_FIXED = [f for f in table_schema(None, [], []) if f.name != "prediction"]


def refuse_unlike(table: str, current: Any, remedy: str) -> None:
    """Refuse a Delta table without the predictions table's columns, or with one of them
    of another type."""
    current = pa.schema(current)
    if missing := [name for name in REQUIRED if name not in current.names]:
        raise PipelineError(
            f"{table} is a Delta table but not a predictions table (missing columns: "
            f"{', '.join(missing)}); {remedy}"
        )
    typed = {f.name: f.type for f in current if not pa.types.is_null(f.type)}  # null: no value
    if retyped := [
        f"{f.name}: {typed[f.name]}, not {f.type}"
        for f in _FIXED
        if f.name in typed and typed[f.name] != f.type
    ]:
        raise PipelineError(
            f"{table} is a Delta table but not a predictions table (columns of another type: "
            f"{'; '.join(retyped)}); {remedy}"
        )


@contextmanager
def readable(table: str) -> Iterator[None]:
    """A table whose log or data files were damaged (a `_delta_log` entry garbled, a data
    file removed), said in one line naming it, not as deltalake's traceback. Other causes
    (permissions, memory) keep their own errors."""
    from deltalake.exceptions import DeltaError

    try:
        yield
    except (DeltaError, FileNotFoundError, pa.ArrowInvalid) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PipelineError(
            f"{table}: the Delta table cannot be read ({reason}); if its log or data files "
            "were changed or removed by hand, put them back, or use another table"
        ) from None


def read(table: str):
    """The whole table as a pandas frame (for tests and small tables)."""
    from deltalake import DeltaTable

    return DeltaTable(table).to_pandas()
