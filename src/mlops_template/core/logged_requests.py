"""Answered REST requests as rows of the predictions table (core/logged_inputs.py for
the model's inputs): what the request path hands over, and how it is read back.

The request path only keeps the bytes it already has (the body and the answer): reading
them, the class probabilities and the contract's view of each cell are computed off that
path, for many requests at once (operate/serving/inference_log.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pandas as pd

JSON_FORMATS = ("dataframe_split", "dataframe_records")
PARQUET = "application/vnd.apache.parquet"  # MLflow's scoring app reads it with read_parquet


@dataclass(frozen=True)
class Answered:
    """A request answered 200: its id, when (microseconds since 1970, UTC), what was sent
    and MLflow's JSON answer."""

    request_id: str
    scored_at: int
    content_type: str
    body: bytes
    answer: bytes


class NotLogged(ValueError):
    """A request whose rows the log does not read (a tensor format, say)."""


def request_records(content_type: str, body: bytes) -> list[dict[str, Any]]:
    """The rows of a request, one dict per row, as the scoring app read them: JSON
    `dataframe_split` or `dataframe_records`, CSV or Parquet."""
    mime = content_type.split(";", maxsplit=1)[0].strip().lower()
    if mime == "text/csv":
        return pd.read_csv(BytesIO(body)).to_dict("records")
    if mime == PARQUET:
        return pd.read_parquet(BytesIO(body)).to_dict("records")
    if mime != "application/json":
        raise NotLogged(f"content type {mime!r}")
    request = json.loads(body)
    if not (isinstance(request, dict) and request.keys() & set(JSON_FORMATS)):
        raise NotLogged(f"a JSON body with keys {sorted(request)[:5]}")
    if rows := request.get("dataframe_records"):
        if isinstance(rows, dict):  # MLflow's app also reads {"col": [values]}
            return pd.DataFrame(rows).to_dict("records")
        return list(rows)
    split = request["dataframe_split"]
    columns, data = split.get("columns"), split.get("data", [])
    if columns is None:
        raise NotLogged("dataframe_split without columns")
    return [dict(zip(columns, row, strict=True)) for row in data]


def id_text(value: Any) -> str | None:
    """An ID column's cell as the predictions table holds it, as Arrow casts a batch's
    column: missing as null, 123.0 read from JSON as "123", booleans as "true"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def predictions_of(answer: bytes) -> list[Any]:
    """The predictions in MLflow's answer (`{"predictions": [...]}`)."""
    predictions = json.loads(answer)["predictions"]
    if predictions and isinstance(predictions[0], dict):  # a model answering named outputs
        raise NotLogged("an answer of named outputs")
    return predictions
