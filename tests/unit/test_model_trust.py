"""Whoever can write to the artifact store must not decide what a loader trusts: every
path that loads a registered model (REST, Spark and pandas batch, monitor, the gate)
checks it against the project's own allow-list, whatever its MLmodel says, and refuses a
tampered or damaged model in one line."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import mlflow.pyfunc
import pandas as pd
import pytest
import skops.io as sio
import yaml
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import model_versions, registry
from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import content_md5, dump_model
from mlops_template.io.model_folder import DVC_LOCK, Recorded
from mlops_template.operate.batch import model_fetch
from mlops_template.operate.monitoring import monitor
from mlops_template.operate.serving import serve
from tests.helpers.mlflow_store import add_versions
from tests.helpers.models import log_small_model
from tests.helpers.template import example_params_text

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "mlops_template"


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """A local store in which `champion` is a model logged as train logs it (made once:
    each test restores its files, store_state)."""
    root = tmp_path_factory.mktemp("store")
    (root / "params.yaml").write_text(example_params_text())  # the commands' config
    cfg = Config.model_validate(yaml.safe_load(example_params_text()))
    with pytest.MonkeyPatch.context() as env:
        env.chdir(root)
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mlflow.set_tracking_uri(None)  # read from the environment again
        features = _log_a_model(cfg, root)
        mlflow.set_tracking_uri(None)
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    uri = client.get_model_version_download_uri(cfg.registry.model_name, "1")
    return root, cfg, Path(uri.removeprefix("file://")), features


def _log_a_model(cfg: Config, root: Path) -> pd.DataFrame:
    features = log_small_model(root)
    name = cfg.registry.model_name
    md5 = file_md5(root / "model.skops")  # as dvc.lock records it, and promote tags it
    uri = f"models:/{mlflow.last_logged_model().model_id}"
    version = mlflow.register_model(uri, name, tags={"lineage.model_md5": md5})
    MlflowClient().set_registered_model_alias(name, registry.CHAMPION, version.version)
    return features


@pytest.fixture
def store(logged, monkeypatch, tmp_path):
    """The logged store, in this test's environment; its model's files and md5 tag are put
    back after."""
    root, cfg, artifacts, features = logged
    monkeypatch.chdir(root)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
    mlflow.set_tracking_uri(None)
    shutil.copytree(artifacts, saved := tmp_path / "saved-artifacts")
    yield cfg, artifacts, features
    shutil.rmtree(artifacts)
    shutil.copytree(saved, artifacts)
    _tag_md5(cfg, file_md5(root / "model.skops"))
    mlflow.set_tracking_uri(None)


def _tag_md5(cfg: Config, md5: str | None) -> None:
    """v1's lineage.model_md5 tag set to `md5`, or removed (None)."""
    client, name = MlflowClient(), cfg.registry.model_name
    if md5 is None:
        client.delete_model_version_tag(name, "1", "lineage.model_md5")
    else:
        client.set_model_version_tag(name, "1", "lineage.model_md5", md5)


def _posix_system_model(artifacts: Path, *, list_it: bool) -> None:
    """The attack the sweep found: a model file that runs `os.system` on a cell, and its
    MLmodel edited to trust that."""
    data = sio.dumps(Pipeline([("run", FunctionTransformer(os.system))]))
    (artifacts / "model.skops").write_bytes(data)
    if list_it:
        _edit_mlmodel(artifacts, lambda sk, py: sk["skops_trusted_types"].append("posix.system"))


def _edit_mlmodel(artifacts: Path, edit) -> None:
    meta = yaml.safe_load((artifacts / "MLmodel").read_text())
    edit(meta["flavors"]["sklearn"], meta["flavors"]["python_function"])
    (artifacts / "MLmodel").write_text(yaml.safe_dump(meta))


def _paths(sk: dict, py: dict) -> list:
    return [(sk, "pickled_model"), (py, "model_path")]


def _serve(cfg: Config) -> None:
    serve._serve(cfg, registry.CHAMPION, "0.0.0.256", 1)  # refused before a server starts


