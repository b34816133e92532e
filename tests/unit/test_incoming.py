"""Labelled batches belong to the data source they were added for."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_template.config import FileData, SklearnData, SyntheticData
from mlops_template.io.datasets import incoming_folder, labelled_batches


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
