"""The promotion gate's pure decision, and the champion history it leaves."""

from __future__ import annotations

import pytest

from mlops_template.config import Bound, TaskGate, parse_config
from mlops_template.core.champion_history import champion_line, rollback_target
from mlops_template.core.gate import decide, improvement, reasons
from mlops_template.errors import PipelineError

GATE = TaskGate(metric="f1_macro", min_improvement=0.01, thresholds={"accuracy": Bound(min=0.8)})


def test_first_candidate_needs_only_the_thresholds():
    assert decide(GATE, {"accuracy": 0.81, "f1_macro": 0.5}, None)["promote"] is True
    refused = decide(GATE, {"accuracy": 0.79, "f1_macro": 0.9}, None)
    assert refused["promote"] is False
    assert reasons(refused) == ["accuracy = 0.79 is outside min 0.8"]


def test_candidate_must_beat_the_champion_by_the_margin():
    champion = {"accuracy": 0.9, "f1_macro": 0.80}
    assert decide(GATE, {"accuracy": 0.9, "f1_macro": 0.815}, champion)["promote"] is True
    short = decide(GATE, {"accuracy": 0.9, "f1_macro": 0.805}, champion)
    assert short["promote"] is False
    (check,) = [c for c in short["checks"] if c["check"] == "improvement:f1_macro"]
    assert check["improvement"] == pytest.approx(0.005) and check["champion"] == 0.80


def test_a_tie_never_replaces_the_champion():
    gate = TaskGate(metric="f1_macro", min_improvement=0.0)
    same = {"f1_macro": 0.8}
    assert decide(gate, same, same)["promote"] is False


def test_lower_is_better_metrics_compare_the_right_way():
    assert improvement("rmse", 9.0, 10.0) == 1.0
    assert improvement("r2", 0.6, 0.5) == pytest.approx(0.1)
    gate = TaskGate(metric="rmse", thresholds={"rmse": Bound(max=50)})
    assert decide(gate, {"rmse": 40.0}, {"rmse": 45.0})["promote"] is True
    assert decide(gate, {"rmse": 46.0}, {"rmse": 45.0})["promote"] is False
    assert decide(gate, {"rmse": 60.0}, None)["promote"] is False


def test_a_missing_metric_fails_its_threshold():
    gate = TaskGate(metric="f1_macro", thresholds={"roc_auc": Bound(min=0.5)})
    assert decide(gate, {"f1_macro": 1.0}, None)["promote"] is False


def test_unknown_gate_metric_fails_at_config_load(params):
    params["gate"]["regression"]["metric"] = "mape"
    with pytest.raises(PipelineError, match=r"gate: .*unknown regression metrics \['mape'\]"):
        parse_config(params)


def _promote(version):
    return {"action": "promote", "version": version}


def _rollback(version):
    return {"action": "rollback", "version": version}


def test_champion_line_replays_promotions_and_rollbacks():
    events = [_promote("1"), _promote("2"), _promote("4"), _rollback("2")]
    assert champion_line(events) == ["1", "2"]
    assert rollback_target(events, "2") == "1"
    assert rollback_target([*events, _rollback("1")], "1") is None


def test_rollback_to_a_version_never_champion_then_back():
    events = [_promote("1"), _rollback("3")]
    assert champion_line(events) == ["1", "3"]
    assert rollback_target(events, "3") == "1"


def test_history_that_disagrees_with_the_alias_gives_no_target():
    assert rollback_target([_promote("1"), _promote("2")], "5") is None
    assert rollback_target([], "1") is None
