"""The `model` config group: one learner's settings per estimator (conf/model/), any
scikit-learn estimator by import path (`type: sklearn`), and model=auto's candidates."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from mlops_template.config.base import PosInt, Strict


# class_weight applies to classifiers only and loss to regressors only: each model's
# build_estimator passes a key to the estimator of the task it belongs to.
class LinearModel(Strict):
    type: Literal["linear"]
    alpha: Annotated[float, Field(gt=0)] = 1.0
    max_iter: PosInt = 1000
    class_weight: Literal["balanced"] | None = None


class RandomForestModel(Strict):
    type: Literal["random_forest"]
    n_estimators: PosInt = 200
    max_depth: PosInt | None = None
    min_samples_leaf: PosInt = 1
    max_features: Literal["sqrt", "log2"] | Annotated[float, Field(gt=0, le=1)] | None = "sqrt"
    class_weight: Literal["balanced", "balanced_subsample"] | None = None
    loss: Literal["squared_error", "absolute_error", "poisson"] | None = None


class HistGradientBoostingModel(Strict):
    type: Literal["hist_gradient_boosting"]
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 0.1
    max_iter: PosInt = 200
    max_leaf_nodes: Annotated[int, Field(ge=2)] | None = 31
    max_depth: PosInt | None = None
    min_samples_leaf: PosInt = 20
    l2_regularization: Annotated[float, Field(ge=0)] = 0.0
    early_stopping: bool = True
    validation_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.1
    n_iter_no_change: PosInt = 10
    class_weight: Literal["balanced"] | None = None
    loss: Literal["squared_error", "absolute_error", "poisson", "gamma", "quantile"] | None = None
    quantile: Annotated[float, Field(gt=0, lt=1)] | None = None

    @model_validator(mode="after")
    def _quantile_with_its_loss(self) -> HistGradientBoostingModel:
        if (self.loss == "quantile") != (self.quantile is not None):
            raise ValueError("model.quantile is set if and only if model.loss=quantile")
        return self


SklearnPath = Annotated[str, Field(pattern=r"^sklearn(\.[A-Za-z_]\w*)+$")]


class SklearnModel(Strict):
    """Any scikit-learn estimator, named by its import path: adding a model is one YAML
    file in conf/model/ (README, "Add a model"). `params` go to the estimator as they
    are; random_state comes from train.seed where the estimator takes one. The class and
    its params are checked by check_params and before training (core/models.py)."""

    type: Literal["sklearn"]
    classifier: SklearnPath | None = None
    regressor: SklearnPath | None = None
    params: dict[str, str | int | float | bool | None] = {}

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
