"""Encoders for text columns with more levels than one-hot keeps (core/columns.py says
which): free text by its words, and many levels by each level's effect on the target.
Both sit inside the model, so every serving path reads a column the same way."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import KFold
from sklearn.preprocessing import TargetEncoder

FOLDS = 5  # the target encoder's cross-fitting, as scikit-learn's default
# Words of one letter or digit count too ("4 doors", "type b").
TOKENS = r"(?u)\b\w+\b"


class TextWords(TransformerMixin, BaseEstimator):
    """Each free-text column as the TF-IDF weights of its `terms` most frequent words
    (dense: gradient boosting takes no sparse input). Missing text is no words."""

    def __init__(self, terms: int = 100) -> None:
        self.terms = terms

    def fit(self, x: Any, y: Any = None) -> TextWords:
        frame = _frame(x)
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.vectorizers_ = [_fitted(_texts(frame[c]), self.terms) for c in frame.columns]
        return self

    def transform(self, x: Any) -> np.ndarray:
        frame = _frame(x, self.feature_names_in_)
        parts = [
            v.transform(_texts(frame[c])).toarray()
            for c, v in zip(frame.columns, self.vectorizers_, strict=True)
            if v is not None
        ]
        return np.hstack(parts) if parts else np.zeros((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(
            [
                f"{column}__{term}"
                for column, v in zip(self.feature_names_in_, self.vectorizers_, strict=True)
                if v is not None
                for term in v.get_feature_names_out()
            ],
            dtype=object,
        )


def _frame(x: Any, columns: Any = None) -> pd.DataFrame:
    if isinstance(x, pd.DataFrame):
        return x
    return pd.DataFrame(np.asarray(x, dtype=object), columns=columns)


def _texts(column: pd.Series) -> list[str]:
    """The column's text, a missing value as no words."""
    return column.astype("string").fillna("").tolist()


def _fitted(texts: list[str], terms: int) -> TfidfVectorizer | None:
    """The column's vectorizer, or None when no row has a word."""
    vectorizer = TfidfVectorizer(max_features=terms, token_pattern=TOKENS, sublinear_tf=True)
    try:
        return vectorizer.fit(texts)
    except ValueError:  # an empty vocabulary: every value is empty
        return None


def many_levels_encoder(task: str, seed: int) -> TargetEncoder:
    """Each level as the target's mean over its rows (per class, for more than two),
    shrunk towards the overall mean for levels with few rows; an unseen level gets the
    overall mean. Fitted inside a pipeline, the training rows' own values are
    cross-fitted (each row encoded by a fit on the other folds), so a level seen once
    cannot hand its row's target to the model. A regression target is continuous even
    when its values are whole numbers (counts, prices), which scikit-learn would take
    for classes; the folds are plain shuffled ones, as a class of a few rows cannot be
    spread over five folds."""
    target_type = "continuous" if task == "regression" else "auto"
    return TargetEncoder(target_type=target_type, cv=KFold(FOLDS, shuffle=True, random_state=seed))
