from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Validate
from mlops_template.core.dataset_checks import check_dataset
from mlops_template.errors import PipelineError


def check(
    frame: pd.DataFrame,
    target: str = "y",
    task: str = "auto",
    min_rows: int = 2,
    key: str | None = None,
    **settings,
):
    validate = Validate(min_rows=min_rows, max_classes=20, **settings)
    return check_dataset(frame, target, validate, requested_task=task, source="data.csv", key=key)


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
    assert report.task == "classification"
    assert report.task_reason == "target 'y': text values, 2 distinct: classification"
    assert report.target == "y"
    assert report.n_rows == 6
    assert report.n_rows_without_target == 1
    assert report.features == ["x", "colour"]
    assert report.categorical == ["colour"]
    assert report.missing == {"x": 1, "colour": 2}
    assert report.classes == {"a": 2, "b": 3}
    assert report.minority_share == 0.4


def test_report_for_regression_has_no_classes():
    frame = pd.DataFrame({"x": [1, 2, 3, 4], "y": [0.1, 0.2, 0.3, 0.4]})
    report = check(frame)
    assert report.task == "regression"
    assert report.missing == {}
    assert report.categorical == []
    assert "classes" not in report and "minority_share" not in report
    assert "numbers with fractions: regression" in report.task_reason


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
    frame = labelled(8)
    frame.loc[[0, 1, 2], "y"] = None
    assert check(frame, min_rows=5).n_rows_without_target == 3
    with pytest.raises(PipelineError, match=r"5 rows .*validate\.min_rows=6"):
        check(frame, min_rows=6)


def test_datetime_column_is_a_feature():
    frame = labelled(4).assign(when=pd.date_range("2024-01-01", periods=4))
    assert "when" in check(frame).features  # the model makes numbers of it


def test_other_column_types_are_unsupported():
    frame = labelled(4).assign(span=pd.to_timedelta([1, 2, 3, 4], unit="D"))
    with pytest.raises(PipelineError, match=r"unsupported column types \['span \(timedelta"):
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


def id_frame(n: int = 40) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "row": range(n),
            "spend": [i * 1.5 for i in range(n)],  # unique floats are ordinary measurements
            "plan": ["a", "b", "b", "a"] * (n // 4),  # not the target under other names
            "y": [0, 1] * (n // 2),
        }
    )


def test_identifiers_are_not_features_and_said_so():
    report = check(id_frame(), min_rows=10)
    assert report.identifiers == ["customer_id", "row"]
    assert report.features == ["spend", "plan"] and report.categorical == ["plan"]
    assert len(report.warnings) == 2
    assert report.warnings[0] == (
        "column 'customer_id' has a different value in nearly every row, like a row number or "
        "code: not a feature (validate.identifiers=keep keeps it; split.key=customer_id "
        "makes the split follow it)"
    )
    # Once it is the split key, it is an ID by design: neither a feature nor warned about.
    keyed = check(id_frame(), min_rows=10, key="customer_id")
    assert [w.split("'")[1] for w in keyed.warnings] == ["row"]
    assert keyed.identifiers == ["row"] and "customer_id" not in keyed.features
    # A misspelt ID column is said here, by its setting, before prepare's split.
    with pytest.raises(PipelineError, match=r"data.csv: no column 'customerid' to split by"):
        check(id_frame(), min_rows=10, key="customerid")


def test_identifiers_kept_when_the_setting_says_so():
    report = check(id_frame(), min_rows=10, identifiers="keep")
    assert report.identifiers == []
    assert report.features == ["customer_id", "row", "spend", "plan"]
    assert "kept as a feature, as validate.identifiers=keep says" in report.warnings[1]


