"""The model: preprocessing and estimator in one scikit-learn pipeline.

Serving gets raw columns, so imputation, scaling and encoding live inside the model.
"""

from __future__ import annotations

import importlib
import math
from typing import Any, NamedTuple

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from mlops_template.config import Config, Features
from mlops_template.config.model import (
    AutoModel,
    Estimator,
    HistGradientBoostingModel,
    LinearModel,
    RandomForestModel,
    SklearnModel,
)
from mlops_template.core.cross_validation import threads_for
from mlops_template.core.learner_adapters import (
    UNKNOWN,
    AsCategories,
    EarlyStopping,
    EncodedLabels,
    SafeNames,
)
from mlops_template.core.model_selection import Selection, select
from mlops_template.core.raw_rows import RawRows, date_features
from mlops_template.core.tuning import Search, tuned
from mlops_template.errors import PipelineError

MISSING_CATEGORY = "__missing__"


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
            f"{key}.params: {unknown} not parameters of {name}; it takes {sorted(known)}"
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


def build_preprocessor(
    features: Features,
    numeric: list[str],
    categorical: list[str],
    native: bool = False,
    levels: int | None = None,
) -> ColumnTransformer | Pipeline:
    """Imputed (and scaled) numbers; text one-hot encoded, or with `native`, as
    categoricals for a learner that splits them itself (a frame, not an array).
    `levels`: the most values a text column has in the training rows, if known. Only a
    column with more than `features.max_categories` needs the cap, and scikit-learn
    counts every value in Python to apply one (2 s of 1e6 rows); below it the encoding
    is the same without."""
    cap = features.max_categories
    if cap is not None and levels is not None and levels <= cap:
        cap = None
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy=features.numeric_imputer))
    ]
    if features.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    encode: list[tuple[str, Any]] = [
        (
            "encode",
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=cap,
                sparse_output=False,
            ),
        )
    ]
    if native:
        codes = OrdinalEncoder(
            handle_unknown="use_encoded_value",
            unknown_value=UNKNOWN,
            max_categories=cap,
        )
        encode = [("encode", codes), ("as_categories", AsCategories())]
    impute = ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY))
    transformer = ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            ("categorical", Pipeline([impute, *encode]), categorical),
        ],
        verbose_feature_names_out=False,
    )
    if not native:
        return transformer
    return Pipeline(
        [("columns", transformer.set_output(transform="pandas")), ("names", SafeNames())]
    )


def build_pipeline(
    model: Estimator,
    features: Features,
    *,
    task: str,
    numeric: list[str],
    categorical: list[str],
    seed: int,
    boolean: tuple[str, ...] = (),
    infinity: str = "error",
    dates: tuple[str, ...] = (),
    levels: int | None = None,
) -> Pipeline:
    """Read raw rows by the contract (core/raw_rows.py), preprocess, then the estimator:
    the model takes raw columns on every path, REST and Spark included. A date column
    reaches the preprocessing as its numeric parts."""
    derived = [f for name in dates for f in date_features(name)]
    return Pipeline(
        [
            ("read", RawRows(tuple(numeric), tuple(categorical), boolean, infinity, dates)),
            (
                "preprocess",
                build_preprocessor(
                    features,
                    [*numeric, *derived],
                    categorical,
                    native=getattr(model, "categorical", "onehot") == "native",
                    levels=levels,
                ),
            ),
            ("model", build_estimator(model, task, seed)),
        ]
    )


class Training(NamedTuple):
    """The configured model for some training rows, the features and labels to fit it on,
    the schema they give, the model config it was built from (with the settings a search
    chose), how model=auto chose it, and the searches. The model is unfitted, except where
    model=auto chose on a hold-out split: then it is the chosen candidate as fitted there
    (`selection.fitted`)."""

    model: Pipeline
    features: pd.DataFrame
    y: pd.Series
    schema: dict[str, Any]
    config: Estimator
    selection: Selection | None
    searches: tuple[Search, ...] = ()


def model_for_rows(cfg: Config, frame: pd.DataFrame, target: str, task: str) -> Training:
    """The model train fits on these rows. The split key identifies rows; it is never a
    feature. With tune=optuna, each learner's settings searched first; with model=auto,
    the candidate that cross-validates best on these rows."""
    from mlops_template.core.row_ids import row_ids
    from mlops_template.core.schema import infer_schema
    from mlops_template.core.split import identity_columns

    features = frame.drop(columns=[target, *([cfg.split.key] if cfg.split.key else [])])
    y = frame[target]
    schema = infer_schema(features, y, task)
    numeric, categorical = schema.names("numeric"), schema.names("categorical")
    # The most values of a text column, a missing one counting as one (it is a category).
    levels = max((len(c.categories or []) + c.nullable for c in schema.columns), default=0)

    def pipeline_for(key: str, model: Estimator, target_values: pd.Series) -> Pipeline:
        check_model_fits_target(model, task, target_values, key)
        return build_pipeline(
            model,
            cfg.features,
            task=task,
            numeric=numeric,
            categorical=categorical,
            seed=cfg.train.seed,
            boolean=schema.booleans,
            infinity=cfg.read.infinity,
            dates=schema.dates,
            levels=levels,
        )

    ids = row_ids(frame, identity_columns(frame, target, cfg.split.key))
    with threads_for(len(y)):
        if isinstance(cfg.model, AutoModel):
            candidates = {f"model.candidates.{n}": c for n, c in cfg.model.candidates.items()}
        else:
            candidates = {"model": cfg.model}
        searches = ()
        if cfg.tune.method == "optuna":
            candidates, searches = tuned(
                cfg, candidates, pipeline_for, features, y, ids=ids, task=task
            )
        if not isinstance(cfg.model, AutoModel):
            model = pipeline_for("model", candidates["model"], y)
            return Training(model, features, y, schema, candidates["model"], None, searches)
        auto = cfg.model.model_copy(
            update={"candidates": {k.rpartition(".")[2]: c for k, c in candidates.items()}}
        )
        selection = select(
            auto,
            lambda name, model, values: pipeline_for(f"model.candidates.{name}", model, values),
            features,
            y,
            ids=ids,
            task=task,
            metric=getattr(cfg.gate, task).metric,
            seed=cfg.train.seed,
            cv=cfg.train.cv,
            noise=cfg.gate.bootstrap,
        )
    chosen = auto.candidates[selection.chosen]
    model = selection.fitted or pipeline_for(f"model.candidates.{selection.chosen}", chosen, y)
    return Training(model, features, y, schema, chosen, selection, searches)
