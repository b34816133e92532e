"""Two clean runs of the same commit give byte-identical DVC outputs, whichever way they
are run (`make run`, `mlflow run .`)."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers.template import OUTPUT_STAGES, Template, ran_stages

pytestmark = pytest.mark.slow


def _outputs(copy: Template) -> dict[str, bytes]:
    lock = yaml.safe_load(copy.path("dvc.lock").read_text())
    files = {}
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):  # check_params has none
            path = copy.path(out["path"])
            targets = sorted(path.rglob("*")) if path.is_dir() else [path]
            for file in targets:
                files[str(file.relative_to(copy.root))] = file.read_bytes()
    return files


def test_two_clean_runs_are_byte_identical(reproduced, mlflow_run):
    second = mlflow_run  # another fresh copy of the commit, through `mlflow run .`
    assert ran_stages(second.repro_output) == OUTPUT_STAGES  # every output made anew
    assert second.path("dvc.lock").read_text() == reproduced.path("dvc.lock").read_text()
    first_files, second_files = _outputs(reproduced), _outputs(second)
    assert "models/model.skops" in first_files and "metrics.json" in first_files
    assert first_files.keys() == second_files.keys()
    differing = [name for name in first_files if first_files[name] != second_files[name]]
    assert differing == []
