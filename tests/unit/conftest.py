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
