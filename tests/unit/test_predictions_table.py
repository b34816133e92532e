"""The predictions table's guards, on real Delta tables: paths it refuses, and its lock."""

from __future__ import annotations

import fcntl
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table
from mlops_template.operate.batch_scoring import output_schema

SCHEMA = output_schema(["0", "1"], [])


def rows(n: int, schema: pa.Schema = SCHEMA) -> pa.Table:
    values = {
        "row_number": pa.array(range(n), pa.int64()),
        "prediction": pa.array(["1"] * n),
        "proba_0": pa.array([0.2] * n),
        "proba_1": pa.array([0.8] * n),
        "scored_at": pa.array([0] * n, pa.timestamp("us", tz="UTC")),
    }
    constants = {"model_name": "m", "model_version": "1", "model_alias": "", "batch_hash": "h"}
    values.update({name: pa.array([value] * n) for name, value in constants.items()})
    return pa.table([values[f.name] for f in schema], schema=schema)


def refused(table: Path, *expected: str, schema: pa.Schema | None = SCHEMA) -> None:
    before = sorted(p.relative_to(table.parent) for p in table.parent.rglob("*"))
    with pytest.raises(PipelineError) as err:
        predictions_table.check(str(table), schema)
    message = str(err.value)
    assert "\n" not in message and str(table) in message
    for text in expected:
        assert text in message, message
    assert sorted(p.relative_to(table.parent) for p in table.parent.rglob("*")) == before


def test_a_new_table_an_empty_directory_and_a_predictions_table_are_accepted(tmp_path):
    table = tmp_path / "predictions"
    predictions_table.check(str(table), SCHEMA)
    table.mkdir()
    predictions_table.check(str(table), SCHEMA)
    write_deltalake(str(table), rows(3))
    predictions_table.check(str(table), SCHEMA)
    predictions_table.check(str(table))


def test_a_file_is_refused(tmp_path):
    table = tmp_path / "predictions"
    table.write_text("not a table")
    refused(table, "is a file", "--table")
    refused(table, "is a file", schema=None)


def test_a_directory_of_other_files_is_refused(tmp_path):
    table = tmp_path / "predictions"
    table.mkdir()
    (table / "notes.txt").write_text("mine")
    refused(table, "not a Delta table", "refusing to write into it")


def test_a_foreign_delta_table_is_refused_by_name(tmp_path):
    table = tmp_path / "predictions"
    write_deltalake(str(table), pa.table({"a": [1, 2], "batch_hash": ["x", "y"]}))
    refused(table, "not a predictions table", "row_number", "model_version", schema=None)
    with pytest.raises(PipelineError) as err:
        predictions_table.check(str(table), SCHEMA)
    assert "batch_hash" not in str(err.value)  # it has that one


def test_a_predictions_table_with_other_types_is_refused(tmp_path):
    """The Delta writer's schema merge would cast a regression's float predictions into a
    classifier's string column; the check refuses them first."""
    table = tmp_path / "predictions"
    write_deltalake(str(table), rows(3))
    regression = output_schema(None, [])
    refused(
        table,
        "do not fit the table's columns",
        "prediction: table string, batch double",
        schema=regression,
    )
    predictions_table.check(str(table))  # the columns are all there: fine without a schema


def test_a_failed_first_write_leaves_the_path_as_it_was(tmp_path):
    def failing():
        yield from rows(100).to_batches()
        raise PipelineError("a late chunk is refused")

    for existed in (False, True):
        table = tmp_path / f"predictions-{existed}"
        if existed:
            table.mkdir()
        with pytest.raises(PipelineError, match="a late chunk"):
            predictions_table.append(str(table), SCHEMA, failing())
        assert list(table.iterdir()) == [] if existed else not table.exists()
        predictions_table.check(str(table), SCHEMA)  # the next run may write there


def test_lock_is_beside_the_table_and_works_before_it_exists(tmp_path):
    table = tmp_path / "new" / "predictions"
    with predictions_table.locked(str(table)):
        assert (tmp_path / "new" / "predictions.lock").is_file()
        assert not table.exists()
        predictions_table.append(str(table), SCHEMA, iter(rows(2).to_batches()))
    assert DeltaTable(str(table)).to_pyarrow_table().num_rows == 2
    assert sorted(p.name for p in table.iterdir() if p.suffix != ".parquet") == ["_delta_log"]


def test_a_held_lock_is_waited_for_then_refused_in_one_line(tmp_path, capsys):
    table = tmp_path / "predictions"
    with predictions_table.locked(str(table)):
        # Another open file description: flock treats it as another process would be.
        with pytest.raises(PipelineError) as err, predictions_table.locked(str(table), wait=0.5):
            pass
        assert "another process is writing" in capsys.readouterr().err
    message = str(err.value)
    assert "\n" not in message and "locked" in message and "predictions.lock" in message
    with predictions_table.locked(str(table), wait=0):  # released when its holder left
        pass


def test_the_lock_is_released_when_its_holder_fails(tmp_path):
    table = tmp_path / "predictions"
    with pytest.raises(RuntimeError), predictions_table.locked(str(table)):
        raise RuntimeError("scoring failed")
    with open(predictions_table.lock_path(str(table)), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # would raise if still held


def test_a_lock_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "data").write_text("a file where a folder should be")
    table = tmp_path / "data" / "predictions"
    with (
        pytest.raises(PipelineError, match="cannot create its lock file"),
        predictions_table.locked(str(table)),
    ):
        pass
