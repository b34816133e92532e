"""monitor and simulate against a real registry, DVC cache and tracking store."""

from __future__ import annotations

import json
import re

import mlflow
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.helpers.template import Template

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
    assert perf["decision"] == "out of range"
    # Worse beyond the allowance (a share of the lead over the trivial baseline) and noise.
    assert perf["batch_interval"][1] < perf["baseline"] - perf["max_drop"]
    assert perf["max_drop"] == round(0.1 * (perf["baseline"] - perf["trivial"]), 6)

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


def test_random_halves_of_a_regression_models_own_test_set_are_in_range(template, tmp_path):
    """rmse is in the target's units (tens here, hundreds elsewhere): the allowance is a
    share of the model's lead over the mean, and a half-size sample's noise is no drop."""
    template.main("params", "compose", "data=diabetes")
    template.run("dvc", "repro")
    template.main("promote")
    test = pd.read_parquet(template.path("data/prepared/test.parquet"))
    for seed in range(3):
        half = tmp_path / f"half-{seed}.parquet"
        test.sample(frac=0.5, random_state=seed).to_parquet(half, index=False)
        perf = monitored(template, half)["performance"]
        assert perf["metric"] == "rmse" and perf["decision"] == "in range", perf
        assert perf["trivial"] > perf["baseline"]  # the mean is worse than the model
