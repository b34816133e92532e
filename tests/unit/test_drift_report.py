"""The monitor's HTML report, as a person reads it."""

from __future__ import annotations

import pandas as pd

from mlops_template.core.monitor_report import MonitorReport
from mlops_template.io.drift_report import axis_values, render


def test_shares_short_of_all_or_none_are_not_rounded_to_them():
    """1 missing cell in 10,000 is 0.01%, and 1 of 300 columns drifted is 0.3%: never 0%."""
    rows = 10_000
    reference = pd.DataFrame({"x": [1.0] * (rows - 1) + [None]})
    current = pd.DataFrame({"x": [1.0] * rows})
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
        "performance": None,
        "features": {"x": {**column, "decision": "no drift"}},
        "settings": {},
    }
    report["dataset"].update(share=1 / 300, drift_share=0.5, features=300)
    report["prediction"].update({k: v for k, v in column.items() if k != "kind"})
    predictions = (pd.Series([0.1, 0.2]), pd.Series([0.1, 0.3]))
    html = render(MonitorReport.model_validate(report), reference, current, predictions)
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
