"""The predictions table as the readers of the log open it (labels, monitor --log,
shadow-report): refused in one line when nothing is logged yet, when the table is not a
predictions table, or when its files were damaged."""

from __future__ import annotations

from typing import Any

from mlops_template.errors import NothingLogged
from mlops_template.io.predictions_table import readable, refuse_unlike

NOTHING_LOGGED = "no predictions logged yet (make serve or make predict writes them)"


def open_logged(table: str, why: str = ""):
    """The table, opened: refused, saying `why` it was wanted, when nothing is logged
    there yet."""
    from deltalake import DeltaTable

    if not DeltaTable.is_deltatable(table):
        raise NothingLogged(f"{table}: {NOTHING_LOGGED}{why}")
    with readable(table):
        logged = DeltaTable(table)
    refuse_unlike(table, logged.schema().to_arrow(), "set predict.table to another path")
    return logged


def column_names(logged) -> list[str]:
    return logged.schema().to_arrow().names


def logged_frame(logged, table: str, columns: list[str]) -> Any:
    """These columns of an opened log as a pandas frame (a damaged table said in one line)."""
    with readable(table):
        return logged.to_pandas(columns=columns)
