"""A stop signal to `serve` (or `ui`) stops the server it started, even when a second
one follows at once, as `make` passes its SIGTERM on right after a supervisor's; a server
whose workers cannot start ends, and `serve` with it; `serve` says when it answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import yaml

from mlops_template.operate.serving.serve import (
    _until_stopped,
    local_url,
    say_when_ready,
)
from mlops_template.stop_signals import STOPS

SCRIPT = """
import os, signal, sys, threading, time
from pathlib import Path
from mlops_template.operate.serving.serve import _until_stopped, run_server

pid_file = Path(sys.argv[1])
# The server: its pid in the file, and out of this process's pipes (left running, it
# would hold them open and the test would wait for it).
server = [sys.executable, "-c", "import os, sys, time; os.close(1); os.close(2); "
          "open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)", str(pid_file)]

def stop_twice():
    while not (pid_file.exists() and pid_file.read_text()):
        time.sleep(0.01)
    main = threading.main_thread().ident  # its waitpid is what a signal interrupts
    signal.pthread_kill(main, signal.SIGHUP)  # both pending before the handler runs
    signal.pthread_kill(main, signal.SIGTERM)

threading.Thread(target=stop_twice, daemon=True).start()
sys.exit(_until_stopped(lambda: run_server(server)))
"""


def test_two_stop_signals_at_once_still_stop_the_server(tmp_path):
    pid_file = tmp_path / "server.pid"
    script = [sys.executable, "-c", SCRIPT, str(pid_file)]
    run = subprocess.run(script, check=False, capture_output=True, text=True, timeout=60)
    server = int(pid_file.read_text())
    alive = psutil.pid_exists(server) and psutil.Process(server).status() != psutil.STATUS_ZOMBIE
    if alive:
        psutil.Process(server).kill()
    assert (run.returncode, alive) == (128 + signal.SIGHUP, False), run.stderr
    assert run.stderr.endswith("stopped\n") and "Traceback" not in run.stderr, run.stderr


NO_MODEL = """
import sys
import yaml
from mlops_template.config import parse_config
from mlops_template.error_report import run_reporting_errors
from mlops_template.operate.serving import serve

settings = parse_config(yaml.safe_load(open(sys.argv[1]))).serve
command, env = serve.server_command(sys.argv[2], settings, 2, "127.0.0.1", 0)
never = "http://127.0.0.1:1"  # port 0 cannot be asked: its "ready" line never comes
sys.exit(run_reporting_errors(lambda: serve.run_scoring_server(command, env, never)))
"""


def test_workers_that_cannot_load_the_model_end_the_server_and_serve_fails(tmp_path, params):
    """Two uvicorn workers whose model folder is gone: each says so once and the server
    ends, and serve with an error (exit 2), instead of uvicorn starting them again forever."""
    params_file, gone = tmp_path / "params.yaml", tmp_path / "gone"
    params_file.write_text(yaml.safe_dump(params))
    script = [sys.executable, "-c", NO_MODEL, str(params_file), str(gone)]
    run = subprocess.Popen(script, stderr=subprocess.PIPE, text=True)
    try:
        _, err = run.communicate(timeout=120)
    finally:  # uvicorn has a session of its own: a regression must not leave it running
        if run.poll() is None:
            for server in psutil.Process(run.pid).children():
                os.killpg(server.pid, signal.SIGKILL)
            run.kill()
            run.wait()
    worker_error = "error: a scoring worker could not start: MlflowException: No such artifact"
    assert (run.returncode, err.count(worker_error)) == (2, 2), err[-3000:]
    assert err.count("Traceback") == 2, "a worker was started again"
    assert err.rstrip().endswith("(a worker that could not start, the port in use)"), err


class _Loading(BaseHTTPRequestHandler):
    """/ping as a server whose workers are loading the model: refused twice, then 200."""

    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        self.send_response(200 if type(self).asked > 2 else 503)
        self.end_headers()

    def log_message(self, *_args) -> None:
        pass


def test_serve_says_ready_once_ping_answers_and_not_before(capsys):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Loading)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = local_url("0.0.0.0", server.server_address[1])  # bound to all: asked on loopback
        say_when_ready(url, threading.Event(), poll=0.01)
    finally:
        server.shutdown()
    assert _Loading.asked == 3
    assert capsys.readouterr().err.startswith(f"ready: {url}/invocations answers (")


def test_no_ready_line_for_a_server_that_ended(capsys):
    ended = threading.Event()
    ended.set()
    say_when_ready("http://127.0.0.1:1", ended)
    assert capsys.readouterr().err == ""
    assert local_url("::", 5001) == "http://[::1]:5001"


def test_the_handlers_before_serve_are_put_back():
    """Left set, serve's handler met a later test of the same worker (a Ctrl-C it sent
    itself came out as serve's Stopped)."""
    before = {signum: signal.getsignal(signum) for signum in STOPS}
    assert _until_stopped(lambda: 0) == 0
    assert {signum: signal.getsignal(signum) for signum in STOPS} == before
