"""Labelled batches belong to the data source they were added for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_template.config import Read, parse_config
from mlops_template.config.data import FileData, SklearnData, SyntheticData
from mlops_template.core.raw_rows import MISSING_TOKENS
from mlops_template.core.schema import infer_schema
from mlops_template.errors import PipelineError
from mlops_template.io.atomic import write_parquet
from mlops_template.io.datasets import conformed, incoming_folder, labelled_batches
from mlops_template.operate.monitoring.ct_workspace import training_rows

from .conftest import training_schema


def sklearn(name: str) -> SklearnData:
    return SklearnData(source="sklearn", name=name, target="target", watch="uv.lock")


def file(path: str) -> FileData:
    return FileData(source="file", format="csv", path=path, target="y", watch=path)


def synthetic(**changes) -> SyntheticData:
    values = {"source": "synthetic", "task": "classification", "target": "y", "watch": "x"}
    settings = {"n_rows": 100, "seed": 7, "n_numeric": 2, "n_categorical": 1}
    return SyntheticData(**values, **{**settings, **changes})


def test_each_source_has_a_folder_of_its_own():
    assert incoming_folder("data/incoming", sklearn("wine")) == Path("data/incoming/wine")
    folders = {
        incoming_folder("in", data)
        for data in [
            sklearn("breast_cancer"),
            sklearn("wine"),
            file("a/customers.csv"),
            file("b/customers.csv"),  # same name, another file
            synthetic(),
            synthetic(seed=8),
        ]
    }
    assert len(folders) == 6
    assert incoming_folder("in", file("a/customers.csv")).name.startswith("customers-")
    assert incoming_folder("in", file("https://host/x y.csv?raw=1")).name.startswith("x_y-")
    # The same config, the same folder: found again when the source is chosen again, and
    # after an upgrade (a new name would leave the committed batches behind).
    assert incoming_folder("in", synthetic()) == incoming_folder("in", synthetic())
    assert incoming_folder("in", file("a/customers.csv")) == Path("in/customers-709c7e3a")
    assert incoming_folder("in", synthetic()) == Path("in/synthetic-8dfb5c2c")


def test_only_the_sources_batches_are_read(tmp_path, capsys):
    root = tmp_path / "incoming"
    for name, rows in [("breast_cancer", 2), ("wine", 3)]:
        (root / name).mkdir(parents=True)
        pd.DataFrame({"target": range(rows)}).to_parquet(root / name / "b.parquet")
    pd.DataFrame({"target": [0]}).to_parquet(root / "old.parquet")  # the layout before folders
    ((path, frame),) = labelled_batches(str(root), sklearn("wine"))
    assert path == root / "wine" / "b.parquet" and len(frame) == 3
    assert labelled_batches(str(root), sklearn("diabetes")) == []
    warning = capsys.readouterr().err
    assert "old.parquet is in no data source's folder" in warning and "wine/" in warning


def test_a_csv_batch_is_added_in_the_training_datas_types(tmp_path, params):
    """Dates and booleans arrive as text in a CSV batch; collect puts the batch's rows in
    one Parquet file with the training rows, so they must be timestamps and booleans."""
    source = tmp_path / "customers.csv"
    source.write_text(
        "signup_date,tenure,active,plan,age,churn\n"
        "2024-01-05,3.5,true,basic,31,no\n"
        "2024-02-11,12,false,pro,45,yes\n"
        "2024-03-20,,,plus,52,no\n"
    )
    # Read as collect reads its source (io/datasets.py): the contract types the columns.
    read = pd.read_csv(source, na_values=list(MISSING_TOKENS), keep_default_na=False)
    training = conformed(read, Read(), str(source))
    training["plan"] = training["plan"].astype("str")
    features = training.drop(columns="churn")
    schema = infer_schema(features, training["churn"], "classification")
    assert schema.dates == ("signup_date",) and schema.booleans == ("active",)
    batch = tmp_path / "batch.csv"
    batch.write_text(
        "signup_date,tenure,active,plan,age,churn\n"
        "2024-04-01T10:30:00Z,7,False,pro,38,yes\n"
        "2024-04-02,,true,,29,\n"  # not labelled yet: not added
        "2024-04-03,2.5,,basic,61,no\n"
    )
    data = file(str(source))
    folder = incoming_folder(str(tmp_path / "incoming"), data)
    write_parquet(folder / "b.parquet", training_rows(batch, schema, parse_config(params)))

    # As collect joins them: the source's rows, then each batch's, into one Parquet file.
    ((_, added),) = labelled_batches(str(tmp_path / "incoming"), data)
    raw = write_parquet(tmp_path / "raw.parquet", pd.concat([training, added], ignore_index=True))
    joined = pd.read_parquet(raw)
    assert dict(joined.dtypes.astype(str)) == dict(training.dtypes.astype(str))
    assert joined["signup_date"].tail(2).tolist() == [
        pd.Timestamp("2024-04-01 10:30"),
        pd.Timestamp("2024-04-03"),
    ]
    assert joined["active"].tail(2).tolist() == [False, pd.NA]
    assert joined["age"].tail(2).tolist() == [38, 61] and joined["churn"].tail(2).tolist() == [
        "yes",
        "no",
    ]


def test_a_batch_value_the_training_type_cannot_hold_is_one_line(tmp_path, params):
    schema = training_schema(
        {"name": "active", "kind": "categorical", "dtype": "boolean"}, name="y", classes=[0, 1]
    )
    batch = tmp_path / "batch.csv"
    batch.write_text("active,y\ntrue,1\nmaybe,0\n")
    with pytest.raises(PipelineError) as refused:
        training_rows(batch, schema, parse_config(params))
    assert str(refused.value) == (
        f"{batch}: column 'active': 1 values that are not true/false, e.g. ['maybe']; the "
        "training data holds booleans there; not added to the training data"
    )
