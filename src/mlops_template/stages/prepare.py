"""prepare: drop rows without a target, drop or merge the classes too small to learn
(as validate's report says), and split into train and test sets. A chunk of rows at a
time, in this process or on Spark (`engine=spark`), by the same per-row functions."""

from __future__ import annotations

from mlops_template.config import Config
from mlops_template.core.split import sided
from mlops_template.core.validation_report import ValidationReport
from mlops_template.io.parquet_chunks import as_dtypes, pandas_dtypes, parquet_chunks
from mlops_template.io.split_files import split_dtypes, write_split
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    report = ValidationReport.read(cfg.paths.validation)
    if cfg.engine.name == "spark":
        n_train, n_test = on_spark(cfg, report)
    else:
        raw = pandas_dtypes(cfg.paths.raw)
        chunks = (
            sided(as_dtypes(c, raw), report, cfg.split) for c in parquet_chunks([cfg.paths.raw])
        )
        n_train, n_test = write_split(chunks, list(raw), cfg, report, split_dtypes(raw, report))
    return StageRecord(
        inputs=[Input(cfg.paths.raw, "split", target=report.target)],
        metrics={"n_train": n_train, "n_test": n_test},
    )


def on_spark(cfg: Config, report: ValidationReport) -> tuple[int, int]:
    from mlops_template.io.spark_split import split_on_spark
    from mlops_template.io.spark_tables import data_session, spark_errors

    spark = data_session(cfg.engine, "prepare")
    try:
        with spark_errors(f"{cfg.paths.raw}: Spark could not split it", "prepare"):
            return split_on_spark(spark, cfg, report)
    finally:
        spark.stop()
