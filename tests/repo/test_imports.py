"""No import cycles, between modules or between the package's parts (config, core, io,
...), and no import against the layer order (a part imports only parts below it),
counting lazy imports and those made for type checking only."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import pytest

from mlops_template.project_files import import_graph
from tests.helpers.template import REPO

GRAPH = import_graph(REPO)


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as err:
        return err.args[1]
    return []


def _part(module: str) -> str:
    """<package>.core.split -> <package>.core; <package>.config stays."""
    return ".".join(module.split(".")[:2])


def test_the_graph_is_read_from_the_imports():
    assert (
        "mlops_template.operate.batch.scoring_job"
        in GRAPH["mlops_template.operate.batch.spark_predict"]
    )
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


# Lowest first. A part imports parts of lower layers only; the parts of one layer do not
# import each other. Monitoring sits above batch scoring: ct scores a batch with `predict`.
LAYERS = [
    ["blas_kernel"],  # the package's __init__ runs it before anything loads numpy
    # and constants
    [
        "mlops_template",
        "operate",
        "errors",
        "metric_names",
        "stage_client",
        "stop_signals",
        "synced_env",
    ],
    ["stage_server_control"],  # `stage-server status|stop`, over stage_client's socket
    ["config"],
    ["core"],
    ["io"],
    ["compose"],  # params.yaml from conf/: check_params refuses a stale one
    ["conf_edits"],  # overrides written into conf/ (`params set`, ct's tries, exp best)
    ["error_report", "stages", "release", "experiments"],  # experiments: `exp best`, `tune keep`
    ["operate.batch", "operate.serving"],
    ["operate.monitoring"],
    ["project_files", "cli_operate"],  # cli_operate: the operate commands of cli
    ["cli"],
    ["stage_child"],  # a fork of the stage server becomes the stage process: runs the CLI
    ["stage_server"],  # runs the CLI in a fork of a warm process
    ["__main__"],
]
LAYER = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
# In a project made from the template, a top-level module of its own (not listed above)
# is the top layer: it may import any part (its own modules too), and no part of the
# template's imports it.
# (Listing it in LAYERS would conflict at every `copier update` that changes the list.)
OWN = len(LAYERS)
TEMPLATE = (REPO / "copier.yml").exists()


def _layered_part(module: str) -> str:
    """<package>.operate.batch.predict -> operate.batch; <package>.io.x -> io."""
    names = module.split(".")[1:]
    return ".".join(names[:2]) if names[:1] == ["operate"] else (names or ["mlops_template"])[0]


def _against_the_layers(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{module} -> {name}"
        for module, imported in graph.items()
        for name in imported
        if _layered_part(name) != _layered_part(module)
        and _rank(_layered_part(module)) <= _rank(_layered_part(name))
        and {_layered_part(module), _layered_part(name)} & set(LAYER)  # a project's own: free
    )


def _rank(part: str) -> int:
    return LAYER.get(part, OWN)


@pytest.mark.skipif(not TEMPLATE, reason="a project's own modules are the top layer (OWN)")
def test_every_part_of_the_template_has_a_layer():
    assert {_layered_part(m) for m in GRAPH} - set(LAYER) == set()


def test_imports_follow_the_layers():
    assert _against_the_layers(GRAPH) == [], (
        "a part imports one of its own layer or above (LAYERS); a module of the project's "
        "own outside LAYERS is the top layer: what other parts import goes in core/ or io/"
    )


def test_a_projects_own_module_is_the_top_layer():
    """A team's `team_utils.py` beside cli.py failed the project's own `make test-fast`
    ("every part has a layer"); it may import any part, and none may import it."""
    own = "mlops_template.team_utils"
    assert _against_the_layers({own: {"mlops_template.cli", "mlops_template.io.atomic"}}) == []
    assert _against_the_layers({"mlops_template.io.atomic": {own}}) == [
        f"mlops_template.io.atomic -> {own}"
    ]
    assert _against_the_layers({own: {"mlops_template.team_features"}}) == []  # two of its own


@pytest.mark.parametrize(
    "edge",
    [
        ("mlops_template.core.split", "mlops_template.io.atomic"),  # downwards
        ("mlops_template.stages.train", "mlops_template.release.promote"),  # sideways
        ("mlops_template.operate.serving.serve", "mlops_template.operate.batch.predict"),
    ],
)
def test_an_import_against_the_layers_is_found(edge):
    module, name = edge
    assert _against_the_layers({module: {name}}) == [f"{module} -> {name}"]


@pytest.mark.parametrize("graph", [{"a": {"b"}, "b": {"a"}}, {"a": {"b"}, "b": {"c"}, "c": {"a"}}])
def test_a_cycle_is_found(graph):
    assert set(_cycle(graph)) == set(graph)
