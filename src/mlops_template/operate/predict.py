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


def score_chunk(model: Any, frame: Any, classes: list[Any] | None) -> dict[str, np.ndarray]:
    """Prediction (and one probability column per class) for a frame of model inputs."""
    if classes is None:
        return {"prediction": np.asarray(model.predict(frame), dtype="float64")}
    proba = model.predict_proba(frame)
    # The label is the most probable class, as the model's own predict would give.
    labels = np.asarray(classes, dtype=object)[proba.argmax(axis=1)].astype(str)
    columns = {"prediction": labels}
    for i, label in enumerate(classes):
        columns[f"proba_{label}"] = proba[:, i]
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
    stamp = pa.scalar(int(time.time() * 1_000_000), pa.timestamp("us", tz="UTC"))
    constants = {
        "model_name": ref.name,
        "model_version": ref.version,
        "model_alias": ref.alias,
        "batch_hash": batch_hash,
    }

    def scored() -> Iterator[pa.RecordBatch]:
        offset = 0
        for chunk in _progress(iter_chunks(path, schema, settings.chunk_rows), path):
            frame = chunk.to_pandas()
            unseen = unseen_categories(schema, frame)
            if unseen and settings.unseen_categories == "error":
                raise PipelineError(describe_unseen(unseen, str(path)))
            n = len(frame)
            columns = {"row_number": np.arange(offset, offset + n, dtype="int64")}
            for name in settings.passthrough_columns:
                columns[name] = frame[name].astype("string").to_numpy(dtype=object, na_value=None)
            columns.update(score_chunk(model, frame[features], classes))
            for key, value in constants.items():
                columns[key] = pa.array([value] * n, pa.string())
            columns["scored_at"] = pa.array([stamp.value] * n, out_schema.field("scored_at").type)
            offset += n
            yield pa.RecordBatch.from_pydict(columns, schema=out_schema)

    predictions_table.append(table, out_schema, scored())
    print(
        f"scored {path} with {ref.name} v{ref.version}: rows appended to {table}", file=sys.stderr
    )
    return 0


def _progress(chunks: Iterator[Any], path: Path) -> Iterator[Any]:
    """Show progress on a terminal; stay quiet in logs and CI."""
    if not sys.stderr.isatty():
        yield from chunks
        return
    from tqdm import tqdm

    yield from tqdm(chunks, desc=f"scoring {path.name}", unit=" chunks")
