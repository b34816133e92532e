"""core/text_encoders.py: free text read by its words, many levels by their effect, and
neither leaks a training row's own target into the rows the model learns from."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlops_template.core.text_encoders import TextWords, many_levels_encoder


def test_text_is_read_by_its_most_frequent_words_and_missing_is_no_words():
    notes = pd.DataFrame({"notes": ["late refund", "late card", None, "late late refund"]})
    words = TextWords(terms=2).fit(notes)
    assert words.get_feature_names_out().tolist() == ["notes__late", "notes__refund"]
    out = words.transform(pd.DataFrame({"notes": [None, "refund", "never seen words"]}))
    assert out.shape == (3, 2)
    np.testing.assert_array_equal(out[[0, 2]], 0.0)  # missing, or none of its words
    assert out[1, 1] > 0 and out[1, 0] == 0


def test_a_column_without_words_gives_no_columns():
    words = TextWords().fit(pd.DataFrame({"empty": ["", None, ""]}))
    assert words.transform(pd.DataFrame({"empty": ["x y"]})).shape == (1, 0)


def test_a_level_seen_once_cannot_hand_its_target_to_the_model():
    """Cross-fitted: a row's own value is encoded by fits on the other folds, so a level
    unique to one row gets the mean of the others, not that row's target."""
    rng = np.random.default_rng(0)
    n = 500
    codes = pd.DataFrame({"code": [f"u{i}" for i in range(n)]})  # every level once
    y = pd.Series(rng.normal(size=n))
    encoded = many_levels_encoder("regression", seed=0).fit_transform(codes, y)[:, 0]
    assert abs(np.corrcoef(encoded, y)[0, 1]) < 0.2  # with the target itself: near 1
    shared = pd.DataFrame({"code": [f"g{i % 10}" for i in range(n)]})  # 50 rows each
    effect = y + np.arange(n) % 10
    learned = many_levels_encoder("regression", seed=0).fit_transform(shared, effect)[:, 0]
    assert np.corrcoef(learned, np.arange(n) % 10)[0, 1] > 0.95


def test_classes_get_a_column_each_beyond_two():
    codes = pd.DataFrame({"code": list("abcab") * 20})
    labels = pd.Series(list("xyzxz") * 20)
    encoder = many_levels_encoder("classification", seed=0)
    assert encoder.fit_transform(codes, labels).shape == (100, 3)


def test_a_whole_number_regression_target_gets_one_column_per_feature():
    """Counts or whole prices are regressed on: one mean per level, not one per value
    (scikit-learn alone takes whole numbers for classes)."""
    rng = np.random.default_rng(1)
    codes = pd.DataFrame({"code": [f"g{i % 50}" for i in range(2000)]})
    prices = pd.Series(rng.integers(0, 2000, 2000))
    encoded = many_levels_encoder("regression", seed=0).fit_transform(codes, prices)
    assert encoded.shape == (2000, 1)
