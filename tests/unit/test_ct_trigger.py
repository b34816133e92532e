"""The log's retraining trigger: k of the last n labelled windows out of range, the latest
among them; one bad window never retrains, however bad."""

from __future__ import annotations

import pytest

from mlops_template.core.ct_trigger import decide
from mlops_template.core.drift import IN_RANGE, OUT_OF_RANGE
from mlops_template.core.monitor_report import Performance, Window


def window(day: int, decision: str | None, value: float = 0.9) -> Window:
    """A day's window: labelled with the metric in or out of range, or without labels."""
    perf = None
    if decision is not None:
        perf = Performance(
            metric="balanced_accuracy",
            decision=decision,
            labelled_rows=100,
            batch=value,
            batch_interval=(value - 0.05, value + 0.05),
            baseline=0.9,
        )
    when = {"start": f"2026-01-0{day}", "end": f"2026-01-0{day + 1}", "rows": 100}
    return Window(**when, performance=perf)


IN, OUT, NONE = IN_RANGE, OUT_OF_RANGE, None


@pytest.mark.parametrize(
    ("decisions", "retrain"),
    [
        ([IN, IN, OUT], False),  # one window alone
        ([OUT, IN, OUT], True),
        ([IN, OUT, OUT], True),
        ([OUT, OUT, IN], False),  # recovered: the latest is in range
        ([OUT, NONE, OUT], True),  # a window without labels is not counted either way
        ([OUT, IN, IN, OUT], False),  # the oldest is past the last three labelled
        ([NONE, NONE, OUT], False),
        ([NONE, NONE, NONE], False),
    ],
)
def test_retrains_on_two_of_the_last_three_labelled_windows_the_latest_among_them(
    decisions, retrain
):
    windows = [window(day, d) for day, d in enumerate(decisions, start=1)]
    verdict = decide(windows, last=3, out_of_range=2)
    assert verdict.retrain is retrain
    assert verdict.reasons[-1].endswith("retrain" if retrain else "no retraining")
    labelled = [w for w in windows if w.performance is not None][-3:]
    assert verdict.windows == labelled
    assert len(verdict.reasons) == len(labelled) + 1  # a line per window, then the verdict


def test_the_reasons_name_each_window_and_the_rule():
    verdict = decide([window(1, OUT, 0.6), window(2, OUT, 0.55)], last=3, out_of_range=2)
    assert verdict.reasons[0] == (
        "2026-01-01 to 2026-01-02: balanced_accuracy 0.6000 [0.5500, 0.6500] on 100 labelled "
        "rows against 0.9000: out of range"
    )
    assert verdict.reasons[-1] == (
        "2 of the last 2 labelled windows out of range (retraining takes 2 of the last 3, "
        "the latest among them): retrain"
    )
    recovered = decide([window(1, OUT), window(2, OUT), window(3, IN)], last=3, out_of_range=2)
    assert "the latest is in range" in recovered.reasons[-1]
