"""The stage server's fork (stage_server.py) becomes the stage process: the stage
process's descriptors, folder, environment and arguments, then the command line, then an
exit as Python's own, without returning into the server's loop."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time


def run_child(conn: socket.socket, fds: list[int], request: dict, go: int) -> None:
    """Become the stage process: its descriptors, folder, environment, arguments and
    ignored signals; start once the server says so."""
    code: int | str | None = 1
    try:
        server = os.getppid()
        _die_with_parent()
        if os.getppid() != server or os.read(go, 1) != b"g":
            os._exit(1)  # the server died or gave up on this child: never start
        os.close(go)
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python sets it
        for signum in request["ignored"]:
            signal.signal(signum, signal.SIG_IGN)
        os.umask(request["umask"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        _environment_read_again()
        sys.argv = [sys.argv[0], *request["argv"]]
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as Python sets it at start
        if not sys.flags.safe_path:
            sys.path[0] = request["cwd"]  # as `python -m` from there would have it

        from mlops_template.cli import run

        code = run()
    except SystemExit as done:
        code = done.code
    except BaseException:  # as Python reports an uncaught error: traceback, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        _exit(code)


def _environment_read_again() -> None:
    """What the server read from its own environment and kept: the temporary folder
    (TMPDIR, TEMP, TMP) and the time zone (TZ), as the stage process would have them."""
    import tempfile

    tempfile.tempdir = None
    time.tzset()


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: if the server is killed, so is this child (no orphaned stage)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _exit(code: int | str | None) -> None:
    """Exit as Python does (threads joined, atexit handlers, streams flushed, a message
    for a text exit code), but without returning into the server's loop."""
    import atexit
    import ctypes
    import logging
    import threading

    # The interpreter's own first step at exit: threading's exit hooks (a
    # ThreadPoolExecutor's tells its idle workers to stop), then every non-daemon thread
    # joined. Joining without the hooks waited on such workers forever.
    shutdown = getattr(threading, "_shutdown", None) or _join_threads
    # Each step as Python takes it at exit: an error in one (a signal while threads are
    # joined, a closed pipe) is reported and the rest still run.
    for step in (shutdown, atexit._run_exitfuncs, logging.shutdown):
        try:
            step()
        except BaseException:
            _report_at_exit()
    if code is not None and not isinstance(code, int):
        with contextlib.suppress(OSError, ValueError):
            print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120  # as Python ends when it cannot flush stdout
    with contextlib.suppress(OSError):
        ctypes.CDLL(None).fflush(None)  # what C extensions wrote with stdio
    os._exit(code or 0)


def _join_threads() -> None:
    import threading

    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()


def _report_at_exit() -> None:
    import traceback

    with contextlib.suppress(BaseException):
        traceback.print_exc()
