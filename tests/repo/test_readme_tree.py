"""The layout page (docs/layout.md) names every top-level entry and every module folder
of the package, and nothing that is not there (in a project made from the template,
nothing that is not there: its own files need not be listed)."""

from __future__ import annotations

import re
import subprocess

from tests.helpers.template import REPO

# The README itself, the ignore files (.dvcignore is named beside .dvc/), and copier's
# answers (its template in the template, the answers in a project made from it).
UNLISTED = {
    ".gitignore",
    ".dvcignore",
    "README.md",
    "{{ _copier_conf.answers_file }}.jinja",
    ".copier-answers.yml",
}
# Listed, but not in a project made from the template until its first `make run` (the
# outputs), or at all (what only the template has).
NOT_IN_A_NEW_PROJECT = {"dvc.lock", "metrics.json", "copier.yml", "CHANGELOG.md"}


def _listed() -> set[str]:
    text = (REPO / "docs/layout.md").read_text(encoding="utf-8")
    block = re.search(r"\A# The project's layout\n\n```\n(.*?)```", text, re.S).group(1)
    names = set()
    for line in block.splitlines():
        if line and not line.startswith(" " * 4):  # an entry, not a continued description
            names.add(line.split()[0].rstrip("/"))
    return names


def _tracked() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    top = {path.split("/")[0] for path in files if path}
    package = {
        path.split("/")[2].removesuffix("/")
        for path in files
        if path.startswith("src/mlops_template/") and path.count("/") >= 2
    }
    return (top - UNLISTED - {"src"}) | {"src/mlops_template"} | (package - {"__init__.py"})


def test_what_is_here_matches_the_tree():
    listed = _listed()
    assert {"dvc.yaml", "src/mlops_template", "core", "cli.py"} <= listed  # read as meant
    tracked = _tracked()
    if (REPO / "copier.yml").exists():  # the template itself
        assert listed == tracked
    else:  # a project's own files and modules need not be listed (a team's team_utils.py)
        assert listed - tracked <= NOT_IN_A_NEW_PROJECT
