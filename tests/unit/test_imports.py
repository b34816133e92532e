"""No import cycles, between modules or between the package's parts (config, core, io,
...), counting lazy imports and those made for type checking only."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import pytest

from mlops_template.project_files import import_graph

from .conftest import REPO

GRAPH = import_graph(REPO)


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        return err.args[1]
    return []


def _part(module: str) -> str:
    """mlops_template.core.split -> mlops_template.core; mlops_template.config stays."""
    return ".".join(module.split(".")[:2])


def test_the_graph_is_read_from_the_imports():
    assert "mlops_template.operate.scoring_job" in GRAPH["mlops_template.operate.spark_predict"]
    assert "mlops_template.config" in GRAPH["mlops_template.core.split"]


def test_no_cycle_between_modules():
    assert _cycle(GRAPH) == []


def test_no_cycle_between_parts():
    parts: dict[str, set[str]] = {}
    for module, imported in GRAPH.items():
        parts.setdefault(_part(module), set()).update(
            _part(name) for name in imported if _part(name) != _part(module)
        )
    assert _cycle(parts) == []


@pytest.mark.parametrize("graph", [{"a": {"b"}, "b": {"a"}}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}])
def test_a_cycle_is_found(graph):
    assert set(_cycle(graph)) == set(graph)
