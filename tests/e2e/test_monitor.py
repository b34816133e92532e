"""monitor and simulate against a real registry, DVC cache and tracking store."""

from __future__ import annotations

import json
import re

import mlflow
import pyarrow.parquet as pq
import pytest

from tests.conftest import Template

pytestmark = pytest.mark.slow

REPORT = "reports/monitor/drift.json"
HTML = "reports/monitor/drift.html"


def simulated(copy: Template, path, *args: str):
    done = copy.main("simulate", str(path), *args)
    assert "SIMULATED" in done.stderr
    return path


def monitored(copy: Template, path, *args: str) -> dict:
    copy.main("monitor", str(path), *args)
    return json.loads(copy.path(REPORT).read_text())


def assert_self_contained(html: str) -> None:
    assert "<img" in html
    assert not re.search(r"(?i)<script|<link|@import|url\(", html)
    assert not re.search(r"(?i)(src|href)\s*=\s*\"(?!data:|#)", html)
    assert "http://" not in html and "https://" not in html


def test_calm_and_drifted_batches(copy, tmp_path):
    calm = simulated(copy, tmp_path / "calm.parquet", "--rows", "100", "--labels")
    meta = pq.read_schema(calm).metadata[b"mlops_template.simulated"]
    assert json.loads(meta)["drift"] == 0.0  # the file says it is simulated
    report = monitored(copy, calm)
    assert report["dataset"]["decision"] == "no drift"
    assert report["prediction"]["decision"] == "no drift"
    assert report["performance"]["decision"] == "in range"
    assert report["model"] == {"name": "mlops-template", "version": "1"}
    assert report["batch"]["rows"] == 100 and len(report["features"]) == 30
    assert {r["test"] for r in report["features"].values()} == {"ks"}  # small samples
    html = copy.path(HTML).read_text()
    assert_self_contained(html)
    assert html.count("<img") == 31 and "mean radius" in html  # a chart per column + predictions

    drifted = simulated(
        copy, tmp_path / "drifted.csv", "--rows", "100", "--drift", "3", "--labels", "--seed", "1"
    )
    report = monitored(copy, drifted)
    assert report["dataset"]["decision"] == "drift" and report["dataset"]["share"] >= 0.5
    assert report["prediction"]["decision"] == "drift"
    perf = report["performance"]
    assert perf["decision"] == "out of range" and perf["batch"] < perf["baseline"] - 0.05

    client = mlflow.tracking.MlflowClient(copy.env["MLFLOW_TRACKING_URI"])
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        "tags.`pipeline.stage` = 'monitor'",
        order_by=["attributes.start_time DESC"],
    )
    assert len(runs) == 2 and runs[0].data.tags["drift.decision"] == "drift"
    assert runs[0].data.tags["performance"] == "out of range"
    assert runs[0].data.metrics["drift.share"] == report["dataset"]["share"]
    logged = {a.path for a in client.list_artifacts(runs[0].info.run_id, "monitor")}
    assert logged == {"monitor/drift.json", "monitor/drift.html"}

    # Thresholds come from config: with every column required, this batch is not drifted.
    copy.main("params", "compose", "monitor.drift_share=1.0")
    assert monitored(copy, drifted)["dataset"]["decision"] == "no drift"


def test_unlabelled_small_and_bad_batches(copy, tmp_path):
    unlabelled = simulated(copy, tmp_path / "u.parquet", "--rows", "60", "--drift", "2")
    report = monitored(copy, unlabelled)
    assert report["performance"] is None and report["dataset"]["decision"] == "drift"

    tiny = simulated(copy, tmp_path / "tiny.csv", "--rows", "10", "--labels")
    report = monitored(copy, tiny)
    assert {r["decision"] for r in report["features"].values()} == {"too few rows"}
    assert report["dataset"]["decision"] == "too few rows"
    assert report["performance"]["decision"] == "too few rows"
    assert "too few rows" in copy.path(HTML).read_text()

    before = copy.path(REPORT).read_bytes()  # the tiny batch's report
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("a,b\n1,2\n")
    refused = copy.main("monitor", str(wrong), check=False)
    assert refused.returncode == 2 and "not monitored" in refused.stderr
    assert "missing columns" in refused.stderr and "Traceback" not in refused.stderr
    assert copy.path(REPORT).read_bytes() == before  # the last report is kept
