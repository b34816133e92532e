"""The learner of a model: its estimator built from its config, and the checks that it
can take its params and train on a target (before any work, naming the config key).

Any estimator with scikit-learn's API from scikit-learn, LightGBM or XGBoost is named by
import path (`type: sklearn`); the rest are typed configs (config/model.py).
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import pandas as pd
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from mlops_template.config.model import (
    Estimator,
    HistGradientBoostingModel,
    LinearModel,
    RandomForestModel,
    SklearnModel,
)
from mlops_template.core.learner_adapters import EarlyStopping, EncodedLabels
from mlops_template.errors import PipelineError

# Tree models: their other config keys are the estimator's own parameter names.
TREE_ESTIMATORS = {
    "random_forest": (RandomForestClassifier, RandomForestRegressor),
    "hist_gradient_boosting": (HistGradientBoostingClassifier, HistGradientBoostingRegressor),
}
# Keys that are not the estimator's: the type, search space and how it reads text columns,
# and keys that belong to one task only (_task_params maps them for the task at hand).
NOT_PARAMS = {"type", "search", "categorical", "class_weight", "loss", "quantile"}


def build_estimator(model: Estimator, task: str, seed: int) -> Any:
    classify = task == "classification"
    if isinstance(model, SklearnModel):
        cls = sklearn_class(model, task)
        params = dict(model.params)
        if "random_state" in cls().get_params():
            params.setdefault("random_state", seed)
        estimator = cls(**params)
        if (stop := model.early_stopping) is not None:  # it maps labels to codes itself
            return EarlyStopping(estimator, stop.validation_fraction, stop.rounds, seed)
        if classify and cls.__module__.startswith("xgboost"):  # it takes classes 0..n-1 only
            return EncodedLabels(estimator)
        return estimator
    if isinstance(model, LinearModel):
        if classify:
            return LogisticRegression(
                C=1.0 / model.alpha, max_iter=model.max_iter, class_weight=model.class_weight
            )
        return Ridge(alpha=model.alpha, max_iter=model.max_iter)
    classifier, regressor = TREE_ESTIMATORS[model.type]
    cls = classifier if classify else regressor
    params = model.model_dump(exclude=NOT_PARAMS) | _task_params(model, classify)
    return cls(**params, random_state=seed)


def sklearn_class(model: SklearnModel, task: str, key: str = "model") -> type:
    """The estimator class a `type: sklearn` model names for the task; an error naming
    the key when there is none, it does not import, is not an estimator of the task, or
    its params are not the class's own or not values it takes."""
    from sklearn.base import is_classifier, is_regressor

    field = "classifier" if task == "classification" else "regressor"
    path = getattr(model, field)
    if path is None:
        raise PipelineError(f"{key}.{field} is not set: this model has no {task} estimator")
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise PipelineError(f"{key}.{field}: there is no {path}") from None
    if not (isinstance(cls, type) and hasattr(cls, "fit") and hasattr(cls, "_get_param_names")):
        raise PipelineError(f"{key}.{field}: {path} is not an estimator")
    known = library_params(cls)
    if known is not None and (unknown := sorted(set(model.params) - known)):
        raise PipelineError(
            f"{key}.params: {unknown} not parameters of {name}; {_nearest(unknown, known)}"
        )
    try:
        estimator = cls(**model.params)
        if hasattr(estimator, "_parameter_constraints"):
            estimator._validate_params()  # scikit-learn's own check of each value
    except (TypeError, ValueError) as err:  # InvalidParameterError is a ValueError
        reason = str(err).splitlines()[0]
        raise PipelineError(f"{key}.params: {name} does not take them: {reason}") from None
    if not (is_classifier if field == "classifier" else is_regressor)(estimator):
        raise PipelineError(f"{key}.{field}: {path} is not a {field}")
    return cls


def library_params(cls: type) -> set[str] | None:
    """The parameter names an estimator class takes: scikit-learn's own, XGBoost's
    estimator's (its sklearn API lists them all), LightGBM's with every parameter and alias
    of the library (which its estimators pass on); None where the list is not to be had."""
    if cls.__module__.startswith("xgboost"):
        return set(cls().get_params())
    if cls.__module__.startswith("lightgbm"):
        try:  # the library's own list, from its compiled part (a private helper)
            from lightgbm.basic import _ConfigAliases

            every = _ConfigAliases._get_all_param_aliases()
        except (ImportError, AttributeError):
            return None
        return set(cls._get_param_names()) | {n for names in every.values() for n in names}
    return set(cls._get_param_names())


