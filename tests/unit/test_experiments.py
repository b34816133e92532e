"""`exp best`'s ranking of `dvc exp show --json` output: by the cross-validated score,
never the test metric, and the experiments without one named, not dropped silently."""

from __future__ import annotations

from mlops_template.experiments import Scored, scored_experiments

CV, METRICS, TRAIN = "reports/cv.json", "metrics.json", "data/prepared/train.parquet"


def _outs(rows: str) -> dict:
    return {TRAIN: {"hash": rows, "size": 100, "nfiles": None, "use_cache": True}}


def _experiment(
    name: str, cv: float | None, test: float, state: str | None = None, rows: str = "rows"
) -> dict:
    metrics = {METRICS: {"data": {"rmse": test}}}
    if cv is not None:
        metrics[CV] = {"data": {"cv_rmse": cv}}
    data = {"metrics": metrics, "outs": _outs(rows)}
    revision = {"rev": f"{name}0000000", "data": data, "error": None}
    if state == "failed":  # as `dvc exp show --json` shows one: the baseline's metrics
        revision["error"] = {"msg": "Experiment run failed", "type": ""}
    executor = {"state": state, "name": None, "local": {}} if state else None
    return {"name": name, "executor": executor, "revs": [revision]}


def test_experiments_are_ranked_by_cv_score_and_the_unscored_named():
    shown = [
        {"rev": "workspace"},  # the baseline rows hold no experiments
        {
            "experiments": [
                _experiment("wide", 60.2, 40.0),
                _experiment("one-model", None, 30.0),
                _experiment("narrow", 56.9, 50.0),
                _experiment("finished", 58.0, 45.0, "success"),
                _experiment("broke", 1.0, 45.0, "failed"),  # its baseline's scores
                _experiment("waits", 1.0, 45.0, "queued"),
            ]
        },
    ]
    ranked, unscored = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    # rmse: lower is better, and the better test score of `wide` does not count.
    assert ranked == [
        Scored("narrow", 56.9, 50.0),
        Scored("finished", 58.0, 45.0),
        Scored("wide", 60.2, 40.0),
    ]
    assert unscored == ["one-model", "broke (failed)", "waits (queued)"]


def test_experiments_trained_on_other_rows_than_their_commit_are_left_out():
    grid = [_experiment("alpha-1", 55.0, 50.0), _experiment("other-data", 10.0, 9.0, rows="b")]
    shown = [{"rev": "workspace"}, {"data": {"outs": _outs("rows")}, "experiments": grid}]
    ranked, unscored = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    assert ranked == [Scored("alpha-1", 55.0, 50.0)]
    assert unscored == ["other-data (other training data)"]
    # A commit with no training rows locked: nothing to compare with, all are ranked.
    shown[1]["data"] = {}
    ranked, unscored = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    assert [s.name for s in ranked] == ["other-data", "alpha-1"] and unscored == []


def test_the_commits_own_score_is_ranked_and_wins_a_tie():
    """`exp best --apply` applied the best experiment even where the commit's own settings
    scored better: a worse model, and conf/ rewritten for it."""
    grid = [_experiment("alpha-1", 10.07, 9.0), _experiment("alpha-2", 10.0, 9.5)]
    committed = {"metrics": {CV: {"data": {"cv_rmse": 10.0}}, METRICS: {"data": {"rmse": 9.9}}}}
    shown = [{"rev": "workspace"}, {"rev": "abc1234f", "name": "main", "data": committed}]
    shown[1]["experiments"] = grid
    ranked, _ = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    assert ranked == [
        Scored("main (committed)", 10.0, 9.9, committed=True),  # a tie: no reason to change
        Scored("alpha-2", 10.0, 9.5),
        Scored("alpha-1", 10.07, 9.0),
    ]
    shown[1]["data"]["metrics"][CV]["data"]["cv_rmse"] = 10.01
    ranked, _ = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    assert [s.name for s in ranked] == ["alpha-2", "main (committed)", "alpha-1"]
    # Without a commit of its own (a detached run, a first commit): named by its rev.
    del shown[1]["name"]
    ranked, _ = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    assert "abc1234 (committed)" in [s.name for s in ranked]


def test_a_search_stopped_by_its_timeout_is_marked():
    """A search that ran out of tune.timeout tried what the machine had time for: its
    score is ranked, and marked so."""
    from mlops_template.metric_names import STOPPED_BY_TIME

    timed = _experiment("timed", 55.0, 50.0)
    timed["revs"][0]["data"]["metrics"][CV]["data"][STOPPED_BY_TIME] = True
    shown = [{"rev": "workspace"}, {"experiments": [timed, _experiment("full", 56.0, 50.0)]}]
    ranked, _ = scored_experiments(shown, CV, "rmse", METRICS, TRAIN)
    assert ranked == [
        Scored("timed", 55.0, 50.0, stopped_by_time=True),
        Scored("full", 56.0, 50.0),
    ]
