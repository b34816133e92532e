"""Upkeep of the predictions table, the inference log: `compact-log`.

Every flush of every REST worker commits a small file (serve.log.flush_seconds), and each
batch `predict` one or more: a day of traffic leaves tens of thousands, and every read
(`monitor --log`, `labels`, `ct --log`) opens each one (1,500 one-flush files took 1.2 s
to read here, 0.04 s once compacted). Compacting rewrites them into a few large files,
the rows unchanged; vacuuming then deletes the files that no version of the table within
the retention uses (Delta keeps them for readers of older versions until then).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlops_template.errors import PipelineError
from mlops_template.io import table_lock

RETENTION_HOURS = 168  # Delta's own default: a week of older versions stays readable


@dataclass(frozen=True)
class Upkeep:
    files_before: int
    files_after: int
    rows_before: int
    rows: int
    deleted: int

    def summary(self, table: str, keep_hours: int) -> str:
        rows = (
            f"{self.rows} rows, unchanged"
            if self.rows == self.rows_before
            else f"{self.rows_before} rows before, {self.rows} after"
        )
        return (
            f"{table}: {self.files_before} data files -> {self.files_after} ({rows}); "
            f"{self.deleted} files no version of the last {keep_hours} h uses deleted"
        )


def compact(table: str, keep_hours: int = RETENTION_HOURS) -> Upkeep:
    """Compact the table, then vacuum it, under the writers' lock: REST workers and
    `predict` wait meanwhile (a worker keeps its rows to write after), and vacuum never
    meets a writer's file not yet committed."""
    from deltalake import DeltaTable

    if keep_hours < 0:
        raise PipelineError(f"--keep-hours {keep_hours}: must be 0 or more")
    if not DeltaTable.is_deltatable(table):
        what = "no such folder" if not Path(table).exists() else "not a Delta table"
        raise PipelineError(f"{table}: {what}; nothing logged there to compact")
    with table_lock.locked(table):
        before = DeltaTable(table)
        files_before, rows_before = len(before.file_uris()), _rows(before)
        before.optimize.compact()
        deleted = DeltaTable(table).vacuum(
            retention_hours=keep_hours, dry_run=False, enforce_retention_duration=False
        )
        after = DeltaTable(table)
        files_after, rows = len(after.file_uris()), _rows(after)
        return Upkeep(files_before, files_after, rows_before, rows, len(deleted))


def _rows(table) -> int:
    """The table's rows, as its log counts them per file (no data file is read)."""
    import pyarrow as pa

    counts = pa.table(table.get_add_actions(flatten=True))["num_records"]
    return int(pa.compute.sum(counts).as_py() or 0)
