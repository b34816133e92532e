"""Files by the md5 DVC recorded for them: a registered version names its training and
evaluation data this way, so they can be read back whatever the workspace holds now."""

from __future__ import annotations

from pathlib import Path

from mlops_template.errors import PipelineError


def cached_file(md5: str, what: str) -> Path:
    """The DVC cache's copy of the file with this md5 (`what` names it in errors)."""
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    if not md5:
        raise PipelineError(f"the model version records no md5 for its {what}")
    try:
        with Repo() as repo:
            path = Path(repo.cache.local.oid_to_path(md5))
    except NotDvcRepoError:
        raise PipelineError("not inside a DVC project: run this from the template's root") from None
    if not path.is_file():
        raise PipelineError(
            f"the {what} (md5 {md5}) is not in the DVC cache {path.parent.parent}: "
            "run `dvc pull` (or `dvc fetch`) for the commit that made this model"
        )
    return path


def uncached_outputs() -> list[Path]:
    """Stage outputs DVC keeps in git rather than its cache (`cache: false`, e.g. metrics):
    `dvc checkout` cannot bring these back, so whoever replaces them must save them."""
    from dvc.repo import Repo

    with Repo() as repo:
        return [Path(str(out)) for out in repo.index.outs if not out.use_cache]
