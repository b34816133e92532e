"""validate's table facts read from the Parquet file a column at a time: memory holds the
columns a check is looking at, not the table (ten million rows of thirty columns read
whole took 6.7 GiB)."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_template.core.table_facts import FrameFacts

KEPT = 3  # columns kept after their read: a check asks a column's facts one after another


class ParquetColumns:
    """The columns of a Parquet file as pd.read_parquet gives them, each read when asked
    for; the few read last are kept."""

    def __init__(self, path: str | Path) -> None:
        import pyarrow.parquet as pq

        self.path = path
        file = pq.ParquetFile(path)
        self.dtypes = file.schema_arrow.empty_table().to_pandas().dtypes  # as read, no rows
        self.columns = self.dtypes.index
        self.rows = file.metadata.num_rows
        self._kept: OrderedDict[Any, pd.Series] = OrderedDict()

    def __len__(self) -> int:
        return self.rows

    def __getitem__(self, key: Any) -> pd.Series | pd.DataFrame:
        if isinstance(key, list):
            return pd.DataFrame({name: self[name] for name in key})
        if key not in self._kept:
            self._kept[key] = pd.read_parquet(self.path, columns=[key])[key]
            if len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return self._kept[key]


class ParquetFacts(FrameFacts):
    """FrameFacts of a Parquet file without reading it whole: the same facts, the same
    report (tests/unit/test_spark_checks.py compares all three ways)."""

    def __init__(self, path: str | Path) -> None:
        self.table = ParquetColumns(path)
        super().__init__(self.table)  # type: ignore[arg-type]

    def dtype(self, name: Any) -> Any:
        return self.table.dtypes[name]  # from the file's schema: no column read
