"""A tracking store's refusals in words: the CLI prints these instead of a traceback."""

from __future__ import annotations

import errno
import os
import sys

from mlops_template.errors import redact
from mlops_template.io.store import tracking_uri


def server_refusal(err: BaseException) -> str | None:
    """What a tracking server refused, in words, for an MLflow client error; else None.

    MLflow reports a 401, a 403 or a server that went away mid-request as a bare
    MlflowException with the HTTP details; the CLI prints this instead of a traceback.
    """
    exceptions = sys.modules.get("mlflow.exceptions")
    if exceptions is None or not isinstance(err, exceptions.MlflowException):
        return None
    uri = redact(tracking_uri())
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    request = redact(str(err).split(" failed with", 1)[0].removeprefix("API request to "))
    if err.error_code == "UNAUTHENTICATED":
        who = (
            f"the credentials of user {user!r} (MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD)"
            if user
            else "a request without credentials: set MLFLOW_TRACKING_USERNAME and "
            "MLFLOW_TRACKING_PASSWORD"
        )
        return f"tracking server {uri} refused {who} (401 Unauthorized, {request})"
    if err.error_code == "PERMISSION_DENIED":
        return _denied(str(err), uri, user, request, _host(tracking_uri()))
    if "Max retries exceeded" in str(err) or "Connection aborted" in str(err):
        return (
            f"tracking server {uri} went away during the request ({request}); "
            "run the command again once it is back"
        )
    return None


def _host(uri: str) -> str:
    """The Host header a client sends for `uri`: its name and port, no credentials."""
    from urllib.parse import urlsplit

    return urlsplit(uri).netloc.rpartition("@")[2]


def _denied(said: str, uri: str, user: str | None, request: str, host: str) -> str:
    """A 403 in words: the server's own rule, its host check, or a grant to ask for."""
    _, quoted, body = said.partition("Response body: '")
    rule = redact(body.removesuffix("'").strip()) if quoted else ""
    if rule.startswith("Invalid Host header"):  # MLflow's guard against DNS rebinding
        return (
            f"tracking server {uri} refused the host name it was reached by, {host} "
            f"({request}): it answers only the names it allows; start it with {host} in "
            "MLFLOW_SERVER_ALLOWED_HOSTS, which replaces its defaults (docs/team.md)"
        )
    if rule.startswith("Permission denied: "):  # a rule of the server's own, e.g.
        # release/champion_guard.py's: said as it is, since no grant would change it
        return f"tracking server {uri} denied user {user!r} this change ({request}): {rule}"
    return (
        f"tracking server {uri} denied user {user!r} this change (403 Permission denied, "
        f"{request}); an admin grants EDIT or MANAGE on the model or experiment"
    )


# What SQLite says (through SQLAlchemy, or MLflow's wrapping of it) -> what to do.
SQLITE_PROBLEMS = {
    # Held by another process: a long write, a database browser.
    "database is locked": "is locked by another process (database is locked): run this "
    "again once that process is done",
    "file is not a database": "is not an SQLite database (file is not a database): restore "
    "it from a backup, or move it aside to start a new, empty store",
    "database disk image is malformed": "is damaged (database disk image is malformed): "
    "restore it from a backup, or move it aside to start a new, empty store",
    "database or disk is full": "cannot grow, its disk is full (database or disk is full): "
    "free space there and run this again",
    # Another MLflow version's schema: an older store (back it up, then upgrade it), or a
    # newer one's, which this MLflow cannot read (nor can its `mlflow db upgrade`).
    "out-of-date database schema": "has another MLflow version's schema (out-of-date "
    "database schema): if this MLflow is the newer, back the store up and run `mlflow db "
    "upgrade {uri}`; if a newer MLflow migrated it, go back to that one (uv.lock) or "
    "restore the copy made before changing MLflow",
}


def sqlite_store(err: BaseException) -> str | None:
    """What is wrong with the local SQLite store, in words, for the error it gave; else
    None."""
    uri = tracking_uri()
    if not uri.startswith("sqlite:"):
        return None
    for said, meaning in SQLITE_PROBLEMS.items():
        if said in str(err):
            return f"the tracking store {uri.removeprefix('sqlite:///')} " + meaning.format(uri=uri)
    return None


FULL = (errno.ENOSPC, errno.EDQUOT)  # no space left; the user's quota is used up


def full_disk_error(err: BaseException | None) -> OSError | None:
    """The write that found its disk full behind `err` (it, or the cause of another
    library's error); else None."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError) and err.errno in FULL:
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def disk_full(err: BaseException) -> str | None:
    """A full disk, in words, naming the file if the error does; else None."""
    if (full := full_disk_error(err)) is None:
        return None
    said = f"{full.strerror} ({errno.errorcode[full.errno]})"
    path = full.filename2 or full.filename  # a copy's destination, else the file written
    if path is None:  # a write through a file object says no more
        return f"{said} while writing: free space on that disk and run this again"
    return f"{path}: {said}: free space there and run this again"
