"""dvc-gc: `dvc gc` that keeps the data every registered version needs.

`dvc gc --workspace` keeps only what the workspace refers to: once it has moved on, the
champion's training data, which `monitor` compares batches with, and the files
`reproduce` checks against go with it. This keeps every commit's data
(`--all-commits`), and besides the files registered versions record by md5 (model,
train and test data) that no commit refers to, as when a version was promoted from a
run that was never committed: while `dvc gc` runs, a .dvc file in the workspace refers
to them, so it neither lists them (`--dry-run`) nor removes or counts them. Experiments'
data is kept too (`--all-experiments`): `exp best --apply` checks it out.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import registry
from mlops_template.io.dvc_cache import is_md5
from mlops_template.io.store import all_pages, store_uri
from mlops_template.io.workspace_lock import workspace_locked

LINEAGE_FILES = ("lineage.model_md5", "lineage.train_md5", "lineage.test_md5")
KEEP_FILE = ".dvc-gc-registered.dvc"  # in the workspace while `dvc gc` runs


def registered_md5s(client, name: str) -> set[str]:
    """The md5 of every file a registered version of `name` records (a tag that is no
    md5 names no file: it would name a path of its own in the cache). A store without the
    model refuses: most often the wrong store (MLFLOW_TRACKING_URI, a typo in a SQLite
    path, which MLflow creates empty), where nothing would be kept."""
    if not registry.has_model(client, name):
        raise PipelineError(
            f"dvc-gc: no registered model {name!r} in the tracking store {store_uri()}, so "
            "none of its versions' files would be kept: check MLFLOW_TRACKING_URI (nothing "
            "was removed); before any version is registered, `dvc gc --workspace "
            "--all-commits --all-experiments` does the rest"
        )
    versions = all_pages(client.search_model_versions, f"name = '{name}'")
    return {v.tags[key] for v in versions for key in LINEAGE_FILES if is_md5(v.tags.get(key, ""))}


def dvc_gc(cfg: Config, dry_run: bool = False) -> int:
    from dvc.repo import Repo

    needed = registered_md5s(registry.connect(), cfg.registry.model_name)
    with Repo() as repo:
        root = Path(repo.root_dir)
        present = sorted(md5 for md5 in needed if Path(repo.cache.local.oid_to_path(md5)).is_file())
    command = ["dvc", "gc", "--workspace", "--all-commits", "--all-experiments", "--force"]
    if dry_run:
        command.append("--dry")
    keep = root / KEEP_FILE
    # One dvc-gc (or ct, promote) at a time: another would delete the file under this one.
    # Stopped (Ctrl-C, SIGTERM), the file goes; killed, the next dvc-gc replaces it.
    with workspace_locked("dvc-gc --dry-run" if dry_run else "dvc-gc"):
        if present:  # outputs of no stage: never checked out, only kept
            outs = [{"md5": md5, "path": f"{KEEP_FILE}.d/{md5}", "hash": "md5"} for md5 in present]
            keep.write_text(yaml.safe_dump({"outs": outs}, sort_keys=False), encoding="utf-8")
        try:
            done = subprocess.run(command, check=False, cwd=root)
        finally:
            keep.unlink(missing_ok=True)
    if done.returncode != 0:
        raise PipelineError(f"`{' '.join(command)}` failed (exit {done.returncode})")
    absent = len(needed) - len(present)
    print(
        f"dvc-gc: {'would keep' if dry_run else 'kept'} the {len(present)} cached files of "
        f"{cfg.registry.model_name}'s registered versions, besides what dvc gc kept for the "
        "commits" + (f"; {absent} were not in the cache" if absent else ""),
        file=sys.stderr,
    )
    if dry_run:  # DVC's --dry says "Removing" and "Removed" for what it would remove
        print("dvc-gc --dry-run: nothing was removed (above: what dvc gc would remove)")
    return 0
