"""What a command says when the world fails it: a password in a URI is never printed, a
damaged store or a full disk is one line naming the file, exit 2."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import yaml

from mlops_template.config import Validate
from mlops_template.core.dataset_checks import check_dataset
from mlops_template.error_report import run_reporting_errors
from mlops_template.errors import redact
from mlops_template.io.store import check_server
from tests.helpers.servers import free_port
from tests.helpers.template import BIN, REPO, Template, example_params_text

SECRET = "S3cretPassw0rd"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            f"tracking server http://ana:{SECRET}@127.0.0.1:5999 is unreachable",
            "tracking server http://ana:***@127.0.0.1:5999 is unreachable",
        ),
        (f"https://ana:{SECRET}@mlflow.example/", "https://ana:***@mlflow.example/"),
        (  # SQLAlchemy reads a password with / and @ unescaped
            f"(backend postgresql+psycopg://mlflow:{SECRET}/x@y@db:5432/mlflow)",
            "(backend postgresql+psycopg://mlflow:***@db:5432/mlflow)",
        ),
        (f"s3://key:{SECRET}@bucket/data.csv", "s3://key:***@bucket/data.csv"),
        (
            "https://b.s3.amazonaws.com/d.csv?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12"
            "&X-Amz-Security-Token=zz",
            "https://b.s3.amazonaws.com/d.csv?X-Amz-Credential=***&X-Amz-Signature=***"
            "&X-Amz-Security-Token=***",
        ),
        ("https://a.blob.core.windows.net/c/d.csv?sv=2022&sig=x%3D", "sig=***"),
        (
            f"http://a:{SECRET}@h1:1, then http://b:{SECRET}@h2",
            "http://a:***@h1:1, then http://b:***@h2",
        ),
    ],
)
def test_redact_hides_passwords_and_secret_parameters(text, shown):
    assert shown in redact(text) and SECRET not in redact(text)
    assert redact(redact(text)) == redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "sqlite:////home/ana/project/mlflow.db",
        "postgresql+psycopg://mlflow@127.0.0.1:5433/mlflow",  # a user name, no password
        "http://127.0.0.1:5000/api/2.0/mlflow/runs/get?run_id=abc",
        "data/raw/dataset.parquet: 3 rows",
    ],
)
def test_redact_leaves_what_holds_no_secret(text):
    assert redact(text) == text


def workspace(tmp_path: Path) -> Template:
    """A project folder with the repository's params.yaml, run in this process."""
    (tmp_path / "params.yaml").write_text(example_params_text())
    return Template(tmp_path)


def one_line(done) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_an_unreachable_server_is_named_without_its_password(tmp_path):
    uri = f"http://ana:{SECRET}@127.0.0.1:{free_port()}"
    done = workspace(tmp_path).main("rollback", check=False, env={"MLFLOW_TRACKING_URI": uri})
    line = one_line(done)
    assert "http://ana:***@127.0.0.1:" in line and "is unreachable" in line
    assert SECRET not in done.stderr + done.stdout


class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *_):
        pass


def test_a_server_with_credentials_in_its_uri_is_reachable():
    """urllib takes user:password@ for part of the host name: the health check drops it."""
    with http.server.HTTPServer(("127.0.0.1", 0), Health) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            check_server(f"http://ana:{SECRET}@127.0.0.1:{server.server_port}", "")
        finally:
            server.shutdown()


def test_a_database_store_is_not_asked_for_health():
    """A tracking URI naming PostgreSQL itself has no /health: its driver says when the
    database is down (urllib would call the scheme unknown and the store unreachable)."""
    check_server("postgresql://mlflow@127.0.0.1:1/mlflow", "")


def test_a_refusal_quotes_the_request_without_the_password(monkeypatch):
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import UNAUTHENTICATED

    from mlops_template.io.store_errors import server_refusal

    uri = f"http://ana:{SECRET}@mlflow.example"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    err = MlflowException(
        f"API request to {uri}/api/2.0/mlflow/runs/create failed with code 401",
        error_code=UNAUTHENTICATED,
    )
    said = server_refusal(err)
    assert said is not None and "http://ana:***@mlflow.example" in said and SECRET not in said


