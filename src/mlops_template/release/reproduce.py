"""reproduce: rebuild a registered model version from its commit, data and params, and say
whether the rebuild is byte-identical to what was registered, or what differs.

The version's commit (the one it was promoted from) is checked out in a temporary git
worktree that shares this project's DVC cache and remote; its DVC-tracked data is taken
from the cache, else fetched from the remote; the whole pipeline runs again there
(`dvc repro --force`, with that commit's code, into a throwaway tracking store), and the
model file, the train and test data and the metrics are compared with the digests the
version was registered with (core/reproduction.py names what differs; version_commit.py
finds the commit and what in it differs from its dvc.lock). The artifact
store's copy of the model, which serve and predict load, is compared with the rebuild
by their scores on the rebuilt test rows when the rebuilt file is the recorded one.

Exit codes: 0 byte-identical, 3 differs, 2 it cannot be rebuilt (the version, its
commit, its data or the remote missing).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from mlops_template.config import Config
from mlops_template.core.reproduction import (
    SERVED,
    Compared,
    Reproduction,
    scores_digest,
)
from mlops_template.errors import PipelineError
from mlops_template.io import commit_worktree, model_versions, registry
from mlops_template.io.atomic import write_json
from mlops_template.io.lineage import file_md5
from mlops_template.release.version_commit import (
    same_rows_note,
    stale_inputs_of,
    version_commit,
)

DIFFERS = 3
REPORT_DIR = Path("reports/reproduce")


def reproduce(cfg: Config, target: str, verbose: bool = False) -> int:
    client = registry.connect()
    name = cfg.registry.model_name
    number = target.removeprefix("v")
    ref = model_versions.resolve(
        client, name, number if number.isdigit() else None, None if number.isdigit() else target
    )
    version = client.get_model_version(name, ref.version)
    tags = version.tags
    lineage = {k.removeprefix("lineage."): v for k, v in tags.items() if k.startswith("lineage.")}
    commit, notes = version_commit(ref.label, lineage)
    print(f"reproduce {ref.label} from commit {commit[:12]}", file=sys.stderr)
    served = _served(client, ref)  # before the rebuild's minutes: the store is asked once
    with commit_worktree.worktree(commit) as tree:
        commit_worktree.share_dvc(tree)
        fetched = commit_worktree.fetch_tracked_data(tree, ref.label)
        stale = stale_inputs_of(tree, fetched)  # after the fetch: the files are there
        if notes:
            stale = {"uncommitted": notes, **stale}
        _rebuild(tree, verbose)
        registered = _registered_metrics(client, lineage, version.creation_timestamp)
        outputs, said = _compared(tree, lineage, served, registered)
        found = Reproduction(
            model=ref.label,
            commit=commit,
            outputs=outputs,
            stale=stale,
            environment=_environment(ref),
            notes=said,
        )
    write_json(REPORT_DIR / f"v{ref.version}.json", found.as_json())
    for line in found.lines():
        print(line, file=sys.stderr)
    return 0 if found.identical else DIFFERS


def _rebuild(tree: Path, verbose: bool) -> None:
    """The whole pipeline, with the commit's code (its src/ before the installed package),
    tracked into a throwaway store."""
    with tempfile.TemporaryDirectory(prefix="mlops-reproduce-store-") as store:
        # Nothing of an outer run (`mlflow run -e reproduce`, `dvc exp run`) leaks in.
        outer = ("MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_", "MLFLOW_TRACKING_", "DVC_ROOT")
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(outer) and not k.startswith(("DVC_STAGE", "DVC_EXP"))
        }
        env.update(
            PYTHONPATH=os.pathsep.join([str(tree / "src"), os.environ.get("PYTHONPATH", "")]),
            MLFLOW_TRACKING_URI=f"sqlite:///{Path(store) / 'mlflow.db'}",
            MLOPS_STAGE_SERVER="0",  # a warm server runs the installed code, not this
        )
        done = subprocess.run(
            # --no-commit: nothing of the rebuild goes into the shared cache. Its run-cache
            # entries had a later `dvc repro` here restore evaluate's outputs without
            # running it, so without an MLflow run.
            ["dvc", "repro", "--force", "--no-commit", "--quiet"],
            cwd=tree,
            env=env,
            stdout=None if verbose else subprocess.PIPE,
            stderr=None if verbose else subprocess.STDOUT,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        said = "" if verbose else "\n" + "\n".join((done.stdout or "").splitlines()[-15:])
        raise PipelineError(f"the rebuild (`dvc repro --force`) failed{said}")


def _compared(
    tree: Path, lineage: dict[str, str], served: Any, registered: dict[str, Any] | None
) -> tuple[list[Compared], list[str]]:
    """The registered outputs against the rebuilt ones, and what could not be compared."""
    paths = (yaml.safe_load((tree / "params.yaml").read_text(encoding="utf-8")) or {})["paths"]

    def rebuilt(key: str) -> str | None:
        file = tree / paths[key]
        return file_md5(file) if file.is_file() else None

    found = [
        Compared("model file", lineage.get("model_md5"), rebuilt("model")),
        Compared("train data", lineage.get("train_md5") or None, rebuilt("train")),
        Compared("test data", lineage.get("test_md5"), rebuilt("test")),
    ]
    notes = [
        said
        for compared, key in zip(found[1:], ("train", "test"), strict=True)
        if not compared.same
        and (said := same_rows_note(compared.name, compared.registered, tree / paths[key]))
    ]
    if found[0].same:  # the rebuilt file is the one the tags record: the store's copy too?
        try:
            found.append(_served_scores(served, tree / paths["model"], tree / paths["test"]))
        except (ValueError, KeyError) as err:  # rows the models cannot score: not compared
            notes.append(f"the served model: not compared ({type(err).__name__}: {err})")
    if isinstance(served, str):
        notes.append(f"the served model could not be loaded: {served}")
    metrics_file = tree / paths["metrics"]
    if registered is None:
        notes.append(
            "metrics: the evaluate run the version was registered with is not in the store, "
            "not compared"
        )
    elif metrics_file.is_file():
        now = json.loads(metrics_file.read_text())
        found.append(Compared("metrics", _digest(registered), _digest(now)))
        if differ := sorted(k for k in {*registered, *now} if registered.get(k) != now.get(k)):
            notes.append(f"metrics that differ: {', '.join(differ)}")
    return found, notes


def _served(client: Any, ref: model_versions.ModelRef) -> Any:
    """The registered version as serve and predict load it, from the artifact store and
    checked as they check it; else why it could not be (files gone, refused)."""
    try:
        return model_versions.load_version(client, ref)
    except PipelineError as err:
        return str(err)


def _served_scores(served: Any, model: Path, test: Path) -> Compared:
    """The store's copy against the rebuilt model file, by their scores on the rebuilt
    test rows: the tags record the file's md5, but the store's copy is what runs (one
    logged by an older template is MLflow's own skops dump, not the file's bytes, so it
    is compared by what it does)."""
    import pandas as pd

    from mlops_template.io.model_file import load_model

    if isinstance(served, str):  # gone from the store, or refused: not the recorded model
        return Compared(SERVED, None, None)
    rebuilt = load_model(model)
    rows = pd.read_parquet(test, columns=served.schema.features)
    classification = served.schema.task == "classification"
    return Compared(
        SERVED,
        scores_digest(served.model, rows, classification),
        scores_digest(rebuilt, rows, classification),
    )


def _registered_metrics(
    client: Any, lineage: dict[str, str], registered_at: int
) -> dict[str, Any] | None:
    """The metrics the version was registered with: those of the `evaluate` run promote
    recorded, else (a version registered before it did) of the newest one of its model
    file started before the registration. A later evaluation of the same file (the code
    added a metric since) is not what was registered. None if there is no such run."""
    from mlflow.exceptions import MlflowException

    if run_id := lineage.get("evaluate_run_id"):
        try:
            return dict(client.get_run(run_id).data.metrics)
        except MlflowException:  # deleted (mlflow gc): nothing to compare with
            return None
    md5 = lineage.get("model_md5", "")
    run = registry.newest_stage_run(client, "evaluate", md5, started_by=registered_at)
    return dict(run.data.metrics) if run else None


def _digest(metrics: dict[str, Any]) -> str:
    text = json.dumps({k: float(v) for k, v in metrics.items()}, sort_keys=True)
    return hashlib.md5(text.encode()).hexdigest()


def _environment(ref: model_versions.ModelRef) -> list[str]:
    """The packages (and Python) the version was logged with that are not installed here
    at the same version. Read as text from its files, unchecked: the model in them is
    never loaded here, and the check keeps only the model file and MLmodel."""
    differs = []
    with tempfile.TemporaryDirectory(prefix="mlops-reproduce-") as tmp:
        folder = model_versions.download_unchecked(ref.uri, tmp, ref.label)
        pins = _text(Path(folder) / "requirements.txt").splitlines()
        try:
            python = yaml.safe_load(_text(Path(folder) / "python_env.yaml"))
        except yaml.YAMLError:  # the store's text: what it cannot say is not compared
            python = None
    if not isinstance(python, dict):
        python = {}
    for pin in pins:
        name, sep, version = pin.partition("==")
        if not sep:
            continue
        try:
            installed = metadata.version(name.strip())
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != version.strip():
            differs.append(f"{name.strip()} {version.strip()} -> {installed}")
    logged_python = str(python.get("python", ""))
    here = ".".join(map(str, sys.version_info[:3]))
    if logged_python and logged_python != here:
        differs.append(f"Python {logged_python} -> {here}")
    return differs


def _text(path: Path) -> str:
    """A file of the version's, as text ("" if it is not there or not text)."""
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else ""
    except UnicodeDecodeError:
        return ""