def _fetch(cfg: Config) -> None:  # predict's second process, for pandas and Spark alike
    name = cfg.registry.model_name
    with model_fetch.fetching(name, None, "champion", "test", in_process=False) as result:
        result()


def _fetch_in_process(cfg: Config, tmp: Path) -> None:  # predict where MLflow is imported
    with model_fetch.fetching(cfg.registry.model_name, None, "champion", "test") as result:
        result()


def _monitor(cfg: Config) -> None:
    monitor.load_model_data(cfg, registry.connect(), None, registry.CHAMPION)


def _gate(cfg: Config) -> None:  # the champion in the gate (monitor's path too)
    ref = model_versions.ModelRef(cfg.registry.model_name, "1", "champion")
    model_versions.load_version(MlflowClient(), ref)


def _candidate(cfg: Config) -> None:  # promote's candidate, logged and not registered
    uri = f"models:/{cfg.registry.model_name}/1"
    md5 = _recorded(cfg).md5
    model_versions.load_logged(uri, "the candidate", Recorded(md5, "", DVC_LOCK))


def _recorded(cfg: Config) -> Recorded:
    """What the registry records of v1's model file (its lineage tags)."""
    tags = MlflowClient().get_model_version(cfg.registry.model_name, "1").tags
    return Recorded(tags["lineage.model_md5"], tags.get("lineage.model_content_md5", ""))


LOADERS = {
    "rest": lambda cfg, tmp: _serve(cfg),
    "batch and spark": _fetch_in_process,
    "monitor": lambda cfg, tmp: _monitor(cfg),
    "gate": lambda cfg, tmp: _gate(cfg),
    "candidate": lambda cfg, tmp: _candidate(cfg),
}


@pytest.mark.parametrize("path", LOADERS)
@pytest.mark.parametrize("list_it", [True, False], ids=["listed-in-MLmodel", "file-only"])
def test_a_tampered_model_is_refused_on_every_path(store, path, list_it, tmp_path):
    cfg, artifacts, _ = store
    _posix_system_model(artifacts, list_it=list_it)
    with pytest.raises(PipelineError, match=r"refused: .* outside scikit-learn.*: posix\.system$"):
        LOADERS[path](cfg, tmp_path)


@pytest.mark.parametrize("path", LOADERS)
def test_a_damaged_model_file_is_named(store, path, tmp_path):
    cfg, artifacts, _ = store
    file = artifacts / "model.skops"
    file.write_bytes(file.read_bytes()[:2000])
    damaged = re.escape(f"{cfg.registry.model_name} v1 (model.skops) is damaged")
    if path == "candidate":
        damaged = re.escape("the candidate (model.skops) is damaged")
    with pytest.raises(PipelineError, match=damaged):
        LOADERS[path](cfg, tmp_path)


def _negated(artifacts: Path) -> str:
    """The store's model file replaced by the same pipeline with its coefficients negated
    (our types only: it passes the allow-list); the new file's md5 as promote records it."""
    path = artifacts / "model.skops"
    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    model[-1].coef_ = -model[-1].coef_
    dump_model(model, path)
    return file_md5(path)


@pytest.mark.parametrize("path", LOADERS)
def test_a_model_file_other_than_the_recorded_one_is_refused_on_every_path(store, path, tmp_path):
    """The sweep's attack: another model of our own types in the store, every loader ran
    it (accuracy 0.91 -> 0.09). The registry's md5 (dvc.lock's for the candidate) says
    which file it must be."""
    cfg, artifacts, _ = store
    _negated(artifacts)
    where = "dvc.lock" if path == "candidate" else "the registry's tags"
    with pytest.raises(PipelineError, match=rf"refused: it is not the model recorded in {where} "):
        LOADERS[path](cfg, tmp_path)


def test_a_version_without_a_recorded_md5_is_refused(store):
    cfg, _, _ = store
    _tag_md5(cfg, None)
    hand = r"refused: no md5 of it is recorded .*promote` \(a version registered by hand: set "
    with pytest.raises(PipelineError, match=hand):
        _fetch_in_process(cfg, None)


