from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_template.config.data import FileData, SklearnData, SyntheticData
from mlops_template.core.schema import infer_schema
from mlops_template.errors import PipelineError
from mlops_template.io.datasets import load_source


def file_data(path, fmt="csv", **changes) -> FileData:
    values = {"source": "file", "format": fmt, "path": str(path), "target": "y", "watch": "x"}
    return FileData(**{**values, **changes})


@pytest.mark.parametrize(
    ("name", "shape", "n_classes"),
    [("breast_cancer", (569, 31), 2), ("wine", (178, 14), 3), ("diabetes", (442, 11), None)],
)
def test_bundled_sets(name, shape, n_classes):
    data = SklearnData(source="sklearn", name=name, target="target", watch="uv.lock")
    frame = load_source(data)
    assert frame.shape == shape
    assert "target" in frame.columns
    if n_classes:
        assert frame["target"].nunique() == n_classes


def test_bundled_drop_columns():
    data = SklearnData(
        source="sklearn", name="wine", target="target", watch="x", drop_columns=["alcohol"]
    )
    assert "alcohol" not in load_source(data).columns


def test_synthetic_source():
    data = SyntheticData(
        source="synthetic",
        task="regression",
        n_rows=20,
        seed=1,
        n_numeric=2,
        n_categorical=1,
        target="y",
        watch="x",
    )
    frame = load_source(data)
    assert list(frame.columns) == ["num_0", "num_1", "cat_0", "y"]


def test_csv_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a;b;y\n1;x;0\n2;z;1\n")
    frame = load_source(file_data(path, sep=";"))
    assert list(frame.columns) == ["a", "b", "y"]
    assert frame["a"].tolist() == [1, 2]
    assert frame["b"].tolist() == ["x", "z"]


def test_parquet_file(tmp_path):
    path = tmp_path / "data.parquet"
    original = pd.DataFrame({"a": [1.5, None], "b": ["x", None], "y": [0, 1]})
    original.to_parquet(path, index=False)
    frame = load_source(file_data(path, "parquet"))
    assert frame["a"].isna().tolist() == [False, True]
    assert frame["b"].tolist()[0] == "x"
    assert frame["y"].tolist() == [0, 1]


def test_parquet_decimals_and_dictionaries_are_read_as_plain_columns(tmp_path):
    """Other writers store numbers as decimals and text (or codes) dictionary-encoded:
    read as the plain columns would be, they get the same kind in the schema."""
    path = tmp_path / "data.parquet"
    rows = ["12.34", "0.10", None, "7.00"]
    pq.write_table(
        pa.table(
            {
                "spend": pa.array([v and Decimal(v) for v in rows], pa.decimal128(10, 2)),
                "plan": pa.array(["pro", "basic", None, "pro"]).dictionary_encode(),
                "code": pa.array([3, 1, 3, None]).dictionary_encode(),
                "y": [0, 1, 0, 1],
            }
        ),
        path,
    )
    frame = load_source(file_data(path, "parquet"))
    assert frame["spend"].dtype == "float64" and frame["code"].dtype == "float64"
    assert frame["spend"].tolist()[::3] == [12.34, 7.0]  # as float("12.34"), to the bit
    schema = infer_schema(frame.drop(columns="y"), frame["y"], "classification")
    kinds = {c.name: (c.kind, c.dtype) for c in schema.columns}
    assert kinds == {
        "spend": ("numeric", "float64"),
        "plan": ("categorical", "str"),
        "code": ("numeric", "float64"),
    }


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pa.array([["a", "b"], [], None]), "list<element: string>"),
        (pa.array([{"x": 1}, {"x": 2}, None]), "struct<x: int64>"),
    ],
)
def test_a_parquet_column_of_lists_or_structs_is_named(tmp_path, column, kind):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0, 3.0], "tags": column, "y": [0, 1, 0]}), path)
    said = f"data.parquet: column 'tags' holds {kind} values, which a model cannot read"
    with pytest.raises(PipelineError, match=re.escape(said) + ".*data.drop_columns"):
        load_source(file_data(path, "parquet"))
    frame = load_source(file_data(path, "parquet", drop_columns=["tags"]))
    assert list(frame.columns) == ["a", "y"]


def test_booleans_with_a_gap_are_booleans(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("flag,y\nTrue,0\n,1\nfalse,0\n")  # booleans with a gap read as object
    assert pd.read_csv(path)["flag"].dtype == object
    frame = load_source(file_data(path))
    assert frame["flag"].dtype == "boolean"
    assert frame["flag"].tolist()[::2] == [True, False]
    assert frame["flag"].isna().tolist() == [False, True, False]


def test_mostly_text_column_stays_text(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("code,y\nab,0\n12,1\ncd,0\n,1\n")  # one number among codes: text
    frame = load_source(file_data(path))
    assert frame["code"].dtype == "str"
    assert frame["code"].tolist()[:3] == ["ab", "12", "cd"] and frame["code"].isna().tolist()[3]


def test_drop_columns(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("id,a,y\n1,2,3\n")
    assert list(load_source(file_data(path, drop_columns=["id"])).columns) == ["a", "y"]


def test_drop_unknown_column(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,y\n1,2\n")
    with pytest.raises(PipelineError, match=r"drop_columns names unknown columns \['nope'\]"):
        load_source(file_data(path, drop_columns=["a", "nope"]))


def test_missing_file(tmp_path):
    with pytest.raises(PipelineError, match=r"data file not found \(data\.path\)"):
        load_source(file_data(tmp_path / "nope.csv"))


def test_a_folder_is_said_to_be_one(tmp_path):
    """A folder of Parquet parts was said to be 'not found', though it was there."""
    (tmp_path / "parts").mkdir()
    with pytest.raises(PipelineError, match=r"parts: is a folder; data.path names one"):
        load_source(file_data(tmp_path / "parts"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_empty_file(tmp_path, fmt):
    path = tmp_path / f"data.{fmt}"
    path.write_bytes(b"")
    with pytest.raises(PipelineError, match="data file is empty"):
        load_source(file_data(path, fmt))


def test_blank_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("\n\n")
    with pytest.raises(PipelineError, match="no columns to read"):
        load_source(file_data(path))


def test_unparsable_csv(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,y\n1,2\n3,4,5,6\n")
    with pytest.raises(PipelineError, match=r"cannot read as csv: .*Expected 2 fields"):
        load_source(file_data(path))


def test_unparsable_parquet(tmp_path):
    path = tmp_path / "data.parquet"
    path.write_text("a,y\n1,2\n")
    with pytest.raises(PipelineError, match="cannot read as parquet"):
        load_source(file_data(path, "parquet"))
