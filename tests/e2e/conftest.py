"""Fixtures shared by the end-to-end tests that act on a promoted champion."""

from __future__ import annotations

import pytest

from tests.conftest import Template


@pytest.fixture
def copy(served: Template, tmp_path) -> Template:
    """A copy of the template with its champion and tracking store, free to change."""
    return served.clone_to(tmp_path / "copy", with_store=True)
