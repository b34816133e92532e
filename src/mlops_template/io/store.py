"""Where runs go, and a store that answers: the tracking URI, its driver, the server's
health, and searches read to the end."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_template.errors import PipelineError, redact, require_extra


def project_root() -> Path:
    """The repository whose local store a run goes to.

    DVC runs queued and `--temp` experiments in a copy under `.dvc/tmp/exps/` and sets
    DVC_ROOT to the original repository for every stage; runs must land there, not in
    a folder DVC deletes afterwards.
    """
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def use_configured_uri() -> None:
    """The project's own tracking server (`tracking.uri` in params.yaml), for this process
    and those it starts (MLflow's scoring server, `mlflow run`), unless
    MLFLOW_TRACKING_URI is set: the environment wins, as everywhere in MLflow."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return
    import yaml

    from mlops_template.config import read_params

    try:
        params = read_params(project_root() / "params.yaml")
    except (OSError, yaml.YAMLError):
        return  # no readable params here: the commands that need them say so
    tracking = params.get("tracking") if isinstance(params, dict) else None
    if isinstance(tracking, dict) and isinstance(uri := tracking.get("uri"), str) and uri:
        os.environ["MLFLOW_TRACKING_URI"] = uri


def tracking_uri() -> str:
    """MLFLOW_TRACKING_URI, else the local SQLite store `mlflow.db` at the project root."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project_root() / 'mlflow.db'}"


def store_uri() -> str:
    """tracking_uri(), with its driver checked: a PostgreSQL store needs the server extra."""
    # MLflow says at INFO that it creates a new store's tables: two lines in a first
    # `make run` that ask nothing of anyone.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
    uri = tracking_uri()
    if uri.startswith("postgresql"):
        require_extra("psycopg", "server", f"the tracking store {uri.split('://')[0]}://")
    return uri


def is_local(uri: str) -> bool:
    return uri.startswith(("sqlite:", "file:")) or "://" not in uri


def check_server(uri: str, consequence: str) -> None:
    """Fail at once, clearly, when the tracking server does not answer: MLflow's client
    would retry for minutes (MLFLOW_HTTP_REQUEST_MAX_RETRIES), then print a traceback."""
    import urllib.error
    import urllib.parse
    import urllib.request

    if not uri.startswith(("http://", "https://")):  # a local store or a database: no /health
        return
    # /health needs no credentials, also on a basic-auth server; and urllib would take
    # user:password@ (which MLflow's client sends as basic auth) for part of the host name.
    parts = urllib.parse.urlsplit(uri.rstrip("/"))
    health = parts._replace(netloc=parts.netloc.rpartition("@")[2], path=f"{parts.path}/health")
    try:
        with urllib.request.urlopen(health.geturl(), timeout=10) as answer:
            answer.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise PipelineError(
            f"tracking server {redact(uri)} (MLFLOW_TRACKING_URI) is unreachable: {reason}; "
            f"{consequence}"
        ) from None


def all_pages(search: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """Every result of an MLflow search: a search returns one page (1,000 runs or
    experiments by default) and a token for the next."""
    found: list[Any] = []
    token = None
    while True:
        page = search(*args, page_token=token, **kwargs)
        found.extend(page)
        token = page.token
        if not token:
            return found
