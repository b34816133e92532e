"""The inference log with the real server: requests to `serve` and a batch `predict` land
in one predictions table; SIGTERM writes everything the workers held, kill -9 loses at
most what a worker had not yet written."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pandas as pd
import psutil
import pytest

from mlops_template.io import predictions_table
from tests.helpers.servers import answers, free_port
from tests.helpers.template import Template

pytestmark = pytest.mark.slow

TABLE = "data/predictions"


@pytest.fixture(scope="module")
def copy(served_build, tmp_path_factory) -> Template:
    return served_build.clone_to(tmp_path_factory.mktemp("log") / "copy", with_store=True)


@contextmanager
def serving(copy: Template, log_path) -> Iterator[tuple[subprocess.Popen, int]]:
    """`serve` on a free port, ready; whatever is left of it killed afterwards (it runs
    the scoring server in a session of its own)."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlops_template", "serve", "--port", str(port)]
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            cmd, cwd=copy.root, env=copy.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    processes = []
    try:
        deadline = time.monotonic() + 120
        while not answers(f"http://127.0.0.1:{port}/ping"):
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.5)
        processes = psutil.Process(server.pid).children(recursive=True)
        yield server, port
    finally:
        if server.poll() is None:
            server.kill()
        for process in processes:
            with suppress(psutil.NoSuchProcess):
                process.kill()
        server.wait(timeout=30)


def send(port: int, rows: pd.DataFrame, connections: int = 4) -> dict[str, object]:
    """One row a request, over several kept-alive connections (so every worker gets
    some), each with its own request id; the answers by id."""
    clients = [
        http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(connections)
    ]
    answered = {}
    for i in range(len(rows)):
        body = json.dumps(
            {"dataframe_split": json.loads(rows.iloc[[i]].to_json(orient="split", index=False))}
        )
        client = clients[i % connections]
        headers = {"Content-Type": "application/json", "X-Request-ID": f"r{i}"}
        client.request("POST", "/invocations", body, headers)
        answer = client.getresponse()
        assert answer.status == 200 and answer.getheader("x-request-id") == f"r{i}"
        answered[f"r{i}"] = json.loads(answer.read())["predictions"][0]
    for client in clients:
        client.close()
    return answered


def health(port: int) -> dict:
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    client.request("GET", "/health")
    return json.loads(client.getresponse().read())


def test_rest_and_batch_rows_land_in_one_table_and_sigterm_loses_nothing(copy, tmp_path):
    # Nothing is written before the stop: what the table holds, the shutdown wrote.
    copy.main("params", "compose", "serve.log.flush_seconds=3600", "serve.workers=2")
    rows = pd.read_parquet(copy.path("data/prepared/test.parquet")).drop(columns="target")
    with serving(copy, tmp_path / "serve.log") as (server, port):
        answered = send(port, rows.head(30))
        assert health(port)["inference_log"]["logged_rows"] == 0
        batch = tmp_path / "batch.csv"
        rows.tail(20).to_csv(batch, index=False)
        copy.mlops("predict", str(batch))  # into the same table, while the server runs
        server.send_signal(signal.SIGTERM)  # as `docker stop` or a supervisor stops it
        assert server.wait(timeout=60) == 128 + signal.SIGTERM
    logged = predictions_table.read(str(copy.path(TABLE)))
    rest = logged[logged["request_id"].notna()]
    rest = rest.sort_values("request_id", key=lambda ids: ids.str[1:].astype(int))  # r0, r1, ...
    assert sorted(rest["request_id"]) == sorted(answered)  # every request, once
    assert dict(zip(rest["request_id"], rest["prediction"], strict=True)) == {
        key: str(value) for key, value in answered.items()
    }
    scored = logged[logged["batch_hash"].notna()].sort_values("row_number")
    assert len(scored) == 20 and scored["request_id"].isna().all()
    # One schema: the model's inputs on both, read the same way.
    assert rest["input_mean radius"].tolist() == rows.head(30)["mean radius"].tolist()
    assert scored["input_mean radius"].tolist() == rows.tail(20)["mean radius"].tolist()
    assert set(logged["model_version"]) == {"1"} and set(logged["model_alias"]) == {"champion"}
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def test_kill_9_loses_at_most_what_was_not_yet_written(copy, tmp_path):
    table = tmp_path / "log"
    copy.main(
        "params", "compose", f"serve.log.table={table}", "serve.workers=1",
        "serve.log.flush_requests=5", "serve.log.flush_seconds=3600",
    )  # fmt: skip
    rows = pd.read_parquet(copy.path("data/prepared/test.parquet")).drop(columns="target")
    with serving(copy, tmp_path / "serve.log") as (server, port):
        send(port, rows.head(12), connections=1)
        deadline, written = time.monotonic() + 60, 0
        while written < 10:  # two batches of five at least
            assert time.monotonic() < deadline
            time.sleep(0.2)
            written = health(port)["inference_log"]["logged_rows"]
        # The scoring server itself, in a session of its own, as the kernel's OOM killer would.
        (uvicorn,) = [p for p in psutil.Process(server.pid).children() if "uvicorn" in p.cmdline()]
        os.killpg(uvicorn.pid, signal.SIGKILL)
        server.wait(timeout=30)
    # What was written is there, once, and the table reads; what was waiting is lost.
    logged = sorted(predictions_table.read(str(table))["request_id"], key=lambda r: int(r[1:]))
    assert len(logged) >= written and logged == [f"r{i}" for i in range(len(logged))]


