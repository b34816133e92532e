"""Class labels as the model learns them: small classes dropped or merged, and integer
codes read as floats (a target column with empty cells) as the integers they are."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from mlops_template.core.validation_report import SmallClasses


def relabelled(frame: pd.DataFrame, target: str, handled: SmallClasses | None) -> pd.DataFrame:
    """The rows as the model learns from them: small classes dropped or merged (prepare,
    and monitor's labelled batches)."""
    if handled is None:
        return frame
    labels = frame[target]
    codes = (
        () if pd.api.types.is_float_dtype(labels) and not whole_floats(labels) else handled.classes
    )
    labels = labels.astype(label_dtype(labels.dtype, labels.hasnans, codes))
    small = labels.astype(str).isin(handled.classes.keys()) & labels.notna()
    if handled.action == "drop":
        return frame[~small].assign(**{target: labels[~small]}).reset_index(drop=True)
    return frame.assign(**{target: labels.mask(small, handled.into)})


def label_dtype(dtype: Any, has_missing: bool, classes: Iterable[str] = ()) -> Any:
    """The dtype of a target's labels once relabelled: plain labels, not categories (no
    unused ones), and integers with room for a merged class like -1; floats too where
    every class (`classes`, as text) is a whole number (integer codes with empty cells)."""
    if isinstance(dtype, pd.CategoricalDtype):
        return dtype.categories.dtype
    if pd.api.types.is_integer_dtype(dtype) or (
        pd.api.types.is_float_dtype(dtype) and whole_classes(classes)
    ):
        return "Int64" if has_missing else "int64"
    return dtype


def whole_codes(counts: pd.Series) -> pd.Series:
    """Rows per class, whole numbers read as floats (a column of integer codes with empty
    cells) as the integers they are: the classes 1 and 2, not 1.0 and 2.0."""
    values = counts.index
    if len(values) and whole_floats(values):
        return counts.set_axis(values.astype("int64"))
    return counts


def as_class_codes(labels: pd.Series, has_missing: bool) -> pd.Series:
    """Float labels that are all whole numbers (integer codes with empty cells) as the
    integers they are, in label_dtype's dtype; other labels as they are."""
    if whole_floats(labels):
        return labels.astype("Int64" if has_missing else "int64")
    return labels


def whole_floats(values: pd.Series | pd.Index) -> bool:
    """Floats (NumPy's or pandas' nullable ones) whose values are all whole numbers."""
    return pd.api.types.is_float_dtype(values) and bool((values.dropna() % 1 == 0).all())


def whole_classes(classes: Iterable[str]) -> bool:
    """Are these classes (as text) all whole numbers, as whole_codes writes them?"""
    listed = list(classes)
    return bool(listed) and all(c.removeprefix("-").isdigit() for c in listed)
