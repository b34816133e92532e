"""Searches read every page of a real (SQLite) MLflow store, not the first one only."""

from __future__ import annotations

from mlops_template.io.store import all_pages


def test_all_pages_reads_past_the_first_page(tmp_path):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    made = {client.create_experiment(f"e{i}") for i in range(5)}
    first = client.search_experiments(max_results=2)
    assert len(first) == 2 and first.token  # one page, and a token for more
    found = all_pages(client.search_experiments, max_results=2)
    assert made <= {e.experiment_id for e in found}
    assert len(found) == len(made) + 1  # and the Default experiment, once
