"""validate: check the collected data can be learned from, and settle the task: in this
process, or on Spark (`engine=spark`) from the same decisions on the table's facts."""

from __future__ import annotations

import sys

from mlops_template.config import Config
from mlops_template.core.dataset_checks import check_table
from mlops_template.core.target import describe_classes
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.atomic import write_json
from mlops_template.io.parquet_facts import ParquetFacts
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    target = cfg.data.target
    how = {
        "requested_task": cfg.data.task,
        "source": cfg.data.origin,
        "key": cfg.split.key,
        "max_categories": cfg.features.max_categories,
    }
    if cfg.engine.name == "spark":
        report = on_spark(cfg, how)
    else:  # a column at a time: never the whole table in memory
        report = check_table(ParquetFacts(cfg.paths.raw), target, cfg.validate_, **how)
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
        inputs=[Input(cfg.paths.raw, "validation")],  # by the digest DVC records
        metrics=report.model_dump(
            include={"n_rows", "n_rows_without_target", "minority_share"}, exclude_none=True
        ),
        tags={"task": report.task},
    )


def on_spark(cfg: Config, how: dict) -> ValidationReport:
    """The report of the collected file read by Spark: counts come back, not rows."""
    from mlops_template.io.parquet_chunks import pandas_dtypes
    from mlops_template.io.spark_checks import check_spark_dataset
    from mlops_template.io.spark_tables import data_session, spark_errors

    spark = data_session(cfg.engine, "validate")
    try:
        with spark_errors(f"{cfg.paths.raw}: Spark could not check it", "validate"):
            frame = spark.read.parquet(cfg.paths.raw)
            dtypes = pandas_dtypes(cfg.paths.raw)
            return check_spark_dataset(frame, dtypes, cfg.data.target, cfg.validate_, **how)
    finally:
        spark.stop()
