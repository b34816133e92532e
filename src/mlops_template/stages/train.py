"""train: fit preprocessing and model as one pipeline; save it with its training schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.models import model_for_rows
from mlops_template.io.atomic import write_json
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import dump_model, trusted_types
from mlops_template.io.tracking import Input, StageRecord

PARAMS = (
    "features",
    "model",
    "train",
    "split.key",
    "gate.classification.metric",
    "gate.regression.metric",
    "gate.bootstrap",
)
# The packages a served model needs; listed, not inferred, as inference costs seconds.
MODEL_REQUIREMENTS = ("scikit-learn", "skops", "pandas", "numpy", "scipy", "mlflow")


def run(cfg: Config) -> StageRecord:
    report = json.loads(Path(cfg.paths.validation).read_text())
    target, task = report["target"], report["task"]
    frame = pd.read_parquet(cfg.paths.train)
    model, features, y, schema, selection = model_for_rows(cfg, frame, target, task)
    chosen = cfg.model
    if selection is not None:
        print(selection.summary())
        chosen = cfg.model.candidates[selection.chosen]
    model.fit(features, y)
    dump_model(model, cfg.paths.model)
    write_json(cfg.paths.schema_, schema)
    model_md5 = file_md5(cfg.paths.model)

    def log_model() -> None:
        _log_mlflow_model(model, features, schema, cfg.paths.model, model_md5)

    return StageRecord(
        inputs=[
            Input(cfg.paths.train, "training", frame, target),
            Input(cfg.paths.validation, "validation_report"),
        ],
        artifacts=[cfg.paths.schema_],
        metrics=selection.metrics() if selection else {},
        tags={
            "task": task,
            "model_md5": model_md5,
            "model_type": chosen.type,
            **({"model_selection": selection.summary()} if selection else {}),
        },
        log_model=log_model,
    )


def _log_mlflow_model(
    model: Any, features: pd.DataFrame, schema: dict, model_path: str, model_md5: str
) -> None:
    from importlib.metadata import version

    import mlflow.sklearn
    from mlflow.models import infer_signature

    # Integer columns are declared as floats: a missing value at serving time turns
    # an integer column into floats, which an integer signature would reject.
    ints = features.select_dtypes("integer").columns
    example = features.head(5).astype(dict.fromkeys(ints, "float64"))
    mlflow.sklearn.log_model(
        model,
        name="model",
        serialization_format="skops",
        skops_trusted_types=trusted_types(Path(model_path).read_bytes()),
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=[f"{p}=={version(p)}" for p in MODEL_REQUIREMENTS],
        metadata={"schema": schema, "model_md5": model_md5},
    )
