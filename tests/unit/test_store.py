"""Searches read every page of a real (SQLite) MLflow store, not the first one only."""

from __future__ import annotations

import os

from mlops_template.io.store import all_pages, use_configured_uri


def test_all_pages_reads_past_the_first_page(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    made = {client.create_experiment(f"e{i}") for i in range(5)}
    first = client.search_experiments(max_results=2)
    assert len(first) == 2 and first.token  # one page, and a token for more
    found = all_pages(client.search_experiments, max_results=2)
    assert made <= {e.experiment_id for e in found}
    assert len(found) == len(made) + 1  # and the Default experiment, once


def test_the_projects_tracking_uri_is_used_unless_the_environment_names_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    use_configured_uri()  # no params.yaml: nothing to use
    assert "MLFLOW_TRACKING_URI" not in os.environ
    (tmp_path / "params.yaml").write_text("tracking:\n  uri: null\n")
    use_configured_uri()
    assert "MLFLOW_TRACKING_URI" not in os.environ
    (tmp_path / "params.yaml").write_text("tracking:\n  uri: http://mlflow.internal:5000\n")
    use_configured_uri()
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://mlflow.internal:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://elsewhere:5000")
    use_configured_uri()
    assert os.environ["MLFLOW_TRACKING_URI"] == "http://elsewhere:5000"
