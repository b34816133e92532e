"""A model version's commit checked out beside the project (a temporary git worktree)
that shares the project's DVC cache and remotes, with its DVC-tracked data in place:
where `reproduce` rebuilds it."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from mlops_template.errors import PipelineError
from mlops_template.io.dvc_cache import is_md5
from mlops_template.io.lineage import file_md5


def git(
    *args: str, cwd: Path | None = None, check: bool = True, hooks: bool = True
) -> subprocess.CompletedProcess:
    config = [] if hooks else ["-c", "core.hooksPath=/dev/null"]
    command = ["git", *config, *args]
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise PipelineError(f"git {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done


def dvc(tree: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["dvc", *args], cwd=tree, capture_output=True, text=True, check=False, env=env
    )


@contextmanager
def worktree(commit: str) -> Iterator[Path]:
    """The commit checked out beside this one (git worktree), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="mlops-reproduce-") as tmp:
        tree = Path(tmp) / "tree"
        # No hooks: DVC's post-checkout hook (pre-commit's) ran `dvc checkout` in the new
        # tree before it shared this project's cache, and the add failed.
        git("worktree", "add", "--detach", "--force", str(tree), commit, hooks=False)
        try:
            yield tree
        finally:
            git("worktree", "remove", "--force", str(tree), check=False)
            git("worktree", "prune", check=False)


def share_dvc(tree: Path) -> None:
    """The worktree uses this project's DVC cache, and its remotes at the places they
    resolve to from here (a relative URL names a folder relative to .dvc/)."""
    here = Path.cwd()
    local = here / ".dvc" / "config.local"  # a team remote (make dvc-pull), credentials
    if local.is_file():
        (tree / ".dvc" / "config.local").write_bytes(local.read_bytes())
    cache = dvc(here, "cache", "dir").stdout.strip() or str(here / ".dvc" / "cache")
    settings = [("cache", "dir", "--local", str(Path(cache).resolve()))]
    for line in dvc(here, "remote", "list").stdout.splitlines():
        parts = line.split()  # "name url", a "(default)" marker apart
        if len(parts) < 2:
            continue
        remote, url = parts[:2]
        if "://" not in url and not Path(url).is_absolute():
            url = str((here / ".dvc" / url).resolve())
        settings.append(("remote", "add", "--local", "--force", remote, url))
    if default := dvc(here, "remote", "default").stdout.strip():
        settings.append(("remote", "default", "--local", default))
    for args in settings:
        done = dvc(tree, *args)
        if done.returncode != 0:
            raise PipelineError(f"dvc {' '.join(args[:2])} in the worktree: {done.stderr.strip()}")


def fetch_tracked_data(tree: Path, label: str) -> dict[str, str]:
    """Every DVC-tracked file of the commit (*.dvc) from the cache, else from the remote:
    one the remote does not have either is a refusal naming it. Returns the md5 of each
    file taken from the cache, checked against its .dvc file (so it is not hashed again)."""
    checked: dict[str, str] = {}
    for pointer in git("ls-files", "*.dvc", cwd=tree).stdout.split():
        outs = _outs(tree, pointer)
        if dvc(tree, "checkout", "--quiet", pointer).returncode == 0:
            checked |= _refuse_damaged(tree, pointer, outs, label)
            continue
        if dvc(tree, "pull", "--quiet", pointer).returncode != 0:
            path, md5 = outs[0] if outs else (pointer, "?")
            remote = dvc(tree, "remote", "default").stdout.strip()
            url = dvc(tree, "config", f"remote.{remote}.url").stdout.strip() if remote else ""
            raise PipelineError(
                f"{label}: its data {path} (md5 {md5 or '?'}) is neither in the DVC "
                f"cache nor on the remote ({url or 'none set'}): `dvc push` it from a clone "
                "that has it"
            )
    return checked


def _outs(tree: Path, pointer: str) -> list[tuple[str, str]]:
    """A .dvc file's outputs: each path (relative to the project) and its recorded md5."""
    try:
        outs = (yaml.safe_load((tree / pointer).read_text()) or {}).get("outs") or []
    except (yaml.YAMLError, AttributeError):  # not a pointer: `dvc checkout` says so
        return []
    return [
        ((Path(pointer).parent / str(out.get("path", ""))).as_posix(), str(out.get("md5", "")))
        for out in outs
    ]


def _refuse_damaged(
    tree: Path, pointer: str, outs: list[tuple[str, str]], label: str
) -> dict[str, str]:
    """The md5 of each file the cache gave, refused when it is not the md5 its .dvc file
    records: the cache's copy was changed (DVC does not hash its cache again). Said as
    such, not left for the rebuild to call the data "recorded otherwise than the commit
    holds"."""
    checked = {}
    for path, recorded in outs:
        if not (is_md5(recorded) and (tree / path).is_file()):
            continue  # a folder (its .dir md5), or nothing checked out
        if (found := file_md5(tree / path)) != recorded:
            raise PipelineError(
                f"{label}: the DVC cache's copy of its data {path} is damaged "
                f"(md5 {found}; {pointer} records {recorded}): remove it from the cache "
                f"(`dvc cache dir` names the folder; files/md5/{recorded[:2]}/"
                f"{recorded[2:]}) and `dvc pull {pointer}`"
            )
        checked[path] = found
    return checked
