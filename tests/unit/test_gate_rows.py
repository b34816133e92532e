"""The rows the gate judges on (release/gate_rows.py), in process: the champion is never
judged on rows it trained on, nor the candidate on its own training rows."""

from __future__ import annotations

import re
from functools import partial

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Config
from mlops_template.config.release import Bound
from mlops_template.core.schema import infer_schema
from mlops_template.errors import PipelineError
from mlops_template.io.model_versions import ModelRef, RegisteredVersion
from mlops_template.release.gate_rows import (
    ROWS_COLUMN,
    Champion,
    Incomparable,
    compare,
    judge,
)
from tests.helpers.models import linear_classifier


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "id": [f"r{seed}-{i}" for i in range(n)],
            "x": x,
            "c": rng.choice(["a", "b"], n),
            "y": (x + rng.normal(scale=0.5, size=n) > 0).astype("int64"),
        }
    )


TRAIN, TEST, OLD_TEST = _rows(200, 1), _rows(100, 2), _rows(80, 3)
SCHEMA = infer_schema(TRAIN[["x", "c"]], TRAIN["y"], "classification")


def _fit(frame: pd.DataFrame):
    return linear_classifier(frame[["x", "c"]], frame["y"], numeric=["x"], categorical=["c"])


CANDIDATE = _fit(TRAIN)


@pytest.fixture
def cfg(params) -> Config:
    params["gate"]["bootstrap"]["samples"] = 200  # enough for the shapes checked here
    return Config.model_validate(params)


def _champion(train: pd.DataFrame, test: pd.DataFrame = OLD_TEST, md5: str = "old") -> Champion:
    return _as_champion(_fit(train), train, test, md5)


def _as_champion(model, train: pd.DataFrame, test: pd.DataFrame, md5: str) -> Champion:
    version = RegisteredVersion(ModelRef("m", "1", "champion"), model, SCHEMA, {"test_md5": md5})
    return Champion(version, train, test)


def _compare(cfg: Config, champion: Champion | None, test: pd.DataFrame = TEST):
    return compare(
        cfg,
        SCHEMA,
        candidate=CANDIDATE,
        train=TRAIN,
        test=test,
        champion=champion,
        candidate_test_md5="new",
    )


def test_without_a_champion_every_test_row_counts(cfg):
    result = _compare(cfg, None)
    assert result.rows == {"evaluation": 100, "test": 100, "excluded_champion_training_rows": 0}
    assert set(result.comparisons) == {"baseline"}
    assert result.champion_metrics is None
    assert result.comparisons["baseline"].rows == 100


def test_rows_the_champion_trained_on_are_left_out(cfg):
    """A re-split gave the candidate's test set 30 rows the champion trained on (matched
    by value: the features, no key configured)."""
    champion_train = pd.concat([TRAIN.iloc[:150], TEST.iloc[:30]], ignore_index=True)
    result = _compare(cfg, _champion(champion_train, md5="new"))
    assert result.rows["excluded_champion_training_rows"] == 30
    assert result.rows["evaluation"] == 70
    evaluated = result.compared
    assert set(evaluated["id"]) == set(TEST["id"].iloc[30:])
    assert set(evaluated[ROWS_COLUMN]) == {"evaluation"}
    assert result.comparisons["champion"].rows == 70
    assert "holdout" not in result.comparisons  # judged on the same test data


def test_the_split_key_identifies_rows_when_configured(params):
    """With split.key, a row is the champion's by its key, whatever its features now."""
    params["split"]["key"] = "id"
    params["gate"]["bootstrap"]["samples"] = 200
    cfg = Config.model_validate(params)
    relabelled = TEST.iloc[:10].assign(x=TEST["x"].iloc[:10] + 100)  # same ids, new values
    champion_train = pd.concat([TRAIN, relabelled], ignore_index=True)
    result = _compare(cfg, _champion(champion_train, md5="new"))
    assert result.rows["excluded_champion_training_rows"] == 10


def test_a_test_set_the_champion_trained_on_entirely_is_refused(cfg):
    with pytest.raises(PipelineError, match=r"every row of .* is in the champion.s training"):
        _compare(cfg, _champion(pd.concat([TRAIN, TEST], ignore_index=True)))


def test_the_champions_own_held_out_rows_without_the_candidates_training_rows(cfg):
    """Another test set than the champion's: the candidate is also compared on the rows
    the champion was judged on, less any the candidate trained on."""
    old_test = pd.concat([OLD_TEST, TRAIN.iloc[:20]], ignore_index=True)
    result = _compare(cfg, _champion(TRAIN.iloc[100:], test=old_test))
    assert result.rows["champion_holdout"] == 80
    held = result.compared[result.compared[ROWS_COLUMN] == "champion_holdout"]
    assert set(held["id"]) == set(OLD_TEST["id"])
    assert result.comparisons["holdout"].rows == 80
    assert result.comparisons["holdout"].lead is not None


