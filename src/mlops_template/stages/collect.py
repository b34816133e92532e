"""collect: materialise the configured data source as one Parquet file."""

from __future__ import annotations

import sys

import pandas as pd

from mlops_template.config import Config
from mlops_template.config.data import FileData
from mlops_template.core.dataset_checks import require_target
from mlops_template.io.atomic import write_parquet
from mlops_template.io.datasets import labelled_batches, load_source, unbatched
from mlops_template.io.parquet_chunks import ROW_GROUP_ROWS
from mlops_template.io.spark_collect import collect_on_spark, reads_on_spark
from mlops_template.io.spark_tables import data_session
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    if cfg.engine.name == "spark":
        if reads_on_spark(cfg.data):
            return _run_on_spark(cfg)
        print(
            f"note: engine=spark: {cfg.data.origin} is collected on pandas (bundled, generated, "
            "CSV or fetched data: small, or made in this process); the later stages run on Spark",
            file=sys.stderr,
        )
    frame = load_source(cfg.data, cfg.read)
    # Fail before writing anything: the target is named in config, not found in data.
    require_target(frame, cfg.data.target, cfg.data.origin)
    # Labelled batches the CT loop added for this source (its folder under
    # paths.incoming) join its rows; another source's batches stay out.
    batches = labelled_batches(cfg.paths.incoming, cfg.data)
    for path, batch in batches:
        require_target(batch, cfg.data.target, str(path))
    if batches:
        frame = frame.drop(columns=unbatched(list(frame.columns), batches, cfg.data))
        frame = pd.concat([frame, *(batch for _, batch in batches)], ignore_index=True)
    write_parquet(cfg.paths.raw, frame, ROW_GROUP_ROWS)  # as the Spark engine writes it
    incoming = [Input(str(path), "incoming", batch, cfg.data.target) for path, batch in batches]
    return StageRecord(
        inputs=[_source(cfg, frame), *incoming],
        metrics={"n_rows": len(frame), "n_columns": frame.shape[1]},
    )


def _run_on_spark(cfg: Config) -> StageRecord:
    """The same file written from a Spark session (io/spark_collect.py)."""
    spark = data_session(cfg.engine, "collect")
    try:
        collected = collect_on_spark(spark, cfg)
    finally:
        spark.stop()
    incoming = [
        Input(str(path), "incoming", batch, cfg.data.target) for path, batch in collected.batches
    ]
    return StageRecord(
        inputs=[_source(cfg, None), *incoming],
        metrics={"n_rows": collected.rows, "n_columns": collected.columns},
    )


def _source(cfg: Config, frame: pd.DataFrame | None) -> Input:
    """The source as tracked: a local file as itself; a URL, a Delta table (a folder) or
    generated data as the file collected from it."""
    data = cfg.data
    if isinstance(data, FileData) and "://" not in data.path and data.format != "delta":
        return Input(data.path, "source", frame, data.target)
    return Input(cfg.paths.raw, "collected", frame, data.target)
