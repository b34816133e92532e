"""Overrides given as arguments, or as one `mlflow run -P overrides=...` string."""

from __future__ import annotations

import pytest

from mlops_template.compose import split_overrides
from mlops_template.errors import PipelineError


def test_one_string_holding_several_overrides_is_split_on_whitespace():
    assert split_overrides(["model=linear split.test_size=0.3", "seed=1"]) == [
        "model=linear",
        "split.test_size=0.3",
        "seed=1",
    ]


def test_quotes_are_kept_for_hydra():
    # Hydra needs the quotes: `[` starts a list in its grammar.
    assert split_overrides(["predict.spark.master='local[2]' data.path=\"my data.csv\""]) == [
        "predict.spark.master='local[2]'",
        'data.path="my data.csv"',
    ]
    assert split_overrides(["++predict.spark.conf={spark.executor.memory:4g}"]) == [
        "++predict.spark.conf={spark.executor.memory:4g}"
    ]


def test_a_quote_left_open_is_refused():
    with pytest.raises(PipelineError, match="unbalanced quotes"):
        split_overrides(["data.path='my data.csv"])


def test_words_that_are_no_override_stay_with_the_value_before_them():
    """`params set 'registry.card.limitations=Small data only'` was refused: "Error
    parsing override 'data'". Hydra reads such a value whole."""
    assert split_overrides(["registry.card.limitations=Small  data only ~tune.seed x=1"]) == [
        "registry.card.limitations=Small  data only",
        "~tune.seed",
        "x=1",
    ]