def wait_for_next_window(after: pd.Timestamp, seconds: int) -> None:
    """Sleep until the window after the one `after` falls in has begun."""
    start = after.floor(f"{seconds}s") + pd.Timedelta(seconds=seconds)
    time.sleep(max(0.0, (start - pd.Timestamp.now(tz="UTC")).total_seconds()) + 0.5)


def test_rest_and_batch_rows_labelled_later_are_monitored_window_by_window(copy, tmp_path):
    """Calm REST traffic in one window, a drifted batch in the next; labels for both
    arrive afterwards (by request id and by the batch's own ID column); `monitor --log`
    shows the two windows, the second drifted, each scored on its labels."""
    table = tmp_path / "log"
    window = 20  # seconds: short enough to wait for the next one
    copy.main(
        "params", "compose", f"predict.table={table}", f"serve.log.table={table}",
        "predict.passthrough_columns=[row_id]", f"monitor.window={window}s",
        "monitor.windows=2", f"monitor.labels_table={tmp_path / 'labels'}",
        f"monitor.report_dir={tmp_path / 'reports'}", "serve.workers=1",
    )  # fmt: skip
    test = pd.read_parquet(copy.path("data/prepared/test.parquet"))
    calm = test.sample(60, random_state=0)  # the file is in no random order
    with serving(copy, tmp_path / "serve.log") as (server, port):
        wait_for_next_window(pd.Timestamp.now(tz="UTC"), window)  # all of it in one window
        send(port, calm.drop(columns="target"))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    # The next window starts after the REST rows' own.
    wait_for_next_window(predictions_table.read(str(table))["scored_at"].max(), window)
    drifted = tmp_path / "drifted.csv"
    copy.main(
        "simulate",
        str(drifted),
        "--rows",
        "100",
        "--drift",
        "3",
        "--drifted-share",
        "1",
        "--labels",
    )
    batch = pd.read_csv(drifted).assign(row_id=lambda f: [f"b{i}" for i in range(len(f))])
    batch.drop(columns="target").to_csv(drifted, index=False)
    copy.main("predict", str(drifted))

    rest_labels, batch_labels = tmp_path / "rest_labels.csv", tmp_path / "batch_labels.csv"
    pd.DataFrame(
        {"request_id": [f"r{i}" for i in range(len(calm))], "label": calm["target"]}
    ).to_csv(rest_labels, index=False)
    batch[["row_id", "target"]].rename(columns={"target": "label"}).to_csv(
        batch_labels, index=False
    )
    done = copy.main("labels", str(rest_labels))
    assert f"{len(calm)} matched logged predictions and were added" in done.stderr
    done = copy.main("labels", str(batch_labels), "--key", "row_id")
    assert f"{len(batch)} matched logged predictions and were added" in done.stderr

    # `make compact-log` as a team runs it daily: what monitor reads below is unchanged.
    assert "rows, unchanged)" in copy.make("compact-log").stdout
    done = copy.main("monitor", "--log")
    report = json.loads((tmp_path / "reports" / "windows.json").read_text())
    first, second = report["windows"]
    assert (first["rows"], second["rows"]) == (len(calm), len(batch)), done.stderr
    assert first["dataset"]["decision"] == "no drift" and second["dataset"]["decision"] == "drift"
    assert first["performance"]["labelled_rows"] == len(calm)
    assert second["performance"]["labelled_rows"] == len(batch) == 100
    assert report["labelled_rows"] == len(calm) + len(batch)
    html = (tmp_path / "reports" / "windows.html").read_text()
    assert "data:image/png;base64," in html and "http" not in html.replace("http-equiv", "")
    assert "no drift" in done.stderr and "drift (" in done.stderr


def logged_days(copy: Template, tmp_path, batches: list[pd.DataFrame]) -> pd.DataFrame:
    """Each batch scored by the real `predict` on its own day: scored into a scratch table,
    its rows then moved to day N (2026-01-0N) in the log. Returns the labels by row_id."""
    import pyarrow as pa
    from deltalake import DeltaTable

    log = copy.path("log")
    labels = []
    for day, frame in enumerate(batches, start=1):
        scratch = tmp_path / f"scratch{day}"
        path = tmp_path / f"day{day}.csv"
        frame.drop(columns="target").to_csv(path, index=False)
        copy.main("predict", str(path), "--table", str(scratch))
        rows = DeltaTable(str(scratch)).to_pyarrow_table()
        when = pa.array([pd.Timestamp(f"2026-01-0{day} 12:00", tz="UTC")] * rows.num_rows)
        rows = rows.set_column(
            rows.schema.get_field_index("scored_at"),
            "scored_at",
            when.cast(rows.schema.field("scored_at").type),
        )
        predictions_table.append(str(log), rows.schema, iter(rows.to_batches()))
        labels.append(frame[["row_id", "target"]].rename(columns={"target": "label"}))
    return pd.concat(labels, ignore_index=True)


