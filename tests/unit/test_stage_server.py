"""The warm stage server, run for real: a stage handed to it prints, exits and reacts to
signals as the stage's own process did, and a child never outlives its stage process.

One server for the module (it imports pandas, scikit-learn and MLflow once, a few
seconds), in a temporary folder of its own: started as a user's first stage starts it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from mlops_template import stage_client
from mlops_template.stage_server import IDLE_ENV
from tests.helpers.template import EXAMPLE, REPO, example_params_text

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the stage server is Linux's")


def _project(folder: Path, **params: str) -> Path:
    """A folder a stage runs in: the template's config, params composed with overrides."""
    folder.mkdir()
    shutil.copy(REPO / "dvc.yaml", folder / "dvc.yaml")
    shutil.copytree(REPO / "conf", folder / "conf")
    (folder / "params.yaml").write_text(example_params_text())
    if params:
        overrides = [f"{key}={value}" for key, value in params.items()]
        _stage(folder, "params", "compose", *EXAMPLE, *overrides, server=False, check=True)
    return folder


def _env(server: bool) -> dict[str, str]:
    # The module's server idles between tests, longer than a short MLOPS_STAGE_SERVER_IDLE
    # (20 s in a generated project's own test run) on a busy machine: the default, 600 s.
    return {**os.environ, stage_client.SWITCH_ENV: "1" if server else "0", IDLE_ENV: "600"}


def _stage(
    folder: Path,
    *argv: str,
    server: bool = True,
    check: bool = False,
    tmpdir: Path | None = None,
    options: tuple[str, ...] = (),
):
    """`python [options] -m mlops_template argv` in the folder (TMPDIR: where the server's
    socket is looked for)."""
    env = _env(server) if tmpdir is None else {**_env(server), "TMPDIR": str(tmpdir)}
    return subprocess.run(
        [sys.executable, *options, "-m", "mlops_template", *argv],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=120,
    )


def _wait_for(condition, what: str, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} after {seconds} s")


def _server_process(path: Path) -> psutil.Process:
    for proc in psutil.process_iter(["cmdline"]):
        if str(path) in (proc.info["cmdline"] or []):
            return proc
    raise AssertionError(f"no server process for {path}")


@pytest.fixture(scope="module")
def server():
    """No server at first: the first stage runs in its own process and starts one. In a
    folder of its own, short enough for a socket's path (xdist's tmp_path may not be)."""
    tmp = Path(tempfile.mkdtemp(prefix="stages-", dir="/tmp"))
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp)  # the server's socket goes here, for this module only
    path = stage_client.socket_path()
    try:
        assert not path.exists()
        first = _stage(_project(tmp / "first"), "check_params")
        assert first.returncode == 0, first.stderr
        assert "values are valid" in first.stdout
        _wait_for(path.exists, "stage server socket")
        yield path
    finally:
        with contextlib.suppress(AssertionError):
            _server_process(path).terminate()
        if old is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = old
        shutil.rmtree(tmp, ignore_errors=True)


def _served(server: Path) -> list[str]:
    return Path(f"{server}.log").read_text().splitlines()


@pytest.mark.parametrize("valid", [True, False], ids=["valid", "invalid"])
def test_a_stage_in_the_server_prints_and_exits_as_in_its_own_process(server, tmp_path, valid):
    folder = _project(tmp_path / "p")
    if not valid:  # a value compose would refuse, as a hand edit can leave it
        params = folder / "params.yaml"
        params.write_text(params.read_text().replace("test_size: 0.2", "test_size: 7", 1))
    before = len(_served(server))
    own = _stage(folder, "check_params", server=False)
    served = _stage(folder, "check_params")
    assert (served.returncode, served.stdout, served.stderr) == (
        own.returncode,
        own.stdout,
        own.stderr,
    )
    assert own.returncode == (0 if valid else 2)
    if not valid:
        assert "test_size" in own.stderr
    ran = _served(server)[before:]
    assert len(ran) == 1 and ran[0].startswith(f"['check_params'] in {folder}")
    assert ran[0].split(", ")[1].startswith(f"exit {own.returncode} ")


