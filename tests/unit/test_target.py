from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Validate
from mlops_template.core.class_labels import relabelled
from mlops_template.core.target import (
    COUNT_MIN_VALUES,
    class_balance,
    describe_classes,
    infer_task,
    looks_like_counts,
)
from mlops_template.errors import PipelineError


def repeated(counts: dict[int, int], name: str = "y") -> pd.Series:
    """A target with `counts[value]` rows of each value, shuffled."""
    values = np.repeat(list(counts), list(counts.values()))
    return pd.Series(np.random.default_rng(0).permutation(values), name=name)


# Expected frequencies of 1000 draws from a Poisson(2) count: 0..9, falling past 1 and 2.
POISSON_COUNTS = {0: 135, 1: 271, 2: 271, 3: 180, 4: 90, 5: 36, 6: 12, 7: 3, 8: 1, 9: 1}


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (POISSON_COUNTS, "regression"),
        # geometric (a long tail of repeat purchases, say): 0..8 halving each step
        ({k: 512 >> k for k in range(9)}, "regression"),
        ({0: 212, 1: 357}, "classification"),  # breast_cancer's 0/1
        ({0: 59, 1: 71, 2: 48}, "classification"),  # wine's 0/1/2
        ({k: 178 + k % 3 for k in range(10)}, "classification"),  # digits 0..9, balanced
        ({1: 98, 2: 104, 3: 95, 4: 101, 5: 102}, "classification"),  # 1..5 rating, uniform
        ({1: 50, 2: 200, 3: 500, 4: 200, 5: 50}, "classification"),  # bell-shaped rating
        # class codes with two dominant classes and a flat rest (covertype's 1..7)
        ({1: 365, 2: 488, 3: 62, 4: 5, 5: 16, 6: 30, 7: 34}, "classification"),
        ({0: 700, 1: 60, 2: 60, 3: 60, 4: 60, 5: 60}, "classification"),  # "none" + 5 types
        # survey answers coded 0..3 and one stray 9 ("don't know"): carData's Chile vote
        ({0: 187, 1: 889, 2: 588, 3: 868, 9: 1}, "classification"),
        # counts with two peaks (children per household), and with strays past gaps
        ({0: 300, 1: 180, 2: 250, 3: 120, 4: 60, 5: 30, 6: 15, 7: 8, 8: 4}, "regression"),
        ({0: 900, 1: 95, 2: 3, 5: 1, 8: 1}, "regression"),
    ],
)
def test_integer_targets(counts, expected):
    assert infer_task(repeated(counts), "auto", max_classes=20).task == expected


def test_counts_need_enough_values():
    # A skewed 0/1/2 could be a count or an ordinal label: it stays a label. With a fourth
    # value falling off the same way it is a count.
    skewed = {0: 700, 1: 220, 2: 60, 3: 20}
    three = dict(list(skewed.items())[: COUNT_MIN_VALUES - 1])
    assert not looks_like_counts(repeated(three))
    assert looks_like_counts(repeated(skewed))


def test_counts_are_non_negative():
    shifted = {k - 2: n for k, n in POISSON_COUNTS.items()}
    assert looks_like_counts(repeated(POISSON_COUNTS))
    assert not looks_like_counts(repeated(shifted))


def test_integral_floats_are_integers():
    floats = repeated(POISSON_COUNTS).astype(float)
    floats[3] = np.nan
    assert infer_task(floats, "auto", max_classes=20).task == "regression"


def test_reason_says_why():
    counts = infer_task(repeated(POISSON_COUNTS, "visits"), "auto", max_classes=20)
    assert counts.reason.startswith("target 'visits': integers 0..9 with a long right tail")
    assert "counts, regression (set data.task=classification to override)" in counts.reason
    binary = infer_task(pd.Series([0, 1, 1], name="y"), "auto", max_classes=20)
    assert binary == ("classification", "target 'y': 2 distinct values: classification")
    labels = infer_task(repeated({0: 59, 1: 71, 2: 48}), "auto", max_classes=20)
    assert "integers 0..2, 3 distinct values" in labels.reason
    assert "set data.task=regression to override" in labels.reason
    many = infer_task(pd.Series(range(30), name="y"), "auto", max_classes=20)
    assert "30 distinct values (more than validate.max_classes=20): regression" in many.reason


