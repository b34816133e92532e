from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from pydantic import ValidationError

from mlops_template.config import Features
from mlops_template.config.model import (
    HistGradientBoostingModel,
    LinearModel,
    RandomForestModel,
    SklearnModel,
)
from mlops_template.core.estimators import (
    build_estimator,
    check_estimators,
    check_model_fits_target,
)
from mlops_template.core.models import build_pipeline
from mlops_template.errors import PipelineError

from .conftest import REPO

# A model added as one file: conf/model/extra_trees.yaml, as it ships.
EXTRA_TREES = SklearnModel(
    **yaml.safe_load((REPO / "conf/model/extra_trees.yaml").read_text(encoding="utf-8"))
)

MODELS = [
    LinearModel(type="linear"),
    RandomForestModel(type="random_forest", n_estimators=10),
    HistGradientBoostingModel(type="hist_gradient_boosting", max_iter=10, min_samples_leaf=2),
    EXTRA_TREES.model_copy(update={"params": {**EXTRA_TREES.params, "n_estimators": 10}}),
]
TASKS = ["classification", "regression"]


def training_frame() -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    rng = np.random.default_rng(0)
    n = 40
    x = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "colour": pd.Series(rng.choice(["red", "blue", "green"], size=n), dtype="str"),
        }
    )
    x.loc[[1, 5, 9], "size"] = np.nan
    x.loc[[2, 6], "colour"] = np.nan
    labels = pd.Series(np.where(x["size"].fillna(0) > 0, "yes", "no"))
    values = x["size"].fillna(0) * 2 + (x["colour"] == "red")
    return x, labels, values


NEW_ROWS = pd.DataFrame(
    {"size": [0.5, np.nan, -2.0], "colour": pd.Series(["purple", None, "red"], dtype="str")}
)


def fit_predict(model, task, seed=0):
    x, labels, values = training_frame()
    pipeline = build_pipeline(
        model, Features(), task=task, numeric=["size"], categorical=["colour"], seed=seed
    )
    pipeline.fit(x, labels if task == "classification" else values)
    return pipeline, pipeline.predict(NEW_ROWS)


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.type)
def test_fits_and_predicts_unseen_category(model, task):
    pipeline, predicted = fit_predict(model, task)
    assert len(predicted) == len(NEW_ROWS)
    if task == "classification":
        assert set(predicted) <= {"yes", "no"}
        proba = pipeline.predict_proba(NEW_ROWS)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    else:
        assert np.isfinite(predicted).all()


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.type)
def test_same_seed_same_predictions(model, task):
    _, first = fit_predict(model, task, seed=5)
    _, second = fit_predict(model, task, seed=5)
    np.testing.assert_array_equal(first, second)


def test_estimator_follows_config():
    model = RandomForestModel(type="random_forest", n_estimators=7, max_depth=3)
    pipeline, _ = fit_predict(model, "regression", seed=11)
    forest = pipeline.named_steps["model"]
    assert type(forest).__name__ == "RandomForestRegressor"
    assert (forest.n_estimators, forest.max_depth, forest.random_state) == (7, 3, 11)
    linear = fit_predict(LinearModel(type="linear", alpha=4.0), "classification")[0]
    assert linear.named_steps["model"].C == 0.25


def test_scaling_can_be_turned_off():
    x, labels, _ = training_frame()
    kwargs = {"task": "classification", "numeric": ["size"], "categorical": ["colour"], "seed": 0}
    scaled = build_pipeline(LinearModel(type="linear"), Features(), **kwargs)
    raw = build_pipeline(LinearModel(type="linear"), Features(scale_numeric=False), **kwargs)
    out_scaled = scaled.fit(x, labels)[:-1].transform(x)
    out_raw = raw.fit(x, labels)[:-1].transform(x)
    assert abs(out_scaled[:, 0].mean()) < 1e-9
    np.testing.assert_allclose(out_raw[:, 0], x["size"].fillna(x["size"].median()))


def estimator(model, task):
    return build_pipeline(
        model, Features(), task=task, numeric=["size"], categorical=["colour"], seed=0
    ).named_steps["model"]


HGB = HistGradientBoostingModel(type="hist_gradient_boosting")


@pytest.mark.parametrize("task", TASKS)
def test_early_stopping_keys_reach_the_booster(task):
    model = HGB.model_copy(update={"validation_fraction": 0.25, "n_iter_no_change": 3})
    params = estimator(model, task).get_params()
    assert (params["early_stopping"], params["validation_fraction"]) == (True, 0.25)
    assert params["n_iter_no_change"] == 3
    off = estimator(HGB.model_copy(update={"early_stopping": False}), task)
    assert off.get_params()["early_stopping"] is False


