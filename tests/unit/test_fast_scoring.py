"""The serving app's shorter path for JSON rows answers exactly as MLflow's scoring app
does, or leaves the request to it: on a real model with the signature training gives it
(numbers, optional columns, booleans and dates as text), over requests a client sends
and requests it gets wrong. Where MLflow's app answers with a stack trace or a 500 (rows
the raw-row contract refuses, a body nested too deeply), it answers a 400 saying why."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from unittest import mock

import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import scoring_server
from mlflow.pyfunc.scoring_server import invocations

from mlops_template.operate.serving.fast_scoring import ScoringApp, cast_plan, typed_frame
from tests.helpers.asgi import call
from tests.unit.test_reading_parity import NAMES

JSON = "application/json"


def split(frame: pd.DataFrame) -> dict:
    return json.loads(frame.to_json(orient="split", index=False, date_format="iso"))


def requests(features: pd.DataFrame) -> dict[str, dict]:
    rows = features.head(8)
    whole = split(rows)
    numbers = split(rows)
    spend = numbers["columns"].index(NAMES["num"])
    for row in numbers["data"]:  # whole numbers, as a client may write them
        row[spend] = None if row[spend] is None else round(row[spend])
    text_for_number = split(rows)
    text_for_number["data"][0][spend] = "lots"
    records = json.loads(rows.to_json(orient="records", date_format="iso"))
    return {
        "split": {"dataframe_split": whole},
        "records": {"dataframe_records": records},
        "one row": {"dataframe_split": split(rows.head(1))},
        "whole numbers": {"dataframe_split": numbers},
        "all missing": {"dataframe_split": split(rows.head(2).map(lambda _: None))},
        "a column left out": {"dataframe_split": split(rows.drop(columns=NAMES["num"]))},
        "a required column left out": {"dataframe_split": split(rows.drop(columns=NAMES["cat"]))},
        "an extra column": {"dataframe_split": split(rows.assign(extra=1.5))},
        "columns reordered": {"dataframe_split": split(rows[rows.columns[::-1]])},
        "text for a number": {"dataframe_split": text_for_number},
        "ragged": {"dataframe_split": {"columns": whole["columns"], "data": [[1.0]]}},
        "with params": {"dataframe_split": whole, "params": {}},
        "instances": {"instances": records},
        "two formats": {"dataframe_split": whole, "dataframe_records": []},
    }


def mlflow_answer(model, body: bytes) -> tuple[int, str | None]:
    try:
        answer = invocations(body, JSON, model, model.metadata.get_input_schema())
    except MlflowException as err:
        return err.get_http_status_code(), None
    return answer.status, answer.response


def test_answers_as_mlflow_does_or_leaves_the_request_to_it(served_pyfunc):
    model, features = served_pyfunc
    app = ScoringApp(None, model, timeout=60)
    taken = []
    for name, request in requests(features).items():
        body = json.dumps(request).encode()
        status, text = mlflow_answer(model, body)
        ours = app.answer(body)
        if status != 200:
            assert ours is None, name  # MLflow's app answers it, with its error
            continue
        if ours is not None:
            assert ours == (200, text), name
            taken.append(name)
    # The requests a client sends take the shorter path.
    assert {"split", "records", "one row", "whole numbers", "all missing"} <= set(taken)
    assert "a column left out" in taken  # the optional column is read as missing


def test_broken_json_is_left_to_mlflow(served_pyfunc):
    model, _ = served_pyfunc
    assert ScoringApp(None, model, timeout=60).answer(b"{not json") is None


def test_casts_only_what_mlflow_would_change():
    frame = pd.DataFrame({"n": [1, 2], "x": [0.5, None], "s": pd.Series(["a", None])})
    plan = {"n": pd.api.types.pandas_dtype("float64"), "x": pd.api.types.pandas_dtype("float64")}
    plan["s"] = pd.api.types.pandas_dtype(object)
    cast = typed_frame(frame, plan)
    assert cast.dtypes.astype(str).to_dict() == {"n": "float64", "x": "float64", "s": "str"}
    with pytest.raises(ValueError):
        typed_frame(frame.rename(columns={"x": "n"}), plan)  # duplicate names


def test_signatures_beyond_plain_columns_are_left_to_mlflow():
    import numpy as np
    from mlflow.types.schema import ColSpec, Schema, TensorSpec

    assert cast_plan(None) == {}
    assert cast_plan(Schema([ColSpec("double", "a"), ColSpec("datetime", "d")])) is None
    assert cast_plan(Schema([ColSpec("binary", "b")])) is None
    assert cast_plan(Schema([TensorSpec(np.dtype("float64"), (-1, 2))])) is None
    plain = Schema([ColSpec("double", "a"), ColSpec("string", "s")])
    assert cast_plan(plain) == {"a": np.dtype("float64"), "s": np.dtype(object)}


# Through the app itself, as uvicorn calls it: the shorter path and MLflow's app behind it.


@pytest.fixture(scope="module")
def apps(served_pyfunc) -> tuple:
    """MLflow's scoring app for the served_pyfunc model, and ours in front of it."""
    model, _ = served_pyfunc
    with mock.patch.dict(os.environ):  # init marks the process as a serving environment
        mlflow_app = scoring_server.init(model)
    return mlflow_app, ScoringApp(mlflow_app, model, timeout=60)


