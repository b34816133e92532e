"""dvc.yaml is the one place a stage is written: its name, command, params and outputs.

The rest is derived, so nothing is kept in step by hand:
* a stage's code is `mlops_template/stages/<name>.py`; the CLI lists those modules;
* the params a stage logs to MLflow are read from dvc.yaml when it runs (stages.runner);
* a stage's code deps (the `src/` entries in dvc.yaml) are every module of the package
  it runs, found from the imports, and MLproject has an entry point per stage.
`python -m mlops_template project write` writes the last two; `project check` fails when
dvc.yaml, MLproject or the code have drifted apart (pre-commit and CI run it).
"""

from __future__ import annotations

import ast
import difflib
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mlops_template.errors import PipelineError
from mlops_template.stages import parsed, summaries

PACKAGE = "mlops_template"
SOURCE = f"src/{PACKAGE}"
RUNNER = f"{PACKAGE}.stages.runner"
# `python -m mlops_template <stage>` runs these first (cli_operate: cli's operate commands);
# only their module-level imports belong to a stage (their functions import what the other
# commands need).
DISPATCH = (f"{PACKAGE}.__main__", f"{PACKAGE}.cli", f"{PACKAGE}.cli_operate")
# What MLproject adds to a stage's command: the Hydra overrides parameter.
OVERRIDES_SUFFIX = " {overrides}"


def stage_command(name: str) -> str:
    return f"python -m {PACKAGE} {name}"


def stage_modules(root: Path) -> list[str]:
    return list(summaries(root / SOURCE / "stages"))


def _module_file(root: Path, module: str) -> Path | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = root / "src" / Path(*parts)
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def runs_code(tree: ast.Module) -> bool:
    """False for a module that is only a docstring (most packages' __init__.py)."""
    return not all(
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in tree.body
    )


def _import_nodes(
    tree: ast.Module, nested: bool, typing: bool = False
) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run: inside functions too when nested (a lazy import runs
    when the function does); those under `if TYPE_CHECKING:` only when typing."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.body if typing else node.orelse)
        elif nested or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            todo.extend(ast.iter_child_nodes(node))


