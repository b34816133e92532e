"""The REST server's inference log: every answered row into the predictions table that
batch `predict` writes, with its request id, the model's inputs as the contract read
them, the prediction and the class probabilities.

Each worker keeps what its requests answered in a bounded queue (`add`: no parsing, no
I/O on the request path) and a thread of its own writes it: every `flush_requests`
requests or `flush_seconds`, one Delta commit under the table's lock
(io/table_lock.py), so it takes turns with other workers and batch `predict`. The
server's graceful shutdown (SIGTERM, Ctrl-C) writes what is left before the worker
ends (`close`); a worker killed outright loses what it had not yet written. A full
queue or a failing write never fails a request: the rows are dropped or kept to retry,
said in the server's log once per kind of trouble, and counted in `/health`.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter, deque
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from mlops_template.core.logged_inputs import input_columns, input_fields
from mlops_template.core.logged_requests import (
    Answered,
    id_text,
    predictions_of,
    request_records,
)
from mlops_template.core.prediction_columns import score_chunk
from mlops_template.core.schema import TrainingSchema
from mlops_template.io import predictions_table, table_lock

LOCK_WAIT = 60.0  # seconds a flush waits for another writer (a batch predict, say)
CLOSING_LOCK_WAIT = 20.0  # at shutdown: within the 30 s serve gives its server to stop
ENV = "MLOPS_INFERENCE_LOG"  # the log's settings, from `serve` to each worker (JSON)
SHADOW_ENV = "MLOPS_SHADOW_MODEL"  # the shadow model's checked folder (serve.shadow)
# How to name another log table (serve.log.table follows predict.table, which the log's
# readers read: labels, monitor --log, shadow-report, promote's shadow check).
OTHER_TABLE = "predict.table=..., which serve.log.table follows"


def row_schema(
    classes: list[Any] | None, passthrough: list[str], schema: TrainingSchema
) -> pa.Schema:
    """The logged rows' columns: the predictions table's, passthrough IDs as text."""
    text = [pa.field(name, pa.string()) for name in passthrough]
    return predictions_table.table_schema(classes, text, input_fields(schema))


class InferenceLog:
    def __init__(
        self, settings: dict[str, Any], model: Any, schema: TrainingSchema, shadow: Any = None
    ) -> None:
        """`shadow`: another model (serve.shadow, settings["shadow"] its version and alias)
        scored on the same rows and logged beside them, marked `shadow`."""
        self.table = settings["table"]
        self.flush_requests = settings["flush_requests"]
        self.flush_seconds = settings["flush_seconds"]
        self.max_waiting = settings["max_waiting_requests"]
        self.model, self.inputs = model, schema
        self.classes = model.classes_.tolist() if schema.task == "classification" else None
        self.passthrough = list(settings["passthrough_columns"])
        self.schema = row_schema(self.classes, self.passthrough, schema)
        self.constants = {
            "model_name": settings["model_name"],
            "model_version": settings["model_version"],
            "model_alias": settings["model_alias"],
            "shadow": False,
            "batch_hash": None,
        }
        self.shadow = shadow
        if shadow is not None:
            theirs = shadow.classes_.tolist() if self.classes is not None else None
            if theirs != self.classes:
                raise ValueError(
                    f"serve.shadow: the shadow model's classes {theirs} are not the served "
                    f"model's {self.classes}; they cannot be logged side by side"
                )
            self.shadow_constants = {
                **self.constants,
                "model_version": settings["shadow"]["model_version"],
                "model_alias": settings["shadow"]["model_alias"],
                "shadow": True,
            }
        self.infinity = model[0].infinity  # the contract's setting, its first step
        self.waiting: deque[Answered] = deque()
        self.counts: Counter[str] = Counter()
        self._counting = threading.Lock()  # `add` and the writer both count drops
        self.last_error: str | None = None
        self._said: set[str] = set()
        self._wake, self._closing = threading.Event(), False
        self._thread = threading.Thread(target=self._run, name="inference-log", daemon=True)
        self._thread.start()

    def add(self, answered: Answered) -> None:
        """On the request path: queue it, or count it dropped when the queue is full."""
        if len(self.waiting) >= self.max_waiting:
            with self._counting:
                self.counts["dropped_requests"] += 1
            self._say(
                "full",
                f"{self.max_waiting} requests are waiting to be written; dropping new ones "
                "until the writer catches up (counted in /health)",
            )
            return
        self.waiting.append(answered)
        if len(self.waiting) >= self.flush_requests:
            self._wake.set()

    def close(self) -> None:
        """Write what is waiting, and stop the writer (the server's graceful shutdown)."""
        self._closing = True
        self._wake.set()
        self._thread.join()

    def health(self) -> dict[str, Any]:
        # Degraded while writing fails or the queue is full; the counts keep the history.
        trouble = self.last_error is not None or len(self.waiting) >= self.max_waiting
        return {
            "status": "degraded" if trouble else "ok",
            "worker": os.getpid(),
            "model": {  # the version loaded at start, whatever the alias names now
                "name": self.constants["model_name"],
                "version": self.constants["model_version"],
                "alias": self.constants["model_alias"],
            },
            "inference_log": {
                "table": self.table,
                "logged_rows": self.counts["logged_rows"],
                "shadow_rows": self.counts["shadow_rows"],
                "waiting_requests": len(self.waiting),
                "dropped_requests": self.counts["dropped_requests"],
                "unlogged_requests": self.counts["unlogged_requests"],
                "failed_writes": self.counts["failed_writes"],
                "last_error": self.last_error,
            },
        }

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            closing = self._closing  # read first: what came before it is written below
            try:
                self.flush()
            except Exception as err:
                self.last_error = f"{type(err).__name__}: {err}".splitlines()[0]
                self._say("writer", f"a batch could not be logged: {self.last_error}")
            if closing:
                return

    def flush(self) -> None:
        batch = [self.waiting.popleft() for _ in range(len(self.waiting))]
        if not batch:
            return
        rows, used = self._rows(batch)
        if rows is None:
            return
        try:
            wait = CLOSING_LOCK_WAIT if self._closing else LOCK_WAIT
            with table_lock.locked(self.table, wait=wait):
                predictions_table.check(self.table, self.schema, other=OTHER_TABLE)
                predictions_table.append(self.table, self.schema, iter(rows))
        except Exception as err:
            self.counts["failed_writes"] += 1
            self.last_error = f"{type(err).__name__}: {err}".splitlines()[0]
            self._retry(used)
            return
        self.counts["logged_rows"] += rows[0].num_rows
        self.counts["shadow_rows"] += sum(batch.num_rows for batch in rows[1:])
        if self.last_error is not None:
            print(f"inference log: writing to {self.table} again", file=sys.stderr)
            self._said.discard("write")
        self.last_error = None

    def _retry(self, batch: list[Answered]) -> None:
        """Put a batch that could not be written back in front, as far as the queue has
        room (the rest is dropped and counted); on shutdown, it is lost."""
        room = 0 if self._closing else max(0, self.max_waiting - len(self.waiting))
        self.waiting.extendleft(reversed(batch[:room]))
        lost = len(batch) - min(room, len(batch))
        with self._counting:
            self.counts["dropped_requests"] += lost
        kept = f"{min(room, len(batch))} requests kept to retry" + (
            f", {lost} dropped" if lost else ""
        )
        self._say("write", f"cannot write to {self.table}: {self.last_error}; {kept}")

    def _rows(self, batch: list[Answered]) -> tuple[list[pa.RecordBatch] | None, list[Answered]]:
        """The batch's rows in the table's columns, and the requests they came from. A
        request whose rows cannot be read is left out and counted (said once per reason)."""
        readable = []
        for answered in batch:
            try:
                records = request_records(answered.content_type, answered.body)
                predictions = predictions_of(answered.answer)
                if len(records) != len(predictions):
                    raise ValueError(f"{len(records)} rows but {len(predictions)} predictions")
            except Exception as err:
                self._unlogged(err)
                continue
            readable.append((answered, records, predictions))
        if not readable:
            return None, []
        try:
            return self._columns(readable), [a for a, _, _ in readable]
        except Exception:
            pass
        good = []
        for one in readable:
            try:
                self._columns([one])
                good.append(one)
            except Exception as err:
                self._unlogged(err)
        if not good:
            return None, []
        return self._columns(good), [a for a, _, _ in good]

    def _columns(self, readable: list[tuple[Answered, list, list]]) -> list[pa.RecordBatch]:
        """The answered rows, and the shadow model's rows beside them (if any)."""
        frame = pd.DataFrame.from_records([r for _, records, _ in readable for r in records])
        counts = [len(records) for _, records, _ in readable]
        predictions = [p for _, _, ps in readable for p in ps]
        columns: dict[str, Any] = {
            "row_number": pa.array(np.concatenate([np.arange(n) for n in counts]), pa.int64()),
            "request_id": pa.array(np.repeat([a.request_id for a, _, _ in readable], counts)),
            "scored_at": pa.array(
                np.repeat([a.scored_at for a, _, _ in readable], counts), pa.int64()
            ).cast(pa.timestamp("us", tz="UTC")),
        }
        for name in self.passthrough:  # each request's own value: a frame would make floats
            texts = [id_text(r.get(name)) for _, records, _ in readable for r in records]
            columns[name] = pa.array(texts, pa.string())
        columns.update(input_columns(frame, self.inputs, self.infinity))
        served = {**columns, **self._constants(self.constants, len(frame))}
        if self.classes is None:
            served["prediction"] = pa.array(np.asarray(predictions, dtype="float64"))
        else:  # what the client got, and the probabilities behind it
            served["prediction"] = pa.array([str(p) for p in predictions], pa.string())
            proba = self.model.predict_proba(frame)
            for i, label in enumerate(self.classes):
                served[f"proba_{label}"] = pa.array(proba[:, i])
        batches = [self._batch(served)]
        if self.shadow is not None:
            scored = score_chunk(self.shadow, frame, self.classes)
            constants = self._constants(self.shadow_constants, len(frame))
            batches.append(self._batch({**columns, **constants, **scored}))
        return batches

    def _constants(self, values: dict[str, Any], n: int) -> dict[str, pa.Array]:
        return {
            name: pa.nulls(n, pa.string()) if value is None else pa.repeat(value, n)
            for name, value in values.items()
        }

    def _batch(self, columns: dict[str, Any]) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays(
            [columns[f.name] for f in self.schema], schema=self.schema
        )

    def _unlogged(self, err: Exception) -> None:
        self.counts["unlogged_requests"] += 1
        reason = f"{type(err).__name__}: {err}".splitlines()[0][:200]
        self._say(reason, f"a request answered but not logged ({reason})")

    def _say(self, kind: str, message: str) -> None:
        """Once per kind of trouble, in the server's log (the counts are in /health)."""
        if kind not in self._said:
            self._said.add(kind)
            print(f"inference log: {message}", file=sys.stderr, flush=True)
