"""Grant the team's roles on the tracking server (MLflow's basic auth, `make server
AUTH=1`): people train, register challengers and read everything; CI alone moves
`champion` (the server's team-auth app refuses it to anyone else: see
src/<package>/release/champion_guard.py); a client without credentials can do nothing.

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 MLFLOW_TRACKING_USERNAME=admin \\
    MLFLOW_TRACKING_PASSWORD=... python tools/team_roles.py --ci ci --people alice bob \\
        [--passwords passwords.json]

Run it as an admin. Users missing on the server are created with their password from
--passwords (a JSON object, user -> password; keep it out of git). Every user can read
(deploy/basic_auth.ini: default_permission READ); this grants, on every experiment and
registered model ("*"), EDIT to people and to CI, and MANAGE on models to CI; and it
creates the project's registered model (--model, by default params.yaml's
registry.model_name) if the server lacks it: MLflow answers 403 to anyone but an admin
asking for an alias of a model that does not exist, so the first `promote` failed.
Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import yaml

# (resource type, pattern, permission) each role gets.
GRANTS = {
    "people": [("experiment", "*", "EDIT"), ("registered_model", "*", "EDIT")],
    "ci": [("experiment", "*", "EDIT"), ("registered_model", "*", "MANAGE")],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ci", required=True, help="CI's user (MLOPS_CHAMPION_USERS)")
    parser.add_argument("--people", nargs="*", default=[], help="the team's users")
    parser.add_argument("--passwords", type=Path, help="JSON: user -> password, for new users")
    parser.add_argument("--model", help="the registered model (default: params.yaml's)")
    args = parser.parse_args()
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    if not uri.startswith(("http://", "https://")):
        sys.exit("set MLFLOW_TRACKING_URI to the team server, and an admin's credentials")
    from mlflow.exceptions import MlflowException
    from mlflow.server import get_app_client

    client = get_app_client("basic-auth", tracking_uri=uri)
    passwords = json.loads(args.passwords.read_text()) if args.passwords else {}
    roles = {args.ci: "ci", **{person: "people" for person in args.people if person != args.ci}}
    for user, role in roles.items():
        try:
            client.get_user(user)
        except MlflowException:
            if user not in passwords:
                sys.exit(f"{user} is not a user of {uri}: give a password in --passwords")
            client.create_user(user, passwords[user])
            print(f"created user {user}")
        for resource, pattern, permission in GRANTS[role]:
            grant(client, user, resource, pattern, permission)
        print(f"{user}: {role} ({', '.join(f'{p} on {r} {s}' for r, s, p in GRANTS[role])})")
    if model := args.model or _model_name():
        _ensure_model(uri, model)
    print(f"only {args.ci} moves champion: start the server with MLOPS_CHAMPION_USERS={args.ci}")
    return 0


def _model_name() -> str | None:
    params = Path("params.yaml")
    composed = yaml.safe_load(params.read_text()) if params.exists() else None
    return ((composed or {}).get("registry") or {}).get("model_name")


def _ensure_model(uri: str, name: str) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(uri)
    try:
        client.get_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(name)
        print(f"created registered model {name} (its first promote asks for its aliases)")


def grant(client, user: str, resource: str, pattern: str, permission: str) -> None:
    """The grant, replacing another permission on the same resources."""
    from mlflow.exceptions import MlflowException

    try:
        client.grant_user_permission(user, resource, pattern, permission)
    except MlflowException as err:
        if "already exists" not in str(err):
            raise
        client.revoke_user_permission(user, resource, pattern)
        client.grant_user_permission(user, resource, pattern, permission)


if __name__ == "__main__":
    sys.exit(main())
