"""Shadow evidence: the served and shadow rows of each logged request paired and compared
where labels arrived (core/shadow.py), read from a real Delta log (io/shadow_rows.py), and
the live check promote adds with gate.shadow.use (core/gate.shadow_check)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops_template.config import Config
from mlops_template.config.release import Bootstrap, TaskGate
from mlops_template.core.bootstrap import Paired
from mlops_template.core.gate import decide, shadow_check
from mlops_template.core.gate_checks import NoShadow, Shadow
from mlops_template.core.shadow import TOO_FEW, compare, pair_rows
from mlops_template.errors import PipelineError
from mlops_template.io import labels_table, predictions_table, shadow_rows
from mlops_template.release.promote import live_check

NOISE = Bootstrap(samples=200, seed=0)
T0 = pd.Timestamp("2026-01-01", tz="UTC")


def logged(n: int, served: str, shadow: str, shadow_right: float, seed: int = 0):
    """n requests answered by `served` (right on 70 % of them) and scored in shadow by
    `shadow` (right on `shadow_right`), labels "yes"/"no", as the log holds them."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(["yes", "no"], n)
    flip = {"yes": "no", "no": "yes"}

    def guesses(share: float):
        right = rng.random(n) < share
        return [t if r else flip[t] for t, r in zip(truth, right, strict=True)]

    common = {
        "request_id": [f"r{i}" for i in range(n)],
        "row_number": [0] * n,
        "scored_at": [T0 + pd.Timedelta(seconds=i) for i in range(n)],
    }

    def rows(version: str, predictions: list[str], is_shadow: bool) -> pd.DataFrame:
        yes = [1.0 if p == "yes" else 0.0 for p in predictions]
        return pd.DataFrame(
            {
                **common,
                "prediction": predictions,
                "proba_no": [1 - p for p in yes],
                "proba_yes": yes,
                "model_version": version,
                "shadow": is_shadow,
            }
        )

    both = pd.concat([rows(served, guesses(0.7), False), rows(shadow, guesses(shadow_right), True)])
    return both.reset_index(drop=True), pd.Series(truth, index=common["request_id"])


def labelled(rows: pd.DataFrame, truth: pd.Series) -> pd.DataFrame:
    pairs = pair_rows(rows)
    return pairs.assign(label=truth.loc[pairs["request_id"]].to_numpy())


def test_each_request_pairs_its_two_rows_and_batch_rows_are_left_out():
    rows, _ = logged(5, "1", "2", 0.9)
    batch = rows.iloc[:3].assign(request_id=None, shadow=None)
    pairs = pair_rows(pd.concat([rows, batch]))
    assert pairs["request_id"].tolist() == [f"r{i}" for i in range(5)]
    assert set(pairs["model_version"]) == {"1"} and set(pairs["model_version_shadow"]) == {"2"}


def test_a_clearly_better_shadow_is_better_and_each_pair_of_versions_is_its_own():
    better, truth = logged(400, "1", "2", 0.95)
    worse, truth2 = logged(400, "1", "3", 0.3, seed=1)
    worse = worse.assign(request_id="w" + worse["request_id"])
    truth2.index = "w" + truth2.index
    found = compare(
        labelled(pd.concat([better, worse]), pd.concat([truth, truth2])),
        "balanced_accuracy",
        ["no", "yes"],
        NOISE,
        min_rows=30,
    )
    assert [(c.served_version, c.shadow_version, c.rows) for c in found] == [
        ("1", "2", 400),
        ("1", "3", 400),
    ]
    assert [c.verdict for c in found] == ["better", "worse"]
    assert found[0].paired.a > found[0].paired.b  # the shadow is `a`


def test_fewer_labelled_rows_than_asked_for_is_no_verdict():
    rows, truth = logged(20, "1", "2", 0.95)
    (found,) = compare(labelled(rows, truth), "accuracy", ["no", "yes"], NOISE, min_rows=30)
    assert found.paired is None and found.verdict == TOO_FEW
    assert found.as_json() == {
        "served_version": "1",
        "shadow_version": "2",
        "rows": 20,
        "verdict": TOO_FEW,
    }


def paired(verdict: str) -> Paired:
    interval = {"better": (0.01, 0.2), "worse": (-0.2, -0.01)}.get(verdict, (-0.05, 0.05))
    return Paired("accuracy", 100, 0.8, 0.75, 0.05, interval, verdict)


