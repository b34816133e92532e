"""The warm stage server: imports what the stages need once, then runs each stage it is
handed (stage_client.py) in a fork of itself.

The child takes the stage process's stdin, stdout and stderr, working directory,
environment, umask and arguments, so DVC, `mlflow run` and a terminal see what a stage
of their own prints and returns. A signal to the stage process reaches the child (the
stage process forwards it); if the stage process dies, the server kills the child, and
if the server dies, the kernel kills its children (PR_SET_PDEATHSIG): nothing runs on
after the stage DVC sees has ended. It exits after MLOPS_STAGE_SERVER_IDLE seconds
without work (default 600), or on SIGTERM (`make stop-stage-server`) once the stages it
runs have ended; its log is the socket's path with `.log`.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_template.stage_child import run_child
from mlops_template.stage_client import (
    LENGTH,
    STATUS,
    check_peer,
    read_exactly,
    socket_path,
)

IDLE_ENV = "MLOPS_STAGE_SERVER_IDLE"  # seconds without work before the server exits

# What the stages import, lazily or not: found by listing sys.modules after each stage.
# skops.io imports every scikit-learn module (and pytest) to list the trusted types, and
# looks up functions across all loaded modules: imported after MLflow, in the child,
# that alone took 3 s.
PRELOAD = (
    "pandas",
    "pyarrow.csv",
    "pyarrow.dataset",
    "pyarrow.parquet",
    "pyarrow.pandas_compat",
    "sklearn.datasets",
    "skops.io",
    "matplotlib.pyplot",
    "git",
    "mlflow.sklearn",
    "mlflow.pyfunc",
    "mlflow.models",
    "mlflow.tracing",
    "mlflow.store.tracking.sqlalchemy_store",
    "mlflow.store.model_registry.sqlalchemy_store",
    "alembic.command",
    "alembic.config",
    "sqlalchemy.dialects.sqlite",
    "mlops_template.cli",
    "mlops_template.io.tracking",
)


def serve(path: Path) -> None:
    """Import what the stages need, then fork a child per request until idle."""
    import fcntl

    lock = open(f"{path}.lock", "w")  # noqa: SIM115 (held for the server's life)
    for _ in range(10):  # a stage may hold it for a moment, looking (stage_client._starting)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            time.sleep(0.05)
    else:
        return  # another server for this code is up or starting
    idle = float(os.environ.get(IDLE_ENV) or 600)  # a bad value fails before the imports
    _preload()
    path.unlink(missing_ok=True)  # a server killed before it could clean up
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.umask(0o077)
    listener.bind(str(path))
    listener.listen(64)
    print(f"stage server {os.getpid()} listening on {path}", flush=True)
    why = _run(path, listener, lock, idle)
    print(f"stage server {os.getpid()} exiting: {why}", flush=True)


def _run(path: Path, listener: socket.socket, lock: Any, idle: float) -> str:
    """A child per request until idle, superseded or stopped; why it ended."""
    import fcntl

    identity = path.stat().st_ino
    own_key = socket_path()  # as this server computes it: another one means new code
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    selector.register(_wake_on_sigterm(), selectors.EVENT_READ, _STOP)
    stopping = False
    try:
        while True:
            events = selector.select(timeout=idle)
            if not events and not _busy(selector):
                return "idle"
            for key, _ in events:
                try:
                    if key.data is None and not stopping:
                        _accept(listener, selector, lock)
                    elif key.data is _STOP:  # read, or select would wake at once again
                        if signal.SIGTERM in os.read(key.fd, 64) and not stopping:
                            stopping = True  # no new stage; those running end first
                            selector.unregister(listener)
                            listener.close()
                            _unlink(path, identity)
                            # The next stage may start a server of its own at once, not
                            # wait on this one's lock as on a server still importing.
                            fcntl.flock(lock, fcntl.LOCK_UN)
                    elif key.data is not None:
                        _child_event(selector, key.fileobj, key.data)
                except OSError as err:  # one stage's broken connection ends only that stage
                    print(f"error: {err}", flush=True)
            if stopping and not _busy(selector):
                return "asked to stop"
            stage_ended = any(isinstance(key.data, _Running) for key, _ in events)
            if stage_ended and not _busy(selector) and socket_path() != own_key:
                return "its code changed"  # or the installed packages: superseded
    finally:
        _unlink(path, identity)


_STOP = "SIGTERM"  # the selector's mark for the signal's wake-up pipe


def _wake_on_sigterm() -> int:
    """A pipe the signal module writes SIGTERM's number to when it arrives (`stop`, or a
    plain `kill`): the loop reads it, stops taking stages and exits once the running ones
    have ended, instead of dying with them half done."""
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGTERM, lambda *_: None)  # handled by the loop, not here
    return wake_read


def _busy(selector: Any) -> bool:
    return any(isinstance(key.data, _Running) for key in selector.get_map().values())


def _unlink(path: Path, identity: int) -> None:
    """The socket, if it is still this server's (a newer server may have taken the path)."""
    if path.exists() and path.stat().st_ino == identity:
        path.unlink()


