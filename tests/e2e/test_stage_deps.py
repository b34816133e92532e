"""A stage's code deps in dvc.yaml cover every module of the package it runs: proven by
running each stage and listing the modules it loaded, then by DVC seeing an edit."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from mlops_template.project_files import runs_code
from tests.helpers.template import STAGES

pytestmark = pytest.mark.slow

# Runs a stage as `python -m mlops_template <stage>` does, then writes the package's
# modules it loaded (at exit, so lazy imports count too).
RECORD = """
import atexit, json, os, runpy, sys
os.environ["MLOPS_STAGE_SERVER"] = "0"  # in this process, not in the warm stage server
path = sys.argv[1]
def record():
    files = [m.__file__ for n, m in list(sys.modules.items())
             if n.split(".")[0] == "mlops_template" and getattr(m, "__file__", None)]
    with open(path, "w") as out:
        json.dump(files, out)
atexit.register(record)
sys.argv = ["mlops_template", sys.argv[2]]
runpy.run_module("mlops_template", run_name="__main__", alter_sys=True)
"""


def _loaded(copy, stage: str, out: Path) -> set[str]:
    import sys

    copy.run(sys.executable, "-c", RECORD, str(out), stage)
    files = {Path(f) for f in json.loads(out.read_text())}
    return {
        "src/mlops_template/" + path.as_posix().rsplit("/mlops_template/", 1)[1]
        for path in files
        if runs_code(ast.parse(path.read_text(encoding="utf-8")))
    }


def test_each_stage_lists_every_module_it_loads(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    stages = yaml.safe_load(copy.path("dvc.yaml").read_text())["stages"]
    for stage in STAGES:
        loaded = _loaded(copy, stage, tmp_path / f"{stage}.json")
        assert f"src/mlops_template/stages/{stage}.py" in loaded
        listed = set(stages[stage].get("deps", []))
        assert loaded - listed == set(), stage


def _changed(copy) -> set[str]:
    status = json.loads(copy.run("dvc", "status", "--json").stdout)
    return {name for name, changes in status.items() if name in STAGES and changes}


def test_editing_a_module_reruns_the_stages_that_import_it(reproduced, tmp_path):
    copy = reproduced.clone_to(tmp_path / "copy")
    assert _changed(copy) == set()
    config = copy.path("src/mlops_template/config/__init__.py")
    config.write_text(config.read_text() + "\n# edited\n")
    assert _changed(copy) == set(STAGES)  # every stage validates its config with it
    config.write_text(config.read_text().removesuffix("\n# edited\n"))
    figures = copy.path("src/mlops_template/io/figures.py")
    figures.write_text(figures.read_text() + "\n# edited\n")
    assert _changed(copy) == {"evaluate"}  # only evaluate draws figures
