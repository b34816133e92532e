"""MLproject and dvc.yaml agree, and conda.yaml is a usable environment file."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml

from mlops_template.project_files import entry_point_mismatches

from .conftest import REPO


@pytest.fixture
def root(tmp_path):
    for name in ["dvc.yaml", "MLproject"]:
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_repo_entry_points_match_stages():
    assert entry_point_mismatches(REPO) == []
    entry_points = yaml.safe_load((REPO / "MLproject").read_text())["entry_points"]
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(stages) | {"main", "promote", "rollback", "retire"} <= set(entry_points)


def test_stage_without_entry_point_is_reported(root):
    mlproject = yaml.safe_load((root / "MLproject").read_text())
    del mlproject["entry_points"]["evaluate"]
    (root / "MLproject").write_text(yaml.safe_dump(mlproject))
    assert entry_point_mismatches(root) == [
        "dvc.yaml stage 'evaluate' has no MLproject entry point"
    ]


def test_different_command_is_reported(root):
    _edit(root / "dvc.yaml", "cmd: python -m mlops_template train", "cmd: python train.py")
    (problem,) = entry_point_mismatches(root)
    assert "'train'" in problem and "python train.py" in problem


def test_missing_main_is_reported(root):
    mlproject = yaml.safe_load((root / "MLproject").read_text())
    del mlproject["entry_points"]["main"]
    (root / "MLproject").write_text(yaml.safe_dump(mlproject))
    assert entry_point_mismatches(root) == ["MLproject has no 'main' entry point"]


def test_check_command_exits_non_zero_on_mismatch(root):
    _edit(
        root / "MLproject", "mlops_template prepare {overrides}", "mlops_template prep {overrides}"
    )
    cmd = [sys.executable, "-m", "mlops_template", "check-entry-points"]
    bad = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    assert bad.returncode == 2 and "entry point 'prepare'" in bad.stderr
    good = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
    assert good.returncode == 0, good.stderr


def test_conda_env_pins_the_lock_and_installs_the_project():
    env = yaml.safe_load((REPO / "conda.yaml").read_text())
    assert env["name"] and env["channels"] == ["conda-forge"]
    assert "python=3.11" in env["dependencies"] and "pip" in env["dependencies"]
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip[-1] == "-e ."
    lock = {p["name"]: p["version"] for p in _toml(REPO / "uv.lock")["package"] if "version" in p}
    pinned = dict(line.split(" ;")[0].split("==") for line in pip[:-1])
    for name in ["mlflow", "dvc", "scikit-learn", "pandas", "hydra-core", "skops"]:
        assert pinned[name] == lock[name], name
    assert "pytest" not in pinned  # dev tools stay out of the runtime environment


def _toml(path):
    import tomllib

    return tomllib.loads(path.read_text())
