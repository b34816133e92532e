"""The monitor report's summary and logged numbers come from its typed fields; its JSON
keeps only the keys each result has, and reads back unchanged."""

from __future__ import annotations

import pandas as pd

from mlops_template.config import Monitor
from mlops_template.core.drift import categorical_drift, dataset_drift, numeric_drift, performance
from mlops_template.core.monitor_report import (
    BatchFile,
    LogReport,
    ModelVersion,
    MonitorReport,
    Performance,
    Reference,
    Window,
)
from mlops_template.io import window_report


def _report(params, perf: Performance | None) -> MonitorReport:
    settings = Monitor(**params["monitor"])
    ref = pd.Series([float(i % 50) for i in range(500)])
    features = {
        "x": numeric_drift(ref, ref + 30, settings),
        "c": categorical_drift(pd.Series(["a", "b"] * 100), pd.Series(["a"] * 5), settings),
    }
    return MonitorReport(
        batch=BatchFile(path="b.csv", md5="m", rows=500),
        model=ModelVersion(name="churn", version="3"),
        reference=Reference(md5="r", rows=500),
        dataset=dataset_drift(features, 0.5),
        prediction=numeric_drift(ref, ref, settings),
        performance=perf,
        features=features,
        settings=settings.model_dump(),
    )


def test_summary_and_metrics_from_the_fields(params):
    batch = {"value": 0.7, "interval": [0.65, 0.75]}
    perf = performance("accuracy", batch, 0.9, 0.5, 0.25).model_copy(
        update={"labelled_rows": 80, "batch_metrics": {"accuracy": 0.7}, "baseline_metrics": {}}
    )
    report = _report(params, perf)
    lines = report.summary().splitlines()
    assert lines[0] == (
        "b.csv against churn v3's training data: drift (1 of 1 columns drifted; the batch "
        "drifts from 50% of them, monitor.drift_share): x"
    )
    assert lines[1] == "predictions: no drift"
    drawn = report.model_copy(
        update={"batch": BatchFile(path="b.csv", md5="m", rows=900, sampled=500)}
    )
    assert drawn.summary().startswith("b.csv (500 of its 900 rows, monitor.max_rows) against ")
    assert MonitorReport.model_validate(drawn.as_json()) == drawn
    # Columns drifted, the batch not: "no drift (... columns drifted ...): x" read false.
    settings = Monitor(**params["monitor"])
    calm = numeric_drift(pd.Series(range(500)) * 1.0, pd.Series(range(500)) * 1.0, settings)
    features = {**report.features, "y": calm, "z": calm}
    fewer = report.model_copy(update={"dataset": dataset_drift(features, 0.5)}).summary()
    assert fewer.splitlines()[0].endswith(
        "no drift (1 of 3 columns drifted, fewer than the 50% of them from which the batch "
        "drifts, monitor.drift_share): x"
    )
    assert lines[2].startswith("accuracy: 0.7000 on the batch (interval 0.6500 to 0.7500)")
    assert "out of range (drop 0.2000, allowed 0.1000" in lines[2]
    metrics = report.metrics()
    assert metrics["drift.drifted_columns"] == 1 and metrics["batch.accuracy"] == 0.7
    assert "drift.c" not in metrics  # too few rows: no statistic
    assert "drift.x" in metrics and "drift.prediction" in metrics


def test_json_keeps_each_results_own_keys_and_reads_back(params):
    too_few = Performance(metric="accuracy", labelled_rows=3, decision="too few rows")
    for report in [_report(params, too_few), _report(params, None)]:
        stored = report.as_json()
        assert set(stored["features"]["c"]) == {
            "kind",
            "reference_rows",
            "current_rows",
            "reference_missing",
            "current_missing",
            "decision",
        }
        assert MonitorReport.model_validate(stored) == report
    assert _report(params, too_few).summary().endswith("performance: too few rows (3 labelled)")
    assert _report(params, None).summary().endswith("performance: the batch has no labels")
    said = _report(params, None).summary("churned")  # a misnamed label column looks like none
    assert said.endswith("performance: the batch has no labels (no column 'churned' with values)")