def _imported(module: str, node: ast.Import | ast.ImportFrom, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: from the module's package, one level up per extra dot
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    # `from pkg import name` imports pkg, and pkg.name when that is a module.
    return [base, *(f"{base}.{alias.name}" for alias in node.names)]


def code_deps(root: Path, stage: str) -> list[str]:
    """Every file of the package that `python -m mlops_template <stage>` runs, found from
    the imports (directly or not), as paths relative to the project root."""
    found: set[Path] = set()
    todo = [(module, False) for module in DISPATCH]
    todo += [(RUNNER, True), (f"{PACKAGE}.stages.{stage}", True)]
    seen: set[str] = set()
    while todo:
        module, nested = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(root, module)
        if path is None:
            continue
        parts = module.split(".")
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        todo += [(".".join(parts[:i]), True) for i in range(1, len(parts))]
        tree = parsed(path)
        if runs_code(tree):
            found.add(path)
        is_package = path.name == "__init__.py"
        for node in _import_nodes(tree, nested):
            todo += [(name, True) for name in _imported(module, node, is_package)]
    return sorted(path.relative_to(root).as_posix() for path in found)


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the package's modules it imports anywhere, for type checking too."""
    graph = {}
    for path in sorted((root / SOURCE).rglob("*.py")):
        rel = path.relative_to(root / "src").with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        module = ".".join(parts)
        tree = parsed(path)
        names = {
            name
            for node in _import_nodes(tree, nested=True, typing=True)
            for name in _imported(module, node, path.name == "__init__.py")
        }
        graph[module] = {
            name for name in names if name != module and _module_file(root, name) is not None
        }
    return graph


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round trip: comments and layout are kept
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    return yaml


def _dump(yaml: Any, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _is_code(dep: Any) -> bool:
    return isinstance(dep, str) and dep.startswith(f"{SOURCE}/")


def dvc_yaml_text(root: Path) -> str:
    """dvc.yaml with each stage's code deps as the imports say (data deps kept, after)."""
    from ruamel.yaml.comments import CommentedSeq

    yaml = _yaml()
    dvc = yaml.load((root / "dvc.yaml").read_text(encoding="utf-8"))
    modules = stage_modules(root)  # parsed once, not once per stage
    for name, stage in dvc["stages"].items():
        code = code_deps(root, name) if name in modules else []
        others = [dep for dep in stage.get("deps", []) if not _is_code(dep)]
        if "deps" not in stage:
            if not code:
                continue
            stage.insert(1, "deps", CommentedSeq())
        deps = stage["deps"]
        deps.ca.items.clear()  # a comment on a replaced entry would land on another
        del deps[:]
        deps.extend([*code, *others])
    return _dump(yaml, dvc)


def _entry_point(command: str) -> Any:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString as Quoted

    overrides = CommentedMap(type="string", default=Quoted(""))
    overrides.fa.set_flow_style()
    return CommentedMap(
        parameters=CommentedMap(overrides=overrides), command=Quoted(command + OVERRIDES_SUFFIX)
    )


def _runs_a_stage(entry: Any) -> bool:
    command = str(entry.get("command", ""))
    return command.startswith(f"python -m {PACKAGE} ") and command.endswith(OVERRIDES_SUFFIX)


def mlproject_text(root: Path) -> str:
    """MLproject with an entry point per dvc.yaml stage, running the stage's command with
    the Hydra overrides; other entry points (main, promote, ...) are left as written."""
    yaml = _yaml()
    stages = yaml.load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    project = yaml.load((root / "MLproject").read_text(encoding="utf-8"))
    entries = project["entry_points"]
    for name in [n for n, e in entries.items() if n != "main" and _runs_a_stage(e)]:
        if name not in stages:  # a stage removed from dvc.yaml
            del entries[name]
    position = list(entries).index("main") + 1 if "main" in entries else 0
    for name, stage in stages.items():
        wanted = _entry_point(stage["cmd"])
        if name in entries:
            if _plain(entries[name]) != _plain(wanted):
                entries[name] = wanted
            position = list(entries).index(name) + 1
        else:
            entries.insert(position, name, wanted)
            position += 1
    return _dump(yaml, project)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def stage_problems(root: Path) -> list[str]:
    """What cannot be generated: each dvc.yaml stage runs its own stage module."""
    stages = _yaml().load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    modules = stage_modules(root)
    problems = [
        f"dvc.yaml stage '{name}' has no module {SOURCE}/stages/{name}.py"
        for name in stages
        if name not in modules
    ]
    problems += [
        f"dvc.yaml stage '{name}' runs {stage['cmd']!r}; expected {stage_command(name)!r}"
        for name, stage in stages.items()
        if stage["cmd"] != stage_command(name)
    ]
    problems += [
        f"{SOURCE}/stages/{name}.py is not a stage in dvc.yaml"
        for name in modules
        if name not in stages
    ]
    return problems


def generated(root: Path) -> dict[str, str]:
    return {"dvc.yaml": dvc_yaml_text(root), "MLproject": mlproject_text(root)}


def drift(root: Path) -> str:
    """A unified diff of each generated file against what it should be ('' if none)."""
    out = []
    for name, text in generated(root).items():
        current = (root / name).read_text(encoding="utf-8")
        out += difflib.unified_diff(
            current.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"{name} (on disk)",
            f"{name} (derived from dvc.yaml and the imports)",
        )
    return "".join(out)


def command(root: Path, action: str) -> int:
    """`project write` writes the derived files; `project check` fails if they drifted."""
    from mlops_template.io.atomic import write_text

    if problems := stage_problems(root):
        raise PipelineError("\n".join(problems))
    if action == "write":
        for name, text in generated(root).items():
            if (root / name).read_text(encoding="utf-8") != text:
                write_text(root / name, text)
                print(f"wrote {name}")
        return 0
    if diff := drift(root):
        sys.stdout.write(diff)
        raise PipelineError(
            "dvc.yaml's code deps or MLproject's entry points are not what dvc.yaml and the "
            "imports say (run `make project` and commit the result)"
        )
    print("dvc.yaml code deps and MLproject entry points match the stages and their imports")
    return 0
