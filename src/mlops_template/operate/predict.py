"""predict: score a batch of any size with a registered model into the predictions table.

The batch is checked against the model's training schema, scored chunk by chunk (memory
stays bounded) and appended to a Delta table in one transaction, so a batch that fails
half way writes nothing. Each row carries the prediction (and class probabilities), the
model name, version and alias, the batch's md5 and the time it was scored.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mlops_template.config import Config
from mlops_template.core.batch_checks import check_columns, describe_unseen, unseen_categories
from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table, registry
from mlops_template.io.batch_files import batch_columns, iter_chunks
from mlops_template.io.lineage import file_md5


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: str
    alias: str  # "" when a version was asked for directly

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def resolve_model(client: Any, name: str, version: str | None, alias: str | None) -> ModelRef:
    from mlflow.exceptions import MlflowException

    if version:
        try:
            client.get_model_version(name, version)
        except MlflowException:
            raise PipelineError(f"{name} has no version {version}") from None
        return ModelRef(name, str(version), "")
    found = registry.alias_version(client, name, alias)
    if found is None:
        raise PipelineError(f"{name} has no version with alias '{alias}' (run `make promote`)")
    return ModelRef(name, found, alias)


def output_schema(classes: list[Any] | None, passthrough: list[pa.Field]) -> pa.Schema:
    fields = [pa.field("row_number", pa.int64()), *passthrough]
    if classes is None:
        fields.append(pa.field("prediction", pa.float64()))
    else:
        fields.append(pa.field("prediction", pa.string()))
        fields += [pa.field(f"proba_{c}", pa.float64()) for c in classes]
    fields += [
        pa.field("model_name", pa.string()),
        pa.field("model_version", pa.string()),
        pa.field("model_alias", pa.string()),
        pa.field("batch_hash", pa.string()),
        pa.field("scored_at", pa.timestamp("us", tz="UTC")),
    ]
    return pa.schema(fields)


def score_chunk(model: Any, frame: Any, classes: list[Any] | None) -> dict[str, pa.Array]:
    """Prediction (and one probability column per class) for a frame of model inputs."""
    if classes is None:
        return {"prediction": pa.array(np.asarray(model.predict(frame), dtype="float64"))}
    proba = model.predict_proba(frame)
    # The label is the most probable class, as the model's own predict gives; built as
    # indices into the class names, which is far faster than one string per row.
    labels = pa.DictionaryArray.from_arrays(
        pa.array(proba.argmax(axis=1).astype(np.int32)), pa.array([str(c) for c in classes])
    )
    columns = {"prediction": labels.cast(pa.string())}
    for i, label in enumerate(classes):
        columns[f"proba_{label}"] = pa.array(proba[:, i])
    return columns


def predict(
    cfg: Config, batch: str, version: str | None, alias: str | None, table: str | None
) -> int:
    import mlflow.models
    import mlflow.sklearn

    settings = cfg.predict
    table = table or settings.table
    path = Path(batch)
    client = registry.connect()
    ref = resolve_model(client, cfg.registry.model_name, version, alias or settings.alias)
    schema = mlflow.models.get_model_info(ref.uri).metadata["schema"]
    columns = batch_columns(path, schema)
    target = schema["target"]["name"]
    problems, extra = check_columns(
        schema,
        columns,
        allowed_extra={target, *settings.passthrough_columns},
        extra_policy=settings.extra_columns,
        source=str(path),
    )
    missing_passthrough = [c for c in settings.passthrough_columns if c not in columns]
    if missing_passthrough:
        problems.append(f"{path}: passthrough columns not in the batch {missing_passthrough}")
    if problems:
        raise PipelineError("batch refused, nothing scored:\n  " + "\n  ".join(problems))
    if extra:
        print(f"{path}: ignoring columns the model was not trained on: {extra}", file=sys.stderr)
    batch_hash = file_md5(path)
    done = predictions_table.already_scored(table, batch_hash, ref.name, ref.version)
    if done:
        print(
            f"{path} (md5 {batch_hash}) is already in {table}: {done} rows scored by "
            f"{ref.name} v{ref.version}; nothing to do",
            file=sys.stderr,
        )
        return 0

    model = mlflow.sklearn.load_model(ref.uri)
    classes = model.classes_.tolist() if schema["task"] == "classification" else None
    features = [c["name"] for c in schema["columns"]]
    passthrough = [pa.field(c, pa.string()) for c in settings.passthrough_columns]
    out_schema = output_schema(classes, passthrough)
    constants = {
        "model_name": pa.scalar(ref.name),
        "model_version": pa.scalar(ref.version),
        "model_alias": pa.scalar(ref.alias),
        "batch_hash": pa.scalar(batch_hash),
        "scored_at": pa.scalar(int(time.time() * 1_000_000), out_schema.field("scored_at").type),
    }
    counted = {"rows": 0}

    def scored() -> Iterator[pa.RecordBatch]:
        for chunk in _progress(iter_chunks(path, schema, settings.chunk_rows), path):
            frame = chunk.to_pandas()
            unseen = unseen_categories(schema, frame)
            if unseen and settings.unseen_categories == "error":
                raise PipelineError(describe_unseen(unseen, str(path)))
            n, offset = len(frame), counted["rows"]
            columns = {"row_number": pa.array(np.arange(offset, offset + n, dtype="int64"))}
            for name in settings.passthrough_columns:
                columns[name] = chunk.column(name).cast(pa.string())
            columns.update(score_chunk(model, frame[features], classes))
            columns.update({key: pa.repeat(value, n) for key, value in constants.items()})
            counted["rows"] += n
            yield pa.RecordBatch.from_arrays(
                [columns[f.name] for f in out_schema], schema=out_schema
            )

    started = time.perf_counter()
    predictions_table.append(table, out_schema, scored())
    seconds = time.perf_counter() - started
    rows = counted["rows"]
    print(
        f"scored {path} with {ref.name} v{ref.version}: {rows} rows appended to {table} "
        f"in {seconds:.2f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)",
        file=sys.stderr,
    )
    return 0


def _progress(chunks: Iterator[Any], path: Path) -> Iterator[Any]:
    """Show progress on a terminal; stay quiet in logs and CI."""
    if not sys.stderr.isatty():
        yield from chunks
        return
    from tqdm import tqdm

    yield from tqdm(chunks, desc=f"scoring {path.name}", unit=" chunks")
