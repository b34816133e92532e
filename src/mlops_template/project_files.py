"""dvc.yaml and MLproject must describe the same stages: same names, same commands."""

from __future__ import annotations

from pathlib import Path

import yaml

# What MLproject adds to a stage's command: the Hydra overrides parameter.
OVERRIDES_SUFFIX = " {overrides}"


def entry_point_mismatches(root: Path) -> list[str]:
    """One line per DVC stage whose MLproject entry point is missing or runs something else."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    entry_points = yaml.safe_load((root / "MLproject").read_text(encoding="utf-8"))["entry_points"]
    problems = []
    for name, stage in stages.items():
        if name not in entry_points:
            problems.append(f"dvc.yaml stage '{name}' has no MLproject entry point")
            continue
        command = entry_points[name]["command"]
        expected = stage["cmd"] + OVERRIDES_SUFFIX
        if command != expected:
            problems.append(
                f"MLproject entry point '{name}' runs {command!r}; dvc.yaml runs "
                f"{stage['cmd']!r} (expected {expected!r})"
            )
    if "main" not in entry_points:
        problems.append("MLproject has no 'main' entry point")
    return problems
