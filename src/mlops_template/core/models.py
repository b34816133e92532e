"""The model: preprocessing and estimator in one scikit-learn pipeline.

Serving gets raw columns, so imputation, scaling and encoding live inside the model.
"""

from __future__ import annotations

from typing import Any

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
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_template.config import (
    Features,
    HistGradientBoostingModel,
    LinearModel,
    Model,
    RandomForestModel,
)

MISSING_CATEGORY = "__missing__"


def build_estimator(model: Model, task: str, seed: int) -> Any:
    classify = task == "classification"
    if isinstance(model, LinearModel):
        if classify:
            return LogisticRegression(C=1.0 / model.alpha, max_iter=model.max_iter)
        return Ridge(alpha=model.alpha, max_iter=model.max_iter)
    if isinstance(model, RandomForestModel):
        cls = RandomForestClassifier if classify else RandomForestRegressor
        return cls(
            n_estimators=model.n_estimators,
            max_depth=model.max_depth,
            min_samples_leaf=model.min_samples_leaf,
            max_features=model.max_features,
            random_state=seed,
        )
    if isinstance(model, HistGradientBoostingModel):
        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(
            learning_rate=model.learning_rate,
            max_iter=model.max_iter,
            max_leaf_nodes=model.max_leaf_nodes,
            max_depth=model.max_depth,
            min_samples_leaf=model.min_samples_leaf,
            l2_regularization=model.l2_regularization,
            random_state=seed,
        )
    raise TypeError(f"unknown model config {type(model).__name__}")


def build_preprocessor(
    features: Features, numeric: list[str], categorical: list[str]
) -> ColumnTransformer:
    numeric_steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy=features.numeric_imputer))
    ]
    if features.scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    categorical_steps = [
        ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
        (
            "encode",
            OneHotEncoder(
                handle_unknown="infrequent_if_exist",
                max_categories=features.max_categories,
                sparse_output=False,
            ),
        ),
    ]
    return ColumnTransformer(
        [
            ("numeric", Pipeline(numeric_steps), numeric),
            ("categorical", Pipeline(categorical_steps), categorical),
        ],
        verbose_feature_names_out=False,
    )


def build_pipeline(
    model: Model,
    features: Features,
    *,
    task: str,
    numeric: list[str],
    categorical: list[str],
    seed: int,
) -> Pipeline:
    return Pipeline(
        [
            ("preprocess", build_preprocessor(features, numeric, categorical)),
            ("model", build_estimator(model, task, seed)),
        ]
    )
