"""Runs that hold an operation's report (promote, monitor, ct): tags, metrics and files in
one finished MLflow run of the operations experiment, apart from the pipeline's runs;
under `mlflow run`, a child of the project's run in the experiment it chose."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mlops_template.io.tracking import PROJECT_RUN_ENV, Tracker


def log_report_run(
    experiment: str,
    name: str,
    *,
    tags: dict[str, str],
    metrics: dict[str, float],
    files: list[Path],
    folder: str,
) -> str:
    """A finished MLflow run holding an operation's report: tags, metrics and files."""
    tracker = Tracker(experiment)
    return record_report_run(
        tracker.client,
        tracker.experiment_id,
        name,
        tags=tags,
        metrics=metrics,
        files=files,
        folder=folder,
    )


def record_report_run(
    client: Any,
    experiment_id: str,
    name: str,
    *,
    tags: dict[str, str],
    metrics: dict[str, float],
    files: Iterable[Path] = (),
    folder: str | None = None,
    documents: dict[str, dict] | None = None,
) -> str:
    """log_report_run with a client at hand; `documents` are logged as JSON artifacts."""
    from mlflow.entities import Metric

    run_id = client.create_run(experiment_id, run_name=name, tags=nested(tags)).info.run_id
    now = int(time.time() * 1000)
    logged = [Metric(_metric_key(k), float(v), now, 0) for k, v in metrics.items()]
    client.log_batch(run_id, metrics=logged)
    for file in files:
        client.log_artifact(run_id, str(file), folder)
    for artifact, document in (documents or {}).items():
        client.log_dict(run_id, document, artifact)
    client.set_terminated(run_id, "FINISHED")
    return run_id


def nested(tags: dict[str, str]) -> dict[str, str]:
    """An operation's run tags; under `mlflow run -e ct` (or monitor, promote), a child of
    the project's run, in the experiment it chose (tracking.experiment_id), rather than
    beside it unexplained."""
    if project_run := os.environ.get(PROJECT_RUN_ENV):
        return {**tags, "mlflow.parentRunId": project_run}
    return tags


def _metric_key(name: str) -> str:
    """MLflow metric names allow letters, digits and _-. /; anything else becomes _."""
    return "".join(c if c.isalnum() or c in "_-. /" else "_" for c in name)
