"""The predictions store: a Delta table, appended to in one transaction per batch."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from mlops_template.errors import PipelineError


def already_scored(table: str, batch_hash: str, model_name: str, version: str) -> int:
    """Rows already in the table for this batch and model version."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(table):
        return 0
    import pyarrow.compute as pc

    dataset = DeltaTable(table).to_pyarrow_dataset()
    match = (
        (pc.field("batch_hash") == batch_hash)
        & (pc.field("model_name") == model_name)
        & (pc.field("model_version") == version)
    )
    return dataset.count_rows(filter=match)


def append(table: str, schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> None:
    """Append all batches as one commit: if the iterator raises, nothing is committed
    and its own error (not the Delta writer's wrapper around it) propagates."""
    from deltalake import write_deltalake

    failure: list[BaseException] = []

    def guarded() -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except BaseException as err:
            failure.append(err)
            raise

    Path(table).parent.mkdir(parents=True, exist_ok=True)
    reader = pa.RecordBatchReader.from_batches(schema, guarded())
    try:
        write_deltalake(table, reader, mode="append", schema_mode="merge")
    except Exception:
        if failure:
            raise failure[0] from None
        raise


def prepare_for(table: str, schema: pa.Schema) -> None:
    """Make an existing table ready to take rows of `schema` written by another writer:
    refuse columns whose type differs, add the columns it lacks (as the pandas engine's
    schema merge would). Nothing is changed when a type conflicts."""
    from deltalake import DeltaTable, Schema

    if not DeltaTable.is_deltatable(table):
        return
    current = pa.schema(DeltaTable(table).schema().to_arrow())
    conflicts = [
        f"{field.name}: table {current.field(field.name).type}, batch {field.type}"
        for field in schema
        if field.name in current.names and current.field(field.name).type != field.type
    ]
    if conflicts:
        raise PipelineError(
            f"{table}: the scored rows do not fit the table's columns ({'; '.join(conflicts)}); "
            "write to another table (--table)"
        )
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


def read(table: str):
    """The whole table as a pandas frame (for tests and small tables)."""
    from deltalake import DeltaTable

    return DeltaTable(table).to_pandas()
