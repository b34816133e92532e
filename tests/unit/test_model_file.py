from __future__ import annotations

import warnings

import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops_template.errors import PipelineError
from mlops_template.io.model_file import canonical_skops, dump_model, load_model, trusted_types

X = np.arange(40, dtype=float).reshape(20, 2) % 7
Y = np.array([0, 1] * 10)


def fitted() -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, Y)


class Foreign:
    """A type from outside scikit-learn and numpy."""

    def __init__(self):
        self.value = 1


def test_equal_models_give_equal_bytes():
    first, second = sio.dumps(fitted()), sio.dumps(fitted())
    assert first != second  # skops names members after object ids
    assert canonical_skops(first) == canonical_skops(second)


def test_different_models_give_different_bytes():
    other = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.01))])
    assert canonical_skops(sio.dumps(fitted())) != canonical_skops(sio.dumps(other.fit(X, Y)))


def test_canonical_file_still_loads():
    data = canonical_skops(sio.dumps(fitted()))
    loaded = sio.loads(data, trusted=trusted_types(data))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted().predict_proba(X))


def test_dump_and_load_round_trip(tmp_path):
    path = dump_model(fitted(), tmp_path / "models" / "model.skops")
    assert path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["model.skops"]
    np.testing.assert_array_equal(load_model(path).predict_proba(X), fitted().predict_proba(X))


def test_dump_twice_same_bytes(tmp_path):
    a = dump_model(fitted(), tmp_path / "a.skops").read_bytes()
    b = dump_model(fitted(), tmp_path / "b.skops").read_bytes()
    assert a == b


def test_load_missing_file(tmp_path):
    with pytest.raises(PipelineError, match="model file not found"):
        load_model(tmp_path / "model.skops")


def test_foreign_type_is_refused(tmp_path):
    data = sio.dumps({"model": fitted(), "extra": Foreign()})
    refused = r"model file refused: it holds types outside scikit-learn's classes, .*Foreign$"
    with pytest.raises(PipelineError, match=refused):
        trusted_types(data)
    path = tmp_path / "model.skops"
    path.write_bytes(canonical_skops(data))
    with pytest.raises(PipelineError, match="Foreign"):
        load_model(path)


def test_a_class_of_the_projects_own_is_refused_until_listed_and_train_says_where():
    class LogLogistic:  # a team's class, in the package, not in MODEL_CLASSES
        pass

    LogLogistic.__module__ = "mlops_template.core.team_models"
    data = sio.dumps({"model": fitted(), "own": LogLogistic()})
    hint = r"team_models.LogLogistic \(a class of this project's own: list it in MODEL_CLASSES"
    with pytest.raises(PipelineError, match=hint):
        trusted_types(data, fitted_here=True)
    with pytest.raises(PipelineError, match=r"team_models.LogLogistic$"):  # a stored model's
        trusted_types(data)


def test_a_file_of_another_scikit_learn_says_so(monkeypatch):
    """An upgrade trial: a gradient-boosting model written by scikit-learn 1.8 names its
    loss `_loss.CyHalfBinomialLoss` (1.9: `sklearn._loss._loss`), and its refusal read like
    tampering. The version the file records, and this one's, are now said; only where
    every refused type is named as scikit-learn's (the stamp is the file's own word)."""
    import sklearn

    class CyHalfBinomialLoss:  # named as scikit-learn 1.8 names its losses
        pass

    CyHalfBinomialLoss.__module__ = "_loss"
    Loss = CyHalfBinomialLoss
    written_by = sklearn.__version__
    renamed = canonical_skops(sio.dumps({"model": fitted(), "loss": Loss()}))
    foreign = canonical_skops(sio.dumps({"model": fitted(), "loss": Loss(), "x": Foreign()}))
    with pytest.raises(PipelineError, match=r"_loss.CyHalfBinomialLoss$"):  # the same version
        trusted_types(renamed)
    monkeypatch.setattr(sklearn, "__version__", "9.0.0")
    with pytest.raises(PipelineError) as refused:
        trusted_types(renamed)
    said = str(refused.value)
    assert f"written by scikit-learn {written_by}, and this environment has 9.0.0" in said
    with pytest.raises(PipelineError, match=r"Foreign$"):  # not scikit-learn's: no excuse
        trusted_types(foreign)


