"""Operations' report runs (io/report_runs.py), in process on a temporary store."""

from __future__ import annotations

import pytest

from mlops_template.io.report_runs import log_report_run
from tests.helpers.mlflow_store import empty_store, use_store


@pytest.fixture
def client(tmp_path, tmp_path_factory, monkeypatch):
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    return use_store(tmp_path, empty_store(tmp_path_factory), monkeypatch)


def _log(tmp_path) -> str:
    report = tmp_path / "report.json"
    report.write_text("{}")
    metrics = {"p:value": 1.0}
    return log_report_run("ops", "monitor b", tags={}, metrics=metrics, files=[report], folder="r")


def test_a_report_run_goes_to_the_operations_experiment_finished(client, tmp_path):
    run = client.get_run(_log(tmp_path))
    assert client.get_experiment(run.info.experiment_id).name == "ops"
    assert run.info.status == "FINISHED" and run.data.metrics == {"p_value": 1.0}
    assert "mlflow.parentRunId" not in run.data.tags
    assert [a.path for a in client.list_artifacts(run.info.run_id, "r")] == ["r/report.json"]


def test_under_mlflow_run_it_is_a_child_of_the_project_run(client, tmp_path, monkeypatch):
    """`mlflow run -e ct`: its monitor and ct runs went to the project run's experiment
    beside it, unexplained, and the project run held nothing."""
    project = client.create_run(client.create_experiment("chosen")).info
    monkeypatch.setenv("MLFLOW_RUN_ID", project.run_id)
    run = client.get_run(_log(tmp_path))
    assert run.info.experiment_id == project.experiment_id
    assert run.data.tags["mlflow.parentRunId"] == project.run_id
