"""A skops file's schema, read without loading the model: the walk the trust check's
partials use (io/model_file.py), and the scikit-learn version its estimators record,
with what to say when another version wrote it (an upgrade trial: a refusal read like
tampering, and a load warned once per estimator)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import zipfile
from collections.abc import Iterator
from typing import Any


def schema(data: bytes) -> Any:
    """A skops file's schema.json, parsed."""
    return json.loads(zipfile.ZipFile(io.BytesIO(data)).read("schema.json"))


def dicts(node: Any) -> Iterator[dict]:
    """Every mapping in a parsed schema, each before those inside it."""
    if isinstance(node, dict):
        yield node
        children: Any = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return
    for child in children:
        yield from dicts(child)


# Where another scikit-learn's classes may be named: 1.8's `_loss` is 1.9's sklearn._loss.
SKLEARN_MODULES = ("sklearn.", "_loss.")


def other_scikit_learn(data: bytes, foreign: list[str]) -> str:
    """Why such types may be there without anyone's doing: the file was written by another
    scikit-learn, whose classes live in other modules. Said, with the way out, only when
    every refused type is named as scikit-learn's (the version stamp is the file's own
    word: another type is refused without it) and its estimators record another one."""
    import sklearn

    if not all(name.startswith(SKLEARN_MODULES) for name in foreign):
        return ""
    if (written := written_by_another(data)) is None:
        return ""
    return (
        f"; it was written by scikit-learn {written}, and this environment has "
        f"{sklearn.__version__}: load it where {written} is installed (the version's "
        "requirements.txt), or train and promote a model of this one (`rollback --to` a "
        "version this environment loads meanwhile)"
    )


def written_by_another(data: bytes) -> str | None:
    """The scikit-learn version a skops file's estimators record, if not this one's."""
    import sklearn

    written = _sklearn_version(schema(data))
    return None if written in (None, sklearn.__version__) else written


def _sklearn_version(parsed: Any) -> str | None:
    """The first `_sklearn_version` an estimator in a skops schema records."""
    for node in dicts(parsed):
        stamp = node.get("_sklearn_version")
        if isinstance(stamp, dict) and isinstance(stamp.get("content"), str):
            with contextlib.suppress(ValueError):
                return str(json.loads(stamp["content"]))
    return None


def say_other_scikit_learn(data: bytes, where: str) -> None:
    """scikit-learn warns once per estimator of a file another version wrote (six lines
    for a pipeline, at every load): one line instead."""
    import sklearn

    if (written := written_by_another(data)) is not None:
        print(
            f"note: {where} was written by scikit-learn {written} and is loaded by "
            f"{sklearn.__version__}: its predictions may differ (InconsistentVersionWarning)",
            file=sys.stderr,
        )