def test_a_model_another_scikit_learn_wrote_is_said_once(tmp_path, monkeypatch, capfd):
    """scikit-learn's InconsistentVersionWarning came once per estimator at every load (18
    lines at `make serve` in the upgrade trial): one line of ours now."""
    import sklearn

    path = dump_model(fitted(), tmp_path / "model.skops")
    load_model(path)
    assert "scikit-learn" not in capfd.readouterr().err  # the same version: nothing said
    monkeypatch.setattr(sklearn, "__version__", "9.0.0")
    monkeypatch.setattr(sklearn.base, "__version__", "9.0.0")  # what its estimators compare
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # none of scikit-learn's escapes
        np.testing.assert_array_equal(load_model(path).predict_proba(X), fitted().predict_proba(X))
    (line,) = capfd.readouterr().err.splitlines()
    assert line.startswith(f"note: {path} was written by scikit-learn ")


@pytest.mark.parametrize("damage", [lambda b: b[:2000], lambda b: b"not a zip", lambda b: b""])
def test_a_damaged_file_is_named(tmp_path, damage):
    path = dump_model(fitted(), tmp_path / "model.skops")
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(PipelineError, match=f"^{path} is damaged"):
        load_model(path)


@pytest.mark.parametrize(
    "call",
    [
        ("numpy.testing._private.utils", "runstring"),  # runs its text
        ("numpy", "load"),
        ("sklearn.utils", "resample"),
        ("posix", "system"),
        ("sklearn.datasets._rcv1", "GzipFile"),  # gzip's class, imported by scikit-learn
        # Importing a test module runs pytest: this one's importorskip raised past Exception.
        ("sklearn.tests.test_docstrings", "Foo"),
        ("sklearn.conftest", "Foo"),
    ],
)
def test_a_function_that_loading_would_call_is_refused(tmp_path, call):
    """skops calls a type it reduces: a trusted name prefix would let a file run code."""
    import io
    import json
    import zipfile

    module, name = call

    def node(cls: str, mod: str, loader: str, **fields) -> dict:
        return {"__class__": cls, "__module__": mod, "__loader__": loader, **fields}

    empty_dict = node("dict", "builtins", "DictNode", content={}, key_types=[])
    empty_dict["key_types"] = node("list", "builtins", "ListNode", content=[])
    root = node(name, module, "ConstructorFromReduceNode", content=empty_dict)
    root["__reduce__"] = {"args": node("tuple", "builtins", "TupleNode", content=[])}
    root |= {"protocol": 2, "_skops_version": "0.16.0"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("schema.json", json.dumps(root))
    data = buffer.getvalue()
    assert sio.get_untrusted_types(data=data) == [f"{module}.{name}"]
    with pytest.raises(PipelineError, match=rf"refused: .*: {module}\.{name}$"):
        trusted_types(data)


def test_a_partial_may_wrap_scikit_learns_input_check_only():
    """A partial binds arguments: around any trusted class it would call it with them."""
    from functools import partial

    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    from sklearn.utils.validation import check_array

    checked = FunctionTransformer(func=partial(check_array, dtype="float64"))
    assert "functools.partial" in trusted_types(sio.dumps(checked))
    bound = FunctionTransformer(func=partial(StandardScaler, copy=False))
    with pytest.raises(PipelineError, match=r"a functools.partial wraps .*StandardScaler; only"):
        trusted_types(sio.dumps(bound))


def test_trusted_types_are_ours():
    assert all(t.startswith(("sklearn.", "numpy.")) for t in trusted_types(sio.dumps(fitted())))
