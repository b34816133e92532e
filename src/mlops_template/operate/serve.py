"""Long-running servers: the REST scoring server on a registry alias, and the MLflow UI.

The scoring server is MLflow's own scoring app (the one `mlflow models serve` and its
Docker image run) under uvicorn, started here rather than through `mlflow models serve`
for two reasons, both measured by benchmarks/rest_latency.py:
- the model version behind the alias is downloaded once, and every worker loads that
  version, even if the alias moves while they start;
- the listening socket is made here with TCP_NODELAY, which accepted connections
  inherit. uvicorn's own socket for several workers lacks it, so each answer's body
  waited for the client's delayed ACK: ~40 ms per request on a kept-alive connection.

Each server runs in a session of its own, so Ctrl-C reaches this process only: it stops
the server with SIGTERM (its graceful shutdown) and ends quietly, exit 130, instead of
every process of the server printing a KeyboardInterrupt traceback. SIGTERM or SIGHUP
to this process stops the server the same way (exit 143 or 129), workers and all.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import registry

STOP_SECONDS = 30


# The native thread pools a scoring process may start: OpenMP (scikit-learn's boosting),
# and the BLAS libraries numpy and scipy may be built with.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(cfg: Config, alias: str, host: str, port: int) -> int:
    from mlflow.pyfunc import scoring_server

    name = cfg.registry.model_name
    # The server, the credentials and the alias are checked first, so that a problem
    # with them is a one-line error here rather than a traceback from a worker.
    version = registry.alias_version(registry.connect(), name, alias)
    if version is None:
        raise PipelineError(f"model {name!r} has no alias {alias!r} in the registry")
    settings = cfg.serve
    workers = settings.workers or os.cpu_count() or 1
    model_uri = f"models:/{name}/{version}"
    with registry.model_copy(model_uri, "serve") as model, listening(host, port) as sock:
        print(f"serving {name} v{version} (@{alias}) on http://{host}:{port}", file=sys.stderr)
        # MLflow's own command and environment for its app (`uvicorn ... app:app`, the
        # model folder and timeout in variables), on the socket made here.
        command, env = scoring_server.get_cmd(model, timeout=settings.timeout, nworkers=workers)
        program, *args = shlex.split(command)
        env.update({name: str(settings.threads) for name in THREAD_VARIABLES})
        cmd = [program, "--fd", str(sock.fileno()), *args]
        return run_server(cmd, env, pass_fds=(sock.fileno(),))


def listening(host: str, port: int) -> socket.socket:
    """A TCP socket listening on host:port, whose connections send small writes at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise PipelineError(f"cannot listen on {host}:{port}: {err.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def ui(store: str, host: str, port: int) -> int:
    cmd = ["mlflow", "ui", "--backend-store-uri", store, "--host", host, "--port", str(port)]
    return run_server([*cmd, "--workers", "1"])


class Stopped(Exception):
    """A stop signal (SIGTERM from `docker stop`, a supervisor or a test; SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stopped(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def run_server(
    cmd: list[str], env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()
) -> int:
    """Run a server in a session of its own until it ends or this process is stopped
    (Ctrl-C, SIGTERM, SIGHUP); then stop it, children and all, and exit 128 + signal."""
    print(" ".join(cmd), file=sys.stderr)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stopped)
    server = subprocess.Popen(
        cmd, start_new_session=True, env={**os.environ, **(env or {})}, pass_fds=pass_fds
    )
    try:
        return server.wait()
    except (KeyboardInterrupt, Stopped) as stop:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        print("stopped", file=sys.stderr)
        return 128 + getattr(stop, "signum", signal.SIGINT)