@pytest.fixture
def silent_server():
    """A tracking server that takes connections and never answers: a stage waits on it
    (10 s, the health check's limit) after its work."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(60)
        yield listener


def _waiting_stage(
    server: Path, folder: Path, listener: socket.socket
) -> tuple[subprocess.Popen, psutil.Process, socket.socket]:
    """`collect` with a tracking server that never answers: once it asks, the stage has
    done its work and is waiting (its signal handlers long set)."""
    uri = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stage = subprocess.Popen(
        [sys.executable, "-m", "mlops_template", "collect"],
        cwd=folder,
        env={**_env(True), "MLFLOW_TRACKING_URI": uri},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    [child] = _wait_for(_server_process(server).children, "child of the server")
    asked, _ = listener.accept()
    return stage, child, asked


def test_a_signal_to_the_stage_process_stops_the_child_as_it_stopped_the_stage(
    server, tmp_path, silent_server
):
    stage, child, asked = _waiting_stage(server, _project(tmp_path / "p"), silent_server)
    stage.send_signal(signal.SIGTERM)
    _out, err = stage.communicate(timeout=30)
    assert stage.returncode == 128 + signal.SIGTERM, err  # the CLI's exit on SIGTERM
    assert not child.is_running()
    asked.close()


def test_a_killed_stage_process_takes_its_child_with_it(server, tmp_path, silent_server):
    stage, child, asked = _waiting_stage(server, _project(tmp_path / "p"), silent_server)
    stage.kill()
    stage.wait(timeout=30)
    child.wait(timeout=3)  # raises if the child lives on (it would wait 10 s)
    assert not child.is_running()
    asked.close()


def test_a_child_killed_outright_ends_its_stage_process_the_same_way(
    server, tmp_path, silent_server
):
    """As the OOM killer would: the stage process dies by SIGKILL too, no traceback."""
    stage, child, asked = _waiting_stage(server, _project(tmp_path / "p"), silent_server)
    child.kill()
    _out, err = stage.communicate(timeout=30)
    assert stage.returncode == -signal.SIGKILL and "Traceback" not in err, err
    asked.close()


@pytest.mark.parametrize("argv", [["rollback"], ["predict", "missing.csv"]], ids=str)
def test_a_command_after_a_stage_runs_in_the_server_as_in_its_own_process(server, tmp_path, argv):
    """promote, predict and the like (stage_client.WARM_COMMANDS) use a server that is up:
    the same output and exit code (here, 2: the project has no champion yet)."""
    folder = _project(tmp_path / "p")
    before = len(_served(server))
    own = _stage(folder, *argv, server=False)
    served = _stage(folder, *argv)
    assert (served.returncode, served.stdout, served.stderr) == (2, own.stdout, own.stderr)
    assert "has no champion" in own.stderr or "alias 'champion'" in own.stderr, own.stderr
    ran = _served(server)[before:]
    assert len(ran) == 1 and ran[0].startswith(f"[{argv[0]!r}] in {folder}"), ran


def test_python_options_keep_a_command_in_its_own_process(server, tmp_path):
    """The server would not apply them: `-X importtime` must time this process's imports."""
    folder = _project(tmp_path / "p")
    before = len(_served(server))
    done = _stage(folder, "rollback", options=("-X", "importtime"))
    assert done.returncode == 2 and "has no champion" in done.stderr
    assert "import time:" in done.stderr and "| mlflow" in done.stderr
    assert _served(server)[before:] == []


def test_a_command_never_starts_a_server(short_tmp):
    """Only a stage starts one: a lone `make promote` leaves nothing behind."""
    done = _stage(_project(short_tmp / "p"), "rollback", tmpdir=short_tmp)
    assert done.returncode == 2 and "has no champion" in done.stderr, done.stderr
    assert sorted(p.name for p in short_tmp.iterdir()) == ["p"]  # no server folder, no socket


def test_switched_off_a_stage_runs_in_its_own_process(server, tmp_path):
    folder = _project(tmp_path / "p")
    before = len(_served(server))
    assert _stage(folder, "check_params", server=False).returncode == 0
    assert _served(server)[before:] == []


def test_another_import_time_environment_is_another_server(monkeypatch):
    here = stage_client.socket_path()
    assert stage_client.socket_path() == here
    monkeypatch.setenv("PYTHONHASHSEED", "12345")
    assert stage_client.socket_path() != here