@pytest.fixture
def ct_copy(served_build, tmp_path) -> Template:
    copy = served_build.clone_to(tmp_path / "ct", with_store=True)
    copy.main(
        "params", "set", "predict.table=log", "predict.passthrough_columns=[row_id]",
        "monitor.window=1D", "monitor.windows=3", "monitor.labels_table=labels",
        "ct.tries=[[]]",
    )  # fmt: skip
    copy.commit("the log's settings")
    return copy


def day_batch(test: pd.DataFrame, day: int, bad: bool) -> pd.DataFrame:
    """A day's rows: a sample of held-out rows, their labels inverted on a bad day."""
    rows = test.sample(120, random_state=day).reset_index(drop=True)
    if bad:
        rows["target"] = 1 - rows["target"]
    return rows.assign(row_id=[f"d{day}-{i}" for i in range(len(rows))])


@pytest.mark.parametrize(
    ("days", "retrains"),
    [([False, False, True], False), ([False, True, True], True)],
    ids=["one-bad-window", "two-of-three"],
)
def test_ct_from_the_log_retrains_only_when_two_of_the_last_three_windows_say_so(
    ct_copy, tmp_path, days, retrains
):
    test = pd.read_parquet(ct_copy.path("data/prepared/test.parquet"))
    labels = logged_days(
        ct_copy, tmp_path, [day_batch(test, d, bad) for d, bad in enumerate(days, 1)]
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    ct_copy.main("labels", str(tmp_path / "labels.csv"), "--key", "row_id")
    done = ct_copy.main("ct", "--log", check=False)
    report = json.loads(ct_copy.path("reports/ct/ct.json").read_text())
    decisions = [line.rsplit(": ", 1)[1] for line in report["trigger"][:-1]]
    assert decisions == ["out of range" if bad else "in range" for bad in days], report["trigger"]
    if not retrains:
        assert done.returncode == 0 and report["outcome"].startswith("no retraining")
        assert report["tries"] == [] and "1 of the last 3 labelled windows" in report["trigger"][-1]
        return
    # The bad windows' labels are inverted, below chance: by default an alert that says
    # so, nothing tried.
    assert done.returncode == 4 and report["tries"] == [], done.stderr
    assert "the labels look wrong" in " ".join(report["notes"])
    # Told to learn from them all the same, one try: trained on inverted labels, the new
    # model cannot beat the champion: an alert that says why, and the workspace as it was.
    ct_copy.main("params", "set", "ct.learn_below_chance=true")
    ct_copy.commit("ct learns from labels below chance")
    done = ct_copy.main("ct", "--log", check=False)
    report = json.loads(ct_copy.path("reports/ct/ct.json").read_text())
    assert report["trigger"][-1].endswith(": retrain") and len(report["tries"]) == 1
    assert done.returncode == 4 and report["outcome"] == "alert", done.stderr
    alert = json.loads(ct_copy.path("reports/ct/alert.json").read_text())
    assert "2 of the last 3 labelled windows out of range" in " ".join(alert["reasons"])
    assert (
        ct_copy.run("git", "status", "--porcelain", "--", "conf", "params.yaml", "dvc.lock").stdout
        == ""
    )


def test_shadow_scoring_logs_the_challenger_beside_the_answer_and_its_report_runs(
    served_build, tmp_path
):
    copy = served_build.clone_to(tmp_path / "shadow", with_store=True)
    # The champion as its own challenger: the two must agree on every row, within noise.
    copy.run(
        sys.executable, "-c",
        "from mlflow import MlflowClient; "
        "MlflowClient().set_registered_model_alias('mlops-template', 'challenger', '1')",
    )  # fmt: skip
    table = tmp_path / "log"
    copy.main(
        "params", "compose", "serve.shadow=challenger", f"predict.table={table}",
        f"serve.log.table={table}", f"monitor.labels_table={tmp_path / 'labels'}",
        "serve.workers=1",
    )  # fmt: skip
    test = pd.read_parquet(copy.path("data/prepared/test.parquet")).sample(40, random_state=1)
    with serving(copy, tmp_path / "serve.log") as (server, port):
        answered = send(port, test.drop(columns="target"))
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    assert "in shadow" in (tmp_path / "serve.log").read_text()
    logged = predictions_table.read(str(table))
    shadowed = logged[logged["shadow"]]
    assert sorted(shadowed["request_id"]) == sorted(answered)  # every request, once more
    assert set(shadowed["model_alias"]) == {"challenger"}
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"request_id": list(answered), "label": test["target"].tolist()}).to_csv(
        labels, index=False
    )
    copy.main("labels", str(labels))
    done = copy.main("shadow-report")
    report = json.loads(copy.path("reports/shadow/shadow.json").read_text())
    (compared,) = report["comparisons"]
    assert compared["rows"] == 40 and compared["verdict"] == "within noise", done.stderr
    assert compared["a"] == compared["b"] and compared["improvement"] == 0
    assert "shadow v1 against served v1 on 40 labelled rows" in done.stderr
