"""The promotion gate: a candidate becomes champion only if it clearly beats the trivial
baseline and the champion, and is not clearly worse where the champion was judged.

Every comparison is paired (both models on the same rows) with a bootstrap interval
(core/bootstrap.py): a difference inside the noise is not called better. This module
only decides from the comparisons it is given; release/promote.py picks the rows.
"""

from __future__ import annotations

from typing import Any

from mlops_template.config import TaskGate
from mlops_template.core.bootstrap import BETTER


def decide(
    gate: TaskGate,
    candidate: dict[str, float],
    comparisons: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    """Every check with its numbers, and whether the candidate may become champion.

    `comparisons` holds paired results (bootstrap.paired, candidate first):
    `baseline` against the trivial model, and when there is a champion, `champion` on rows
    neither trained on and `holdout` on the champion's own held-out rows, each with the
    champion's `lead` over the trivial model on those rows.
    """
    checks = [
        _threshold(metric, bound, candidate.get(metric))
        for metric, bound in sorted(gate.thresholds.items())
    ]
    baseline = _named(comparisons["baseline"], "baseline")
    checks.append(
        {"check": f"baseline:{gate.metric}", **baseline, "passed": baseline["verdict"] == BETTER}
    )
    champion = comparisons.get("champion")
    if champion is None:
        checks.append({"check": "champion", "passed": True, "detail": "no champion yet"})
    else:
        # Beating means better beyond noise, by min_improvement of the champion's lead.
        required = round(gate.min_improvement * max(champion["lead"], 0.0), 6)
        checks.append(
            {
                "check": f"improvement:{gate.metric}",
                **_named(champion, "champion"),
                "required": required,
                "passed": champion["verdict"] == BETTER and champion["improvement"] >= required,
            }
        )
    holdout = comparisons.get("holdout")
    if holdout is not None:
        allowed = round(gate.max_holdout_drop * max(holdout["lead"], 0.0), 6)
        checks.append(
            {
                "check": f"holdout:{gate.metric}",
                **_named(holdout, "champion"),
                "allowed_drop": allowed,
                # Refused when even the interval's best case loses more than allowed.
                "passed": holdout["interval"][1] >= -allowed,
            }
        )
    return {"promote": all(c["passed"] for c in checks), "checks": checks}


def _named(comparison: dict[str, Any], other: str) -> dict[str, Any]:
    """A paired result (bootstrap.paired's `a` and `b`) with its models' names."""
    named = {k: v for k, v in comparison.items() if k not in ("a", "b")}
    return {**named, "candidate": comparison["a"], other: comparison["b"]}


def _threshold(metric: str, bound: Any, value: float | None) -> dict[str, Any]:
    passed = value is not None and (
        (bound.min is None or value >= bound.min) and (bound.max is None or value <= bound.max)
    )
    return {
        "check": f"threshold:{metric}",
        "metric": metric,
        "value": value,
        "min": bound.min,
        "max": bound.max,
        "passed": passed,
    }


def _numbers(check: dict[str, Any]) -> str:
    low, high = check["interval"]
    return f"improvement {check['improvement']}, interval [{low}, {high}], {check['rows']} rows"


def reasons(decision: dict[str, Any]) -> list[str]:
    """One line per failed check, for people."""
    lines = []
    for check in decision["checks"]:
        if check["passed"]:
            continue
        kind = check["check"].split(":")[0]
        if kind == "threshold":
            bound = " and ".join(
                f"{side} {check[side]}" for side in ("min", "max") if check[side] is not None
            )
            lines.append(f"{check['metric']} = {check['value']} is outside {bound}")
        elif kind == "baseline":
            lines.append(
                f"{check['metric']}: candidate {check['candidate']} does not beat the trivial "
                f"baseline (majority class or mean) {check['baseline']} beyond noise "
                f"({_numbers(check)})"
            )
        elif kind == "improvement":
            lines.append(
                f"{check['metric']}: candidate {check['candidate']} vs champion "
                f"{check['champion']} on rows neither trained on: {check['verdict']} "
                f"({_numbers(check)}; needs better beyond noise by >= {check['required']})"
            )
        else:
            lines.append(
                f"{check['metric']} on the champion's held-out data: candidate "
                f"{check['candidate']} vs champion {check['champion']}, clearly worse "
                f"({_numbers(check)}; allowed drop {check['allowed_drop']})"
            )
    return lines
