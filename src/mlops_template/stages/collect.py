"""collect: materialise the configured data source as one Parquet file."""

from __future__ import annotations

from mlops_template.config import Config, FileData
from mlops_template.core.dataset_checks import require_target
from mlops_template.io.atomic import write_parquet
from mlops_template.io.datasets import load_source
from mlops_template.io.tracking import Input, StageRecord

PARAMS = ("data",)


def run(cfg: Config) -> StageRecord:
    frame = load_source(cfg.data)
    # Fail before writing anything: the target is named in config, not found in data.
    require_target(frame, cfg.data.target, cfg.data.origin)
    write_parquet(cfg.paths.raw, frame)
    if isinstance(cfg.data, FileData) and "://" not in cfg.data.path:
        source = Input(cfg.data.path, "source", frame, cfg.data.target)
    else:
        source = Input(cfg.paths.raw, "collected", frame, cfg.data.target)
    return StageRecord(
        inputs=[source],
        metrics={"n_rows": len(frame), "n_columns": frame.shape[1]},
    )
