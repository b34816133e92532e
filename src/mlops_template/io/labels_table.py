"""The labels table: labels that arrived after the predictions (core/labels.py), a Delta
table appended to in one commit per import, under its own lock (io/table_lock.py)."""

from __future__ import annotations

import time

import pandas as pd
import pyarrow as pa

from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table

COLUMNS = ("key", "id", "label", "labelled_at", "received_at", "source")


def table_schema(regression: bool) -> pa.Schema:
    return pa.schema(
        [
            pa.field("key", pa.string()),
            pa.field("id", pa.string()),
            pa.field("label", pa.float64() if regression else pa.string()),
            pa.field("labelled_at", pa.timestamp("us", tz="UTC")),
            pa.field("received_at", pa.timestamp("us", tz="UTC")),
            pa.field("source", pa.string()),
        ]
    )


def read(table: str) -> pd.DataFrame:
    """The stored labels (none yet: an empty frame)."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(table):
        return pd.DataFrame({name: pd.Series(dtype=object) for name in COLUMNS})
    with predictions_table.readable(table):
        stored = DeltaTable(table).to_pandas()
    if missing := [name for name in COLUMNS if name not in stored]:
        raise PipelineError(
            f"{table} is a Delta table but not a labels table (missing columns: "
            f"{', '.join(missing)}); set monitor.labels_table to another path"
        )
    return stored


def append(table: str, labels: pd.DataFrame, source: str, regression: bool) -> None:
    """Add labels (key, id, label, labelled_at) in one commit. Called under the lock."""
    schema = table_schema(regression)
    now = int(time.time() * 1_000_000)
    frame = labels.assign(received_at=pd.Series(now, index=labels.index), source=source)
    columns = {
        "key": pa.array(frame["key"].astype(str), pa.string()),
        "id": pa.array(frame["id"].astype(str), pa.string()),
        "label": pa.array(frame["label"], schema.field("label").type, from_pandas=True),
        "labelled_at": utc_microseconds(pd.to_datetime(frame["labelled_at"], utc=True)),
        "received_at": pa.array(frame["received_at"], pa.int64()).cast(
            schema.field("received_at").type
        ),
        "source": pa.array(frame["source"], pa.string()),
    }
    batch = pa.RecordBatch.from_arrays([columns[f.name] for f in schema], schema=schema)
    predictions_table.append(table, schema, iter([batch]))


def utc_microseconds(dates: pd.Series) -> pa.Array:
    """Zoned timestamps as Arrow's UTC microseconds; through UTC's naive values, as pandas 4
    will not give them from `Series.values` (which pyarrow reads)."""
    naive = pa.array(dates.dt.tz_convert(None).to_numpy(), pa.timestamp("us"), from_pandas=True)
    return naive.cast(pa.timestamp("us", tz="UTC"))
