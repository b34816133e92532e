"""A model's folder from the artifact store, made safe for any loader (ours, MLflow's REST
workers, Spark's UDF). Whoever can write to the store must not decide what a loader
trusts, nor which model it runs:

- the MLmodel must describe a scikit-learn model in one skops file, and that file must
  pass our allow-list (model_file.trusted_types);
- the file must be the one recorded outside the store: the md5 of its canonical content
  is the registry's `lineage.model_content_md5` (versions registered before it was
  recorded: the md5 of its canonical bytes is `lineage.model_md5`); for promote's
  candidate, that of the model file dvc.lock records;
- what the MLmodel says of the model (its training schema, its signature) must agree
  with the model itself: the columns its first step reads, classifier or regressor.

The folder is then left with that file and an MLmodel written here, whose loader and
trusted types are ours: none of the stored MLmodel's other keys (another data folder,
predict function or model config) and none of the other files (the code a model ships
for environments without this project, its environment files) reach a loader.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_template.errors import PipelineError
from mlops_template.io.model_file import (
    canonical_skops,
    content_md5,
    load_model,
    reason,
    trusted_types,
)

REGISTRY = "the registry's tags"
FLOAT32 = {"float32", "float16"}  # pandas' names, lowercased
DVC_LOCK = "dvc.lock"
_METADATA = ("schema", "model_md5")  # what train stores in an MLmodel's metadata


@dataclass(frozen=True)
class Recorded:
    """What is recorded of a model file outside the artifact store, and where."""

    md5: str  # of its canonical bytes: lineage.model_md5, dvc.lock's md5
    content_md5: str = ""  # of its canonical content: lineage.model_content_md5
    where: str = REGISTRY


def check_model_folder(folder: str | Path, label: str, recorded: Recorded) -> tuple[Path, Any]:
    """The folder made safe to load (see the module's docstring); its model file and the
    model, loaded (the check loads it: a caller need not again)."""
    import yaml

    meta, name = _described(Path(folder, "MLmodel"), label)
    model_file = Path(folder, name)
    where = f"{label} ({name})"
    if model_file.is_symlink() or not model_file.is_file():
        raise PipelineError(f"{where}: the model file is missing from the artifact store")
    data = model_file.read_bytes()
    trusted = trusted_types(data, where)
    _is_recorded(data, where, recorded)
    model = load_model(model_file, where)
    _agrees(model, meta, label)
    for entry in Path(folder).iterdir():
        if entry.name in (name, "MLmodel"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    py = meta["flavors"]["python_function"]
    checked = {
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.sklearn",
                "model_path": name,
                # Kept so that MLflow can say when it loads under another Python.
                **(
                    {"python_version": version}
                    if _is_version(version := py.get("python_version"))
                    else {}
                ),
            },
            "sklearn": {
                "pickled_model": name,
                "serialization_format": "skops",
                "skops_trusted_types": trusted,
            },
        },
        # Data only: the input schema MLflow's server checks requests against, and ours
        # (no other metadata: MLflow reads some keys of it as instructions).
        **({"signature": meta["signature"]} if "signature" in meta else {}),
        "metadata": {
            **{k: v for k, v in _mapping(meta.get("metadata")).items() if k in _METADATA},
            "model_md5": recorded.md5,  # the recorded one, not what the store says
        },
    }
    Path(folder, "MLmodel").write_text(yaml.safe_dump(checked, sort_keys=False))
    return model_file, model


def _described(mlmodel: Path, label: str) -> tuple[dict[str, Any], str]:
    """The stored MLmodel and its model file's name, if it describes a scikit-learn model
    in one skops file beside it (the only kind this project loads)."""
    import yaml

    try:
        meta = yaml.safe_load(mlmodel.read_text())
        sk, py = meta["flavors"]["sklearn"], meta["flavors"]["python_function"]
        name = sk["pickled_model"]
        skops = sk["serialization_format"] == "skops" and py["loader_module"] == "mlflow.sklearn"
        plain = isinstance(name, str) and Path(name).name == name and py["model_path"] == name
    except FileNotFoundError:
        raise PipelineError(
            f"{label}: its files are not in the artifact store (no MLmodel)"
        ) from None
    except (yaml.YAMLError, KeyError, TypeError, UnicodeDecodeError) as err:
        raise PipelineError(f"{label}: its MLmodel is damaged ({reason(err)})") from None
    if not (skops and plain and name not in ("", ".", "..", "MLmodel")):
        raise PipelineError(
            f"{label} refused: its MLmodel does not describe a scikit-learn model in one skops "
            "file (the only kind this project loads)"
        )
    return meta, name


def _is_recorded(data: bytes, where: str, recorded: Recorded) -> None:
    """The store holds the pipeline's file (model_logging), but one logged by an older
    template holds MLflow's own skops dump, and another zlib deflates otherwise: their
    canonical content is the same (model_file.content_md5), and that is what is compared."""
    if not (recorded.content_md5 or recorded.md5):
        raise PipelineError(
            f"{where} refused: no md5 of it is recorded to check it against (the registry's "
            "lineage.model_content_md5 or lineage.model_md5 tag); register models with `make "
            "promote` (a version registered by hand: set lineage.model_md5 to the model's md5 "
            "in the dvc.lock of the commit that trained it)"
        )
    try:
        if recorded.content_md5:
            found, expected = content_md5(data), recorded.content_md5
        else:  # recorded before the content's md5 was: the bytes, deflated here
            found, expected = hashlib.md5(canonical_skops(data)).hexdigest(), recorded.md5
    except Exception as err:  # a zip skops reads, laid out as skops never writes one
        raise PipelineError(f"{where} is damaged ({reason(err)})") from None
    if found != expected:
        # Deflated bytes also differ under another zlib (zlib-ng), whatever they hold.
        other_zlib = "" if recorded.content_md5 else " (or its md5 was recorded under another zlib)"
        raise PipelineError(
            f"{where} refused: it is not the model recorded in {recorded.where} ({expected}; this "
            f"one's is {found}): the artifact store was changed, or {recorded.where}{other_zlib}"
        )


def _agrees(model: Any, meta: dict[str, Any], label: str) -> None:
    """The MLmodel's training schema and signature say what the model reads and is: they
    must say what the model file (checked above) holds; every loader reads the schema."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    from mlops_template.core.raw_rows import RawRows
    from mlops_template.core.schema import TrainingSchema

    steps = getattr(model, "steps", None)
    first = steps[0][1] if isinstance(steps, list) and steps and len(steps[0]) == 2 else None
    if not isinstance(first, RawRows):
        raise PipelineError(
            f"{label} refused: its model file holds {type(model).__name__}, not a pipeline "
            "this project trains (raw rows read first); register a model `dvc repro` trained"
        )
    try:
        check_is_fitted(model)
    except NotFittedError:
        raise PipelineError(f"{label} refused: its model file holds an unfitted pipeline") from None
    schema = _mapping(meta.get("metadata")).get("schema")
    if not isinstance(schema, dict):  # every loader reads it: refused here, promote's too
        raise PipelineError(
            f"{label} refused: its MLmodel carries no training schema (metadata.schema); the "
            "train stage stores one with every model it logs: register a model `dvc repro` "
            "trained"
        )
    training = TrainingSchema.of(schema, f"{label}: its MLmodel's training schema")
    said = {
        "numeric": training.names("numeric"),
        "date": training.names("date"),
        "categorical": training.names("categorical"),
        "boolean": training.booleans,
    }
    reads = {
        "numeric": first.numeric,
        "date": first.dates,
        "categorical": first.categorical,
        "boolean": first.boolean,
    }
    for kind, names in said.items():
        if sorted(names) != sorted(reads[kind]):
            raise PipelineError(
                f"{label} refused: its MLmodel's training schema names {kind} columns "
                f"{sorted(names)[:10]}, its model file reads {sorted(reads[kind])[:10]}: the "
                "artifact store was changed"
            )
    if (training.task == "classification") != hasattr(model, "classes_"):
        raise PipelineError(
            f"{label} refused: its MLmodel says a {training.task} model, its model file holds "
            "the other kind: the artifact store was changed"
        )
    _signature_agrees(meta, training, label)


def _signature_agrees(meta: dict[str, Any], training: Any, label: str) -> None:
    """MLflow's server keeps only the signature's columns of a request, by name (by
    position, for unnamed ones), requires the ones it marks required, and casts each to its
    type: the signature must declare the model's features as train wrote it
    (model_logging._signature): named, optional where training had gaps, numbers as
    double, booleans and dates as text (MLflow reads a null boolean as False). One MLflow
    cannot parse is model_versions.signature_readable's to name."""
    if "signature" not in meta:
        return  # MLflow's server then passes every column on as sent
    try:
        inputs = json.loads(meta["signature"]["inputs"])
    except (KeyError, TypeError, ValueError):
        return
    expected = {c.name: (not c.nullable, _declared_type(c)) for c in training.columns}
    float32 = {c.name for c in training.columns if c.dtype.lower() in FLOAT32}
    declared = {}
    for spec in inputs if isinstance(inputs, list) else [None]:
        if not (isinstance(spec, dict) and isinstance(spec.get("name"), str)):
            declared = None  # unnamed columns, or tensors: never what train writes
            break
        kind = spec.get("type")
        # MLflow infers `any` for text the example rows leave empty: passed on uncast.
        kind = "string" if kind == "any" else kind
        # Models logged before input_example made every number double declared float32
        # training columns as float.
        kind = "double" if kind == "float" and spec["name"] in float32 else kind
        declared[spec["name"]] = (spec.get("required", True), kind)
    if declared != expected:
        differ = (
            sorted(set(declared) ^ set(expected))
            or sorted(n for n in expected if declared[n] != expected[n])
            if declared is not None
            else ["unnamed"]
        )
        raise PipelineError(
            f"{label} refused: its MLmodel's signature does not declare the model's features "
            f"as trained (columns {differ[:10]} differ): the artifact store was changed"
        )


def _declared_type(column: Any) -> str:
    """The type train's signature gives a feature (integers too are declared double)."""
    if column.is_boolean or column.kind == "date":
        return "string"
    return "double" if re.match(r"(?i)u?int|float", column.dtype) else "string"


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _is_version(text: object) -> bool:
    return isinstance(text, str) and re.fullmatch(r"\d+(\.\d+){1,2}", text) is not None
