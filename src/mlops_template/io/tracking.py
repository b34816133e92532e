"""MLflow tracking behind one small service: where runs go, how they nest, what they carry.

One pipeline execution (one `dvc repro` or `dvc exp run` process) is one parent run;
every stage that runs is a child of it, tagged with the git commit, dirty flag and
stage name, with its inputs logged as datasets whose digests are DVC's md5s.

Under `mlflow run`, the project's run (MLFLOW_RUN_ID) takes the parent's place: the
`main` entry point's `dvc repro` nests its stages under it, and a single-stage entry
point logs into it directly.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_template.errors import PipelineError, redact
from mlops_template.io.lineage import git_info
from mlops_template.io.store import check_server, is_local, project_root, store_uri
from mlops_template.io.store_errors import full_disk_error

# Set by `mlflow run` for the entry point's command: the project's own run.
PROJECT_RUN_ENV = "MLFLOW_RUN_ID"
# Set by DVC for every stage command it runs.
DVC_STAGE_ENV = "DVC_STAGE"
INVOCATION_TAG = "pipeline.invocation"
STAGE_TAG = "pipeline.stage"


@dataclass
class Input:
    """A file a stage read. `frame` (if given) adds its schema and size to the dataset."""

    path: str
    context: str
    frame: Any = None
    target: str | None = None
    schema: Any = None  # without a frame: its MLflow schema (io/dataset_schema.py)


@dataclass(frozen=True)
class ChildRun:
    """A run nested under a stage's run: one trial of a search."""

    name: str
    params: dict[str, Any]
    metrics: dict[str, list[float]]  # a value per step
    tags: dict[str, str]


@dataclass
class StageRecord:
    """What a stage reports for tracking once its outputs are written."""

    inputs: list[Input] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    log_model: Callable[[], None] | None = None  # logs the model inside the stage's run
    params: dict[str, Any] = field(default_factory=dict)  # beyond the stage's own
    children: list[ChildRun] = field(default_factory=list)


def invocation_key() -> str:
    """Identify the pipeline execution this process belongs to.

    DVC starts every stage as a child (via a shell) of one `dvc` process, so that
    process's pid and start time name the execution. Run outside DVC, the stage is
    an execution of its own.
    """
    import psutil

    from mlops_template.stage_client import stage_pid

    proc = psutil.Process(stage_pid())  # the stage process, if the stage server runs this
    for ancestor in proc.parents():
        try:
            argv = ancestor.cmdline()[:3]
        except (psutil.AccessDenied, psutil.NoSuchProcess):
            continue
        if any(Path(arg).name == "dvc" for arg in argv):  # dvc, .venv/bin/dvc, python -m dvc
            return f"dvc-{ancestor.pid}-{ancestor.create_time():.3f}"
    return f"process-{proc.pid}-{proc.create_time():.3f}"


def experiment_id(client: Any, name: str) -> str:
    """Where runs go: the experiment `mlflow run` chose for its project run, else the
    configured one, created if need be (a local store keeps artifacts beside it; a
    server decides for itself)."""
    from mlflow.exceptions import MlflowException

    if project_run := os.environ.get(PROJECT_RUN_ENV):
        return client.get_run(project_run).info.experiment_id
    if found := client.get_experiment_by_name(name):
        return found.experiment_id
    location = (project_root() / "mlruns").as_uri() if is_local(store_uri()) else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # created by a concurrent stage in the meantime
        return client.get_experiment_by_name(name).experiment_id