def test_the_store_holds_the_model_file_itself_deflated(store):
    """MLflow's own skops dump stores its members uncompressed (a 306 MB forest took
    1.77 GB in the store): the store keeps the pipeline's file, byte for byte."""
    import zipfile

    _, artifacts, _ = store
    stored = artifacts / "model.skops"
    assert stored.read_bytes() == Path("model.skops").read_bytes()  # the store's root
    with zipfile.ZipFile(stored) as held:
        assert {m.compress_type for m in held.infolist()} == {zipfile.ZIP_DEFLATED}
    # The size the MLmodel records is of these files, not of MLflow's own dump.
    size = yaml.safe_load((artifacts / "MLmodel").read_text())["model_size_bytes"]
    assert stored.stat().st_size < size <= sum(f.stat().st_size for f in artifacts.rglob("*"))


def test_the_content_md5_decides_where_the_registry_records_it(store, tmp_path):
    """The md5 of a file's deflated bytes differs under another zlib (zlib-ng) whatever
    it holds: where the content's md5 is recorded, it alone decides."""
    cfg, artifacts, _ = store
    client, name = MlflowClient(), cfg.registry.model_name
    content = content_md5((artifacts / "model.skops").read_bytes())
    client.set_model_version_tag(name, "1", "lineage.model_content_md5", content)
    try:
        _tag_md5(cfg, "f" * 32)  # as if deflated by another zlib where it was recorded
        _fetch_in_process(cfg, tmp_path)
        _negated(artifacts)
        with pytest.raises(PipelineError, match=rf"tags \({content}; this one's is "):
            _fetch_in_process(cfg, tmp_path)
    finally:
        client.delete_model_version_tag(name, "1", "lineage.model_content_md5")


