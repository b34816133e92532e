"""The continuous-training loop on a real registry, DVC project and predictions table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from importlib.metadata import version

import mlflow
import numpy as np
import pandas as pd
import psutil
import pytest
import yaml
from deltalake import DeltaTable
from sklearn.datasets import load_wine

from mlops_template.io.lineage import file_md5
from tests.e2e.test_monitor import simulated
from tests.e2e.test_predict import TABLE, table_version
from tests.helpers.template import STAGES, Template

pytestmark = pytest.mark.slow

CT = "reports/ct/ct.json"
ROWS = 120  # a labelled batch: at most the 132 held-out rows simulate draws from
ALERT = "reports/ct/alert.json"


def labelled(copy: Template, path, *args: str):
    return simulated(copy, path, "--rows", str(ROWS), "--labels", *args)


def registry_state(copy: Template) -> tuple[list[str], str]:
    client = mlflow.tracking.MlflowClient(copy.env["MLFLOW_TRACKING_URI"])
    found = client.search_model_versions("name='mlops-template'")
    champion = client.get_model_version_by_alias("mlops-template", "champion").version
    return sorted(str(v.version) for v in found), str(champion)


def stage_running_under(pid: int) -> bool:
    """Whether a pipeline stage (`python -m mlops_template <stage>`) runs below pid."""
    for child in psutil.Process(pid).children(recursive=True):
        try:
            argv = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if "mlops_template" in argv and set(argv) & set(STAGES):
            return True
    return False


def incoming(copy: Template) -> list[str]:
    """The files ct added under data/incoming (in each data source's own folder)."""
    root = copy.path("data/incoming")
    files = [p for p in root.rglob("*") if p.is_file() and p.name != "README.md"]
    return sorted(str(p.relative_to(root)) for p in files)


def test_batch_in_range_is_scored_and_not_retrained(copy, tmp_path):
    lock = copy.path("dvc.lock").read_bytes()
    calm = labelled(copy, tmp_path / "calm.parquet")
    done = copy.make("ct", f"BATCH={calm}")  # as the CT workflow runs it
    assert "no retraining (in range)" in done.stderr
    record = json.loads(copy.path(CT).read_text())
    assert record["tries"] == [] and record["drift"] == "no drift"
    assert not copy.path(ALERT).exists()
    assert copy.path("dvc.lock").read_bytes() == lock and incoming(copy) == []
    assert registry_state(copy) == (["1"], "1")
    rows = DeltaTable(str(copy.path(TABLE))).to_pandas()
    assert len(rows) == ROWS and set(rows["model_version"]) == {"1"}

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    refused = copy.main("ct", str(wrong), check=False)
    assert refused.returncode == 2 and "missing columns" in refused.stderr
    assert table_version(copy) == 0


def test_drifted_labelled_batch_retrains_and_promotes(copy, tmp_path):
    drifted = labelled(copy, tmp_path / "drifted.csv", "--drift", "3", "--seed", "1")
    done = copy.main("ct", str(drifted))
    assert "promoted v2" in done.stderr, done.stderr
    # A few lines a person reads: the pipeline's own output only with --verbose.
    assert ": classes " not in done.stderr and len(done.stderr.splitlines()) <= 15
    record = json.loads(copy.path(CT).read_text())
    assert record["performance"]["decision"] == "out of range" and record["drift"] == "drift"
    assert [t["promoted"] for t in record["tries"]] == [True]
    assert registry_state(copy) == (["1", "2"], "2")
    copy.main("params", "check")  # params.yaml is still what conf/ composes to

    # The batch's labelled rows joined the training data through the pipeline itself.
    added = f"breast_cancer/{file_md5(drifted)}.parquet"  # the data set's own folder
    assert added in incoming(copy) and f"{added}.dvc" in incoming(copy)
    assert copy.run("dvc", "status", "--quiet", check=False).returncode == 0
    # What changed is what ct says to commit, and nothing else.
    changed = copy.run("git", "status", "--porcelain", "--untracked-files=all").stdout
    paths = {line[3:] for line in changed.splitlines()}
    said = ("conf/", "params.yaml", "dvc.lock", "metrics.json", "reports/cv.json")
    said += ("reports/tuned_params.yaml", "data/incoming/breast_cancer/")
    assert paths and all(path.startswith(said) for path in paths), paths
    assert "data/incoming/breast_cancer/.gitignore" in paths
    assert "reports/tuned_params.yaml and data/incoming/breast_cancer/ (its *.dvc" in done.stderr
    lock = yaml.safe_load(copy.path("dvc.lock").read_text())["stages"]
    outs = {o["path"]: o["md5"] for s in lock.values() for o in s.get("outs", [])}
    client = mlflow.tracking.MlflowClient(copy.env["MLFLOW_TRACKING_URI"])
    tags = client.get_model_version("mlops-template", "2").tags
    assert tags["lineage.train_md5"] == outs["data/prepared/train.parquet"]
    assert tags["lineage.model_md5"] == outs["models/model.skops"]
    assert f"scikit-learn=={version('scikit-learn')}" in tags["lineage.libraries"].split()

    # Scored by the old champion, then again by the new one.
    rows = DeltaTable(str(copy.path(TABLE))).to_pandas()
    assert rows.groupby("model_version").size().to_dict() == {"1": ROWS, "2": ROWS}
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], "tags.`pipeline.stage` = 'ct'"
    )
    assert [r.data.tags["ct.outcome"] for r in runs] == ["promoted v2"]

    # The batch belongs to breast_cancer. Committed, it stays out of another data set's
    # rows (which would fail, or learn from the wrong rows), and choosing breast_cancer
    # again brings it back: the same raw data as at the promotion.
    copy.commit("ct: promotion")
    copy.run("dvc", "exp", "run", "-S", "data=wine")
    raw = pd.read_parquet(copy.path("data/raw/dataset.parquet"))
    wine = load_wine(as_frame=True).frame
    assert raw.shape == wine.shape and list(raw.columns) == list(wine.columns)
    assert json.loads(copy.path("metrics.json").read_text())["accuracy"] > 0.8
    copy.run("dvc", "exp", "run", "-S", "data=breast_cancer")
    assert file_md5(copy.path("data/raw/dataset.parquet")) == outs["data/raw/dataset.parquet"]
    batch = pd.read_parquet(copy.path(f"data/incoming/{added}"))
    assert len(pd.read_parquet(copy.path("data/raw/dataset.parquet"))) == 569 + len(batch)


