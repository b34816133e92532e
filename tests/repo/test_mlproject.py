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


def test_make_lock_keeps_every_pin_that_follows_the_lock(tmp_path):
    """After `uv lock --upgrade`, the team server's image and the Makefile's uv stayed at
    the old versions (an upgrade trial); only a test noticed the image."""
    import importlib.util
    import shutil

    for name in ("pyproject.toml", "uv.lock", "Makefile", "conda.yaml", "deploy/mlflow.Dockerfile"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    docker, makefile = tmp_path / "deploy/mlflow.Dockerfile", tmp_path / "Makefile"
    docker.write_text(docker.read_text().replace("mlflow:v", "mlflow:v0.0.1-was-"))
    docker.write_text(docker.read_text().replace('"boto3==', '"boto3==0.0.1-was-'))
    makefile.write_text(makefile.read_text().replace("UV_VERSION := ", "UV_VERSION := 0.0.1-"))
    spec = importlib.util.spec_from_file_location("conda_env", REPO / "tools/conda_env.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    files = tool.pinned(tmp_path)
    assert files[docker] == (REPO / "deploy/mlflow.Dockerfile").read_text()
    assert files[makefile] == (REPO / "Makefile").read_text()
    assert files[tmp_path / "conda.yaml"] == (REPO / "conda.yaml").read_text()
