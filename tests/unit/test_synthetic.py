from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from mlops_template.config import SyntheticData, parse_config
from mlops_template.core.synthetic import generate
from mlops_template.errors import PipelineError


def config(**changes) -> SyntheticData:
    values = {
        "source": "synthetic",
        "task": "classification",
        "n_rows": 400,
        "seed": 7,
        "n_numeric": 3,
        "n_categorical": 2,
        "n_classes": 3,
        "missing_rate": 0.1,
        "target": "label",
        "watch": "uv.lock",
    }
    return SyntheticData(**{**values, **changes})


def test_same_seed_same_frame():
    pd.testing.assert_frame_equal(generate(config()), generate(config()))


def test_other_seed_other_frame():
    assert not generate(config()).equals(generate(config(seed=8)))


def test_shape_and_columns():
    frame = generate(config())
    assert list(frame.columns) == ["num_0", "num_1", "num_2", "cat_0", "cat_1", "label"]
    assert len(frame) == 400
    assert set(frame["cat_0"].dropna()) <= set("abcd")


def test_missing_rate_roughly_as_configured():
    frame = generate(config(n_rows=2000, missing_rate=0.2))
    features = frame.drop(columns="label")
    assert features.isna().mean().between(0.16, 0.24).all()
    assert frame["label"].notna().all()


def test_no_missing_by_default():
    assert not generate(config(missing_rate=0.0)).isna().any().any()


def test_classification_target_has_n_classes():
    frame = generate(config(n_classes=4))
    assert sorted(frame["label"].unique()) == ["class_0", "class_1", "class_2", "class_3"]


def test_regression_target_is_numeric():
    frame = generate(config(task="regression"))
    assert pd.api.types.is_float_dtype(frame["label"])
    assert frame["label"].nunique() == 400


@pytest.mark.parametrize(
    "changes",
    [{"n_numeric": 1, "n_categorical": 0, "n_classes": 2}, {"n_numeric": 2, "n_categorical": 0}],
)
def test_too_few_features_for_the_classes_fail_at_config_load(changes):
    with pytest.raises(ValidationError, match=r"n_classes=.* needs more features"):
        config(**changes)


def test_too_few_features_reported_with_the_key(params):
    params["data"] = {**config().model_dump(), "n_numeric": 1, "n_categorical": 0}
    with pytest.raises(PipelineError, match=r"data: .*n_classes=3 needs more features"):
        parse_config(params)


def test_enough_features_generate():
    frame = generate(config(n_numeric=2, n_categorical=0, n_classes=2))
    assert frame["label"].nunique() == 2
