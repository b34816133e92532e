"""collect: materialise the configured data source as one Parquet file."""

from __future__ import annotations

import pandas as pd

from mlops_template.config import Config, FileData
from mlops_template.core.dataset_checks import require_target
from mlops_template.io.atomic import write_parquet
from mlops_template.io.datasets import labelled_batches, load_source
from mlops_template.io.tracking import Input, StageRecord


def run(cfg: Config) -> StageRecord:
    frame = load_source(cfg.data, cfg.read)
    # Fail before writing anything: the target is named in config, not found in data.
    require_target(frame, cfg.data.target, cfg.data.origin)
    # Labelled batches the CT loop added for this source (its folder under
    # paths.incoming) join its rows; another source's batches stay out.
    batches = labelled_batches(cfg.paths.incoming, cfg.data)
    for path, batch in batches:
        require_target(batch, cfg.data.target, str(path))
    if batches:
        frame = pd.concat([frame, *(batch for _, batch in batches)], ignore_index=True)
    write_parquet(cfg.paths.raw, frame)
    if isinstance(cfg.data, FileData) and "://" not in cfg.data.path:
        source = Input(cfg.data.path, "source", frame, cfg.data.target)
    else:
        source = Input(cfg.paths.raw, "collected", frame, cfg.data.target)
    incoming = [Input(str(path), "incoming", batch, cfg.data.target) for path, batch in batches]
    return StageRecord(
        inputs=[source, *incoming],
        metrics={"n_rows": len(frame), "n_columns": frame.shape[1]},
    )
