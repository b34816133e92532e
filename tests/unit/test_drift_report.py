"""The monitor's HTML report, as a person reads it."""

from __future__ import annotations

import pandas as pd

from mlops_template.core.monitor_report import MonitorReport
from mlops_template.io.drift_report import axis_values, render


def _one_column_report(rows: int, performance: dict | None = None) -> dict:
    column = {
        "kind": "numeric",
        "reference_rows": rows,
        "current_rows": rows,
        "reference_missing": 1 / rows,
        "current_missing": 0.0,
    }
    report = {
        "batch": {"path": "batch.csv", "rows": rows, "md5": "b"},
        "model": {"name": "churn", "version": "3"},
        "reference": {"rows": rows, "md5": "r"},
        "dataset": {"decision": "no drift", "drifted": ["x"], "decided": 300},
        "prediction": {"decision": "no drift", "kind": "numeric"},
        "performance": performance,
        "features": {"x": {**column, "decision": "no drift"}},
        "settings": {},
    }
    report["dataset"].update(share=1 / 300, drift_share=0.5, features=300)
    report["prediction"].update({k: v for k, v in column.items() if k != "kind"})
    return report


PREDICTIONS = (pd.Series([0.1, 0.2]), pd.Series([0.1, 0.3]))


def test_shares_short_of_all_or_none_are_not_rounded_to_them():
    """1 missing cell in 10,000 is 0.01%, and 1 of 300 columns drifted is 0.3%: never 0%."""
    rows = 10_000
    reference = pd.DataFrame({"x": [1.0] * (rows - 1) + [None]})
    current = pd.DataFrame({"x": [1.0] * rows})
    report = _one_column_report(rows)
    html = render(MonitorReport.model_validate(report), reference, current, PREDICTIONS)
    assert "<td>0.01% / 0.0%</td>" in html
    assert "decided (0.3%;" in html and "threshold 50%" in html


def test_a_date_column_is_charted_as_dates_not_nanoseconds():
    """Timestamps on one side and ISO text on the other, as a batch and its reference
    may hold them: days since 1970 on both, which the chart's axis shows as dates."""
    reference = pd.Series(pd.to_datetime(["1970-01-11", "2024-03-05", None]))
    current = pd.Series(["1970-01-11", "2024-03-05T12:00:00Z", None])
    ref, cur, dates = axis_values("signed up", reference, current)
    assert dates and ref.tolist() == [10.0, 19787.0] and cur.tolist() == [10.0, 19787.5]
    numbers = pd.Series([1.5, 2.5])
    assert axis_values("spend", numbers, numbers)[2] is False


def test_rows_left_out_of_the_score_are_said_as_what_they_are():
    """Rows without a label, and labelled rows of a class training dropped: both left out
    of the score, neither called the other."""
    performance = {"metric": "balanced_accuracy", "decision": "too few rows"}
    performance |= {"labelled_rows": 3, "unlabelled_rows": 2, "dropped_class_rows": 4}
    frame = pd.DataFrame({"x": [1.0] * 9})
    report = MonitorReport.model_validate(_one_column_report(9, performance))
    html = render(report, frame, frame, PREDICTIONS)
    said = "3 labelled rows, 2 without a label and 4 of a class training dropped left out"
    assert said in " ".join(html.split())
    assert report.summary().endswith(
        "performance: too few rows (3 labelled, 2 without a label and 4 of a class training "
        "dropped left out)"
    )
