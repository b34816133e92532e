"""What `reproduce` rebuilds a version from and compares it with, in process: the commit
(a git repository of hand-made dvc.lock files), the directories DVC finds changed (a
real DVC project) and the metrics the version was registered with (a temporary store).
The rebuild itself is tests/e2e/test_reproduce.py's."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import mlflow
import pytest
import yaml

from mlops_template.release.reproduce import _registered_metrics
from mlops_template.release.version_commit import stale_inputs_of, version_commit
from tests.helpers.mlflow_store import empty_store, use_store

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@localhost"]


def _commit(folder: Path, message: str) -> str:
    subprocess.run(["git", "add", "-A"], cwd=folder, check=True)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", message], cwd=folder, check=True)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, check=True
    )
    return head.stdout.strip()


def test_the_model_file_is_found_wherever_the_commit_kept_it(tmp_path, monkeypatch):
    """The commit's own output paths, not the workspace's `paths.model` (an uncommitted
    edit of it made reproduce say the version was built from uncommitted changes)."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    outs = [{"path": "models/alt.skops", "md5": "a" * 32}]
    Path("dvc.lock").write_text(yaml.safe_dump({"stages": {"train": {"outs": outs}}}))
    head = _commit(tmp_path, "trained")
    lineage = {"model_md5": "a" * 32, "promoted_from_commit": head}
    assert version_commit("v1", lineage) == (head, [])
    commit, notes = version_commit("v2", {**lineage, "model_md5": "b" * 32})
    assert commit == head and notes[0].startswith(f"no commit's dvc.lock records model {'b' * 32}")


def test_a_config_folder_changed_after_the_lock_is_named(tmp_path):
    """conf/ (and data/incoming/) are recorded as DVC's digests of folders: a conf/ edited
    by hand after the lock was written was put down to "hardware, threads?"."""
    subprocess.run(["dvc", "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "model.yaml").write_text("alpha: 0.5\n")
    stage = {"cmd": "echo trained", "deps": ["conf"], "params": [{"params.yaml": ["alpha"]}]}
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"train": stage}}))
    (tmp_path / "params.yaml").write_text("alpha: 0.5\n")
    subprocess.run(["dvc", "repro", "-q"], cwd=tmp_path, check=True)
    assert stale_inputs_of(tmp_path) == {}
    (tmp_path / "conf" / "model.yaml").write_text("alpha: 0.9\n")
    (tmp_path / "params.yaml").write_text("alpha: 0.9\n")
    assert stale_inputs_of(tmp_path) == {"params": ["alpha: 0.5 -> 0.9", "conf"]}


def test_a_file_the_fetch_checked_is_not_read_again(tmp_path):
    """The fetch hashes each tracked file to check the cache's copy: its md5 is taken, not
    a second full read of the data (the file here is gone, so a read would find it so)."""
    deps = [{"path": "data/raw/rows.csv", "md5": "a" * 32}]
    lock = {"stages": {"prepare": {"cmd": "prepare", "deps": deps}}}
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump(lock))
    (tmp_path / "params.yaml").write_text("{}\n")
    assert stale_inputs_of(tmp_path, {"data/raw/rows.csv": "a" * 32}) == {}
    assert list(stale_inputs_of(tmp_path).values()) == [["data/raw/rows.csv"]]


@pytest.fixture
def store(tmp_path_factory, tmp_path, monkeypatch):
    return use_store(tmp_path, empty_store(tmp_path_factory), monkeypatch)


def _evaluated(client, md5: str, **metrics: float) -> str:
    with mlflow.start_run(experiment_id=client.create_experiment(f"e{time.time_ns()}")) as run:
        mlflow.set_tags({"pipeline.stage": "evaluate", "model_md5": md5})
        mlflow.log_metrics(metrics)
    return run.info.run_id


def test_the_metrics_compared_are_those_the_version_was_registered_with(store):
    """A later `evaluate` of the same model file (the code added a metric since) is not
    what was registered: the rebuild from the version's commit was said to differ."""
    md5 = "c" * 32
    first = _evaluated(store, md5, accuracy=0.9)
    time.sleep(0.01)
    registered_at = int(time.time() * 1000)
    time.sleep(0.01)
    _evaluated(store, md5, accuracy=0.9, mcc=0.5)
    recorded = {"model_md5": md5, "evaluate_run_id": first}
    assert _registered_metrics(store, recorded, registered_at) == {"accuracy": 0.9}
    # Registered before promote recorded the run: the newest one before the registration.
    assert _registered_metrics(store, {"model_md5": md5}, registered_at) == {"accuracy": 0.9}
    assert _registered_metrics(store, {"model_md5": md5}, 0) is None
    gone = {**recorded, "evaluate_run_id": "0" * 32}  # removed for good by `mlflow gc`
    assert _registered_metrics(store, gone, registered_at) is None


def test_a_damaged_cache_copy_of_the_data_is_named(tmp_path):
    """An auditor overwrote a data file in the DVC cache: the rebuild said the data was
    "recorded otherwise than the commit holds", not that the cache's copy is damaged."""
    from mlops_template.errors import PipelineError
    from mlops_template.io.commit_worktree import fetch_tracked_data

    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["dvc", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "rows.csv").write_text("x,y\n1,0\n")
    subprocess.run(["dvc", "add", "-q", "rows.csv"], cwd=tmp_path, check=True)
    _commit(tmp_path, "data")
    (tmp_path / "rows.csv").unlink()  # as a fresh worktree of the commit has it
    md5 = yaml.safe_load((tmp_path / "rows.csv.dvc").read_text())["outs"][0]["md5"]
    # The cache's copy is good: checked out, with the md5 it was checked against.
    assert fetch_tracked_data(tmp_path, "v1") == {"rows.csv": md5}
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    (tmp_path / "rows.csv").unlink()
    cached.chmod(0o644)
    cached.write_text("x,y\n1,1\n")
    with pytest.raises(PipelineError, match=r"v1: the DVC cache's copy of its data rows.csv "):
        fetch_tracked_data(tmp_path, "v1")


def test_data_with_the_same_rows_in_another_file_is_said_so(tmp_path, monkeypatch):
    """An upgrade trial: pyarrow 24 rebuilt the train and test files with equal rows, and
    reproduce said "differs in data" with nothing on why (pandas and pyarrow write their
    versions into every Parquet file)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_template.io.lineage import file_md5
    from mlops_template.release.version_commit import same_rows_note

    monkeypatch.chdir(tmp_path)
    subprocess.run(["dvc", "init", "--no-scm", "-q"], check=True)
    rows = pd.DataFrame({"x": [1.0, 2.0], "y": ["a", "b"]})
    rows.to_parquet("registered.parquet", index=False)  # pandas writes its version in it
    md5 = file_md5(Path("registered.parquet"))
    cached = tmp_path / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    cached.parent.mkdir(parents=True)
    Path("registered.parquet").rename(cached)
    pq.write_table(
        pa.Table.from_pandas(rows, preserve_index=False).replace_schema_metadata(), "a.parquet"
    )
    said = same_rows_note("train data", md5, tmp_path / "a.parquet")
    assert said is not None and said.startswith("train data: the same rows as registered")
    assert ", pandas " in said.split("->")[0] and ", pandas " not in said.split("->")[1]
    rows.assign(x=[1.0, 3.0]).to_parquet("b.parquet", index=False)
    assert same_rows_note("train data", md5, tmp_path / "b.parquet") is None
    assert same_rows_note("train data", "0" * 32, tmp_path / "a.parquet") is None  # not cached
