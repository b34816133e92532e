"""Registered model versions, in one place: which version an alias or a number names,
its files downloaded and checked, and the model, training schema and lineage loaded from
them. Every caller that loads a model (the gate, promote's candidate, monitor, ct, batch
scoring's fetch and REST serving's copy) goes through here.

Nothing from the artifact store is trusted as stored: a downloaded folder is checked
against the md5 the registry records for the version, and rewritten
(model_folder.check_model_folder), before anything loads it. MLflow, and the
model file's module (scikit-learn), are imported inside the functions: `predict` imports
this module's types without MLflow, and its model fetch downloads without scikit-learn.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_template.errors import PipelineError

# The lineage tags of the model file's md5 (its canonical bytes) and of its content's.
MODEL_MD5, CONTENT_MD5 = "model_md5", "model_content_md5"


def no_alias_hint(alias: str | None) -> str:
    """What to do when no version has the alias: for `champion`, what sets it, and how to
    use a model the gate refused."""
    from mlops_template.io import registry

    if alias != registry.CHAMPION:
        return ""
    return (
        ": `make promote` sets it when the gate passes; a model it refused is the "
        "`challenger` (its reasons say why), which ALIAS=challenger (make) or "
        "`--alias challenger` uses"
    )


@dataclass(frozen=True)
class ModelRef:
    """A registered version, the alias it was asked for by ("" for a number), and the
    md5s of its model file the registry records (its `lineage.model_md5` and
    `lineage.model_content_md5` tags; resolve reads them)."""

    name: str
    version: str
    alias: str
    model_md5: str = ""
    content_md5: str = ""

    @property
    def recorded(self) -> Any:
        """What the loaders check its file against (model_folder.Recorded)."""
        from mlops_template.io.model_folder import Recorded

        return Recorded(self.model_md5, self.content_md5)

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"


def resolve(client: Any, name: str, version: str | None, alias: str | None) -> ModelRef:
    """The version asked for by number, else the one `alias` points to."""
    from mlops_template.io import registry

    if version:
        found = registry.model_version(client, name, version)
        if found is None:
            raise PipelineError(f"{name} has no version {version}")
    else:
        found = registry.aliased_version(client, name, alias)
        if found is None:
            raise PipelineError(f"{name} has no version with alias '{alias}'{no_alias_hint(alias)}")
    tags = found.tags
    md5, content = tags.get(f"lineage.{MODEL_MD5}", ""), tags.get(f"lineage.{CONTENT_MD5}", "")
    return ModelRef(name, str(found.version), "" if version else alias or "", md5, content)


@dataclass(frozen=True)
class RegisteredVersion:
    """A registered version loaded: its model, the training schema it carries and its
    lineage tags (`lineage.train_md5` as `train_md5`, ...)."""

    ref: ModelRef
    model: Any
    schema: Any  # core.schema.TrainingSchema
    lineage: dict[str, str] = field(default_factory=dict)

    def data_md5(self, kind: str) -> str:
        """The DVC md5 of the data it was trained (`train`) or judged (`test`) on."""
        return self.lineage.get(f"{kind}_md5", "")

    def data(self, kind: str) -> Any:
        """That data, read from the DVC cache (a clear error when it is not there)."""
        import pandas as pd

        from mlops_template.io.dvc_cache import cached_file

        what = {"train": "training data", "test": "held-out data"}[kind]
        return pd.read_parquet(cached_file(self.data_md5(kind), f"{what} of {self.ref.label}"))


def load_version(client: Any, ref: ModelRef) -> RegisteredVersion:
    """The version's model, schema and lineage, from one checked download."""
    from mlops_template.core.schema import TrainingSchema
    from mlops_template.io.model_folder import Recorded

    tags = client.get_model_version(ref.name, ref.version).tags
    lineage = {k.removeprefix("lineage."): v for k, v in tags.items() if k.startswith("lineage.")}
    recorded = Recorded(lineage.get(MODEL_MD5, ""), lineage.get(CONTENT_MD5, ""))
    with checked_copy(ref.uri, "load", ref.label, recorded) as (folder, model):
        return RegisteredVersion(
            ref=ref,
            model=model,
            schema=TrainingSchema.of(model_schema(folder), ref.label),
            lineage=lineage,
        )


