"""REST serving of the champion against the model's own pyfunc predict, in one run.

In a temporary copy of the template (pipeline run with the overrides, model promoted):
the raw `pyfunc.predict` on one row in this process; then `make serve`'s server
(`serve.workers` processes, `serve.threads` native threads each) with its inference log
(serve.log) and without it, and the stock `mlflow models serve` (one worker, default
threads), each measured for single-row latency on a kept-alive connection (p50, p95) and
for throughput at saturation with `--clients` concurrent kept-alive clients for
`--seconds` (in `--rounds` turns, the servers alternating), against the limit cores /
raw single-row time.
Targets: p50 within raw + 3 ms; saturation at least 0.7x the limit, with the log on;
the log costs at most 0.5 ms at p50, and every answered row is in the table.

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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from workspace import promoted_copy  # benchmarks/workspace.py

from mlops_template.operate.serving.serve import usable_cores

P50_MARGIN_MS = 3.0
SATURATION_SHARE = 0.7
LOG_COST_MS = 0.5


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


def paired_latencies(ports: list[int], bodies: list[str]) -> list[list[float]]:
    """One kept-alive connection to each server; each request sent to every server, one
    after another, so that whatever else the machine does falls on all alike (the log's
    cost is a fraction of a millisecond; the noise between runs here is more)."""
    connections = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for port in ports]
    for body in bodies[:20]:  # warm up: first requests pay for lazy imports
        for connection in connections:
            post(connection, body)
    seconds: list[list[float]] = [[] for _ in ports]
    turns = list(range(len(ports)))
    for body in bodies:
        turns = turns[1:] + turns[:1]  # each server first in turn: no order favours one
        for i in turns:
            start = time.perf_counter()
            post(connections[i], body)
            seconds[i].append(time.perf_counter() - start)
    for connection in connections:
        connection.close()
    return seconds


def throughput(port: int, bodies: list[str], clients: int, seconds: float) -> tuple[float, int]:
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
    return sum(done) / (time.perf_counter() - start), sum(done)


def rotating_throughput(
    ports: list[int], bodies: list[str], args: argparse.Namespace
) -> tuple[list[float], list[int]]:
    """Each server's throughput in `--rounds` short loads, the servers in turn with each
    first in its turn (as paired_latencies): the median rate, and the requests answered.
    One long load per server, one after another, let the order decide by more than the
    log costs."""
    rates: list[list[float]] = [[] for _ in ports]
    done = [0] * len(ports)
    turns = list(range(len(ports)))
    for _ in range(args.rounds):
        turns = turns[1:] + turns[:1]
        for i in turns:
            rate, count = throughput(ports[i], bodies, args.clients, args.seconds / args.rounds)
            rates[i].append(rate)
            done[i] += count
    return [statistics.median(r) for r in rates], done


@contextmanager
def started(cmd: list[str], root: Path, env: dict[str, str], settings: list[str]) -> Iterator[int]:
    """A server started with `cmd` (the copy's params.yaml composed with `settings`
    first), ready on the port it yields; stopped afterwards as `docker stop` would."""
    compose = [sys.executable, "-m", "mlops_template", "params", "compose", *settings]
    subprocess.run(compose, cwd=root, env=env, check=True, capture_output=True)
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
        yield port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10, help="of each server's load")
    parser.add_argument("--rounds", type=int, default=5, help="the load split in turns")
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
        serve = [sys.executable, "-m", "mlops_template", "serve"]
        stock = ["mlflow", "models", "serve", "-m", model_uri, "--env-manager", "local"]
        compose = ["data=breast_cancer", *args.overrides]
        servers = {
            "make serve": (serve, compose),
            "make serve, no log": (serve, [*compose, "serve.log.enabled=false"]),
            "stock mlflow serve": (stock, compose),
        }
        with ExitStack() as running:
            ports = [
                running.enter_context(started(cmd, root, env, settings))
                for cmd, settings in servers.values()
            ]
            ports = dict(zip(servers, ports, strict=True))
            single = paired_latencies(list(ports.values()), bodies)
            rates, done = rotating_throughput(list(ports.values()), bodies, args)
            found = {
                name: (percentiles(times), rate, count)
                for name, times, rate, count in zip(ports, single, rates, done, strict=True)
            }
        # Every server stopped, the log's last rows written at its shutdown.
        from deltalake import DeltaTable

        logged_rows = DeltaTable(str(root / "data/predictions")).to_pyarrow_dataset().count_rows()
        single_answered = 20 + len(bodies)  # with the 20 that warm up
        found = {n: (p, rate, done + single_answered) for n, (p, rate, done) in found.items()}
        # The log's cost: the median of each request's difference between the two servers.
        log_cost = statistics.median(a - b for a, b in zip(single[0], single[1], strict=True))

    return report(args, cores, (raw_p50, raw_p95), found, (logged_rows, log_cost * 1000))


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def report(args, cores: int, raw: tuple[float, float], found: dict, log: tuple[int, float]) -> int:
    """The table and the targets; 0 if every target is met."""
    raw_p50, raw_p95 = raw
    logged_rows, log_cost = log
    limit = cores / (raw_p50 / 1000)
    print(f"single-row latency, {args.requests} requests on a kept-alive connection (ms), and")
    print(f"throughput with {args.clients} concurrent clients (requests/s); {cores} cores")
    print(f"{'':<22} {'p50':>8} {'p95':>8} {'req/s':>8} {'x limit':>8}")
    print(f"{'raw pyfunc predict':<22} {raw_p50:>8.2f} {raw_p95:>8.2f} {limit:>8.0f} {'1.00':>8}")
    for name, ((p50, p95), rate, _) in found.items():
        print(f"{name:<22} {p50:>8.2f} {p95:>8.2f} {rate:>8.0f} {rate / limit:>8.2f}")
    (p50, _), rate, answered = found["make serve"]
    fast = p50 <= raw_p50 + P50_MARGIN_MS
    full = rate >= SATURATION_SHARE * limit
    cheap = log_cost <= LOG_COST_MS
    complete = logged_rows == answered
    print(f"make serve p50 within raw + {P50_MARGIN_MS:.0f} ms: {verdict(fast)}")
    print(f"make serve at saturation >= {SATURATION_SHARE}x the limit: {verdict(full)}")
    cost = f"{log_cost:+.2f} ms, the median of the paired differences"
    print(f"the inference log's cost ({cost}) <= {LOG_COST_MS} ms: {verdict(cheap)}")
    print(f"rows in the inference log: {logged_rows:,} of {answered:,}: {verdict(complete)}")
    return 0 if fast and full and cheap and complete else 1


if __name__ == "__main__":
    sys.exit(main())