def test_early_stopping_stops_on_training_rows_only():
    x, _labels, _ = training_frame()
    noise = pd.Series(np.random.default_rng(1).choice(["yes", "no"], size=len(x)))
    model = HGB.model_copy(update={"min_samples_leaf": 2, "n_iter_no_change": 2})
    pipeline = build_pipeline(
        model, Features(), task="classification", numeric=["size"], categorical=["colour"], seed=0
    ).fit(x, noise)
    assert pipeline.named_steps["model"].n_iter_ < model.max_iter


@pytest.mark.parametrize(
    "model",
    [
        LinearModel(type="linear", class_weight="balanced"),
        RandomForestModel(type="random_forest", class_weight="balanced_subsample"),
        HGB.model_copy(update={"class_weight": "balanced"}),
    ],
    ids=lambda m: m.type,
)
def test_class_weight_goes_to_classifiers_only(model):
    assert estimator(model, "classification").class_weight == model.class_weight
    assert "class_weight" not in estimator(model, "regression").get_params()


def test_loss_goes_to_regressors_only():
    forest = RandomForestModel(type="random_forest", loss="absolute_error")
    assert estimator(forest, "regression").criterion == "absolute_error"
    assert estimator(forest, "classification").criterion == "gini"
    assert estimator(RandomForestModel(type="random_forest"), "regression").criterion == (
        "squared_error"
    )
    boosted = HGB.model_copy(update={"loss": "quantile", "quantile": 0.9})
    regressor = estimator(boosted, "regression")
    assert (regressor.loss, regressor.quantile) == ("quantile", 0.9)
    assert estimator(boosted, "classification").loss == "log_loss"


def test_quantile_only_with_its_loss():
    with pytest.raises(ValidationError, match=r"model\.quantile is set if and only if"):
        HistGradientBoostingModel(type="hist_gradient_boosting", loss="quantile")
    with pytest.raises(ValidationError, match=r"model\.quantile is set if and only if"):
        HistGradientBoostingModel(type="hist_gradient_boosting", quantile=0.5)


@pytest.mark.parametrize(
    ("model", "values", "fits"),
    [
        (HGB.model_copy(update={"loss": "poisson"}), [0, 3, 1], True),
        (HGB.model_copy(update={"loss": "poisson"}), [0, -3, 1], False),
        (HGB.model_copy(update={"loss": "poisson"}), [0, 0, 0], False),
        (RandomForestModel(type="random_forest", loss="poisson"), [2.5, -0.5], False),
        (HGB.model_copy(update={"loss": "gamma"}), [0.5, 2.0], True),
        (HGB.model_copy(update={"loss": "gamma"}), [0.0, 2.0], False),
        (HGB.model_copy(update={"loss": "absolute_error"}), [-4.0, 2.0], True),
    ],
)
def test_loss_must_fit_the_target(model, values, fits):
    y = pd.Series(values, name="claims")
    if fits:
        check_model_fits_target(model, "regression", y)
        return
    with pytest.raises(PipelineError, match=rf"model\.loss={model.loss} needs .* 'claims'"):
        check_model_fits_target(model, "regression", y)


def test_poisson_loss_trains_on_counts():
    x, _, values = training_frame()
    counts = (values - values.min()).round()
    model = HGB.model_copy(update={"loss": "poisson", "min_samples_leaf": 2})
    check_model_fits_target(model, "regression", counts)
    pipeline = build_pipeline(
        model, Features(), task="regression", numeric=["size"], categorical=["colour"], seed=0
    ).fit(x, counts)
    assert (pipeline.predict(NEW_ROWS) > 0).all()  # a log link predicts positive counts


def test_early_stopping_needs_a_stratifiable_hold_out():
    y = pd.Series(["a", "b", "c"] * 5 + ["a"])  # 16 rows: a 10 % hold-out has 2, < 3 classes
    with pytest.raises(PipelineError, match=r"model\.early_stopping=false"):
        check_model_fits_target(HGB, "classification", y)
    check_model_fits_target(
        HGB.model_copy(update={"validation_fraction": 0.2}), "classification", y
    )
    check_model_fits_target(HGB.model_copy(update={"early_stopping": False}), "classification", y)
    with pytest.raises(PipelineError, match="smallest class: 1 rows"):
        check_model_fits_target(HGB, "classification", pd.Series(["a"] * 30 + ["b"]))


