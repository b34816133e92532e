"""`make server`: MLflow on a real PostgreSQL cluster (Debian's binaries, a fresh cluster in a
temp folder) with proxied artifacts; the pipeline, promotion and batch predict against it."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import pytest
from deltalake import DeltaTable

from tests.conftest import BIN, REPO, free_port, running
from tests.e2e.test_predict import TABLE, batch

pytestmark = pytest.mark.slow

sys.path.insert(0, str(REPO / "tools"))
from team_server import psql  # noqa: E402  (tools/ is not a package)


def test_pipeline_promotion_and_predict_against_the_team_server(reproduced, tmp_path, request):
    copy = reproduced.clone_to(tmp_path / "copy")
    port, db_port = free_port(), free_port()
    # Under /tmp itself: run as root, PostgreSQL runs as `postgres`, who cannot enter
    # pytest's private temp folders.
    folder = Path(tempfile.mkdtemp(prefix="mlops-server-"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    uri = f"http://127.0.0.1:{port}"
    make = [
        "make",
        "--no-print-directory",
        f"VENV={BIN.parent}",
        "-o",
        f"{BIN.parent}/.synced",
        "server",
        f"SERVER_DIR={folder}",
        f"PORT={port}",
        f"DB_PORT={db_port}",
    ]
    with running(make, f"{uri}/health", tmp_path / "server.log", cwd=copy.root, env=copy.env):
        copy.env["MLFLOW_TRACKING_URI"] = uri
        copy.run("dvc", "repro", "--force", "-s", "train")  # the model goes to the server
        copy.make("promote")
        assert psql(db_port, "SELECT name, version FROM model_versions") == "mlops-template|1"
        assert psql(db_port, "SELECT alias FROM registered_model_aliases ORDER BY 1") == (
            "challenger\nchampion"
        )
        assert list(folder.glob("artifacts/**/*.skops")), "artifacts are not proxied to the server"
        path = tmp_path / "batch.parquet"
        batch(copy).to_parquet(path)
        copy.mlops("predict", str(path))  # the champion, downloaded through the server
        rows = DeltaTable(str(copy.path(TABLE))).to_pandas()
        assert set(rows["model_version"]) == {"1"} and len(rows) == len(batch(copy))
    assert not (folder / "pgdata" / "postmaster.pid").exists()  # PostgreSQL stopped too
