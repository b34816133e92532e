"""The column names a request to /invocations gives, in each format MLflow's scoring app
reads: so that a misnamed column is refused whichever way a client sends its rows (MLflow
drops a column it does not know and reads an optional one it misses as missing)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any


def request_columns(body: bytes, content_type: str) -> list[str]:
    """The names: a CSV's header; JSON's `dataframe_split` columns, or the keys of the rows
    of `dataframe_records`, `instances` or `inputs` (or of their columns, given as a
    mapping). [] where the body gives none (a tensor, broken text): MLflow answers it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return []
    if content_type.partition(";")[0].strip().lower() == "text/csv":
        # pandas reads past a byte-order mark too
        return next(csv.reader(io.StringIO(text.removeprefix("\ufeff"))), [])
    try:
        request = json.loads(text)
    except (ValueError, RecursionError):
        return []
    return _json_names(request) if isinstance(request, dict) else []


def _json_names(request: dict) -> list[str]:
    if isinstance(split := request.get("dataframe_split"), dict):
        return _texts(split.get("columns"))
    rows = next(
        (request[key] for key in ("dataframe_records", "instances", "inputs") if key in request),
        None,
    )
    if isinstance(rows, dict):  # `instances` or `inputs` by column
        return _texts(list(rows))
    if isinstance(rows, list) and rows and all(isinstance(row, dict) for row in rows):
        return list(dict.fromkeys(str(name) for row in rows for name in row))
    return []


def _texts(names: Any) -> list[str]:
    return [str(name) for name in names] if isinstance(names, list) else []
