"""Fixtures for the unit tests: the real composed config, loaded fresh for each test."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
_PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


@pytest.fixture
def params() -> dict[str, Any]:
    """A deep copy of the repo's params.yaml, free to mutate."""
    return copy.deepcopy(_PARAMS)


def training_schema(*columns: dict[str, Any], task: str = "classification", **target: Any):
    """A TrainingSchema from short column specs (name and kind; dtype and nullable
    defaulted) and the target's fields (name y, int64 unless given)."""
    from mlops_template.core.schema import TrainingSchema

    full = [
        {"dtype": "float64" if c["kind"] == "numeric" else "object", "nullable": True, **c}
        for c in columns
    ]
    labels = {"name": "y", "dtype": "int64", **target}
    return TrainingSchema.of({"task": task, "target": labels, "columns": full, "n_rows": 100})