def version_of(client: Any, name: str, recorded: Any) -> str | None:
    """The newest registered version that holds this model file (`recorded`: its
    model_folder.Recorded), if any: its tags say so and its files are checked to (whoever
    can tag a version could tag another model so)."""
    import sys

    from mlops_template.io import registry

    for version in registry.versions_tagged(client, name, recorded.md5):
        ref = ModelRef(name, version, "")
        try:
            with model_copy(ref.uri, "version", ref.label, recorded):
                return version
        except PipelineError as err:
            print(f"note: not reused, as its tags say it holds this model: {err}", file=sys.stderr)
    return None


def load_logged(uri: str, label: str, recorded: Any) -> Any:
    """A logged model not registered yet (`models:/<model id>`: promote's candidate), whose
    file must be the one dvc.lock records (`recorded`: its model_folder.Recorded)."""
    with checked_copy(uri, "load", label, recorded) as (_, model):
        return model


@contextmanager
def model_copy(uri: str, purpose: str, label: str, recorded: Any) -> Iterator[str]:
    """A local folder with a model's files (MLmodel, the model), downloaded once, checked
    against what is `recorded` of it (a model_folder.Recorded) and removed afterwards: its
    schema (and for the REST workers, the model) are read from it, so they come from one
    version and the store is asked once."""
    with checked_copy(uri, purpose, label, recorded) as (folder, _):
        yield folder


@contextmanager
def checked_copy(uri: str, purpose: str, label: str, recorded: Any) -> Iterator[tuple[str, Any]]:
    """model_copy's folder, and the model the check loaded from it."""
    from mlops_template.io.model_folder import check_model_folder

    with tempfile.TemporaryDirectory(prefix=f"mlops-{purpose}-") as tmp:
        folder = _files(uri, tmp, label)
        # Nothing in it trusted as stored; the model file must be the one `recorded` (a
        # model_folder.Recorded: the registry's md5s, or dvc.lock's) describes.
        _, model = check_model_folder(folder, label, recorded)
        signature_readable(folder, label)
        yield folder, model


def signature_readable(folder: str, label: str) -> None:
    """MLflow's loaders (the REST workers, Spark's UDF) parse the signature the check keeps:
    one they cannot read is a one-line refusal here, not each worker's traceback later."""
    from mlflow.models import Model

    try:
        Model.load(folder)
    except Exception as err:  # MLflow's own parse of data from the store
        raise PipelineError(
            f"{label}: its MLmodel is damaged ({type(err).__name__}: {err})"
        ) from None


def download_unchecked(uri: str, folder: str, label: str) -> str:
    """A model's files downloaded into an existing folder, quietly, as stored: nothing in
    them checked (model_copy checks them). For predict's fetch, whose reader checks them
    (the check imports scikit-learn, which scoring imports anyway), and for reading files
    other than the model (reproduce's requirements); tests/unit/test_model_trust.py lists
    who may. `label` names the model in errors (`churn v3`)."""
    return _files(uri, folder, label)


def _files(uri: str, folder: str, label: str) -> str:
    """The model's files, as stored, downloaded into `folder` quietly."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    from mlops_template.io.registry import not_found

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        local = mlflow.artifacts.download_artifacts(uri, dst_path=folder)
    except MlflowException as err:
        if not not_found(err):
            raise
        raise PipelineError(
            f"{label}: its files are not in the artifact store ({err.message}); "
            "register it again, or point the alias at another version (`rollback --to`)"
        ) from None
    return local


def model_schema(folder: str) -> dict[str, Any]:
    """The training schema a checked folder's MLmodel carries in its metadata (the MLmodel
    check_model_folder wrote and found one in: plain YAML, read without importing MLflow)."""
    import yaml

    return yaml.safe_load(Path(folder, "MLmodel").read_text())["metadata"]["schema"]
