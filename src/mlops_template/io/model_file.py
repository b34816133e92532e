"""The model file: skops (no pickle), written in a canonical, byte-stable form.

skops names zip members after Python object ids and stamps them with the current time,
so two dumps of the same model differ. Renumbering ids in first-seen order and fixing
timestamps makes equal models equal bytes, which DVC's cache and `dvc.lock` rely on.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from typing import Any

from mlops_template.core import raw_rows
from mlops_template.errors import PipelineError

_ID_FILE = re.compile(r"^(\d+)(\.\w+)$")
_EPOCH = (1980, 1, 1, 0, 0, 0)
# Types a model of ours may contain beyond skops' defaults: scikit-learn and numpy
# internals, and the raw-row contract, the model's first step. (Named by its import, so
# that a stage loading a model lists raw_rows among its code deps: the model runs it.)
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", f"{raw_rows.__name__}.")


def canonical_skops(raw: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(raw))
    schema = json.loads(source.read("schema.json"))
    ids: dict[str, str] = {}

    def renumber(old: Any) -> str:
        return ids.setdefault(str(old), str(len(ids)))

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__":
                    out[key] = int(renumber(value))
                elif key == "file" and isinstance(value, str) and _ID_FILE.match(value):
                    stem, ext = _ID_FILE.match(value).groups()
                    out[key] = renumber(stem) + ext
                else:
                    out[key] = walk(value)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    canonical = walk(schema)
    members = {"schema.json": json.dumps(canonical, indent=2).encode()}
    for info in source.infolist():
        if info.filename == "schema.json":
            continue
        match = _ID_FILE.match(info.filename)
        name = renumber(match.group(1)) + match.group(2) if match else info.filename
        members[name] = source.read(info)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, members[name])
    return out.getvalue()


def dump_model(model: Any, path: str | Path) -> Path:
    import skops.io as sio

    from mlops_template.io.atomic import write_bytes

    return write_bytes(path, canonical_skops(sio.dumps(model)))


def trusted_types(data: bytes, where: str = "model file") -> list[str]:
    """The non-default types a model file needs; refuse anything outside our libraries.

    This list, never one stored beside the model (an MLmodel's `skops_trusted_types`),
    decides what a model may hold: whoever can write to an artifact store could edit that.
    """
    import skops.io as sio

    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as err:  # a truncated, empty or foreign file: not a skops zip
        raise PipelineError(
            f"{where} is damaged, not a skops model file ({_reason(err)})"
        ) from None
    foreign = [t for t in needed if not t.startswith(_TRUSTED_PREFIXES)]
    if foreign:
        raise PipelineError(
            f"{where} refused: it holds types outside scikit-learn, numpy and ours: "
            + ", ".join(foreign)
        )
    return needed


def load_model(path: str | Path, where: str | None = None) -> Any:
    """The model in a skops file, loaded with our allow-list; `where` names it in errors
    (a registered version's file, say), else the path does."""
    import skops.io as sio

    path = Path(path)
    where = where or str(path)
    if not path.is_file():
        raise PipelineError(f"{where}: model file not found (run the train stage first)")
    data = path.read_bytes()
    trusted = trusted_types(data, where)
    try:
        return sio.loads(data, trusted=trusted)
    except Exception as err:  # its types are ours: a failure here is a damaged member
        raise PipelineError(f"{where} is damaged and cannot be loaded ({_reason(err)})") from None


def _reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def check_model_folder(folder: str | Path, label: str) -> Path:
    """Make a downloaded model's folder safe for any loader (ours, MLflow's REST workers,
    Spark's UDF) and return its model file.

    Everything in the folder came from the artifact store, so nothing in it is trusted:
    the MLmodel must describe a scikit-learn model in skops, the model file must pass our
    allow-list, and the MLmodel is rewritten to trust exactly the types we checked. The
    code folder a model ships (for environments without this project) is dropped: here
    the project's own code reads the rows, as it does in `predict`.
    """
    import yaml

    mlmodel = Path(folder, "MLmodel")
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
        raise PipelineError(f"{label}: its MLmodel is damaged ({_reason(err)})") from None
    if not (skops and plain):
        raise PipelineError(
            f"{label} refused: its MLmodel does not describe a scikit-learn model in one skops "
            "file (the only kind this project loads)"
        )
    model_file = Path(folder, name)
    where = f"{label} ({name})"
    if not model_file.is_file():
        raise PipelineError(f"{where}: the model file is missing from the artifact store")
    sk["skops_trusted_types"] = trusted_types(model_file.read_bytes(), where)
    for flavor in (sk, py):
        flavor.pop("code", None)
    shutil.rmtree(Path(folder, "code"), ignore_errors=True)
    mlmodel.write_text(yaml.safe_dump(meta, sort_keys=False))
    return model_file


def model_file_in(folder: str | Path) -> Path:
    """The model file of a folder that check_model_folder has passed."""
    import yaml

    meta = yaml.safe_load(Path(folder, "MLmodel").read_text())
    return Path(folder, meta["flavors"]["sklearn"]["pickled_model"])
