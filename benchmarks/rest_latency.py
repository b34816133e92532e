"""REST serving of the champion against the model's own pyfunc predict, in one run.

In a temporary copy of the template (pipeline run with the overrides, model promoted):
the raw `pyfunc.predict` on one row in this process; then `make serve`'s server
(`serve.workers` processes, `serve.threads` native threads each) and the stock
`mlflow models serve` (one worker, default threads), each measured for single-row
latency on a kept-alive connection (p50, p95) and for throughput at saturation with
`--clients` concurrent kept-alive clients for `--seconds`, against the limit cores / raw
single-row time.
Targets: p50 within raw + 3 ms; saturation at least 0.7x the limit.

    python benchmarks/rest_latency.py [--requests 300] [model=hist_gradient_boosting ...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from workspace import promoted_copy  # benchmarks/workspace.py

from mlops_template.operate.serving.serve import usable_cores

P50_MARGIN_MS = 3.0
SATURATION_SHARE = 0.7


def percentiles(seconds: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(seconds, n=20)  # 5% steps: [9] is p50, [18] is p95
    return cuts[9] * 1000, cuts[18] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(connection: http.client.HTTPConnection, body: str) -> None:
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"the server answered {answer.status}")


def latencies(port: int, bodies: list[str]) -> list[float]:
    """One kept-alive connection, one request after another."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for body in bodies[:20]:  # warm up: first requests pay for lazy imports
        post(connection, body)
    seconds = []
    for body in bodies:
        start = time.perf_counter()
        post(connection, body)
        seconds.append(time.perf_counter() - start)
    connection.close()
    return seconds


def throughput(port: int, bodies: list[str], clients: int, seconds: float) -> float:
    """Requests per second with `clients` concurrent kept-alive clients sending one
    request after another for `seconds` (a bounded load). Counted over a window in which
    every client is busy: a kept-alive connection stays with the worker that accepted
    it, so a fixed number of requests per client would end with the busier worker alone."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(i: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while time.perf_counter() < stop:
            post(connection, bodies[done[i] % len(bodies)])
            done[i] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - start)


def measured(cmd: list[str], root: Path, env: dict[str, str], bodies, args):
    port = free_port()
    server = subprocess.Popen(
        [*cmd, "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(240):  # up to two minutes to start
            try:
                probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                probe.request("GET", "/ping")
                if probe.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        else:
            sys.exit(f"{' '.join(cmd)} did not start")
        return percentiles(latencies(port, bodies)), throughput(
            port, bodies, args.clients, args.seconds
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10, help="of the throughput load")
    parser.add_argument("overrides", nargs="*", default=["model=hist_gradient_boosting"])
    args = parser.parse_args()
    cores = usable_cores()  # as make serve counts them for its workers
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        env = promoted_copy(root, *args.overrides)
        import mlflow.pyfunc
        import pandas as pd

        mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
        model = mlflow.pyfunc.load_model("models:/mlops-template@champion")
        test = pd.read_parquet(root / "data/prepared/test.parquet").drop(columns="target")
        rows = [test.iloc[[i % len(test)]] for i in range(args.requests)]
        raw = []
        for row in [*rows[:20], *rows]:  # the first 20 warm up
            start = time.perf_counter()
            model.predict(row)
            raw.append(time.perf_counter() - start)
        raw_p50, raw_p95 = percentiles(raw[20:])
        bodies = [
            json.dumps({"dataframe_split": json.loads(r.to_json(orient="split", index=False))})
            for r in rows
        ]
        model_uri = "models:/mlops-template@champion"
        servers = {
            "make serve": [sys.executable, "-m", "mlops_template", "serve"],
            "stock mlflow serve": [
                "mlflow",
                "models",
                "serve",
                "-m",
                model_uri,
                "--env-manager",
                "local",
            ],
        }
        found = {name: measured(cmd, root, env, bodies, args) for name, cmd in servers.items()}

    limit = cores / (raw_p50 / 1000)
    print(f"single-row latency, {args.requests} requests on a kept-alive connection (ms), and")
    print(f"throughput with {args.clients} concurrent clients (requests/s); {cores} cores")
    print(f"{'':<22} {'p50':>8} {'p95':>8} {'req/s':>8} {'x limit':>8}")
    print(f"{'raw pyfunc predict':<22} {raw_p50:>8.2f} {raw_p95:>8.2f} {limit:>8.0f} {'1.00':>8}")
    for name, ((p50, p95), rate) in found.items():
        print(f"{name:<22} {p50:>8.2f} {p95:>8.2f} {rate:>8.0f} {rate / limit:>8.2f}")
    (p50, _), rate = found["make serve"]
    fast = p50 <= raw_p50 + P50_MARGIN_MS
    full = rate >= SATURATION_SHARE * limit
    print(f"make serve p50 within raw + {P50_MARGIN_MS:.0f} ms: {'OK' if fast else 'MISSED'}")
    verdict = "OK" if full else "MISSED"
    print(f"make serve at saturation >= {SATURATION_SHARE}x the limit: {verdict}")
    return 0 if fast and full else 1


if __name__ == "__main__":
    sys.exit(main())
