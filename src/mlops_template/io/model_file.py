"""The model file: skops (no pickle), written in a canonical, byte-stable form.

skops names zip members after Python object ids (or random UUIDs) and stamps them with
the current time, so two dumps of the same model differ. Renumbering ids in first-seen
order and fixing timestamps makes equal models equal bytes, which DVC's cache and
`dvc.lock` rely on.
"""

from __future__ import annotations

import io
import json
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any

from sklearn.exceptions import InconsistentVersionWarning

from mlops_template.core import learner_adapters, raw_rows, text_encoders
from mlops_template.errors import PipelineError
from mlops_template.io.skops_schema import (
    dicts,
    other_scikit_learn,
    say_other_scikit_learn,
    schema,
)

# A member file skops names after an object id, or (XGBoost's booster) a random UUID.
_ID_FILE = re.compile(r"^(\d+|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})(\.\w+)$")
_EPOCH = (1980, 1, 1, 0, 0, 0)
# Types a model of ours may contain beyond skops' defaults. skops calls some of them
# while loading (a type with `__reduce__` is called with stored arguments), so a name
# prefix is not enough: `numpy.load` or a numpy test helper would run what the file says.
# Trusted are scikit-learn's classes (whose constructors only store their arguments),
# numpy's dtype, scalar types and random generators, and the raw-row contract, the
# model's first step. (Named by its import, so that a stage loading a model lists
# raw_rows among its code deps: the model runs it.)
MODEL_CLASSES = (raw_rows.RawRows, *learner_adapters.TRUSTED, text_encoders.TextWords)
_OURS = {f"{c.__module__}.{c.__name__}" for c in MODEL_CLASSES}
_PACKAGE = f"{__name__.partition('.')[0]}."
_OWN_CLASS_HINT = (
    " (a class of this project's own: list it in MODEL_CLASSES, io/model_file.py; "
    "docs/experiments.md, 'A class of your own')"
)
PARTIAL, CHECK_ARRAY = "functools.partial", "sklearn.utils.validation.check_array"
# LightGBM's and XGBoost's estimators and boosters (a booster is rebuilt from its saved
# model text or bytes, which the library parses; nothing in it is called).
_LEARNERS = {
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.basic.Booster",
    "xgboost.sklearn.XGBClassifier",
    "xgboost.sklearn.XGBRegressor",
    "xgboost.core.Booster",
    "collections.OrderedDict",  # LightGBM keeps its params in one
    # scikit-learn's boosting with native categoricals keeps a check of its input as a
    # partial of this function. A partial could bind the arguments of any trusted
    # callable, so _partials_refused allows it around this function only.
    PARTIAL,
    CHECK_ARRAY,
}
_NUMPY = {
    "numpy.dtype",
    "numpy.random.mtrand.RandomState",
    "numpy.random._generator.Generator",
    "numpy.random.bit_generator.SeedSequence",
    "numpy.random._pcg64.PCG64",
    "numpy.random._mt19937.MT19937",
}


def _trusted(name: str) -> bool:
    if name in _OURS or name in _NUMPY or name in _LEARNERS:
        return True
    if not name.startswith(("sklearn.", "numpy.")) or "testing" in name:
        return False
    found = _resolve(name)
    # Defined where the name says: a module of scikit-learn may import a class from
    # elsewhere (sklearn.datasets._rcv1.GzipFile is gzip's), which is not scikit-learn's.
    if not (isinstance(found, type) and found.__module__ == name.rpartition(".")[0]):
        return False
    if name.startswith("numpy."):
        import numpy as np

        return issubclass(found, np.generic)
    return True  # a class of scikit-learn, never a function


def _resolve(name: str) -> Any:
    """What a dotted type name names, or None (importing only scikit-learn's or numpy's
    own modules: the names are checked to start with them)."""
    import importlib

    module, _, attribute = name.rpartition(".")
    # Their test modules are not theirs to trust: importing one runs pytest's machinery
    # (sklearn.conftest, a test's `pytest.importorskip`, which raises past Exception).
    if any(part in ("tests", "conftest") or part.startswith("test_") for part in name.split(".")):
        return None
    try:
        return getattr(importlib.import_module(module), attribute, None)
    except KeyboardInterrupt:
        raise
    except BaseException:
        return None


def canonical_skops(raw: bytes) -> bytes:
    """The skops file in its canonical form (see the module's docstring)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name, data in _canonical_members(raw).items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    return out.getvalue()


def content_md5(raw: bytes) -> str:
    """The md5 of what a skops file holds: its canonical members' names and bytes, not
    their compressed form, which depends on the zlib that deflated them (zlib-ng, on
    Fedora and Windows' Python, deflates otherwise than zlib)."""
    import hashlib

    digest = hashlib.md5()
    for name, data in _canonical_members(raw).items():
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _canonical_members(raw: bytes) -> dict[str, bytes]:
    """The file's members, renumbered and in name order."""
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
    return {name: members[name] for name in sorted(members)}


def dump_model(model: Any, path: str | Path) -> Path:
    import skops.io as sio

    from mlops_template.io.atomic import write_bytes

    return write_bytes(path, canonical_skops(sio.dumps(model)))


def trusted_types(data: bytes, where: str = "model file", fitted_here: bool = False) -> list[str]:
    """The non-default types a model file needs; refuse anything outside our libraries.

    This list, never one stored beside the model (an MLmodel's `skops_trusted_types`),
    decides what a model may hold: whoever can write to an artifact store could edit that.
    A model `fitted_here` (train's) holding a class of this package's not listed is a
    team's new class: the refusal says where to list it.
    """
    import skops.io as sio

    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as err:  # a truncated, empty or foreign file: not a skops zip
        raise PipelineError(f"{where} is damaged, not a skops model file ({reason(err)})") from None
    foreign = [t for t in needed if not _trusted(t)]
    if foreign:
        own = fitted_here and any(t.startswith(_PACKAGE) for t in foreign)
        raise PipelineError(
            f"{where} refused: it holds types outside scikit-learn's classes, numpy's types "
            f"and ours: {', '.join(foreign)}{other_scikit_learn(data, foreign)}"
            + (_OWN_CLASS_HINT if own else "")
        )
    if PARTIAL in needed and (wrapped := _partials_refused(data)):
        raise PipelineError(
            f"{where} refused: a functools.partial wraps {', '.join(wrapped)}; only "
            f"{CHECK_ARRAY} may be wrapped"
        )
    return needed


def _partials_refused(data: bytes) -> list[str]:
    """What the file's partials wrap, other than scikit-learn's check_array."""
    refused: list[str] = []
    for node in dicts(schema(data)):
        if node.get("__loader__") == "PartialNode" or (
            f"{node.get('__module__')}.{node.get('__class__')}" == PARTIAL
        ):
            func = (node.get("content") or {}).get("func") or {}
            name = f"{func.get('__module__')}.{func.get('__class__')}"
            if func.get("__loader__") != "FunctionNode" or name != CHECK_ARRAY:
                refused.append(name)
    return refused


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
        with warnings.catch_warnings():  # said once below, not once per estimator
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            model = sio.loads(data, trusted=trusted)
    except Exception as err:  # its types are ours: a failure here is a damaged member
        raise PipelineError(f"{where} is damaged and cannot be loaded ({reason(err)})") from None
    say_other_scikit_learn(data, where)
    return model


def reason(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
