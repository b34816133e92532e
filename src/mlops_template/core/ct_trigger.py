"""When the inference log says retrain: at least `out_of_range` of the last `windows`
labelled windows have the metric out of range, the latest among them. One bad window,
however bad, is noise until another agrees (with the defaults, 2 of 3)."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_template.core.drift import OUT_OF_RANGE
from mlops_template.core.monitor_report import Window


@dataclass(frozen=True)
class Verdict:
    retrain: bool
    reasons: list[str]  # a line per window considered, then the verdict's
    windows: list[Window]  # the labelled windows it considered, oldest first


def decide(windows: list[Window], last: int, out_of_range: int) -> Verdict:
    labelled = [w for w in windows if w.performance is not None and w.performance.batch is not None]
    considered = labelled[-last:]
    out = [w for w in considered if w.performance.decision == OUT_OF_RANGE]
    latest_out = bool(considered) and considered[-1].performance.decision == OUT_OF_RANGE
    retrain = len(out) >= out_of_range and latest_out
    reasons = [f"{w.start} to {w.end}: {_scored(w)}" for w in considered]
    if not considered:
        verdict = "no labelled window with enough labelled rows yet"
    else:
        verdict = (
            f"{len(out)} of the last {len(considered)} labelled windows out of range "
            f"(retraining takes {out_of_range} of the last {last}, the latest among them"
        )
        if len(out) >= out_of_range and not latest_out:
            verdict += "; the latest is in range"
        verdict += ")"
    reasons.append(f"{verdict}: {'retrain' if retrain else 'no retraining'}")
    return Verdict(retrain=retrain, reasons=reasons, windows=considered)


def _scored(window: Window) -> str:
    perf = window.performance
    low, high = perf.batch_interval or (perf.batch, perf.batch)
    return (
        f"{perf.metric} {perf.batch:.4f} [{low:.4f}, {high:.4f}] on {perf.labelled_rows} "
        f"labelled rows against {perf.baseline:.4f}: {perf.decision}"
    )
