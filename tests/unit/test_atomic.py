from __future__ import annotations

import pytest

from mlops_template.io.atomic import atomic_dir, atomic_path, write_json, write_text


def test_write_json_is_stable(tmp_path):
    a = write_json(tmp_path / "a.json", {"b": 1, "a": {"d": 2, "c": [3]}})
    b = write_json(tmp_path / "b.json", {"a": {"c": [3], "d": 2}, "b": 1})
    assert a.read_bytes() == b.read_bytes()
    assert (
        a.read_text() == '{\n  "a": {\n    "c": [\n      3\n    ],\n    "d": 2\n  },\n  "b": 1\n}\n'
    )


def test_write_text_creates_parents(tmp_path):
    path = write_text(tmp_path / "x" / "y" / "f.txt", "hi")
    assert path.read_text() == "hi"


def test_atomic_path_replaces_on_success(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
        assert target.read_text() == "old"
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_path_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_path_creates_nothing_on_error(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "f.txt"):
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_on_success(tmp_path):
    target = tmp_path / "plots"
    target.mkdir()
    (target / "stale.json").write_text("{}")
    with atomic_dir(target) as tmp:
        (tmp / "roc.json").write_text("[]")
    assert [p.name for p in target.iterdir()] == ["roc.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["plots"]


def test_atomic_dir_keeps_old_folder_on_error(tmp_path):
    target = tmp_path / "plots"
    target.mkdir()
    (target / "old.json").write_text("{}")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "new.json").write_text("[]")
        raise RuntimeError("boom")
    assert [p.name for p in target.iterdir()] == ["old.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["plots"]
