"""Read a CSV or Parquet batch in chunks of bounded size, typed by the training schema."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa

from mlops_template.config import Predict
from mlops_template.core.batch_checks import check_columns
from mlops_template.core.raw_rows import MISSING_TOKENS
from mlops_template.core.raw_tables import (
    duplicate_names,
    is_arrow_numeric,
    nested_columns,
    plain_arrow,
)
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io.csv_lines import stray_carriage_return

CSV_BLOCK = 4 << 20  # bytes Arrow parses at a time


def batch_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        return "csv"
    if suffix in {".parquet", ".pq"}:
        return "parquet"
    raise PipelineError(f"{path}: unknown batch format {suffix!r}; use .csv or .parquet")


def batch_columns(path: Path, schema: TrainingSchema) -> dict[str, bool]:
    """Column -> holds numbers, read from the file's header or metadata (and a CSV file's
    line ends, io/csv_lines.py); a feature column no model step reads is refused."""
    if path.is_dir():
        raise PipelineError(f"{path}: is a directory; expected a .csv or .parquet file")
    if not path.is_file():
        raise PipelineError(f"{path}: batch file not found")
    if path.stat().st_size == 0:
        raise PipelineError(f"{path}: batch file is empty")
    try:
        if batch_format(path) == "parquet":
            import pyarrow.parquet as pq

            arrow_schema = pq.read_schema(path)
            index = _index(arrow_schema)
            arrow_schema = pa.schema([f for f in arrow_schema if f.name not in index])
        else:
            # As training reads a CSV file (io/datasets.py): Arrow would refuse such a
            # row in a parse error that does not say why, and Spark might not.
            stray = stray_carriage_return(path)
            if stray:
                raise PipelineError(f"{path}: {stray}")
            # The reader's schema, from the header: known even when no row follows it.
            arrow_schema = _csv_reader(path, schema, 1 << 16).schema
    except (pa.ArrowException, OSError) as err:
        raise PipelineError(f"{path}: cannot read the batch: {_first_line(err, path)}") from None
    repeated = duplicate_names(arrow_schema.names)
    if repeated:
        raise PipelineError(f"{path}: duplicate column names {repeated}; rename or remove them")
    expected = {"numeric": "numbers", "categorical": "text", "date": "dates"}
    kinds = {c.name: expected[c.kind] for c in schema.columns}
    for name, arrow_type in nested_columns(arrow_schema).items():
        if name in kinds:
            raise PipelineError(
                f"{path}: column '{name}' holds {arrow_type} values, which the model cannot "
                f"read: write one value per cell, {kinds[name]} as in training"
            )
    # A column without a value in any row (Arrow's null type: pandas writes a column of
    # None so) is missing in every row, whatever the model reads there.
    return {
        field.name: is_arrow_numeric(field.type) or pa.types.is_null(field.type)
        for field in arrow_schema
    }


def iter_chunks(path: Path, schema: TrainingSchema, rows: int) -> Iterator[pa.RecordBatch]:
    """The batch as record batches of `rows` rows (the last one may be shorter).

    A batch without rows, or without a single feature value, is refused once read (the
    caller writes nothing until the end): there is nothing to score or compare, and
    imputing every cell would turn a broken export into plausible predictions."""
    features = [c.name for c in schema.columns]
    total, any_value = 0, False
    for chunk in _chunks(path, schema, rows):
        total += chunk.num_rows
        any_value = any_value or any(
            _has_value(chunk.column(name)) for name in features if name in chunk.schema.names
        )
        yield chunk
    refuse_empty(path, total, any_value)


def refuse_empty(path: Path, rows: int, any_value: bool) -> None:
    """The same refusal from every engine: no rows, or not one feature value in them."""
    if rows == 0:
        raise PipelineError(f"{path}: the batch has no rows")
    if not any_value:
        raise PipelineError(f"{path}: every feature is missing in all {rows} rows")


def _chunks(path: Path, schema: TrainingSchema, rows: int) -> Iterator[pa.RecordBatch]:
    try:
        if batch_format(path) == "parquet":
            import pyarrow.parquet as pq

            parquet = pq.ParquetFile(path)
            index = _index(parquet.schema_arrow)
            columns = [name for name in parquet.schema_arrow.names if name not in index]
            batches = parquet.iter_batches(batch_size=rows, columns=columns)
            # Decimals and dictionary-encoded columns as training reads them.
            yield from _rebatch((plain_arrow(batch) for batch in batches), rows)
        else:
            yield from _rebatch(_csv_reader(path, schema, CSV_BLOCK), rows)
    except pa.ArrowException as err:
        raise PipelineError(f"{path}: cannot read the batch: {_first_line(err, path)}") from None
    except OSError as err:  # Arrow's error for a damaged Parquet page, say
        reason = _first_line(err)
        raise PipelineError(f"{path}: cannot read the batch (damaged data?): {reason}") from None


def _index(arrow_schema: pa.Schema) -> set[str]:
    """The columns in which pandas stored an unnamed index (`__index_level_0__`, written
    for an index other than 0..n-1): not data, as pandas' own reader (the training
    reader) makes them the index. A named index is read as the column it is named."""
    import json

    metadata = (arrow_schema.metadata or {}).get(b"pandas")
    if metadata is None:
        return set()
    stored = json.loads(metadata).get("index_columns", [])
    return {c for c in stored if isinstance(c, str) and re.fullmatch(r"__index_level_\d+__", c)}


def _has_value(column: pa.Array) -> bool:
    """Whether any cell is present: neither null nor NaN."""
    import pyarrow.compute as pc

    if pa.types.is_floating(column.type):
        column = pc.if_else(pc.is_nan(column), None, column)
    return column.null_count < len(column)


def _rebatch(batches: Iterator[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Regroup batches (CSV blocks, Parquet row groups) into chunks of `rows` rows, so the
    model scores chunks of the configured size; at most one chunk and one block are held."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.num_rows
        while size >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows).combine_chunks().to_batches()[0]
            rest = table.slice(rows)
            pending, size = rest.to_batches(), rest.num_rows
    if size:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]


def _csv_reader(path: Path, schema: TrainingSchema, block_size: int):
    import pyarrow.csv as pacsv

    # Training column types, so a column is typed the same in every block; a value
    # that does not fit (text in a numeric column) is an error naming the column.
    types = {c.name: pa.float64() if c.kind == "numeric" else pa.string() for c in schema.columns}
    # The contract's missing markers (core/raw_rows.py), in text columns too: an empty
    # field is missing here as in training, not the category "".
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=block_size),
        # A quoted cell may hold line breaks (the CSV standard): blocks end between rows
        # only, or a block ending inside such a cell would split its row.
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=types, null_values=list(MISSING_TOKENS), strings_can_be_null=True
        ),
    )


def _first_line(err: BaseException, path: Path | None = None) -> str:
    """The error's first line; Arrow's "CSV column #N" is given the column's name."""
    line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    # Parquet's decoder quotes the damaged bytes themselves: not for a terminal.
    line = "".join(c for c in line if c.isprintable()).strip().rstrip(":")
    found = re.search(r"In CSV column #(\d+)", line)
    if found and path is not None:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            header = next(csv.reader(handle), [])
        index = int(found.group(1))
        if index < len(header):
            line = line.replace(found.group(0), f"In column '{header[index]}'")
    return line


def column_problems(
    path: Path,
    schema: TrainingSchema,
    settings: Predict,
    id_column: str | None = None,
    dropped: Iterable[str] = (),
) -> tuple[list[str], list[str], dict[str, bool]]:
    """The batch's columns against the training schema, under predict's policy for extra
    columns (the target, the data's ID, the columns training left out as naming rows, the
    columns conf/ drops from the data, `dropped`, and passthrough columns may be there):
    the problems, the extra columns to ignore, and the columns (name -> holds numbers)."""
    columns = batch_columns(path, schema)
    allowed = {
        schema.target.name,
        *schema.identifiers,
        *settings.passthrough_columns,
        id_column,
        *dropped,
    }
    problems, extra = check_columns(
        schema,
        columns,
        allowed_extra=allowed,
        extra_policy=settings.extra_columns,
        source=str(path),
    )
    return problems, extra, columns
