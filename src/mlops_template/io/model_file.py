"""The model file: skops (no pickle), written in a canonical, byte-stable form.

skops names zip members after Python object ids and stamps them with the current time,
so two dumps of the same model differ. Renumbering ids in first-seen order and fixing
timestamps makes equal models equal bytes, which DVC's cache and `dvc.lock` rely on.
"""

from __future__ import annotations

import io
import json
import re
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


def trusted_types(data: bytes) -> list[str]:
    """The non-default types a model file needs; refuse anything outside our libraries."""
    import skops.io as sio

    needed = sio.get_untrusted_types(data=data)
    foreign = [t for t in needed if not t.startswith(_TRUSTED_PREFIXES)]
    if foreign:
        raise PipelineError(
            f"model file holds types outside scikit-learn, numpy and ours: {foreign}"
        )
    return needed


def load_model(path: str | Path) -> Any:
    import skops.io as sio

    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: model file not found (run the train stage first)")
    data = path.read_bytes()
    return sio.loads(data, trusted=trusted_types(data))
