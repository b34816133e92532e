"""A model's predictions as the predictions table's columns (batch and the REST log's
shadow model alike)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa


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
