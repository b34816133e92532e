"""`make server`: MLflow on a real PostgreSQL cluster (Debian's binaries, a fresh cluster in a
temp folder) with proxied artifacts. The pipeline, promotion, serving and batch predict
against it; basic auth; the server going down in the middle of a pipeline."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from deltalake import DeltaTable

from mlops_template.io.model_file import load_model
from tests.e2e.test_predict import TABLE, batch
from tests.e2e.test_serving import post, split
from tests.helpers.servers import free_port, running, s3_client
from tests.helpers.template import REPO, Template, make_command

pytestmark = pytest.mark.slow

sys.path.insert(0, str(REPO / "tools"))
from team_server import (  # noqa: E402  (not a package)
    DATABASE,
    local_uri,
    psql,
    start_postgres,
    stop_postgres,
)

ADMIN = {"MLFLOW_TRACKING_USERNAME": "admin", "MLFLOW_TRACKING_PASSWORD": "admin-password-1"}
READER = {"MLFLOW_TRACKING_USERNAME": "reader", "MLFLOW_TRACKING_PASSWORD": "reader-password-1"}


class Cluster:
    """One PostgreSQL cluster for this file's tests, each with databases of its own; a
    database MLflow has migrated once is copied (`CREATE DATABASE ... TEMPLATE`)."""

    def __init__(self, port: int):
        self.port, self.made = port, 0
        migrate = "import mlflow, sys; mlflow.MlflowClient(sys.argv[1]).search_experiments()"
        subprocess.run([sys.executable, "-c", migrate, local_uri(port, DATABASE)], check=True)

    def database(self, migrated: bool = True) -> str:
        """A new database: MLflow's tables in place, or empty; returns its name."""
        self.made += 1
        name = f"test_{self.made}"
        template = f" TEMPLATE {DATABASE}" if migrated else ""
        psql(self.port, f"CREATE DATABASE {name}{template}", "postgres")
        return name


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    # Under /tmp itself: run as root, PostgreSQL runs as `postgres`, who cannot enter
    # pytest's private temp folders.
    folder, port = Path(tempfile.mkdtemp(prefix="mlops-cluster-")), free_port()
    try:
        data = start_postgres(folder, port)  # with the databases mlflow and mlflow_auth
        try:
            yield Cluster(port)
        finally:
            stop_postgres(data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Server:
    """`make server` in a copy: its URI, PostgreSQL port and folder; start() runs it.

    Given a cluster, the server keeps its runs in a database of its own there (as on a
    team host with its own PostgreSQL: BACKEND_STORE_URI); else `make server` makes and
    runs a cluster in its folder."""

    def __init__(self, copy: Template, tmp_path: Path, request, *variables: str, cluster=None):
        self.copy, self.log = copy, tmp_path / "server.log"
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="mlops-server-"))  # as for the cluster
        request.addfinalizer(lambda: shutil.rmtree(self.folder, ignore_errors=True))
        self.variables, self.env = list(variables), {}
        if cluster is None:
            self.db_port, self.database = free_port(), DATABASE
            self.variables.append(f"DB_PORT={self.db_port}")
        else:
            self.db_port, self.database = cluster.port, cluster.database()
            self.env = {"BACKEND_STORE_URI": local_uri(cluster.port, self.database)}

    @contextmanager
    def start(self, env: dict | None = None):
        make = make_command(
            "server", f"SERVER_DIR={self.folder}", f"PORT={self.port}", *self.variables
        )
        env = {**self.copy.env, **self.env, **(env or {})}
        with running(make, f"{self.uri}/health", self.log, cwd=self.copy.root, env=env):
            if not self.env:  # `make server` runs a cluster of its own
                assert (self.folder / "pgdata" / "postmaster.pid").exists()
            yield
        assert not (self.folder / "pgdata" / "postmaster.pid").exists(), "PostgreSQL still up"

    def sql(self, query: str) -> str:
        return psql(self.db_port, query, self.database)


def finished_runs(server: Server, stage: str) -> list[str]:
    return server.sql(
        "SELECT r.run_uuid FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid "
        f"WHERE t.key = 'pipeline.stage' AND t.value = '{stage}' AND r.status = 'FINISHED'"
    ).split()


