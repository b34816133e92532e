"""What a target column implies: the learning task (and why), and its class balance."""

from __future__ import annotations

from typing import Any, NamedTuple

import pandas as pd

from mlops_template.config import Validate
from mlops_template.core.class_labels import whole_codes
from mlops_template.core.shares import percent
from mlops_template.core.table_facts import SeriesTarget, TargetFacts
from mlops_template.core.validation_report import SmallClasses
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
#   (covertype's 1..7, a dominant class and a flat rest, fail).
# The range is that of the bulk: values past a gap in the integers with fewer than
# COUNT_STRAY_SHARE of the rows beyond it are strays, not a tail (survey codes 0..3 and
# one 9, "don't know", made the upper half of 0..9 all but empty).
COUNT_MIN_VALUES = 4
COUNT_TAIL_SHARE = 0.25
COUNT_DECAY = 2.0
COUNT_STRAY_SHARE = 0.01


class TaskChoice(NamedTuple):
    task: str
    reason: str  # one line for people: what the target looks like and what follows


def is_categorical(column: Any) -> bool:
    """Text, boolean and pandas categorical columns are one-hot encoded; numbers are not.
    Of a column or its dtype."""
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def infer_task(target: pd.Series, requested: str, max_classes: int) -> TaskChoice:
    """The task a target implies, and why, unless the config names one (`data.task`)."""
    return choose_task(SeriesTarget(target), requested, max_classes)


