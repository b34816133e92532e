"""Parquet files read and written a chunk of rows at a time, in pandas' dtypes: the data
stages' tables at any size, on either engine, without holding the table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pandas as pd

# Rows per chunk: tens of MB of a table of 30 columns.
CHUNK_ROWS = 200_000
# Rows per row group of the tables the data stages write, however their rows arrive (a
# pandas chunk, a Spark partition): the same rows give the same bytes on either engine.
ROW_GROUP_ROWS = CHUNK_ROWS


def pandas_dtypes(path: str | Path) -> dict[str, str]:
    """The pandas dtype of each column of a Parquet file, as pd.read_parquet gives it."""
    import pyarrow.parquet as pq

    empty = pq.read_schema(path).empty_table().to_pandas()
    return {str(name): str(dtype) for name, dtype in empty.dtypes.items()}


def read_frame(path: str | Path) -> pd.DataFrame:
    """pd.read_parquet(path), read a column at a time: the same frame, without Arrow's
    copy of the whole table beside it (1e6 rows x 31 columns: 251 MiB at most, not 615)."""
    import pyarrow.parquet as pq

    names = pq.read_schema(path).names
    columns = {name: pd.read_parquet(path, columns=[name])[name] for name in names}
    return pd.DataFrame(columns, copy=False)


def release_arrow_memory() -> None:
    """Give the memory Arrow's allocator keeps after its tables are freed back to the
    system: a table read through Arrow stays in the process's resident memory otherwise,
    where numpy cannot reuse it."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def parquet_chunks(files: list[Path] | list[str], rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The files' rows in order, a pandas chunk of at most `rows` at a time: memory holds
    one chunk, not the table."""
    import pyarrow.parquet as pq

    for file in files:
        # Without pre-buffering: Arrow would keep the whole file's data while the chunks
        # are read (at 1e6 rows, 195 MiB held beside a chunk of 50,000 rows).
        for batch in pq.ParquetFile(file, pre_buffer=False).iter_batches(batch_size=rows):
            yield exact_pandas(batch)


def exact_pandas(batch) -> pd.DataFrame:
    """An Arrow batch as pandas with every integer exact: integers with gaps as pandas'
    nullable integers, not float64 (which rounds past 2**53); as_dtypes then gives each
    column the dtype the pandas engine has (a file Spark wrote has no pandas metadata)."""
    import pyarrow as pa

    def exact(arrow_type: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
        if not pa.types.is_integer(arrow_type):
            return None
        unsigned = "U" if pa.types.is_unsigned_integer(arrow_type) else ""
        return pd.api.types.pandas_dtype(f"{unsigned}Int{arrow_type.bit_width}")

    return batch.to_pandas(types_mapper=exact)


class ParquetSink:
    """One Parquet file written a chunk at a time, each in `dtypes` (as_dtypes), in row
    groups of ROW_GROUP_ROWS whatever the chunks' sizes; with no rows, the columns."""

    def __init__(self, path: Path, dtypes: Mapping[str, str]) -> None:
        self.path, self.dtypes, self.writer, self.rows = path, dtypes, None, 0
        self.pending: list = []  # Arrow tables not yet a whole row group
        self.buffered = 0

    def write(self, chunk: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(as_dtypes(chunk, self.dtypes), preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.pending.append(table.cast(self.writer.schema))
        self.buffered += len(chunk)
        self.rows += len(chunk)
        while self.buffered >= ROW_GROUP_ROWS:
            self._flush(ROW_GROUP_ROWS)

    def _flush(self, rows: int) -> None:
        """The first `rows` buffered rows as one row group, laid out as one array per
        column (the pages then do not depend on how the rows arrived)."""
        import pyarrow as pa

        buffered = pa.concat_tables(self.pending)
        self.writer.write_table(
            buffered.slice(0, rows).combine_chunks(), row_group_size=max(rows, 1)
        )
        rest = buffered.slice(rows)
        self.pending, self.buffered = ([rest] if len(rest) else []), len(rest)

    def __enter__(self) -> ParquetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            if exc[0] is None and (self.buffered or not self.rows):
                self._flush(self.buffered)  # no rows: one empty row group, as to_parquet
            self.writer.close()
        elif exc[0] is None:
            columns = {name: pd.Series(dtype=d) for name, d in self.dtypes.items()}
            pd.DataFrame(columns).to_parquet(self.path, index=False, engine="pyarrow")


def as_dtypes(chunk: pd.DataFrame, dtypes: Mapping[str, str]) -> pd.DataFrame:
    """A chunk of rows in `dtypes` (the pandas engine's): Spark's and Arrow's batches lose
    pandas' own dtypes (nullable boolean and Int64) and Spark keeps timestamps as instants
    in UTC, which become naive UTC datetimes."""
    for name, dtype in dtypes.items():
        column = chunk[name]
        if str(column.dtype) == dtype:
            continue
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.dt.tz_convert("UTC").dt.tz_localize(None)
        chunk[name] = column.astype(dtype)
    return chunk[list(dtypes)]
