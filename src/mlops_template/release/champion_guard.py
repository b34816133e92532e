"""The team server's app (`mlflow server --app-name team-auth`): MLflow's basic-auth app,
and one rule it cannot express, that only CI moves `champion`.

MLflow's permissions are per experiment and per registered model: whoever may register
a version (EDIT) may also set any alias on it. Here, setting or deleting a protected
alias (`champion`), deleting the version that holds it, and deleting or renaming a
registered model that has it are refused (403) to every user not named in
MLOPS_CHAMPION_USERS (comma-separated; default `ci`), admins included: the champion
moves only through CI's promote, rollback and retire. Everything else is MLflow's
basic-auth as configured (deploy/basic_auth.ini, tools/team_roles.py for the grants).
"""

from __future__ import annotations

import os
from typing import Any

USERS_ENV = "MLOPS_CHAMPION_USERS"
ALIASES_ENV = "MLOPS_PROTECTED_ALIASES"
ALIAS_PATH = "/mlflow/registered-models/alias"
VERSION_DELETE_PATH = "/mlflow/model-versions/delete"
MODEL_CHANGE_PATHS = ("/mlflow/registered-models/delete", "/mlflow/registered-models/rename")


def allowed_users() -> set[str]:
    return {u.strip() for u in os.environ.get(USERS_ENV, "ci").split(",") if u.strip()}


def protected_aliases() -> set[str]:
    return {a.strip() for a in os.environ.get(ALIASES_ENV, "champion").split(",") if a.strip()}


def touches_protected_alias(path: str, params: dict[str, Any], aliases_of: Any) -> str | None:
    """What a request would do to a protected alias (None: nothing). `aliases_of(name,
    version)` gives a version's aliases (all of the model's when version is None)."""
    protected = protected_aliases()
    name = params.get("name")
    if path.endswith(ALIAS_PATH):
        alias = params.get("alias")
        return f"alias '{alias}' of {name}" if alias in protected else None
    if path.endswith(VERSION_DELETE_PATH) and name:
        held = protected & set(aliases_of(name, str(params.get("version"))))
        return f"{name} v{params.get('version')}, which holds {sorted(held)}" if held else None
    if path.endswith(MODEL_CHANGE_PATHS) and name:
        held = protected & set(aliases_of(name, None))
        return f"{name}, which has {sorted(held)}" if held else None
    return None


def create_app(app: Any = None) -> Any:
    """MLflow's basic-auth app, with the champion rule after its own checks."""
    from flask import g, request
    from mlflow.server import app as mlflow_app
    from mlflow.server.auth import create_app as basic_auth_app
    from mlflow.server.auth import make_forbidden_response

    flask_app = app or mlflow_app
    served = basic_auth_app(flask_app)

    def guard() -> Any:
        # MLflow's check ran first: it answered 401/403 itself, or named the user.
        user = getattr(g, "mlflow_authenticated_user", None)
        if user is None or request.method == "GET" or user in allowed_users():
            return None
        params = {**request.args.to_dict(), **(request.get_json(silent=True) or {})}
        touched = touches_protected_alias(request.path, params, _aliases_of)
        if touched is None:
            return None
        refused = make_forbidden_response()
        refused.set_data(
            f"Permission denied: only {', '.join(sorted(allowed_users()))} may change "
            f"{touched} (the champion moves through CI; {USERS_ENV})"
        )
        return refused

    flask_app.before_request(guard)
    return served


def _aliases_of(name: str, version: str | None) -> list[str]:
    from mlflow.exceptions import MlflowException
    from mlflow.server.handlers import _get_model_registry_store

    store = _get_model_registry_store()
    try:
        if version is None:
            return list(store.get_registered_model(name).aliases)
        return list(store.get_model_version(name, version).aliases)
    except MlflowException:  # no such model or version: MLflow's own answer says so
        return []
