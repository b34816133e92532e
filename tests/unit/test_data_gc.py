"""`dvc-gc` keeps every registered version's files (release/data_gc.py), and a file the
cache lost comes back from the remote (io/dvc_cache.py): with the real git and DVC in a
temporary repository, and a temporary MLflow store."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io.dvc_cache import cached_file
from mlops_template.release.data_gc import KEEP_FILE, dvc_gc
from tests.helpers.mlflow_store import add_versions, empty_store, use_store
from tests.helpers.template import example_params_text

pytestmark = pytest.mark.slow  # a dozen real `dvc` commands


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    return empty_store(tmp_path_factory)


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def tracked(name: str, text: str) -> str:
    """A file added to DVC (its cache); its md5."""
    Path(name).write_text(text)
    run("dvc", "add", "--quiet", name)
    return yaml.safe_load(Path(f"{name}.dvc").read_text())["outs"][0]["md5"]


def in_cache(md5: str) -> bool:
    return Path(".dvc/cache/files/md5", md5[:2], md5[2:]).is_file()


@pytest.fixture
def project(tmp_path, empty, monkeypatch):
    client = use_store(tmp_path, empty, monkeypatch)
    run("git", "init", "-q")
    run("git", "config", "user.email", "t@localhost")
    run("git", "config", "user.name", "t")
    run("dvc", "init", "-q")
    return client, Config.model_validate(yaml.safe_load(example_params_text()))


def test_registered_files_outlive_gc_and_the_rest_goes(project, capfd):
    client, cfg = project
    committed = tracked("committed.csv", "a,b\n1,2\n")
    run("git", "add", "-A")
    run("git", "commit", "-qm", "data")
    registered = tracked("registered.csv", "a,b\n3,4\n")  # a run never committed
    stray = tracked("stray.csv", "a,b\n5,6\n")
    for name in ("registered.csv", "stray.csv"):  # the workspace moved on
        Path(name).unlink()
        Path(f"{name}.dvc").unlink()
    add_versions(client, cfg.registry.model_name, 1, **{"lineage.train_md5": registered})
    # A tag that is no md5, naming a file of the workspace as a path: no file of the cache.
    tampered = "/".join([".."] * 30) + str(Path("committed.csv").resolve())
    add_versions(client, cfg.registry.model_name, 1, **{"lineage.test_md5": tampered})

    assert dvc_gc(cfg, dry_run=True) == 0  # lists what would go: the stray file only
    said = "".join(capfd.readouterr())
    assert stray[2:] in said and registered[2:] not in said and committed[2:] not in said
    assert "would keep the 1 cached files" in said and in_cache(stray)
    assert "--dry-run: nothing was removed" in said  # DVC's own lines say "Removed"
    assert dvc_gc(cfg) == 0
    assert "nothing was removed" not in "".join(capfd.readouterr())
    assert in_cache(committed) and in_cache(registered) and not in_cache(stray)
    assert not Path(KEEP_FILE).exists()


def test_a_file_the_cache_lost_comes_back_from_the_remote(project, tmp_path):
    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    run("dvc", "remote", "add", "-d", "store", str(remote))
    md5 = tracked("train.csv", "a,b\n7,8\n")
    run("dvc", "push", "--quiet")
    Path("train.csv.dvc").unlink()  # nothing refers to it now
    run("dvc", "gc", "--workspace", "--force", "--quiet")
    assert not in_cache(md5)
    path = cached_file(md5, "training data")
    assert path.read_text() == "a,b\n7,8\n" and in_cache(md5)
    Path("train.csv").unlink()
    run("dvc", "remote", "remove", "store")
    run("dvc", "gc", "--workspace", "--force", "--quiet")
    with pytest.raises(Exception, match=r"neither in the DVC cache .* nor on the remote \(none"):
        cached_file(md5, "training data")


def test_a_file_changed_in_the_cache_or_on_the_remote_is_refused(project, tmp_path):
    """Monitor and the gate read a version's data by its md5: a drifted batch copied over
    the cache's file was read as the training data ("no drift")."""
    remote = tmp_path.parent / f"{tmp_path.name}-remote"
    run("dvc", "remote", "add", "-d", "store", str(remote))
    md5 = tracked("train.csv", "a,b\n7,8\n")
    run("dvc", "push", "--quiet")
    cached = Path(cached_file(md5, "training data"))
    cached.chmod(0o644)
    cached.write_text("a,b\n0,0\n")
    with pytest.raises(PipelineError, match=rf"in the DVC cache .* is not the file of md5 {md5}"):
        cached_file(md5, "training data")
    cached.unlink()  # as the message says: fetched again from the remote
    assert cached_file(md5, "training data").read_text() == "a,b\n7,8\n"
    (on_remote := remote / "files" / "md5" / md5[:2] / md5[2:]).chmod(0o644)
    on_remote.write_text("a,b\n0,0\n")
    cached.chmod(0o644)
    cached.unlink()
    with pytest.raises(PipelineError, match=rf"the remote .* holds another file under md5 {md5}"):
        cached_file(md5, "training data")
    assert not cached.exists() and not list(cached.parent.glob("*.fetching"))


def test_a_store_without_the_model_removes_nothing(project):
    """The wrong store (a typo in MLFLOW_TRACKING_URI's SQLite path, which MLflow creates
    empty) would keep no registered version's files: refused before `dvc gc` runs."""
    _, cfg = project
    stray = tracked("stray.csv", "a,b\n5,6\n")
    Path("stray.csv.dvc").unlink()
    with pytest.raises(PipelineError, match=r"no registered model 'mlops-template' in the"):
        dvc_gc(cfg)
    assert in_cache(stray)
