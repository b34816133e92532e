"""`exp best`'s ranking of `dvc exp show --json` output: by the cross-validated score,
never the test metric, and the experiments without one named, not dropped silently."""

from __future__ import annotations

from mlops_template.experiments import Scored, scored_experiments

CV, METRICS = "reports/cv.json", "metrics.json"


def _experiment(name: str, cv: float | None, test: float, state: str | None = None) -> dict:
    metrics = {METRICS: {"data": {"rmse": test}}}
    if cv is not None:
        metrics[CV] = {"data": {"cv_rmse": cv}}
    revision = {"rev": f"{name}0000000", "data": {"metrics": metrics}, "error": None}
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
    ranked, unscored = scored_experiments(shown, CV, "rmse", METRICS)
    # rmse: lower is better, and the better test score of `wide` does not count.
    assert ranked == [
        Scored("narrow", 56.9, 50.0),
        Scored("finished", 58.0, 45.0),
        Scored("wide", 60.2, 40.0),
    ]
    assert unscored == ["one-model", "broke (failed)", "waits (queued)"]
