"""The README's "What is here" names every top-level entry and every module folder of
the package, and nothing that is not there."""

from __future__ import annotations

import re
import subprocess

from tests.helpers.template import REPO

# The README itself, and the ignore files (.dvcignore is named beside .dvc/).
UNLISTED = {".gitignore", ".dvcignore", "README.md"}


def _listed() -> set[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## What is here\n\n```\n(.*?)```", text, re.S).group(1)
    names = set()
    for line in block.splitlines():
        if line and not line.startswith(" " * 4):  # an entry, not a continued description
            names.add(line.split()[0].rstrip("/"))
    return names


def _tracked() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {path.split("/")[0] for path in files}
    package = {
        path.split("/")[2].removesuffix("/")
        for path in files
        if path.startswith("src/mlops_template/") and path.count("/") >= 2
    }
    return (top - UNLISTED - {"src"}) | {"src/mlops_template"} | (package - {"__init__.py"})


def test_what_is_here_matches_the_tree():
    listed = _listed()
    assert {"dvc.yaml", "src/mlops_template", "core", "cli.py"} <= listed  # read as meant
    assert listed == _tracked()
