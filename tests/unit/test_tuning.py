"""tune=optuna: a search on the training rows only, whose result train writes, logs and
a person keeps."""

from __future__ import annotations

import json
import shutil
from importlib import import_module

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.pipeline import Pipeline

from mlops_template.compose import compose_text
from mlops_template.config import parse_config
from mlops_template.core import models
from mlops_template.core.split import split_frame
from mlops_template.core.tuning import COMPLETE
from mlops_template.errors import PipelineError
from mlops_template.experiments import tuned_overrides
from mlops_template.io.datasets import load_source
from mlops_template.io.model_file import load_model
from mlops_template.stages.runner import run_stage
from tests.helpers.mlflow_store import empty_store, use_store
from tests.helpers.template import example_conf, template_text

from .conftest import REPO

SEEN: list[pd.DataFrame] = []  # every frame a recording step was given (clones share it)


class Recording(TransformerMixin, BaseEstimator):
    """Passes rows through, keeping a copy of each frame it fits on or transforms."""

    def fit(self, x: pd.DataFrame, y: object = None) -> Recording:
        SEEN.append(x.copy())
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        SEEN.append(x.copy())
        return x


def composed(*overrides: str) -> dict:
    return yaml.safe_load(template_text(*overrides))


def fingerprints(frame: pd.DataFrame) -> set[int]:
    """Each row by its content: the same values, the same number."""
    return set(pd.util.hash_pandas_object(frame, index=False).tolist())


def test_the_search_never_sees_a_test_row(monkeypatch):
    """Every frame any trial, fold, choice or final fit was given holds training rows
    only, and all of them together are the training rows: the test rows are never read."""
    cfg = parse_config(composed("data=breast_cancer", "tune=optuna", "tune.trials=6"))
    frame = load_source(cfg.data, cfg.read)
    target = cfg.data.target
    train, test = split_frame(frame, target, "classification", cfg.split)
    build = models.build_pipeline
    monkeypatch.setattr(
        models,
        "build_pipeline",
        lambda *a, **k: Pipeline([("record", Recording()), *build(*a, **k).steps]),
    )
    SEEN.clear()
    training = models.model_for_rows(cfg, train, target, "classification")
    training.model.fit(training.features, training.y)
    # Two learners searched; their trials share each fold's preprocessed rows, so every row
    # any estimator was given entered through the recording step first.
    assert len(training.searches) == 2 and len(SEEN) > 10
    features = [c for c in frame.columns if c != target]
    seen = set().union(*(fingerprints(x[features]) for x in SEEN))
    assert seen == fingerprints(train[features])
    assert not seen & fingerprints(test[features])


@pytest.fixture(scope="module")
def tuned_project(tmp_path_factory):
    """collect, validate, prepare and train run in process with tune=optuna on the
    bundled breast_cancer set, tracked in a temporary store."""
    root = tmp_path_factory.mktemp("tuned")
    example_conf(root)
    shutil.copy(REPO / "dvc.yaml", root)
    overrides = ["data=breast_cancer", "model=hist_gradient_boosting", "tune=optuna"]
    (root / "params.yaml").write_text(template_text(*overrides, "tune.trials=12"))
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
        monkeypatch.delenv("DVC_STAGE", raising=False)
        client = use_store(root, empty_store(tmp_path_factory), monkeypatch)
        for stage in ("collect", "validate", "prepare", "train"):
            run_stage(stage, import_module(f"mlops_template.stages.{stage}").run)
        yield root, client


def test_a_search_improves_the_cross_validated_score_and_writes_its_settings(tuned_project):
    root, client = tuned_project
    chosen = yaml.safe_load((root / "reports/tuned_params.yaml").read_text())
    space = parse_config(composed()).model.candidates["hist_gradient_boosting"].search
    assert set(chosen) == {f"model.{name}" for name in space}
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    runs = client.search_runs([experiment.experiment_id], max_results=200)
    (train,) = [r for r in runs if r.data.tags.get("pipeline.stage") == "train"]
    trials = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == train.info.run_id]
    assert len(trials) == 12 and all("fold_balanced_accuracy" in r.data.metrics for r in trials)
    assert {r.data.tags["tune.state"] for r in trials} <= {"complete", "pruned", "failed"}
    (own,) = [r for r in trials if r.data.tags.get("tune.own_settings") == "true"]
    scores = [
        r.data.metrics["cv_balanced_accuracy"]
        for r in trials
        if "cv_balanced_accuracy" in r.data.metrics
    ]
    best = json.loads((root / "reports/cv.json").read_text())["cv_balanced_accuracy"]
    assert best == pytest.approx(max(scores)) and best > own.data.metrics["cv_balanced_accuracy"]
    assert train.data.metrics["cv_balanced_accuracy"] == pytest.approx(best)
    assert {f"tuned.{key}": str(value) for key, value in chosen.items()} == {
        k: v for k, v in train.data.params.items() if k.startswith("tuned.")
    }
    # The model in models/ is the one with the chosen settings.
    estimator = load_model(root / "models/model.skops")[-1]
    assert {f"model.{k}": estimator.get_params()[k] for k in space} == chosen


