"""conda.yaml is a usable environment file (MLproject's stages: test_project_files.py)."""

from __future__ import annotations

import yaml

from tests.helpers.template import REPO


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
