"""One thin module per DVC stage (and MLproject entry point).

A module here is a stage: `python -m mlops_template <name>` runs its `run(cfg)`.
"""

from __future__ import annotations

import ast
from pathlib import Path

# Modules here that are not stages.
NOT_STAGES = {"runner"}


def stage_names(folder: Path = Path(__file__).parent) -> set[str]:
    """The stages, by their modules' names (without reading them: the stage process's
    first step, see stage_client.py)."""
    return {
        path.stem
        for path in folder.glob("*.py")
        if not path.stem.startswith("_") and path.stem not in NOT_STAGES
    }


def summaries(folder: Path = Path(__file__).parent) -> dict[str, str]:
    """Stage name -> what it does: the modules of the stages package and the first line
    of their docstrings ('train: fit ...'), read without importing them (they are slow)."""
    found = {}
    for name in sorted(stage_names(folder)):
        path = folder / f"{name}.py"
        doc = ast.get_docstring(parsed(path)) or ""
        found[path.stem] = (
            doc.splitlines()[0].removeprefix(f"{path.stem}:").strip(" .") if doc else ""
        )
    return found


def parsed(path: Path) -> ast.Module:
    """A module's syntax tree, read without importing it; one that does not parse (a merge
    conflict left in it) is named by file and line, not with a traceback."""
    text = path.read_text(encoding="utf-8")
    try:
        return ast.parse(text, filename=str(path))
    except SyntaxError as err:
        from mlops_template.errors import CONFLICT, PipelineError, conflict_line

        if line := conflict_line(text):
            raise PipelineError(f"{path}, line {line}: {CONFLICT}") from None
        raise PipelineError(f"{path}, line {err.lineno}: {err.msg}") from None
