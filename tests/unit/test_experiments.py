"""`exp best`'s ranking of `dvc exp show --json` output: by the cross-validated score,
never the test metric, and the experiments without one named, not dropped silently."""

from __future__ import annotations

from mlops_template.experiments import Scored, scored_experiments

CV, METRICS = "reports/cv.json", "metrics.json"


def _experiment(name: str, cv: float | None, test: float) -> dict:
    metrics = {METRICS: {"data": {"rmse": test}}}
    if cv is not None:
        metrics[CV] = {"data": {"cv_rmse": cv}}
    return {"name": name, "revs": [{"rev": f"{name}0000000", "data": {"metrics": metrics}}]}


def test_experiments_are_ranked_by_cv_score_and_the_unscored_named():
    shown = [
        {"rev": "workspace"},  # the baseline rows hold no experiments
        {
            "experiments": [
                _experiment("wide", 60.2, 40.0),
                _experiment("one-model", None, 30.0),
                _experiment("narrow", 56.9, 50.0),
            ]
        },
    ]
    ranked, unscored = scored_experiments(shown, CV, "rmse", METRICS)
    # rmse: lower is better, and the better test score of `wide` does not count.
    assert ranked == [Scored("narrow", 56.9, 50.0), Scored("wide", 60.2, 40.0)]
    assert unscored == ["one-model"]
