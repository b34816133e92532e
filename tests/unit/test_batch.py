"""Batch checks against the training schema, and chunking of batch files."""

from __future__ import annotations

import re
from decimal import Decimal

import pandas as pd
import pyarrow as pa
import pyarrow.parquet
import pytest

from mlops_template.config import parse_config
from mlops_template.core.batch_checks import check_columns, describe_unseen, unseen_categories
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError
from mlops_template.io.batch_files import _rebatch, batch_columns, column_problems, iter_chunks

from .conftest import training_schema

SCHEMA = training_schema(
    {"name": "age", "kind": "numeric"},
    {"name": "plan", "kind": "categorical", "categories": ["basic", "pro"]},
)


def _check(columns, policy="drop", allowed=("y",)):
    return check_columns(
        SCHEMA, columns, allowed_extra=set(allowed), extra_policy=policy, source="b.csv"
    )


def test_matching_columns_pass_and_extras_are_listed():
    assert _check({"age": True, "plan": False}) == ([], [])
    assert _check({"age": True, "plan": True, "y": True, "note": False}) == ([], ["note"])


def test_missing_extra_and_mistyped_columns_are_named():
    problems, _ = _check({"plan": False, "note": False}, policy="error")
    assert problems == [
        "b.csv: missing columns ['age']",
        "b.csv: columns the model was not trained on ['note']",
    ]
    (problem,), _ = _check({"age": False, "plan": False})
    assert problem == "b.csv: column 'age' is not numeric; the model expects numbers"
    # A name that differs in case or spaces only is named as the likely cause.
    (problem,), _ = _check({"AGE ": True, "plan": False})
    assert (
        problem == "b.csv: missing columns ['age'] (the batch has 'AGE ': names must match exactly)"
    )


def test_a_column_spelt_as_another_of_the_models_is_named():
    """`plot_type` for `plot type` was not named; `Age` beside `age` was dropped as an
    extra column, without a word about which of the two was read."""
    schema = training_schema({"name": "plot type", "kind": "categorical"}, name="y")
    problems, _ = check_columns(
        schema, {"plot_type": False}, allowed_extra=set(), extra_policy="drop", source="b.csv"
    )
    assert problems == [
        "b.csv: missing columns ['plot type'] (the batch has 'plot_type': names must match exactly)"
    ]
    (problem,), _ = _check({"age": True, "Age": True, "plan": False})
    assert problem == "b.csv: columns that name the model's in another spelling: 'Age' beside 'age'"


def test_a_column_training_left_out_as_naming_rows_is_no_extra(params, tmp_path):
    """validate's identifiers (a row number, codes) are in the training data but are not
    features: a batch that still holds one is not refused under predict.extra_columns=error,
    and an old schema (none recorded) is stored as it was."""
    settings = parse_config(params).predict.model_copy(update={"extra_columns": "error"})
    schema = SCHEMA.with_identifiers(["row_no"])
    assert TrainingSchema.of(schema.as_json()).identifiers == ["row_no"]
    assert "identifiers" not in SCHEMA.as_json()
    path = tmp_path / "b.csv"
    rows = pd.DataFrame({"age": [1.0], "plan": ["pro"], "row_no": [7]})
    rows.to_csv(path, index=False)
    assert column_problems(path, schema, settings)[:2] == ([], [])
    rows.assign(note="x").to_csv(path, index=False)
    untrained = f"{path}: columns the model was not trained on"
    assert column_problems(path, schema, settings)[0] == [f"{untrained} ['note']"]
    assert column_problems(path, SCHEMA, settings)[0] == [f"{untrained} ['row_no', 'note']"]


def test_unseen_categories_ignore_missing_values():
    frame = pd.DataFrame({"age": [1, 2, 3], "plan": ["pro", None, "gold"]})
    unseen = unseen_categories(SCHEMA, frame)
    assert unseen == {"plan": ["gold"]}
    assert describe_unseen(unseen, "b.csv") == (
        "b.csv: categories never seen in training: 'plan': ['gold']"
    )


def test_rebatch_gives_chunks_of_the_configured_size_in_order():
    batches = [
        pa.record_batch({"v": list(range(s, s + n))}) for s, n in [(0, 3), (3, 5), (8, 2), (10, 7)]
    ]
    chunks = list(_rebatch(iter(batches), 4))
    assert [c.num_rows for c in chunks] == [4, 4, 4, 4, 1]
    assert [v for c in chunks for v in c.column("v").to_pylist()] == list(range(17))


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_files_read_in_chunks(tmp_path, suffix):
    frame = pd.DataFrame({"age": range(1050), "plan": ["pro"] * 1050})
    path = tmp_path / f"batch.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False}
    chunks = list(iter_chunks(path, SCHEMA, 400))
    assert [c.num_rows for c in chunks] == [400, 400, 250]