def test_pipeline_promotion_serving_and_predict_against_the_team_server(
    reproduced, tmp_path, request, cluster
):
    """On a team host's own PostgreSQL (BACKEND_STORE_URI)."""
    copy = reproduced.clone_to(tmp_path / "copy")
    server = Server(copy, tmp_path, request, cluster=cluster)
    with server.start():
        copy.env["MLFLOW_TRACKING_URI"] = server.uri
        copy.run("dvc", "repro", "--force", "-s", "train")  # the model goes to the server
        copy.make("promote")
        assert server.sql("SELECT name, version FROM model_versions") == "mlops-template|1"
        assert server.sql("SELECT alias FROM registered_model_aliases ORDER BY 1") == (
            "challenger\nchampion"
        )
        assert list(server.folder.glob("artifacts/**/*.skops")), "artifacts not proxied"

        rows = batch(copy)
        path = tmp_path / "batch.parquet"
        rows.to_parquet(path)
        copy.main("predict", str(path))  # the champion, through the server
        table = DeltaTable(str(copy.path(TABLE))).to_pandas()
        assert set(table["model_version"]) == {"1"} and len(table) == len(rows)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "mlops_template", "serve", "--port", str(port)]
        with running(serve, f"{url}/ping", tmp_path / "serve.log", cwd=copy.root, env=copy.env):
            status, answer = post(url, split(rows.head(5)))
        assert status == 200
        expected = load_model(copy.path("models/model.skops")).predict(rows.head(5)).tolist()
        assert answer["predictions"] == expected


