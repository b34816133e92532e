"""Batches that cannot be read: one line naming the file and what is wrong, exit 2, and
nothing written (the predictions table, the monitor and CT reports stay as they were)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.e2e.test_predict import batch, table_version
from tests.helpers.template import Template

pytestmark = pytest.mark.slow


def _directory(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "batch.parquet"  # a folder named like a file, as Spark writes them
    path.mkdir()
    frame.to_parquet(path / "part-0.parquet")
    return path


def _header_only(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "header.csv"
    frame.head(0).to_csv(path, index=False)
    return path


def _corrupted(frame: pd.DataFrame, folder: Path) -> Path:
    """A valid file whose footer is intact (the columns read fine) but a page is not."""
    path = folder / "corrupted.parquet"
    frame.to_parquet(path)
    chunk = pq.ParquetFile(path).metadata.row_group(0).column(frame.shape[1] // 2)
    data = bytearray(path.read_bytes())
    data[chunk.data_page_offset : chunk.data_page_offset + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
    return path


def _empty_cells(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "empty-cells.csv"
    frame.head(5).map(lambda _: None).to_csv(path, index=False)
    return path


def _nan_values(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "nan.parquet"
    (frame.head(5) * np.nan).to_parquet(path)
    return path


BAD = {
    "directory": (_directory, ["is a directory", "expected a .csv or .parquet file"]),
    "header only": (_header_only, ["the batch has no rows"]),
    "corrupted page": (_corrupted, ["cannot read the batch"]),
    "empty cells": (_empty_cells, ["every feature is missing in all 5 rows"]),
    "NaN values": (_nan_values, ["every feature is missing in all 5 rows"]),
}


def _one_line_error(done, path: Path, expected: list[str]) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}"), done.stderr
    for text in expected:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("case", BAD)
def test_predict_refuses_a_batch_it_cannot_read(copy: Template, tmp_path, case):
    frame = batch(copy)
    ok = tmp_path / "ok.parquet"
    frame.to_parquet(ok)
    copy.main("predict", str(ok))  # a table to protect
    make, expected = BAD[case]
    path = make(frame, tmp_path)
    before = table_version(copy)
    _one_line_error(copy.main("predict", str(path), check=False), path, expected)
    assert table_version(copy) == before


@pytest.mark.parametrize("case", ["header only", "empty cells", "NaN values"])
def test_the_spark_engine_refuses_empty_batches_alike(copy: Template, tmp_path, case):
    make, expected = BAD[case]
    path = make(batch(copy), tmp_path)
    done = copy.mlops("predict", str(path), "--engine", "spark", check=False)
    _one_line_error(done, path, expected)
    assert table_version(copy) is None


def test_monitor_and_ct_refuse_the_same_batches(copy: Template, tmp_path):
    frame = batch(copy)
    reports = copy.path("reports")
    before = sorted(p for p in reports.rglob("*"))
    for case, (make, expected) in BAD.items():
        folder = tmp_path / case.replace(" ", "-")
        folder.mkdir()
        path = make(frame, folder)
        for command in ("monitor", "ct"):
            _one_line_error(copy.main(command, str(path), check=False), path, expected)
    assert sorted(p for p in reports.rglob("*")) == before  # no report written
    assert table_version(copy) is None


def test_promote_on_a_locked_store_is_a_one_line_error(copy: Template):
    store = copy.path("mlflow.db")
    with closing(sqlite3.connect(store, isolation_level=None)) as db:
        db.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "mlops_template", "promote"],
            check=False,
            cwd=copy.root,
            env=copy.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        took = time.monotonic() - started
        db.execute("ROLLBACK")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "database is locked" in lines[0] and str(store) in lines[0]
    assert took < 60
