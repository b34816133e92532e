"""The same rows through every path give the same answer: the pipeline trained on a CSV
with awkward cells (free text and a column of many levels among them), then those rows
scored from a CSV batch, a Parquet batch, the Spark engine and the REST server, and
monitored in both formats."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
from deltalake import DeltaTable

from mlops_template.io.lineage import file_md5
from mlops_template.io.model_file import load_model
from tests.helpers.servers import free_port, running
from tests.helpers.template import Template
from tests.unit.test_fast_scoring import JSON
from tests.unit.test_fast_scoring import requests as client_requests
from tests.unit.test_reading_parity import NAMES, raw_cells, typed_frame, write_csv

pytestmark = pytest.mark.slow
TABLE = "data/predictions"


def trained_on_cells(root, *overrides: str) -> tuple[Template, list[dict[str, str]]]:
    """The template trained on the generated CSV (free-text notes and a postcode of many
    levels among its columns), its model promoted to champion."""
    cells = raw_cells(seed=3, rows=400, text=True)
    write_csv(cells, root / "rows.csv")
    copy = Template.fresh(root / "template")
    data = ["data=csv", f"data.path={root / 'rows.csv'}", "data.target=label"]
    # One REST process: the answers are the same from any number (tests/e2e/test_serving.py
    # runs serve.workers' default), and each worker imports MLflow and loads the model.
    copy.main("params", "compose", *data, "serve.workers=1", *overrides)
    copy.run("dvc", "repro")
    copy.main("promote")
    return copy, cells


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Template, list[dict[str, str]]]:
    return trained_on_cells(tmp_path_factory.mktemp("parity"))


def scored(copy: Template, path) -> pd.DataFrame:
    rows = DeltaTable(str(copy.path(TABLE))).to_pandas()
    rows = rows[rows["batch_hash"] == file_md5(path)]
    return rows.sort_values("row_number").reset_index(drop=True)


def rest_predictions(copy: Template, rows: pd.DataFrame) -> list:
    """The rows scored by a real `mlops serve` of the champion, over HTTP."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "mlops_template", "serve", "--port", str(port)]
    text = rows.to_json(orient="split", index=False, date_format="iso")  # as clients send dates
    body = {"dataframe_split": json.loads(text)}
    with running(cmd, f"{url}/ping", copy.path(f"serve-{port}.log"), cwd=copy.root, env=copy.env):
        request = urllib.request.Request(
            f"{url}/invocations",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())["predictions"]


def test_every_path_scores_the_rows_alike(trained, tmp_path):
    assert_every_path_alike(*trained, tmp_path)


@pytest.mark.parametrize("learner", ["lightgbm", "xgboost"])
def test_every_path_scores_the_rows_alike_with_boosted_learners(learner, tmp_path):
    """LightGBM and XGBoost read text columns as categoricals: the same on every path."""
    copy, cells = trained_on_cells(tmp_path, f"model={learner}")
    assert json.loads(copy.path("models/schema.json").read_text())["task"] == "classification"
    assert_every_path_alike(copy, cells, tmp_path)


def assert_every_path_alike(copy: Template, cells: list[dict[str, str]], tmp_path) -> None:
    model = load_model(copy.path("models/model.skops"))
    schema = json.loads(copy.path("models/schema.json").read_text())
    features = [c["name"] for c in schema["columns"]]
    # What the pipeline trained and evaluated on: the rows as collect read them.
    collected = pd.read_parquet(copy.path("data/raw/dataset.parquet"))[features]
    labels, proba = model.predict(collected), model.predict_proba(collected)
    columns = [f"proba_{c}" for c in model.classes_]

    csv_path, parquet_path = tmp_path / "rows.csv", tmp_path / "rows.parquet"
    write_csv(cells, csv_path)
    typed_frame(cells).to_parquet(parquet_path)
    for path in (csv_path, parquet_path):
        copy.main("predict", str(path))
        rows = scored(copy, path)
        assert rows["prediction"].tolist() == [str(v) for v in labels], path.name
        np.testing.assert_array_equal(rows[columns].to_numpy(), proba, err_msg=path.name)

    spark_csv = tmp_path / "spark.csv"  # another file: the pandas engine scored rows.csv
    write_csv(cells, spark_csv)
    copy.main("predict", str(spark_csv), "--engine", "spark")
    rows = scored(copy, spark_csv)
    assert rows["prediction"].tolist() == [str(v) for v in labels]
    # Spark hands the model batches of other sizes: equal to the last bit or two.
    np.testing.assert_allclose(rows[columns].to_numpy(), proba, rtol=1e-12, atol=0)

    # REST: the typed rows as a client sends them (text as written, null where missing).
    served = rest_predictions(copy, typed_frame(cells)[features])
    assert served == labels.tolist()