def test_basic_auth_refuses_strangers_and_readers(reproduced, tmp_path, request):
    """`make server AUTH=1` as the README runs it: a cluster of its own, users in it."""
    from mlflow.server.auth.client import AuthServiceClient

    copy = reproduced.clone_to(tmp_path / "copy")
    server = Server(copy, tmp_path, request, "AUTH=1")
    # The admin promotes here: the account that may move champion (only CI's, for a team:
    # tests/e2e/test_team_roles.py).
    admin = {"MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN["MLFLOW_TRACKING_PASSWORD"]}
    with server.start(env={**admin, "MLOPS_CHAMPION_USERS": "admin"}):
        copy.env["MLFLOW_TRACKING_URI"] = server.uri
        search = f"{server.uri}/api/2.0/mlflow/experiments/search?max_results=1"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(search, timeout=10)
        assert refused.value.code == 401

        stranger = copy.main("promote", check=False)  # no credentials at all
        assert stranger.returncode == 5 and "401 Unauthorized" in stranger.stderr
        assert "Traceback" not in stranger.stderr
        wrong = copy.run(
            sys.executable,
            "-m",
            "mlops_template",
            "serve",
            env={**ADMIN, "MLFLOW_TRACKING_PASSWORD": "not-the-password"},
            check=False,
        )
        assert wrong.returncode == 5 and "Traceback" not in wrong.stderr
        assert "refused the credentials of user 'admin'" in wrong.stderr

        copy.run("dvc", "repro", "--force", "-s", "train", env=ADMIN)
        copy.main("promote", env=ADMIN)
        with pytest.MonkeyPatch.context() as patch:
            for key, value in {**ADMIN, "MLFLOW_TRACKING_URI": server.uri}.items():
                patch.setenv(key, value)
            AuthServiceClient(server.uri).create_user(
                READER["MLFLOW_TRACKING_USERNAME"], READER["MLFLOW_TRACKING_PASSWORD"]
            )

        # A reader reads: the champion scores a batch.
        path = tmp_path / "batch.parquet"
        batch(copy).to_parquet(path)
        copy.main("predict", str(path), env=READER)
        # ...and cannot log runs to the team's experiment, nor register a model version.
        copy.main("params", "compose", "model.candidates.linear.alpha=2")  # another model
        logging = copy.run("dvc", "repro", "-s", "train", env=READER, check=False)
        assert logging.returncode == 255 and "403 Permission denied" in logging.stderr
        copy.run("dvc", "repro", "-s", "train", env=ADMIN)
        registering = copy.main("promote", env=READER, check=False)
        assert registering.returncode == 5 and "403 Permission denied" in registering.stderr
        assert "user 'reader'" in registering.stderr and "Traceback" not in registering.stderr
        assert server.sql("SELECT count(*) FROM model_versions") == "1"


def test_server_down_mid_pipeline_then_a_rerun_completes_once(
    reproduced, tmp_path, request, cluster
):
    copy = reproduced.clone_to(tmp_path / "copy")
    server = Server(copy, tmp_path, request, cluster=cluster)
    # MLflow's client would retry a vanished server for minutes; a few seconds here.
    copy.env.update(
        MLFLOW_TRACKING_URI=server.uri,
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="2",
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="1",
    )
    copy.main("params", "compose", "model.candidates.linear.alpha=2")  # train, evaluate again
    with server.start():
        repro = subprocess.Popen(
            ["dvc", "repro"], cwd=copy.root, env=copy.env, text=True, stderr=subprocess.PIPE
        )
        # The server goes down as soon as the train stage has a run (in flight or done):
        # the pipeline is then in train's logging or before evaluate's.
        deadline = time.monotonic() + 600
        while not server.sql("SELECT 1 FROM tags WHERE key = 'pipeline.stage' AND value = 'train'"):
            assert repro.poll() is None and time.monotonic() < deadline, "train never logged"
            time.sleep(0.05)
    stderr = repro.communicate(timeout=600)[1]
    assert repro.returncode == 255, "the pipeline finished although the server went down"
    assert f"tracking server {server.uri}" in stderr and "Traceback" not in stderr

    with server.start():  # back, with the same database and artifacts
        copy.run("dvc", "repro")
        assert copy.run("dvc", "status", "--quiet", check=False).returncode == 0
        train, evaluate = finished_runs(server, "train"), finished_runs(server, "evaluate")
        assert len(train) == 1 and len(evaluate) == 1, (train, evaluate)
        copy.main("promote")
        lineage = server.sql(
            "SELECT value FROM model_version_tags WHERE key = 'lineage.source_run_id'"
        )
        assert lineage.split() == train  # the one finished run, nothing half-logged
        path = tmp_path / "batch.parquet"
        batch(copy).to_parquet(path)
        copy.main("predict", str(path))  # its artifacts are all there


def test_the_compose_files_mlflow_command_on_postgres_and_an_s3_api(tmp_path, s3_store, cluster):
    """docker-compose.yml cannot run here (no Docker engine); its MLflow service's own
    command and environment do, with PostgreSQL and MinIO's S3 API (moto) on loopback."""
    import mlflow
    import yaml

    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["mlflow"]
    port = free_port()
    database = cluster.database(migrated=False)  # the command creates MLflow's tables
    script = (
        service["entrypoint"][2]
        .replace("$$", "$")
        .replace("@postgres:5432/mlflow", f"@127.0.0.1:{cluster.port}/{database}")
        .replace("--host 0.0.0.0 --port 5000", f"--host 127.0.0.1 --port {port}")
    )
    auth = (REPO / "deploy/basic_auth.ini").read_text()
    (tmp_path / "basic_auth.ini").write_text(
        auth.replace("sqlite:////var/lib/mlflow/", f"sqlite:///{tmp_path}/")
    )
    # The compose defaults (${VAR:-default}); secrets and the MinIO address made up here.
    env = {
        k: v.split(":-", 1)[1].rstrip("}") if ":-" in v else v
        for k, v in service["environment"].items()
    }
    env.update(
        MLFLOW_S3_ENDPOINT_URL=s3_store["AWS_ENDPOINT_URL"],
        AWS_ACCESS_KEY_ID=s3_store["AWS_ACCESS_KEY_ID"],
        AWS_SECRET_ACCESS_KEY=s3_store["AWS_SECRET_ACCESS_KEY"],
        MLFLOW_AUTH_CONFIG_PATH=str(tmp_path / "basic_auth.ini"),
        MLFLOW_AUTH_ADMIN_PASSWORD=ADMIN["MLFLOW_TRACKING_PASSWORD"],
        MLFLOW_FLASK_SERVER_SECRET_KEY="compose-test-key",
        POSTGRES_PASSWORD="unused-trust-auth",
    )
    s3_client(s3_store).create_bucket(Bucket="mlflow")
    uri = f"http://127.0.0.1:{port}"
    server_env = {**Template(tmp_path).env, **env}
    server = running(["sh", "-c", script], f"{uri}/health", tmp_path / "mlflow.log", env=server_env)
    with server, pytest.MonkeyPatch.context() as patch:
        for key, value in {**ADMIN, "MLFLOW_TRACKING_URI": uri}.items():
            patch.setenv(key, value)
        client = mlflow.MlflowClient(uri)
        run = client.create_run(client.create_experiment("compose"))
        (tmp_path / "note.txt").write_text("through the server")
        client.log_artifact(run.info.run_id, str(tmp_path / "note.txt"))
    keys = [o["Key"] for o in s3_client(s3_store).list_objects_v2(Bucket="mlflow")["Contents"]]
    assert any(k.endswith(f"{run.info.run_id}/artifacts/note.txt") for k in keys), keys
    found = psql(cluster.port, "SELECT name FROM experiments WHERE name = 'compose'", database)
    assert found == "compose"
