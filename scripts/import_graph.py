"""Print the import graph between policyeval's layers, read from the package's source (ast).

    python scripts/import_graph.py            # markdown: layer table, edges, upward imports
    python scripts/import_graph.py --modules  # every module -> module edge

Every ``import`` / ``from ... import`` of a ``policyeval`` module is counted, at module level
or inside a function (a lazy import is still a dependency). Strings (the lazy tables of
``__init__`` files, ``policyeval._out_of_core``) are not imports and are not counted.
``tests/test_architecture.py`` uses the same functions to forbid upward imports.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "policyeval"

#: Layers from bottom to top; a module may import its own layer and the layers below it.
#: ``core`` is the shared root (exceptions, argument validation, the out-of-core table). The
#: order is the order of *dependencies*, which differs from the order of work (data -> design ->
#: estimators -> inference -> results -> plots/reporting) in three places, each for a reason
#: given in docs/architecture.md: figures are drawn from duck-typed results, so ``plots`` sits
#: low; the machinery the estimators share (covariance, influence functions, bootstrap,
#: placebo arithmetic, treated-unit counts) sits below them while the tests run on fitted
#: results sit above; ``design`` builds samples and runs estimators on them (two_sided), so it
#: sits above the estimators, which know nothing of enclaves, and the simulator above design.
LAYERS = ["core", "data", "plots", "machinery", "results", "estimators", "inference", "design",
          "simulator", "reporting", "assess", "scale", "app"]
#: Sub-packages and modules -> layer (the longest matching prefix wins).
LAYER_OF = {
    "policyeval.exceptions": "core", "policyeval._validation": "core", "policyeval._out_of_core": "core",
    "policyeval._deprecation": "core",
    "policyeval.data": "data",
    "policyeval.plots": "plots",
    "policyeval.inference.covariance": "machinery", "policyeval.inference.influence": "machinery",
    "policyeval.inference.bootstrap": "machinery", "policyeval.inference.placebo": "machinery",
    "policyeval.inference.treated_counts": "machinery",
    "policyeval.inference.distributions": "machinery", "policyeval.inference._multiplier": "machinery",
    "policyeval.results": "results",
    "policyeval.estimators": "estimators",
    "policyeval.inference": "inference",
    "policyeval.design": "design",
    "policyeval.data.simulate": "simulator", "policyeval.data._simulate_roles": "simulator",
    "policyeval.data._simulate_truth": "simulator", "policyeval.data._simulate_calibration": "simulator",
    "policyeval.reporting": "reporting",
    "policyeval.assess": "assess",
    "policyeval.scale": "scale",
    "policyeval.cli": "app", "policyeval.demo": "app", "policyeval": "app",
}
#: Imports against the order that are known and accepted, (from module, to module) -> reason.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("policyeval.results.base", "policyeval.reporting.tables"):
        "Summary.as_latex renders with the one LaTeX table renderer of the reporting layer (imported "
        "when called, not at import time), so a result's own LaTeX and results_table look alike",
}
#: Private modules imported across layers that are accepted for now, (from, to) -> reason.
ALLOWED_PRIVATE: dict[tuple[str, str], str] = {
    ("policyeval.inference.wild_bootstrap", "policyeval.estimators._fixed_effects"):
        "rebuilds the TWFE design with the estimators' fixed-effect absorption (one implementation); "
        "to become a public module of the shared machinery",
}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> str:
    best = None
    for prefix, name in LAYER_OF.items():
        if module == prefix or module.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, name)
    if best is None:
        raise KeyError(f"{module} belongs to no layer; add it to LAYER_OF in scripts/import_graph.py")
    return best[1]


def imports(path: Path) -> list[tuple[str, int, list[str]]]:
    """(imported module, line, imported names) for every policyeval import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno, []) for a in node.names if a.name.split(".")[0] == "policyeval"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "policyeval":
                continue
            names = [a.name for a in node.names]
            # "from policyeval.scale import sufficient" imports a module, not a name
            subs = [n for n in names if (PACKAGE.parent / (target + "." + n).replace(".", "/")).with_suffix(".py").exists()
                    or (PACKAGE.parent / (target + "." + n).replace(".", "/") / "__init__.py").exists()]
            out += [(f"{target}.{n}", node.lineno, []) for n in subs]
            rest = [n for n in names if n not in subs]
            if rest or not subs:
                out.append((target, node.lineno, rest))
    return out


def module_edges() -> list[tuple[str, str, int, list[str]]]:
    edges = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = module_name(path)
        for target, line, names in imports(path):
            if target != src:
                edges.append((src, target, line, names))
    return edges


def layer_edges() -> dict[tuple[str, str], int]:
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for src, dst, _, _ in module_edges():
        a, b = layer(src), layer(dst)
        if a != b:
            counts[(a, b)] += 1
    return dict(counts)


def upward_imports() -> list[str]:
    """Imports from a layer to a higher one (not in ALLOWED_UPWARD), as readable lines."""
    bad = []
    for src, dst, line, _ in module_edges():
        a, b = layer(src), layer(dst)
        if LAYERS.index(b) > LAYERS.index(a) and (src, dst) not in ALLOWED_UPWARD:
            bad.append(f"{src} (line {line}) imports {dst}: {a} -> {b}")
    return bad


def private_crossings() -> list[str]:
    """A private module or name of another layer (``_x``) imported across layers."""
    bad = []
    for src, dst, line, names in module_edges():
        a, b = layer(src), layer(dst)
        if a == b or b == "core" or src.split(".")[:2] == dst.split(".")[:2]:
            continue  # a sub-package's private modules are its own business
        private_module = any(p.startswith("_") and p != "__init__" for p in dst.split(".")[1:])
        private_names = [n for n in names if n.startswith("_")]
        if (private_module or private_names) and (src, dst) not in ALLOWED_PRIVATE:
            what = dst + (f" ({', '.join(private_names)})" if private_names else "")
            bad.append(f"{src} (line {line}) imports private {what}: {a} -> {b}")
    return bad


def markdown() -> str:
    edges = layer_edges()
    lines = ["| from \\ to | " + " | ".join(LAYERS) + " |", "|---" * (len(LAYERS) + 1) + "|"]
    for a in LAYERS:
        row = [str(edges.get((a, b), "")) if a != b else "·" for b in LAYERS]
        lines.append(f"| **{a}** | " + " | ".join(row) + " |")
    up, priv = upward_imports(), private_crossings()
    lines += ["", f"Upward imports: {len(up)}." + ("" if not up else "\n\n" + "\n".join(f"- {u}" for u in up)),
              "", f"Private names or modules imported across layers: {len(priv)}."
              + ("" if not priv else "\n\n" + "\n".join(f"- {p}" for p in priv))]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if "--modules" in argv:
        for src, dst, line, names in module_edges():
            print(f"{src} -> {dst}" + (f" ({', '.join(names)})" if names else "") + f"  [line {line}]")
        return 0
    print(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