def test_a_column_added_to_the_data_since_the_champion_is_compared(cfg, capsys):
    """The champion read x alone; the data gained c. It is scored on its own columns, rows
    are matched on the columns both have, and its held-out rows, which lack c, are left
    out with a note: promote refused ("the data's columns changed") and nothing could be
    promoted."""
    before = _rows(200, 4).drop(columns="c")
    model = linear_classifier(before[["x"]], before["y"], numeric=["x"], categorical=[])
    schema = infer_schema(before[["x"]], before["y"], "classification")
    version = RegisteredVersion(ModelRef("m", "1", "champion"), model, schema, {"test_md5": "old"})
    champion = Champion(version, before, OLD_TEST.drop(columns="c"))
    result = _compare(cfg, champion)
    assert set(result.comparisons) == {"baseline", "champion"}
    assert result.rows["champion_holdout"] == 0 and result.comparisons["champion"].rows == 100
    assert "held-out rows lack the candidate's columns ['c']" in capsys.readouterr().err


def test_a_column_the_champion_needs_gone_from_the_data_is_a_clear_error(cfg):
    """The candidate's data lost c, which the champion reads: it cannot be compared."""
    without = TRAIN.drop(columns="c")
    model = linear_classifier(without[["x"]], without["y"], numeric=["x"], categorical=[])
    schema = infer_schema(without[["x"]], without["y"], "classification")
    champion = _as_champion(CANDIDATE, TRAIN.iloc[:0], OLD_TEST, "new")
    compare_with = partial(
        compare,
        cfg,
        schema,
        candidate=model,
        train=without,
        test=TEST.drop(columns="c"),
        candidate_test_md5="new",
    )
    gone = r"champion v1 reads columns the data no longer has: \['c'\]"
    with pytest.raises(Incomparable, match=gone):
        compare_with(champion=champion)
    # promote's judgement: refused, and the candidate judged alone for a person's review
    # (its metrics, threshold and baseline checks); the live check is never asked for.
    gate = cfg.gate.classification.model_copy(update={"thresholds": {"accuracy": Bound(min=0.5)}})
    asked = []
    result, decision = judge(compare_with, gate, champion, lambda: asked.append(1))
    assert not decision.promote and not asked
    assert [c.check for c in decision.checks] == [
        "comparable",
        "threshold:accuracy",
        f"baseline:{gate.metric}",  # a project's own metric too
    ]
    assert re.fullmatch(gone, decision.checks[0].detail)
    assert decision.checks[1].passed and decision.checks[2].passed  # x alone predicts y
    assert result.champion_metrics is None and result.rows["evaluation"] == len(TEST)
    assert set(result.candidate_metrics) >= {"accuracy", gate.metric}


def test_a_comparable_champion_is_judged_with_the_live_check(cfg):
    asked = []
    result, decision = judge(
        partial(_compare, cfg), cfg.gate.classification, _champion(TRAIN), lambda: asked.append(1)
    )
    assert asked == [1] and "champion" in result.comparisons
    metric = cfg.gate.classification.metric
    assert f"improvement:{metric}" in [c.check for c in decision.checks]


def test_a_class_the_champion_never_learned_counts_against_it(cfg):
    """The data gained a class since the champion: the champion, which gives it no
    probability, is wrong on its rows, as in use; the gate failed ("the data's columns
    changed") and nothing could be promoted."""
    gained = lambda frame: frame.assign(y=np.where(frame["x"] > 1, 2, frame["y"]))  # noqa: E731
    train, test = gained(TRAIN), gained(TEST)
    schema = infer_schema(train[["x", "c"]], train["y"], "classification")
    champion = _champion(_rows(200, 4))  # trained on classes 0 and 1 alone
    result = compare(
        cfg,
        schema,
        candidate=_fit(train),
        train=train,
        test=test,
        champion=champion,
        candidate_test_md5="new",
    )
    versus = result.comparisons["champion"]
    assert versus.rows == 100 and versus.a > versus.b and versus.verdict == "better"
    assert result.champion_metrics["log_loss"] > 5 * result.candidate_metrics["log_loss"]
    assert set(result.comparisons) == {"baseline", "champion", "holdout"}


def test_rows_told_apart_only_by_a_column_added_since_are_not_comparable(cfg):
    """The champion read c alone (two values); matched on c, every test row looked like
    one it trained on, and promote stopped ("add new labelled data")."""
    before = TRAIN.drop(columns="x")
    model = linear_classifier(before[["c"]], before["y"], numeric=[], categorical=["c"])
    schema = infer_schema(before[["c"]], before["y"], "classification")
    version = RegisteredVersion(ModelRef("m", "1", "champion"), model, schema, {"test_md5": "new"})
    with pytest.raises(
        Incomparable, match=r"matches one the champion trained on by the columns both have, \['c'\]"
    ):
        _compare(cfg, Champion(version, before, OLD_TEST.drop(columns="x")))
