"""A warm process that runs pipeline stages: each stage a fork of it, nothing imported twice.

Every DVC stage is a new Python process, and most of its cost was fixed: importing pandas,
scikit-learn and MLflow (2-4 s) and opening MLflow's store (1-2 s), paid again by each of
the five stages of every `dvc repro`. The first stage of a run starts this server in the
background and runs itself as before; later stages hand their command to the server,
which forks a child with everything already imported. The child takes the stage
process's stdin, stdout and stderr, working directory, environment and arguments, so
DVC, `mlflow run` and a terminal see what a stage of their own prints and returns; a
signal to the stage reaches the child, and the child dies with the stage process.

One server per user, interpreter, installed code and import-time environment: an edit
to the package or an installed package starts a new one. It exits after IDLE_ENV seconds
without work (default 600). Linux only; MLOPS_STAGE_SERVER=0 runs every stage in its own
process, as before. Its log: the socket's path with `.log`.

This module imports only the standard library: it is the stage process's first step.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import struct
import subprocess
import sys
from pathlib import Path

from mlops_template.stage_pid import STAGE_PID_ENV

SWITCH_ENV = "MLOPS_STAGE_SERVER"
IDLE_ENV = "MLOPS_STAGE_SERVER_IDLE"
# Read when a library loads, so a different value needs another server.
IMPORT_TIME_ENV = (
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
)
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
_LENGTH = struct.Struct("!I")
_STATUS = struct.Struct("!i")


def enabled() -> bool:
    return sys.platform == "linux" and os.environ.get(SWITCH_ENV, "1").lower() not in {
        "0",
        "off",
        "false",
        "no",
    }


def socket_path() -> Path:
    """The server for this user, interpreter, code and import-time environment."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for part in (sys.executable, sys.version, str(package), sys.prefix):
        digest.update(part.encode() + b"\0")
    for name in IMPORT_TIME_ENV:
        digest.update(f"{name}={os.environ.get(name)}\0".encode())
    # The package's own files, and the installed packages (a folder's mtime changes
    # when an entry is added or removed: `pip install` of another version).
    stamped = sorted(package.rglob("*.py"))
    for site in {p for p in sys.path if p.endswith("-packages")}:
        stamped.append(Path(site))
    for path in stamped:
        try:
            stat = path.stat()
        except OSError:
            continue
        digest.update(f"{path}:{stat.st_mtime_ns}:{stat.st_size}\0".encode())
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"mlops-stages-{os.getuid()}"
    return folder / f"{digest.hexdigest()[:20]}.sock"


# ---- the stage process's side ---------------------------------------------------------


def run_in_server(argv: list[str]) -> int | None:
    """Run `python -m mlops_template <argv>` in the warm server and return its exit code;
    None if no server is up (one is started for the next stage: run this one here)."""
    path = socket_path()
    try:
        conn = _connect(path)
    except OSError:
        _start_server(path)
        return None
    with conn:
        fds = [_open_fd(fd) for fd in (0, 1, 2)]
        request = {
            "argv": argv,
            "cwd": os.getcwd(),
            "env": {**os.environ, STAGE_PID_ENV: str(os.getpid())},
            "umask": _umask(),
        }
        body = json.dumps(request).encode()
        try:
            socket.send_fds(conn, [_LENGTH.pack(len(body)) + body], fds)
            child = _STATUS.unpack(_read(conn, _STATUS.size))[0]
        except OSError:
            return None  # refused before a child was made: nothing ran
        return _wait_for(conn, child)


def _connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(2)
        conn.connect(str(path))
        _check_peer(conn)
        conn.settimeout(None)
    except OSError:
        conn.close()
        raise
    return conn


def _check_peer(conn: socket.socket) -> None:
    """The other end must be this user: a stage hands over its environment (credentials)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid():
        raise PermissionError(f"stage server socket owned by uid {uid}")


def _open_fd(fd: int) -> int:
    try:
        os.fstat(fd)
        return fd
    except OSError:  # a closed stdin or stdout: the child gets /dev/null there
        return os.open(os.devnull, os.O_RDWR)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _wait_for(conn: socket.socket, child: int) -> int:
    """Forward signals to the child until the server reports how it ended; end the same way."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(signum, forward)
    try:
        status = _STATUS.unpack(_read(conn, _STATUS.size))[0]
    except OSError:
        print("error: the stage server stopped while running this stage", file=sys.stderr)
        return 1
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    return os.waitstatus_to_exitcode(status)


