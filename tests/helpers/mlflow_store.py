"""A temporary MLflow store for tests that run the code in process.

Creating a SQLite store runs MLflow's migrations (seconds); `empty_store` makes one per
test run and each test starts from a copy of it, pointed at in one line (`use_store`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient

from tests.helpers.template import built_once


def empty_store(factory: pytest.TempPathFactory) -> Path:
    """A SQLite store with MLflow's tables and nothing else, made once per test run."""

    def build(folder: Path) -> None:
        MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()

    return built_once(factory, "empty-mlflow-store", build) / "mlflow.db"


def use_store(root: Path, empty: Path, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    """Work in `root` on a fresh copy of the empty store: the commands' store (the
    environment), MLflow's fluent API and the returned client all point at it."""
    shutil.copyfile(empty, root / "mlflow.db")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(None)  # read from the environment again
    return MlflowClient(uri)


def model_files(factory: pytest.TempPathFactory) -> Path:
    """A folder of a model's files as train logs them (MLmodel, model.skops, ...), made
    once per test run: the source of versions a command loads (add_versions)."""

    def build(folder: Path) -> None:
        from tests.helpers.models import log_small_model

        with pytest.MonkeyPatch.context() as env:
            env.chdir(folder)
            uri = f"sqlite:///{folder / 'mlflow.db'}"
            mlflow.set_tracking_uri(uri)
            # Its own experiment: the one an earlier test made active is not in this store.
            log_small_model(folder, MlflowClient(uri).create_experiment("model-files"))
            logged = mlflow.last_logged_model().artifact_location.removeprefix("file://")
            mlflow.set_tracking_uri(None)
        shutil.copytree(logged, folder / "model")

    return built_once(factory, "model-files", build) / "model"


def add_versions(
    client: MlflowClient, name: str, count: int, files: Path | None = None, **tags: str
) -> list[str]:
    """`count` new versions of `name` (registered first if need be), their files those
    in `files` (model_files), tagged with its md5 as promote tags them, else none: for
    what moves aliases and tags, never loads a model."""
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    source = files or Path("versions").resolve()
    source.mkdir(exist_ok=True)
    if files:
        tags = {"lineage.model_md5": logged_md5(files), **tags}
    return [
        str(client.create_model_version(name, str(source), tags=tags).version) for _ in range(count)
    ]


def logged_md5(folder: Path) -> str:
    """The md5 promote records for a logged model's file: that of its canonical bytes
    (the pipeline's file as `dvc.lock` records it)."""
    import hashlib

    from mlops_template.io.model_file import canonical_skops

    return hashlib.md5(canonical_skops((folder / "model.skops").read_bytes())).hexdigest()
