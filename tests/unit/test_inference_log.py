"""The REST server's inference log, in process on a temporary table: every answered row
lands in the predictions table with its request id, the prediction the client got, the
model's class probabilities and its inputs as the contract read them; whatever goes
wrong with the log (a full queue, a table it cannot write), the request is answered."""

from __future__ import annotations

import io
import json
import os
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from mlflow.pyfunc import scoring_server
from sklearn.base import clone

from mlops_template.core.logged_inputs import features_from_log
from mlops_template.core.logged_requests import PARQUET, Answered, request_records
from mlops_template.core.schema import infer_schema
from mlops_template.io import predictions_table
from mlops_template.operate.serving.fast_scoring import ScoringApp
from mlops_template.operate.serving.inference_log import InferenceLog
from tests.helpers.asgi import call
from tests.unit.test_fast_scoring import JSON, split
from tests.unit.test_reading_parity import NAMES

SETTINGS = {
    "flush_requests": 1000,
    "flush_seconds": 3600.0,  # written when the test closes the log
    "max_waiting_requests": 100,
    "passthrough_columns": ["customer"],
    "model_name": "m",
    "model_version": "3",
    "model_alias": "champion",
}


def make_log(served_pyfunc, table, **changes) -> InferenceLog:
    model, features = served_pyfunc
    labels = model.get_raw_model().predict(features)  # only the column kinds are read
    schema = infer_schema(features, pd.Series(labels), "classification")
    return InferenceLog({**SETTINGS, "table": str(table), **changes}, model.get_raw_model(), schema)


def app_with(served_pyfunc, log) -> ScoringApp:
    model, _ = served_pyfunc
    with mock.patch.dict(os.environ):  # init marks the process as a serving environment
        mlflow_app = scoring_server.init(model)
    return ScoringApp(mlflow_app, model, timeout=60, log=log)


def post(app, rows: pd.DataFrame, kind: str = JSON, request_id: bytes | None = None, **extra):
    headers = [(b"content-type", kind.encode())]
    if request_id is not None:
        headers.append((b"x-request-id", request_id))
    if kind == "text/csv":
        body = rows.to_csv(index=False).encode()
    else:
        body = json.dumps({"dataframe_split": split(rows), **extra}).encode()
    return call(app, "POST", "/invocations", body, headers)


def test_every_answered_row_is_logged_with_its_request_id_prediction_and_inputs(
    served_pyfunc, tmp_path
):
    model, features = served_pyfunc
    table = tmp_path / "predictions"
    log = make_log(served_pyfunc, table)
    app = app_with(served_pyfunc, log)
    rows = features.head(6).assign(customer=[f"c{i}" for i in range(6)])
    answers = {
        "fast": post(app, rows.head(3)),
        "client id": post(app, rows.iloc[[3]], request_id=b"order-17"),
        "csv (MLflow's own path)": post(app, rows.iloc[4:], kind="text/csv"),
    }
    ids = {}
    for name, (status, headers, body) in answers.items():
        assert status == 200, (name, body)
        ids[name] = headers[b"x-request-id"].decode()
    assert ids["client id"] == "order-17"
    assert len(set(ids.values())) == 3
    log.close()

    logged = predictions_table.read(str(table)).sort_values(["scored_at", "row_number"])
    assert len(logged) == 6
    assert (
        logged["request_id"].tolist()
        == [ids["fast"]] * 3 + [ids["client id"]] + [ids["csv (MLflow's own path)"]] * 2
    )
    assert logged["row_number"].tolist() == [0, 1, 2, 0, 0, 1]
    assert logged["customer"].tolist() == rows["customer"].tolist()
    served_labels = [p for _, _, b in answers.values() for p in json.loads(b)["predictions"]]
    assert logged["prediction"].tolist() == [str(p) for p in served_labels]
    raw = model.get_raw_model()
    sent = pd.concat(  # the rows as the requests carried them (JSON's 10 digits)
        [pd.DataFrame(**split(rows.head(4))), rows.iloc[4:]], ignore_index=True
    )
    proba = raw.predict_proba(sent)
    for i, label in enumerate(raw.classes_):
        np.testing.assert_array_equal(logged[f"proba_{label}"].to_numpy(), proba[:, i])
    assert set(logged["model_version"]) == {"3"} and logged["batch_hash"].isna().all()
    # The inputs are what the model's first step reads, cell for cell.
    schema = make_log(served_pyfunc, tmp_path / "other").inputs
    read = raw[0].transform(sent)
    logged_features = features_from_log(logged.reset_index(drop=True), schema)
    for name in schema.names("numeric") + schema.names("categorical"):
        pd.testing.assert_series_equal(
            logged_features[name], read[name].reset_index(drop=True), check_dtype=False
        )
    date = NAMES["date"]
    expected = pd.to_datetime(rows[date], utc=True).dt.tz_localize(None).reset_index(drop=True)
    assert (logged_features[date].isna() == expected.isna()).all()
    assert (logged_features[date].dropna() == expected.dropna()).all()


