"""Make a copy of the template a project of one's own: copier's task after it copies (and
after it re-renders, at `copier update`), run in the new project's folder.

    python tools/adopt.py .copier-answers.yml

From the answers: the package, distribution, MLflow experiment and registered model
renamed; the project's name and description in pyproject.toml and the README; its
license; its data (conf/data/project.yaml, its ID column as the split key and passed
through to predictions); its tracking server. With the template's own answers it changes
nothing. It runs under copier's Python (the standard library and PyYAML, which copier
needs), not the project's environment, which does not exist yet. It removes itself and
the license texts when done: they belong to the template.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

PACKAGE, SLUG = "mlops_template", "mlops-template"
DESCRIPTION = (
    "A reproducible DVC + MLflow project template: data-to-model pipeline, tracking with "
    "lineage, registry, serving and monitoring."
)
AUTHOR, LICENSE = "The mlops-template authors", "MIT"
# The card's intended use where the project kept the template's description (--defaults).
UNWRITTEN_USE = (
    "not written yet: what the model is for and who relies on it (set registry.card.intended_use)"
)
LICENSES = Path(__file__).parent / "licenses"
# Folders no rename looks into: tools' caches, environments, stores and data outputs.
SKIPPED = {".git", ".venv", "mlruns", "__pycache__", ".ruff_cache", ".pytest_cache", "site"}
UPDATES = """## Template updates

This project started from the mlops-template project template; `.copier-answers.yml`
holds the answers given then. With your changes committed, `copier update --trust` brings
the template's later changes and keeps your own edits (read the template's CHANGELOG.md
first). Where you and the template changed the same lines, copier leaves both versions
with conflict markers, as git does.

"""
# Import names a package of the project's own would shadow, beyond the standard library's
# and the distributions of pyproject.toml and uv.lock: import names that differ from theirs
# (sklearn for scikit-learn), Python's own `test` (not in sys.stdlib_module_names) and
# this layout's folders.
TAKEN = {
    *("sklearn", "yaml", "ruamel", "hydra", "xgboost", "material", "xdist", "git", "google"),
    *("test", "tests", "tools", "src"),
}
BIGGEST_TEXT = 2_000_000  # bytes: uv.lock is ~0.7 MB; bigger files are data


def main(answers_file: str) -> int:
    root = Path.cwd()
    answers = yaml.safe_load((root / answers_file).read_text(encoding="utf-8"))
    package, slug = answers["package_name"], answers["project_slug"]
    renamed = package != PACKAGE or slug != SLUG
    refuse_taken_name(root, package)
    readme = (root / "README.md").read_text(encoding="utf-8")
    described(readme, answers, renamed)  # a README it cannot adopt stops it before any change
    changed = []
    if renamed:
        rename_paths(root, PACKAGE, package)
        changed = replace_text(root, {PACKAGE: package, SLUG: slug}, keep={root / answers_file})
        widen_line_limit(root / "pyproject.toml", package)
    describe(root, answers, renamed)
    write_license(root, answers["license"], answers["author"])
    if answers.get("data") == "file":
        use_own_data(root, answers["data_path"], answers["data_target"], answers.get("data_id"))
        set_card(root, answers["description"], answers["author"])
    if answers.get("tracking_uri"):
        set_line(root / "conf/tracking/default.yaml", "uri", _scalar(answers["tracking_uri"]))
    format_python(root, [p for p in changed if p.suffix == ".py"])
    shutil.rmtree(LICENSES, ignore_errors=True)
    Path(__file__).unlink(missing_ok=True)
    return 0


def _walk(root: Path):
    for path in sorted(root.iterdir()):
        if path.name in SKIPPED or path.relative_to(root).as_posix() in {".dvc/cache", ".dvc/tmp"}:
            continue
        if path.is_dir() and not path.is_symlink():
            yield from _walk(path)
        elif path.is_file():
            yield path


def refuse_taken_name(root: Path, package: str) -> None:
    """A package named as a standard-library module or a dependency's (json, test, mlflow)
    would be shadowed by it, or shadow it: `python -m json` runs the standard library's."""
    if package in {*sys.stdlib_module_names, *TAKEN, *_distributions(root / "pyproject.toml")}:
        raise SystemExit(
            f"package_name {package!r} is already a Python module's (the standard library's, "
            "a dependency's or this layout's): choose another, e.g. with a prefix of your own"
        )


def _distributions(pyproject: Path) -> set[str]:
    """The names of the distributions pyproject.toml requires and uv.lock installs, as
    import names would be."""
    try:
        import tomllib
    except ImportError:  # copier's Python before 3.11: the standard library's names only
        return set()
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    groups = [
        project["project"].get("dependencies", []),
        *project["project"].get("optional-dependencies", {}).values(),
        *project.get("dependency-groups", {}).values(),
    ]
    found = (re.match(r"[A-Za-z0-9_.-]+", r) for g in groups for r in g if isinstance(r, str))
    names = {m.group(0) for m in found if m}
    lock = pyproject.with_name("uv.lock")  # every distribution installed, theirs too (joblib)
    if lock.is_file():
        installed = tomllib.loads(lock.read_text(encoding="utf-8"))["package"]
        # Not the project itself (editable): its own package is the one being named.
        names |= {p["name"] for p in installed if "editable" not in p.get("source", {})}
    return {name.lower().replace("-", "_").replace(".", "_") for name in names}


