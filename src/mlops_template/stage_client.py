"""The stage process's side of the warm stage server (stage_server.py).

Every DVC stage is a new Python process, and most of its cost was fixed: importing pandas,
scikit-learn and MLflow (2-4 s) and opening MLflow's store (1-2 s), paid again by each of
the five stages of every `dvc repro`. The first stage that finds no server starts one in
the background and runs itself, as before; later stages hand their command, stdin,
stdout, stderr, folder and environment to the server, which runs them in a fork of
itself with everything imported, and wait for how it ended, forwarding signals to it.
A few commands that are not stages (WARM_COMMANDS) use a server that is up the same way.

One server per user, interpreter, installed code and import-time environment: an edit
to the package, or installing a package, starts another. Linux only; MLOPS_STAGE_SERVER=0
runs every stage in its own process, as before.

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
import time
from pathlib import Path

SWITCH_ENV = "MLOPS_STAGE_SERVER"
# Set in the server's child for the stage process it stands for (see stage_pid).
STAGE_PID_ENV = "MLOPS_STAGE_PID"
# Read when a library loads (Python, scikit-learn, matplotlib, BLAS, MLflow's logging,
# locale), so a different value needs another server.
IMPORT_TIME_ENV = (
    "PYTHON",
    "SKLEARN_",
    "MPL",
    "MATPLOTLIB",
    "OMP_",
    "OPENBLAS_",
    "MKL_",
    "MLFLOW_CONFIGURE_LOGGING",
    "MLFLOW_LOGGING_LEVEL",
    "LANG",
    "LC_",
)
# The wire: a request is its length then JSON (argv, cwd, env, umask), sent with the
# three descriptors; the server answers with the child's pid, then its wait status.
LENGTH = struct.Struct("!I")
MAX_SOCKET_PATH = 108  # sun_path's size on Linux, its final NUL included
STATUS = struct.Struct("!i")


def stage_pid() -> int:
    """The process DVC (or a person) started for this stage. Lineage (which `dvc repro` a
    stage belongs to) and timings (when it started) look at it, not at the server's child."""
    return int(os.environ.get(STAGE_PID_ENV) or os.getpid())


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
    for name, value in sorted(os.environ.items()):
        if name.startswith(IMPORT_TIME_ENV):
            digest.update(f"{name}={value}\0".encode())
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
    base = os.environ.get("TMPDIR") or "/tmp"
    folder = Path(base if os.path.isabs(base) else "/tmp") / f"mlops-stages-{os.getuid()}"
    return folder / f"{digest.hexdigest()[:20]}.sock"


# Commands that are not stages but pay the same imports for a second of work, and often
# follow a pipeline run (`make promote`, `make predict`): they use a server that is up,
# and never start one. Not ct or reproduce (minutes of work, a workspace to restore if
# killed), not serve or ui (long-lived servers of their own).
WARM_COMMANDS = frozenset(
    {"promote", "rollback", "retire", "predict", "monitor", "labels", "shadow-report"}
)


def plain_run() -> bool:
    """This process is `python -m mlops_template ...` without interpreter options (-X, -W,
    -O, -I) or a wrapper (cProfile, pdb, coverage), which the server would not apply."""
    return sys.orig_argv[1:] == ["-m", "mlops_template", *sys.argv[1:]]


