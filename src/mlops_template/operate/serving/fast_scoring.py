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

Some requests get an answer of ours instead, in MLflow's error shape and without a stack
trace: a POST without a Content-Type (415; MLflow's app fails on it with a 500), a column
sent twice (to a model whose signature names its columns, as every model train logs) or
no rows (400; MLflow's app: "an unexpected error"), rows the raw-row
contract refuses (core/raw_rows.py: infinity, a date that
is not ISO 8601 text, ...), with the contract's message naming the column and values,
where MLflow's app answers "an unexpected error" and the whole stack trace; a body
nested deeper than Python's JSON parser goes, which MLflow's app lets through as a 500;
and, in any format, a column named as one of the model's but in another case or with
spaces, which MLflow's app drops, reading the model's column as missing in every row.
"""

from __future__ import annotations

import asyncio
import json
import time
from io import StringIO
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mlops_template.core.batch_checks import refuse_misnamed
from mlops_template.core.logged_requests import Answered
from mlops_template.core.raw_rows import BadCells
from mlops_template.core.raw_tables import duplicate_names
from mlops_template.operate.serving.asgi_messages import (
    JSON,
    Answer,
    content_type_of,
    read_body,
    replay,
    request_id_of,
    respond,
)
from mlops_template.operate.serving.request_columns import request_columns

if TYPE_CHECKING:
    from mlops_template.operate.serving.inference_log import InferenceLog

FORMATS = {"dataframe_split": "split", "dataframe_records": "records"}
TIMEOUT_MESSAGE = "Request processing time exceeded limit"  # MLflow's 504 text
NO_CONTENT_TYPE = json.dumps(
    {
        "error_code": "BAD_REQUEST",
        "message": "no Content-Type header: send application/json, text/csv or "
        "application/vnd.apache.parquet",
    }
)


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
        hinted = _signature_from_type_hint(model)
        schema = None if hinted else model.metadata.get_input_schema()
        self.plan = None if hinted else cast_plan(schema)
        named = schema is not None and schema.has_input_names() and not schema.is_tensor_spec()
        self.columns = schema.input_names() if named else []  # a misnamed one is refused
        self.timeout = timeout
        self.log = log

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        kind, path = scope["type"], scope.get("path")
        if kind == "lifespan" and self.log is not None:
            return await self.mlflow_app(scope, self._flushing_at_shutdown(receive), send)
        if kind == "http" and path == "/health" and self.log is not None:
            return await respond(send, 200, json.dumps(self.log.health()))
        if kind != "http" or path != "/invocations":
            return await self.mlflow_app(scope, receive, send)
        request_id = request_id_of(scope)
        answer = Answer(send, request_id)
        if scope["method"] == "POST" and content_type_of(scope) is None:
            return await answer.respond(415, NO_CONTENT_TYPE)  # MLflow's app: a 500
        body = b""
        if self._may_take(scope) or self._checks_names(scope):
            try:  # timed from the start, body included, as MLflow's middleware times it
                async with asyncio.timeout(self.timeout):
                    body = await read_body(receive)
                    result = await asyncio.to_thread(self._answer, scope, body)
            except TimeoutError:
                result = (504, TIMEOUT_MESSAGE)
            if result is not None:
                await answer.respond(*result)
                return self._logged(scope, request_id, body, answer)
            receive = replay(body, receive)
        elif self.log is not None:
            receive = answer.keeping_body(receive)
        await self.mlflow_app(scope, receive, answer.send)
        self._logged(scope, request_id, body or answer.request_body, answer)

    def _logged(self, scope: dict, request_id: str, body: bytes, answer: Answer) -> None:
        if self.log is None or answer.status != 200:
            return
        self.log.add(
            Answered(
                request_id, time.time_ns() // 1000, content_type_of(scope) or "", body, answer.body
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
        kind = content_type_of(scope)
        return scope["method"] == "POST" and kind is not None and _utf8_json(kind)

    def _checks_names(self, scope: dict) -> bool:
        return bool(self.columns) and scope["method"] == "POST"

    def _answer(self, scope: dict, body: bytes) -> tuple[int, str] | None:
        """The shorter path's answer; else, for a request MLflow's app is to answer (CSV,
        `instances`, `params`, ...), a 400 if it misnames a column, or None."""
        if self._may_take(scope) and (result := self.answer(body)) is not None:
            return result
        names = request_columns(body, content_type_of(scope) or "")
        if repeated := duplicate_names(names):  # MLflow's app: "'DataFrame' object has no..."
            return _bad_request(f"columns sent more than once: {repeated}; send each once")
        if not self.columns:
            return None
        try:
            refuse_misnamed(names, self.columns)
        except BadCells as err:
            return _bad_request(str(err))
        return None

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
            if not len(frame):  # MLflow's app: a stack trace
                raise BadCells(f"{key} holds no rows to score")
            if self.columns:  # an optional column misnamed would be read missing in every row
                refuse_misnamed([str(c) for c in frame.columns], self.columns)
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