def choose_task(target: TargetFacts, requested: str, max_classes: int) -> TaskChoice:  # noqa: PLR0911
    """The task a target implies, and why, unless the config names one (`data.task`).

    Text and boolean targets are labels. Numbers with fractions, integers with more than
    `max_classes` distinct values, and integers that look like counts are regressed on.
    Other integers (two values, or a few without a count's long tail) are labels.
    """
    name = f"target '{target.name}'"
    if requested != "auto":
        return TaskChoice(requested, f"{name}: {requested}, as data.task says")
    n = target.distinct
    if is_categorical(target.dtype):
        kind = "boolean" if pd.api.types.is_bool_dtype(target.dtype) else "text"
        return TaskChoice(CLASSIFICATION, f"{name}: {kind} values, {n} distinct: classification")
    if not (pd.api.types.is_integer_dtype(target.dtype) or target.whole):
        return TaskChoice(REGRESSION, f"{name}: numbers with fractions: regression")
    if n <= 2:
        return TaskChoice(CLASSIFICATION, f"{name}: {n} distinct values: classification")
    low, high = target.bounds
    span = f"integers {int(low)}..{int(high)}"
    if n > max_classes:
        return TaskChoice(
            REGRESSION,
            f"{name}: {span}, {n} distinct values (more than validate.max_classes="
            f"{max_classes}): regression (set data.task=classification to override)",
        )
    if is_count(target):
        upper = percent(upper_half_share(bulk(target.counts)), 0)
        return TaskChoice(
            REGRESSION,
            f"{name}: {span} with a long right tail ({upper} "
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
    return is_count(SeriesTarget(values))


def is_count(target: TargetFacts) -> bool:
    """`looks_like_counts`, of a target's labelled values."""
    low, _ = target.bounds
    if low < 0 or target.distinct < COUNT_MIN_VALUES:
        return False
    rows = bulk(target.counts)
    high = rows.index.max()
    mode = rows[rows == rows.max()].index.min()  # the most common value (the smallest on ties)
    past = rows[rows.index > mode]
    halfway = (mode + high) / 2
    return bool(
        mode < (low + high) / 2
        and upper_half_share(rows) < COUNT_TAIL_SHARE
        and past[past.index <= halfway].sum() >= COUNT_DECAY * past[past.index > halfway].sum()
    )


def bulk(rows: pd.Series) -> pd.Series:
    """Rows per value without the strays above a gap in the values (COUNT_STRAY_SHARE)."""
    rows = rows.sort_index()
    values, total = rows.index.to_numpy(), rows.sum()
    beyond = rows[::-1].cumsum()[::-1].to_numpy()  # rows at and above each value
    for i in range(len(rows) - 1):  # the lowest gap with few enough rows above it
        if values[i + 1] - values[i] > 1 and beyond[i + 1] < COUNT_STRAY_SHARE * total:
            return rows.iloc[: i + 1]
    return rows


def upper_half_share(rows: pd.Series) -> float:
    """Share of the rows whose value (rows per value: `value_counts()`) lies above the
    middle of the values' range."""
    middle = (rows.index.min() + rows.index.max()) / 2
    return float(rows[rows.index > middle].sum() / rows.sum())


def class_balance(
    y: pd.Series, settings: Validate, *, source: str
) -> tuple[dict[str, Any], list[str]]:
    """`balance` of a target column."""
    return balance(SeriesTarget(y), settings, source=source)


def balance(
    target: TargetFacts, settings: Validate, *, source: str
) -> tuple[dict[str, Any], list[str]]:
    """Class counts as the model will learn them, the smallest class's share, what is done
    with classes too small to learn (validate.small_classes), and warnings about rare ones.

    Raises PipelineError for a single class, and for classes with fewer rows than
    validate.min_class_rows unless the settings drop or merge them.
    """
    counts = whole_codes(target.counts)
    counts = counts[counts > 0]  # a pandas categorical counts its unused categories too
    name = f"{source}: target column '{target.name}'"
    if len(counts) < 2:
        raise PipelineError(
            f"{name} has a single class {counts.index.tolist()}; classification needs at least two"
        )
    report: dict[str, Any] = {}
    small = counts[counts < settings.min_class_rows]
    if len(small):
        handled = small_classes(target, small, settings, name)
        counts = handled_counts(counts, handled)
        report["small_classes"] = handled
        merged = counts.get(handled.into, settings.min_class_rows)
        if merged < settings.min_class_rows:
            raise PipelineError(
                f"{name}: {handled.describe()}, still fewer than validate.min_class_rows="
                f"{settings.min_class_rows}; set validate.small_classes=drop"
            )
        if len(counts) < 2:
            raise PipelineError(
                f"{name}: {handled.describe()}, which leaves one class; "
                "classification needs at least two"
            )
    shares = counts / counts.sum()
    even = 1 / len(counts)
    rare = shares[shares < settings.min_class_ratio * even].sort_values()
    report["classes"] = {str(k): int(counts[k]) for k in sorted(counts.index, key=str)}
    report["minority_share"] = round(float(shares.min()), 4)
    warnings = []
    if len(rare):
        listed = ", ".join(f"'{k}' ({counts[k]} rows, {percent(s)})" for k, s in rare.items())
        warnings.append(
            f"rare {_plural(rare, 'class')} {listed}: below validate.min_class_ratio="
            f"{settings.min_class_ratio} of an even share ({percent(even)} of the labelled "
            f"rows with {len(counts)} classes); a model that weighs every row alike can "
            "ignore them at little cost in accuracy, unless class_weight=balanced "
            "(model.class_weight, or under model=auto model.candidates.<name>.class_weight "
            "for each candidate)"
        )
    return report, warnings


def small_classes(
    target: TargetFacts, small: pd.Series, settings: Validate, name: str
) -> SmallClasses:
    """What validate.small_classes does with classes below validate.min_class_rows."""
    listed = sorted(str(c) for c in small.index)
    labels = is_categorical(target.dtype)
    if settings.small_classes == "error":
        into = settings.merged_class if labels else -1
        fix = (
            "set validate.small_classes=drop to drop their rows, or =merge to relabel them "
            f"validate.merged_class ('{into}')"
        )
        if not labels:
            fix = (
                f"if '{target.name}' is a count or measurement set data.task=regression, else {fix}"
            )
        rows = (
            "a single row"
            if settings.min_class_rows == 2
            else (f"fewer than validate.min_class_rows={settings.min_class_rows} rows")
        )
        shown = f"{listed[:10]} and {len(listed) - 10} more" if len(listed) > 10 else listed
        if labels and target.distinct > settings.max_classes:  # '$71,400' is text
            fix = (
                f"'{target.name}' has {target.distinct} distinct values, more than "
                f"validate.max_classes={settings.max_classes}: if they are numbers written as "
                "text (a currency sign, thousands separators), write them as numbers for "
                f"regression; else {fix}"
            )
        raise PipelineError(
            f"{name}: {_plural(listed, 'class')} {shown} with {rows}, too few to learn "
            f"from and test on; {fix}"
        )
    classes = {str(k): int(small[k]) for k in sorted(small.index, key=str)}
    if settings.small_classes == "drop":
        return SmallClasses(action="drop", classes=classes)
    into = settings.merged_class
    if labels:
        into = str(into)
    elif not isinstance(into, int):
        raise PipelineError(
            f"{name}: validate.small_classes=merge relabels the small classes {listed} "
            f"validate.merged_class='{into}', which is not a number like the other classes; "
            "set validate.merged_class to a number no class has (-1), or small_classes=drop"
        )
    counts = whole_codes(target.counts)  # rows per value, as text alike to `astype(str)`'s
    taken = int(counts[counts.index.astype(str) == str(into)].sum())
    if taken and str(into) not in classes:
        raise PipelineError(
            f"{name}: validate.merged_class='{into}' is already a class of {taken:,} rows; "
            f"merging the small classes {listed} into it would change what it means: name "
            "a class no row has"
        )
    return SmallClasses(action="merge", classes=classes, into=into)


def handled_counts(counts: pd.Series, handled: SmallClasses) -> pd.Series:
    """Rows per class after the small classes are dropped or merged."""
    keep = counts[[str(k) not in handled.classes for k in counts.index]]
    if handled.action == "drop":
        return keep
    return pd.concat([keep, pd.Series({handled.into: int(counts.sum() - keep.sum())})])


def _plural(items: Any, word: str) -> str:
    return word if len(items) == 1 else f"{word}es"


def describe_classes(classes: dict[str, int]) -> str:
    """'0: 212 (37.3%), 1: 357 (62.7%)', for people."""
    total = sum(classes.values())
    return ", ".join(f"{k}: {n} ({percent(n / total)})" for k, n in classes.items())
