"""A stop signal to `serve` (or `ui`) stops the server it started, even when a second
one follows at once, as `make` passes its SIGTERM on right after a supervisor's."""

from __future__ import annotations

import signal
import subprocess
import sys

import psutil

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
