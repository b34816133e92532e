"""A logged dataset's schema, computed column-wise, is the one MLflow infers cell by cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from mlflow.types.utils import _infer_schema

from mlops_template.io.dataset_schema import frame_schema


def frames() -> dict[str, pd.DataFrame]:
    n = 50
    rng = np.random.default_rng(0)
    full = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "i": np.arange(n),
            "flag": rng.random(n) < 0.5,
            "text": pd.Series(rng.choice(["a", "b c"], n), dtype="str"),
            "when": pd.date_range("2024-01-01", periods=n, freq="D"),
            "count": pd.array(np.arange(n), dtype="Int64"),
        }
    )
    gaps = full.copy()
    for name in gaps.columns:
        gaps[name] = gaps[name].mask(np.arange(n) % 7 == 3)  # NaN, NaT, NA as the dtype has it
    return {
        "no gaps": full,
        "gaps": gaps,
        "text all missing": pd.DataFrame({"t": pd.Series([None] * 3, dtype="str")}),
        "mixed objects": pd.DataFrame({"o": pd.Series([1, "a", None, 2.5], dtype=object)}),
        "numbers as objects": pd.DataFrame({"o": pd.Series([1, 2, None], dtype=object)}),
        "no rows": full.head(0),
    }


@pytest.mark.parametrize("name", list(frames()))
def test_the_schema_is_mlflows(name):
    frame = frames()[name]
    try:
        expected = _infer_schema(frame)
    except Exception:  # MLflow cannot infer one: its dataset has none, and so does this
        assert frame_schema(frame) is None
        return
    assert frame_schema(frame) == expected
    assert [c.required for c in frame_schema(frame).inputs] == [c.required for c in expected.inputs]
