"""The MLflow model registry: versions, aliases, and the history aliases do not keep.
(Loading a version's model is io/model_versions.py's.)

Every alias move is recorded as an MLflow run (`registry.action` = promote | rollback)
in the tracking experiment: who, what, when and the previous champion. A run that did
not finish does not count, so an interrupted move leaves no false history.
"""

from __future__ import annotations

import getpass
import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, suppress
from typing import Any

from mlops_template.io.store import all_pages, check_server, store_uri, tracking_uri
from mlops_template.io.table_lock import LOCK_WAIT, wait_for_lock

CHAMPION = "champion"
# Said when the champion moves: serve loads the version the alias named at its start.
RUNNING_SERVERS = (
    "a server already running (make serve) goes on serving the version it started with "
    "until restarted"
)
CHALLENGER = "challenger"
ACTION_TAG = "registry.action"
MODEL_TAG = "registry.model"


def actor() -> str:
    """Who acts: the CI actor when there is one, else the account signed in to a tracking
    server, else the local user."""
    signed_in = tracking_uri().startswith(("http://", "https://"))
    return (
        os.environ.get("GITHUB_ACTOR")
        or (signed_in and os.environ.get("MLFLOW_TRACKING_USERNAME"))
        or getpass.getuser()
    )


def connect() -> Any:
    """An MlflowClient on the configured store; a clear error if it cannot be reached."""
    import mlflow
    from mlflow import MlflowClient

    uri = store_uri()
    mlflow.set_tracking_uri(uri)
    check_server(uri, "nothing was changed")
    return MlflowClient()


def alias_version(client: Any, name: str, alias: str) -> str | None:
    found = aliased_version(client, name, alias)
    return None if found is None else str(found.version)


def aliased_version(client: Any, name: str, alias: str | None) -> Any | None:
    """The ModelVersion `alias` points to (its tags too), or None."""
    return _or_none(lambda: client.get_model_version_by_alias(name, alias))


def model_version(client: Any, name: str, version: str) -> Any | None:
    """The ModelVersion (its tags too), or None if there is no such version."""
    return _or_none(lambda: client.get_model_version(name, version))


def _or_none(ask: Any) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return ask()
    except MlflowException as err:
        if not_found(err):
            return None
        raise


def has_model(client: Any, name: str) -> bool:
    return _or_none(lambda: client.get_registered_model(name)) is not None


def has_version(client: Any, name: str, version: str) -> bool:
    return model_version(client, name, version) is not None


def not_found(err: Any) -> bool:
    """No such model, version or alias; a refusal (401, 403) or an outage is no answer."""
    return err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def versions_tagged(client: Any, name: str, model_md5: str) -> list[str]:
    """The versions whose tags say they hold this model file, newest first (a tag says
    so; model_versions.version_of checks their files)."""
    versions = all_pages(
        client.search_model_versions,
        f"name = '{name}' and tags.`lineage.model_md5` = '{model_md5}'",
    )
    return sorted((str(v.version) for v in versions), key=int, reverse=True)