def test_refused_requests_are_answered_and_not_logged(served_pyfunc, tmp_path):
    _, features = served_pyfunc
    table = tmp_path / "predictions"
    log = make_log(served_pyfunc, table)
    app = app_with(served_pyfunc, log)
    bad = features.head(2).copy()
    bad[NAMES["date"]] = "next tuesday"
    status, headers, _ = post(app, bad)
    assert status == 400 and b"x-request-id" in headers  # the answer names its request
    assert post(app, features.head(1))[0] == 200
    # Left to MLflow's app unread (not a POST): answered as it answers, nothing logged.
    assert call(app, "GET", "/invocations", b"", [])[0] == 405
    log.close()
    assert len(predictions_table.read(str(table))) == 1


def test_a_parquet_request_is_logged_as_its_rows(served_pyfunc, tmp_path):
    """MLflow's app answers Parquet bodies: they were answered and not logged."""
    _, features = served_pyfunc
    table = tmp_path / "predictions"
    log = make_log(served_pyfunc, table)
    app = app_with(served_pyfunc, log)
    sent = pd.DataFrame(**split(features.head(3)))  # dates as text, as in JSON
    # Booleans too: the signature declares them text, and MLflow refuses a bool column.
    sent[NAMES["bool"]] = sent[NAMES["bool"]].map(lambda v: None if v is None else str(v))
    body = io.BytesIO()
    sent.to_parquet(body)
    headers = [(b"content-type", PARQUET.encode())]
    status, _, answer = call(app, "POST", "/invocations", body.getvalue(), headers)
    assert status == 200, answer
    log.close()
    logged = predictions_table.read(str(table))
    assert logged["prediction"].tolist() == [str(p) for p in json.loads(answer)["predictions"]]
    health = log.health()
    assert health["inference_log"]["unlogged_requests"] == 0
    assert health["model"] == {"name": "m", "version": "3", "alias": "champion"}


def test_a_table_it_cannot_write_is_reported_in_health_and_retried(served_pyfunc, tmp_path):
    _, features = served_pyfunc
    table = tmp_path / "predictions"
    table.write_text("not a table")  # written into by someone else
    log = make_log(served_pyfunc, table)
    app = app_with(served_pyfunc, log)
    assert post(app, features.head(2))[0] == 200
    log.flush()
    status, _, body = call(app, "GET", "/health")
    health = json.loads(body)
    assert status == 200 and health["status"] == "degraded"
    assert health["inference_log"]["failed_writes"] == 1
    assert "is a file, not a predictions table" in health["inference_log"]["last_error"]
    assert health["inference_log"]["waiting_requests"] == 1  # kept to retry
    table.unlink()
    assert post(app, features.head(3))[0] == 200
    log.close()
    assert len(predictions_table.read(str(table))) == 5
    assert json.loads(call(app, "GET", "/health")[2])["status"] == "ok"


def test_a_full_queue_drops_rows_never_requests(served_pyfunc, tmp_path, capfd):
    _, features = served_pyfunc
    log = make_log(served_pyfunc, tmp_path / "predictions", max_waiting_requests=2)
    app = app_with(served_pyfunc, log)
    assert [post(app, features.head(1))[0] for _ in range(4)] == [200] * 4
    health = json.loads(call(app, "GET", "/health")[2])
    assert health["inference_log"]["dropped_requests"] == 2
    assert health["status"] == "degraded"
    log.close()
    assert len(predictions_table.read(str(tmp_path / "predictions"))) == 2
    said = capfd.readouterr().err
    assert said.count("2 requests are waiting to be written; dropping") == 1  # said once


