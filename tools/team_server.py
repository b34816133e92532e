"""A team tracking server on this machine: MLflow on PostgreSQL, artifacts proxied.

`make server` runs this. It keeps a PostgreSQL cluster in `--dir` (created on first use
with Debian's PostgreSQL binaries, listening on 127.0.0.1 only), then runs
`mlflow server` against it with `--serve-artifacts`, artifacts under `--dir`. Ctrl-C (or
SIGTERM) stops both. With BACKEND_STORE_URI set, that database is used instead and no
cluster is started (a team host with its own PostgreSQL).

With `--auth`, MLflow's basic-auth app guards the server: deploy/basic_auth.ini, its
users kept in the cluster's `mlflow_auth` database (or AUTH_DATABASE_URI); the admin's
first password comes from MLFLOW_AUTH_ADMIN_PASSWORD.
"""

from __future__ import annotations

import argparse
import configparser
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlops_template.errors import PipelineError, redact, require_extra
from mlops_template.io.mlflow_server import job_runner_setting

DATABASE = "mlflow"
AUTH_DATABASE = "mlflow_auth"
USER = "mlflow"
AUTH_CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "basic_auth.ini"


def pg_bin(name: str) -> str:
    """A PostgreSQL program: on PATH, else in Debian's versioned folder."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        sys.exit(f"{name} not found: install PostgreSQL (apt-get install postgresql)")
    return found


def as_db_owner(cmd: list[str], data: Path) -> list[str]:
    """PostgreSQL refuses to run as root: then run it as the `postgres` user (who must be
    able to reach the folder: a folder under a private home or temp dir will not do)."""
    if os.geteuid() != 0:
        return cmd
    shutil.chown(data.parent, "postgres")
    return ["runuser", "-u", "postgres", "--", *cmd]


def start_postgres(folder: Path, port: int) -> Path:
    """Create (once) and start the cluster in folder/pgdata; returns the data folder."""
    data = folder / "pgdata"
    folder.mkdir(parents=True, exist_ok=True)
    if not (data / "PG_VERSION").exists():
        init = [pg_bin("initdb"), "-D", str(data), "-U", USER, "-A", "trust", "-E", "UTF8"]
        _run(as_db_owner(init, data))
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    start = [pg_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(data / "log"), "-w"]
    _run(as_db_owner([*start, "start"], data))
    for database in (DATABASE, AUTH_DATABASE):
        found = psql(port, f"SELECT 1 FROM pg_database WHERE datname = '{database}'", "postgres")
        if found != "1":
            _run([pg_bin("createdb"), *_client_args(port), database])
    return data


def local_uri(port: int, database: str) -> str:
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{database}"


def auth_config(folder: Path, database_uri: str) -> Path:
    """deploy/basic_auth.ini with this server's user database, written to folder."""
    config = configparser.ConfigParser()
    config.read(AUTH_CONFIG)
    config["mlflow"]["database_uri"] = database_uri
    path = folder / "basic_auth.ini"
    path.touch(mode=0o600)  # AUTH_DATABASE_URI may hold a password
    with open(path, "w", encoding="utf-8") as handle:
        config.write(handle)
    return path


def psql(port: int, query: str, database: str = DATABASE) -> str:
    """One query's rows, as psql prints them unaligned (`a|b` per line)."""
    cmd = [pg_bin("psql"), *_client_args(port), "-d", database, "-tAc", query]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _client_args(port: int) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(port), "-U", USER]


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")


def stop_postgres(data: Path) -> None:
    stop = [pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
    subprocess.run(as_db_owner(stop, data), check=False, capture_output=True)


def secret_key(folder: Path) -> str:
    """The key MLflow signs CSRF tokens with: made once, kept (owner-only) in folder."""
    path = folder / "flask_secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".server", help="cluster and artifacts folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db-port", type=int, default=5433)
    parser.add_argument("--auth", action="store_true", help="MLflow's basic-auth app")
    args = parser.parse_args()
    try:  # the core install leaves these out: `make server` installs the server extra
        require_extra("psycopg", "server", "the team server's PostgreSQL store")
        if args.auth:
            require_extra("flask_wtf", "server", "MLflow's basic-auth app")
    except PipelineError as err:
        sys.exit(f"error: {err}")
    folder = Path(args.dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    backend = os.environ.get("BACKEND_STORE_URI")
    auth_db = os.environ.get("AUTH_DATABASE_URI")
    if args.auth and backend and not auth_db:
        sys.exit("--auth with BACKEND_STORE_URI needs AUTH_DATABASE_URI: where users are kept")
    if args.auth and len(os.environ.get("MLFLOW_AUTH_ADMIN_PASSWORD", "")) < 12:
        sys.exit(
            "--auth needs MLFLOW_AUTH_ADMIN_PASSWORD, 12 characters or more: MLflow makes "
            "the admin user with it the first time (afterwards the stored password counts)"
        )
    data = None
    if not backend:
        data = start_postgres(folder, args.db_port)
        backend = local_uri(args.db_port, DATABASE)
        auth_db = auth_db or local_uri(args.db_port, AUTH_DATABASE)
    # The store's URI in the environment, not the arguments: any user can read a
    # process's arguments (ps), and a team database's URI may hold a password.
    env = {**os.environ, "MLFLOW_BACKEND_STORE_URI": backend, **job_runner_setting()}
    app = []
    if args.auth:
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(auth_config(folder, auth_db))
        env.setdefault("MLFLOW_FLASK_SERVER_SECRET_KEY", secret_key(folder))
        app = ["--app-name", "team-auth"]  # basic auth, and only CI moves champion
    server = subprocess.Popen(
        [
            "mlflow",
            "server",
            *app,
            "--serve-artifacts",
            "--artifacts-destination",
            str(folder / "artifacts"),
            "--host",
            args.host,
            "--port",
            str(args.port),
            "--workers",
            "1",
        ],
        env=env,
    )

    def stop(*_: object) -> None:
        server.terminate()

    signal.signal(signal.SIGTERM, stop)
    print(f"MLflow on http://{args.host}:{args.port} (backend {redact(backend)})", file=sys.stderr)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        return server.wait()
    finally:
        deadline = time.monotonic() + 30
        while server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        if data is not None:
            stop_postgres(data)


if __name__ == "__main__":
    sys.exit(main())
