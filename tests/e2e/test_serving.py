"""REST serving of the champion: a real scoring server, real HTTP requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pandas as pd
import psutil
import pytest

from mlops_template.io.model_file import load_model
from tests.helpers.servers import answers, free_port, running
from tests.helpers.template import Template, make_command

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(served_build, tmp_path_factory) -> Template:
    """This module's own copy of the served champion: its servers write every answered
    row into the copy's inference log, which the shared copy must not hold."""
    return served_build.clone_to(tmp_path_factory.mktemp("serving") / "copy", with_store=True)


@pytest.fixture(scope="module")
def server(served, tmp_path_factory):
    url = f"http://127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "mlops_template", "serve", "--port", url.rsplit(":", 1)[1]]
    log = tmp_path_factory.mktemp("serve") / "serve.log"  # not in the shared copy
    with running(cmd, f"{url}/ping", log, cwd=served.root, env=served.env):
        yield url


def post(url: str, body: str) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/invocations", data=body.encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def split(frame: pd.DataFrame) -> str:
    return json.dumps({"dataframe_split": json.loads(frame.to_json(orient="split", index=False))})


@pytest.fixture(scope="module")
def rows(served) -> pd.DataFrame:
    test = pd.read_parquet(served.path("data/prepared/test.parquet"))
    return test.drop(columns="target").head(5)


def test_scores_like_the_model(server, served, rows):
    status, answer = post(server, split(rows))
    assert status == 200
    expected = load_model(served.path("models/model.skops")).predict(rows).tolist()
    assert answer["predictions"] == expected


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "valid JSON"),
        (json.dumps({"rows": []}), "dataframe_split"),
        (json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1, 2]]}}), "columns"),
    ],
    ids=["malformed-json", "unknown-format", "ragged-split"],
)
def test_malformed_requests_get_400_with_the_reason(server, rows, body, reason):
    status, answer = post(server, body)
    assert status == 400 and reason in answer["message"]


def test_missing_column_gets_4xx_naming_it(server, rows):
    status, answer = post(server, split(rows.drop(columns=["mean radius"])))
    assert 400 <= status < 500 and "mean radius" in answer["message"]


def test_wrong_type_gets_4xx_naming_the_column(server, rows):
    bad = rows.astype({"mean texture": "str"})
    bad.iloc[0, bad.columns.get_loc("mean texture")] = "high"
    status, answer = post(server, split(bad))
    assert 400 <= status < 500 and "mean texture" in answer["message"]


def test_server_keeps_serving_after_bad_requests(server, rows):
    for _ in range(3):
        post(server, "{broken")
    # Deeper than Python's JSON parser goes: MLflow's app alone answers a bare 500.
    status, answer = post(server, "[" * 200_000 + "]" * 200_000)
    assert status == 400 and "nests too deeply" in answer["message"]
    assert answers(f"{server}/ping")
    assert post(server, split(rows))[0] == 200


def test_kept_alive_connections_are_answered_without_a_delayed_ack_stall(server, rows):
    """Several kept-alive connections, spread over the workers (one per core). An answer
    sent in two writes without TCP_NODELAY waits for the client's delayed ACK, ~40 ms a
    request; a row takes a few ms to score."""
    import http.client
    import statistics

    host, port = server.removeprefix("http://").split(":")
    connections = [http.client.HTTPConnection(host, int(port), timeout=30) for _ in range(6)]
    body, seconds = split(rows.head(1)), []
    for _ in range(5):
        for connection in connections:
            start = time.perf_counter()
            connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
            answer = connection.getresponse()
            assert answer.status == 200 and len(json.loads(answer.read())["predictions"]) == 1
            seconds.append(time.perf_counter() - start)
    # A stall is the client's delayed ACK, ~40 ms on every request it hits; a loaded
    # machine slows some requests too, so the lower quartile is what tells them apart.
    assert statistics.quantiles(seconds, n=4)[0] < 0.03, sorted(seconds)


def test_a_stopped_server_leaves_no_process_or_model_copy(served, tmp_path):
    """SIGTERM (docker stop, a supervisor) to `serve` stops the server it started in a
    session of its own, its workers too, and removes the model copy they loaded."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlops_template", "serve", "--port", str(port)]
    env = {**served.env, "TMPDIR": str(tmp_path)}
    with open(tmp_path / "serve.log", "w") as log:
        serve = subprocess.Popen(cmd, cwd=served.root, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 120
        while not answers(f"http://127.0.0.1:{port}/ping"):
            assert serve.poll() is None and time.monotonic() < deadline
            time.sleep(0.5)
        processes = psutil.Process(serve.pid).children(recursive=True)
        (uvicorn,) = [p for p in processes if "--workers" in p.cmdline()]
        args = uvicorn.cmdline()
        cores = len(os.sched_getaffinity(0))
        assert args[args.index("--workers") + 1] == str(cores)  # serve.workers: null
        assert "--no-access-log" in args  # serve.access_log: false
        assert list(tmp_path.glob("mlops-serve-*"))  # the model, downloaded once
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if serve.poll() is None:
            serve.kill()
    _, alive = psutil.wait_procs(processes, timeout=30)
    assert not alive, [p.cmdline() for p in alive]
    assert not list(tmp_path.glob("mlops-serve-*"))
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


@pytest.mark.parametrize(("target", "ready"), [("serve", "/ping"), ("ui", "/health")])
def test_ctrl_c_stops_a_server_quietly(served, tmp_path, target, ready):
    """Ctrl-C as a terminal sends it: SIGINT to make's whole process group."""
    port = free_port()
    variable = "SERVE_PORT" if target == "serve" else "PORT"
    log = tmp_path / f"{target}.log"
    with open(log, "w") as out:
        make = subprocess.Popen(
            make_command(target, f"{variable}={port}"),
            cwd=served.root,
            env={**served.env, "OMP_NUM_THREADS": "2"},  # what conf/serve sets wins
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while not answers(f"http://127.0.0.1:{port}{ready}"):
                assert make.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.5)
            if target == "serve":  # conf/serve: a native thread per worker process
                servers = [
                    p
                    for p in psutil.Process(make.pid).children(recursive=True)
                    if "--workers" in p.cmdline()
                ]
                assert servers and all(p.environ()["OMP_NUM_THREADS"] == "1" for p in servers)
            started = len(log.read_text().splitlines())
            os.killpg(make.pid, signal.SIGINT)
            make.wait(timeout=60)
        finally:
            if make.poll() is None:
                os.killpg(make.pid, signal.SIGKILL)
    after = log.read_text().splitlines()[started:]
    assert "Traceback" not in "\n".join(after), "\n".join(after)
    workers = len(os.sched_getaffinity(0))  # serve.workers: null
    assert len(after) <= 10 + 8 * workers, "\n".join(after)  # a few lines each, not hundreds
    assert not answers(f"http://127.0.0.1:{port}{ready}")  # and the server is gone