def test_kept_settings_go_into_conf_and_compose_back(tuned_project, tmp_path):
    root, _ = tuned_project
    overrides = tuned_overrides(root / "reports/tuned_params.yaml")
    assert overrides and all(o.startswith("++model.") for o in overrides)
    example_conf(tmp_path)
    from mlops_template.conf_edits import params_command

    params_command(tmp_path, "set", ["model=hist_gradient_boosting", *overrides])
    kept = yaml.safe_load(compose_text(tmp_path, []))["model"]
    chosen = yaml.safe_load((root / "reports/tuned_params.yaml").read_text())
    assert {f"model.{k}": kept[k] for k in (c.split(".")[1] for c in chosen)} == chosen


def test_a_candidates_kept_settings_are_written_under_it(tmp_path):
    """model=auto's candidates come from its defaults list: a setting kept for one goes
    into conf/model/auto.yaml under candidates.<name>, which composes over the default."""
    example_conf(tmp_path)
    from mlops_template.conf_edits import params_command

    params_command(tmp_path, "set", ["model.candidates.linear.alpha=0.25"])
    assert (
        yaml.safe_load(compose_text(tmp_path, []))["model"]["candidates"]["linear"]["alpha"] == 0.25
    )


def test_keeping_a_search_chosen_in_conf_turns_the_search_off(tmp_path):
    """An applied tuning experiment leaves tune=optuna in conf/config.yaml: `tune keep`
    sets tune=none too, so the next `dvc repro` trains with the kept settings."""
    from mlops_template.conf_edits import params_command
    from mlops_template.experiments import keep_tuned

    example_conf(tmp_path)
    params_command(tmp_path, "set", ["tune=optuna"])
    (tmp_path / "tuned.yaml").write_text("model.candidates.linear.alpha: 0.5\n")
    kept = keep_tuned(tmp_path, tmp_path / "tuned.yaml")
    assert kept == ["++model.candidates.linear.alpha=0.5", "tune=none"]
    composed = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert composed["tune"]["method"] == "none"
    assert composed["model"]["candidates"]["linear"]["alpha"] == 0.5
    assert keep_tuned(tmp_path, tmp_path / "tuned.yaml") == kept[:1]  # tune=none already


def test_a_learners_searched_param_is_kept_even_where_its_params_lack_it(tmp_path):
    """LightGBM's searched reg_lambda is not in conf/model/lightgbm.yaml's params: kept
    with ++, it is added there, and composes back."""
    (tmp_path / "tuned.yaml").write_text("model.params.reg_lambda: 0.5\n")
    overrides = tuned_overrides(tmp_path / "tuned.yaml")
    assert overrides == ["++model.params.reg_lambda=0.5"]
    example_conf(tmp_path)
    from mlops_template.conf_edits import params_command

    params_command(tmp_path, "set", ["model=lightgbm", *overrides])
    assert yaml.safe_load(compose_text(tmp_path, []))["model"]["params"]["reg_lambda"] == 0.5


def test_keeping_a_search_run_on_another_model_than_conf_is_refused(tmp_path):
    from mlops_template.experiments import check_same_search

    example_conf(tmp_path)
    (tmp_path / "params.yaml").write_text(compose_text(tmp_path, ["model=lightgbm"]))
    with pytest.raises(PipelineError, match=r"not what conf/ composes to .*params set model="):
        check_same_search(tmp_path)
    (tmp_path / "params.yaml").write_text(compose_text(tmp_path, []))
    check_same_search(tmp_path)  # the same: nothing said


@pytest.mark.parametrize(
    ("override", "named"),
    [("data=wine", "data"), ("gate.classification.metric=accuracy", "gate.")],
)
def test_keeping_a_search_run_on_other_rows_or_another_metric_is_refused(tmp_path, override, named):
    """Settings found for another data set, or for another metric (`class_weight` went
    from balanced to null, and the cross-validated balanced accuracy fell 0.82 -> 0.73),
    were kept without a word."""
    from mlops_template.experiments import check_same_search

    example_conf(tmp_path)
    (tmp_path / "params.yaml").write_text(compose_text(tmp_path, [override]))
    with pytest.raises(PipelineError, match=rf"the search ran with other {named}.* params keep"):
        check_same_search(tmp_path)
    (tmp_path / "params.yaml").write_text(compose_text(tmp_path, ["tune=optuna"]))
    check_same_search(tmp_path)  # the search itself on: the same rows, model and metric