def test_a_request_the_log_cannot_read_is_counted_and_the_rest_logged(served_pyfunc, tmp_path):
    _, features = served_pyfunc
    log = make_log(served_pyfunc, tmp_path / "predictions")
    good = json.dumps({"dataframe_split": split(features.head(2))}).encode()
    answer = json.dumps({"predictions": ["a", "b"]}).encode()
    log.add(Answered("one", 1, JSON, good, answer))
    log.add(Answered("two", 2, "application/octet-stream", good, answer))
    log.add(Answered("three", 3, JSON, good, b'{"predictions": ["a"]}'))  # rows != answers
    log.close()
    assert predictions_table.read(str(tmp_path / "predictions"))["request_id"].tolist() == [
        "one",
        "one",
    ]
    assert log.health()["inference_log"]["unlogged_requests"] == 2


def test_requests_are_read_in_every_json_shape_mlflow_takes():
    split_body = json.dumps({"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"]]}})
    records = json.dumps({"dataframe_records": [{"a": 1, "b": "x"}]})
    columns = json.dumps({"dataframe_records": {"a": [1], "b": ["x"]}})
    for body in (split_body, records, columns):
        assert request_records(JSON, body.encode()) == [{"a": 1, "b": "x"}]
    assert request_records("text/csv", b"a,b\n1,x\n") == [{"a": 1, "b": "x"}]
    parquet = io.BytesIO()
    pd.DataFrame({"a": [1], "b": ["x"]}).to_parquet(parquet)
    assert request_records(PARQUET, parquet.getvalue()) == [{"a": 1, "b": "x"}]
    with pytest.raises(ValueError, match="keys"):
        request_records(JSON, b'{"instances": [[1, 2]]}')


def test_a_shadow_model_is_logged_beside_the_answer_and_never_returned(served_pyfunc, tmp_path):
    model, features = served_pyfunc
    raw = model.get_raw_model()
    rows = features.head(5)
    shadow = clone(raw).fit(features.head(40), ["no", "yes"] * 20)  # another fit of it
    table = tmp_path / "predictions"
    settings = {"shadow": {"model_version": "4", "model_alias": "challenger"}}
    labels = raw.predict(features)
    schema = infer_schema(features, pd.Series(labels), "classification")
    log = InferenceLog({**SETTINGS, "table": str(table), **settings}, raw, schema, shadow)
    app = app_with(served_pyfunc, log)
    status, headers, body = post(app, rows)
    assert status == 200 and json.loads(body)["predictions"] == raw.predict(rows).tolist()
    log.close()
    logged = predictions_table.read(str(table)).sort_values(["shadow", "row_number"])
    served, shadowed = logged[~logged["shadow"]], logged[logged["shadow"]]
    assert len(served) == len(shadowed) == 5
    assert set(shadowed["request_id"]) == {headers[b"x-request-id"].decode()}
    assert set(shadowed["model_version"]) == {"4"} and set(shadowed["model_alias"]) == {
        "challenger"
    }
    assert set(served["model_version"]) == {"3"}
    assert shadowed["prediction"].tolist() == [str(p) for p in shadow.predict(rows)]
    inputs = [c for c in logged if c.startswith("input_")]
    pd.testing.assert_frame_equal(
        served[inputs].reset_index(drop=True), shadowed[inputs].reset_index(drop=True)
    )
    assert log.health()["inference_log"]["shadow_rows"] == 5


def test_a_shadow_model_with_other_classes_is_refused(served_pyfunc, tmp_path):
    model, features = served_pyfunc
    raw = model.get_raw_model()
    other = clone(raw).fit(features.head(30), ["x", "y", "z"] * 10)
    schema = infer_schema(features, pd.Series(raw.predict(features)), "classification")
    settings = {
        **SETTINGS,
        "table": str(tmp_path / "t"),
        "shadow": {"model_version": "4", "model_alias": "c"},
    }
    with pytest.raises(ValueError, match="classes"):
        InferenceLog(settings, raw, schema, other)


def test_ids_are_logged_as_batch_rows_hold_them_whatever_else_the_flush_holds(
    served_pyfunc, tmp_path
):
    """A request without the ID column in the same flush must not turn 123 into "123.0"
    (labels matched by that ID would never find it)."""
    _, features = served_pyfunc
    log = make_log(served_pyfunc, tmp_path / "predictions")
    app = app_with(served_pyfunc, log)
    post(app, features.head(1).assign(customer=123))
    post(app, features.iloc[[1]])  # no ID
    post(app, features.iloc[[2]].assign(customer=True))
    log.close()
    logged = predictions_table.read(str(tmp_path / "predictions")).sort_values("scored_at")
    ids = [None if pd.isna(v) else v for v in logged["customer"]]
    assert ids == ["123", None, "true"]


