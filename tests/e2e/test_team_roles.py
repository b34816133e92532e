"""Only CI promotes: the team server's app (`--app-name team-auth`) with the roles
tools/team_roles.py grants, against a real MLflow server on loopback: each refusal and
each permission, by the REST API every client uses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mlops_template.io.mlflow_server import job_runner_setting
from tests.helpers.servers import free_port, running
from tests.helpers.template import REPO, tool_env

pytestmark = pytest.mark.slow

ADMIN = ("admin", "admin-password-1")
USERS = {"ci": "ci-password-12", "alice": "alice-password-1", "bob": "bob-password-12"}
MODEL = "churn"


def api(uri: str, user: tuple[str, str] | None, method: str, path: str, **body):
    """One REST call as `user` (None: no credentials); the response."""
    call = requests.get if method == "GET" else getattr(requests, method.lower())
    args = {"params": body} if method == "GET" else {"json": body}
    return call(f"{uri}/api/2.0/mlflow/{path}", auth=user, timeout=30, **args)


def as_user(name: str) -> tuple[str, str]:
    return name, USERS[name]


@pytest.fixture
def server(tmp_path: Path):
    config = (REPO / "deploy/basic_auth.ini").read_text()
    auth = tmp_path / "basic_auth.ini"
    auth.write_text(config.replace("sqlite:////var/lib/mlflow/", f"sqlite:///{tmp_path}/"))
    port = free_port()
    uri = f"http://127.0.0.1:{port}"
    env = {
        **tool_env(tmp_path),
        "MLFLOW_AUTH_CONFIG_PATH": str(auth),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "roles-test-key",
        "MLOPS_CHAMPION_USERS": "ci",
        **job_runner_setting(),  # as tools/team_server.py runs it
    }
    cmd = [
        "mlflow", "server", "--app-name", "team-auth",
        "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
        "--default-artifact-root", str(tmp_path / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with running(cmd, f"{uri}/health", tmp_path / "server.log", env=env):
        passwords = tmp_path / "passwords.json"
        passwords.write_text(json.dumps(USERS))
        roles = [sys.executable, str(REPO / "tools/team_roles.py"), "--ci", "ci"]
        roles += ["--people", "alice", "--passwords", str(passwords), "--model", MODEL]
        admin = {
            **env,
            "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_TRACKING_USERNAME": ADMIN[0],
            "MLFLOW_TRACKING_PASSWORD": ADMIN[1],
        }
        done = subprocess.run(roles, env=admin, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        again = subprocess.run(roles, env=admin, capture_output=True, text=True, check=False)
        assert "created registered model churn" in done.stdout
        assert again.returncode == 0 and "created" not in again.stdout  # idempotent
        # bob: a user with no grant (he reads, by default_permission).
        assert api(uri, ADMIN, "POST", "users/create", username="bob", password=USERS["bob"]).ok
        yield uri


def test_only_ci_moves_the_champion_and_people_train_and_register(server):
    uri = server
    assert api(uri, None, "GET", "experiments/search", max_results=1).status_code == 401
    alice, ci, bob = as_user("alice"), as_user("ci"), as_user("bob")

    # People train: an experiment, a run, a metric.
    experiment = api(uri, alice, "POST", "experiments/create", name="churn").json()
    run = api(uri, alice, "POST", "runs/create", experiment_id=experiment["experiment_id"]).json()
    run_id = run["run"]["info"]["run_id"]
    logged = api(uri, alice, "POST", "runs/log-metric", run_id=run_id, key="f1", value=0.8,
                 timestamp=0, step=0)  # fmt: skip
    assert logged.ok, logged.text
    # ...and register challengers, in the model team_roles.py made: the first promote asks
    # for its champion, which MLflow refused (403) to all but admins while it did not exist.
    for user in (alice, ci):
        none = api(uri, user, "GET", "registered-models/alias", name=MODEL, alias="champion")
        assert "alias champion not found" in none.text, none.text  # not 403: no champion
    version = api(uri, alice, "POST", "model-versions/create", name=MODEL, source="s3://x/m",
                  run_id=run_id).json()["model_version"]["version"]  # fmt: skip
    challenger = {"name": MODEL, "alias": "challenger", "version": version}
    assert api(uri, alice, "POST", "registered-models/alias", **challenger).ok

    # Only CI moves champion.
    champion = {"name": MODEL, "alias": "champion", "version": version}
    refused = api(uri, alice, "POST", "registered-models/alias", **champion)
    assert refused.status_code == 403 and "only ci may change alias 'champion'" in refused.text
    assert api(uri, ADMIN, "POST", "registered-models/alias", **champion).status_code == 403
    assert api(uri, ci, "POST", "registered-models/alias", **champion).ok
    held = api(uri, alice, "GET", "registered-models/alias", name=MODEL, alias="champion")
    assert held.ok and held.json()["model_version"]["version"] == version  # everyone reads
    # Nor takes it away: the alias, its version, or the model.
    gone = {"name": MODEL, "alias": "champion"}
    assert api(uri, alice, "DELETE", "registered-models/alias", **gone).status_code == 403
    delete = {"name": MODEL, "version": version}
    assert api(uri, alice, "DELETE", "model-versions/delete", **delete).status_code == 403
    assert api(uri, alice, "DELETE", "registered-models/delete", name=MODEL).status_code == 403
    assert api(uri, ci, "DELETE", "registered-models/alias", **gone).ok

    # A user without grants reads, and writes nothing.
    assert api(uri, bob, "GET", "registered-models/get", name=MODEL).ok
    denied = api(uri, bob, "POST", "runs/create", experiment_id=experiment["experiment_id"])
    assert denied.status_code == 403
    assert api(uri, bob, "POST", "registered-models/alias", **challenger).status_code == 403
    assert api(uri, None, "GET", "registered-models/get", name=MODEL).status_code == 401