def conf_files(copy: Template) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(copy.path("conf").rglob("*.yaml"))}


def test_retraining_that_cannot_beat_the_gate_raises_an_alert(copy, tmp_path):
    copy.main(
        "params",
        "set",
        "gate.classification.min_improvement=0.9",
        "ct.tries=[[],['model=random_forest']]",
    )
    kept = ("params.yaml", "dvc.lock")
    before = {f: copy.path(f).read_bytes() for f in kept}
    conf = conf_files(copy)
    drifted = labelled(copy, tmp_path / "drifted.parquet", "--drift", "3", "--seed", "1")
    done = copy.main("ct", str(drifted), "--verbose", check=False)
    assert done.returncode == 4, done.stderr
    assert ": classes " in done.stderr  # validate's own line: the pipeline's output
    assert "| 2 | model=random_forest |" in done.stdout  # and the whole report
    alert = json.loads(copy.path(ALERT).read_text())
    assert alert["outcome"] == "alert" and len(alert["tries"]) == 2
    # Each try its own hypothesis: the current config, then another model family.
    assert [t["overrides"] for t in alert["tries"]] == [[], ["model=random_forest"]]
    assert all("improvement:balanced_accuracy" in t["failed_checks"] for t in alert["tries"])
    assert any("unchanged" in line for line in alert["reasons"])
    issue = copy.path("reports/ct/alert.md").read_text()
    assert issue.startswith('---\ntitle: "CT alert') and "| 2 | model=random_forest |" in issue
    assert registry_state(copy)[1] == "1"
    # The workspace is back to the champion's params, conf, data and lock.
    assert {f: copy.path(f).read_bytes() for f in before} == before
    assert conf_files(copy) == conf
    assert incoming(copy) == [] and not copy.path("data/incoming/breast_cancer").exists()
    # Only this test's own gate and ct settings show, read by check_params alone.
    assert set(json.loads(copy.run("dvc", "status", "--json").stdout)) == {"check_params"}