@pytest.mark.parametrize(
    ("values", "expected", "word"),
    [
        (["a", "b", "a"], "classification", "text"),
        ([True, False, True], "classification", "boolean"),
        ([0.5, 1.25, 3.0], "regression", "fractions"),
        ([1.0, 2.0, 2.5], "regression", "fractions"),
        ([0.0, 1.0, np.nan, 1.0], "classification", "2 distinct"),
        ([0, 1, 2, 1], "classification", "3 distinct"),
    ],
)
def test_other_targets(values, expected, word):
    choice = infer_task(pd.Series(values, name="y"), "auto", max_classes=20)
    assert choice.task == expected and word in choice.reason


def test_max_classes_boundary():
    target = pd.Series(list(range(5)) * 2, name="y")
    assert infer_task(target, "auto", max_classes=5).task == "classification"
    assert infer_task(target, "auto", max_classes=4).task == "regression"


@pytest.mark.parametrize(
    ("values", "requested"),
    [([0.5, 1.5, 2.5], "classification"), ([0, 1, 0], "regression")],
)
def test_explicit_task_wins(values, requested):
    choice = infer_task(pd.Series(values, name="y"), requested, max_classes=20)
    assert choice.task == requested and "data.task" in choice.reason


def settings(**values) -> Validate:
    return Validate(min_rows=2, max_classes=20, **values)


def test_class_balance_reports_counts_and_minority_share():
    y = pd.Series(["a"] * 6 + ["b"] * 3 + [None], name="y")
    report, warnings = class_balance(y, settings(), source="d")
    assert report == {"classes": {"a": 6, "b": 3}, "minority_share": pytest.approx(1 / 3, 1e-3)}
    assert warnings == []
    assert describe_classes(report["classes"]) == "a: 6 (66.7%), b: 3 (33.3%)"


def test_integer_codes_with_empty_cells_are_integer_classes():
    """Read as floats for their gaps, the codes 0..2 are the classes 0, 1 and 2: '1.0' as a
    class name, in the model and the log, refused every label file that said 1."""
    y = pd.Series([0.0] * 5 + [1.0] * 4 + [2.0] * 3 + [None], name="vote")
    report, _ = class_balance(y, settings(), source="d")
    assert report["classes"] == {"0": 5, "1": 4, "2": 3}
    fractions = pd.Series([0.5] * 5 + [1.0] * 4, name="grade")  # data.task=classification
    assert class_balance(fractions, settings(), source="d")[0]["classes"] == {"0.5": 5, "1.0": 4}


def test_rare_class_warns_with_count_share_and_fix():
    y = pd.Series([0] * 90 + [1] * 6 + [2] * 4, name="y")
    report, warnings = class_balance(y, settings(min_class_ratio=0.15), source="d")
    assert report["minority_share"] == 0.04
    assert len(warnings) == 1
    assert "'2' (4 rows, 4.0%)" in warnings[0] and "'1'" not in warnings[0]
    assert "validate.min_class_ratio=0.15 of an even share (33.3% of the" in warnings[0]
    assert "class_weight=balanced (model.class_weight, or under model=auto" in warnings[0]
    _, stricter = class_balance(y, settings(min_class_ratio=0.3), source="d")
    assert "'2' (4 rows, 4.0%), '1' (6 rows, 6.0%)" in stricter[0]


def test_rare_is_relative_to_the_number_of_classes():
    balanced = pd.Series(np.repeat([f"leaf{i}" for i in range(32)], 20), name="y")
    assert class_balance(balanced, settings(), source="d")[1] == []
    one_small = pd.concat([balanced, pd.Series(["tiny"] * 2, name="y")])
    (warning,) = class_balance(one_small, settings(), source="d")[1]
    assert warning.startswith("rare class 'tiny' (2 rows, 0.3%)")


def test_a_share_is_printed_with_the_digits_it_needs():
    y = pd.Series(["a"] * 20755 + ["b"] * 4, name="y")
    (warning,) = class_balance(y, settings(), source="d")[1]
    assert "'b' (4 rows, 0.02%)" in warning


def test_single_class_is_an_error():
    with pytest.raises(PipelineError, match=r"d: target column 'y' has a single class \['a'\]"):
        class_balance(pd.Series(["a", "a"], name="y"), settings(), source="d")


def test_class_with_one_row_is_an_error_with_a_fix():
    numbers = pd.Series([0] * 10 + [1] * 10 + [7, 9], name="visits")
    with pytest.raises(PipelineError) as err:
        class_balance(numbers, settings(min_class_ratio=0.0), source="d")
    assert "classes ['7', '9'] with a single row" in str(err.value)
    assert "set data.task=regression" in str(err.value)
    labels = pd.Series(["a"] * 10 + ["b"] * 10 + ["c"], name="kind")
    with pytest.raises(PipelineError) as err:
        class_balance(labels, settings(min_class_ratio=0.0), source="d")
    assert "class ['c'] with a single row" in str(err.value)
    assert "data.task" not in str(err.value) and "merge" in str(err.value)


