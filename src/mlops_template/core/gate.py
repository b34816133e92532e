"""The promotion gate: a candidate becomes champion only if it clearly beats the trivial
baseline and the champion, and is not clearly worse where the champion was judged.

Every comparison is paired (both models on the same rows) with a bootstrap interval
(core/bootstrap.py): a difference inside the noise is not called better. This module
only decides from the comparisons it is given; release/promote.py picks the rows.
"""

from __future__ import annotations

from typing import Any

from mlops_template.config.release import TaskGate
from mlops_template.core.bootstrap import BETTER, WORSE, Paired
from mlops_template.core.gate_checks import (
    AlreadyChampion,
    Baseline,
    Decision,
    Holdout,
    Improvement,
    NoChampion,
    NoShadow,
    NotComparable,
    RolledBack,
    Shadow,
    Threshold,
)
from mlops_template.core.shadow import ShadowComparison


def decide(
    gate: TaskGate,
    candidate: dict[str, float],
    comparisons: dict[str, Paired],
    shadow: Shadow | NoShadow | None = None,
) -> Decision:
    """Every check with its numbers, and whether the candidate may become champion.

    `comparisons` holds paired results (bootstrap.paired, candidate first):
    `baseline` against the trivial model, and when there is a champion, `champion` on rows
    neither trained on and `holdout` on the champion's own held-out rows, each with the
    champion's `lead` over the trivial model on those rows. `shadow` is the live check
    (shadow_check), when gate.shadow asks for one.
    """
    checks: list[Any] = [
        _threshold(metric, bound, candidate.get(metric))
        for metric, bound in sorted(gate.thresholds.items())
    ]
    baseline = _named(comparisons["baseline"], "baseline")
    checks.append(
        Baseline(check=f"baseline:{gate.metric}", **baseline, passed=baseline["verdict"] == BETTER)
    )
    champion = comparisons.get("champion")
    if champion is None:
        checks.append(NoChampion(check="champion", passed=True, detail="no champion yet"))
    else:
        # Beating means better beyond noise, by min_improvement of the champion's lead.
        required = round(gate.min_improvement * max(champion.lead or 0.0, 0.0), 6)
        checks.append(
            Improvement(
                check=f"improvement:{gate.metric}",
                **_named(champion, "champion"),
                required=required,
                passed=champion.verdict == BETTER and champion.improvement >= required,
            )
        )
    holdout = comparisons.get("holdout")
    if holdout is not None:
        allowed = round(gate.max_holdout_drop * max(holdout.lead or 0.0, 0.0), 6)
        checks.append(
            Holdout(
                check=f"holdout:{gate.metric}",
                **_named(holdout, "champion"),
                allowed_drop=allowed,
                # Refused when even the interval's best case loses more than allowed.
                passed=holdout.interval[1] >= -allowed,
            )
        )
    if shadow is not None:
        checks.append(shadow)
    return Decision(promote=all(c.passed for c in checks), checks=checks)


def shadow_check(
    require: str,
    found: ShadowComparison | None,
    champion: str,
    candidate: str | None,
    missing: str = "none logged",
) -> Shadow | NoShadow:
    """The live check: the candidate scored in shadow beside the champion on labelled
    requests (core/shadow.py), `found` None when it never was (`missing` says why)."""
    if found is None or found.paired is None:
        who = f"v{candidate}" if candidate else "the candidate (not registered yet)"
        rows = f"only {found.rows} labelled, fewer than gate.shadow.min_rows" if found else missing
        return NoShadow(
            check="shadow_evidence",
            passed=False,
            detail=(
                f"gate.shadow.use: no live evidence for {who} against champion v{champion} "
                f"({rows}): serve with serve.shadow=challenger, add the labels (make "
                "labels), then promote again"
            ),
        )
    paired = found.paired
    passed = paired.verdict == BETTER if require == "better" else paired.verdict != WORSE
    return Shadow(
        check=f"shadow:{paired.metric}",
        **_named(paired, "champion"),
        served_version=found.served_version,
        require="better beyond noise" if require == "better" else "not clearly worse",
        passed=passed,
    )


def already_champion(version: str) -> Decision:
    """The candidate is the champion itself: nothing to compare."""
    return Decision(
        promote=True,
        checks=[AlreadyChampion(check="already_champion", passed=True, version=version)],
    )


def not_comparable(detail: str, alone: Decision | None = None) -> Decision:
    """The champion cannot be scored on the candidate's rows (a column it reads is gone
    from the data): refused, to be crowned by hand after review. `alone`: the candidate's
    decision with no champion (its thresholds and baseline), kept for that review."""
    own = [c for c in alone.checks if not isinstance(c, NoChampion)] if alone else []
    refused = NotComparable(check="comparable", passed=False, detail=detail)
    return Decision(promote=False, checks=[refused, *own])


def refused_as_rolled_back(version: str, event: dict[str, Any]) -> Decision:
    """The candidate is a version rolled back from champion (core/champion_history.py):
    refused without comparing, or the next promote would bring it straight back."""
    check = RolledBack(
        check="rolled_back",
        passed=False,
        version=version,
        to=event["version"],
        actor=event.get("actor") or "unknown",
    )
    return Decision(promote=False, checks=[check])


def _named(comparison: Paired, other: str) -> dict[str, Any]:
    """A paired result (bootstrap.paired's `a` and `b`) with its models' names."""
    named = {k: v for k, v in comparison.as_json().items() if k not in ("a", "b")}
    return {**named, "candidate": comparison.a, other: comparison.b}


def _threshold(metric: str, bound: Any, value: float | None) -> Threshold:
    passed = value is not None and (
        (bound.min is None or value >= bound.min) and (bound.max is None or value <= bound.max)
    )
    return Threshold(
        check=f"threshold:{metric}",
        metric=metric,
        value=value,
        min=bound.min,
        max=bound.max,
        passed=passed,
    )
