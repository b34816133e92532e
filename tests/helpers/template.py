"""Temporary copies of the template and the real tools run inside them: a copy's git
history, DVC cache and tracking store, `make` targets, and `mlops` commands in process.

Expensive workspaces are built once per test run, whatever the number of xdist workers
(`built_once`); each test that changes one works on a copy (`Template.clone_to`).
"""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml
from filelock import FileLock

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The tests run on scikit-learn's breast cancer set (small, fast, and easy for any model),
# whatever this project's conf/ says: the template's default is its demo data, and a
# project made with `copier copy` points conf/ at its own data, its ID and its server.
# The demo's own end to end is tests/e2e/test_demo.py's, on DEMO.
# The template's own choices of the groups with options: what a project keeps in conf/
# (ct's model, `tune keep`, `exp best --apply`) does not reach the tests.
CHOICES = ["model=auto", "tune=none", "engine=pandas"]
EXAMPLE = [
    "data=breast_cancer",
    "split.key=null",
    "predict.passthrough_columns=[]",
    "tracking.uri=null",
    *CHOICES,
]
DEMO = ["data=demo", "tracking.uri=null", *CHOICES]  # a no-op in the template itself


def example_conf(folder: Path) -> Path:
    """conf/ and params.yaml of the example in a folder: this project's conf/, set to the
    example where a project's own answers changed it."""
    from mlops_template.conf_edits import apply_to_conf

    shutil.copytree(REPO / "conf", folder / "conf")
    apply_to_conf(folder, EXAMPLE)
    return folder


def template_text(*overrides: str) -> str:
    """params.yaml as conf/ composes it with the template's own choices (CHOICES), then
    `overrides` (the last of a key wins, as in Hydra)."""
    from mlops_template.compose import compose_text

    return compose_text(REPO, [*CHOICES, *overrides])


def example_params_text() -> str:
    """params.yaml as conf/ composes it for the example (this repository's own params.yaml)."""
    from mlops_template.compose import compose_text

    return compose_text(REPO, EXAMPLE)


def template_files() -> list[str]:
    """What a fresh clone would hold: tracked and new files, minus ignored ones."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    return [f for f in listed if f and (REPO / f).is_file()]


def tool_env(root: Path) -> dict[str, str]:
    """The environment the tools run in: the installed package (the copy holds the same
    code; one warm stage server serves every copy), the copy's own tracking store."""
    # Nothing of the outer run leaks in: its stores, or an outer make's flags.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "DVC_", "AWS_", "MAKE", "GITHUB_")) and k != "MFLAGS"
    }
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
        DVC_NO_ANALYTICS="1",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@localhost",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@localhost",
    )
    return env


class Template:
    """A temporary copy of the template, a git repo with one commit."""

    def __init__(self, root: Path, repro_output: str = ""):
        self.root = root
        self.env = tool_env(root)
        self.repro_output = repro_output  # what the run that made its outputs printed

    @classmethod
    def fresh(
        cls, root: Path, overrides: list[str] = EXAMPLE, outputs: Path | None = None
    ) -> Template:
        """This repository as a fresh clone holds it, its conf/ set to `overrides` (the
        tests' data by default), and the dvc.lock and metrics.json in `outputs` if given
        (what the pipeline makes for those overrides: `example_outputs`)."""
        for rel in template_files():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, target)
        from mlops_template.conf_edits import apply_to_conf

        apply_to_conf(root, overrides)
        for name in OUTPUT_FILES if outputs else ():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(outputs / name, root / name)
        copy = cls(root)
        copy.run("git", "init", "-q", "-b", "main")
        copy.commit("template")
        return copy

    def clone_to(self, root: Path, with_store: bool = False) -> Template:
        """A copy with this one's git history, DVC cache and outputs, and (if asked) its
        tracking store: runs logged here keep their artifacts here, new runs log theirs
        in the copy's own mlruns/ (so a copy never writes into a shared build)."""
        skip = None if with_store else shutil.ignore_patterns("mlflow.db", "mlruns")
        shutil.copytree(self.root, root, symlinks=True, ignore=skip)
        if with_store and (root / "mlflow.db").exists():
            repoint_artifacts(root / "mlflow.db", self.root / "mlruns", root / "mlruns")
        return Template(root, self.repro_output)

    def run(self, *cmd: str, check: bool = True, env: dict | None = None):
        done = subprocess.run(
            cmd,
            check=False,
            cwd=self.root,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=900,
        )
        return checked(done) if check else done

    def mlops(self, *args: str, check: bool = True):
        return self.run(sys.executable, "-m", "mlops_template", *args, check=check)

    def main(self, *args: str, check: bool = True, env: dict | None = None):
        """`mlops ...` through the command line's own main() in this process, in this copy:
        the same code without an interpreter start and its imports (2-3 s a command).
        For what a command does; Spark, signals, concurrency and the entry point itself
        keep `mlops`, a real process."""
        from mlops_template import cli

        with cli_process(self.root, {**self.env, **(env or {})}) as (out, err):
            try:
                code = cli.main(list(args))
            except SystemExit as done:  # argparse's usage errors
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
            except Exception:  # as the interpreter would end: a traceback, exit 1
                traceback.print_exc()
                code = 1
        done = subprocess.CompletedProcess(["mlops", *args], code, out.getvalue(), err.getvalue())
        return checked(done) if check else done

    def make(
        self,
        target: str,
        *variables: str,
        check: bool = True,
        env: dict | None = None,
        venv: Path | None = None,
    ):
        """A Makefile target, run in this copy (see make_command)."""
        return self.run(*make_command(target, *variables, venv=venv), check=check, env=env)

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "--allow-empty", "-m", message)

    def path(self, rel: str) -> Path:
        return self.root / rel


