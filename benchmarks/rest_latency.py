"""REST latency of the served champion against the model's raw predict time.

Starts `python -m mlops_template serve` on loopback in a temporary copy of the template
(pipeline run, model promoted), sends single-row requests one after another, and prints
p50/p95 latency next to p50/p95 of a bare `model.predict` on one row in this process.

    python benchmarks/rest_latency.py [--requests 300]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from workspace import promoted_copy  # benchmarks/workspace.py


def percentiles(seconds: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(seconds, n=20)  # 5% steps: [9] is p50, [18] is p95
    return cuts[9] * 1000, cuts[18] * 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "template"
        env = promoted_copy(root)
        sys.path.insert(0, str(root / "src"))
        import pandas as pd

        from mlops_template.io.model_file import load_model

        test = pd.read_parquet(root / "data/prepared/test.parquet").drop(columns="target")
        model = load_model(root / "models/model.skops")
        rows = [test.iloc[[i % len(test)]] for i in range(args.requests)]
        raw = []
        for row in rows:
            start = time.perf_counter()
            model.predict(row)
            raw.append(time.perf_counter() - start)

        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "mlops_template", "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(240):  # up to two minutes to start
                try:
                    urllib.request.urlopen(f"{url}/ping", timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            bodies = [
                json.dumps({"dataframe_split": json.loads(r.to_json(orient="split", index=False))})
                for r in rows
            ]
            served = []
            for body in bodies:
                request = urllib.request.Request(
                    f"{url}/invocations",
                    data=body.encode(),
                    headers={"Content-Type": "application/json"},
                )
                start = time.perf_counter()
                with urllib.request.urlopen(request, timeout=30) as answer:
                    answer.read()
                served.append(time.perf_counter() - start)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)

    raw_p50, raw_p95 = percentiles(raw)
    rest_p50, rest_p95 = percentiles(served)
    print(f"single-row latency over {args.requests} requests (ms)")
    print(f"{'':<22} {'p50':>8} {'p95':>8}")
    print(f"{'REST /invocations':<22} {rest_p50:>8.2f} {rest_p95:>8.2f}")
    print(f"{'raw model.predict':<22} {raw_p50:>8.2f} {raw_p95:>8.2f}")
    print(f"REST overhead at p50: {rest_p50 - raw_p50:.2f} ms (HTTP, JSON, signature checks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
