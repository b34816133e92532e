"""Scoring a batch into the predictions table, once its model is fetched (predict.py).

The batch is checked against the model's training schema, scored chunk by chunk (memory
stays bounded) and appended to a Delta table in one transaction, so a batch that fails
half way writes nothing. Writers to one table take turns (a lock beside it), so a batch
scored by several processes at once is appended once. Each row carries the prediction
(and class probabilities), the model name, version and alias, the batch's md5 and the
time it was scored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mlops_template.config import Predict
from mlops_template.core.batch_checks import describe_unseen, unseen_categories
from mlops_template.core.logged_inputs import input_columns, input_fields
from mlops_template.core.prediction_columns import score_chunk
from mlops_template.core.raw_rows import BadCells
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table, table_lock
from mlops_template.io.batch_files import column_problems, iter_chunks
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_versions import ModelRef
from mlops_template.operate.batch.model_fetch import FetchedModel
from mlops_template.operate.batch.scoring_job import ScoringJob


def score_batch(
    settings: Predict,
    path: Path,
    fetch: Callable[[], FetchedModel],
    *,
    table: str,
    engine: str,
    id_column: str | None = None,
    dropped: Iterable[str] = (),
) -> int:
    """Check the batch against the model's schema, then score it into the table. The
    table is checked first, while the model is still being fetched (`fetch` waits).
    The data's ID column, when the batch has it, is copied like a passthrough column;
    it and the columns conf/ drops from the data (`dropped`) are never extra."""
    predictions_table.check(table)
    predictions_table.refuse_missing_files(table)
    fetched = fetch()
    ref, folder = fetched.ref, fetched.folder
    schema = TrainingSchema.of(fetched.schema, ref.label)
    problems, extra, columns = column_problems(path, schema, settings, id_column, dropped)
    missing_passthrough = [c for c in settings.passthrough_columns if c not in columns]
    if missing_passthrough:
        problems.append(f"{path}: passthrough columns not in the batch {missing_passthrough}")
    if problems:
        raise PipelineError("batch refused, nothing scored:\n  " + "\n  ".join(problems))
    if extra:
        print(f"{path}: ignoring columns the model was not trained on: {extra}", file=sys.stderr)
    batch_hash = file_md5(path)
    if _already_scored(path, table, batch_hash, ref):
        return 0

    model = fetched.model
    classes = model.classes_.tolist() if schema.task == "classification" else None
    passthrough = list(settings.passthrough_columns)
    if id_column in columns and id_column not in passthrough:
        passthrough.insert(0, id_column)
    job = ScoringJob(
        path=path,
        table=table,
        ref=ref,
        schema=schema,
        model=model,
        folder=folder,
        classes=classes,
        passthrough=passthrough,
        out_schema=predictions_table.table_schema(
            classes, [pa.field(c, pa.string()) for c in passthrough], input_fields(schema)
        ),
        constants={
            "model_name": ref.name,
            "model_version": ref.version,
            "model_alias": ref.alias,
            "shadow": False,
            "request_id": None,
            "batch_hash": batch_hash,
            "scored_at": int(time.time() * 1_000_000),
        },
    )
    # One writer at a time per table, and the checks again under its lock: another
    # process may have scored this batch, or made the table, since the first look.
    with table_lock.locked(table):
        predictions_table.check(table, job.out_schema)
        if _already_scored(path, table, batch_hash, ref):
            return 0
        started = time.perf_counter()
        if engine == "spark":
            from mlops_template.operate.batch.spark_predict import score_with_spark

            rows = score_with_spark(job, settings)
        else:
            rows = _score_with_pandas(job, settings.chunk_rows, settings.unseen_categories)
        seconds = time.perf_counter() - started
    # A rate says something about a batch that took a while, not about a few rows.
    rate = f" ({rows / seconds:,.0f} rows/s)" if seconds >= 1 and rows >= 1000 else ""
    print(
        f"scored {path} with {ref.label}: {rows} rows appended to {table} in {seconds:.2f} s{rate}",
        file=sys.stderr,
    )
    return 0


def _already_scored(path: Path, table: str, batch_hash: str, ref: ModelRef) -> bool:
    """Whether the table holds this batch scored by this model version (said if so)."""
    done = predictions_table.already_scored(table, batch_hash, ref.name, ref.version)
    if done:
        print(
            f"{path} (md5 {batch_hash}) is already in {table}: {done} rows scored by "
            f"{ref.label}; nothing to do",
            file=sys.stderr,
        )
    return bool(done)


def _score_with_pandas(job: ScoringJob, chunk_rows: int, unseen_policy: str) -> int:
    """Score chunk by chunk in this process; one Delta commit for the whole batch."""
    constants = {
        name: pa.scalar(value, job.out_schema.field(name).type)
        for name, value in job.constants.items()
    }
    counted = {"rows": 0}

    def scored() -> Iterator[pa.RecordBatch]:
        for chunk in _progress(iter_chunks(job.path, job.schema, chunk_rows), job.path):
            frame = chunk.to_pandas()
            n, offset = len(frame), counted["rows"]
            columns = {"row_number": pa.array(np.arange(offset, offset + n, dtype="int64"))}
            for name in job.passthrough:
                columns[name] = chunk.column(name).cast(pa.string())
            try:
                if unseen_policy == "error" and (unseen := unseen_categories(job.schema, frame)):
                    raise PipelineError(describe_unseen(unseen, str(job.path)))
                columns.update(score_chunk(job.model, frame[job.features], job.classes))
                columns.update(input_columns(frame, job.schema, job.infinity))
            except BadCells as err:  # the contract refuses a cell (infinity, say)
                raise PipelineError(f"{job.path}: {err}; nothing scored") from None
            columns.update({key: pa.repeat(value, n) for key, value in constants.items()})
            counted["rows"] += n
            yield pa.RecordBatch.from_arrays(
                [columns[f.name] for f in job.out_schema], schema=job.out_schema
            )

    predictions_table.append(job.table, job.out_schema, scored())
    return counted["rows"]


def _progress(chunks: Iterator[Any], path: Path) -> Iterator[Any]:
    """Show progress on a terminal; stay quiet in logs and CI."""
    if not sys.stderr.isatty():
        yield from chunks
        return
    from tqdm import tqdm

    yield from tqdm(chunks, desc=f"scoring {path.name}", unit=" chunks")
