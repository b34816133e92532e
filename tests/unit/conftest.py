"""Helpers for the unit tests (the `params` fixture is in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from tests.helpers.template import REPO  # noqa: F401 (the unit tests' `from .conftest import REPO`)


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