def test_a_batch_with_inverted_labels_is_never_promoted(copy, tmp_path):
    """Rows like the training rows, labels inverted, more of them than the originals: ct
    learns nothing from labels that score the champion below chance. Told to, a model
    retrained on them learns the inversion. On the new test rows (mostly the
    batch's) it beats the champion; on the rows the champion was judged on it is clearly
    worse, so the gate refuses every try and the loop alerts."""
    train = pd.read_parquet(copy.path("data/prepared/train.parquet"))
    rng = np.random.default_rng(0)
    batch = train.sample(1200, replace=True, random_state=0).reset_index(drop=True)
    numeric = batch.columns.drop("target")
    # New rows (a small jitter), so about a fifth of them land on the test side.
    batch[numeric] = batch[numeric] * (1 + rng.normal(0, 0.01, (len(batch), len(numeric))))
    batch["target"] = 1 - batch["target"]
    path = tmp_path / "inverted.parquet"
    batch.to_parquet(path, index=False)
    copy.main("params", "set", "ct.tries=[[],['model=random_forest']]")
    # First line: labels that score the champion below chance are not learned from.
    done = copy.main("ct", str(path), check=False)
    assert done.returncode == 4, done.stderr
    alert = json.loads(copy.path(ALERT).read_text())
    assert alert["tries"] == [] and "the labels look wrong" in alert["notes"][0]
    issue = copy.path(ALERT).with_name("alert.md").read_text()
    assert 'title: "CT alert: the labels look wrong"' in issue  # not the gate's issue
    assert registry_state(copy)[1] == "1"
    # Second line, with the first off: the gate refuses every try.
    copy.main("params", "set", "ct.learn_below_chance=true")
    done = copy.main("ct", str(path), check=False)
    assert done.returncode == 4, done.stderr
    alert = json.loads(copy.path(ALERT).read_text())
    assert alert["performance"]["decision"] == "out of range"
    assert len(alert["tries"]) == 2
    assert all("holdout:balanced_accuracy" in t["failed_checks"] for t in alert["tries"])
    assert registry_state(copy)[1] == "1"
    # The gate's rows, read back: the held-out rows are the champion's own test rows, and
    # none of the rows it compared on is a row the champion trained on.
    compared = pd.read_parquet(copy.path("reports/promotion_rows.parquet"))
    features = list(numeric)
    client = mlflow.tracking.MlflowClient(copy.env["MLFLOW_TRACKING_URI"])
    tags = client.get_model_version("mlops-template", "1").tags
    cache = copy.path(".dvc/cache/files/md5")
    champion_train = pd.read_parquet(
        cache / tags["lineage.train_md5"][:2] / tags["lineage.train_md5"][2:]
    )
    champion_test = pd.read_parquet(
        cache / tags["lineage.test_md5"][:2] / tags["lineage.test_md5"][2:]
    )
    overlap = compared[features].merge(champion_train[features].drop_duplicates(), how="inner")
    assert overlap.empty
    held = compared[compared["gate.comparison"] == "champion_holdout"]
    assert len(held) == len(champion_test)
    evaluation = compared[compared["gate.comparison"] == "evaluation"]
    assert len(evaluation) > len(champion_test)  # the batch's test-side rows joined


def test_a_crash_during_a_try_leaves_registry_and_predictions_as_they_were(copy, tmp_path):
    drifted = labelled(copy, tmp_path / "drifted.csv", "--drift", "3", "--seed", "2")
    process = subprocess.Popen(
        [sys.executable, "-m", "mlops_template", "ct", str(drifted)],
        cwd=copy.root,
        env=copy.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    for line in process.stderr:  # bounded by the deadline and by the process ending
        if "ct try 1" in line or time.monotonic() > deadline:
            break
    scored = table_version(copy)
    # Killed once a stage of the retraining runs: inside `dvc repro`.
    while not stage_running_under(process.pid):
        assert process.poll() is None and time.monotonic() < deadline, "no stage started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert scored == 0  # the champion's predictions were saved before retraining
    assert registry_state(copy) == (["1"], "1")
    assert table_version(copy) == 0
