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
import time
import uuid
from io import StringIO
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_template.core.batch_checks import refuse_misnamed
from mlops_template.core.logged_requests import Answered
from mlops_template.core.raw_rows import BadCells

if TYPE_CHECKING:
    from mlops_template.operate.serving.inference_log import InferenceLog

JSON = "application/json"
FORMATS = {"dataframe_split": "split", "dataframe_records": "records"}
TIMEOUT_MESSAGE = "Request processing time exceeded limit"  # MLflow's 504 text
MAX_REQUEST_ID = 200  # characters of a client's own x-request-id


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
    """An ASGI app: MLflow's scoring app, with the shorter path in front of it; every
    answer to /invocations carries its request id (`x-request-id`: the client's, or a
    new one), and with an inference log each answered request is handed to it."""

    def __init__(
        self, mlflow_app: Any, model: Any, timeout: float, log: InferenceLog | None = None
    ) -> None:
        self.mlflow_app = mlflow_app
        self.model = model
        self.plan = (
            None
            if _signature_from_type_hint(model)
            else cast_plan(model.metadata.get_input_schema())
        )
        self.timeout = timeout
        self.log = log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind, path = scope["type"], scope.get("path")
        if kind == "lifespan" and self.log is not None:
            return await self.mlflow_app(scope, self._flushing_at_shutdown(receive), send)
        if kind == "http" and path == "/health" and self.log is not None:
            return await _respond(send, 200, json.dumps(self.log.health()))
        if kind != "http" or path != "/invocations":
            return await self.mlflow_app(scope, receive, send)
        request_id = _request_id(scope)
        answer = _Answer(send, request_id)
        body = b""
        if self._may_take(scope):
            try:  # timed from the start, body included, as MLflow's middleware times it
                async with asyncio.timeout(self.timeout):
                    body = await _body(receive)
                    result = await asyncio.to_thread(self.answer, body)
            except TimeoutError:
                result = (504, TIMEOUT_MESSAGE)
            if result is not None:
                await answer.respond(*result)
                return self._logged(scope, request_id, body, answer)
            receive = _replay(body, receive)
        elif self.log is not None:
            receive = answer.keeping_body(receive)
        await self.mlflow_app(scope, receive, answer.send)
        self._logged(scope, request_id, body or answer.request_body, answer)

    def _logged(self, scope: dict, request_id: str, body: bytes, answer: _Answer) -> None:
        if self.log is None or answer.status != 200:
            return
        self.log.add(
            Answered(
                request_id, time.time_ns() // 1000, _content_type(scope) or "", body, answer.body
            )
        )

    def _flushing_at_shutdown(self, receive: Any) -> Any:
        """`receive` for MLflow's lifespan: at shutdown, the log is written first."""

        async def flushing() -> dict:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.log.close)
            return message

        return flushing

    def _may_take(self, scope: dict) -> bool:
        if self.plan is None or scope["type"] != "http" or scope["path"] != "/invocations":
            return False
        kind = _content_type(scope)
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
            frame = dataframe_from_parsed_json(rows, FORMATS[key])
            if self.plan:  # an optional column misnamed would be read missing in every row
                refuse_misnamed([str(c) for c in frame.columns], list(self.plan))
            frame = typed_frame(frame, self.plan)
            if self.plan:  # MLflow drops the others too, with a warning per request
                frame = frame[[name for name in frame.columns if name in self.plan]]
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


def _content_type(scope: dict) -> str | None:
    """The first Content-Type, as Starlette's request.headers gives MLflow's app."""
    kind = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    return None if kind is None else kind.decode("latin-1")


def _request_id(scope: dict) -> str:
    """The client's `x-request-id` when it is a short printable token, else a new one."""
    given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
    if 0 < len(given) <= MAX_REQUEST_ID and all(33 <= c < 127 for c in given):
        return given.decode("ascii")
    return uuid.uuid4().hex


class _Answer:
    """`send` with the request id in the answer's headers, keeping the status and (for
    the log) the body of a 200."""

    def __init__(self, send: Any, request_id: str) -> None:
        self._send, self.header = send, (b"x-request-id", request_id.encode())
        self.status, self._chunks, self._request = 0, [], []

    async def send(self, message: dict) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", []), self.header]}
        elif message["type"] == "http.response.body" and self.status == 200:
            self._chunks.append(message.get("body", b""))
        await self._send(message)

    async def respond(self, status: int, text: str) -> None:
        await _respond(self.send, status, text)

    @property
    def body(self) -> bytes:
        return b"".join(self._chunks)

    @property
    def request_body(self) -> bytes:
        return b"".join(self._request)

    def keeping_body(self, receive: Any) -> Any:
        """`receive` that keeps a copy of the request's body (for the log)."""

        async def keeping() -> dict:
            message = await receive()
            if message["type"] == "http.request":
                self._request.append(message.get("body", b""))
            return message

        return keeping


def _utf8_json(content_type: str) -> bool:
    """MLflow's app reads the body as UTF-8 JSON: `application/json`, with no parameter
    but a UTF-8 charset (its `invocations` parses the header so)."""
    mime, *pairs = (part.strip() for part in content_type.split(";"))
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
