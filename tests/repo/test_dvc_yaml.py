"""dvc.yaml is where stages are written; the CLI, MLproject and code deps follow it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from mlops_template.cli import STAGES
from mlops_template.config import flatten, parse_config
from mlops_template.project_files import drift, stage_problems
from mlops_template.stages.runner import declared_params, stage_params
from tests.helpers.template import REPO

DVC_YAML = REPO / "dvc.yaml"
DVC_STAGES = yaml.safe_load(DVC_YAML.read_text(encoding="utf-8"))["stages"]


def test_same_stages_as_cli():
    assert set(DVC_STAGES) == set(STAGES)
    assert STAGES["train"].startswith("fit preprocessing and model")  # the module's docstring


def test_code_deps_and_entry_points_are_up_to_date():
    assert stage_problems(REPO) == []
    assert drift(REPO) == ""  # else: `make project`


def test_a_stage_logs_the_params_dvc_yaml_lists(params):
    config = parse_config(params)
    assert declared_params("validate", DVC_YAML) == [
        "data.target",
        "data.task",
        "validate",
        "split.key",
        "features.max_categories",
        "engine",
    ]
    assert declared_params("evaluate", DVC_YAML) == []
    logged = stage_params(config, declared_params("prepare", DVC_YAML))
    assert logged and all(key.startswith(("split.", "engine.")) for key in logged)
    assert logged["engine.name"] == "pandas"


def test_check_params_depends_on_all_of_params_yaml(params):
    config = parse_config(params)
    assert DVC_STAGES["check_params"]["params"] == [{"params.yaml": None}]
    assert declared_params("check_params", DVC_YAML) == [""]
    assert stage_params(config, [""]) == flatten(config.model_dump(by_alias=True))


def test_dvc_lock_records_the_code_as_it_is():
    """Every source file a stage depends on has the md5 dvc.lock records: a code change
    without `dvc repro` would make a fresh clone's `make run` re-run those stages."""
    lock = yaml.safe_load((REPO / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    stale = sorted(
        {
            dep["path"]
            for stage in lock.values()
            for dep in stage.get("deps", [])
            if dep["path"].startswith("src/") and _md5(REPO / dep["path"]) != dep["md5"]
        }
    )
    assert not stale, f"run `dvc repro` and commit dvc.lock; changed since: {stale}"


def _md5(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None
