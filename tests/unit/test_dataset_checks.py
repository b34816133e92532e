from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.core.dataset_checks import check_dataset, id_like_columns, infer_task
from mlops_template.errors import PipelineError


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b", "a"], "classification"),
        ([True, False, True], "classification"),
        ([0, 1, 2, 1], "classification"),
        ([0.5, 1.25, 3.0], "regression"),
        ([0.0, 1.0, np.nan, 1.0], "classification"),
        (list(range(30)), "regression"),
        ([1.0, 2.0, 2.5], "regression"),
    ],
)
def test_infer_task_auto(values, expected):
    assert infer_task(pd.Series(values), "auto", max_classes=20) == expected


def test_infer_task_max_classes_boundary():
    target = pd.Series(list(range(5)) * 2)
    assert infer_task(target, "auto", max_classes=5) == "classification"
    assert infer_task(target, "auto", max_classes=4) == "regression"


@pytest.mark.parametrize(
    ("values", "requested"),
    [([0.5, 1.5, 2.5], "classification"), ([0, 1, 0], "regression")],
)
def test_infer_task_explicit_wins(values, requested):
    assert infer_task(pd.Series(values), requested, max_classes=20) == requested


def check(frame: pd.DataFrame, target: str = "y", task: str = "auto", min_rows: int = 2):
    return check_dataset(
        frame, target, requested_task=task, max_classes=20, min_rows=min_rows, source="data.csv"
    )


def labelled(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame({"x": np.arange(n, dtype=float), "y": ["a", "b"] * (n // 2)})


def test_report_for_classification():
    frame = pd.DataFrame(
        {
            "x": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0],
            "colour": ["red", "blue", None, "red", None, "blue"],
            "y": ["b", "a", "b", "b", None, "a"],
        }
    )
    report = check(frame)
    assert report["task"] == "classification"
    assert report["target"] == "y"
    assert report["n_rows"] == 6
    assert report["n_rows_without_target"] == 1
    assert report["features"] == ["x", "colour"]
    assert report["categorical"] == ["colour"]
    assert report["missing"] == {"x": 1, "colour": 2}
    assert report["classes"] == {"a": 2, "b": 3}


def test_report_for_regression_has_no_classes():
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [0.1, 0.2, 0.3, 0.4]})
    report = check(frame)
    assert report["task"] == "regression"
    assert report["missing"] == {}
    assert report["categorical"] == []
    assert "classes" not in report


@pytest.mark.parametrize(
    "frame", [pd.DataFrame(), pd.DataFrame({"x": [], "y": []}), pd.DataFrame(index=[0, 1])]
)
def test_empty_frame(frame):
    with pytest.raises(PipelineError, match=r"data\.csv: the data set is empty"):
        check(frame)


def test_missing_target_lists_columns():
    with pytest.raises(PipelineError) as err:
        check(labelled(), target="label")
    message = str(err.value)
    assert "'label'" in message
    assert "data.target" in message
    assert "['x', 'y']" in message


def test_single_class():
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "a", "a"]})
    with pytest.raises(PipelineError, match="single class"):
        check(frame)


def test_too_few_rows_counts_only_labelled():
    frame = labelled(6)
    frame.loc[[0, 1, 2], "y"] = None
    assert check(frame, min_rows=3)["n_rows_without_target"] == 3
    with pytest.raises(PipelineError, match=r"3 rows .*validate\.min_rows=4"):
        check(frame, min_rows=4)


def test_datetime_column_unsupported():
    frame = labelled(4).assign(when=pd.date_range("2024-01-01", periods=4))
    with pytest.raises(PipelineError, match=r"unsupported column types \['when \(datetime"):
        check(frame)


def test_regression_on_text_target():
    with pytest.raises(PipelineError, match="not numeric; regression needs numbers"):
        check(labelled(), task="regression")


def test_no_features():
    with pytest.raises(PipelineError, match="no feature columns"):
        check(pd.DataFrame({"y": [0, 1, 0, 1]}))


def test_duplicate_columns():
    frame = pd.DataFrame([[1, 2, 0], [3, 4, 1]], columns=["x", "x", "y"])
    with pytest.raises(PipelineError, match=r"duplicate column names \['x'\]"):
        check(frame)


def test_id_like_columns_are_flagged():
    n = 40
    frame = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "row": range(n),
            "spend": [i * 1.5 for i in range(n)],  # unique floats are ordinary measurements
            "plan": ["a", "b"] * (n // 2),
            "y": [0, 1] * (n // 2),
        }
    )
    assert id_like_columns(frame.drop(columns="y")) == ["customer_id", "row"]
    report = check_dataset(
        frame, "y", requested_task="auto", max_classes=20, min_rows=10, source="x.csv"
    )
    assert len(report["warnings"]) == 2 and "customer_id" in report["warnings"][0]