def test_parquet_decimals_and_dictionaries_are_numbers_and_text_as_training_reads_them(
    tmp_path,
):
    path = tmp_path / "batch.parquet"
    ages = [Decimal("41.10"), None, Decimal("0.30")]
    table = {
        "age": pa.array(ages, pa.decimal128(5, 2)),
        "plan": pa.array(["pro", None, "basic"]).dictionary_encode(),
        "y": pa.array([1, 0, 1]).dictionary_encode(),
    }
    pyarrow.parquet.write_table(pa.table(table), path)
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False, "y": True}
    (chunk,) = iter_chunks(path, SCHEMA, 100)
    assert chunk.schema.types == [pa.float64(), pa.string(), pa.int64()]
    assert chunk.column("age").to_pylist() == [41.1, None, 0.3]  # float("0.30"), to the bit


def test_a_feature_of_lists_is_refused_naming_it(tmp_path):
    path = tmp_path / "batch.parquet"
    plans = pa.array([["pro"], ["basic", "pro"]], pa.list_(pa.string()))
    pyarrow.parquet.write_table(pa.table({"age": [1.0, 2.0], "plan": plans}), path)
    said = (
        "batch.parquet: column 'plan' holds list<element: string> values, which the model "
        "cannot read: write one value per cell, text as in training"
    )
    with pytest.raises(PipelineError, match=re.escape(said)):
        batch_columns(path, SCHEMA)
    other = pa.table({"age": [1.0, 2.0], "plan": ["pro", "basic"], "notes": plans})
    pyarrow.parquet.write_table(other, path)  # a column the model does not read: ignored
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False, "notes": False}


def test_a_pandas_index_is_not_a_column_and_a_named_one_is(tmp_path):
    """pandas stores an index other than 0..n-1 in a column of its own; its reader, the
    training reader, makes that the index again, and so does the batch reader. A named
    index (an ID) stays a column, for passthrough_columns."""
    frame = pd.DataFrame({"age": range(10), "plan": ["pro"] * 10}).iloc[[8, 2, 5]]  # sampled
    path = tmp_path / "sampled.parquet"
    frame.to_parquet(path)
    assert "__index_level_0__" in pa.parquet.read_schema(path).names
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False}
    (chunk,) = iter_chunks(path, SCHEMA, 100)
    assert chunk.schema.names == ["age", "plan"]
    assert chunk.column("age").to_pylist() == [8, 2, 5]
    frame.rename_axis("id").to_parquet(path)
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False, "id": True}


def test_unknown_format_and_empty_file_are_refused(tmp_path):
    (tmp_path / "b.json").write_text("{}")
    with pytest.raises(PipelineError, match=r"unknown batch format '\.json'"):
        batch_columns(tmp_path / "b.json", SCHEMA)
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(PipelineError, match="batch file is empty"):
        batch_columns(tmp_path / "e.csv", SCHEMA)


def test_a_folder_is_not_a_batch_file(tmp_path):
    (tmp_path / "batch.parquet").mkdir()
    with pytest.raises(PipelineError, match=r"is a directory; expected a \.csv or \.parquet"):
        batch_columns(tmp_path / "batch.parquet", SCHEMA)


def test_a_header_without_rows_is_refused_once_read(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("age,plan\n")
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False}
    with pytest.raises(PipelineError, match=r"header\.csv: the batch has no rows"):
        list(iter_chunks(path, SCHEMA, 100))


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_rows_without_any_feature_value_are_refused(tmp_path, suffix):
    frame = pd.DataFrame({"age": [float("nan")] * 3, "plan": [None] * 3, "y": [1, 0, 1]})
    path = tmp_path / f"batch.{suffix}"
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    with pytest.raises(PipelineError, match="every feature is missing in all 3 rows"):
        list(iter_chunks(path, SCHEMA, 2))
    frame.loc[2, "plan"] = "pro"  # one value is enough
    frame.to_csv(path, index=False) if suffix == "csv" else frame.to_parquet(path)
    assert sum(c.num_rows for c in iter_chunks(path, SCHEMA, 2)) == 3


def test_a_damaged_parquet_page_is_named(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "damaged.parquet"
    pd.DataFrame({"age": range(100), "plan": ["pro"] * 100}).to_parquet(path)
    offset = pq.ParquetFile(path).metadata.row_group(0).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[offset : offset + 16] = b"\xff" * 16  # the page header
    path.write_bytes(bytes(data))
    assert batch_columns(path, SCHEMA) == {"age": True, "plan": False}  # the footer is fine
    with pytest.raises(PipelineError, match=r"damaged\.parquet: cannot read the batch") as err:
        list(iter_chunks(path, SCHEMA, 100))
    assert str(err.value).isprintable()
