"""A tracking store's refusals in words: the CLI prints these instead of a traceback."""

from __future__ import annotations

import os
import sys

from mlops_template.io.store import tracking_uri


def server_refusal(err: BaseException) -> str | None:
    """What a tracking server refused, in words, for an MLflow client error; else None.

    MLflow reports a 401, a 403 or a server that went away mid-request as a bare
    MlflowException with the HTTP details; the CLI prints this instead of a traceback.
    """
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is None or not isinstance(err, exceptions.MlflowException):
        return None
    uri = tracking_uri()
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    request = str(err).split(" failed with", 1)[0].removeprefix("API request to ")
    if err.error_code == "UNAUTHENTICATED":
        who = (
            f"the credentials of user {user!r} (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD)"
            if user
            else "a request without credentials: set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD"
        )
        return f"tracking server {uri} refused {who} (401 Unauthorized, {request})"
    if err.error_code == "PERMISSION_DENIED":
        return (
            f"tracking server {uri} denied user {user!r} this change (403 Permission denied, "
            f"{request}); an admin grants EDIT or MANAGE on the model or experiment"
        )
    if "Max retries exceeded" in str(err) or "Connection aborted" in str(err):
        return (
            f"tracking server {uri} went away during the request ({request}); "
            "run the command again once it is back"
        )
    return None


def locked_store(err: BaseException) -> str | None:
    """The local SQLite store held by another process (a long write, a database browser),
    in words, for the error it gave: SQLAlchemy's, or MLflow's wrapping of it; else None."""
    uri = tracking_uri()
    if not uri.startswith("sqlite:") or "database is locked" not in str(err):
        return None
    return (
        f"the tracking store {uri.removeprefix('sqlite:///')} is locked by another process "
        "(database is locked): run this again once that process is done"
    )
