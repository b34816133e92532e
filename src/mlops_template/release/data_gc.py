"""dvc-gc: `dvc gc` that keeps the data every registered version needs.

`dvc gc --workspace` keeps only what the workspace refers to: once it has moved on, the
champion's training data, which `monitor` compares batches with, and the files
`reproduce` checks against go with it. This keeps every commit's data
(`--all-commits`), and besides the files registered versions record by md5 (model,
train and test data) that no commit refers to, as when a version was promoted from a
run that was never committed: linked aside before `dvc gc` and put back after.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import registry
from mlops_template.io.store import all_pages

LINEAGE_FILES = ("lineage.model_md5", "lineage.train_md5", "lineage.test_md5")


def registered_md5s(client, name: str) -> set[str]:
    """The md5 of every file a registered version of `name` records."""
    versions = all_pages(client.search_model_versions, f"name = '{name}'")
    return {v.tags[key] for v in versions for key in LINEAGE_FILES if v.tags.get(key)}


def dvc_gc(cfg: Config, dry_run: bool = False) -> int:
    from dvc.repo import Repo

    needed = registered_md5s(registry.connect(), cfg.registry.model_name)
    with Repo() as repo:
        paths = {md5: Path(repo.cache.local.oid_to_path(md5)) for md5 in needed}
    present = {md5: path for md5, path in paths.items() if path.is_file()}
    command = ["dvc", "gc", "--workspace", "--all-commits", "--force"]
    if dry_run:
        command.append("--dry")
    cache = next(iter(present.values())).parents[2] if present else Path(".dvc")
    # Hard links in the cache's own file system: a file gc unlinks lives on in them.
    with tempfile.TemporaryDirectory(prefix="keep-", dir=cache) as keep:
        for md5, path in present.items():
            os.link(path, Path(keep) / md5)
        done = subprocess.run(command, check=False)
        restored = 0
        for md5, path in present.items():
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                os.link(Path(keep) / md5, path)
                restored += 1
    if done.returncode != 0:
        raise PipelineError(f"`{' '.join(command)}` failed (exit {done.returncode})")
    absent = len(needed) - len(present)
    print(
        f"dvc-gc: kept the {len(present)} cached files of {cfg.registry.model_name}'s "
        f"registered versions ({restored} of them referred to by no commit)"
        + (f"; {absent} were not in the cache" if absent else ""),
        file=sys.stderr,
    )
    return 0
