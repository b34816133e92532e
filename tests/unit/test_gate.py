"""The promotion gate's pure decision, and the champion history it leaves."""

from __future__ import annotations

import pytest

from mlops_template.config import parse_config
from mlops_template.config.release import Bound, TaskGate
from mlops_template.core.bootstrap import Paired
from mlops_template.core.champion_history import champion_line, rollback_target
from mlops_template.core.gate import already_champion, decide, not_comparable
from mlops_template.core.gate_checks import Decision
from mlops_template.errors import PipelineError
from mlops_template.metric_names import improvement

GATE = TaskGate(metric="f1_macro", min_improvement=0.1, thresholds={"accuracy": Bound(min=0.8)})


def compared(a: float, b: float, interval: tuple[float, float], lead: float = 0.3, rows=100):
    """A paired result as bootstrap.paired gives it (candidate a, other b)."""
    verdict = "better" if interval[0] > 0 else "worse" if interval[1] < 0 else "within noise"
    return Paired(
        metric="f1_macro",
        rows=rows,
        a=a,
        b=b,
        improvement=round(a - b, 6),
        interval=interval,
        verdict=verdict,
        lead=lead,
    )


BEATS_BASELINE = compared(0.85, 0.5, (0.3, 0.4))


def test_first_candidate_needs_the_baseline_and_the_thresholds():
    ok = decide(GATE, {"accuracy": 0.81}, {"baseline": BEATS_BASELINE})
    assert ok.promote is True
    refused = decide(GATE, {"accuracy": 0.79}, {"baseline": BEATS_BASELINE})
    assert refused.promote is False
    assert refused.reasons() == ["accuracy = 0.79 is outside min 0.8"]


def test_a_model_that_does_not_beat_the_trivial_baseline_beyond_noise_is_refused():
    weak = decide(GATE, {"accuracy": 0.9}, {"baseline": compared(0.52, 0.5, (-0.01, 0.05))})
    assert weak.promote is False
    (line,) = weak.reasons()
    assert "does not beat the trivial baseline (majority class or mean) 0.5" in line
    assert "100 rows" in line


def test_candidate_must_beat_the_champion_beyond_noise_by_a_share_of_its_lead():
    def verdict(gain_interval, a=0.85):
        comparisons = {"baseline": BEATS_BASELINE, "champion": compared(a, 0.80, gain_interval)}
        return decide(GATE, {"accuracy": 0.9}, comparisons)

    assert verdict((0.01, 0.09), a=0.85).promote is True  # gain 0.05 >= 0.1 * lead 0.3
    short = verdict((0.001, 0.05), a=0.82)  # better, but by less than 0.03
    assert short.promote is False
    check = short.check("improvement")
    assert check.check == "improvement:f1_macro" and short.failed() == [check.check]
    assert check.required == 0.03 and check.champion == 0.80 and check.candidate == 0.82
    stored = {c["check"]: c for c in short.as_json()["checks"]}
    assert not {"a", "b"} & set(stored["improvement:f1_macro"])  # named, once
    assert {"candidate", "baseline"} <= set(stored["baseline:f1_macro"])
    noisy = verdict((-0.02, 0.12), a=0.85)  # a larger gain, but inside the noise
    assert noisy.promote is False
    assert "within noise" in noisy.reasons()[0] and "rows neither trained on" in noisy.reasons()[0]


def test_a_tie_never_replaces_the_champion():
    gate = TaskGate(metric="f1_macro")
    tie = {"baseline": BEATS_BASELINE, "champion": compared(0.8, 0.8, (0.0, 0.0))}
    assert decide(gate, {}, tie).promote is False


def test_clearly_worse_on_the_champions_held_out_data_is_refused_whatever_the_new_rows_say():
    gate = TaskGate(metric="f1_macro")
    comparisons = {
        "baseline": BEATS_BASELINE,
        "champion": compared(0.70, 0.45, (0.2, 0.3)),  # the new rows favour the candidate
        "holdout": compared(0.31, 1.0, (-0.75, -0.6), lead=0.5, rows=114),
    }
    refused = decide(gate, {}, comparisons)
    assert refused.promote is False
    (line,) = refused.reasons()
    assert "held-out data" in line and "114 rows" in line
    # Worse only within noise, or within the allowed share of the lead: not refused.
    comparisons["holdout"] = compared(0.97, 1.0, (-0.06, 0.01), lead=0.5)
    assert decide(gate, {}, comparisons).promote is True
    comparisons["holdout"] = compared(0.96, 1.0, (-0.06, -0.02), lead=0.5)
    assert decide(gate, {}, comparisons).promote is False
    lenient = TaskGate(metric="f1_macro", max_holdout_drop=0.1)  # 0.1 * 0.5 = 0.05
    assert decide(lenient, {}, comparisons).promote is True