def test_a_panel_gets_the_split_key_suggested():
    people, years = 30, 4
    frame = pd.DataFrame(
        {
            "person": np.repeat([f"p{i}" for i in range(people)], years),
            "year": np.tile(range(2001, 2001 + years), people),
            "income": np.arange(people * years, dtype=float),
            "y": [0, 1] * (people * years // 2),
        }
    )
    (line,) = check(frame).warnings
    assert line.startswith("columns 'person' and 'year' together identify every row")
    assert "set split.key=person" in line
    assert check(frame, key="person").warnings == []


def test_a_date_is_a_date_in_the_report_not_an_identifier():
    frame = labelled(40).assign(date=pd.date_range("2024-01-01", periods=40))
    report = check(frame)
    assert report.dates == ["date"] and report.categorical == [] and report.warnings == []
    assert report.features == ["x", "date"] and report.identifiers == []
    assert report.notes() == [
        "date columns 'date': features as year, month, day, weekday and days since 1970 "
        "(read.dates=error refuses them); a batch from later dates drifts on them in monitor"
    ]
    assert check(labelled(40)).notes() == []  # no dates: nothing said


def test_class_balance_is_checked_and_warned_about():
    frame = pd.DataFrame({"x": range(40), "y": ["a"] * 37 + ["b"] * 3}).astype({"x": float})
    report = check(frame)
    assert report.minority_share == 0.075
    assert len(report.warnings) == 1 and "'b' (3 rows, 7.5%)" in report.warnings[0]
    single = r"data\.csv: target column 'y': class \['c'\] with a single row"
    with pytest.raises(PipelineError, match=single + ".*validate.small_classes=drop"):
        check(pd.concat([frame, pd.DataFrame({"x": [0.5], "y": ["c"]})]))


def test_counts_target_is_regression():
    visits = np.repeat(range(8), [150, 280, 270, 180, 80, 30, 8, 2])
    report = check(
        pd.DataFrame({"x": np.arange(len(visits), dtype=float), "visits": visits}), "visits"
    )
    assert report.task == "regression" and "counts" in report.task_reason
    assert "classes" not in report


def churn_frame(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    churn = np.array([0, 1] * (n // 2))
    return pd.DataFrame({"tenure": rng.normal(size=n), "churn": churn})


@pytest.mark.parametrize(
    ("copy", "described"),
    [
        (lambda y: y, "is a copy of the target 'churn'"),  # a name differing only in case
        (lambda y: y.astype(float), "is a copy of the target 'churn'"),
        (
            lambda y: y.map({0: "no", 1: "yes"}),
            r"is the target 'churn' under other names \('no' for 0, 'yes' for 1\)",
        ),
    ],
    ids=["name differing in case", "float copy", "relabelled"],
)
def test_a_copy_of_the_target_is_refused(copy, described):
    frame = churn_frame()
    frame.insert(1, "Churn", copy(frame["churn"]))
    with pytest.raises(PipelineError, match=rf"^data\.csv: column 'Churn' {described}: "):
        check(frame, "churn")
    warned = check(frame, "churn", target_copies="warn")
    assert "Churn" in warned.features and "column 'Churn'" in warned.warnings[-1]


def test_a_copy_is_compared_on_labelled_rows():
    frame = churn_frame().astype({"churn": float})
    frame["Churn"] = frame["churn"]
    frame.loc[[0, 1], "churn"] = np.nan  # rows without a target are never learned from
    frame.loc[2, "Churn"] = np.nan  # missing where the target is known: not a copy
    assert check(frame, "churn").features == ["tenure", "Churn"]
    frame.loc[2, "Churn"] = frame.loc[2, "churn"]
    with pytest.raises(PipelineError, match="column 'Churn' is a copy of the target"):
        check(frame, "churn")


def test_a_copy_of_a_regression_target_is_refused():
    frame = pd.DataFrame({"x": np.arange(40.0), "y": np.linspace(0.5, 9.5, 40)})
    frame["id"] = np.arange(40)  # one-to-one with the target, yet not it
    assert check(frame).task == "regression"
    frame["price"] = frame["y"]
    with pytest.raises(PipelineError, match="column 'price' is a copy of the target 'y'"):
        check(frame)


def test_a_column_that_only_looks_like_the_target_is_kept():
    frame = churn_frame(2000)
    frame["almost"] = frame["churn"]
    frame.loc[1999, "almost"] = 1 - frame.loc[1999, "churn"]  # past the screened rows
    frame["plan"] = np.where(frame["churn"] == 1, "pro", "basic")
    frame.loc[1998, "plan"] = "plus"  # three values for two classes
    assert check(frame, "churn").features == ["tenure", "almost", "plan"]


def test_a_column_of_one_value_is_named_with_the_fix():
    """A scale trial's flights were all of 2013: `year` reached the model unsaid."""
    report = check(labelled(40).assign(year=2013))
    assert report.warnings == [
        "column 'year' holds the same value in every row: a model learns nothing from it, "
        "and every batch would still need it; list it in data.drop_columns"
    ]


def test_a_column_empty_in_every_row_is_named_with_the_fix():
    """It reached the model as a required input, each batch refused without it, and only
    scikit-learn's warning said so, nine times."""
    report = check(labelled(40).assign(comment=pd.Series([None] * 40, dtype="str")))
    assert report.warnings == [
        "column 'comment' is empty in every row: a model learns nothing from it, and every "
        "batch would still need it; list it in data.drop_columns"
    ]


def test_numbers_written_as_text_are_named_not_listed_as_a_thousand_classes():
    """'$71,400' is text: 30 prices read as 30 classes of a row each. The message listed
    every one (4,236 characters) and advised dropping or merging them."""
    prices = [f"${70_000 + 100 * i:,}" for i in range(30)]
    frame = pd.DataFrame({"x": np.arange(30, dtype=float), "y": prices})
    with pytest.raises(PipelineError) as refused:
        check(frame)
    message = str(refused.value)
    assert "['$70,000', '$70,100'," in message and "and 20 more with a single row" in message
    assert "'y' has 30 distinct values, more than validate.max_classes=20: if they are " in (
        message
    )
    assert "numbers written as text" in message and len(message) < 600
