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

from mlops_template.config import Features, LinearModel, Model

MISSING_CATEGORY = "__missing__"


# Tree models: their config keys are the estimator's own parameter names.
TREE_ESTIMATORS = {
    "random_forest": (RandomForestClassifier, RandomForestRegressor),
    "hist_gradient_boosting": (HistGradientBoostingClassifier, HistGradientBoostingRegressor),
}


def build_estimator(model: Model, task: str, seed: int) -> Any:
    classify = task == "classification"
    if isinstance(model, LinearModel):
        if classify:
            return LogisticRegression(C=1.0 / model.alpha, max_iter=model.max_iter)
        return Ridge(alpha=model.alpha, max_iter=model.max_iter)
    classifier, regressor = TREE_ESTIMATORS[model.type]
    cls = classifier if classify else regressor
    return cls(**model.model_dump(exclude={"type"}), random_state=seed)


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
