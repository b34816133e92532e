"""The CT report: its JSON (tries under "try"), Markdown and alert reasons from its fields."""

from __future__ import annotations

from mlops_template.core.ct_report import CtReport, Try
from mlops_template.core.monitor_report import BatchFile, ModelVersion, Performance

PERF = Performance(
    metric="accuracy",
    decision="out of range",
    batch=0.6,
    batch_interval=(0.55, 0.65),
    baseline=0.9,
    trivial=0.5,
    drop=0.3,
    max_drop=0.1,
    max_drop_share=0.25,
)


def _report() -> CtReport:
    report = CtReport(
        batch=BatchFile(path="b.parquet", md5="m", rows=200),
        champion=ModelVersion(name="churn", version="2"),
        drift="drift",
        performance=PERF,
        tries=[],
    )
    report.tries.append(
        Try(
            attempt=1,
            overrides=[],
            version="3",
            promoted=False,
            metric="accuracy",
            candidate=0.88,
            champion=0.9,
            failed_checks=["improvement:accuracy"],
            reasons=["accuracy: candidate 0.88 vs champion 0.9: worse"],
        )
    )
    report.outcome = "alert"
    report.reasons = report.alert_reasons()
    return report


def test_alert_reasons_and_markdown():
    report = _report()
    assert report.reasons == [
        "accuracy on b.parquet is 0.6000 against 0.9000 on the evaluation data "
        "(drop 0.3000 > 0.1); drift: drift",
        "try 1 (current config, v3): accuracy: candidate 0.88 vs champion 0.9: worse",
        "champion churn v2 unchanged",
    ]
    text = report.markdown()
    assert text.startswith("**Outcome: alert**\n")
    assert "| try | overrides | version | accuracy | champion | promoted | failed checks |" in text
    assert "| 1 | (current) | 3 | 0.88 | 0.9 | False | improvement:accuracy |" in text
    assert text.endswith("- champion churn v2 unchanged\n")


def test_json_names_each_try_and_reads_back():
    report = _report()
    stored = report.as_json()
    assert stored["tries"][0]["try"] == 1 and "attempt" not in stored["tries"][0]
    assert stored["outcome"] == "alert" and stored["performance"]["batch_interval"] == [0.55, 0.65]
    assert CtReport.model_validate(stored) == report
    quiet = CtReport(
        batch=report.batch, champion=report.champion, drift="no drift", performance=None, tries=[]
    )
    quiet.outcome = "no retraining (no labels)"
    assert set(quiet.as_json()) == {"batch", "champion", "drift", "performance", "tries", "outcome"}