def post(app, body: bytes, content_type: str = JSON) -> tuple[int, bytes, bytes]:
    """A POST to /invocations: status, Content-Type and body of the answer."""
    status, headers, answer = call(
        app, "POST", "/invocations", body, [(b"content-type", content_type.encode())]
    )
    return status, headers[b"content-type"], answer


CHARSET = "application/json; charset=utf-8"


def test_the_app_answers_well_formed_requests_as_mlflows_app_does(served_pyfunc, apps):
    """Byte for byte, with or without a charset in the Content-Type."""
    mlflow_app, app = apps
    _, features = served_pyfunc
    for name, request in requests(features).items():
        body = json.dumps(request).encode()
        for kind in (JSON, CHARSET, "application/json; charset=latin-1", "text/plain"):
            assert post(app, body, kind) == post(mlflow_app, body, kind), (name, kind)


def cell(value: str) -> Callable[[pd.DataFrame, str], bytes]:
    """Four rows as a client sends them, one cell of a column written as the JSON text
    `value`."""

    def body(features: pd.DataFrame, column: str) -> bytes:
        rows = split(features.head(4))
        rows["data"][1][rows["columns"].index(column)] = "<cell>"
        return json.dumps({"dataframe_split": rows}).replace('"<cell>"', value).encode()

    return body


