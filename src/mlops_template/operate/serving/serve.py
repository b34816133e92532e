"""Long-running servers: the REST scoring server on a registry alias, and the MLflow UI.

The scoring server is MLflow's own scoring app (the one `mlflow models serve` and its
Docker image run), with a shorter path for JSON rows in front of it that gives the same
answers (operate/serving/fast_scoring.py), under uvicorn. It is started here rather than through
`mlflow models serve` so that the version behind the alias is downloaded once and every
worker loads that version, even if the alias moves while they start. Its event loop is
uvloop, which sets TCP_NODELAY on every connection: with asyncio's loop, uvicorn's
socket for several workers lacks it, and each answer's body waited ~40 ms for the
client's delayed ACK on a kept-alive connection (benchmarks/rest_latency.py).

Each server runs in a session of its own, so Ctrl-C reaches this process only: it stops
the server with SIGTERM (its graceful shutdown) and ends quietly, exit 130, instead of
every process of the server printing a KeyboardInterrupt traceback. SIGTERM or SIGHUP
to this process stops the server the same way (exit 143 or 129), workers and all. A
scoring server that ends on its own (a worker that could not start) is an error: exit 2.
"""

from __future__ import annotations

import http.client
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import NoReturn

from mlops_template.config import Config, Serve
from mlops_template.core.schema import TrainingSchema
from mlops_template.errors import PipelineError, redact
from mlops_template.io import model_versions, predictions_table, registry
from mlops_template.io.mlflow_server import job_runner_setting
from mlops_template.operate.serving.inference_log import ENV as INFERENCE_LOG_ENV
from mlops_template.operate.serving.inference_log import OTHER_TABLE, SHADOW_ENV, row_schema
from mlops_template.stop_signals import STOPS

STOP_SECONDS = 30
APP = "mlops_template.operate.serving.scoring_app:app"  # MLflow's app, with a shorter path in front


# The native thread pools a scoring process may start: OpenMP (scikit-learn's boosting),
# and the BLAS libraries numpy and scipy may be built with.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def serve(cfg: Config, alias: str, host: str, port: int) -> int:
    return _until_stopped(lambda: _serve(cfg, alias, host, port))


def ui(store: str, host: str, port: int) -> int:
    # The store in the environment, not in the command printed (and shown by ps): a team
    # database's URI may hold a password.
    cmd = ["mlflow", "ui", "--host", host, "--port", str(port), "--workers", "1"]
    env = {"MLFLOW_BACKEND_STORE_URI": store, **job_runner_setting()}
    print(f"MLflow UI on the store {redact(store)}", file=sys.stderr)
    return _until_stopped(lambda: run_server(cmd, env))


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _serve(cfg: Config, alias: str, host: str, port: int) -> int:
    name = cfg.registry.model_name
    # The server, the credentials and the alias are checked first, so that a problem
    # with them is a one-line error here rather than a traceback from a worker.
    client = registry.connect()
    ref = model_versions.resolve(client, name, None, alias)
    settings = cfg.serve
    shadow = None
    if settings.shadow:
        if not settings.log.enabled:
            raise PipelineError(
                "serve.shadow scores a second model into the inference log: it needs "
                "serve.log.enabled=true"
            )
        shadow = model_versions.resolve(client, name, None, settings.shadow)
    workers = settings.workers or usable_cores()
    # Checked here, once (model_versions.model_copy): a model the project does not
    # trust, or a damaged one, is a one-line refusal before any worker starts; so is a
    # log table the rows cannot go to.
    with ExitStack() as copies:
        model = copies.enter_context(
            model_versions.model_copy(ref.uri, "serve", ref.label, ref.recorded)
        )
        schema = TrainingSchema.of(model_versions.model_schema(model), ref.label)
        log = inference_log_env(cfg, ref, schema, shadow)
        print(f"serving {name} v{ref.version} (@{alias}) on http://{host}:{port}", file=sys.stderr)
        if log:
            print(f"logging every answered row to {cfg.serve.log.table}", file=sys.stderr)
        if shadow is not None:
            folder = copies.enter_context(
                model_versions.model_copy(shadow.uri, "shadow", shadow.label, shadow.recorded)
            )
            log[SHADOW_ENV] = folder
            print(
                f"and {shadow.label} (@{shadow.alias}) beside it in shadow: logged, never answered",
                file=sys.stderr,
            )
        command, env = server_command(model, settings, workers, host, port)
        return run_scoring_server(command, {**env, **log}, local_url(host, port))


def inference_log_env(
    cfg: Config,
    ref: model_versions.ModelRef,
    schema: TrainingSchema,
    shadow: model_versions.ModelRef | None = None,
) -> dict[str, str]:
    """The inference log's settings for the workers (operate/serving/inference_log.py),
    its table checked here, once, against the rows the model logs: a table they cannot
    go to (another kind of table, a column of another type) is a one-line refusal."""
    settings = cfg.serve.log
    if not settings.enabled:
        return {}
    table = str(Path(settings.table).resolve())
    passthrough = [*cfg.predict.passthrough_columns]
    if cfg.data.id_column and cfg.data.id_column not in passthrough:
        passthrough.insert(0, cfg.data.id_column)
    rows = row_schema(schema.target.classes, passthrough, schema)
    predictions_table.check(table, rows, other=OTHER_TABLE)
    predictions_table.refuse_missing_files(table)
    log = {
        **settings.model_dump(exclude={"enabled"}),
        "table": table,
        "passthrough_columns": passthrough,
        "model_name": ref.name,
        "model_version": ref.version,
        "model_alias": ref.alias,
    }
    if shadow is not None:
        log["shadow"] = {"model_version": shadow.version, "model_alias": shadow.alias}
    return {INFERENCE_LOG_ENV: json.dumps(log)}