def test_a_log_windows_labelled_rows_of_a_dropped_class_are_said_apart(params):
    """The log's header counts every labelled row; a window's score leaves out the rows of
    a class training dropped, and its line and HTML cell say how many."""
    settings = Monitor(**params["monitor"])
    values = pd.Series(range(100)) * 1.0
    features = {"x": numeric_drift(values, values, settings)}
    perf = performance("accuracy", {"value": 0.8, "interval": [0.7, 0.9]}, 0.82, 0.5, 0.25)

    def window(dropped: int | None) -> Window:
        update = {"labelled_rows": 90, "dropped_class_rows": dropped}
        return Window(
            start="2026-01-01T00:00:00+00:00",
            end="2026-01-02T00:00:00+00:00",
            rows=120,
            dataset=dataset_drift(features, 0.5),
            performance=perf.model_copy(update=update),
        )

    line = window(4).line()
    assert line.endswith("on 90 labelled (and 4 of a class training dropped, left out): in range")
    # Its predictions' drift, as a batch's summary says it (the trial read "no drift" of a
    # window whose predictions had drifted, said only in windows.json).
    predicted = window(None).model_copy(update={"prediction": features["x"]})
    assert "columns), predictions: no drift; accuracy" in predicted.line()
    assert "dropped" not in window(None).line() and "dropped" not in window(0).line()
    report = LogReport(
        table="log",
        model=ModelVersion(name="churn", version="3"),
        reference=Reference(md5="r", rows=100),
        window="1D",
        rows=120,
        labelled_rows=94,
        windows=[window(4)],
        settings=settings.model_dump(),
    )
    html = window_report.render(report)
    assert "<td>90 (and 4 of a class training dropped, left out)</td>" in html


def test_the_performance_line_says_which_end_of_the_interval_decided():
    """A drop beyond the allowance is noise while the interval's best end is within it
    (rmse: the lower end); out of range names the best end too."""
    batch = {"value": 54.6429, "interval": (45.1593, 62.9776)}
    noise = performance("rmse", batch, 49.8108, 81.9161, 0.1)
    assert noise.decision == "in range" and noise.drop > noise.max_drop
    assert "noise, as the interval's best end, 45.1593, is within it" in noise.line()
    worse = performance("rmse", {"value": 70.0, "interval": (60.0, 80.0)}, 49.8108, 81.9161, 0.1)
    assert worse.decision == "out of range"
    assert "beyond it even at the interval's best end, 60.0000" in worse.line()
    calm = performance("rmse", {"value": 50.0, "interval": (40.0, 60.0)}, 49.8108, 81.9161, 0.1)
    assert calm.line().endswith("in range (drop 0.1892, allowed 3.2105 = 0.1 of the lead)")


def _scored(metric: str, batch: float, interval: tuple[float, float], trivial: float):
    return Performance(
        metric=metric,
        decision="out of range",
        labelled_rows=400,
        batch=batch,
        batch_interval=interval,
        baseline=0.75,
        trivial=trivial,
        drop=0.75 - batch,
        max_drop=0.02,
        max_drop_share=0.1,
    )


def test_labels_that_score_the_model_below_chance_look_wrong():
    """A CT trial: a drifted batch with every label flipped was learned into production
    (the gate's held-out rows did not cover the drifted region)."""
    flipped = _scored("balanced_accuracy", 0.24, (0.2, 0.29), trivial=0.5)
    said = flipped.labels_suspect()
    assert said.startswith("the labels look wrong: balanced_accuracy 0.2400 on 400 labelled")
    assert "best end (0.2900)" in said
    # Drift towards chance, within noise of it: not suspect.
    assert _scored("balanced_accuracy", 0.47, (0.43, 0.51), trivial=0.5).labels_suspect() == ""
    assert _scored("roc_auc", 0.3, (0.25, 0.35), trivial=0.5).labels_suspect() != ""
    # A metric whose trivial baseline is not chance (accuracy: the majority's share).
    assert _scored("accuracy", 0.5, (0.45, 0.55), trivial=0.8).labels_suspect() == ""
