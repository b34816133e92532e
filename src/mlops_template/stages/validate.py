"""validate: check the collected data can be learned from, and settle the task."""

from __future__ import annotations

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.dataset_checks import check_dataset, infer_task
from mlops_template.errors import PipelineError
from mlops_template.io.atomic import write_json
from mlops_template.io.tracking import Input, StageRecord

PARAMS = ("data.target", "data.task", "validate")


def run(cfg: Config) -> StageRecord:
    frame = pd.read_parquet(cfg.paths.raw)
    source = cfg.data.path if hasattr(cfg.data, "path") else cfg.paths.raw
    target = cfg.data.target
    if target not in frame.columns:  # checked before inferring a task from it
        raise PipelineError(
            f"{source}: target column '{target}' (data.target) not found; "
            f"columns are {list(frame.columns)}"
        )
    task = infer_task(frame[target], cfg.data.task, cfg.validate_.max_classes)
    report = check_dataset(frame, target, task, cfg.validate_.min_rows, source)
    write_json(cfg.paths.validation, report)
    return StageRecord(
        inputs=[Input(cfg.paths.raw, "validation", frame, target)],
        metrics={
            "n_rows": report["n_rows"],
            "n_rows_without_target": report["n_rows_without_target"],
        },
        tags={"task": task},
    )
