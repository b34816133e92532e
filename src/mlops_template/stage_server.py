"""The warm stage server: imports what the stages need once, then runs each stage it is
handed (stage_client.py) in a fork of itself.

The child takes the stage process's stdin, stdout and stderr, working directory,
environment, umask and arguments, so DVC, `mlflow run` and a terminal see what a stage
of their own prints and returns. A signal to the stage process reaches the child (the
stage process forwards it); if the stage process dies, the server kills the child, and
if the server dies, the kernel kills its children (PR_SET_PDEATHSIG): nothing runs on
after the stage DVC sees has ended. It exits after MLOPS_STAGE_SERVER_IDLE seconds
without work (default 600); its log is the socket's path with `.log`.
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
    identity = path.stat().st_ino
    own_key = socket_path()  # as this server computes it: another one means new code
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    print(f"stage server {os.getpid()} listening on {path}", flush=True)
    while True:
        events = selector.select(timeout=idle)
        if not events and len(selector.get_map()) == 1:
            break  # idle
        for key, _ in events:
            try:
                if key.data is None:
                    _accept(listener, selector, lock)
                else:
                    _child_event(selector, key.fileobj, key.data)
            except OSError as err:  # one stage's broken connection ends only that stage
                print(f"error: {err}", flush=True)
        stage_ended = any(key.data is not None for key, _ in events)
        if stage_ended and len(selector.get_map()) == 1 and socket_path() != own_key:
            break  # superseded: the code or the installed packages changed
    if path.exists() and path.stat().st_ino == identity:
        path.unlink()
    print(f"stage server {os.getpid()} exiting: idle, or its code changed", flush=True)


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
    fds: list[int] = []
    try:
        conn.settimeout(10)
        check_peer(conn)
        message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        if len(fds) != 3 or len(message) < LENGTH.size:
            raise ConnectionError("a request without its length and three descriptors")
        (length,) = LENGTH.unpack(message[: LENGTH.size])
        body = message[LENGTH.size :]
        body += read_exactly(conn, length - len(body))
        request = json.loads(body)
    except (OSError, ValueError) as err:
        print(f"refused a request: {err}", flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    go_read, go_write = os.pipe()
    child = os.fork()
    if child == 0:
        try:  # whatever happens, this process never returns into the server's loop
            os.close(go_write)
            for key in list(selector.get_map().values()):  # other stages', the listener
                os.close(key.fd)
            selector.close()
            lock.close()
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
