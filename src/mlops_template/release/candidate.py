"""The candidate: the model and evaluation data that `dvc.lock` points to, and its run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import registry
from mlops_template.io.lineage import LOCK_FILE, file_md5, git_info, git_output
from mlops_template.io.model_file import content_md5
from mlops_template.io.model_folder import DVC_LOCK, Recorded


@dataclass(frozen=True)
class Candidate:
    model_md5: str
    test_md5: str
    run_id: str  # the train run that logged this model
    model_uri: str  # models:/<logged model id>
    lineage: dict[str, str]  # what a registered version is tagged with

    @property
    def recorded(self) -> Recorded:
        """What its logged copy is checked against: dvc.lock's model file."""
        return Recorded(self.model_md5, self.lineage["model_content_md5"], DVC_LOCK)


def locked_outputs(lock_file: str = LOCK_FILE) -> dict[str, str]:
    """path -> md5 of every output recorded in dvc.lock."""
    try:
        lock = yaml.safe_load(Path(lock_file).read_text()) or {}
    except FileNotFoundError:
        raise PipelineError(f"{lock_file}: not found; run `dvc repro` first") from None
    return outputs_of(lock)


def outputs_of(lock: dict[str, Any]) -> dict[str, str]:
    """path -> md5 of every output a parsed dvc.lock records."""
    return {
        out["path"]: out["md5"]
        for stage in (lock.get("stages") or {}).values()
        for out in stage.get("outs", [])
    }


def committed_outputs(commit: str) -> dict[str, str]:
    """path -> md5 of every output `commit`'s dvc.lock records ({} without one)."""
    if not commit or commit == "unknown":  # `git show :dvc.lock` would read the index
        return {}
    shown = git_output("show", f"{commit}:{LOCK_FILE}")
    return outputs_of(yaml.safe_load(shown) or {}) if shown else {}


def _locked_file(outputs: dict[str, str], path: str) -> str:
    """The md5 dvc.lock records for `path`, checked against the file on disk."""
    if path not in outputs:
        raise PipelineError(f"{LOCK_FILE} records no output {path}; run `dvc repro` first")
    if not Path(path).is_file() or file_md5(path) != outputs[path]:
        raise PipelineError(
            f"{path} does not match {LOCK_FILE}; run `dvc repro` (or `dvc checkout`) first"
        )
    return outputs[path]


def find_candidate(cfg: Config, client: Any) -> Candidate:
    outputs = locked_outputs()
    model_md5 = _locked_file(outputs, cfg.paths.model)
    test_md5 = _locked_file(outputs, cfg.paths.test)
    # Read by the gate too: the training rows (its baseline, the held-out rows it leaves
    # out) and the schema (the task, the columns scored).
    train_md5 = _locked_file(outputs, cfg.paths.train)
    _locked_file(outputs, cfg.paths.schema_)
    run = registry.newest_stage_run(client, "train", model_md5)
    logged = run.outputs.model_outputs if run else []
    if not logged:
        raise PipelineError(
            f"no MLflow run at this tracking store logged the model in {LOCK_FILE} "
            f"(md5 {model_md5}); run `dvc repro --force train` with this store"
        )
    # The metrics registered with it (reproduce compares a rebuild's with them): a later
    # evaluation of the same file, with a metric added since, is another record.
    evaluated = registry.newest_stage_run(client, "evaluate", model_md5)
    lineage = {
        "source_run_id": run.info.run_id,
        **({"evaluate_run_id": evaluated.info.run_id} if evaluated else {}),
        "git_commit": run.data.tags.get("pipeline.git_commit", "unknown"),
        "git_dirty": run.data.tags.get("pipeline.git_dirty", "unknown"),
        "model_md5": model_md5,
        # Of what the file holds, not of its deflated bytes (another zlib deflates
        # otherwise): what serve and predict check the artifact store's copy by.
        "model_content_md5": content_md5(Path(cfg.paths.model).read_bytes()),
        "test_md5": test_md5,
        "train_md5": train_md5,
        "model_type": run.data.tags.get("model_type", ""),
        "libraries": run.data.tags.get("libraries", ""),
        "promoted_from_commit": git_info()["git_commit"],
    }
    return Candidate(model_md5, test_md5, run.info.run_id, f"models:/{logged[0].model_id}", lineage)
