"""`make help` prints each target's text as written: no make variables left in it."""

from __future__ import annotations

import re

from tests.helpers.template import REPO


def test_help_texts_have_no_unexpanded_variables():
    lines = (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
    helps = [line.split("## ", 1)[1] for line in lines if re.match(r"^[a-z-]+:.*## ", line)]
    assert len(helps) > 20
    assert [text for text in helps if "$(" in text] == []
