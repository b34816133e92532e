"""Small steps that let gradient-boosting libraries read the template's rows.

`AsCategories`: text columns, after an OrdinalEncoder, as pandas categoricals with their
categories fixed at fit, which LightGBM, XGBoost (`enable_categorical`) and
scikit-learn's boosting split natively; a batch that lacks some categories reads the
rest by the same codes, and a category never seen reads as missing.

`SafeNames`: LightGBM refuses feature names with JSON's special characters and XGBoost
names with brackets or `<`; a column named "visits, last year" reaches them as
"visits_ last year".

`EncodedLabels`: XGBoost's classifiers take classes 0..n-1 only; this one trains on
those codes and answers in the data's own labels, as every other classifier does.

Both are saved in the model file, so io/model_file.py trusts them by name.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, OneToOneFeatureMixin, TransformerMixin
from sklearn.base import clone as clone_estimator
from sklearn.utils.validation import validate_data

UNKNOWN = -1  # the OrdinalEncoder's code for a category it never saw


class AsCategories(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Integer codes (an OrdinalEncoder's, UNKNOWN for unseen) as categoricals."""

    def fit(self, x: Any, y: Any = None) -> AsCategories:
        codes = validate_data(self, x, ensure_all_finite=False, dtype="float64")
        self.n_categories_ = [int(np.nanmax(col, initial=-1)) + 1 for col in codes.T]
        return self

    def transform(self, x: Any) -> pd.DataFrame:
        codes = validate_data(self, x, reset=False, ensure_all_finite=False, dtype="float64")
        codes = np.nan_to_num(codes, nan=UNKNOWN).astype("int64")
        columns = self.get_feature_names_out()
        index = x.index if isinstance(x, pd.DataFrame) else None
        return pd.DataFrame(
            {
                name: pd.Categorical.from_codes(
                    np.where(col < n, col, UNKNOWN), categories=range(n) if n else [0]
                )
                for name, col, n in zip(columns, codes.T, self.n_categories_, strict=True)
            },
            index=index,
        )


UNSAFE = re.compile(r'[",:\[\]{}<>]')


class SafeNames(TransformerMixin, BaseEstimator):
    """A frame's columns renamed where a learner would refuse the name (unique still)."""

    def fit(self, x: pd.DataFrame, y: Any = None) -> SafeNames:
        names: list[str] = []
        for column in map(str, x.columns):
            name = UNSAFE.sub("_", column)
            while name in names:
                name += "_"
            names.append(name)
        self.names_ = names
        return self

    def transform(self, x: pd.DataFrame) -> pd.DataFrame:
        return x.set_axis(self.names_, axis=1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(self.names_, dtype=object)


class EncodedLabels(ClassifierMixin, BaseEstimator):
    """A classifier of classes 0..n-1 (`estimator`), trained and answering in labels."""

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, x: Any, y: Any) -> EncodedLabels:
        self.classes_, codes = np.unique(np.asarray(y), return_inverse=True)
        self.estimator_ = clone_estimator(self.estimator).fit(x, codes)
        return self

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[np.asarray(self.estimator_.predict(x), dtype="int64")]

    def predict_proba(self, x: Any) -> np.ndarray:
        return self.estimator_.predict_proba(x)


TRUSTED = (
    AsCategories,
    SafeNames,
    EncodedLabels,
)  # what a model file of ours may hold of this module


def learner_of(step: Any) -> Any:
    """The learner itself, inside EncodedLabels if it is wrapped."""
    return step.estimator if isinstance(step, EncodedLabels) else step