def newest_stage_run(
    client: Any, stage: str, model_md5: str, started_by: int | None = None
) -> Any | None:
    """The newest finished run of a pipeline stage (train, evaluate) for this model file
    (started by `started_by`, milliseconds since the epoch, if given)."""
    by = f" and attributes.start_time <= {int(started_by)}" if started_by is not None else ""
    runs = client.search_runs(
        experiment_ids(client),
        filter_string=(
            f"tags.`pipeline.stage` = '{stage}' and attributes.status = 'FINISHED' "
            f"and tags.model_md5 = '{model_md5}'{by}"
        ),
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def experiment_ids(client: Any) -> list[str]:
    """Every experiment of the store (deleted ones left out, as MLflow does)."""
    return [e.experiment_id for e in all_pages(client.search_experiments)]


def all_versions(client: Any, name: str) -> list[Any]:
    return all_pages(client.search_model_versions, f"name = '{name}'")


def aliased_versions(client: Any, name: str) -> set[str]:
    """Versions that hold an alias (search results do not carry aliases)."""
    return {str(v) for v in client.get_registered_model(name).aliases.values()}


class _NoLease:
    """A lock file's holder: no one else can have changed the registry meanwhile."""

    def confirm(self) -> None:
        pass


@contextmanager
def registry_lock(client: Any, name: str, create: bool = False) -> Iterator[Any]:
    """Serialise promotions, rollbacks and retirements of model `name`: a lock file
    beside a local SQLite database, else a lease in the registry (io/registry_lease.py),
    given to `confirm()` just before an alias or tag changes. `create` registers the model
    first where it is not (a first promotion; removed again if it ends with no version),
    else a model not there yet is left unlocked (nothing to roll back or retire)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:///"):
        with _lock_file(f"{uri.removeprefix('sqlite:///')}.lock"):
            yield _NoLease()
        return
    created = create and not has_model(client, name) and _create_model(client, name)
    if not has_model(client, name):
        yield _NoLease()
        return
    from mlops_template.io.registry_lease import leased

    try:
        with leased(client, name, actor(), LOCK_WAIT) as lease:
            yield lease
    finally:
        with suppress(Exception):  # not over the body's own error (the server gone, say)
            if created and not all_versions(client, name):  # a first promote that failed
                client.delete_registered_model(name)


@contextmanager
def _lock_file(lock: str) -> Iterator[None]:
    with open(lock, "w") as handle:  # released when the file closes
        # A promote stopped with Ctrl-Z holds it: said, not a silent wait.
        wait_for_lock(
            handle,
            f"another promote, rollback or retire is changing the registry ({lock}); waiting",
            f"another promote, rollback or retire kept the registry locked ({lock}) for over "
            f"{LOCK_WAIT:.0f} s; nothing was changed: run this again once it is done",
            LOCK_WAIT,
        )
        yield


def _create_model(client: Any, name: str) -> bool:
    """Registered without versions; whether this process did (another that just did so
    is no error)."""
    from mlflow.exceptions import MlflowException

    try:
        client.create_registered_model(name)
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return False
    return True


def events(client: Any, name: str) -> list[dict[str, Any]]:
    """Finished promote/rollback events for model `name`, oldest first.

    Searched in every experiment: `mlflow run -e promote` records its event in the
    experiment `mlflow run` chose, a plain `promote` in the configured one.
    """
    runs = all_pages(
        client.search_runs,
        experiment_ids(client),
        filter_string=f"tags.`{MODEL_TAG}` = '{name}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time ASC"],
    )
    return [
        {
            "action": run.data.tags[ACTION_TAG],
            "version": run.data.tags["registry.version"],
            "previous": run.data.tags.get("registry.previous_champion", ""),
            "actor": run.data.tags.get("registry.actor", ""),
            "time": run.info.start_time,
            "run_id": run.info.run_id,
        }
        for run in runs
        if run.data.tags.get(ACTION_TAG) in {"promote", "rollback"}
    ]


def move_champion(
    client: Any, experiment_id: str, name: str, version: str, *, action: str, extra: dict
) -> str:
    """Point `champion` at `version`, recorded as an event run; returns the run id.

    The event run is FINISHED only after the alias moved: a failure leaves an unfinished
    run, which the history ignores. A stop (Ctrl-C, SIGTERM) waits for the two to be
    done: between them, it would leave a champion the history does not know, which
    `rollback` and the rolled-back check replay.
    """
    from mlops_template import stop_signals
    from mlops_template.io.report_runs import nested

    previous = alias_version(client, name, CHAMPION) or ""
    run = client.create_run(
        experiment_id,
        run_name=f"{action} {name} v{version}",
        tags=nested(
            {
                ACTION_TAG: action,
                MODEL_TAG: name,
                "registry.version": version,
                "registry.previous_champion": previous,
                "registry.actor": actor(),
                **{f"registry.{k}": str(v) for k, v in extra.items()},
            }
        ),
    )
    with stop_signals.deferred():
        try:
            client.set_registered_model_alias(name, CHAMPION, version)
        except BaseException:
            client.set_terminated(run.info.run_id, "FAILED")
            raise
        client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


# MLflow's own lines when it registers ("Created version '2' of model ..."): the verdict
# line says the version.
CHATTER = ("Successfully registered model", "Registered model '", "Created version '")


def register_quietly(model_uri: str, name: str, tags: dict[str, str]) -> Any:
    """mlflow.register_model, its chatter left out of stderr (any other line kept)."""
    import mlflow

    said = io.StringIO()
    with redirect_stderr(said):
        registered = mlflow.register_model(model_uri, name, tags=tags)
    for line in said.getvalue().splitlines():
        if not line.startswith(CHATTER):
            print(line, file=sys.stderr)
    return registered