class Tracker:
    def __init__(self, experiment: str):
        import warnings

        import mlflow
        from mlflow import MlflowClient

        # MLflow hints that integer columns cannot hold NaN whenever it infers a schema
        # (datasets, integer class labels); the model's inputs are declared as floats.
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")

        uri = store_uri()
        check_server(uri, "run this again once it is back")
        mlflow.set_tracking_uri(uri)
        self.client = MlflowClient()
        self.project_run = os.environ.get(PROJECT_RUN_ENV)
        self.experiment_id = experiment_id(self.client, experiment)
        mlflow.set_experiment(experiment_id=self.experiment_id)
        self.git = git_info()

    def parent_run(self, flat_params: dict[str, Any]) -> str:
        """The parent run of this pipeline execution, created by its first stage."""
        if self.project_run:
            self._log_params(self.project_run, flat_params)  # idempotent: same values
            return self.project_run
        key = invocation_key()
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{INVOCATION_TAG}` = '{key}'", max_results=1
        )
        if found:
            return found[0].info.run_id
        # DVC names each experiment (`dvc exp show`); the parent run takes that name.
        experiment = os.environ.get("DVC_EXP_NAME")
        tags = {INVOCATION_TAG: key, **self._source_tags()}
        if experiment:
            tags["dvc.experiment"] = experiment
        run = self.client.create_run(
            self.experiment_id, run_name=experiment or "pipeline", tags=tags
        )
        self._log_params(run.info.run_id, flat_params)
        return run.info.run_id

    def log_stage(
        self,
        stage: str,
        started_ms: int,
        flat_params: dict[str, Any],
        stage_params: dict[str, Any],
        record: StageRecord,
    ) -> str:
        """Record one finished stage as a child run (or as the project's run); returns its id."""
        from mlflow.entities import RunTag
        from mlflow.exceptions import MlflowException

        tags = {STAGE_TAG: stage, **self._source_tags(), **record.tags}
        if self.project_run and DVC_STAGE_ENV not in os.environ:
            # `mlflow run -e <stage>`: the project's run is this stage's run, and
            # `mlflow run` sets its status when the command exits.
            run_id = parent = self.project_run
            self.client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
            self._log_params(run_id, flat_params)
        else:
            parent = self.parent_run(flat_params)
            run_id = ""
        try:  # a stop or an error from here on ends the runs it left RUNNING: FAILED
            if not run_id:
                run_id = self._stage_run(stage, started_ms, parent, tags, stage_params)
            self._log_record(run_id, parent, record)
        except BaseException as err:
            if run_id and run_id != parent:  # ended already if raised inside the context
                with suppress(Exception):  # the error that stopped it is the one to say
                    self.client.set_terminated(run_id, "FAILED")
            with suppress(Exception):  # apart: a server may have no logged models (MLflow 2)
                self._fail_pending_models(run_id)
            self._end_parent(parent, "FAILED")
            self._refuse_full_disk(err, stage)
            raise
        try:
            self._end_parent(parent, "FINISHED")
        except MlflowException as err:
            # The stage's run is complete; failing now would log it twice on the re-run.
            print(
                f"warning: pipeline run {parent} not marked finished: {redact(str(err))}",
                file=sys.stderr,
            )
        return run_id

    def _fail_pending_models(self, run_id: str) -> None:
        """MLflow marks a model it was logging FAILED on an error; a stop left it PENDING."""
        from mlflow.entities import LoggedModelStatus

        logged = f"source_run_id = '{run_id}'"  # a filter on status finds none (MLflow 3.17)
        for model in self.client.search_logged_models([self.experiment_id], logged):
            if model.status == LoggedModelStatus.PENDING:
                self.client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)

    def _refuse_full_disk(self, err: BaseException, stage: str) -> None:
        """A full disk as one line naming the experiment's artifact folder, where runs and
        models go: MLflow's local copy does not say where it wrote."""
        from urllib.parse import urlsplit
        from urllib.request import url2pathname

        if (full := full_disk_error(err)) is None:
            return
        folder = self.client.get_experiment(self.experiment_id).artifact_location
        if folder.startswith("file:"):
            folder = url2pathname(urlsplit(folder).path)
        raise PipelineError(
            f"{redact(folder)}: {full.strerror} while logging the {stage} run's files and "
            "model; the run is marked FAILED and nothing from it can be promoted: free space "
            "there and run the stage again"
        ) from None

    def _stage_run(
        self,
        stage: str,
        started_ms: int,
        parent: str,
        tags: dict[str, str],
        stage_params: dict[str, Any],
    ) -> str:
        """The stage's child run of `parent` (RUNNING again meanwhile), with its params."""
        if parent != self.project_run:
            self.client.update_run(parent, status="RUNNING")
        tags = {**tags, "mlflow.parentRunId": parent}
        run = self.client.create_run(
            self.experiment_id, start_time=started_ms, run_name=stage, tags=tags
        )
        self._log_params(run.info.run_id, stage_params)
        return run.info.run_id

    def _log_record(self, run_id: str, parent: str, record: StageRecord) -> None:
        """What the stage recorded, into its run; its metrics onto the parent too."""
        import mlflow
        from mlflow.entities import Metric

        from mlops_template.io.dataset_schema import logged_dataset  # pandas: not at import

        self._log_params(run_id, record.params)
        self._log_children(run_id, record.children)
        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, 0) for k, v in sorted(record.metrics.items())]
        if metrics:  # on the parent too, so pipeline runs compare side by side in the UI
            self.client.log_batch(run_id, metrics=metrics)
            if parent != run_id:
                self.client.log_batch(parent, metrics=metrics)
        # The context ends the child run: FINISHED, or FAILED if logging raises.
        with mlflow.start_run(run_id=run_id):
            for item in record.inputs:
                mlflow.log_input(
                    logged_dataset(item.path, item.frame, item.target, item.schema),
                    context=item.context,
                )
            for path in record.artifacts:
                if Path(path).is_dir():
                    mlflow.log_artifacts(path, artifact_path=Path(path).name)
                else:
                    mlflow.log_artifact(path)
            if record.log_model is not None:
                record.log_model()

    def _end_parent(self, parent: str, status: str) -> None:
        if parent != self.project_run:  # the project's run is ended by `mlflow run`
            self.client.set_terminated(parent, status)

    def _source_tags(self) -> dict[str, str]:
        return {
            **{f"pipeline.{k}": v for k, v in self.git.items()},
            "mlflow.source.git.commit": self.git["git_commit"],
        }

    def _log_children(self, parent: str, children: list[ChildRun]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        for child in children:
            tags = {"mlflow.parentRunId": parent, **child.tags}
            run = self.client.create_run(self.experiment_id, run_name=child.name, tags=tags)
            self._log_params(run.info.run_id, child.params)
            metrics = [
                Metric(key, float(value), now, step)
                for key, values in sorted(child.metrics.items())
                for step, value in enumerate(values)
            ]
            for start in range(0, len(metrics), 1000):  # MLflow's batch limit
                self.client.log_batch(run.info.run_id, metrics=metrics[start : start + 1000])
            self.client.set_terminated(run.info.run_id, "FINISHED")

    def _log_params(self, run_id: str, flat: dict[str, Any]) -> None:
        from mlflow.entities import Param

        # A data URL's password or token (data.path) must not reach the store.
        params = [Param(k, redact(str(v))) for k, v in sorted(flat.items())]
        for start in range(0, len(params), 100):  # MLflow's batch limit is 100 params
            self.client.log_batch(run_id, params=params[start : start + 100])
