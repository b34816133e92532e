"""The GitHub workflows: valid against GitHub's schema, and every `run:` a make target,
or for an exit code make would flatten to 2 the project's own CLI, that the test suite
runs too (no logic lives only in YAML)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.template import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# The one target the suite cannot run: it is the suite (`.ci/run` runs it).
RUN_BY_CI = {"test"}


def run_steps() -> list[tuple[str, str]]:
    steps = []
    for workflow in WORKFLOWS:
        jobs = yaml.safe_load(workflow.read_text())["jobs"]
        for job in jobs.values():
            steps += [(workflow.name, step["run"]) for step in job["steps"] if "run" in step]
    return steps


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):", text, flags=re.MULTILINE))


def exercised_targets() -> set[str]:
    """Targets the tests run through `Template.make("target", ...)`."""
    found = set()
    for test in (REPO / "tests").rglob("*.py"):
        if test.name == Path(__file__).name:
            continue
        found |= set(re.findall(r"\.make\(\s*\"([a-z-]+)\"", test.read_text()))
    return found


def exercised_commands() -> set[str]:
    """CLI commands the tests run (`Template.main("cmd", ...)` or `.mlops("cmd", ...)`)."""
    found = set()
    for test in (REPO / "tests").rglob("*.py"):
        found |= set(re.findall(r"\.(?:main|mlops)\(\s*\"([a-z_-]+)\"", test.read_text()))
    return found


def test_there_are_two_workflows():
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "ct.yml"]


def test_workflows_match_githubs_schema():
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, WORKFLOWS),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(("workflow", "command"), run_steps())
def test_every_run_step_is_an_exercised_make_target(workflow, command):
    words = shlex.split(command.split("#")[0])
    if words[0] == ".venv/bin/mlops":  # the exit code matters: 3 refused, 4 alert
        assert words[1] in {"promote", "ct"}, f"{workflow}: `{command}`: use a make target"
        assert words[1] in exercised_commands(), f"no test runs `mlops {words[1]}`"
        return
    assert words[0] == "make" and len(words) >= 2, f"{workflow}: `{command}` is not a make target"
    target = words[1]
    assert target in make_targets(), f"{workflow}: no target {target} in the Makefile"
    assert all("=" in word for word in words[2:]), f"{workflow}: `{command}`: only VAR=value"
    assert target in exercised_targets() | RUN_BY_CI, f"no test runs `make {target}`"


def test_cts_pull_request_holds_what_ct_says_to_commit():
    """The PR left out reports/cv.json and reports/tuned_params.yaml, git-kept outputs of
    train: the commit's dvc.lock then named outputs git did not have, and a clone retrained."""
    steps = yaml.safe_load((REPO / ".github/workflows/ct.yml").read_text())["jobs"]["ct"]["steps"]
    (added,) = [s["with"]["add-paths"].split() for s in steps if "add-paths" in s.get("with", {})]
    paths = yaml.safe_load((REPO / "params.yaml").read_text())["paths"]
    ct_says = ["conf", "params.yaml", "dvc.lock", "metrics.json", paths["cv"], paths["tuned"]]
    assert {*ct_says, paths["incoming"]} <= set(added)


def test_the_schema_check_can_fail(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("name: x\non: push\njobs:\n  a:\n    steps: []\n")  # no runs-on
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            str(broken),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stdout  # check-jsonschema: invalid
