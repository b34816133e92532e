"""`mlflow run .` runs the same stages as `dvc repro`, nested under the project's run."""

from __future__ import annotations

import mlflow
import pytest
import yaml

from tests.e2e.conftest import MLFLOW_RUN
from tests.helpers.template import OUTPUT_STAGES, STAGES, ran_stages

pytestmark = pytest.mark.slow


@pytest.fixture
def runs():
    """All runs of a copy's store, newest first."""

    def search(copy):
        mlflow.set_tracking_uri(copy.env["MLFLOW_TRACKING_URI"])
        return mlflow.search_runs(search_all_experiments=True, output_format="list")

    yield search
    mlflow.set_tracking_uri(None)


def test_main_runs_the_dag_through_dvc(mlflow_run, runs, tmp_path):
    assert ran_stages(mlflow_run.repro_output) == OUTPUT_STAGES
    lock = yaml.safe_load(mlflow_run.path("dvc.lock").read_text())
    assert sorted(lock["stages"]) == sorted(STAGES)
    (project,) = [r for r in runs(mlflow_run) if r.data.tags.get("mlflow.project.entryPoint")]
    assert project.data.tags["mlflow.project.entryPoint"] == "main"
    assert project.info.status == "FINISHED"
    children = [r for r in runs(mlflow_run) if r.data.tags.get("mlflow.parentRunId")]
    assert sorted(r.info.run_name for r in children) == sorted(OUTPUT_STAGES)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {project.info.run_id}
    assert {r.info.experiment_id for r in children} == {project.info.experiment_id}
    assert project.data.params["model.type"] == "auto"

    # Unchanged stages are skipped: a second run adds a project run and no stage runs.
    copy = mlflow_run.clone_to(tmp_path / "copy", with_store=True)
    again = copy.run("mlflow", "run", ".", *MLFLOW_RUN)
    assert ran_stages(again.stdout) == []
    assert len(runs(copy)) == len(children) + 2


def test_stage_entry_point_passes_hydra_overrides(reproduced, tmp_path, runs):
    copy = reproduced.clone_to(tmp_path / "copy")
    overrides = "model=random_forest model.n_estimators=20 model.max_depth=4"
    copy.run("mlflow", "run", ".", "-e", "train", "-P", f"overrides={overrides}", *MLFLOW_RUN)
    (run,) = runs(copy)
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.project.entryPoint"] == "train"
    assert run.data.tags["pipeline.stage"] == "train"
    assert overrides in run.data.params["overrides"]
    assert run.data.params["model.type"] == "random_forest"
    assert run.data.params["model.n_estimators"] == "20"
    assert run.data.params["model.max_depth"] == "4"
    (model,) = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert model.source_run_id == run.info.run_id
    params = yaml.safe_load(copy.path("params.yaml").read_text())
    assert params["model"]["n_estimators"] == 20  # as `dvc exp run -S` would leave it
    status = copy.run("dvc", "status").stdout
    assert "train" in status and "collect" not in status


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ("model=random_forest model.n_trees=20", "model.n_trees"),
        ("model=random_forest model.n_estimators=-1", "model.n_estimators"),
        ("model=boosted", "model=boosted"),
    ],
)
def test_bad_overrides_fail_naming_the_key(template, runs, overrides, message):
    before = template.path("params.yaml").read_text()
    done = template.run(
        "mlflow",
        "run",
        ".",
        "-e",
        "train",
        "-P",
        f"overrides={overrides}",
        *MLFLOW_RUN,
        check=False,
    )
    assert done.returncode == 1  # `mlflow run`'s code for a failed run
    assert message in done.stderr and "Traceback" not in done.stderr
    assert [r.info.status for r in runs(template)] == ["FAILED"]
    assert template.path("params.yaml").read_text() == before
    assert not template.path("models/model.skops").exists()


def test_unknown_entry_point_is_named(template, runs):
    done = template.run("mlflow", "run", ".", "-e", "tune", *MLFLOW_RUN, check=False)
    assert done.returncode == 1  # `mlflow run`'s code for a failed run
    assert "Could not find tune among entry points" in done.stderr
    assert not [r for r in runs(template) if r.info.status == "FINISHED"]