def test_a_sklearn_model_is_its_class_with_its_params_and_the_seed():
    built = build_estimator(EXTRA_TREES, "regression", seed=7)
    assert type(built).__name__ == "ExtraTreesRegressor"
    assert built.n_estimators == 300 and built.min_samples_leaf == 2 and built.random_state == 7
    no_seed = SklearnModel(type="sklearn", classifier="sklearn.naive_bayes.GaussianNB")
    assert type(build_estimator(no_seed, "classification", seed=7)).__name__ == "GaussianNB"


@pytest.mark.parametrize(
    ("update", "task", "message"),
    [
        ({"params": {"n_trees": 3}}, "regression", "model.params: ['n_trees'] not parameters of"),
        (
            {"params": {"n_estimator": 3}},  # a typo: the name meant, not the whole list
            "regression",
            "ExtraTreesRegressor; did you mean 'n_estimators' for 'n_estimator'",
        ),
        ({"regressor": "sklearn.ensemble.NoSuchForest"}, "regression", "there is no sklearn"),
        ({"regressor": "sklearn.metrics.accuracy_score"}, "regression", "not an estimator"),
        ({"classifier": None}, "classification", "model.classifier is not set"),
        ({"params": {"n_estimators": 0}}, "regression", "ExtraTreesRegressor does not take"),
        (
            {"classifier": "sklearn.ensemble.StackingClassifier", "params": {}},
            "classification",
            "StackingClassifier does not take them",
        ),
        (
            {"classifier": "sklearn.preprocessing.StandardScaler", "params": {}},
            "classification",
            "StandardScaler is not a classifier",
        ),
        (
            {"classifier": "sklearn.linear_model.Ridge", "params": {}},
            "classification",
            "Ridge is not a classifier",
        ),
    ],
)
def test_a_sklearn_model_that_cannot_be_built_names_the_key(update, task, message):
    model = EXTRA_TREES.model_copy(update=update)
    with pytest.raises(PipelineError, match=re.escape(message)):
        check_model_fits_target(model, task, pd.Series([1.0, 2.0, 3.0]))


def test_check_estimators_looks_into_auto_candidates(params):
    from mlops_template.config import parse_config

    params["model"]["candidates"]["extra"] = {**EXTRA_TREES.model_dump(), "params": {"x": 1}}
    with pytest.raises(PipelineError, match=r"model\.candidates\.extra\.params"):
        check_estimators(parse_config(params).model)


def test_a_sklearn_model_names_an_estimator_by_its_path():
    with pytest.raises(ValidationError, match="classifier"):
        SklearnModel(type="sklearn", classifier="os.system")
    with pytest.raises(ValidationError, match="regressor or both"):
        SklearnModel(type="sklearn")


@pytest.mark.parametrize("keep_empty", [False, True])
@pytest.mark.parametrize("strategy", ["median", "mean"])
def test_numeric_imputer_gives_simple_imputers_values(strategy, keep_empty):
    """The fast median is scikit-learn's: odd and even counts, ties, a column with no
    values (dropped, or kept as zeros), and the other strategies passed through."""
    from sklearn.impute import SimpleImputer

    from mlops_template.core.learner_adapters import NumericImputer

    rng = np.random.default_rng(3)
    x = rng.normal(size=(1001, 5))
    x[rng.random(x.shape) < 0.2] = np.nan
    x[:, 1] = np.round(x[:, 1])  # many ties
    x[:, 2] = np.nan  # no values
    x[::2, 3] = np.nan  # an even count of values left
    settings = {"strategy": strategy, "keep_empty_features": keep_empty}
    ours, theirs = NumericImputer(**settings).fit(x), SimpleImputer(**settings).fit(x)
    np.testing.assert_array_equal(ours.statistics_, theirs.statistics_)
    np.testing.assert_array_equal(ours.transform(x), theirs.transform(x))


def test_nullable_integer_labels_are_learned_as_integers(params):
    """prepare writes class codes whose column had gaps as Int64; scikit-learn reads those
    as floats, and the model's classes were 0.0 and 1.0 ('proba_1.0', and labels of 1
    refused)."""
    from mlops_template.config import parse_config
    from mlops_template.core.models import model_for_rows

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=200)})
    frame["y"] = pd.array((frame["x"] > 0).astype(int), dtype="Int64")
    training = model_for_rows(parse_config(params), frame, "y", "classification")
    training.model.fit(training.features, training.y)
    assert training.model.classes_.tolist() == [0, 1]
    assert training.model.classes_.dtype.kind == "i"
