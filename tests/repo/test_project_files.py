"""Code deps come from the imports; MLproject's stage entry points come from dvc.yaml."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap

import pytest
import yaml

from mlops_template.project_files import code_deps, drift, generated, stage_problems
from tests.helpers.template import REPO

PACKAGE_FILES = {
    "__init__.py": '"""Only a docstring: importing the package runs nothing."""',
    "__main__.py": "from mlops_template.cli import main\nmain()",
    "cli.py": """
        from mlops_template import errors

        def other_command():
            import mlops_template.other  # another command's import: not the stage's
    """,
    "errors.py": "X = 1",
    "other.py": "X = 1",
    "unused.py": "X = 1",
    "typing_only.py": "X = 1",
    "stages/__init__.py": "import ast",
    "stages/runner.py": "from mlops_template.core.shared import X",
    "stages/alpha.py": '''
        """alpha: does a."""
        from typing import TYPE_CHECKING

        from mlops_template.core import helper

        if TYPE_CHECKING:
            from mlops_template import typing_only

        def run(cfg):
            from ..core import lazy  # runs when the stage does
    ''',
    "core/__init__.py": '"""Docstring only."""',
    "core/helper.py": "import pandas",
    "core/lazy.py": "X = 1",
    "core/shared.py": "X = 1",
}

DVC_YAML = """\
stages:
  alpha:
    cmd: python -m mlops_template alpha
    deps:
      - src/mlops_template/unused.py  # stale: the imports say otherwise
      - data/in.csv
    params:
      - a  # a comment kept
    outs:
      - data/out.csv
"""

MLPROJECT = """\
name: demo
entry_points:
  main:
    parameters:
      overrides: {type: string, default: ""}
    command: "python -m mlops_template repro {overrides}"
  gone:
    parameters:
      overrides: {type: string, default: ""}
    command: "python -m mlops_template gone {overrides}"
  promote:
    command: "python -m mlops_template promote"
"""


@pytest.fixture
def root(tmp_path):
    for rel, text in PACKAGE_FILES.items():
        path = tmp_path / "src/mlops_template" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).strip() + "\n")
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "MLproject").write_text(MLPROJECT)
    return tmp_path


def test_code_deps_follow_the_imports_that_run(root):
    assert code_deps(root, "alpha") == [
        f"src/mlops_template/{rel}"
        for rel in [
            "__main__.py",
            "cli.py",
            "core/helper.py",
            "core/lazy.py",  # a function's import, relative
            "core/shared.py",  # through the runner
            "errors.py",
            "stages/__init__.py",  # a package's __init__ that runs code
            "stages/alpha.py",
            "stages/runner.py",
        ]
    ]


def test_generated_files_replace_code_deps_and_entry_points(root):
    files = generated(root)
    stage = yaml.safe_load(files["dvc.yaml"])["stages"]["alpha"]
    assert stage["deps"] == [*code_deps(root, "alpha"), "data/in.csv"]
    assert "# a comment kept" in files["dvc.yaml"]
    entries = yaml.safe_load(files["MLproject"])["entry_points"]
    assert list(entries) == ["main", "alpha", "promote"]  # gone: no such stage
    assert entries["alpha"]["command"] == "python -m mlops_template alpha {overrides}"
    assert entries["alpha"]["parameters"] == {"overrides": {"type": "string", "default": ""}}
    for name, text in files.items():
        (root / name).write_text(text)
    assert drift(root) == ""
    assert generated(root) == files  # writing again changes nothing


def test_what_cannot_be_generated_is_named(root):
    (root / "dvc.yaml").write_text(DVC_YAML.replace("-m mlops_template alpha", "alpha.py"))
    (root / "src/mlops_template/stages/beta.py").write_text('"""beta: b."""\n')
    assert stage_problems(root) == [
        "dvc.yaml stage 'alpha' runs 'python alpha.py'; expected 'python -m mlops_template alpha'",
        "src/mlops_template/stages/beta.py is not a stage in dvc.yaml",
    ]


@pytest.mark.parametrize("where", ["core/helper.py", "stages/alpha.py"])
def test_a_module_with_a_merge_conflict_is_named(root, where):
    """An extension trial: `project check` on a module a merge left conflict markers in
    ended in a traceback from "<unknown>", line 16."""
    from mlops_template.errors import PipelineError

    module = root / "src/mlops_template" / where
    ours = module.read_text()
    module.write_text(f"<<<<<<< HEAD\n{ours}=======\n{ours}>>>>>>> theirs\n")
    said = rf"{module}, line 1: an unresolved merge conflict: resolve it$"
    with pytest.raises(PipelineError, match=said):
        generated(root)


def test_check_fails_on_drift_and_write_mends_it(tmp_path):
    for name in ["dvc.yaml", "MLproject"]:
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    mlproject = tmp_path / "MLproject"
    mlproject.write_text(mlproject.read_text().replace("  prepare:\n", "  prep:\n"))
    cmd = [sys.executable, "-m", "mlops_template", "project"]
    run = {"cwd": tmp_path, "capture_output": True, "text": True}
    bad = subprocess.run([*cmd, "check"], check=False, **run)
    assert bad.returncode == 2 and "make project" in bad.stderr
    assert "-  prep:" in bad.stdout and "+  prepare:" in bad.stdout
    assert subprocess.run([*cmd, "write"], check=False, **run).returncode == 0
    assert mlproject.read_text() == (REPO / "MLproject").read_text()
    assert subprocess.run([*cmd, "check"], check=False, **run).returncode == 0