def test_lower_is_better_metrics_compare_the_right_way():
    assert improvement("rmse", 9.0, 10.0) == 1.0
    assert improvement("r2", 0.6, 0.5) == pytest.approx(0.1)
    gate = TaskGate(metric="rmse", thresholds={"rmse": Bound(max=50)})
    assert decide(gate, {"rmse": 60.0}, {"baseline": BEATS_BASELINE}).promote is False
    assert decide(gate, {"rmse": 40.0}, {"baseline": BEATS_BASELINE}).promote is True


def test_a_missing_metric_fails_its_threshold():
    gate = TaskGate(metric="f1_macro", thresholds={"roc_auc": Bound(min=0.5)})
    assert decide(gate, {"f1_macro": 1.0}, {"baseline": BEATS_BASELINE}).promote is False


def test_unknown_gate_metric_fails_at_config_load(params):
    params["gate"]["regression"]["metric"] = "mape"
    with pytest.raises(PipelineError, match=r"gate: .*unknown regression metrics \['mape'\]"):
        parse_config(params)


def _history(*steps: str) -> list[dict[str, str]]:
    """Events as promote and rollback record them ("2" promotes v2, "-2" rolls back to
    it), each naming the champion before it."""
    events, champion = [], ""
    for step in steps:
        version = step.lstrip("-")
        action = "rollback" if step.startswith("-") else "promote"
        events.append({"action": action, "version": version, "previous": champion})
        champion = version
    return events


def test_champion_line_replays_promotions_and_rollbacks():
    events = _history("1", "2", "4", "-2")
    assert champion_line(events) == ["1", "2"]
    assert rollback_target(events, "2") == "1"
    assert rollback_target(_history("1", "2", "4", "-2", "-1"), "1") is None


def test_rollback_to_a_version_never_champion_then_back():
    events = _history("1", "-3")
    assert champion_line(events) == ["1", "3"]
    assert rollback_target(events, "3") == "1"


def test_history_that_disagrees_with_the_alias_gives_no_target():
    assert rollback_target(_history("1", "2"), "5") is None
    assert rollback_target([], "1") is None


def test_an_event_that_breaks_the_history_is_where_the_replay_starts():
    """The sweep's forgery: a run tagged as a promotion of v2 (never champion), added
    among the real ones. Wherever it sits, rollback never goes to v2."""
    real = _history("1", "3", "4")
    forged = {"action": "promote", "version": "2", "previous": "1"}
    assert rollback_target([*real[:2], forged, real[2]], "4") is None  # 4 follows 3, not 2
    assert rollback_target([real[0], forged, *real[1:]], "4") == "3"  # 3 follows 1, not 2
    first = {"action": "promote", "version": "2", "previous": ""}
    assert rollback_target([first, *real], "4") == "3"
    assert rollback_target([*real, forged], "4") is None  # the alias is not at v2
    by_hand = [*_history("1", "3"), {"action": "promote", "version": "5", "previous": "7"}]
    assert rollback_target(by_hand, "5") is None  # v7 was crowned by hand: no history


def test_a_decision_reads_back_from_its_json_unchanged():
    comparisons = {
        "baseline": BEATS_BASELINE,
        "champion": compared(0.70, 0.45, (0.2, 0.3)),
        "holdout": compared(0.31, 1.0, (-0.75, -0.6), lead=0.5, rows=114),
    }
    for decision in [
        decide(GATE, {"accuracy": 0.79}, comparisons),
        decide(GATE, {}, {"baseline": BEATS_BASELINE}),
        already_champion("3"),
    ]:
        again = Decision.model_validate(decision.as_json())
        assert again == decision and again.reasons() == decision.reasons()
    kinds = [type(c).__name__ for c in decide(GATE, {}, comparisons).checks]
    assert kinds == ["Threshold", "Baseline", "Improvement", "Holdout"]


def test_a_candidate_refused_as_not_comparable_keeps_its_own_checks_for_review():
    """Refused as incomparable, the report had no numbers: the reviewer who crowns it by
    hand saw neither its thresholds nor its lead over the trivial model."""
    alone = decide(GATE, {"accuracy": 0.79}, {"baseline": BEATS_BASELINE})
    refused = not_comparable("champion v1 reads columns the data no longer has: ['c']", alone)
    assert refused.promote is False and refused.failed() == ["comparable", "threshold:accuracy"]
    checks = [c.check for c in refused.checks]
    assert checks == ["comparable", "threshold:accuracy", "baseline:f1_macro"]
    assert refused.check("baseline").passed
    assert Decision.model_validate(refused.as_json()) == refused


def test_a_version_rolled_back_stays_so_until_crowned_again():
    from mlops_template.core.champion_history import rolled_back

    def event(action, version, previous):
        return {"action": action, "version": version, "previous": previous, "actor": "ci"}

    events = [event("promote", "1", ""), event("promote", "2", "1"), event("rollback", "1", "2")]
    assert rolled_back(events, "2") == events[2]
    assert rolled_back(events, "1") is None  # it is the champion the rollback went to
    assert rolled_back(events, "3") is None  # never champion
    again = [*events, event("rollback", "2", "1")]  # `rollback --to 2`: trusted again
    assert rolled_back(again, "2") is None
    assert rolled_back(again, "1") == again[3]
