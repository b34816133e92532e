"""The block every stage shares: load and validate config, do the work, then track it.

MLflow is imported only after the stage's outputs are written: it costs seconds to
import, and a stage's own work should start at once.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from mlops_template.config import PARAMS_FILE, Config, flatten, load_config
from mlops_template.errors import PipelineError
from mlops_template.io.tracking import StageRecord
from mlops_template.io.workspace_lock import refuse_held

Work = Callable[[Config], StageRecord | None]


def select(tree: dict[str, Any], dotted: str) -> dict[str, Any]:
    """The sub-tree at a dotted key, kept under its full path: 'data.target' -> {'data': {...}}."""
    head, _, rest = dotted.partition(".")
    value = tree[head]
    return {head: select(value, rest) if rest else value}


def declared_params(name: str, dvc_yaml: str | Path = "dvc.yaml") -> list[str]:
    """The params.yaml keys a stage lists in dvc.yaml ('' for the whole file)."""
    try:
        stage = yaml.safe_load(Path(dvc_yaml).read_text(encoding="utf-8"))["stages"][name]
    except (OSError, KeyError, TypeError):
        raise PipelineError(
            f"{dvc_yaml}: no stage {name!r} (run stages from the project root)"
        ) from None
    keys: list[str] = []
    for entry in stage.get("params", []):
        if isinstance(entry, str):
            keys.append(entry)
        elif PARAMS_FILE in entry:  # `- params.yaml:` is all of it, or the keys under it
            keys += entry[PARAMS_FILE] or [""]
    return keys


def stage_params(cfg: Config, keys: list[str]) -> dict[str, Any]:
    """The flattened params a stage declares in dvc.yaml."""
    raw = cfg.model_dump(by_alias=True)
    flat: dict[str, Any] = {}
    for key in keys:
        flat.update(flatten(select(raw, key) if key else raw))
    return flat


# If set, each stage appends a JSON line of its timings here (benchmarks/pipeline.py).
TIMINGS_ENV = "MLOPS_TIMINGS"


def run_stage(name: str, work: Work) -> None:
    """Run a stage's work; track it unless it records nothing (a check, such as check_params)."""
    started_ms = int(time.time() * 1000)
    refuse_held(f"stage `{name}`")
    cfg = load_config()
    params = declared_params(name)  # before the work: a missing stage fails with nothing made
    _check_server()
    work_start = time.time()
    record = work(cfg)
    work_end = time.time()
    if record is None:
        return

    from mlops_template.io.tracking import Tracker

    tracker = Tracker(cfg.tracking.experiment)
    tracker.log_stage(
        name,
        started_ms,
        flatten(cfg.model_dump(by_alias=True)),
        stage_params(cfg, params),
        record,
    )
    if timings := os.environ.get(TIMINGS_ENV):
        _record_timings(timings, name, work_start, work_end)


def _check_server() -> None:
    """A tracking server that does not answer stops the stage before its work, not after
    it (a long fit whose run could not be logged); once the server is back, run it again."""
    from mlops_template.io.store import check_server, store_uri

    check_server(store_uri(), "nothing was done; run this again once it is back")


def _record_timings(path: str, name: str, work_start: float, work_end: float) -> None:
    now = time.time()
    line = {
        "stage": name,
        "overhead_s": round(_seconds_since_start() - (now - work_start), 3),
        "work_s": round(work_end - work_start, 3),
        "tracking_s": round(now - work_end, 3),
        # The process's largest resident memory so far (Linux counts it in KiB).
        "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def _seconds_since_start() -> float:
    """Seconds since this process started. On Linux from /proc, both times counted from
    boot: psutil's create_time adds the boot time, which /proc gives in whole seconds,
    so it can be up to a second early."""
    from mlops_template.stage_client import stage_pid

    pid = stage_pid()  # the stage process, if the stage server runs this
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            start_ticks = int(stat.read().rsplit(")", 1)[1].split()[19])  # field 22
        with open("/proc/uptime", encoding="ascii") as uptime:
            since_boot = float(uptime.read().split()[0])
        return since_boot - start_ticks / os.sysconf("SC_CLK_TCK")
    except OSError:
        import psutil

        return time.time() - psutil.Process(pid).create_time()
