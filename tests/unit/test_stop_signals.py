"""SIGTERM and Ctrl-C stop a command wherever they arrive (stop_signals.py): each case in
a process of its own, since signals and the exit code are the point."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

# The handler runs inside a weakref callback, as inside an import lock's while predict
# imported scikit-learn: what it raised was ignored and the command ran on, exit 0.
IN_A_CALLBACK = """
import signal, time, weakref
from mlops_template import stop_signals

stop_signals.install()

class Thing:
    pass

thing = Thing()
ref = weakref.ref(thing, lambda _: signal.raise_signal(signal.{name}))
del thing
time.sleep(10)  # the command's work, as the signal left it
print("went on")
"""

# A stop during deferred imports waits for them, then stops the command. Sent by a thread
# started before them, as numpy's threads are, which takes the signal itself.
DEFERRED = """
import os, signal, threading, time
from mlops_template import stop_signals

stop_signals.install()
go = threading.Event()
sender = threading.Thread(target=lambda: go.wait() and os.kill(os.getpid(), signal.{name}))
sender.start()
with stop_signals.deferred():
    go.set()
    time.sleep(0.5)  # the imports
    print("imported", flush=True)
print("went on")
"""

STOPPED = [
    ("SIGTERM", 128 + signal.SIGTERM),
    ("SIGHUP", 128 + signal.SIGHUP),  # a closed terminal: it ended a promote halfway, 129
    ("SIGINT", -signal.SIGINT),  # SIGINT: Python's
]

# A command as the CLI runs it, stopped in its work: a line, and the shell's exit code.
REPORTED = """
import os, signal, sys, time
from mlops_template import stop_signals
from mlops_template.error_report import run_reporting_errors

stop_signals.install()
sys.exit(run_reporting_errors(lambda: os.kill(os.getpid(), signal.{name}) or time.sleep(10)))
"""


def _run(script: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", script]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name, code", STOPPED)
def test_a_stop_lost_in_a_weakref_callback_is_sent_again(name, code):
    done = _run(IN_A_CALLBACK.format(name=name))
    assert done.returncode == code, done.stderr
    assert "went on" not in done.stdout and "ignored" not in done.stderr, done.stderr


@pytest.mark.parametrize("name, code", STOPPED)
def test_a_stop_during_deferred_imports_stops_the_command_after_them(name, code):
    done = _run(DEFERRED.format(name=name))
    assert done.returncode == code, done.stderr
    assert done.stdout == "imported\n"


@pytest.mark.parametrize(
    "name, code, said",
    [
        ("SIGTERM", 143, "stopped (SIGTERM)"),
        ("SIGHUP", 129, "stopped (SIGHUP)"),
        ("SIGINT", 130, "interrupted"),
    ],
)
def test_a_stopped_command_says_so_with_the_shells_exit_code(name, code, said):
    """SIGTERM ended promote, predict or params set without a word, exit 143."""
    done = _run(REPORTED.format(name=name))
    assert (done.returncode, done.stderr) == (code, said + "\n")


def test_sighup_ignored_as_under_nohup_stays_ignored():
    script = "import signal\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\n" + REPORTED.format(
        name="SIGHUP"
    ).replace("time.sleep(10)", "print('went on')")
    done = _run(script)
    assert done.returncode == 0 and done.stdout == "went on\n", done.stderr


def test_other_ignored_errors_are_reported_as_before():
    done = _run(
        "import weakref\nfrom mlops_template import stop_signals\nstop_signals.install()\n"
        "class T: pass\nt = T()\nr = weakref.ref(t, lambda _: 1 / 0)\ndel t\nprint('went on')\n"
    )
    assert done.returncode == 0 and done.stdout == "went on\n"
    assert "Exception ignored in" in done.stderr and "ZeroDivisionError" in done.stderr


def test_deferred_in_another_thread_leaves_the_handlers_alone():
    import threading

    from mlops_template import stop_signals

    before = signal.getsignal(signal.SIGTERM)
    seen = []

    def imports() -> None:
        with stop_signals.deferred():
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=imports)
    worker.start()
    worker.join()
    assert seen == [before] and signal.getsignal(signal.SIGTERM) == before