def check_estimators(model: Any, key: str = "model") -> None:
    """Every `type: sklearn` estimator in a model config imports and takes its params."""
    for name, candidate in getattr(model, "candidates", {}).items():
        check_estimators(candidate, f"{key}.candidates.{name}")
    if isinstance(model, SklearnModel):
        for task, path in [("classification", model.classifier), ("regression", model.regressor)]:
            if path is not None:
                sklearn_class(model, task, key)
                for name, space in model.search.items():  # each end of each range
                    for value in space.ends():
                        try:
                            sklearn_class(model.with_settings({name: value}), task, key)
                        except PipelineError as err:
                            raise PipelineError(f"{key}.search.{name}={value!r}: {err}") from None


def _task_params(model: RandomForestModel | HistGradientBoostingModel, classify: bool) -> dict:
    """class_weight goes to classifiers, loss to regressors (a forest calls it criterion)."""
    if classify:
        return {"class_weight": model.class_weight}
    loss = model.loss or "squared_error"
    if isinstance(model, RandomForestModel):
        return {"criterion": loss}
    return {"loss": loss, "quantile": model.quantile}


# The settings one task's estimators never get (_task_params): a search of one changed
# nothing, and its trials were logged with it as if it had. test_tuning holds it to
# build_estimator.
TASK_ONLY = {"class_weight": "classification", "loss": "regression", "quantile": "regression"}


def check_search_fits_task(model: Estimator, task: str, key: str) -> None:
    """A search of a setting the task's estimator never gets is refused, naming it."""
    if isinstance(model, SklearnModel):  # its params go to the task's class as they are
        return
    if ignored := [name for name in model.search if TASK_ONLY.get(name, task) != task]:
        raise PipelineError(
            f"{key}.search.{ignored[0]}: a setting for {TASK_ONLY[ignored[0]]} only, and this "
            f"is {task}: searching it changes nothing; remove it (-S '~{key}.search."
            f"{ignored[0]}')"
        )


def check_model_fits_target(model: Estimator, task: str, y: pd.Series, key: str = "model") -> None:
    """Raise PipelineError, naming the key (`key` is where `model` sits in the config),
    if the model cannot train on this target.

    sklearn would fail deep inside fit with a message that names neither the key nor
    the fix: a loss outside its target's range, or an early-stopping hold-out too small
    to stratify.
    """
    if isinstance(model, SklearnModel):
        sklearn_class(model, task, key)
    values = y.dropna()
    loss = getattr(model, "loss", None)
    if task == "regression" and loss in ("poisson", "gamma"):
        if loss == "gamma":
            fits, needs = bool((values > 0).all()), "positive"
        else:
            fits, needs = bool((values >= 0).all() and values.sum() > 0), "non-negative, not all 0,"
        if not fits:
            raise PipelineError(
                f"{key}.loss={loss} needs a {needs} target; '{y.name}' has values from "
                f"{values.min():g} to {values.max():g} (use {key}.loss=squared_error or "
                "absolute_error)"
            )
    if (
        task == "classification"
        and isinstance(model, HistGradientBoostingModel)
        and model.early_stopping
    ):
        # sklearn holds out a stratified validation_fraction: every class needs a row on
        # each side, and so at least two training rows.
        counts = values.value_counts()
        held_out = math.ceil(model.validation_fraction * len(values))
        if counts.min() < 2 or held_out < len(counts) or len(values) - held_out < len(counts):
            raise PipelineError(
                f"{key}.early_stopping: cannot hold out {key}.validation_fraction="
                f"{model.validation_fraction} of {len(values)} training rows with a row of "
                f"each of {len(counts)} classes (smallest class: {counts.min()} rows); set "
                f"{key}.early_stopping=false or {key}.validation_fraction higher, or add data"
            )


def _nearest(unknown: list[str], known: set[str]) -> str:
    """The names meant, where close (LightGBM and XGBoost take hundreds: the whole list
    hides them); else the whole list."""
    import difflib

    meant = {u: difflib.get_close_matches(u, known, n=1) for u in unknown}
    if all(meant.values()):
        return "did you mean " + ", ".join(f"{m[0]!r} for {u!r}" for u, m in meant.items())
    return f"it takes {sorted(known)}"
