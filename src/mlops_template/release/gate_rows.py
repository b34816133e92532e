"""What the gate compares on: rows no compared model trained on, and each model's
outputs there.

- Evaluation rows: the candidate's test rows without any row the champion trained on
  (a re-split or added data must never let the champion be judged on its training rows).
- Held-out rows: the test data the champion was judged on (its registry version records
  the md5; read from the DVC cache) without any row the candidate trained on.
Rows are matched by value (core/row_ids.py): the `split.key` column, else the features.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from mlops_template.config import Config
from mlops_template.config.release import TaskGate
from mlops_template.core import bootstrap as bs
from mlops_template.core.evaluation import Scored, score
from mlops_template.core.gate import decide, not_comparable
from mlops_template.core.gate_checks import Decision, NoShadow, Shadow
from mlops_template.core.row_ids import seen, shared_identity
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io import model_versions
from mlops_template.io.model_versions import ModelRef, RegisteredVersion
from mlops_template.metric_names import improvement

ROWS_COLUMN = "gate.comparison"


class Incomparable(PipelineError):
    """The champion cannot be scored on the rows the gate compares on."""


@dataclass(frozen=True)
class Champion:
    """The champion the gate compares against, with the data its lineage names."""

    version: RegisteredVersion
    train: pd.DataFrame  # the rows it trained on
    test: pd.DataFrame  # the rows it was judged on

    @property
    def model(self) -> Any:
        return self.version.model

    @property
    def label(self) -> str:
        return f"champion v{self.version.ref.version}"


@dataclass(frozen=True)
class Compared:
    """What the gate decides on: paired comparisons, candidate first (`baseline` against
    the trivial model; with a champion, `champion` on rows neither trained on and
    `holdout` on the champion's own held-out rows), each model's metrics, and the rows."""

    comparisons: dict[str, bs.Paired]
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    rows: dict[str, int]  # how many: evaluation, test, excluded_..., champion_holdout
    compared: pd.DataFrame  # the rows, each marked by what it was used for (ROWS_COLUMN)


def load_champion(client: Any, ref: ModelRef) -> Champion:
    version = model_versions.load_version(client, ref)
    return Champion(version, version.data("train"), version.data("test"))


def _identity(cfg: Config, schema: TrainingSchema, frames: list[pd.DataFrame]) -> list[str]:
    """core/row_ids.shared_identity of the candidate's features; Incomparable if none."""
    columns = shared_identity(cfg.split.key, schema.features, frames)
    if not columns:
        raise Incomparable(
            "the champion's data has none of the candidate's columns: the data changed entirely"
        )
    return columns


def _outputs(model: Any, rows: pd.DataFrame, schema: TrainingSchema, who: str) -> Scored:
    try:
        return score(model, rows, schema)
    except (KeyError, ValueError) as err:
        raise PipelineError(f"{who} cannot score the evaluation data ({err})") from None


def _champion_outputs(champion: Champion, rows: pd.DataFrame) -> Scored:
    """The champion's outputs on its own columns; Incomparable where it cannot be scored."""
    schema = champion.version.schema
    try:
        return _outputs(champion.model, rows, schema, champion.label)
    except PipelineError as err:
        if gone := [c for c in [*schema.features, schema.target.name] if c not in rows]:
            raise Incomparable(
                f"{champion.label} reads columns the data no longer has: {gone[:10]}"
            ) from None
        raise Incomparable(str(err)) from None


def compare(
    cfg: Config,
    schema: TrainingSchema,
    *,
    candidate: Any,
    train: pd.DataFrame,
    test: pd.DataFrame,
    champion: Champion | None,
    candidate_test_md5: str,
) -> Compared:
    """Paired comparisons (candidate first), the metrics behind them, and the rows used."""
    task, target = schema.task, schema.target.name
    metric = getattr(cfg.gate, task).metric
    noise = cfg.gate.bootstrap
    rows, excluded = test, 0
    if champion is not None:
        identity = _identity(cfg, schema, [test, champion.train])
        trained = seen(test, champion.train, identity, schema.dates)
        rows, excluded = test[~trained], int(trained.sum())
        if rows.empty and identity not in ([cfg.split.key], schema.features):
            raise Incomparable(
                f"every row of {cfg.paths.test} matches one the champion trained on by the "
                f"columns both have, {identity[:10]}: without the columns added since, "
                "they cannot be told apart (a split.key would)"
            )
    if rows.empty:
        raise PipelineError(
            f"every row of {cfg.paths.test} is in the champion's training data: nothing is "
            "left to judge the candidate on; add new labelled data"
        )
    y = rows[target].reset_index(drop=True)
    scored = _outputs(candidate, rows, schema, "the candidate")
    mine = scored.outputs
    baseline = bs.paired(metric, y, mine, bs.trivial_outputs(train[target], len(rows), task), noise)
    counts = {
        "evaluation": len(rows),
        "test": len(test),
        "excluded_champion_training_rows": excluded,
    }
    compared = [rows.assign(**{ROWS_COLUMN: "evaluation"})]
    if champion is None:
        return Compared({"baseline": baseline}, scored.metrics, None, counts, compared[0])
    theirs = _champion_outputs(champion, rows)
    versus = bs.paired(metric, y, mine, theirs.outputs, noise)
    comparisons = {
        "baseline": baseline,
        "champion": versus.with_lead(improvement(metric, versus.b, baseline.b)),
    }
    if champion.version.data_md5("test") != candidate_test_md5:
        held, holdout = _holdout(cfg, schema, candidate, train, champion, noise=noise)
        if holdout is not None:
            comparisons["holdout"] = holdout
        counts["champion_holdout"] = len(held)
        compared.append(held.assign(**{ROWS_COLUMN: "champion_holdout"}))
    rows_used = pd.concat(compared, ignore_index=True) if len(compared) > 1 else compared[0]
    return Compared(comparisons, scored.metrics, theirs.metrics, counts, rows_used)


def judge(
    compare_with: Callable[..., Compared],
    gate: TaskGate,
    champion: Champion | None,
    live: Callable[[], Shadow | NoShadow | None],
) -> tuple[Compared, Decision]:
    """The rows compared and the decision: `compare_with` is `compare` bound to all but the
    champion; `live` gives the shadow check, asked for only when a champion was compared.
    A champion that cannot be scored refuses the candidate, which is still judged alone
    (its thresholds and baseline) for the person who may crown it by hand."""
    try:
        result = compare_with(champion=champion)
        return result, decide(
            gate, result.candidate_metrics, result.comparisons, live() if champion else None
        )
    except Incomparable as err:
        result = compare_with(champion=None)
        alone = decide(gate, result.candidate_metrics, result.comparisons)
        return result, not_comparable(str(err), alone)


def _holdout(cfg, schema, candidate, train, champion, *, noise):
    """The candidate against the champion on the rows the champion was judged on."""
    target = schema.target.name
    metric = getattr(cfg.gate, schema.task).metric
    held = champion.test
    if lacking := [c for c in schema.features if c not in held]:
        print(
            f"note: the champion's held-out rows lack the candidate's columns {lacking[:10]} "
            "(added to the data since): the candidate is compared with it on the "
            "evaluation rows only",
            file=sys.stderr,
        )
        return held.iloc[:0], None
    held = held[~seen(held, train, _identity(cfg, schema, [held, train]), schema.dates)]
    if held.empty:
        return held, None
    y = held[target].reset_index(drop=True)
    mine = _outputs(candidate, held, schema, "the candidate").outputs
    theirs = _champion_outputs(champion, held).outputs
    versus = bs.paired(metric, y, mine, theirs, noise)
    trivial = bs.trivial_outputs(champion.train[target], len(held), schema.task)
    return held, versus.with_lead(
        improvement(metric, versus.b, bs.metric_value(metric, y, trivial))
    )
