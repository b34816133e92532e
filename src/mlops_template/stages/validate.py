"""validate: check the collected data can be learned from, and settle the task."""

from __future__ import annotations

import sys

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.dataset_checks import check_dataset
from mlops_template.core.target import describe_classes
from mlops_template.io.atomic import write_json
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    frame = pd.read_parquet(cfg.paths.raw)
    target = cfg.data.target
    report = check_dataset(
        frame,
        target,
        cfg.validate_,
        requested_task=cfg.data.task,
        source=cfg.data.origin,
        key=cfg.split.key,
        max_categories=cfg.features.max_categories,
    )
    write_json(cfg.paths.validation, report.as_json())
    # The task decides the model, metrics and gate: say which and why, every run.
    print(f"{cfg.data.origin}: {report.task_reason}", file=sys.stderr)
    if report.classes is not None:
        print(f"{cfg.data.origin}: classes {describe_classes(report.classes)}", file=sys.stderr)
    for line in report.notes():
        print(f"{cfg.data.origin}: {line}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {cfg.data.origin}: {warning}", file=sys.stderr)
    return StageRecord(
        inputs=[Input(cfg.paths.raw, "validation", frame, target)],
        metrics=report.model_dump(
            include={"n_rows", "n_rows_without_target", "minority_share"}, exclude_none=True
        ),
        tags={"task": report.task},
    )