def test_monitoring_the_training_rows_finds_no_drift_from_reading(trained, tmp_path):
    copy, cells = trained
    schema = json.loads(copy.path("models/schema.json").read_text())
    encoded = {c["name"] for c in schema["columns"] if c.get("encoding")}
    assert encoded == {NAMES["notes"], NAMES["postcode"]}
    for suffix in ("csv", "parquet"):
        path = tmp_path / f"rows.{suffix}"
        write_csv(cells, path) if suffix == "csv" else typed_frame(cells).to_parquet(path)
        copy.main("monitor", str(path))
        report = json.loads(
            max(
                copy.path("reports/monitor").glob("*.json"), key=lambda p: p.stat().st_mtime
            ).read_text()
        )
        assert report["batch"]["path"] == str(path)
        # Free text and many levels meet new values in the rows training left out: so
        # does any reading of them. Every other column's values were all seen.
        unseen = {name: r["unseen"] for name, r in report["features"].items() if r.get("unseen")}
        assert set(unseen) <= set(encoded), (suffix, unseen)
        drifted = {name: r for name, r in report["features"].items() if r["decision"] == "drift"}
        assert drifted == {}, suffix


def test_a_batch_the_contract_refuses_scores_nothing(trained, tmp_path):
    copy, cells = trained
    before = table_version(copy)  # None if no batch has been scored yet
    header = ",".join(f'"{name}"' for name in cells[0])
    row = ",".join(f'"{value}"' for value in cells[0].values())
    dupes = tmp_path / "dupes.csv"
    dupes.write_text(f"{header},label\n{row},no\n")
    infinite = tmp_path / "inf.csv"
    write_csv(cells, infinite)
    text = infinite.read_text().splitlines()
    text[3] = "inf" + text[3][text[3].index(",") :]  # the first column: the spend
    infinite.write_text("\n".join(text) + "\n")
    for path, reason in [
        (dupes, "duplicate column names ['label']"),
        (infinite, "column 'monthly spend ($)': 1 infinite values"),
    ]:
        done = copy.main("predict", str(path), check=False)
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
        assert str(path) in done.stderr and reason in done.stderr
    assert table_version(copy) == before


def table_version(copy: Template) -> int | None:
    path = copy.path(TABLE)
    return DeltaTable(str(path)).version() if path.exists() else None


def test_rest_reads_a_left_out_optional_column_as_missing(trained):
    """Every column had gaps in training, so each is optional; one left out of a
    request is missing in every row, as the model reads it on any other path."""
    copy, cells = trained
    model = load_model(copy.path("models/model.skops"))
    schema = json.loads(copy.path("models/schema.json").read_text())
    features = [c["name"] for c in schema["columns"]]
    rows = typed_frame(cells)[features].head(20)
    left_out = features[1]
    served = rest_predictions(copy, rows.drop(columns=left_out))
    assert served == model.predict(rows.assign(**{left_out: None})).tolist()


def test_the_server_answers_as_mlflow_serve_does(trained):
    """`mlops serve` (MLflow's app with a shorter path for JSON rows in front) and the
    stock `mlflow models serve` of the champion give the same answers, byte for byte,
    to requests a client sends and requests it gets wrong."""
    copy, cells = trained
    schema = json.loads(copy.path("models/schema.json").read_text())
    rows = typed_frame(cells)[[c["name"] for c in schema["columns"]]].head(8)
    bodies = [(JSON, json.dumps(request)) for request in client_requests(rows).values()]
    bodies += [
        ("text/csv", rows.to_csv(index=False)),
        (JSON, "{not json"),
        ("application/json; charset=utf-8", bodies[0][1]),
    ]
    servers = {
        "ours": [sys.executable, "-m", "mlops_template", "serve"],
        "stock": ["mlflow", "models", "serve", "-m", "models:/mlops-template@champion"],
    }
    # MLflow names the formats from a set in some errors: one order for both servers.
    env = {**copy.env, "PYTHONHASHSEED": "0"}
    seen = {}
    for name, cmd in servers.items():
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        local = ["--env-manager", "local"] if name == "stock" else []
        log = copy.path(f"{name}-{port}.log")
        with running(
            [*cmd, *local, "--port", str(port)], f"{url}/ping", log, cwd=copy.root, env=env
        ):
            seen[name] = [post(url, kind, body) for kind, body in bodies]
    assert [status for status, _, _ in seen["ours"]].count(200) >= 8
    assert seen["ours"] == seen["stock"]


def post(url: str, content_type: str, body: str) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode(), headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()
