"""What a target column implies: the learning task (and why), and its class balance."""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from mlops_template.core.raw_rows import percent
from mlops_template.errors import PipelineError

CLASSIFICATION = "classification"
REGRESSION = "regression"

# Counts (visits, defects, claims) are integers whose frequency falls off with the value:
# a few common small values and a thin right tail. Class labels are codes whose classes
# are usually of comparable size. An integer target is taken for counts when
# * it has at least COUNT_MIN_VALUES distinct values, none negative (0/1/2 could be
#   either),
# * its tail is long: the most common value lies in the lower half of the range, and
#   fewer than COUNT_TAIL_SHARE of the rows in the upper half, and
# * the frequency keeps falling past the most common value: the values up to halfway
#   from it to the largest have at least COUNT_DECAY times the rows of those beyond
#   (class codes with a dominant class and a flat rest, like covertype's 1..7, fail).
COUNT_MIN_VALUES = 4
COUNT_TAIL_SHARE = 0.25
COUNT_DECAY = 2.0


class TaskChoice(NamedTuple):
    task: str
    reason: str  # one line for people: what the target looks like and what follows


def is_categorical(series: pd.Series) -> bool:
    """Text, boolean and pandas categorical columns are one-hot encoded; numbers are not."""
    return not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)


def infer_task(target: pd.Series, requested: str, max_classes: int) -> TaskChoice:  # noqa: PLR0911
    """The task a target implies, and why, unless the config names one (`data.task`).

    Text and boolean targets are labels. Numbers with fractions, integers with more than
    `max_classes` distinct values, and integers that look like counts are regressed on.
    Other integers (two values, or a few without a count's long tail) are labels.
    """
    name = f"target '{target.name}'"
    if requested != "auto":
        return TaskChoice(requested, f"{name}: {requested}, as data.task says")
    values = target.dropna()
    n = values.nunique()
    if is_categorical(values):
        kind = "boolean" if pd.api.types.is_bool_dtype(values) else "text"
        return TaskChoice(CLASSIFICATION, f"{name}: {kind} values, {n} distinct: classification")
    if not (pd.api.types.is_integer_dtype(values) or bool((values % 1 == 0).all())):
        return TaskChoice(REGRESSION, f"{name}: numbers with fractions: regression")
    if n <= 2:
        return TaskChoice(CLASSIFICATION, f"{name}: {n} distinct values: classification")
    span = f"integers {int(values.min())}..{int(values.max())}"
    if n > max_classes:
        return TaskChoice(
            REGRESSION,
            f"{name}: {span}, {n} distinct values (more than validate.max_classes="
            f"{max_classes}): regression (set data.task=classification to override)",
        )
    if looks_like_counts(values):
        return TaskChoice(
            REGRESSION,
            f"{name}: {span} with a long right tail ({percent(upper_half_share(values), 0)} "
            "of rows in the upper half of the range): counts, regression "
            "(set data.task=classification to override)",
        )
    return TaskChoice(
        CLASSIFICATION,
        f"{name}: {span}, {n} distinct values without a count's long right tail: "
        "class labels, classification (set data.task=regression to override)",
    )


def looks_like_counts(values: pd.Series) -> bool:
    """Non-negative integers with a long right tail whose frequency falls off (COUNT_*)."""
    if values.min() < 0 or values.nunique() < COUNT_MIN_VALUES:
        return False
    rows = values.value_counts()
    mode = rows[rows == rows.max()].index.min()  # the most common value (the smallest on ties)
    past = rows[rows.index > mode]
    halfway = (mode + values.max()) / 2
    return bool(
        mode < (values.min() + values.max()) / 2
        and upper_half_share(values) < COUNT_TAIL_SHARE
        and past[past.index <= halfway].sum() >= COUNT_DECAY * past[past.index > halfway].sum()
    )


def upper_half_share(values: pd.Series) -> float:
    """Share of the values above the middle of their range."""
    middle = (values.min() + values.max()) / 2
    return float((values > middle).mean())


def class_balance(
    y: pd.Series, *, min_class_share: float, source: str
) -> tuple[dict[str, Any], list[str]]:
    """Class counts, the smallest class's share, and warnings about rare classes.

    Raises PipelineError for a single class, and for classes with a single row: a model
    can neither learn such a class nor be tested on it.
    """
    counts = y.dropna().value_counts()
    name = f"{source}: target column '{y.name}'"
    if len(counts) < 2:
        raise PipelineError(
            f"{name} has a single class {counts.index.tolist()}; classification needs at least two"
        )
    single = sorted(str(c) for c in counts[counts < 2].index)
    if single:
        fix = "merge them into other classes or drop their rows"
        if not is_categorical(y):
            fix = f"if '{y.name}' is a count or measurement set data.task=regression, else {fix}"
        raise PipelineError(
            f"{name}: {_plural(single, 'class')} {single} with a single row, too few to learn "
            f"from and test on; {fix}"
        )
    shares = counts / counts.sum()
    rare = shares[shares < min_class_share].sort_values()
    report = {
        "classes": {str(k): int(counts[k]) for k in sorted(counts.index, key=str)},
        "minority_share": round(float(shares.min()), 4),
    }
    warnings = []
    if len(rare):
        listed = ", ".join(f"'{k}' ({counts[k]} rows, {percent(s)})" for k, s in rare.items())
        warnings.append(
            f"rare {_plural(rare, 'class')} {listed}: below validate.min_class_share="
            f"{min_class_share} of the "
            "labelled rows; a model can ignore them at little cost in accuracy: consider "
            "class_weight=balanced (model.class_weight, or under model=auto "
            "model.candidates.<name>.class_weight for each candidate)"
        )
    return report, warnings


def _plural(items: Any, word: str) -> str:
    return word if len(items) == 1 else f"{word}es"


def describe_classes(classes: dict[str, int]) -> str:
    """'0: 212 (37.3%), 1: 357 (62.7%)', for people."""
    total = sum(classes.values())
    return ", ".join(f"{k}: {n} ({percent(n / total)})" for k, n in classes.items())