def renaming(names: dict[str, str]):
    """A function that gives text its new names. A new name holding an old one
    (mlops_template_churn) is left as it is, so a second run (`copier update` renames the
    template's files again, beside the project's) changes nothing."""
    # Longest first: where an old and a new name both match, the longer one is the name.
    pattern = re.compile("|".join(map(re.escape, sorted({*names, *names.values()}, key=len)[::-1])))
    return lambda text: pattern.sub(lambda m: names.get(m.group(0), m.group(0)), text)


def rename_paths(root: Path, old: str, new: str) -> None:
    """Files and folders named after the package take the new name. At `copier update` the
    new folder exists already (the project's): the template's files are moved into it."""
    rename = renaming({old: new})
    moved = {}
    for path in _walk(root):
        relative = path.relative_to(root).as_posix()
        if (target := rename(relative)) != relative:
            moved[path] = root / target
    for path, target in moved.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        path.replace(target)
    folders = {d for p in moved for d in p.parents if rename(d.name) != d.name}
    for folder in sorted(folders, key=lambda d: len(d.parts), reverse=True):  # deepest first
        if folder.exists() and not any(f.is_file() for f in folder.rglob("*")):
            shutil.rmtree(folder)


def replace_text(root: Path, names: dict[str, str], keep: set[Path] = frozenset()) -> list[Path]:
    """The names replaced in every text file but `keep` (copier's answers, which hold the
    project's own names as given); the files changed."""
    rename = renaming(names)
    changed_files = []
    for path in _walk(root):
        if path in keep or path.stat().st_size > BIGGEST_TEXT:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        changed = rename(text)
        if changed != text:
            path.write_text(changed, encoding="utf-8")
            changed_files.append(path)
    return changed_files


def widen_line_limit(pyproject: Path, package: str) -> None:
    """The template's lines fit ruff's 100 columns with its own package's name; a longer
    name (twice on some lines) lengthens strings and comments the formatter cannot split,
    so their limit (E501's) grows by twice the difference."""
    extra = 2 * (len(package) - len(PACKAGE))
    text = pyproject.read_text(encoding="utf-8")
    if extra <= 0 or "[tool.ruff.lint.pycodestyle]" in text:
        return
    pyproject.write_text(
        text + "\n[tool.ruff.lint.pycodestyle]\n# The package's longer name in strings and "
        f"comments (tools/adopt.py).\nmax-line-length = {100 + extra}\n",
        encoding="utf-8",
    )


def format_python(root: Path, files: list[Path]) -> None:
    """The renamed Python files formatted as the project's ruff formats them: a name of
    another length wraps lines otherwise, and `make test` (pre-commit) would fail on a
    fresh project. ruff from copier's Python or the PATH; without it, said."""
    if not files:
        return
    if importlib.util.find_spec("ruff") is not None:
        ruff = [sys.executable, "-m", "ruff"]
    else:
        ruff = [found] if (found := shutil.which("ruff")) else []
    command = [*ruff, "format", "--quiet", *map(str, files)]
    if not ruff or subprocess.run(command, cwd=root, check=False).returncode:
        print(  # another ruff than the project's may fail: the adoption goes on
            "note: the renamed Python files are not formatted (ruff "
            f"{'failed' if ruff else 'is not installed where copier runs'}): run `make format` "
            "once in the project (their lines wrap otherwise) before its first commit",
            file=sys.stderr,
        )


def describe(root: Path, answers: dict, renamed: bool) -> None:
    """pyproject.toml's description; the README's title, opening and license line, the
    template's own section on starting a project replaced by one on taking its updates."""
    description = answers["description"]
    if description != DESCRIPTION:
        pyproject = root / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        line = f"description = {_toml_string(description)}"
        pyproject.write_text(re.sub(r"(?m)^description = .*$", lambda _: line, text, count=1))
    readme = root / "README.md"
    text = described(readme.read_text(encoding="utf-8"), answers, renamed)
    if text is not None:
        readme.write_text(text, encoding="utf-8")


