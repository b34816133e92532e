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
