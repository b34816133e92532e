"""The `model` config group: one learner's settings per estimator (conf/model/), any
scikit-learn estimator by import path (`type: sklearn`), and model=auto's candidates."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, model_validator

from mlops_template.config.base import NOT_BOOL, PosInt, Share, Strict

Value = str | int | float | bool | None


class Space(Strict):
    """Where tune=optuna searches one setting: low..high (integers when both are; `log`
    samples on a log scale) or a list of `choices`."""

    low: Annotated[int | float, NOT_BOOL] | None = None
    high: Annotated[int | float, NOT_BOOL] | None = None
    log: bool = False
    choices: Annotated[list[Value], Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _a_range_or_choices(self) -> Space:
        if (self.choices is None) == (self.low is None or self.high is None):
            raise ValueError("give low and high, or choices")
        if self.choices is None and not self.low < self.high:  # type: ignore[operator]
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and not (self.choices is None and self.low > 0):  # type: ignore[operator]
            raise ValueError("log needs a range with low above 0")
        return self

    @property
    def integers(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def ends(self) -> list[Value]:
        """The values a setting must take for every point of the space to be valid."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


class Learner(Strict):
    """A learner's settings, and where tune=optuna searches them (conf/model/*.yaml)."""

    search: dict[str, Space] = {}

    @model_validator(mode="after")
    def _search_names_settings(self) -> Any:
        """Every searched key is a setting of this model, and both ends of its range are
        values the setting takes (a `type: sklearn` model's params are checked against
        its class by check_params, core/estimators.py)."""
        if "categorical" in self.search:
            raise ValueError(
                "search.categorical: how text columns are encoded is fixed for a search (its "
                "trials share the encoded rows); compare the two with dvc exp run "
                "-S model.categorical=native"
            )
        if getattr(self, "type", None) == "sklearn":
            return self
        settings = sorted(set(type(self).model_fields) - {"type", "search"})
        for key, space in self.search.items():
            if key not in settings:
                raise ValueError(f"search.{key} is not a setting of this model; it has {settings}")
            for value in space.ends():
                try:
                    type(self).model_validate(self.model_dump(exclude={"search"}) | {key: value})
                except ValidationError as err:
                    why = err.errors()[0]["msg"]
                    message = f"search.{key}: {value!r} is not a value it takes: {why}"
                    raise ValueError(message) from None
        return self

    def with_settings(self, settings: dict[str, Any]) -> Any:
        """This config with some settings changed (a `type: sklearn` model's go to its
        params), validated."""
        if getattr(self, "type", None) == "sklearn":
            return self.model_copy(update={"params": self.params | settings})  # type: ignore[attr-defined]
        return type(self).model_validate(self.model_dump() | settings)

    def setting(self, key: str) -> Any:
        if getattr(self, "type", None) == "sklearn":
            return self.params.get(key)  # type: ignore[attr-defined]
        return getattr(self, key)


# class_weight applies to classifiers only and loss to regressors only: each model's
# build_estimator passes a key to the estimator of the task it belongs to.
class LinearModel(Learner):
    type: Literal["linear"]
    alpha: Annotated[float, NOT_BOOL, Field(gt=0)] = 1.0
    max_iter: PosInt = 1000
    class_weight: Literal["balanced"] | None = None


class RandomForestModel(Learner):
    type: Literal["random_forest"]
    n_estimators: PosInt = 200
    max_depth: PosInt | None = None
    min_samples_leaf: PosInt = 1
    max_features: Literal["sqrt", "log2"] | Share | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    loss: Literal["squared_error", "absolute_error", "poisson"] | None = None


class HistGradientBoostingModel(Learner):
    type: Literal["hist_gradient_boosting"]
    learning_rate: Share = 0.1
    max_iter: PosInt = 100
    max_leaf_nodes: Annotated[int, NOT_BOOL, Field(ge=2)] | None = 31
    max_depth: PosInt | None = None
    min_samples_leaf: PosInt = 20
    l2_regularization: Annotated[float, NOT_BOOL, Field(ge=0)] = 0.0
    early_stopping: bool = True
    validation_fraction: Annotated[float, NOT_BOOL, Field(gt=0, lt=1)] = 0.1
    n_iter_no_change: PosInt = 10
    categorical: Literal["onehot", "native"] = "onehot"
    class_weight: Literal["balanced"] | None = None
    loss: Literal["squared_error", "absolute_error", "poisson", "gamma", "quantile"] | None = None
    quantile: Annotated[float, NOT_BOOL, Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _quantile_with_its_loss(self) -> HistGradientBoostingModel:
        if (self.loss == "quantile") != (self.quantile is not None):
            raise ValueError("model.quantile is set if and only if model.loss=quantile")
        return self


class EarlyStop(Strict):
    """LightGBM's and XGBoost's rounds stop when the loss on `validation_fraction` of the
    training rows has not improved for `rounds` rounds (core/learner_adapters.py)."""

    validation_fraction: Annotated[float, NOT_BOOL, Field(gt=0, lt=1)] = 0.1
    rounds: PosInt = 20


# The packages whose estimators a `type: sklearn` model may name: their models are saved
# with skops and loaded by the types io/model_file.py trusts.
# And this package: a class of the project's own (docs/experiments.md, "A class of your own").
LEARNER_PACKAGES = ("sklearn", "lightgbm", "xgboost", "mlops_template")
SklearnPath = Annotated[str, Field(pattern=rf"^({'|'.join(LEARNER_PACKAGES)})(\.[A-Za-z_]\w*)+$")]


class SklearnModel(Learner):
    """Any estimator with scikit-learn's API from scikit-learn, LightGBM or XGBoost, named
    by its import path: adding a model is one YAML file in conf/model/ (README, "Add a
    model"). `params` go to the estimator as they are; random_state comes from train.seed
    where the estimator takes one. The class and its params are checked by check_params
    and before training (core/estimators.py). `categorical: native` hands text columns to the
    learner as categoricals, for learners that split them natively."""

    type: Literal["sklearn"]
    classifier: SklearnPath | None = None
    regressor: SklearnPath | None = None
    params: dict[str, str | int | float | bool | None] = {}
    categorical: Literal["onehot", "native"] = "onehot"
    early_stopping: EarlyStop | None = None

    @model_validator(mode="after")
    def _stops_early_where_it_can(self) -> SklearnModel:
        paths = [p for p in (self.classifier, self.regressor) if p is not None]
        if self.early_stopping and not all(p.startswith(("lightgbm.", "xgboost.")) for p in paths):
            raise ValueError(
                "early_stopping is for LightGBM's and XGBoost's estimators; scikit-learn's "
                "take their own (params.early_stopping, params.n_iter_no_change)"
            )
        return self

    @model_validator(mode="after")
    def _an_estimator(self) -> SklearnModel:
        if self.classifier is None and self.regressor is None:
            raise ValueError("set model.classifier, model.regressor or both")
        return self


# One learner with its settings.
Estimator = Annotated[
    LinearModel | RandomForestModel | HistGradientBoostingModel | SklearnModel,
    Field(discriminator="type"),
]


class AutoModel(Strict):
    """model=auto: the candidate with the best cross-validated gate metric on the
    training rows (core/model_selection.py); each candidate is a full model config."""

    type: Literal["auto"]
    candidates: Annotated[dict[str, Estimator], Field(min_length=1)]


Model = Annotated[
    LinearModel | RandomForestModel | HistGradientBoostingModel | SklearnModel | AutoModel,
    Field(discriminator="type"),
]
