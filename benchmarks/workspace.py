"""A temporary copy of the template for a benchmark: its own git repo, tracking store
and DVC cache, with the tools of this environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def copy_template(target: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for rel in files + _dvc_tracked(files):
        if (REPO / rel).is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, target / rel)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "-q",
            "-m",
            "bench",
        ],
        cwd=target,
        check=True,
    )


def _dvc_tracked(files: list[str]) -> list[str]:
    """The data files the project's `.dvc` files track (`dvc add`): git does not hold
    them and the copy has no DVC cache, so they are copied from this workspace."""
    import yaml

    tracked = []
    for rel in files:
        if not rel.endswith(".dvc"):
            continue
        folder = Path(rel).parent
        for out in yaml.safe_load((REPO / rel).read_text()).get("outs", []):
            path = folder / out["path"]
            if not (REPO / path).exists():
                sys.exit(f"{path} (tracked by {rel}) is not in the workspace: run `dvc pull`")
            if (REPO / path).is_dir():
                tracked += [str(p.relative_to(REPO)) for p in (REPO / path).rglob("*")]
            else:
                tracked.append(str(path))
    return tracked


# A stage server the copy's pipeline starts serves the copy's code (or venv), deleted with
# it: it exits 30 s after its last stage instead of 10 minutes.
SERVER_GONE_SOON = {"MLOPS_STAGE_SERVER_IDLE": "30"}


def tool_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment the copy's commands run in: its code and its own tracking store."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(root / "src"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "DVC_NO_ANALYTICS": "1",
        **SERVER_GONE_SOON,
        **extra,
    }


def promoted_copy(root: Path, *overrides: str) -> dict[str, str]:
    """Copy the template, run the pipeline on the bundled data set (with Hydra overrides)
    and promote the model; returns the environment to run the copy's commands in."""
    copy_template(root)
    env = tool_env(root)
    compose = ["params", "compose", "data=breast_cancer", *overrides]
    for cmd in (
        [sys.executable, "-m", "mlops_template", *compose],
        ["dvc", "repro", "evaluate"],
        [sys.executable, "-m", "mlops_template", "promote"],
    ):
        subprocess.run(cmd, cwd=root, env=env, check=True, capture_output=True)
    return env


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Wall seconds of a command that must succeed (else its output, and exit)."""
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, check=False, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return time.perf_counter() - start