def test_a_rule_of_the_servers_own_is_said_as_the_server_words_it(monkeypatch):
    """A person's promote through the gate, refused by the champion guard: the rule, not
    advice to grant EDIT (which the person has); MLflow's own bare 403 keeps the advice."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import PERMISSION_DENIED

    from mlops_template.io.store_errors import server_refusal

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "alice")
    endpoint = "API request to endpoint /api/2.0/mlflow/registered-models/alias failed with"
    rule = "Permission denied: only ci may change alias 'champion' of m (MLOPS_CHAMPION_USERS)"
    err = MlflowException(
        f"{endpoint} error code 403 != 200. Response body: '{rule}'", error_code=PERMISSION_DENIED
    )
    said = server_refusal(err)
    assert said is not None and said.endswith(f"alias): {rule}") and "EDIT" not in said
    bare = MlflowException(
        f"{endpoint} error code 403 != 200. Response body: 'Permission denied'",
        error_code=PERMISSION_DENIED,
    )
    assert "an admin grants EDIT or MANAGE" in (server_refusal(bare) or "")
    # A server on 0.0.0.0 reached by a name it does not allow: said as a grant to ask for.
    host = MlflowException(
        f"{endpoint} error code 403 != 200. Response body: 'Invalid Host header - possible "
        "DNS rebinding attack detected'",
        error_code=PERMISSION_DENIED,
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://alice:secret@mlflow.example.org:5000")
    said = server_refusal(host) or ""
    assert "start it with mlflow.example.org:5000 in MLFLOW_SERVER_ALLOWED_HOSTS" in said
    assert "secret" not in said
    assert "EDIT" not in said


def _child_commands(pid: int) -> list[str]:
    """A process's children's command lines, once each has one: a child caught between
    fork and exec has none yet (seen on a loaded machine)."""
    deadline = time.monotonic() + 30
    while True:
        commands = [" ".join(p.cmdline()) for p in psutil.Process(pid).children()]
        if (commands and all(commands)) or time.monotonic() > deadline:
            return commands
        time.sleep(0.1)


def test_the_team_servers_start_line_and_command_hold_no_password(tmp_path):
    """tools/team_server.py on a team database (BACKEND_STORE_URI) that is down: its start
    line, and `mlflow server`'s command line (ps), name the store without the password."""
    backend = f"postgresql+psycopg://ana:{SECRET}@127.0.0.1:{free_port()}/mlflow"
    env = {
        **os.environ,
        "BACKEND_STORE_URI": backend,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
    }
    cmd = [sys.executable, str(REPO / "tools/team_server.py"), "--dir", str(tmp_path / "server")]
    server = subprocess.Popen(
        [*cmd, "--port", str(free_port())],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        line = server.stderr.readline()  # printed once `mlflow server` is started
        commands = _child_commands(server.pid)
        server.send_signal(signal.SIGTERM)  # stops `mlflow server`, then itself
        rest = server.communicate(timeout=120)[1]
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert "(backend postgresql+psycopg://ana:***@127.0.0.1:" in line, line
    assert commands and all("mlflow" in c and SECRET not in c for c in commands), commands
    assert SECRET not in line + rest


def garbage_store(root: Path) -> bytes:
    content = b"this is no SQLite database, whatever its name says\n" * 100
    (root / "mlflow.db").write_bytes(content)
    return content


@pytest.mark.parametrize("command", [["rollback"], ["retire", "--dry-run"], ["monitor", "b.csv"]])
def test_a_store_that_is_no_database_is_one_line_naming_it(tmp_path, command):
    copy = workspace(tmp_path)
    (tmp_path / "b.csv").write_text("x\n1\n")
    content = garbage_store(tmp_path)
    line = one_line(copy.main(*command, check=False))
    assert line == (
        f"error: the tracking store {tmp_path / 'mlflow.db'} is not an SQLite database "
        "(file is not a database): restore it from a backup, or move it aside to start a "
        "new, empty store"
    )
    assert (tmp_path / "mlflow.db").read_bytes() == content  # left as it was


def test_a_full_disk_is_one_line(tmp_path, capsys):
    """A real ENOSPC, from the kernel: /dev/full takes no byte. Copied as MLflow's local
    artifact store copies (shutil), also when another library's error wraps it."""
    source = tmp_path / "model.skops"
    source.write_bytes(b"0" * 100_000)
    expected = (
        "error: No space left on device (ENOSPC) while writing: free space on that disk "
        "and run this again"
    )

    assert run_reporting_errors(lambda: shutil.copy2(source, "/dev/full")) == 2
    assert capsys.readouterr().err.strip() == expected

    def wrapped() -> None:
        try:
            shutil.copy2(source, "/dev/full")
        except OSError as err:
            raise RuntimeError("could not log the model") from err

    assert run_reporting_errors(wrapped) == 2
    assert capsys.readouterr().err.strip() == expected


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.fixture
def full_mlruns(tmp_path):
    """tmp_path/mlruns on a tmpfs of 64 KiB with 8 KiB left: the run's first small file
    fits, the model does not. Mounting needs root; elsewhere the test is skipped (the
    mapping itself is tested above with /dev/full)."""
    if not can_mount():
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "mlruns"
    folder.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        (folder / "filler").write_bytes(b"0" * 56 * 1024)
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_an_atomic_write_on_a_full_disk_names_its_file(full_mlruns, capsys):
    from mlops_template.io.atomic import write_bytes

    target = full_mlruns / "report.json"
    assert run_reporting_errors(lambda: write_bytes(target, b"0" * 100_000)) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {target}: No space left on device (ENOSPC): free space there and run this again"
    )
    assert sorted(p.name for p in full_mlruns.iterdir()) == ["filler"]  # no temp file left


