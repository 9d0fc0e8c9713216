"""The layers of docs/architecture.md hold: no module imports a layer above its own.

The graph is read from the source with ``ast`` by ``scripts/import_graph.py`` (imports inside
functions count: a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _graph():
    spec = importlib.util.spec_from_file_location("_import_graph", ROOT / "scripts" / "import_graph.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


graph = _graph()


def test_every_module_belongs_to_a_layer():
    for path in sorted(graph.PACKAGE.rglob("*.py")):
        assert graph.layer(graph.module_name(path)) in graph.LAYERS


def test_no_layer_imports_a_layer_above_it():
    up = graph.upward_imports()
    assert not up, "upward imports (see docs/architecture.md):\n" + "\n".join(up)


def test_no_private_module_or_name_is_imported_from_another_layer():
    bad = graph.private_crossings()
    assert not bad, "\n".join(bad)


def test_the_check_can_fail():
    """With the order reversed, the same graph has upward imports: the test above is not vacuous."""
    order = graph.LAYERS[:]
    try:
        graph.LAYERS[:] = order[::-1]
        assert len(graph.upward_imports()) > 50
    finally:
        graph.LAYERS[:] = order
    assert graph.layer("policyeval.data.simulate") == "simulator"
    assert graph.layer("policyeval.inference.covariance") == "machinery"
    assert graph.layer("policyeval.inference.wild_bootstrap") == "inference"


def test_estimators_do_not_import_scale_and_scale_calls_no_private_method():
    """The out-of-core layer sits above the estimators and uses only their public names."""
    edges = graph.module_edges()
    assert not [e for e in edges if graph.layer(e[0]) == "estimators" and graph.layer(e[1]) == "scale"]
    calls = []
    for path in sorted((graph.PACKAGE / "scale").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                    and node.attr != "_meta"  # dask's documented empty-frame attribute
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                calls.append(f"{path.name}:{node.lineno} .{node.attr}")
    assert not calls, calls


def test_result_classes_live_in_the_results_layer():
    """Every result class the estimators export is defined under policyeval.results (issue 12)."""
    import policyeval.estimators as estimators

    homes = {name: getattr(estimators, name).__module__ for name in estimators.__all__
             if name.endswith("Result")}
    assert len(homes) >= 15, homes
    assert not {n: m for n, m in homes.items() if graph.layer(m) != "results"}, homes


def test_architecture_doc_shows_the_current_layer_graph():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    start, end = "<!-- import-graph:start -->", "<!-- import-graph:end -->"
    table = doc[doc.index(start) + len(start):doc.index(end)]

    def pairs(text):
        out = set()
        for line in text.splitlines():
            m = re.match(r"\| \*\*(\w+)\*\* \|(.*)\|$", line)
            if m:
                cells = [c.strip() for c in m.group(2).split("|")]
                out |= {(m.group(1), graph.LAYERS[i]) for i, c in enumerate(cells) if c not in ("", "·")}
        return out

    assert pairs(table) == pairs(graph.markdown()), (
        "docs/architecture.md is out of date: run `python scripts/import_graph.py` and paste its table")


@pytest.mark.parametrize("layer", ["data", "design", "estimators", "inference", "results", "plots",
                                   "reporting", "assess", "scale"])
def test_architecture_doc_describes_every_layer(layer):
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert f"`{layer}`" in doc
