"""train: fit preprocessing and model as one pipeline; save it with its training schema."""

from __future__ import annotations

import time

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.cross_validation import threads_for
from mlops_template.core.model_selection import Selection
from mlops_template.core.models import model_for_rows
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io import model_logging
from mlops_template.io.atomic import write_json
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import dump_model
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    report = ValidationReport.read(cfg.paths.validation)
    target, task = report.target, report.task
    frame = pd.read_parquet(cfg.paths.train)
    model, features, y, schema, chosen, selection = model_for_rows(cfg, frame, target, task)
    if selection is not None:
        print(selection.summary())
    start = time.perf_counter()
    if selection is None or selection.fitted is None:
        with threads_for(len(y)):
            model.fit(features, y)
    print(fit_cost(selection, time.perf_counter() - start, len(y)))
    dump_model(model, cfg.paths.model)
    write_json(cfg.paths.schema_, schema.as_json())
    model_md5 = file_md5(cfg.paths.model)

    def log_model() -> None:
        model_logging.log_model(model, features, schema, cfg.paths.model, model_md5)

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
            # The estimator's class for a `type: sklearn` model (ExtraTreesClassifier).
            "model_type": type(model.named_steps["model"]).__name__
            if chosen.type == "sklearn"
            else chosen.type,
            **({"model_selection": selection.summary()} if selection else {}),
        },
        log_model=log_model,
    )


def fit_cost(selection: Selection | None, seconds: float, rows: int) -> str:
    """What training cost: the selection's fits, then the final one."""
    final = f"the final fit on {rows} rows in {seconds:.1f} s"
    if selection is None:
        return f"train: {final}"
    if selection.fitted is not None:
        final = "no final fit: the chosen model is the one fitted beside the hold-out split"
    return f"train: {selection.cost.describe()} to choose, then {final}"