def test_train_on_a_full_disk_is_one_line_and_leaves_no_model(tmp_path, params, full_mlruns):
    from mlflow import MlflowClient
    from mlflow.entities import LoggedModelStatus
    from sklearn.datasets import load_breast_cancer

    params["model"] = yaml.safe_load((REPO / "conf/model/linear.yaml").read_text())
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    shutil.copy(REPO / "dvc.yaml", tmp_path)
    for path in (params["paths"]["train"], params["paths"]["validation"]):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
    frame = load_breast_cancer(as_frame=True).frame
    frame.to_parquet(tmp_path / params["paths"]["train"])
    settings = Validate(min_rows=20, max_classes=20)
    report = check_dataset(
        frame, "target", settings, requested_task="classification", source="breast cancer"
    )
    (tmp_path / params["paths"]["validation"]).write_text(json.dumps(report.as_json()))
    copy = Template(tmp_path)
    client = MlflowClient(copy.env["MLFLOW_TRACKING_URI"])
    client.search_experiments()  # the store made beforehand, as a project has it

    line = one_line(copy.main("train", check=False))
    assert line.startswith(f"error: {full_mlruns}: No space left on device while logging the ")
    (experiment,) = [e for e in client.search_experiments() if e.name != "Default"]
    runs = client.search_runs([experiment.experiment_id])
    assert {(r.info.run_name, r.info.status) for r in runs} == {
        ("pipeline", "FAILED"),
        ("train", "FAILED"),
    }
    models = client.search_logged_models([experiment.experiment_id])
    assert models and all(m.status == LoggedModelStatus.FAILED for m in models)  # had begun
    assert not client.search_registered_models()


def test_an_error_that_must_end_at_once_skips_the_interpreters_shutdown():
    """After a native writer failed (predictions_table.append on a full disk), its threads
    may abort Python's shutdown (exit 134): the command says its line and ends at once."""
    script = (
        "import atexit, sys\n"
        "from mlops_template.error_report import run_reporting_errors\n"
        "from mlops_template.errors import PipelineError\n"
        "atexit.register(lambda: print('shutdown ran', file=sys.stderr))\n"
        "def fail():\n"
        "    err = PipelineError('the table: disk full')\n"
        "    err.exit_at_once = True\n"
        "    raise err\n"
        "sys.exit(run_reporting_errors(fail))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    assert (done.returncode, done.stderr) == (2, "error: the table: disk full\n")


def test_an_unexpected_error_holding_a_password_is_printed_without_it(capsys):
    """MLflow's client quotes the URL it called in errors the CLI has no words for."""

    def fail() -> int:
        raise RuntimeError(f"API request to http://ana:{SECRET}@127.0.0.1:5999/api failed")

    with pytest.raises(SystemExit) as ended:
        run_reporting_errors(fail)
    err = capsys.readouterr().err
    assert ended.value.code == 1 and SECRET not in err
    assert "Traceback" in err and "http://ana:***@127.0.0.1:5999/api" in err


def test_a_store_another_mlflow_migrated_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """An upgrade trial: MLflow 3.18 migrated mlflow.db when it first opened it, and after
    going back to 3.17 every command ended in a 40-line traceback (promote: exit 1)."""
    import sqlite3

    from mlflow.tracking import MlflowClient

    store = tmp_path / "mlflow.db"
    MlflowClient(f"sqlite:///{tmp_path}/./mlflow.db").search_experiments()  # made by this one
    with sqlite3.connect(store) as db:
        db.execute("UPDATE alembic_version SET version_num = 'f4a9b2c7d1e6'")  # a newer one's
    uri = f"sqlite:///{store}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    capsys.readouterr()  # MLflow's own lines, making the store
    assert run_reporting_errors(lambda: MlflowClient(uri).search_experiments() and 0) == 2
    said = capsys.readouterr().err
    assert "Traceback" not in said, said
    assert f"error: the tracking store {store} has another MLflow version's schema" in said
    assert f"`mlflow db upgrade {uri}`" in said
