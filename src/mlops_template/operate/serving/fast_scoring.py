"""A shorter path through MLflow's scoring app for the request it mostly gets: JSON rows in
`dataframe_split` or `dataframe_records` (`application/json`, with a UTF-8 charset or none)
for a model with a column signature.

MLflow's app reads such a request in ~2 ms a row on this machine, most of it casting the
frame to the signature one column at a time (`pdf[col] = pdf[col].astype(...)`), more
than a third of a gradient-boosting model's own predict. This path reads the rows with
MLflow's own functions and casts only the columns whose type differs, in one `astype`,
under the same rules; it calls the same `predict` and writes the answer with MLflow's
own function. Whatever it does not take on (another format or content type, `params`, a
signature with binary, date or nested columns, a cell that does not cast, a model that
refuses the rows) goes to MLflow's app whole, which answers or refuses it as it always
does. So an answer is MLflow's answer, byte for byte (tests/unit/test_fast_scoring.py,
tests/e2e/test_reading_parity.py). A request the model refuses is scored twice, and
MLflow's app times it afresh: its error carries MLflow's own stack trace.

Two kinds of request get a 400 of ours instead, in MLflow's error shape and without a
stack trace: rows the raw-row contract refuses (core/raw_rows.py: infinity, a date that
is not ISO 8601 text, ...), with the contract's message naming the column and values,
where MLflow's app answers "an unexpected error" and the whole stack trace; and a body
nested deeper than Python's JSON parser goes, which MLflow's app lets through as a 500.
"""

from __future__ import annotations

import asyncio
import json
from io import StringIO
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core.raw_rows import BadCells

JSON = "application/json"
FORMATS = {"dataframe_split": "split", "dataframe_records": "records"}
TIMEOUT_MESSAGE = "Request processing time exceeded limit"  # MLflow's 504 text


def cast_plan(schema: Any) -> dict[str, Any] | None:
    """The pandas type of each signature column, or None if MLflow's cast does more for
    some column than `astype` (binary, bytes, dates, arrays, objects, maps, any) or the
    signature is not a list of named columns."""
    from mlflow.types.schema import DataType

    if schema is None:
        return {}  # MLflow casts nothing
    if not schema.has_input_names() or schema.is_tensor_spec():
        return None
    plan = {}
    for name, spec in zip(schema.input_names(), schema.input_types(), strict=True):
        if not isinstance(spec, DataType) or spec in (DataType.binary, DataType.datetime):
            return None
        dtype = np.dtype(spec.to_pandas())  # text is `object`, the class
        if dtype == np.dtype(bytes):
            return None
        plan[name] = dtype
    return plan


def typed_frame(frame: pd.DataFrame, plan: dict[str, Any]) -> pd.DataFrame:
    """The frame cast as MLflow's `cast_df_types_according_to_schema` casts it: each
    signature column present, to its type, text already in pandas' string type kept as
    it is. A column already of its type is left alone (an `astype` to it copies the same
    values). Raises where a cell does not cast."""
    if not frame.columns.is_unique:
        raise ValueError("duplicate columns")  # MLflow's cast sees a frame per name
    current = frame.dtypes
    changes = {}
    for name, dtype in plan.items():
        if name not in current.index:
            continue
        if dtype.kind in "OU" and isinstance(current[name], pd.StringDtype):
            continue
        if current[name] != dtype:
            changes[name] = dtype
    return frame.astype(changes) if changes else frame


class ScoringApp:
    """An ASGI app: MLflow's scoring app, with the shorter path in front of it."""

    def __init__(self, mlflow_app: Any, model: Any, timeout: float) -> None:
        self.mlflow_app = mlflow_app
        self.model = model
        self.plan = (
            None
            if _signature_from_type_hint(model)
            else cast_plan(model.metadata.get_input_schema())
        )
        self.timeout = timeout

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if not self._may_take(scope):
            return await self.mlflow_app(scope, receive, send)
        body = b""
        try:  # timed from the start, body included, as MLflow's middleware times it
            async with asyncio.timeout(self.timeout):
                body = await _body(receive)
                answer = await asyncio.to_thread(self.answer, body)
        except TimeoutError:
            answer = (504, TIMEOUT_MESSAGE)
        if answer is None:
            return await self.mlflow_app(scope, _replay(body, receive), send)
        await _respond(send, *answer)

    def _may_take(self, scope: dict) -> bool:
        if self.plan is None or scope["type"] != "http" or scope["path"] != "/invocations":
            return False
        # The first Content-Type, as Starlette's request.headers gives MLflow's app.
        kind = next((v for k, v in scope["headers"] if k == b"content-type"), None)
        return scope["method"] == "POST" and kind is not None and _utf8_json(kind)

    def answer(self, body: bytes) -> tuple[int, str] | None:
        """(200, MLflow's JSON of the predictions), (400, an error) for a body that nests too
        deeply or rows the raw-row contract refuses, or None for MLflow's app to answer."""
        from mlflow.pyfunc.scoring_server import predictions_to_json
        from mlflow.utils.proto_json_utils import dataframe_from_parsed_json

        try:
            request = json.loads(body)
        except RecursionError:  # MLflow's app lets it through: a 500 saying nothing
            return _bad_request("the request body nests too deeply to be a table of rows")
        except Exception:  # MLflow's app answers it, with MLflow's error
            return None
        if not (
            isinstance(request, dict) and len(request) == 1 and request.keys() <= FORMATS.keys()
        ):
            return None
        ((key, rows),) = request.items()
        try:
            frame = typed_frame(dataframe_from_parsed_json(rows, FORMATS[key]), self.plan)
            predictions = self.model.predict(frame, params=None)
            text = StringIO()
            predictions_to_json(predictions, text)
        except BadCells as err:  # MLflow's app: "an unexpected error" and a stack trace
            return _bad_request(_refused(str(err)))
        except Exception:  # MLflow's app answers it, with MLflow's error
            return None
        return 200, text.getvalue()


def _bad_request(message: str) -> tuple[int, str]:
    """A 400 in the shape of MLflow's errors, without a stack trace."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import BAD_REQUEST

    error = MlflowException(message, error_code=BAD_REQUEST)
    return error.get_http_status_code(), error.serialize_as_json()


def _refused(message: str) -> str:
    """The contract's message; for infinity, the JSON a client sent that reads as it."""
    if "infinite values" in message:
        message += (
            "; JSON's Infinity and -Infinity, and numbers too large for a double such as "
            "1e400, are infinite"
        )
    return message


def _utf8_json(content_type: bytes) -> bool:
    """MLflow's app reads the body as UTF-8 JSON: `application/json`, with no parameter
    but a UTF-8 charset (its `invocations` parses the header so)."""
    mime, *pairs = (part.strip() for part in content_type.decode("latin-1").split(";"))
    parameters = dict(pair.partition("=")[::2] for pair in pairs)
    charset = parameters.pop("charset", "utf-8").lower()
    return mime == JSON and not parameters and charset == "utf-8"


def _signature_from_type_hint(model: Any) -> bool:
    """MLflow passes such a model's input through unparsed."""
    check = getattr(model.metadata, "_is_signature_from_type_hint", None)
    return bool(check and check())


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Any) -> Any:
    """`receive` for MLflow's app: the body already read, then the client's own."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _respond(send: Any, status: int, text: str) -> None:
    content = text.encode()
    headers = [(b"content-length", str(len(content)).encode()), (b"content-type", JSON.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
