"""The block every stage shares: load and validate config, do the work, then track it.

MLflow is imported only after the stage's outputs are written: it costs seconds to
import, and a stage's own work should start at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mlops_template.config import Config, flatten, load_config
from mlops_template.io.tracking import StageRecord

Work = Callable[[Config], StageRecord]


def select(tree: dict[str, Any], dotted: str) -> dict[str, Any]:
    """The sub-tree at a dotted key, kept under its full path: 'data.target' -> {'data': {...}}."""
    head, _, rest = dotted.partition(".")
    value = tree[head]
    return {head: select(value, rest) if rest else value}


def stage_params(cfg: Config, keys: tuple[str, ...]) -> dict[str, Any]:
    """The flattened params a stage declares in dvc.yaml."""
    raw = cfg.model_dump(by_alias=True)
    flat: dict[str, Any] = {}
    for key in keys:
        flat.update(flatten(select(raw, key)))
    return flat


def run_stage(name: str, work: Work, params: tuple[str, ...]) -> None:
    started_ms = int(time.time() * 1000)
    cfg = load_config()
    record = work(cfg)

    from mlops_template.io.tracking import Tracker

    tracker = Tracker(cfg.tracking.experiment)
    tracker.log_stage(
        name,
        started_ms,
        flatten(cfg.model_dump(by_alias=True)),
        stage_params(cfg, params),
        record,
    )