def test_sparse_codes_do_not_span_their_range():
    # Codes far apart are judged on the values present, not on every integer between.
    codes = repeated({0: 50, 1: 20, 5: 10, 10**12: 2})
    assert infer_task(codes, "auto", max_classes=20).task == "regression"


def test_small_classes_dropped_or_merged_as_set():
    y = pd.Series(["a"] * 10 + ["b"] * 10 + ["c", "d", "d"], name="kind")
    frame = pd.DataFrame({"x": range(len(y)), "kind": y})
    drop = settings(min_class_rows=3, small_classes="drop")
    report, _ = class_balance(y, drop, source="d")
    assert report["classes"] == {"a": 10, "b": 10}
    handled = report["small_classes"]
    assert handled.describe() == "the small classes 'c' (1 row), 'd' (2 rows): dropped"
    assert relabelled(frame, "kind", handled)["kind"].tolist() == ["a"] * 10 + ["b"] * 10
    merge = settings(min_class_rows=3, small_classes="merge")
    report, _ = class_balance(y, merge, source="d")
    assert report["classes"] == {"a": 10, "b": 10, "other": 3}
    merged = relabelled(frame, "kind", report["small_classes"])
    assert merged["kind"].tolist() == ["a"] * 10 + ["b"] * 10 + ["other"] * 3
    assert merged["x"].tolist() == frame["x"].tolist()


def test_merging_numbers_needs_a_number():
    y = pd.Series([0] * 10 + [1] * 10 + [5, 5, 7], name="code")
    merge = settings(min_class_rows=3, small_classes="merge")
    with pytest.raises(PipelineError, match=r"merged_class='other', which is not a number"):
        class_balance(y, merge, source="d")
    report, _ = class_balance(
        y, settings(min_class_rows=3, small_classes="merge", merged_class=-1), source="d"
    )
    assert report["classes"] == {"-1": 3, "0": 10, "1": 10}


def test_a_merge_still_too_small_is_an_error():
    y = pd.Series(["a"] * 10 + ["b"] * 10 + ["c"], name="kind")
    with pytest.raises(PipelineError, match=r"'c' \(1 row\): merged into 'other', still fewer"):
        class_balance(y, settings(small_classes="merge"), source="d")


def test_merging_numbers_keeps_every_label_whatever_the_stored_type():
    merge = settings(min_class_rows=3, small_classes="merge", merged_class=-1)
    for labels in (
        pd.Series([0] * 10 + [1] * 10 + [5, 5, 7], dtype="uint8", name="code"),  # Parquet's
        pd.Series([0.0] * 10 + [1.0] * 10 + [5.0, 5.0, 7.0, None], name="code"),  # with gaps
    ):
        report, _ = class_balance(labels, merge, source="d")
        frame = pd.DataFrame({"code": labels, "x": range(len(labels))})
        merged = relabelled(frame, "code", report["small_classes"])["code"]
        assert merged.dropna().tolist() == [0] * 10 + [1] * 10 + [-1] * 3
        assert merged.isna().sum() == labels.isna().sum()


def test_a_categorical_target_loses_its_small_classes_for_good():
    rows = ["a"] * 10 + ["b"] * 10 + ["c", "e", "e"]
    labels = pd.Series(pd.Categorical(rows, categories=list("abcde")))
    frame = pd.DataFrame({"kind": labels})
    report, _ = class_balance(
        frame["kind"].rename("kind"), settings(small_classes="drop"), source="d"
    )
    assert report["small_classes"].classes == {"c": 1}  # the unused 'd' is no class
    dropped = relabelled(frame, "kind", report["small_classes"])["kind"]
    assert sorted(dropped.unique()) == ["a", "b", "e"]
    merged = relabelled(
        frame,
        "kind",
        class_balance(
            frame["kind"].rename("kind"),
            settings(min_class_rows=3, small_classes="merge"),
            source="d",
        )[0]["small_classes"],
    )["kind"]
    assert merged.value_counts().to_dict() == {"a": 10, "b": 10, "other": 3}


def test_merging_into_a_class_that_has_rows_is_refused():
    y = pd.Series(["a"] * 10 + ["other"] * 10 + ["c", "d", "d"], name="kind")
    with pytest.raises(PipelineError, match=r"merged_class='other' is already a class of 10 rows"):
        class_balance(y, settings(min_class_rows=3, small_classes="merge"), source="d")
