from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_template.config import parse_config
from mlops_template.errors import PipelineError
from mlops_template.io.tracking import Input, StageRecord
from mlops_template.stages.runner import run_stage, select, stage_params
from tests.helpers.mlflow_store import empty_store, use_store

from .conftest import REPO

TREE = {"data": {"target": "y", "task": "auto", "extra": {"k": 1}}, "split": {"seed": 1}}


def test_select_top_level():
    assert select(TREE, "split") == {"split": {"seed": 1}}


def test_select_dotted_keeps_full_path():
    assert select(TREE, "data.target") == {"data": {"target": "y"}}
    assert select(TREE, "data.extra.k") == {"data": {"extra": {"k": 1}}}


def test_select_unknown_key():
    with pytest.raises(KeyError):
        select(TREE, "data.nope")


def test_stage_params_flattens_declared_keys(params):
    params["validate"] = {"min_rows": 5, "max_classes": 9, "min_class_ratio": 0.3}
    params["data"]["target"] = "label"
    cfg = parse_config(params)
    assert stage_params(cfg, ("data.target", "validate")) == {
        "data.target": "label",
        "validate.min_rows": 5,
        "validate.max_classes": 9,
        "validate.min_class_ratio": 0.3,
        "validate.min_class_rows": 2,  # defaults, logged like any value
        "validate.small_classes": "error",
        "validate.merged_class": "other",
        "validate.target_copies": "error",
        "validate.identifiers": "drop",
    }


def test_stage_params_uses_aliases_and_defaults(params):
    params["model"] = {"type": "linear"}
    cfg = parse_config(params)
    assert stage_params(cfg, ("model",)) == {
        "model.type": "linear",
        "model.alpha": 1.0,
        "model.max_iter": 1000,
        "model.class_weight": None,
    }
    assert "paths.schema" in stage_params(cfg, ("paths",))


def test_stage_params_empty(params):
    assert stage_params(parse_config(params), ()) == {}


SINCE_START = """
import time
time.sleep(1.0)
from mlops_template.stages.runner import _seconds_since_start
print(_seconds_since_start())
"""


def test_time_since_process_start_lies_within_the_process_lifetime():
    """Between the sleep it did and the wall time of the whole process, as seen from
    outside: a start time taken from the boot time in whole seconds can be a second early."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SINCE_START], capture_output=True, text=True, check=True
    )
    wall = time.monotonic() - started
    assert 1.0 <= float(done.stdout) <= wall + 0.02  # /proc counts in 10 ms steps


# run_stage, in process on a temporary store: what a stage's run carries


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    return empty_store(tmp_path_factory)


@pytest.fixture
def workspace(tmp_path, empty, monkeypatch):
    """The project's params.yaml and dvc.yaml in a folder of their own, an empty store."""
    for name in ("params.yaml", "dvc.yaml"):
        shutil.copy(REPO / name, tmp_path)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.delenv("DVC_STAGE", raising=False)
    return use_store(tmp_path, empty, monkeypatch)


def _runs(client) -> dict[str, object]:
    """The experiment's runs by stage ('' for the pipeline's run)."""
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    runs = client.search_runs([experiment.experiment_id])
    return {run.data.tags.get("pipeline.stage", ""): run for run in runs}


def test_each_stage_is_a_child_run_of_the_pipeline_run_with_its_own_params(workspace):
    Path("data.csv").write_text("a,b\n1,2\n")
    record = StageRecord(inputs=[Input("data.csv", "raw")], metrics={"rows": 1.0})
    run_stage("collect", lambda cfg: record)
    run_stage("prepare", lambda cfg: StageRecord(metrics={"n_test": 2.0}))
    runs = _runs(workspace)
    assert sorted(runs) == ["", "collect", "prepare"]
    parent, collect, prepare = runs[""], runs["collect"], runs["prepare"]
    assert parent.info.run_name == "pipeline" and parent.info.status == "FINISHED"
    for child, stage in ((collect, "collect"), (prepare, "prepare")):
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["pipeline.stage"] == stage and child.info.status == "FINISHED"
    # A stage's run holds the params it declares in dvc.yaml, the parent's all of them.
    assert "split.seed" in prepare.data.params and "split.seed" not in collect.data.params
    assert "data.target" in collect.data.params and len(parent.data.params) > 20
    assert collect.data.metrics == {"rows": 1.0} and prepare.data.metrics == {"n_test": 2.0}
    assert parent.data.metrics == {"rows": 1.0, "n_test": 2.0}  # side by side in the UI
    (dataset,) = collect.inputs.dataset_inputs
    assert dataset.dataset.name == "data.csv" and dataset.tags[0].value == "raw"


class _StoppedWhileRead(dict):
    """Params whose logging meets a Ctrl-C, as a stop arrives while a stage logs."""

    def items(self):
        raise KeyboardInterrupt


def test_a_stop_while_a_stage_logs_leaves_no_run_running(workspace):
    """Stopped before its run's context was entered, a stage left its run and the
    pipeline's RUNNING for good."""
    run_stage("collect", lambda cfg: StageRecord(metrics={"rows": 1.0}))
    with pytest.raises(KeyboardInterrupt):
        run_stage("prepare", lambda cfg: StageRecord(params=_StoppedWhileRead(a=1)))
    runs = _runs(workspace)
    assert {stage: run.info.status for stage, run in runs.items()} == {
        "": "FAILED",
        "collect": "FINISHED",
        "prepare": "FAILED",
    }


def _stopped_while_logging_the_model() -> None:
    """As a Ctrl-C reaches `train` inside MLflow's log_model: the model begun, not done."""
    import mlflow

    mlflow.initialize_logged_model(name="model")
    raise KeyboardInterrupt


def test_a_stop_while_the_model_is_logged_leaves_no_model_pending(workspace):
    """MLflow marks a model it was logging FAILED on an error only: a stop left it PENDING."""
    from mlflow.entities import LoggedModelStatus

    with pytest.raises(KeyboardInterrupt):
        run_stage("train", lambda cfg: StageRecord(log_model=_stopped_while_logging_the_model))
    train = _runs(workspace)["train"]
    models = workspace.search_logged_models([train.info.experiment_id])
    assert [(m.source_run_id, m.status) for m in models] == [
        (train.info.run_id, LoggedModelStatus.FAILED)
    ]


def test_a_check_that_records_nothing_logs_no_run(workspace):
    run_stage("check_params", lambda cfg: None)
    assert [e.name for e in workspace.search_experiments()] == ["Default"]


def test_a_stage_dvc_yaml_does_not_list_fails_before_its_work(workspace):
    ran = []
    with pytest.raises(PipelineError, match=r"dvc\.yaml: no stage 'tune'"):
        run_stage("tune", ran.append)
    assert ran == []


def test_a_tracking_server_that_does_not_answer_stops_a_stage_before_its_work(
    workspace, monkeypatch
):
    import socket

    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{port}")
    ran = []
    with pytest.raises(PipelineError, match=r"is unreachable.*nothing was done"):
        run_stage("collect", ran.append)
    assert ran == []
