"""The docs site builds offline in strict mode, fails on a broken link, and the README
stays a front door: short, linking to every page of the site."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.template import BIN, REPO

sys.path.insert(0, str(REPO / "tools"))
from docs_index import index_text

README_WORDS = 2_000


def _pages() -> list[str]:
    # mkdocs.yml may hold Python tags in other projects; this one holds plain YAML.
    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text(encoding="utf-8"))["nav"]
    return [page for entry in nav for page in entry.values()]


def _build(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "-d", str(root / "site")],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(BIN)},
        timeout=300,
    )


def _site_source(tmp_path: Path) -> Path:
    for name in ("mkdocs.yml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "docs", tmp_path / "docs", ignore=shutil.ignore_patterns("index.md"))
    (tmp_path / "docs/index.md").write_text(
        index_text((REPO / "README.md").read_text(encoding="utf-8"), tmp_path / "docs")
    )
    return tmp_path


def test_the_site_builds_strictly_and_a_broken_link_fails_it(tmp_path):
    root = _site_source(tmp_path)
    built = _build(root)
    assert built.returncode == 0, built.stderr
    assert (root / "site/serving/index.html").is_file()
    page = root / "docs/serving.md"
    page.write_text(page.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    broken = _build(root)
    assert broken.returncode == 1 and "no-such-page.md" in broken.stderr


def test_every_page_is_in_the_nav_and_the_readme_links_to_it():
    pages = _pages()
    on_disk = {p.name for p in (REPO / "docs").glob("*.md")} - {"index.md"}
    assert set(pages) - {"index.md"} == on_disk
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)", readme))
    assert linked == on_disk


def test_the_readme_is_short():
    words = len((REPO / "README.md").read_text(encoding="utf-8").split())
    assert words <= README_WORDS, f"README.md has {words} words; move detail to docs/"


def test_the_index_page_links_only_what_the_site_has(tmp_path):
    (tmp_path / "data.md").write_text("")
    text = index_text("[data](docs/data.md#csv) [log](CHANGELOG.md) [x](https://x.org)", tmp_path)
    assert text == "[data](data.md#csv) log [x](https://x.org)"
