"""Batch scoring into the predictions table, in process with the pandas engine: each
batch is scored once per model version (the model fetched by a second process and the
Spark engine are tests/e2e/test_predict.py's and test_spark.py's)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.config import Config
from mlops_template.core.schema import infer_schema
from mlops_template.errors import PipelineError
from mlops_template.io import predictions_table
from mlops_template.io.model_file import dump_model
from mlops_template.io.model_versions import ModelRef
from mlops_template.operate.batch.batch_scoring import score_batch
from mlops_template.operate.batch.model_fetch import FetchedModel
from tests.helpers.models import linear_classifier

RNG = np.random.default_rng(0)
ROWS = pd.DataFrame({"x": RNG.normal(size=120), "c": RNG.choice(["a", "b"], 120)})
LABELS = pd.Series((ROWS["x"] > 0).astype("int64"), name="y")


@pytest.fixture
def fetched(tmp_path):
    """A model as predict's fetch leaves it: its file, training schema and the model."""
    model = linear_classifier(ROWS, LABELS, numeric=["x"], categorical=["c"])
    path = dump_model(model, tmp_path / "model" / "model.skops")
    schema = infer_schema(ROWS, LABELS, "classification").as_json()

    def version(number: str) -> FetchedModel:
        ref = ModelRef("churn", number, "champion")
        return FetchedModel(ref, str(path.parent), schema, model)

    return version


@pytest.fixture
def settings(params):
    return Config.model_validate(params).predict


def _score(settings, batch, fetched, version, table):
    return score_batch(settings, batch, lambda: fetched(version), table=str(table), engine="pandas")


def test_a_batch_is_scored_once_per_model_version(tmp_path, fetched, settings, capsys):
    batch, table = tmp_path / "batch.csv", tmp_path / "predictions"
    ROWS.head(50).to_csv(batch, index=False)
    assert _score(settings, batch, fetched, "1", table) == 0
    assert len(predictions_table.read(str(table))) == 50
    capsys.readouterr()

    assert _score(settings, batch, fetched, "1", table) == 0  # again: nothing appended
    assert "already in" in capsys.readouterr().err
    assert len(predictions_table.read(str(table))) == 50

    assert _score(settings, batch, fetched, "2", table) == 0  # another version scores it
    scored = predictions_table.read(str(table))
    assert scored.groupby("model_version").size().to_dict() == {"1": 50, "2": 50}
    assert set(scored["batch_hash"]) == {scored["batch_hash"].iloc[0]}


def test_a_changed_batch_is_another_batch(tmp_path, fetched, settings):
    batch, table = tmp_path / "batch.csv", tmp_path / "predictions"
    ROWS.head(50).to_csv(batch, index=False)
    _score(settings, batch, fetched, "1", table)
    ROWS.head(51).to_csv(batch, index=False)
    _score(settings, batch, fetched, "1", table)
    assert len(predictions_table.read(str(table))) == 101


def test_a_batch_without_a_model_column_is_refused_and_nothing_written(tmp_path, fetched, settings):
    batch, table = tmp_path / "batch.csv", tmp_path / "predictions"
    ROWS.drop(columns="c").to_csv(batch, index=False)
    with pytest.raises(PipelineError, match="batch refused, nothing scored"):
        _score(settings, batch, fetched, "1", table)
    assert not table.exists()


def test_a_table_with_a_removed_data_file_is_refused_and_left_as_it_was(
    tmp_path, fetched, settings
):
    """An append would commit and leave every reader of the table refusing it."""
    batch, table = tmp_path / "batch.csv", tmp_path / "predictions"
    ROWS.head(50).to_csv(batch, index=False)
    _score(settings, batch, fetched, "1", table)
    next(table.glob("*.parquet")).unlink()
    log = sorted(p.name for p in (table / "_delta_log").iterdir())
    ROWS.head(40).to_csv(batch, index=False)
    with pytest.raises(PipelineError, match=r"1 of its 1 data files are missing, part-.*"):
        _score(settings, batch, fetched, "1", table)
    assert sorted(p.name for p in (table / "_delta_log").iterdir()) == log


def test_the_datas_id_column_is_copied_when_the_batch_has_it(tmp_path, fetched, settings, capsys):
    batch, table = tmp_path / "batch.csv", tmp_path / "predictions"
    ROWS.head(20).assign(customer_id=[f"C{i}" for i in range(20)]).to_csv(batch, index=False)
    score = dict(table=str(table), engine="pandas", id_column="customer_id")
    assert score_batch(settings, batch, lambda: fetched("1"), **score) == 0
    assert "ignoring" not in capsys.readouterr().err  # the ID is not an unknown column
    scored = predictions_table.read(str(table))
    assert scored["customer_id"].tolist() == [f"C{i}" for i in range(20)]

    plain = tmp_path / "plain.csv"  # a batch without IDs is scored all the same
    ROWS.head(20).to_csv(plain, index=False)
    assert score_batch(settings, plain, lambda: fetched("1"), **score) == 0
    assert predictions_table.read(str(table))["customer_id"].isna().sum() == 20


def test_a_column_conf_drops_from_the_data_is_not_extra(tmp_path, fetched, settings):
    """With predict.extra_columns=error, a batch straight from the source was refused for
    the column data.drop_columns leaves out of training; another extra one still is."""
    strict = settings.model_copy(update={"extra_columns": "error"})
    batch, table = tmp_path / "batch.csv", tmp_path / "predictions"
    ROWS.head(20).assign(notes="free text").to_csv(batch, index=False)
    score = dict(table=str(table), engine="pandas")
    assert score_batch(strict, batch, lambda: fetched("1"), **score, dropped=["notes"]) == 0
    assert len(predictions_table.read(str(table))) == 20
    ROWS.head(20).assign(notes="free text", other=1).to_csv(batch, index=False)
    with pytest.raises(PipelineError, match=r"not trained on \['other'\]"):
        score_batch(strict, batch, lambda: fetched("1"), **score, dropped=["notes"])