@pytest.fixture
def short_tmp():
    """A folder whose path leaves room for a socket's name (xdist's tmp_path may not)."""
    folder = Path(tempfile.mkdtemp(prefix="stages-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _server_process_at(path: Path) -> subprocess.Popen:
    """A server for this socket, started as a stage starts one, its log beside it."""
    with open(f"{path}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mlops_template.stage_server", str(path)],
            stdout=log,
            stderr=log,
        )


def test_a_stage_waits_for_a_server_that_is_still_importing(short_tmp, monkeypatch):
    """Rather than import everything itself beside it, on the same cores."""
    tmp_path = short_tmp
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv(stage_client.WAIT_ENV, "300")  # however busy the machine is
    path = stage_client.socket_path()
    path.parent.mkdir(mode=0o700)
    folder = _project(tmp_path / "p")
    server = _server_process_at(path)
    try:
        _wait_for(lambda: stage_client._starting(path, 300), "server holding its lock", 30)
        assert not path.exists()  # not listening yet: importing
        done = _stage(folder, "check_params")
        assert done.returncode == 0, done.stderr
        [ran] = [line for line in _served(path) if line.startswith("['check_params']")]
        assert ran.startswith(f"['check_params'] in {folder}: pid ") and "exit 0" in ran
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_folder_too_deep_for_a_socket_runs_stages_in_their_own_processes(tmp_path):
    deep = tmp_path / ("d" * 100)
    deep.mkdir()
    done = _stage(_project(tmp_path / "p"), "check_params", tmpdir=deep)
    assert done.returncode == 0 and "values are valid" in done.stdout, done.stderr
    assert list(deep.iterdir()) == []  # no server tried


def test_a_child_exits_as_python_does_with_a_thread_pool_left_open():
    """A command that leaves a ThreadPoolExecutor's workers waiting (MLflow, pandas and
    pyarrow make them) ends as at interpreter exit: the pool is told to stop, then
    joined, then atexit runs; the child must not wait on the idle workers forever."""
    script = (
        "import os, sys, atexit\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from mlops_template.stage_child import _exit\n"
        "pool = ThreadPoolExecutor(2)\n"
        "pool.submit(print, 'worked', flush=True).result()\n"
        "atexit.register(print, 'atexit ran', flush=True)\n"
        "pid = os.fork()\n"  # as the server's child: a fork, then _exit
        "if pid == 0:\n"
        "    kept = ThreadPoolExecutor(2)\n"  # as a module keeps one: not collected
        "    kept.submit(print, 'child worked', flush=True).result()\n"
        "    _exit(3)\n"
        "sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines() == ["worked", "child worked", "atexit ran", "atexit ran"]


def test_stop_lets_the_running_stages_end_then_the_server_exits(
    short_tmp, monkeypatch, silent_server
):
    """`make stop-stage-server`: no new stage reaches the server, the one it runs is not
    cut short, and the server exits once that one has ended."""
    monkeypatch.setenv("TMPDIR", str(short_tmp))
    path = stage_client.socket_path()
    path.parent.mkdir(mode=0o700)
    folder = _project(short_tmp / "p")
    said = lambda action: _stage(folder, "stage-server", action, check=True).stdout  # noqa: E731
    assert said("stop") == "no stage server is up for this code and environment\n"
    server = _server_process_at(path)
    try:
        _wait_for(path.exists, "stage server socket")
        assert said("status") == f"stage server {server.pid} is up (log: {path}.log)\n"
        every = _stage(folder, "stage-server", "status", "--all", check=True).stdout
        assert every == said("status")  # the only one of this interpreter here
        stage, child, asked = _waiting_stage(path, folder, silent_server)
        assert said("stop").startswith(f"stage server {server.pid} stops once the stages")
        _wait_for(lambda: not path.exists(), "socket removed")
        assert child.is_running() and server.poll() is None  # the stage goes on
        # Its lock let go: a new stage starts a server of its own, not wait on this one.
        assert not stage_client._starting(path, 300)
        assert "no stage server is up" in said("status")
        stage.send_signal(signal.SIGTERM)  # the stage ends (as it would have, in time)
        assert stage.wait(timeout=30) == 128 + signal.SIGTERM
        assert server.wait(timeout=30) == 0
        assert _served(path)[-1] == f"stage server {server.pid} exiting: asked to stop"
        asked.close()
    finally:
        server.kill()
        server.wait(timeout=30)
