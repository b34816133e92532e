"""Shared fixtures: temporary copies of the template with the pipeline run, a promoted
champion, an S3 store; the machinery behind them is in tests/helpers/.
"""

from __future__ import annotations

import contextlib
import copy
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_template import stage_server_control
from tests.helpers import spark_classes
from tests.helpers.servers import free_port, running, s3_client
from tests.helpers.template import (
    BIN,
    Template,
    built_once,
    built_pipeline,
    example_params_text,
)

# Every JVM the tests start (Spark's, in process or in a stage) compiles with C1 only (a
# local session and its first jobs: 12 s of CPU -> 7 s) and maps Spark's classes from an
# archive made once per environment (tests/helpers/spark_classes.py; with C1 both ways,
# 8.5 s -> 4.4 s). Set before any session starts, and inherited by the processes the tests
# run (xdist's workers too); kept as it is where it was set outside.
SPARK_ARGS_OURS = "PYSPARK_SUBMIT_ARGS" not in os.environ
if SPARK_ARGS_OURS:
    os.environ["PYSPARK_SUBMIT_ARGS"] = spark_classes.submit_args(None)


def pytest_configure(config: pytest.Config) -> None:
    """Set here, before xdist's workers start (they and every process they run inherit it),
    not in them: the threads each worker may use, and the archive of Spark's classes, made
    if need be, named for every JVM."""
    if hasattr(config, "workerinput"):
        return
    _share_cores(config.option)
    if SPARK_ARGS_OURS and (archive := spark_classes.ready_archive()):
        os.environ["PYSPARK_SUBMIT_ARGS"] = spark_classes.submit_args(archive)


def _share_cores(option: Any) -> None:
    """The cores shared out among xdist's workers: OpenMP (scikit-learn's, LightGBM's and
    XGBoost's boosting) and OpenBLAS otherwise start a thread per core in every worker, and
    two workers on two cores each spinning two threads ran the learners' tests 3x slower
    (100 s -> 33 s wall). Kept as it is where it was set outside."""
    workers = len(getattr(option, "tx", None) or [])  # xdist's, -n and --maxprocesses applied
    if "OMP_NUM_THREADS" not in os.environ and workers > 1:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        os.environ["OMP_NUM_THREADS"] = str(max(1, (cores or 1) // workers))


# The longest test files (CI's junit times), started first so that no xdist worker is left
# running one alone at the end: `--dist loadfile` hands out files in collection order once
# xdist's own reordering (by the number of tests in a file) is off, as `make test` has it
# (--no-loadscope-reorder). Only the time depends on it.
SLOWEST_FIRST = [
    "test_generate.py",  # a generated project runs its own unit tests: 4 minutes
    "test_team_server.py",
    "test_inference_log.py",
    "test_spark_checks.py",
    "test_registry.py",
    "test_spark.py",
    "test_spark_data_stages.py",
    "test_reading_parity.py",
    "test_ct.py",
    "test_reproduce.py",
    "test_make_targets.py",
    "test_bad_batches.py",
    "test_serving.py",
    "test_spark_collect.py",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept


@pytest.fixture(autouse=True)
def _no_active_experiment_left() -> Iterator[None]:
    """`mlflow.set_experiment` (the stages' Tracker, in process) makes its experiment the
    process's active one and sets MLFLOW_EXPERIMENT_ID: left over, a later test of the
    same worker ran on a store without it ("No Experiment with id=1 exists")."""
    before = os.environ.get("MLFLOW_EXPERIMENT_ID")
    yield
    fluent = sys.modules.get("mlflow.tracking.fluent")
    if fluent is not None:
        fluent._active_experiment_id = None  # what set_experiment set; no API unsets it
    if before is None:
        os.environ.pop("MLFLOW_EXPERIMENT_ID", None)
    else:
        os.environ["MLFLOW_EXPERIMENT_ID"] = before


# The stage servers up before the session (a developer's own `make run`): left running.
_SERVERS_BEFORE: set[int] = set()


def pytest_sessionstart(session: pytest.Session) -> None:
    if not hasattr(session.config, "workerinput"):
        _SERVERS_BEFORE.update(stage_server_control.servers_of_this_environment())


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The warm stage servers the tests' pipelines started: stopped at the end (once,
    by xdist's controller), not left to idle out (each would exit after 10 minutes)."""
    if hasattr(session.config, "workerinput"):
        return
    for pid in stage_server_control.servers_of_this_environment():
        if pid in _SERVERS_BEFORE:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Under `make test`: the whole time, pre-commit included (pytest's own line follows)."""
    if started := os.environ.get("MAKE_TEST_STARTED"):
        minutes, seconds = divmod(int(time.time()) - int(started), 60)
        took = f"{minutes} min {seconds:02d} s"
        terminalreporter.write_line(f"make test: {took} wall, pre-commit included")


@pytest.fixture
def s3_store(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A real S3 API (moto's standalone server) on loopback with an empty bucket `store`;
    yields the standard AWS_* variables that point DVC, boto3 and MLflow at it."""
    endpoint = f"http://127.0.0.1:{free_port()}"
    cmd = [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", endpoint.rsplit(":", 1)[1]]
    with running(cmd, f"{endpoint}/moto-api/", tmp_path / "moto.log"):
        env = {
            "AWS_ACCESS_KEY_ID": "test-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
        s3 = s3_client(env)
        s3.create_bucket(Bucket="store")
        yield env


_PARAMS = yaml.safe_load(example_params_text())


@pytest.fixture
def params() -> dict[str, Any]:
    """A deep copy of the repo's params.yaml (the composed config), free to mutate."""
    return copy.deepcopy(_PARAMS)


@pytest.fixture
def template(tmp_path: Path) -> Template:
    return Template.fresh(tmp_path / "template")


@pytest.fixture(scope="session")
def reproduced_build(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The template with the default pipeline run once (`make run`), for the whole run."""
    return built_pipeline(tmp_path_factory, "reproduced", lambda copy: copy.make("run").stdout)


@pytest.fixture(scope="session")
def reproduced(reproduced_build: Template, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """This worker's copy of the reproduced pipeline, with its store; treat it as read-only
    (tests that change it take a clone)."""
    root = tmp_path_factory.mktemp("reproduced") / "template"
    return reproduced_build.clone_to(root, with_store=True)


@pytest.fixture(scope="session")
def served_build(reproduced_build: Template, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The reproduced pipeline with its model registered as champion (v1), for the whole run."""

    def build(folder: Path) -> None:
        reproduced_build.clone_to(folder / "template", with_store=True).make("promote")

    return Template(built_once(tmp_path_factory, "served", build) / "template")


@pytest.fixture(scope="session")
def served(served_build: Template, tmp_path_factory: pytest.TempPathFactory) -> Template:
    """This worker's copy of the served champion; treat it as read-only."""
    return served_build.clone_to(tmp_path_factory.mktemp("served") / "copy", with_store=True)