def run_in_server(argv: list[str], *, start: bool = True) -> int | None:
    """Run `python -m mlops_template <argv>` in the warm server and return its exit code;
    None if no server is up. With `start` (a stage), one that is starting is waited for,
    and one is started for the next stage if there is none; without (a command), only a
    server that is listening is used."""
    path = socket_path()
    if len(os.fsencode(path)) >= MAX_SOCKET_PATH or not _private(path.parent):
        return None  # a TMPDIR too deep for a socket, or not ours: stages run here
    _fill_closed_stdio()  # before any socket can take descriptor 0, 1 or 2
    # A stage waits for a server that is still importing; a command does not.
    conn = _connect_when_ready(path, float(os.environ.get(WAIT_ENV) or 30) if start else 0)
    if conn is None:
        if start:
            _start_server(path)
        return None
    with conn:
        request = {
            "argv": argv,
            "cwd": os.getcwd(),
            "env": {**os.environ, STAGE_PID_ENV: str(os.getpid())},
            "umask": _umask(),
            "ignored": _ignored_signals(),
        }
        body = json.dumps(request).encode()
        try:
            socket.send_fds(conn, [LENGTH.pack(len(body)) + body], [0, 1, 2])
            child = STATUS.unpack(read_exactly(conn, STATUS.size))[0]
        except OSError:
            # No pid: the server made no child, or killed it before it could start
            # (a child waits for the server's go, sent after the pid): nothing ran.
            return None
        return _wait_for(conn, child, request["ignored"], argv[0])


# How long a stage waits for a server that is still importing (5-10 s on two idle
# cores), rather than import everything itself beside it.
WAIT_ENV = "MLOPS_STAGE_SERVER_WAIT"


def _connect_when_ready(path: Path, wait: float) -> socket.socket | None:
    """A connection to the server; None if there is none, or if one that is starting does
    not listen within `wait` seconds (0: one try)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return connect(path)
        except OSError:
            if time.monotonic() > deadline or not _starting(path, wait):
                return None
            time.sleep(0.05)


def _starting(path: Path, wait: float) -> bool:
    """A server holds its lock but does not listen yet: it was started moments ago (the
    lock file is rewritten when one starts) and is importing."""
    import fcntl

    try:
        with open(f"{path}.lock") as lock:
            if time.time() - os.fstat(lock.fileno()).st_mtime > wait:
                return False
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # held: the server is alive
    except OSError:
        return False
    return False


def connect(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(2)
        conn.connect(str(path))
        check_peer(conn)
        conn.settimeout(None)
    except OSError:
        conn.close()
        raise
    return conn


def check_peer(conn: socket.socket) -> int:
    """The other end must be this user: a stage hands over its environment (credentials).
    Its pid."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", creds)
    if uid != os.getuid():
        raise PermissionError(f"stage server socket owned by uid {uid}")
    return pid


def _fill_closed_stdio() -> None:
    """/dev/null on a closed stdin, stdout or stderr, as the child will have them."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)


def _private(folder: Path) -> bool:
    """The socket folder is this user's alone (or not made yet): no one else can hold a
    lock there to make every stage wait, or put a socket of theirs in it."""
    try:
        info = folder.lstat()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o077


# Forwarded to the child: what ends or interrupts a stage. Ctrl-Z and fg are followed too.
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


def _ignored_signals() -> list[int]:
    """Signals this process ignores (`nohup`, a background job): the child ignores them too."""
    return [int(s) for s in FORWARDED if signal.getsignal(s) == signal.SIG_IGN]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _wait_for(conn: socket.socket, child: int, ignored: list[int], what: str) -> int:
    """Forward signals to the child until the server reports how it ended; end the same way."""

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    def suspend(_signum: int, _frame: object) -> None:  # Ctrl-Z: the child stops too
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGSTOP)
        os.kill(os.getpid(), signal.SIGSTOP)

    for signum in FORWARDED:
        if signum not in ignored:
            signal.signal(signum, forward)
    signal.signal(signal.SIGTSTP, suspend)
    signal.signal(signal.SIGCONT, forward)
    try:
        status = STATUS.unpack(read_exactly(conn, STATUS.size))[0]
    except OSError:
        print(f"error: the stage server stopped while running `{what}`", file=sys.stderr)
        return 1
    if os.WIFSIGNALED(status):
        signum = os.WTERMSIG(status)
        with contextlib.suppress(OSError, ValueError):  # SIGKILL (the OOM killer) has none
            signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
    return os.waitstatus_to_exitcode(status)


def read_exactly(conn: socket.socket, size: int) -> bytes:
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
        if not _private(path.parent):
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
