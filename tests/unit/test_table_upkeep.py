"""compact-log: the inference log's small files (one per REST flush) rewritten into few,
rows unchanged; what no version within the retention uses, deleted."""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mlops_template import cli
from mlops_template.errors import PipelineError
from mlops_template.io.table_upkeep import compact


def _flushed(table: str, flushes: int) -> pa.Table:
    """A table as a REST worker leaves it: a commit of a few rows per flush."""
    for i in range(flushes):
        rows = pa.table({"request_id": [f"r{i}", f"r{i}"], "row_number": [0, 1]})
        write_deltalake(table, rows, mode="append")
    return DeltaTable(table).to_pyarrow_table().sort_by("request_id")


def test_compacting_keeps_every_row_in_fewer_files(tmp_path):
    table = str(tmp_path / "predictions")
    before = _flushed(table, 30)
    kept = compact(table, keep_hours=168)  # older versions stay readable: nothing deleted
    assert (kept.files_before, kept.files_after, kept.rows, kept.deleted) == (30, 1, 60, 0)
    assert "(60 rows, unchanged)" in kept.summary(table, 168)
    assert "(61 rows before, 60 after)" in replace(kept, rows_before=61).summary(table, 168)
    assert DeltaTable(table).to_pyarrow_table().sort_by("request_id").equals(before)
    assert DeltaTable(table, version=29).to_pyarrow_table().num_rows == 60  # time travel
    swept = compact(table, keep_hours=0)
    assert (swept.files_after, swept.deleted) == (1, 30)
    assert DeltaTable(table).to_pyarrow_table().sort_by("request_id").equals(before)


def test_a_path_without_a_table_is_refused(tmp_path, capsys):
    with pytest.raises(PipelineError, match=r"nope: no such folder; nothing logged there"):
        compact(str(tmp_path / "nope"))
    (tmp_path / "other").mkdir()
    assert cli.main(["compact-log", "--table", str(tmp_path / "other")]) == 2
    assert "other: not a Delta table; nothing logged there" in capsys.readouterr().err
    with pytest.raises(PipelineError, match="--keep-hours -1: must be 0 or more"):
        compact(str(tmp_path / "other"), keep_hours=-1)