def _read(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError("stage server closed the connection")
        data += chunk
    return data


def _start_server(path: Path) -> None:
    """Start the server in the background, detached: it outlives this stage."""
    try:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        if path.parent.stat().st_uid != os.getuid():
            return
        with open(f"{path}.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "mlops_template.stage_server", str(path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                cwd="/",
                start_new_session=True,
            )
    except OSError:
        pass  # no server: stages run as their own processes


# ---- the server's side ----------------------------------------------------------------


def serve(path: Path) -> None:
    """Import what the stages need, then fork a child per request until idle."""
    import fcntl
    import selectors

    lock = open(f"{path}.lock", "w")  # noqa: SIM115 (held for the server's life)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return  # another server for this code is up or starting
    _preload()
    path.unlink(missing_ok=True)  # a server killed before it could clean up
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    os.umask(0o077)
    listener.bind(str(path))
    listener.listen(64)
    identity = path.stat().st_ino
    idle = float(os.environ.get(IDLE_ENV, "600"))
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    print(f"stage server {os.getpid()} listening on {path}", flush=True)
    while True:
        events = selector.select(timeout=idle)
        if not events and len(selector.get_map()) == 1:
            break
        for key, _ in events:
            if key.data is None:
                _accept(listener, selector, lock)
            else:
                _child_event(selector, key)
    if path.exists() and path.stat().st_ino == identity:
        path.unlink()
    print(f"stage server {os.getpid()} idle for {idle:.0f} s: exiting", flush=True)


def _preload() -> None:
    """Import what the stages import, and MLflow's store and registry (with SQLAlchemy's
    mappers configured): the child starts with all of it. Nothing here starts a thread
    or a thread pool, which a fork would not carry over."""
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


def _accept(listener: socket.socket, selector, lock) -> None:
    import selectors

    conn, _ = listener.accept()
    fds: list[int] = []
    try:
        conn.settimeout(10)
        _check_peer(conn)
        message, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        if len(fds) != 3 or len(message) < _LENGTH.size:
            raise ConnectionError("a request without its length and three descriptors")
        (length,) = _LENGTH.unpack(message[: _LENGTH.size])
        body = message[_LENGTH.size :]
        body += _read(conn, length - len(body))
        request = json.loads(body)
    except (OSError, ValueError) as err:
        print(f"refused a request: {err}", flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    child = os.fork()
    if child == 0:
        selector.close()
        lock.close()
        _run_child(conn, fds, request)  # never returns
    for fd in fds:
        os.close(fd)
    conn.settimeout(None)
    watch = os.pidfd_open(child)
    conn.sendall(_STATUS.pack(child))
    selector.register(conn, selectors.EVENT_READ, ("client", child, watch))
    selector.register(watch, selectors.EVENT_READ, ("child", child, conn))


def _child_event(selector, key) -> None:
    """The child ended (tell its stage process how), or the stage process went away
    (kill the child: nothing may run on after the stage that DVC sees)."""
    kind, child, other = key.data
    if kind == "client":
        os.kill(child, signal.SIGKILL)  # readable means closed: the stage process is gone
        selector.unregister(key.fileobj)
        key.fileobj.close()
        return
    _pid, status = os.waitpid(child, 0)
    selector.unregister(key.fileobj)
    os.close(key.fd)
    if other.fileno() != -1:
        with contextlib.suppress(OSError):
            other.sendall(_STATUS.pack(status))
        selector.unregister(other)
        other.close()


def _run_child(conn: socket.socket, fds: list[int], request: dict) -> None:
    """Become the stage process: its descriptors, folder, environment and arguments."""
    code = 1
    try:
        _die_with_parent()
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.umask(request["umask"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [sys.argv[0], *request["argv"]]
        sys.stdout.reconfigure(line_buffering=os.isatty(1))  # as Python sets it at start
        sys.path[0] = request["cwd"]  # as `python -m` from there would have it

        from mlops_template.cli import run

        code = run()
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # as Python reports an uncaught error: traceback, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        _exit(code)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: if the server is killed, so is this child (no orphaned stage)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _exit(code: int) -> None:
    """Exit as a process does (atexit handlers, flushed streams), but without returning
    into the server's loop."""
    import atexit
    import logging

    try:
        atexit._run_exitfuncs()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    serve(Path(sys.argv[1]))