def test_a_tag_that_names_another_file_does_not_make_it_the_candidates_version(store):
    """promote reuses a version of the candidate's md5: one whose tag claims that md5 and
    whose files are another model (anyone who may register could make one) is not it."""
    cfg, artifacts, _ = store
    name, client = cfg.registry.model_name, MlflowClient()
    md5 = _recorded(cfg).md5
    shutil.copytree(artifacts, other := Path("other-files"), dirs_exist_ok=True)
    _negated(other)
    try:
        (forged,) = add_versions(client, name, 1, other, **{"lineage.model_md5": md5})
        assert registry.versions_tagged(client, name, md5) == [forged, "1"]
        assert model_versions.version_of(client, name, Recorded(md5)) == "1"
        assert model_versions.version_of(client, name, Recorded("0" * 32)) is None
    finally:
        shutil.rmtree(other)
        client.delete_model_version(name, forged)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda meta: meta["metadata"]["schema"].update(
                columns=meta["metadata"]["schema"]["columns"][:1]
            ),
            r"training schema names categorical columns \[\], its model file reads \['c'\]",
        ),
        (
            lambda meta: meta["metadata"]["schema"].update(task="regression"),
            "says a regression model, its model file holds the other kind",
        ),
        (
            lambda meta: meta["signature"].update(
                inputs=json.dumps(json.loads(meta["signature"]["inputs"])[:1])
            ),
            r"signature does not declare the model's features as trained \(columns \['c'\]",
        ),
        (
            lambda meta: meta["signature"].update(
                inputs=json.dumps(
                    [{**c, "required": False} for c in json.loads(meta["signature"]["inputs"])]
                )
            ),
            r"signature does not declare the model's features as trained \(columns \['c', 'x'\]",
        ),
        (
            lambda meta: meta["signature"].update(
                inputs=meta["signature"]["inputs"].replace('"double"', '"float"')
            ),
            r"signature does not declare the model's features as trained \(columns \['x'\]",
        ),
    ],
    ids=[
        "schema-without-a-column",
        "task",
        "signature-without-a-column",
        "all-optional",
        "float64-cast-to-float32",
    ],
)
@pytest.mark.parametrize("path", ["rest", "batch and spark", "gate"])
def test_an_mlmodel_that_says_otherwise_than_its_model_is_refused(store, edit, message, path):
    """What the MLmodel says of the model decides what the loaders read: a schema cut to
    fewer columns had predict blank them, a signature cut had MLflow's server drop them."""
    cfg, artifacts, _ = store
    meta = yaml.safe_load((artifacts / "MLmodel").read_text())
    edit(meta)
    (artifacts / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(PipelineError, match=rf" v1 refused: its MLmodel.*{message}"):
        LOADERS[path](cfg, None)


@pytest.mark.parametrize(
    "held", [{"a": 1}, Pipeline([("run", FunctionTransformer())])], ids=["a-dict", "unfitted"]
)
def test_a_recorded_file_that_is_no_trained_pipeline_is_refused(store, held):
    """Tags and files changed together (the registry's store and the artifact store): still
    no loader gets an object that would crash it, or run unfitted."""
    cfg, artifacts, _ = store
    dump_model(held, artifacts / "model.skops")
    _tag_md5(cfg, file_md5(artifacts / "model.skops"))
    with pytest.raises(PipelineError, match=r" v1 refused: its model file holds "):
        _fetch_in_process(cfg, None)


@pytest.mark.parametrize(
    "edit",
    [
        lambda sk, py: sk.update(serialization_format="cloudpickle"),
        lambda sk, py: py.update(loader_module="mlflow.pyfunc.model"),
        lambda sk, py: [d.update({k: "../../elsewhere.skops"}) for d, k in _paths(sk, py)],
    ],
    ids=["pickle", "another-loader", "a-file-elsewhere"],
)
def test_an_mlmodel_that_asks_for_another_loader_is_refused(store, edit, tmp_path):
    cfg, artifacts, _ = store
    _edit_mlmodel(artifacts, edit)
    with pytest.raises(PipelineError, match="does not describe a scikit-learn model in one skops"):
        _fetch_in_process(cfg, tmp_path)


@pytest.mark.parametrize("path", ["rest", "batch and spark", "monitor", "gate"])
@pytest.mark.parametrize(
    "metadata", [["schema"], {"model_md5": "md5"}], ids=["a-list", "no-schema"]
)
def test_a_model_without_its_training_schema_is_named(store, path, metadata, tmp_path):
    cfg, artifacts, _ = store
    meta = yaml.safe_load((artifacts / "MLmodel").read_text())
    meta["metadata"] = metadata
    (artifacts / "MLmodel").write_text(yaml.safe_dump(meta))
    with pytest.raises(PipelineError, match=r" v1 refused: its MLmodel carries no training sch"):
        LOADERS[path](cfg, tmp_path)


@pytest.mark.parametrize("kind", ["train", "test"])
def test_a_lineage_md5_that_is_no_md5_names_no_file(store, kind, tmp_path):
    """The registry's tags name the data monitor and the gate read: a path in one would
    have them read any file as the model's data."""
    cfg, _, _ = store
    elsewhere = tmp_path / "elsewhere.parquet"
    pd.DataFrame({"x": [1.0]}).to_parquet(elsewhere)
    client = MlflowClient()
    client.set_model_version_tag(
        cfg.registry.model_name, "1", f"lineage.{kind}_md5", "/".join([".."] * 30) + str(elsewhere)
    )
    try:
        loaded = monitor.load_model_data(cfg, client, None, "champion")
        with pytest.raises(PipelineError, match=r"which is not an md5 .*lineage tags were changed"):
            loaded.data(kind)
    finally:
        client.delete_model_version_tag(cfg.registry.model_name, "1", f"lineage.{kind}_md5")


def test_missing_files_are_named(store, tmp_path):
    cfg, artifacts, _ = store
    for file in artifacts.iterdir():
        file.unlink() if file.is_file() else None
    with pytest.raises(
        PipelineError, match=r"v1: its files are not in the artifact store \(no MLmodel\)"
    ):
        _monitor(cfg)


def test_the_command_says_one_line_and_exits_2(store, capfd):
    from mlops_template import cli

    cfg, artifacts, _ = store
    _posix_system_model(artifacts, list_it=True)
    assert cli.main(["serve", "--host", "0.0.0.256", "--port", "1"]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert err == [
        f"error: {cfg.registry.model_name} v1 (model.skops) refused: it holds types outside "
        "scikit-learn's classes, numpy's types and ours: posix.system"
    ]


def test_predict_refuses_what_its_second_process_downloaded(store):
    """The second process only downloads: `predict` checks the folder before reading it."""
    cfg, artifacts, _ = store
    _posix_system_model(artifacts, list_it=True)
    with pytest.raises(PipelineError, match=r"v1 \(model.skops\) refused: .*: posix.system$"):
        _fetch(cfg)


def test_a_checked_copy_trusts_our_list_and_our_code(store):
    """What MLflow's loaders (REST workers, Spark's UDF) read: the types we checked, our
    loader and predict function, and no other file from the store (no code, no data
    folder that MLflow would load with pickle)."""
    cfg, artifacts, features = store
    sub = artifacts / "sub"
    sub.mkdir()
    (sub / "MLmodel").write_text(yaml.safe_dump({"flavors": {"sklearn": {"pickled_model": "x"}}}))

    def edit(sk, py):
        sk["skops_trusted_types"].append("posix.system")
        py.update(data="sub", predict_fn="predict_proba", model_config={"a": 1})

    _edit_mlmodel(artifacts, edit)
    with model_versions.checked_copy(
        f"models:/{cfg.registry.model_name}/1", "test", "v1", _recorded(cfg)
    ) as (folder, model):
        assert sorted(p.name for p in Path(folder).iterdir()) == ["MLmodel", "model.skops"]
        meta = yaml.safe_load(Path(folder, "MLmodel").read_text())
        assert "posix.system" not in meta["flavors"]["sklearn"]["skops_trusted_types"]
        assert meta["flavors"]["python_function"] == {
            "loader_module": "mlflow.sklearn",
            "model_path": "model.skops",
            "python_version": platform.python_version(),  # MLflow warns without it
        }
        assert set(meta["metadata"]) == {"schema", "model_md5"}
        served = mlflow.pyfunc.load_model(folder).predict(features.head(3))
        expected = model.predict(features.head(3))  # the model the check loaded
        assert list(served) == list(expected)  # labels, not predict_proba's rows


def test_the_server_environment_loads_a_checked_copy(store):
    """A REST worker, started with serve's command and environment, loads the checked
    copy (MLflow refuses any sklearn model, skops too, under MLFLOW_ALLOW_PICKLE_...=false).
    Under another scikit-learn than the file's, it says nothing (serve said it once, before
    the workers start; MLflow's load warned once per estimator, in every worker)."""
    cfg, _, _ = store
    with model_versions.model_copy(
        f"models:/{cfg.registry.model_name}/1", "test", "v1", _recorded(cfg)
    ) as folder:
        command, env = serve.server_command(folder, cfg.serve, 1, "127.0.0.1", 0)
        assert command[-1] == serve.APP
        worker = (
            "import sklearn, sklearn.base; sklearn.__version__ = sklearn.base.__version__ = "
            "'9.0.0'; import mlops_template.operate.serving.scoring_app as a; "
            "print(type(a.app.model))"
        )
        done = subprocess.run(
            [sys.executable, "-c", worker],
            check=False,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip().endswith(".PyFuncModel'>")
        assert "InconsistentVersionWarning" not in done.stderr


def test_the_models_own_code_imports_where_the_project_is_not_installed(store):
    """The package MLflow ships in the model's code/ folder (model_logging.MODEL_IMPORTS)
    holds every module of ours its classes import, the package's __init__ included (`mlflow
    models serve` in a fresh environment imports it from there)."""
    from mlops_template.io.model_file import MODEL_CLASSES

    _, artifacts, _ = store
    code = artifacts / "code"
    modules = sorted({c.__module__ for c in MODEL_CLASSES})
    script = (
        f"import sys; sys.path.insert(0, {str(code)!r}); import importlib, mlops_template\n"
        f"for m in {modules!r}: print(importlib.import_module(m).__file__)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    files = done.stdout.split()
    assert len(files) == len(modules) and all(f.startswith(str(code)) for f in files), files


def test_no_loader_bypasses_the_check():
    """Every model load goes through io/model_file.py (our allow-list) or a checked copy
    (io/model_versions.py): no other module calls MLflow's or skops' loaders on a model."""
    loaders = re.compile(
        r"(sklearn|pyfunc)\.load_model\(|sio\.loads?\(|skops\.io\.loads?\(|spark_udf\("
        r"|load_model_with_mlflow_config"
    )
    # The REST app and Spark's UDF load the checked copy that serve and predict made.
    allowed = {
        "io/model_file.py",
        "operate/serving/scoring_app.py",
        "operate/batch/spark_predict.py",
    }
    found = {
        str(path.relative_to(SRC)) for path in SRC.rglob("*.py") if loaders.search(path.read_text())
    }
    assert found - allowed == set()
    assert "model_copy(" in (SRC / "operate/serving/serve.py").read_text()  # the app's copy
    assert "fetched.folder" in (SRC / "operate/batch/batch_scoring.py").read_text()  # Spark's


def test_where_mlflow_is_imported_the_fetch_starts_no_process_and_finds_the_same(store):
    """predict's fetch runs in a second process only where it overlaps MLflow's import."""
    import psutil

    cfg, _, _ = store
    name = cfg.registry.model_name

    def running_commands() -> list[str]:
        """This process's live descendants' command lines: a zombie has none (a bash that
        an in-process Spark session's JVM, another test's, has not reaped yet)."""
        found = []
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.ZombieProcess, psutil.NoSuchProcess):
                found.append(" ".join(child.cmdline()))
        return found

    with model_fetch.fetching(name, None, "champion", "test") as result:
        children = running_commands()
        here = result()
    assert not [c for c in children if "model_fetch" in c]
    with model_fetch.fetching(name, None, "champion", "test", in_process=False) as result:
        there = result()
    assert (here.ref, here.schema) == (there.ref, there.schema)
    assert here.ref.alias == "champion"
    assert type(here.model) is type(there.model)


def test_a_signature_mlflow_cannot_read_is_refused_before_any_loader(store):
    cfg, artifacts, _ = store
    meta = yaml.safe_load((artifacts / "MLmodel").read_text())
    meta["signature"]["inputs"] = "[{not json"
    (artifacts / "MLmodel").write_text(yaml.safe_dump(meta))
    uri = f"models:/{cfg.registry.model_name}/1"
    damaged = r" v1: its MLmodel is damaged \(JSONDecodeError"
    with (
        pytest.raises(PipelineError, match=damaged),
        model_versions.model_copy(uri, "t", " v1", _recorded(cfg)),
    ):
        pass


def test_spark_refuses_a_signature_mlflow_cannot_read_before_it_starts(store, tmp_path, capfd):
    from mlops_template import cli

    _, artifacts, features = store
    meta = yaml.safe_load((artifacts / "MLmodel").read_text())
    meta["signature"]["inputs"] = "[{not json"
    (artifacts / "MLmodel").write_text(yaml.safe_dump(meta))
    features.to_csv(batch := tmp_path / "batch.csv", index=False)
    table = tmp_path / "table"
    assert cli.main(["predict", str(batch), "--engine", "spark", "--table", str(table)]) == 2
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and re.match(
        r"error: .* v1: its MLmodel is damaged \(JSONDecodeError", err[0]
    )
    assert not table.exists()


def test_only_the_fetch_and_reproduce_download_without_the_check():
    """download_unchecked hands back the files as stored: predict's fetch, whose reader
    checks them (model_fetch._read), and reproduce, which reads its requirements as text."""
    unchecked = {
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "download_unchecked(" in path.read_text() and path.name != "model_versions.py"
    }
    assert unchecked == {"operate/batch/model_fetch.py", "release/reproduce.py"}
    fetch = (SRC / "operate/batch/model_fetch.py").read_text()
    assert fetch.count("FetchedModel(") == 1 and "check_model_folder(" in fetch


def test_the_fetch_process_imports_neither_scikit_learn_nor_skops():
    """What it imports overlaps predict's own imports: scikit-learn there would double
    them (benchmarks/batch_scoring.py's fixed cost: ~4 s -> 7-8 s)."""
    script = (
        "import sys, mlops_template.operate.batch.model_fetch as f\n"
        "from mlops_template.io import model_versions, registry, store\n"
        "print(sorted(m for m in ('sklearn', 'skops') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_reproduce_reads_the_logged_environment(store):
    from mlops_template.release import reproduce

    cfg, artifacts, _ = store
    (artifacts / "requirements.txt").write_text("pandas==0.0.1\nnot-a-pin\n")
    (artifacts / "python_env.yaml").write_text("python: 3.0.1\n")
    ref = model_versions.ModelRef(cfg.registry.model_name, "1", "champion")
    differs = reproduce._environment(ref)
    assert differs[0] == f"pandas 0.0.1 -> {pd.__version__}"
    assert differs[1].startswith("Python 3.0.1 -> 3.") and len(differs) == 2


@pytest.mark.parametrize(
    "text", [b"- a list\n", b"python: [unclosed\n", b"\xff\xfe"], ids=["list", "bad-yaml", "binary"]
)
def test_reproduce_compares_no_environment_a_damaged_file_cannot_say(store, text):
    """The version's python_env.yaml is the store's text, read unchecked: damaged, it
    crashed reproduce after its rebuild's minutes, with no report."""
    from mlops_template.release import reproduce

    cfg, artifacts, _ = store
    (artifacts / "python_env.yaml").write_bytes(text)
    (artifacts / "requirements.txt").write_bytes(b"\xff" + text)
    ref = model_versions.ModelRef(cfg.registry.model_name, "1", "")
    assert reproduce._environment(ref) == []


def test_reproduce_compares_the_artifact_stores_copy_by_its_scores(store, tmp_path):
    """The tags record the model file's md5; serve and predict load the store's copy.
    A copy changed there (its coefficients negated, still our types) is refused, and
    reproduce says the artifact differs."""
    from mlops_template.core.reproduction import Compared, Reproduction
    from mlops_template.release import reproduce

    cfg, artifacts, features = store
    ref = model_versions.ModelRef(cfg.registry.model_name, "1", "champion")
    features.to_parquet(test := tmp_path / "test.parquet")
    rebuilt = Path("model.skops")  # the file the version was logged from (store's root)
    same = reproduce._served_scores(reproduce._served(MlflowClient(), ref), rebuilt, test)
    assert same.same and len(same.registered) == 32
    model = sio.load(
        artifacts / "model.skops", trusted=sio.get_untrusted_types(file=artifacts / "model.skops")
    )
    model[-1].coef_ = -model[-1].coef_
    dump_model(model, artifacts / "model.skops")
    refused = reproduce._served(MlflowClient(), ref)  # as serve and predict refuse it
    assert "refused: it is not the model recorded in the registry's tags" in refused
    changed = reproduce._served_scores(refused, rebuilt, test)
    assert not changed.same
    model_file = Compared("model file", "0" * 32, "0" * 32)  # the rebuild is the tagged file
    found = Reproduction(model=ref.label, commit="0" * 40, outputs=[model_file, changed])
    assert list(found.differs()) == ["artifact"] and not found.identical
    rebuilt_otherwise = Compared("model file", "0" * 32, "1" * 32)  # expected to score otherwise
    found = Reproduction(model=ref.label, commit="0" * 40, outputs=[rebuilt_otherwise, changed])
    assert "artifact" not in found.differs()
    for file in artifacts.iterdir():  # gone from the store: not the recorded model either
        file.unlink() if file.is_file() else shutil.rmtree(file)
    gone = reproduce._served(MlflowClient(), ref)
    assert "not in the artifact store" in gone
    assert not reproduce._served_scores(gone, rebuilt, test).same
