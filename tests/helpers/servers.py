"""Real servers for the tests, on loopback: started, waited for, stopped with their
children (an MLflow tracking server, and any command that answers on a URL)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlops_template.io.mlflow_server import job_runner_setting
from tests.helpers.template import BIN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(cmd: list[str], ready_url: str, log_path: Path, **popen) -> Iterator[None]:
    """A real server process, started in its own session, ready once `ready_url` answers;
    stopped with its children afterwards. Its output goes to `log_path`."""
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **popen
        )
        try:
            deadline = time.monotonic() + 120
            while not answers(ready_url):
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{cmd[:3]} did not start:\n{log_path.read_text()}")
                time.sleep(0.5)
            yield
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


@contextmanager
def tracking_server(folder: Path) -> Iterator[str]:
    """A real MLflow tracking server on loopback (SQLite store, proxied artifacts)."""
    uri = f"http://127.0.0.1:{free_port()}"
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        uri.rsplit(":", 1)[1],
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'server.db'}",
        "--artifacts-destination",
        str(folder / "artifacts"),
    ]
    env = {**os.environ, **job_runner_setting()}  # as the template runs its servers
    with running(cmd, f"{uri}/health", folder / "server.log", env=env):
        yield uri


def s3_client(env: dict[str, str]):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