def _breast_cancer_search(model: str, *overrides: str):
    """The search of `model` (a config group choice) on breast_cancer's training rows, with
    its search space replaced by the `+model.search.` overrides."""
    chosen = composed("data=breast_cancer", model, "tune=optuna", "~model.search", *overrides)
    cfg = parse_config(chosen)
    frame = load_source(cfg.data, cfg.read)
    train, _ = split_frame(frame, cfg.data.target, "classification", cfg.split)
    (result,) = models.model_for_rows(cfg, train, cfg.data.target, "classification").searches
    return result


def test_a_search_stopped_by_its_timeout_says_so_in_cv_json():
    """Its score depends on how many trials the machine had time for: `exp best` ranked
    it beside complete searches without a word."""
    from mlops_template.core.tuning import cv_scores
    from mlops_template.metric_names import STOPPED_BY_TIME

    result = _breast_cancer_search(
        "model=linear",
        "tune.trials=500",
        "tune.timeout=1",
        "+model.search.alpha={low: 0.1, high: 10}",
    )
    assert result.stopped_by_time and len(result.trials) < 500
    assert "stopped by tune.timeout" in result.summary()
    said = cv_scores("roc_auc", result.best_score, result.stopped_by_time)
    assert said == {"cv_roc_auc": result.best_score, STOPPED_BY_TIME: True}
    assert STOPPED_BY_TIME not in cv_scores("roc_auc", 0.9)  # the bundled cv.json unchanged


def test_trials_a_library_refuses_fail_and_the_search_goes_on():
    """num_leaves=1 is a value LightGBM refuses when it trains: those trials fail, the
    others are scored, and the summary counts them."""
    result = _breast_cancer_search(
        "model=lightgbm", "tune.trials=8", "+model.search.num_leaves={choices: [1, 31]}"
    )
    failed = [t for t in result.trials if t.state == "failed"]
    assert failed and all(t.settings == {"num_leaves": 1} for t in failed)
    assert "model.search.params: lightgbm refused them while training" in failed[0].why
    assert any(t.state == COMPLETE and t.settings for t in result.trials)
    assert f"{len(failed)} failed)" in result.summary()


def test_settings_scikit_learn_refuses_together_fail_that_trial():
    """Each value alone passes the check (max_samples=0.5 is one extra trees takes), but
    not without bootstrap: the search crashed with scikit-learn's traceback."""
    result = _breast_cancer_search(
        "model=extra_trees",
        "model.params.n_estimators=10",
        "tune.trials=3",
        "+model.search.max_samples={low: 0.5, high: 0.9}",
    )
    assert [t.state for t in result.trials] == [COMPLETE, "failed", "failed"]
    assert result.trials[1].why.startswith(
        "model.search.params: scikit-learn refused them while training: `max_sample` cannot"
    )


def test_only_a_trial_puts_a_scikit_learn_error_down_to_its_settings():
    """Outside a search (the config's own training) a ValueError of scikit-learn's may be
    the data's ("the least populated class in y has only 1 member"): not blamed on them."""
    from sklearn.ensemble import ExtraTreesClassifier

    from mlops_template.core.learner_adapters import library_refusal

    with pytest.raises(ValueError) as raised:
        ExtraTreesClassifier(bootstrap=False, max_samples=0.5).fit([[0], [1]], [0, 1])
    assert library_refusal(raised.value, "model") is None
    said = str(library_refusal(raised.value, "model.search", sklearn=True))
    assert said.startswith("model.search.params: scikit-learn refused them while training")
    assert library_refusal(ValueError("ours"), "model.search", sklearn=True) is None


