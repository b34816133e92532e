"""The ASGI messages the scoring app reads and sends itself: a request's headers and body
(read whole, then replayed to MLflow's app) and an answer carrying the request id."""

from __future__ import annotations

import uuid
from typing import Any

JSON = "application/json"
MAX_REQUEST_ID = 200  # characters of a client's own x-request-id


def content_type_of(scope: dict) -> str | None:
    """The first Content-Type, as Starlette's request.headers gives MLflow's app."""
    kind = next((v for k, v in scope["headers"] if k == b"content-type"), None)
    return None if kind is None else kind.decode("latin-1")


def request_id_of(scope: dict) -> str:
    """The client's `x-request-id` when it is a short printable token, else a new one."""
    given = next((v for k, v in scope["headers"] if k == b"x-request-id"), b"")
    if 0 < len(given) <= MAX_REQUEST_ID and all(33 <= c < 127 for c in given):
        return given.decode("ascii")
    return uuid.uuid4().hex


class Answer:
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
        await respond(self.send, status, text)

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


async def read_body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def replay(body: bytes, receive: Any) -> Any:
    """`receive` for MLflow's app: the body already read, then the client's own."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def respond(send: Any, status: int, text: str) -> None:
    content = text.encode()
    headers = [(b"content-length", str(len(content)).encode()), (b"content-type", JSON.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": content})
