"""The data stages' Parquet writer: the same rows give the same bytes, however they
arrive (pandas chunks, Spark partitions), as pandas writes the whole frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.io import parquet_chunks
from mlops_template.io.parquet_chunks import ParquetSink

ROWS = pd.DataFrame(
    {
        "x": np.arange(40, dtype="float64"),
        "n": pd.array([1, None] * 20, dtype="Int64"),
        "c": [f"v{i % 3}" for i in range(40)],
    }
)
DTYPES = {str(name): str(dtype) for name, dtype in ROWS.dtypes.items()}


@pytest.mark.parametrize("sizes", [[40], [3, 0, 10, 5, 22], [1] * 40, [13, 27], [0]])
def test_rows_in_any_chunks_make_the_bytes_pandas_makes(tmp_path, monkeypatch, sizes):
    """Spark's collect and prepare wrote a row group per partition: the same rows as the
    pandas engine's in other bytes, so switching engines retrained the model."""
    monkeypatch.setattr(parquet_chunks, "ROW_GROUP_ROWS", 7)
    rows = ROWS.head(sum(sizes))
    whole = tmp_path / "whole.parquet"
    rows.to_parquet(whole, index=False, engine="pyarrow", row_group_size=7)
    chunked = tmp_path / "chunked.parquet"
    with ParquetSink(chunked, DTYPES) as sink:
        start = 0
        for size in sizes:
            sink.write(rows.iloc[start : start + size].reset_index(drop=True))
            start += size
    assert sink.rows == len(rows)
    assert chunked.read_bytes() == whole.read_bytes()