def pandas_json(features: pd.DataFrame, _column: str) -> bytes:
    """Four rows as pandas 3's to_json writes them unless told date_format="iso": dates as
    epoch milliseconds (two here, two missing)."""
    head = features.head(4)
    epoch = pd.Timestamp(0, tz="UTC")  # the frame's dates are zoned
    for column in head.select_dtypes("datetimetz"):
        head[column] = ((head[column] - epoch) // pd.Timedelta("1ms")).astype("Int64")
    rows = json.loads(head.to_json(orient="split", index=False))
    return json.dumps({"dataframe_split": rows}).encode()


@pytest.mark.parametrize(
    ("column", "body", "reason"),
    [
        ("date", pandas_json, r"2 values are not ISO 8601 dates, e.g. \['1\d{12}"),
        ("date", cell("1674259200000"), r"1 values are not ISO 8601 dates, e.g. \['1674259200000'"),
        ("date", cell('"next tuesday"'), r"1 values are not ISO 8601 dates, e.g. \['next tuesday'"),
        ("num", cell("Infinity"), "1 infinite values"),
        ("num", cell("-Infinity"), "1 infinite values"),
        ("num", cell("1e400"), "1 infinite values"),
        (
            "cat",
            cell('{"a": 1}'),
            r"1 values are not text, numbers or true/false, e.g. \{'a': 1\}$",
        ),
    ],
    ids=[
        "epoch-ms-dates",
        "an-epoch-ms-date",
        "text-for-date",
        "infinity",
        "-infinity",
        "1e400",
        "a-mapping-for-a-category",
    ],
)
def test_rows_the_contract_refuses_get_a_400_naming_the_column(
    served_pyfunc, apps, column, body, reason
):
    """MLflow's app answers "an unexpected error" and a whole stack trace; ours gives the
    contract's reason, in the shape of MLflow's errors."""
    _, app = apps
    _, features = served_pyfunc
    for kind in (JSON, CHARSET):
        status, _, answer = post(app, body(features, NAMES[column]), kind)
        error = json.loads(answer)
        assert status == 400 and error["error_code"] == "BAD_REQUEST"
        assert error["message"].startswith(f"column '{NAMES[column]}': ")
        assert re.search(reason, error["message"]), error["message"]
        if column == "num":  # what the client sent, though JSON reads all three as infinity
            assert "Infinity and -Infinity" in error["message"] and "1e400" in error["message"]
        assert "stack_trace" not in error and "Traceback" not in error["message"]


@pytest.mark.parametrize("kind", [JSON, CHARSET])
def test_a_body_nested_too_deeply_gets_a_400_and_the_app_serves_on(served_pyfunc, apps, kind):
    """MLflow's app lets json's RecursionError through: a 500 with no reason."""
    _, app = apps
    _, features = served_pyfunc
    for body in (b"[" * 200_000 + b"]" * 200_000, b'{"dataframe_split": ' + b"[" * 5_000):
        status, _, answer = post(app, body, kind)
        error = json.loads(answer)
        assert status == 400 and error["error_code"] == "BAD_REQUEST"
        assert error["message"] == "the request body nests too deeply to be a table of rows"
    status, _, answer = post(app, json.dumps({"dataframe_split": split(features.head(2))}).encode())
    assert status == 200 and len(json.loads(answer)["predictions"]) == 2


def as_request(rows: pd.DataFrame, form: str) -> tuple[bytes, str]:
    """The rows as a client sends them in each format MLflow's app reads: body and type."""
    records = json.loads(rows.to_json(orient="records", date_format="iso"))
    bodies = {
        "split": {"dataframe_split": split(rows)},
        "split with params": {"dataframe_split": split(rows), "params": {}},
        "instances": {"instances": records},
        "inputs by column": {"inputs": {c: [r[c] for r in records] for c in rows.columns}},
    }
    if form == "csv":
        return ("\ufeff" + rows.to_csv(index=False)).encode(), "text/csv"  # as Excel writes
    return json.dumps(bodies[form]).encode(), JSON


FORMS = ["split", "split with params", "instances", "inputs by column", "csv"]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("misnamed", [str.upper, lambda name: f" {name}"])
def test_an_optional_column_misnamed_gets_a_400_naming_it(served_pyfunc, apps, misnamed, form):
    """MLflow's app drops the unknown column and reads the optional one as missing in
    every row: an answer, 200, as if the client had left it out (a batch is refused).
    Only JSON rows without `params` were refused before; the other forms go to MLflow's
    app, which answered them 200."""
    mlflow_app, app = apps
    _, features = served_pyfunc
    optional = NAMES["num"]  # missing in training: may be left out of a request
    rows = features.head(3).rename(columns={optional: misnamed(optional)})
    assert post(mlflow_app, *as_request(rows, form))[0] == 200  # what it answered
    status, _, answer = post(app, *as_request(rows, form))
    error = json.loads(answer)
    assert status == 400 and error["error_code"] == "BAD_REQUEST"
    said = f"columns the model does not know: '{misnamed(optional)}' (the model's '{optional}')"
    assert error["message"].startswith(said)
    unknown = features.head(3).assign(extra=1.0)  # not a near miss: dropped, as MLflow does
    status, _, answer = post(app, *as_request(unknown, form))
    assert status == 200 and len(json.loads(answer)["predictions"]) == 3


def test_a_column_spelt_as_the_models_beside_it_gets_a_400(served_pyfunc, apps):
    """`Age` beside `age`: MLflow's app dropped one of the two values, 200."""
    _, app = apps
    _, features = served_pyfunc
    name = NAMES["num"]
    rows = features.head(3).assign(**{name.upper(): features[name].head(3)})
    status, _, answer = post(app, *as_request(rows, "split"))
    assert status == 400
    assert f"'{name.upper()}' (the model's '{name}')" in json.loads(answer)["message"]


def test_requests_mlflows_app_fails_on_get_a_reason_of_ours(served_pyfunc, apps):
    """No Content-Type was a 500 (MLflow's app splits the missing header); no rows and a
    column sent twice were "an unexpected error" or "'DataFrame' object has no attribute
    'dtype'", with MLflow's stack trace (in a CSV, pandas renamed the copy, and it was
    dropped unsaid)."""
    mlflow_app, app = apps
    _, features = served_pyfunc
    body = json.dumps({"dataframe_split": split(features.head(2))}).encode()
    status, _, answer = call(app, "POST", "/invocations", body)
    assert status == 415 and json.loads(answer)["message"].startswith("no Content-Type header")
    columns = split(features.head(2))["columns"]
    empty = json.dumps({"dataframe_split": {"columns": columns, "data": []}}).encode()
    twice = features.head(2).iloc[:, [0, 0, *range(1, features.shape[1])]]
    split_twice = json.dumps({"dataframe_split": split(twice)}).encode()
    for request, said in (
        ((empty, JSON), "dataframe_split holds no rows to score"),
        ((split_twice, JSON), f"columns sent more than once: ['{columns[0]}']"),
        ((twice.to_csv(index=False).encode(), "text/csv"), "columns sent more than once"),
    ):
        assert post(mlflow_app, *request)[0] != 200 or request[1] == "text/csv"  # as it was
        status, _, answer = post(app, *request)
        error = json.loads(answer)
        assert status == 400 and error["message"].startswith(said), error
        assert "stack_trace" not in error
