"""The serving app's shorter path for JSON rows answers exactly as MLflow's scoring app
does, or leaves the request to it: on a real model with the signature training gives it
(numbers, optional columns, booleans and dates as text), over requests a client sends
and requests it gets wrong."""

from __future__ import annotations

import json

import mlflow.pyfunc
import mlflow.sklearn
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from mlflow.pyfunc.scoring_server import invocations

from mlops_template.config import Features
from mlops_template.config.model import LinearModel
from mlops_template.core.models import build_pipeline
from mlops_template.core.schema import infer_schema
from mlops_template.operate.fast_scoring import ScoringApp, cast_plan, typed_frame
from mlops_template.stages.train import _signature
from tests.unit.test_reading_parity import NAMES, raw_cells
from tests.unit.test_reading_parity import typed_frame as typed_cells

JSON = "application/json"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A model trained on awkward rows, saved and loaded as MLflow serves it."""
    cells = raw_cells(seed=5, rows=200)
    rows = typed_cells(cells)
    features, labels = rows.drop(columns="label"), rows["label"]
    schema = infer_schema(features, labels, "classification")
    model = build_pipeline(
        LinearModel(type="linear"),
        Features(),
        task="classification",
        numeric=schema.names("numeric"),
        categorical=schema.names("categorical"),
        boolean=schema.booleans,
        dates=schema.dates,
        seed=0,
    ).fit(features, labels)
    example = features.head(5)
    signature = _signature(infer_signature(example, model.predict(example)), schema)
    path = tmp_path_factory.mktemp("model") / "model"
    mlflow.sklearn.save_model(
        model, path, signature=signature, serialization_format="pickle", pip_requirements=[]
    )
    return mlflow.pyfunc.load_model(str(path)), features


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
        "no rows": {"dataframe_split": {"columns": whole["columns"], "data": []}},
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


def test_answers_as_mlflow_does_or_leaves_the_request_to_it(served):
    model, features = served
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


def test_broken_json_is_left_to_mlflow(served):
    model, _ = served
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
