"""Which commit a registered version is rebuilt from, and what in that commit differs
from what its dvc.lock recorded (reproduce)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_template.core.reproduction import stale_inputs
from mlops_template.errors import PipelineError
from mlops_template.io import commit_worktree
from mlops_template.io.lineage import LOCK_FILE, file_md5
from mlops_template.release.candidate import committed_outputs


def version_commit(label: str, lineage: dict[str, str]) -> tuple[str, list[str]]:
    """The commit to rebuild the version from (_commit_with_model of _promoted_commit), and
    a note if none holds the model file it records."""
    return _commit_with_model(_promoted_commit(label, lineage), lineage)


def _promoted_commit(label: str, lineage: dict[str, str]) -> str:
    """The commit the version was promoted from (else trained at), present here."""
    commit = lineage.get("promoted_from_commit") or lineage.get("git_commit") or "unknown"
    if commit == "unknown":
        raise PipelineError(f"{label} records no git commit (lineage.*): it cannot be rebuilt")
    if commit_worktree.git("cat-file", "-e", f"{commit}^{{commit}}", check=False).returncode != 0:
        raise PipelineError(
            f"{label} was promoted from commit {commit[:12]}, which this repository does "
            "not have: `git fetch` it (or the branch that holds it) first"
        )
    return commit


def _commit_with_model(commit: str, lineage: dict[str, str]) -> tuple[str, list[str]]:
    """`commit` if its dvc.lock records the version's model file; else a later commit whose
    dvc.lock does (the run was committed after `promote`, as `make run`, `make promote`,
    then a commit do); else `commit`, with a note that the version was built from changes
    it does not hold. The file is looked for among every output the commit records, not
    at the workspace's `paths.model`, which may have changed since."""
    md5 = lineage.get("model_md5", "")
    if not md5 or md5 in committed_outputs(commit).values():
        return commit, []
    later = commit_worktree.git(
        "log", "--format=%H", "-S", md5, "--", LOCK_FILE, check=False
    ).stdout.split()
    for candidate in later:
        if md5 in committed_outputs(candidate).values():
            print(
                f"promoted from commit {commit[:12]}, whose {LOCK_FILE} records another model; "
                f"commit {candidate[:12]} records this one",
                file=sys.stderr,
            )
            return candidate, []
    dirty = lineage.get("git_dirty") == "true"
    dirty_said = " (its training run saw uncommitted changes)" if dirty else ""
    return commit, [
        f"no commit's {LOCK_FILE} records model {md5}: it was built from changes not "
        f"committed at {commit[:12]}{dirty_said}"
    ]


def stale_inputs_of(tree: Path, known: Mapping[str, str] | None = None) -> dict[str, list[str]]:
    """The inputs the commit's dvc.lock recorded otherwise than the commit holds them;
    `known` gives files' md5s already taken (the fetch's), so they are not read again."""
    lock_file = tree / LOCK_FILE
    if not lock_file.is_file():
        return {}
    lock = dvc_yaml(lock_file)
    params = dvc_yaml(tree / "params.yaml")

    def md5_of(path: str) -> str | None:
        if known and path in known:
            return known[path]
        file = tree / path
        return file_md5(file) if file.is_file() else None

    return stale_inputs(lock, md5_of, params, _changed_dirs(tree, lock))


def _changed_dirs(tree: Path, lock: dict[str, Any]) -> frozenset[str]:
    """The directories the commit's dvc.lock records (conf/, data/incoming/) that DVC finds
    changed: their digests are DVC's own (of the files in them, as .dvcignore leaves
    them), so DVC is asked (`dvc status`)."""
    stages = (lock.get("stages") or {}).values()
    dirs = {
        dep["path"]
        for stage in stages
        for dep in stage.get("deps", [])
        if str(dep.get("md5", "")).endswith(".dir")
    }
    if not dirs:
        return frozenset()
    try:
        found = json.loads(commit_worktree.dvc(tree, "status", "--json").stdout or "{}")
    except ValueError:  # DVC could not say: the files in them are compared by the rebuild
        return frozenset()
    changed = set()
    for entries in found.values() if isinstance(found, dict) else []:
        for entry in entries if isinstance(entries, list) else []:
            deps = entry.get("changed deps") if isinstance(entry, dict) else None
            changed |= {path for path in deps or {} if path in dirs}
    return frozenset(changed)


def dvc_yaml(path: Path) -> dict:
    """A file read as DVC reads it: YAML 1.2, where 1e-06 is a number (PyYAML's YAML 1.1
    reads it as text, so a param would differ from itself)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}


def same_rows_note(label: str, recorded_md5: str | None, rebuilt: Path) -> str | None:
    """For a rebuilt data file whose md5 is not the recorded one: whether its rows are
    the recorded file's (from the DVC cache) all the same, and what wrote each. pandas and
    pyarrow write their versions into every Parquet file, so an upgrade of either changes
    the md5 of rows that are equal: said as such, not left to read as other data."""
    import pyarrow.parquet as pq

    from mlops_template.io.dvc_cache import cached_file

    if not (recorded_md5 and rebuilt.is_file()):
        return None
    try:  # the cache's copy, checked against its md5 (a tag that is none is refused)
        recorded = cached_file(recorded_md5, label)
        if not pq.read_table(recorded).equals(pq.read_table(rebuilt)):
            return None
        writers = [_writer(pq.read_metadata(path)) for path in (recorded, rebuilt)]
    except (PipelineError, OSError, ValueError):  # not to be had, or not Parquet
        return None
    return (
        f"{label}: the same rows as registered, in a file written otherwise "
        f"({writers[0]} -> {writers[1]})"
    )


def _writer(meta: Any) -> str:
    """What wrote a Parquet file: pyarrow's `created_by`, and pandas' version if it did."""
    pandas = json.loads((meta.metadata or {}).get(b"pandas", b"{}")).get("pandas_version")
    return (meta.created_by or "an unnamed writer") + (f", pandas {pandas}" if pandas else "")
