"""A team tracking server on this machine: MLflow on PostgreSQL, artifacts proxied.

`make server` runs this. It keeps a PostgreSQL cluster in `--dir` (created on first use
with Debian's PostgreSQL binaries, listening on 127.0.0.1 only), then runs
`mlflow server` against it with `--serve-artifacts`, artifacts under `--dir`. Ctrl-C (or
SIGTERM) stops both. With BACKEND_STORE_URI set, that database is used instead and no
cluster is started (a team host with its own PostgreSQL).
"""

from __future__ import annotations

import argparse
import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

DATABASE = "mlflow"
USER = "mlflow"


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
    created = psql(port, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'", "postgres")
    if created != "1":
        subprocess.run(
            [pg_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE],
            check=True,
        )
    return data


def psql(port: int, query: str, database: str = DATABASE) -> str:
    """One query's rows, as psql prints them unaligned (`a|b` per line)."""
    cmd = [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, "-d", database]
    done = subprocess.run([*cmd, "-tAc", query], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}")


def stop_postgres(data: Path) -> None:
    stop = [pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
    subprocess.run(as_db_owner(stop, data), check=False, capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=".server", help="cluster and artifacts folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--db-port", type=int, default=5433)
    args = parser.parse_args()
    folder = Path(args.dir).resolve()
    backend = os.environ.get("BACKEND_STORE_URI")
    data = None
    if not backend:
        data = start_postgres(folder, args.db_port)
        backend = f"postgresql+psycopg://{USER}@127.0.0.1:{args.db_port}/{DATABASE}"
    server = subprocess.Popen(
        [
            "mlflow",
            "server",
            "--backend-store-uri",
            backend,
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
    )

    def stop(*_: object) -> None:
        server.terminate()

    signal.signal(signal.SIGTERM, stop)
    print(f"MLflow on http://{args.host}:{args.port} (backend {backend})", file=sys.stderr)
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