def described(readme: str, answers: dict, renamed: bool) -> str | None:
    """The README made the project's (None: the template's own, as it is)."""
    name, description, license = answers["project_name"], answers["description"], answers["license"]
    if not (renamed or description != DESCRIPTION or license != LICENSE):
        return None
    _, text = readme.split("\n", 1)
    text = _sub(
        text,
        r"A reproducible DVC \+ MLflow project template for tabular data\. On a fresh machine "
        r"with\nPython 3\.11\+ and make:",
        "A DVC + MLflow project. On a fresh machine with Python 3.11+ and make:",
        "the opening sentence",
    )
    if answers.get("data") == "file":
        data = f"`{answers['data_path']}` (conf/data/project.yaml), writes"
        text = _sub(text, r"the bundled demo data \(.*?\), writes", data, "the data", re.S)
        text = _sub(
            text,
            r"\(dvc repro\) on the bundled data",
            "(dvc repro) on the project's data",
            "make run",
        )
    text = _sub(
        text, r"^## A project of your own\n.*?(?=^## )", UPDATES, "its section", re.M | re.S
    )
    license_line = f"License: {license} ([LICENSE](LICENSE))."
    text = _sub(
        text,
        r"^\[CHANGELOG\.md\]\(CHANGELOG\.md\) lists what changed;.*$",
        license_line,
        "the CHANGELOG line",
        re.M,
    )
    return f"# {name}\n\n{description}\n{text}"


def _sub(text: str, pattern: str, replacement: str, what: str, flags: int = 0) -> str:
    """`pattern`'s one match replaced; a README whose wording moved on stops the task."""
    changed, found = re.subn(pattern, lambda _: replacement, text, count=1, flags=flags)
    if not found:
        raise SystemExit(f"README.md: {what} is not as tools/adopt.py expects; update describe()")
    return changed


def write_license(root: Path, license: str, author: str) -> None:
    if license == LICENSE and author == AUTHOR:
        return  # the template's own LICENSE
    year = datetime.date.today().year
    if license == "Proprietary":
        text = f"Copyright (c) {year} {author}. All rights reserved.\n"
    else:
        text = (LICENSES / f"{license}.txt").read_text(encoding="utf-8")
        text = text.replace("{year}", str(year)).replace("{holder}", author)
    (root / "LICENSE").write_text(text, encoding="utf-8")


def use_own_data(root: Path, path: str, target: str, id_column: str | None) -> None:
    """conf/data/project.yaml reads the file as data=csv or data=parquet do; the config
    chooses it; the ID column, if any, is its id_column: the split key, never a feature,
    and copied into every scored row. (The example's pipeline outputs, which describe
    other data, are not copied: copier.yml's _exclude.)"""
    kind = "parquet" if path.lower().endswith(".parquet") else "csv"
    id_line = f"id_column: {_scalar(id_column)}\n" if id_column else ""
    (root / "conf/data/project.yaml").write_text(
        "# The project's own data (chosen at `copier copy`): change it here, then `make run`.\n"
        f"# Reading settings as in {kind}.yaml.\n"
        f"defaults:\n  - {kind}\n  - _self_\n\n"
        f"path: {_scalar(path)}\ntarget: {_scalar(target)}\n{id_line}",
        encoding="utf-8",
    )
    config = root / "conf/config.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(re.sub(r"(?m)^  - data: .*$", "  - data: project", text, count=1))


def set_card(root: Path, description: str, owner: str) -> None:
    """The model card's own words for the project's own data (registry.card, the last
    block of its file): its description (unless the template's) and author; limitations
    left for the team."""
    path = root / "conf/registry/default.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("\ncard:") + 1
    intended_use = UNWRITTEN_USE if description == DESCRIPTION else description
    card = {"intended_use": intended_use, "owner": owner, "limitations": ""}
    block = "card:\n" + "".join(_card_entry(key, value) for key, value in card.items())
    path.write_text(text[:start] + block, encoding="utf-8")


def _card_entry(key: str, text: str) -> str:
    """`  key: text`, a long text folded (`>-`) at 88 columns as conf/ writes it, where it
    reads back the same; else on one line. (A quoted text wrapped over lines, as PyYAML
    writes it, is one line again after any `params set` to the file.)"""
    lines = textwrap.wrap(text, width=84, break_long_words=False, break_on_hyphens=False)
    folded = f"  {key}: >-\n" + "".join(f"    {line}\n" for line in lines)
    if len(lines) > 1 and yaml.safe_load(folded) == {key: text}:
        return folded
    return f"  {key}: {_scalar(text)}\n"


def set_line(path: Path, key: str, value: str) -> None:
    """A top-level `key: value` line of a YAML file set, its comments kept."""
    text = path.read_text(encoding="utf-8")
    changed, found = re.subn(rf"(?m)^{key}:.*$", lambda _: f"{key}: {value}", text, count=1)
    if not found:
        raise SystemExit(f"{path}: no top-level '{key}:' line to set")
    path.write_text(changed, encoding="utf-8")


def _scalar(value: str) -> str:
    """A YAML scalar for a value, on one line (quoted when it needs to be; with a line
    break in it, as JSON writes it: JSON's escapes are YAML's)."""
    dumped = yaml.safe_dump(value, width=float("inf"), allow_unicode=True)
    dumped = dumped.removesuffix("\n...\n").strip()
    return json.dumps(value, ensure_ascii=False) if "\n" in dumped else dumped


def _toml_string(value: str) -> str:
    """A TOML basic string: JSON's escapes are TOML's (a description may hold a line break)."""
    return json.dumps(value, ensure_ascii=False)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