def _preload() -> None:
    """Import what the stages import, and MLflow's store and registry (with SQLAlchemy's
    mappers configured): the child starts with all of it. Nothing here starts a Python
    thread or uses OpenMP, which a fork would not carry over (OpenBLAS's threads are
    remade after a fork by OpenBLAS itself)."""
    import gc
    from importlib import import_module

    import matplotlib

    matplotlib.use("Agg")  # as io/figures.py does
    for name in PRELOAD:
        import_module(name)
    from mlops_template import stages

    for name in stages.stage_names():
        import_module(f"mlops_template.stages.{name}")
    import_module("sqlalchemy.orm").configure_mappers()
    # MLflow maps every installed module to its distribution (0.9 s) when it logs a
    # model, to warn of version mismatches; the map is cached, so made once here.
    requirements = import_module("mlflow.utils.requirements_utils")
    if callable(init := getattr(requirements, "_init_modules_to_packages_map", None)):
        init()
    gc.collect()
    gc.freeze()  # children share these pages instead of touching them in a collection


@dataclass
class _Running:
    """A child at work: the stage process's connection, and a descriptor that becomes
    readable when the child ends (pidfd)."""

    child: int
    conn: socket.socket
    watch: int
    what: str
    started: float = field(default_factory=time.monotonic)


def _accept(listener: socket.socket, selector: Any, lock: Any) -> None:
    conn, _ = listener.accept()
    got = _request(conn)
    if got is None:
        return
    request, fds = got
    go_read, go_write = os.pipe()
    child = _forked(selector, lock, go_write)
    if child == 0:
        try:  # whatever happens, this process never returns into the server's loop
            run_child(conn, fds, request, go_read)
        finally:
            os._exit(1)
    os.close(go_read)
    try:
        for fd in fds:
            os.close(fd)
        running = _Running(
            child, conn, os.pidfd_open(child), f"{request['argv'][:1]} in {request['cwd']}"
        )
        conn.settimeout(None)
        conn.sendall(STATUS.pack(child))
        os.write(go_write, b"g")  # the stage process knows the child: it may start
    except BaseException:
        os.kill(child, signal.SIGKILL)  # it has not started: the stage runs elsewhere
        os.waitpid(child, 0)
        conn.close()
        raise
    finally:
        os.close(go_write)
    selector.register(running.watch, selectors.EVENT_READ, running)
    selector.register(conn, selectors.EVENT_READ, running)


def _request(conn: socket.socket) -> tuple[dict[str, Any], list[int]] | None:
    """A stage's request and its three descriptors; None (the connection closed) for a
    connection that is no request, or a bad one (said in the log)."""
    fds: list[int] = []
    try:
        conn.settimeout(10)
        check_peer(conn)
        message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        if not message and not fds:  # a look at the server (stage_server_control.server_pid)
            conn.close()
            return None
        if len(fds) != 3 or len(message) < LENGTH.size:
            raise ConnectionError("a request without its length and three descriptors")
        (length,) = LENGTH.unpack(message[: LENGTH.size])
        body = message[LENGTH.size :]
        body += read_exactly(conn, length - len(body))
        return json.loads(body), fds
    except (OSError, ValueError) as err:
        print(f"refused a request: {err}", flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()
        return None


def _forked(selector: Any, lock: Any, go_write: int) -> int:
    """os.fork; in the child (0), the server's descriptors closed and its SIGTERM handling
    dropped. SIGTERM is held back across the fork: the child starts with the server's
    handler and wake-up pipe, which a SIGTERM (the stage's own, forwarded) must not meet:
    it would be swallowed, or stop the server."""
    term = {signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, term)
    try:
        child = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
        raise
    if child == 0:
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the stage's signals are its own
            os.close(signal.set_wakeup_fd(-1))
            signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
            os.close(go_write)
            for key in list(selector.get_map().values()):  # other stages', the listener
                os.close(key.fd)
            selector.close()
            lock.close()
        except BaseException:
            os._exit(1)  # never back into the server's loop
        return 0
    signal.pthread_sigmask(signal.SIG_UNBLOCK, term)
    return child


def _child_event(selector: Any, fileobj: Any, running: _Running) -> None:
    """The child ended (tell its stage process how), or the stage process went away
    (kill the child: nothing may run on after the stage that DVC sees has ended)."""
    if fileobj is running.conn:
        if running.conn.fileno() == -1:
            return  # the child ended and was answered in this same round
        os.kill(running.child, signal.SIGKILL)  # readable means closed: the process is gone
        selector.unregister(running.conn)
        running.conn.close()
        return
    _pid, status = os.waitpid(running.child, 0)
    selector.unregister(running.watch)
    os.close(running.watch)
    seconds = time.monotonic() - running.started
    print(
        f"{running.what}: pid {running.child}, {_ended(status)} after {seconds:.2f} s",
        flush=True,  # nothing of the server's left in a buffer a child would inherit
    )
    if running.conn.fileno() != -1:
        with contextlib.suppress(OSError):
            running.conn.sendall(STATUS.pack(status))
        selector.unregister(running.conn)
        running.conn.close()


def _ended(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit {os.waitstatus_to_exitcode(status)}"


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
