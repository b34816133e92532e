"""dvc.yaml and the stage modules agree: params, command, and the module as a dependency."""

from __future__ import annotations

from importlib import import_module

import pytest
import yaml

from mlops_template.cli import STAGES

from .conftest import REPO

DVC_STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


def test_same_stages_as_cli():
    assert set(DVC_STAGES) == set(STAGES)


@pytest.mark.parametrize("name", sorted(DVC_STAGES))
def test_params_match_module(name):
    declared = import_module(f"mlops_template.stages.{name}").PARAMS
    listed = DVC_STAGES[name].get("params", [])
    assert sorted(listed) == sorted(declared)
    assert len(set(listed)) == len(listed)


def test_evaluate_has_no_params():
    assert "params" not in DVC_STAGES["evaluate"]
    assert import_module("mlops_template.stages.evaluate").PARAMS == ()


@pytest.mark.parametrize("name", sorted(DVC_STAGES))
def test_cmd_runs_the_stage(name):
    assert DVC_STAGES[name]["cmd"] == f"python -m mlops_template {name}"


@pytest.mark.parametrize("name", sorted(DVC_STAGES))
def test_stage_module_is_a_dependency(name):
    module = f"src/mlops_template/stages/{name}.py"
    assert module in DVC_STAGES[name]["deps"]
    assert (REPO / module).is_file()