def local_url(host: str, port: int) -> str:
    """Where this machine reaches a server bound to `host` (all addresses: loopback)."""
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def say_when_ready(url: str, ended: threading.Event, poll: float = 0.25) -> None:
    """One line once /ping answers: uvicorn says it is running before its workers have
    loaded the model, seconds earlier. Polls until then or until the server ended."""
    started = time.monotonic()
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
    while not ended.is_set():
        try:
            with direct.open(f"{url}/ping", timeout=5) as answer:
                if answer.status == 200:
                    took = time.monotonic() - started
                    said = f"ready: {url}/invocations answers ({took:.1f} s after start)"
                    print(said, file=sys.stderr, flush=True)
                    return
        except (OSError, ValueError, http.client.HTTPException):  # not answering yet
            pass
        ended.wait(poll)


def run_scoring_server(command: list[str], env: dict[str, str], url: str) -> NoReturn:
    """Run the scoring server until this process is stopped (run_server), and say when it
    answers. It never ends on its own while it works: if it does (a worker that could not
    start, which makes uvicorn's supervisor stop and exit 0,
    operate/serving/scoring_app.py; the port taken; someone stopping it directly), `serve`
    fails saying so rather than exiting 0."""
    ended = threading.Event()
    threading.Thread(target=say_when_ready, args=(url, ended), daemon=True).start()
    try:
        code = run_server(command, env)
    finally:
        ended.set()
    raise PipelineError(
        f"the scoring server ended on its own (uvicorn's exit code {code}): see its errors "
        "above (a worker that could not start, the port in use)"
    )


def server_command(
    model: str, settings: Serve, workers: int, host: str, port: int
) -> tuple[list[str], dict[str, str]]:
    """The REST server's command and environment on a checked model folder: MLflow's own
    (`uvicorn ... app:app`, the folder and timeout in variables), run by this Python, on
    uvloop, with our app in front."""
    from mlflow.pyfunc import scoring_server

    command, env = scoring_server.get_cmd(
        model, port=port, host=host, timeout=settings.timeout, nworkers=workers
    )
    _program, *args, mlflow_app = shlex.split(command)
    if mlflow_app != "mlflow.pyfunc.scoring_server.app:app":
        raise PipelineError(f"MLflow's scoring command is not as expected: {command}")
    env.update({name: str(settings.threads) for name in THREAD_VARIABLES})
    log = [] if settings.access_log else ["--no-access-log"]
    uvicorn = [sys.executable, "-m", "uvicorn", "--loop", "uvloop", *log]
    return [*uvicorn, *args, APP], env


class Stopped(Exception):
    """A stop signal (SIGTERM from `docker stop`, a supervisor or a test; SIGHUP)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _FirstStop:
    """A signal handler that raises Stopped for the first stop signal only: `make` passes
    its SIGTERM on, so a second one often follows the first at once, and raised while the
    first was handled it skipped stopping the server (left running, restarting workers on
    a model copy already deleted)."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, _frame: object) -> None:
        if self.signum is None:
            self.signum = signum
            raise Stopped(signum)


def _until_stopped(run: Callable[[], int]) -> int:
    """Run, with Ctrl-C, SIGTERM and SIGHUP turned into an exception, so that a stop
    during a download or while a server runs leaves no folder or process behind. The
    handlers before it are put back after (a caller in process, a test, keeps its own)."""
    handler = _FirstStop()
    previous = {signum: signal.signal(signum, handler) for signum in STOPS}
    try:
        return run()
    except (KeyboardInterrupt, Stopped) as stop:  # the server, if any, is stopped by now
        print("stopped", file=sys.stderr)
        return 128 + getattr(stop, "signum", signal.SIGINT)
    finally:
        for signum, before in previous.items():
            signal.signal(signum, before)


def run_server(cmd: list[str], env: dict[str, str] | None = None) -> int:
    """Run a server in a session of its own until it ends, or until this process is
    stopped (Ctrl-C, SIGTERM, SIGHUP): then stop it, children and all, and re-raise. Under
    _until_stopped, whose handler raises once: a second signal cannot cut the stop short."""
    from concurrent.futures import ThreadPoolExecutor

    print(" ".join(cmd), file=sys.stderr)
    # Started in a thread: the stop signal's handler runs in this one, so a stop that comes
    # while Popen still waits for the server's exec finds the server and stops it, rather
    # than leaving it running unknown (it did, once, under load).
    with ThreadPoolExecutor(1) as pool:
        environ = {**os.environ, **(env or {})}
        starting = pool.submit(subprocess.Popen, cmd, start_new_session=True, env=environ)
        try:
            return starting.result().wait()
        except (KeyboardInterrupt, Stopped):
            _stop(starting.result())
            raise


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's session (its graceful shutdown), SIGKILL if it lingers."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
