"""Files by the md5 DVC recorded for them: a registered version names its training and
evaluation data this way, so they can be read back whatever the workspace holds now."""

from __future__ import annotations

import re
from pathlib import Path

from mlops_template.errors import PipelineError
from mlops_template.io.lineage import file_md5


def is_md5(text: str) -> bool:
    """Whether a recorded md5 is one: a file's place in the cache is built from it."""
    return re.fullmatch(r"[0-9a-f]{32}", text) is not None


def cached_file(md5: str, what: str) -> Path:
    """The DVC cache's copy of the file with this md5 (`what` names it in errors)."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    if not md5:
        raise PipelineError(f"the model version records no md5 for its {what}")
    # The md5 comes from the registry's tags: anything else would name a path of its own
    # choosing in the cache or the remote.
    if not is_md5(md5):
        raise PipelineError(
            f"the model version records {md5!r} as the md5 of its {what}, which is not an "
            "md5 (32 hex digits): its lineage tags were changed"
        )
    try:
        with Repo() as repo:
            path = Path(repo.cache.local.oid_to_path(md5))
            remote = None if path.is_file() else _from_remote(repo, md5, path)
    except NotDvcRepoError:
        raise PipelineError("not inside a DVC project: run this from the template's root") from None
    if not path.is_file():
        raise PipelineError(
            f"the {what} (md5 {md5}) is neither in the DVC cache {path.parent.parent} nor on "
            f"the remote ({remote or 'none set'}): `dvc push` it from a clone that has it"
        )
    # Read by its md5, so it must have it: a file changed in the cache decided what
    # monitor compared with (a drifted batch there read as "no drift") and the gate judged.
    if (found := file_md5(path)) != md5:
        raise PipelineError(
            f"the {what} in the DVC cache ({path}) is not the file of md5 {md5} (its md5 is "
            f"{found}): the cache was changed; remove that file and run again to fetch it "
            "from the remote"
        )
    return path


def _from_remote(repo, md5: str, path: Path) -> str | None:
    """The file fetched by its md5 from the default remote into the cache (a `dvc gc`
    may have dropped it here); the remote's location, whether it had it or not."""
    try:
        odb = repo.cloud.get_remote_odb(None, "fetch")
    except Exception:  # no remote set, or one DVC cannot open: nothing to fetch from
        return None
    source = odb.oid_to_path(md5)
    if odb.fs.exists(source):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.fetching")
        odb.fs.get_file(source, str(partial))
        if (found := file_md5(partial)) != md5:  # the remote's copy changed: not kept
            partial.unlink()
            raise PipelineError(
                f"the remote {odb.path} holds another file under md5 {md5} (its md5 is "
                f"{found}): the remote was changed"
            )
        partial.chmod(0o444)  # as DVC keeps its cache
        partial.replace(path)
    return str(odb.path)


def uncached_outputs() -> list[Path]:
    """Stage outputs DVC keeps in git rather than its cache (`cache: false`, e.g. metrics):
    `dvc checkout` cannot bring these back, so whoever replaces them must save them."""
    from dvc.repo import Repo

    with Repo() as repo:
        return [Path(str(out)) for out in repo.index.outs if not out.use_cache]
