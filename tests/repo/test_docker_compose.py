"""docker-compose.yml and its MLflow image. Docker itself is not on this machine (only its
client), so the file is checked against the Compose spec's schema offline; its MLflow
command runs for real in tests/e2e/test_team_server.py."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers.template import REPO

CHECK = str(Path(sys.executable).parent / "check-jsonschema")


def check_compose(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHECK, "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_file_matches_the_compose_spec():
    done = check_compose(REPO / "docker-compose.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_catches_a_broken_compose_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  mlflow:\n    ports: 5000\n")  # ports must be a list
    assert check_compose(broken).returncode == 1  # check-jsonschema: invalid


def test_the_mlflow_image_pins_the_versions_of_the_lock():
    locked = {
        p["name"]: p["version"] for p in tomllib.loads((REPO / "uv.lock").read_text())["package"]
    }
    dockerfile = (REPO / "deploy/mlflow.Dockerfile").read_text()
    pins = dict(re.findall(r'"([a-z0-9-]+)(?:\[[a-z]+\])?==([^"]+)"', dockerfile))
    assert set(pins) == {"mlflow", "psycopg", "boto3"}
    assert pins == {name: locked[name] for name in pins}
    assert f"mlflow/mlflow:v{locked['mlflow']}" in dockerfile


def test_mlflow_reads_the_auth_settings_with_the_credential_cache_on(monkeypatch):
    """deploy/basic_auth.ini as MLflow's auth app reads it: a checked password is taken for
    a minute, not hashed again on every request (docs/team.md)."""
    from mlflow.server.auth.config import DEFAULT_AUTHORIZATION_FUNCTION, read_auth_config

    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(REPO / "deploy/basic_auth.ini"))
    config = read_auth_config()
    assert config.auth_cache_ttl_seconds == 60
    assert config.authorization_function == DEFAULT_AUTHORIZATION_FUNCTION
    assert config.default_permission == "READ"