@pytest.mark.parametrize(
    ("require", "verdict", "passed"),
    [
        ("not_worse", "within noise", True),
        ("not_worse", "worse", False),
        ("better", "within noise", False),
        ("better", "better", True),
    ],
)
def test_the_live_check_requires_what_gate_shadow_says(require, verdict, passed):
    from mlops_template.core.shadow import ShadowComparison

    check = shadow_check(require, ShadowComparison("1", "2", 100, paired(verdict)), "1", "2")
    assert isinstance(check, Shadow) and check.passed is passed
    assert check.check == "shadow:accuracy" and check.served_version == "1"
    gate = TaskGate(metric="accuracy")
    baseline = Paired("accuracy", 100, 0.8, 0.5, 0.3, (0.2, 0.4), "better")
    decision = decide(gate, {}, {"baseline": baseline}, check)
    assert decision.promote is passed
    if not passed:
        (reason,) = decision.reasons()
        assert "answered by champion v1" in reason and verdict in reason


def test_no_live_evidence_refuses_and_says_how_to_get_it():
    from mlops_template.core.shadow import ShadowComparison

    never = shadow_check("not_worse", None, "1", None)
    assert isinstance(never, NoShadow) and not never.passed
    assert "the candidate (not registered yet)" in never.detail and "none logged" in never.detail
    few = shadow_check("not_worse", ShadowComparison("1", "2", 12, None), "1", "2")
    assert "only 12 labelled, fewer than gate.shadow.min_rows" in few.detail
    assert "serve.shadow=challenger" in few.detail


def write_log(table: str, rows: pd.DataFrame) -> None:
    schema = predictions_table.table_schema(["no", "yes"], [], [])
    full = rows.assign(model_name="m", model_alias=None, batch_hash=None)
    data = pa.Table.from_pandas(full, preserve_index=False).select(
        [n for n in schema.names if n in full]
    )
    predictions_table.append(table, data.schema, iter(data.to_batches()))


def write_labels(table: str, truth: pd.Series, first: int) -> None:
    frame = pd.DataFrame(
        {"key": "request_id", "id": truth.index[:first], "label": truth.to_numpy()[:first]}
    )
    labels_table.append(table, frame.assign(labelled_at=pd.NaT), "test", regression=False)


def test_the_log_gives_the_labelled_pairs_and_promote_the_candidate_check(params, tmp_path):
    log, labels = str(tmp_path / "log"), str(tmp_path / "labels")
    with pytest.raises(PipelineError, match="no predictions logged yet"):
        shadow_rows.read(log, labels)
    rows, truth = logged(300, "1", "2", 0.95)
    write_log(log, rows[~rows["shadow"]])
    with pytest.raises(PipelineError, match="no shadow rows logged"):
        shadow_rows.read(log, labels)
    write_log(log, rows[rows["shadow"]])
    write_labels(labels, truth, first=200)
    found = shadow_rows.read(log, labels)
    assert found.pairs == 300 and len(found.labelled) == 200
    assert found.classes == ["no", "yes"]
    assert (found.labelled["label"] == truth.iloc[:200].to_numpy()).all()

    gate = {**params["gate"], "shadow": {"use": True, "require": "better", "min_rows": 30}}
    settings = {
        **params,
        "gate": gate,
        "predict": {**params["predict"], "table": log},
        "monitor": {**params["monitor"], "labels_table": labels},
    }
    cfg = Config.model_validate(settings)
    check = live_check(cfg, "1", "2")
    assert isinstance(check, Shadow) and check.passed and check.rows == 200
    assert isinstance(live_check(cfg, "1", "3"), NoShadow)  # never shadowed
    nothing = Config.model_validate(
        {**settings, "predict": {**params["predict"], "table": str(tmp_path / "none")}}
    )
    refused = live_check(nothing, "1", "2")  # no log at all: a refusal
    assert isinstance(refused, NoShadow) and "no predictions logged yet" in refused.detail
    # Off as the project's conf/ may not have it (`params set gate.shadow.use=true`).
    shadow_off = {**params["gate"]["shadow"], "use": False}
    off = Config.model_validate({**settings, "gate": {**params["gate"], "shadow": shadow_off}})
    assert live_check(off, "1", "2") is None
    for part in Path(log).glob("*.parquet"):  # a damaged log is an error, not "no evidence"
        part.unlink()
    with pytest.raises(PipelineError, match=r"the Delta table cannot be read"):
        live_check(cfg, "1", "2")