def test_a_search_of_a_setting_the_task_never_uses_is_refused():
    """loss is for regression: on a classification its trials were scored alike and
    logged with model.loss=poisson, as if it had been tried."""
    with pytest.raises(PipelineError, match=r"model.search.loss: a setting for regression only"):
        _breast_cancer_search(
            "model=hist_gradient_boosting", "+model.search.loss={choices: [poisson, gamma]}"
        )


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("kind", ["linear", "random_forest", "hist_gradient_boosting"])
def test_the_settings_said_to_be_one_tasks_are_those_its_estimator_alone_gets(kind, task):
    """TASK_ONLY, which refuses a search of a setting the task ignores, says what
    build_estimator does: a change of such a setting reaches the estimator of its task, and
    only that one."""
    from pydantic import TypeAdapter

    from mlops_template.config.model import Estimator
    from mlops_template.core.estimators import NOT_PARAMS, TASK_ONLY, build_estimator

    parse_model = TypeAdapter(Estimator).validate_python

    assert set(TASK_ONLY) == NOT_PARAMS - {"type", "search", "categorical"}
    changes = {
        "class_weight": ({}, {"class_weight": "balanced"}),
        "loss": ({}, {"loss": "absolute_error"}),
        "quantile": ({"loss": "quantile", "quantile": 0.5}, {"quantile": 0.9}),
    }
    fields = parse_model({"type": kind}).model_fields
    for name, (base, change) in changes.items():
        if name not in fields:
            continue
        before = parse_model({"type": kind, **base})
        after = parse_model({"type": kind, **base, **change})
        got = [build_estimator(m, task, seed=0).get_params() for m in (before, after)]
        assert (got[0] != got[1]) == (TASK_ONLY[name] == task), (name, got)


def test_the_encoding_of_text_columns_is_not_searched(params):
    params["model"] = composed("model=lightgbm")["model"]
    params["model"]["search"] = {"categorical": {"choices": ["onehot", "native"]}}
    with pytest.raises(PipelineError, match=r"search.categorical: how text columns are encoded"):
        parse_config(params)


def test_without_a_search_the_settings_file_says_so(tmp_path):
    (tmp_path / "tuned.yaml").write_text("# tune=none: no search ran\n{}\n")
    with pytest.raises(PipelineError, match=r"tuned.yaml holds no settings to keep: no search"):
        tuned_overrides(tmp_path / "tuned.yaml")


def test_a_search_that_beat_nothing_says_there_is_nothing_to_keep(tmp_path):
    """Its file said "Keep them ... with tune keep", which then said to run a search."""
    from mlops_template.core.tuning import tuned_params_text

    text = tuned_params_text((), "optuna")  # no settings chosen, as when none beat conf/'s
    assert "Nothing to keep" in text and "tune keep" not in text
    assert yaml.safe_load(text) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{{{\n", r"tuned.yaml: not YAML \("),
        ("model.search: {nosuch_param: 3}\n", r"tuned.yaml: not the settings a search writes"),
        ("- model.max_iter\n", r"tuned.yaml: not the settings a search writes"),
    ],
    ids=["not-yaml", "nested", "a-list"],
)
def test_a_settings_file_edited_out_of_shape_is_named(tmp_path, text, message):
    (tmp_path / "tuned.yaml").write_text(text)
    with pytest.raises(PipelineError, match=message):
        tuned_overrides(tmp_path / "tuned.yaml")
    (tmp_path / "tuned.yaml").write_text("model.max_depth: null\nmodel.max_iter: 50\n")
    assert tuned_overrides(tmp_path / "tuned.yaml") == [
        "++model.max_depth=null",
        "++model.max_iter=50",
    ]


@pytest.mark.parametrize(
    ("search", "message"),
    [
        ({"n_trees": {"low": 1, "high": 5}}, r"search\.n_trees is not a setting of this model"),
        ({"learning_rate": {"low": 0.1, "high": 2.0}}, r"search\.learning_rate: 2\.0 is not a"),
        ({"max_leaf_nodes": {"low": 9, "high": 3}}, r"low \(9\) must be below high \(3\)"),
        ({"l2_regularization": {"low": 0, "high": 1, "log": True}}, r"log needs a range"),
        ({"max_depth": {"low": 2}}, r"give low and high, or choices"),
    ],
)
def test_a_bad_search_space_is_named(params, search, message):
    params["model"] = composed("model=hist_gradient_boosting")["model"] | {"search": search}
    with pytest.raises(PipelineError, match=message):
        parse_config(params)


def test_a_sklearn_models_search_is_checked_against_its_class(params):
    from mlops_template.core.estimators import check_estimators

    params["model"] = composed("model=extra_trees")["model"]
    params["model"]["search"] = {"max_features": {"low": 0.1, "high": 3.5}}
    with pytest.raises(PipelineError, match=r"model\.search\.max_features=3\.5: "):
        check_estimators(parse_config(params).model)


def test_the_same_rows_and_seed_give_the_same_search():
    cfg = parse_config(composed("data=diabetes", "model=linear", "tune=optuna", "tune.trials=8"))
    frame = load_source(cfg.data, cfg.read)
    train, _ = split_frame(frame, cfg.data.target, "regression", cfg.split)
    first, second = (
        models.model_for_rows(cfg, train, cfg.data.target, "regression").searches for _ in range(2)
    )
    assert first == second
    assert first[0].trials[0].settings == {} and first[0].trials[0].state == COMPLETE
    assert np.isfinite(first[0].own_score)
