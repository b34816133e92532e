"""Long-running servers: the REST scoring server on a registry alias, and the MLflow UI.

Each runs in a session of its own, so Ctrl-C reaches this process only: it stops the
server with SIGTERM (its graceful shutdown) and ends quietly, exit 130, instead of every
process of the server printing a KeyboardInterrupt traceback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from mlops_template.config import Config
from mlops_template.errors import PipelineError
from mlops_template.io import registry

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C
STOP_SECONDS = 30


# The native thread pools a scoring process may start: OpenMP (scikit-learn's boosting),
# and the BLAS libraries numpy and scipy may be built with.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(cfg: Config, alias: str, host: str, port: int) -> int:
    name = cfg.registry.model_name
    # The server, the credentials and the alias are checked first, so that a problem
    # with them is a one-line error here rather than a traceback from `mlflow models`.
    if registry.alias_version(registry.connect(), name, alias) is None:
        raise PipelineError(f"model {name!r} has no alias {alias!r} in the registry")
    uri = f"models:/{name}@{alias}"
    settings = cfg.serve
    workers = settings.workers or os.cpu_count() or 1
    cmd = ["mlflow", "models", "serve", "-m", uri, "--host", host, "--port", str(port)]
    cmd += ["--workers", str(workers), "--timeout", str(settings.timeout)]
    threads = {name: str(settings.threads) for name in THREAD_VARIABLES}
    return run_server([*cmd, "--env-manager", "local"], threads)


def ui(store: str, host: str, port: int) -> int:
    cmd = ["mlflow", "ui", "--backend-store-uri", store, "--host", host, "--port", str(port)]
    return run_server([*cmd, "--workers", "1"])


def run_server(cmd: list[str], env: dict[str, str] | None = None) -> int:
    print(" ".join(cmd), file=sys.stderr)
    server = subprocess.Popen(cmd, start_new_session=True, env={**os.environ, **(env or {})})
    try:
        return server.wait()
    except KeyboardInterrupt:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        print("stopped", file=sys.stderr)
        return INTERRUPTED
