"""prepare: drop rows without a target, drop or merge the classes too small to learn
(as validate's report says), and split into train and test sets: in this process, or
on Spark (`engine=spark`) by the same per-row functions."""

from __future__ import annotations

import pandas as pd

from mlops_template.config import Config
from mlops_template.core.split import split_frame
from mlops_template.core.target import relabelled
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.atomic import write_parquet
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    report = ValidationReport.read(cfg.paths.validation)
    if cfg.engine.name == "spark":
        return on_spark(cfg, report)
    frame = pd.read_parquet(cfg.paths.raw)
    rows = relabelled(frame, report.target, report.small_classes)
    train, test = split_frame(rows, report.target, report.task, cfg.split, report.identifiers)
    write_parquet(cfg.paths.train, train)
    write_parquet(cfg.paths.test, test)
    return StageRecord(
        inputs=[Input(cfg.paths.raw, "split", frame, report.target)],
        metrics={"n_train": len(train), "n_test": len(test)},
    )


def on_spark(cfg: Config, report: ValidationReport) -> StageRecord:
    from mlops_template.io.spark_split import split_on_spark
    from mlops_template.io.spark_tables import data_session

    spark = data_session(cfg.engine, "prepare")
    try:
        n_train, n_test = split_on_spark(spark, cfg, report)
    finally:
        spark.stop()
    return StageRecord(
        inputs=[Input(cfg.paths.raw, "split", None, report.target)],
        metrics={"n_train": n_train, "n_test": n_test},
    )