def repoint_artifacts(store: Path, old: Path, new: Path) -> None:
    """Experiments of a copied SQLite store that logged under `old` log under `new` from now
    on: MLflow keeps each experiment's artifact location as an absolute path."""
    with closing(sqlite3.connect(store)) as db, db:
        found = db.execute("SELECT experiment_id, artifact_location FROM experiments").fetchall()
        for experiment_id, location in found:
            for before, after in ((old.as_uri(), new.as_uri()), (str(old), str(new))):
                if location == before or location.startswith(before + "/"):
                    db.execute(
                        "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                        (after + location[len(before) :], experiment_id),
                    )
                    break


def checked(done: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    if done.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, done.args))} exited {done.returncode}\n"
            f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
    return done


@contextmanager
def cli_process(root: Path, env: dict[str, str]) -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """This process set up as a command's own would be (working directory, environment),
    its output captured; then put back, MLflow's process-wide settings included.

    Captured at the file descriptors, as from a process: what the command prints, what
    libraries write to fd 1 and 2, and the output of processes it starts (ct's dvc)."""
    import mlflow
    from mlflow.tracking import fluent

    saved_env, saved_cwd = dict(os.environ), Path.cwd()
    saved_experiment = fluent._active_experiment_id  # set by mlflow.set_experiment
    os.environ.clear()
    os.environ.update(env)
    os.chdir(root)
    out, err = io.StringIO(), io.StringIO()
    try:
        with fd_captured(1, out, sys.stdout), fd_captured(2, err, sys.stderr):
            yield out, err
    finally:
        while mlflow.active_run():  # a run a failed command left open
            mlflow.end_run("FAILED")
        mlflow.set_tracking_uri(None)  # before the environment: it unsets MLFLOW_TRACKING_URI
        fluent._active_experiment_id = saved_experiment
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


@contextmanager
def fd_captured(fd: int, into: io.StringIO, stream) -> Iterator[None]:
    """File descriptor fd, and the Python stream on it, written to `into` meanwhile."""
    stream.flush()
    saved = os.dup(fd)
    redirect = redirect_stdout if fd == 1 else redirect_stderr
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as file:
        os.dup2(file.fileno(), fd)
        try:
            with redirect(file):  # Python's prints go to the same file
                yield
        finally:
            file.flush()
            os.dup2(saved, fd)
            os.close(saved)
            file.seek(0)
            into.write(file.read())


# pyproject.toml's extras: the core install leaves them out.
EXTRAS = ("spark", "server", "s3")


def make_command(target: str, *variables: str, venv: Path | None = None) -> list[str]:
    """`make target`, by default with this environment's venv, which make must never
    re-sync (`-o`): that would point its editable install at the copy; `venv=` names
    another one for make to build."""
    stamps = [".synced", ".synced-dev", *(f".synced-{extra}" for extra in EXTRAS)]
    shared = [f"-o{BIN.parent}/{stamp}" for stamp in stamps] if venv is None else []
    return [
        "make",
        "--no-print-directory",
        f"VENV={venv or BIN.parent}",
        *shared,
        target,
        *variables,
    ]


def ran_stages(output: str) -> list[str]:
    """Stage names `dvc repro` / `dvc exp run` report as run, in order."""
    return [
        line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")
    ]


def built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder built once per test run and shared by every xdist worker.

    The first worker to ask builds it under a file lock while the others wait, then all
    use it: treat it as read-only and change copies of it. A build that failed is not
    tried again in the same run; the others fail at once, pointing at it.
    """
    base = factory.getbasetemp()
    root = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "built-once"
    root.mkdir(exist_ok=True)
    folder, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with FileLock(root / f"{name}.lock"):
        if failed.exists():
            raise RuntimeError(f"building {name} failed earlier in this run:\n{failed.read_text()}")
        if not done.exists():
            folder.mkdir()
            try:
                build(folder)
            except BaseException as err:
                failed.write_text(f"{type(err).__name__}: {err}")
                raise
            done.touch()
    return folder


def example_outputs(factory: pytest.TempPathFactory) -> Path:
    """The committed outputs (OUTPUT_FILES) the pipeline makes for EXAMPLE, built once per
    test run. The template commits its default data's; a copy set to EXAMPLE commits
    these instead, so that its first `make run` remakes what it committed, as a fresh
    clone of the template does."""

    def build(folder: Path) -> None:
        copy = Template.fresh(folder / "template")
        copy.run("dvc", "repro", "--quiet")
        for name in OUTPUT_FILES:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(copy.path(name), folder / name)

    return built_once(factory, "example-outputs", build)


def built_pipeline(
    factory: pytest.TempPathFactory, name: str, run: Callable[[Template], str]
) -> Template:
    """A fresh copy of the template in which `run` ran the pipeline, built once per test run
    (`built_once`); what the pipeline printed is its `repro_output`. Treat it as read-only."""

    def build(folder: Path) -> None:
        copy = Template.fresh(folder / "template", outputs=example_outputs(factory))
        (folder / "pipeline.log").write_text(run(copy))

    folder = built_once(factory, name, build)
    return Template(folder / "template", (folder / "pipeline.log").read_text())


# The pipeline's outputs git keeps (the rest are DVC's).
OUTPUT_FILES = ("dvc.lock", "metrics.json", "reports/cv.json", "reports/tuned_params.yaml")
# The DAG's stages in dvc.yaml's order: each is a CLI command of the same name.
STAGES = list(yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
# The stages that make outputs, each with an MLflow run. check_params has neither: it
# only checks, so on a fresh clone whose dvc.lock records it, `dvc repro` skips it.
OUTPUT_STAGES = [stage for stage in STAGES if stage != "check_params"]
