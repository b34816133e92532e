"""The promotion gate: absolute thresholds, then a strict improvement over the champion.

Both models are scored on the same evaluation data in the same run; this module only
compares the numbers it is given.
"""

from __future__ import annotations

from typing import Any

from mlops_template.config import TaskGate
from mlops_template.core.metric_names import LOWER_IS_BETTER


def improvement(metric: str, candidate: float, champion: float) -> float:
    """How much better the candidate is: positive is better, whichever way the metric runs."""
    return champion - candidate if metric in LOWER_IS_BETTER else candidate - champion


def decide(
    gate: TaskGate, candidate: dict[str, float], champion: dict[str, float] | None
) -> dict[str, Any]:
    """Every check with its numbers, and whether the candidate may become champion."""
    checks = []
    for metric, bound in sorted(gate.thresholds.items()):
        value = candidate.get(metric)
        passed = value is not None and (
            (bound.min is None or value >= bound.min) and (bound.max is None or value <= bound.max)
        )
        checks.append(
            {
                "check": f"threshold:{metric}",
                "metric": metric,
                "value": value,
                "min": bound.min,
                "max": bound.max,
                "passed": passed,
            }
        )
    if champion is None:
        checks.append({"check": "champion", "passed": True, "detail": "no champion yet"})
    else:
        metric = gate.metric
        gain = improvement(metric, candidate[metric], champion[metric])
        checks.append(
            {
                "check": f"improvement:{metric}",
                "metric": metric,
                "candidate": candidate[metric],
                "champion": champion[metric],
                "improvement": round(gain, 6),
                "min_improvement": gate.min_improvement,
                # Beating means strictly better: an equal model never replaces the champion.
                "passed": gain > 0 and gain >= gate.min_improvement,
            }
        )
    return {"promote": all(c["passed"] for c in checks), "checks": checks}


def reasons(decision: dict[str, Any]) -> list[str]:
    """One line per failed check, for people."""
    lines = []
    for check in decision["checks"]:
        if check["passed"]:
            continue
        if check["check"].startswith("threshold:"):
            bound = " and ".join(
                f"{side} {check[side]}" for side in ("min", "max") if check[side] is not None
            )
            lines.append(f"{check['metric']} = {check['value']} is outside {bound}")
        else:
            lines.append(
                f"{check['metric']}: candidate {check['candidate']} vs champion "
                f"{check['champion']} (improvement {check['improvement']}, needs > 0 and "
                f">= {check['min_improvement']})"
            )
    return lines