def test_serve_refuses_at_start_a_log_table_its_rows_do_not_fit(params, tmp_path):
    """Checked before any worker starts (not at the first flush): a regression's log,
    whose predictions are numbers, cannot take a classifier's rows."""
    from mlops_template.config import Config
    from mlops_template.errors import PipelineError
    from mlops_template.io.model_versions import ModelRef
    from mlops_template.operate.serving.serve import inference_log_env

    from .conftest import training_schema

    table = tmp_path / "log"
    regression = predictions_table.table_schema(None, [], [])
    numbers = pa.Table.from_pylist([{"row_number": 0, "prediction": 1.5}], regression)
    predictions_table.append(str(table), regression, iter(numbers.to_batches()))
    params["serve"]["log"]["table"] = str(table)
    cfg = Config.model_validate(params)
    schema = training_schema({"name": "x", "kind": "numeric"}, classes=["no", "yes"])
    with pytest.raises(PipelineError, match="prediction: table double, batch string") as err:
        inference_log_env(cfg, ModelRef("m", "1", "champion"), schema)
    assert "predict.table=..., which serve.log.table follows" in str(err.value)
    params["serve"]["log"]["table"] = str(tmp_path / "new")
    settings = inference_log_env(Config.model_validate(params), ModelRef("m", "1", None), schema)
    assert json.loads(settings["MLOPS_INFERENCE_LOG"])["table"] == str(tmp_path / "new")


def test_serve_refuses_at_start_a_log_table_with_a_removed_data_file(params, tmp_path):
    from mlops_template.config import Config
    from mlops_template.errors import PipelineError
    from mlops_template.io.model_versions import ModelRef
    from mlops_template.operate.serving.serve import inference_log_env

    from .conftest import training_schema

    schema = training_schema({"name": "x", "kind": "numeric"}, classes=["no", "yes"])
    table = tmp_path / "log"
    rows = predictions_table.table_schema(["no", "yes"], [], [])
    one = pa.Table.from_pylist([{"row_number": 0, "prediction": "yes"}], rows)
    predictions_table.append(str(table), rows, iter(one.to_batches()))
    params["serve"]["log"]["table"] = str(table)
    cfg = Config.model_validate(params)
    inference_log_env(cfg, ModelRef("m", "1", "champion"), schema)  # whole: accepted
    next(table.glob("*.parquet")).unlink()
    with pytest.raises(PipelineError, match="1 of its 1 data files are missing"):
        inference_log_env(cfg, ModelRef("m", "1", "champion"), schema)


def test_monitor_reads_this_models_rows_up_to_now(served_pyfunc, tmp_path, capsys):
    """A copy of the log's rows stamped 2099 had monitor --log's windows end in 2099 and
    leave every real row out, unsaid; another model's rows counted as this one's."""
    from deltalake import DeltaTable

    from mlops_template.operate.monitoring.log_monitor import read_log

    table = tmp_path / "predictions"
    log = make_log(served_pyfunc, table)
    assert post(app_with(served_pyfunc, log), served_pyfunc[1].head(6))[0] == 200
    log.close()
    rows = DeltaTable(str(table)).to_pyarrow_table()

    def with_all(column: str, value) -> pa.Table:
        field = rows.schema.field(column)
        values = pa.array([value] * rows.num_rows).cast(field.type)
        return rows.set_column(rows.schema.get_field_index(column), column, values)

    for copy in (
        with_all("scored_at", pd.Timestamp("2099-01-01", tz="UTC")),
        with_all("model_name", "another"),
    ):
        predictions_table.append(str(table), rows.schema, iter(copy.to_batches()))
    model, features = served_pyfunc
    labels = pd.Series(model.get_raw_model().predict(features))
    read = read_log(str(table), infer_schema(features, labels, "classification"), "m")
    assert len(read) == 6 and read["scored_at"].max() < pd.Timestamp.now(tz="UTC")
    err = capsys.readouterr().err
    assert "6 rows scored by another model left out" in err
    assert "6 rows stamped more than 5 minutes ahead of now left out" in err
