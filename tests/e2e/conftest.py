"""Fixtures of the end-to-end tests: promoted champions, a CSV-trained model, `mlflow run .`."""

from __future__ import annotations

import pytest

from tests.e2e.customers import customer_frame, use_csv
from tests.helpers.template import Template, built_pipeline

# `mlflow run .` as the tests run it: this environment, the project's experiment.
MLFLOW_RUN = ["--env-manager", "local", "--experiment-name", "mlops-template"]


@pytest.fixture(scope="session")
def mlflow_run(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A fresh copy after `mlflow run .` (the main entry point: `dvc repro` under the
    project's run), built once per test run; treat it as read-only."""

    def run(copy: Template) -> str:
        return copy.run("mlflow", "run", ".", *MLFLOW_RUN).stdout

    return built_pipeline(tmp_path_factory, "mlflow-run", run)


@pytest.fixture
def copy(served: Template, tmp_path) -> Template:
    """A copy of the template with its champion and tracking store, free to change."""
    return served.clone_to(tmp_path / "copy", with_store=True)


@pytest.fixture(scope="session")
def csv_trained(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The pipeline run (`dvc repro`) on a customer CSV outside the repository, with
    categorical columns and missing values, and its model promoted: built once per
    test run; tests take a clone (`csv_copy`), whose params name the CSV."""

    def run(copy: Template) -> str:
        csv = copy.root.parent / "customers.csv"
        customer_frame().to_csv(csv, index=False)
        copy.mlops(*use_csv(csv))
        output = copy.run("dvc", "repro").stdout
        copy.mlops("promote")
        return output

    return built_pipeline(tmp_path_factory, "csv-trained", run)


@pytest.fixture
def csv_copy(csv_trained: Template, tmp_path) -> Template:
    """A copy of the CSV-trained workspace with its champion, free to change."""
    return csv_trained.clone_to(tmp_path / "csv-copy", with_store=True)
