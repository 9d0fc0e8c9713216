"""Sphinx configuration: the API reference from numpydoc docstrings, the guides from docs/*.md.

Build with ``make docs`` (needs the ``docs`` extra: ``pip install -e .[docs]``); the build is
warning-free, checked by tests/test_docs.py (``-W``: a warning fails the build).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))
os.environ.setdefault("MPLBACKEND", "Agg")

import policyeval  # noqa: E402

project = "policyeval"
author = "policyeval developers"
release = version = policyeval.__version__
copyright = "policyeval developers, MIT licence"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "api/_*", "Thumbs.db", ".DS_Store"]

# numpydoc renders Parameters / Returns / Raises / Examples; members are listed by autodoc.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
autodoc_typehints = "none"            # the numpydoc "Parameters" section carries the types
autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "undoc-members": False}

# The guides are GitHub-flavoured Markdown: tables, $math$ and heading anchors.
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

html_theme = "alabaster"
html_title = f"policyeval {release}"
html_static_path: list[str] = []


def _write_cli_help(app):
    """The command line's --help, regenerated at every build (docs/api/_cli_help.txt, not tracked)."""
    from policyeval.cli import _build_parser

    parser = _build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["estimate"]
    os.environ["COLUMNS"] = "100"
    text = sub.format_help()
    path = os.path.join(app.srcdir, "api", "_cli_help.txt")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


# API pages: one per layer, listing every public name of ``policyeval`` (its lazy table), so a
# name added to the package is documented without editing the docs. Generated at every build
# (docs/api/<layer>.rst, not tracked).
_LAYERS = {
    "data": "Data: loaders, admin codes, registry, simulator",
    "design": "Design: treatment timing by role",
    "estimators": "Estimators",
    "inference": "Inference and tests",
    "assess": "Ex-ante assessment",
    "results": "Results, tables and figures",
}
_MORE = {  # public names of subpackages worth their own entry
    "results": ["policyeval.results.GroupTimeResult", "policyeval.results.AggregateResult",
                "policyeval.results.Summary", "policyeval.reporting.summary_latex",
                "policyeval.reporting.tables.latex_document", "policyeval.reporting.export_csv",
                "policyeval.plots.use_cjk_font", "policyeval.plots.apply_cjk_font",
                "policyeval.plots.label_simulated"],
}


def _layer(module: str) -> str:
    layer = module.split(".")[1]
    return "results" if layer in ("results", "plots", "reporting") else layer


def _write_api_pages(app):
    import importlib
    import inspect

    pages = {layer: [] for layer in _LAYERS}
    for name, module in policyeval._LAZY.items():
        pages.setdefault(_layer(module), []).append(f"policyeval.{name}")
    for layer, names in _MORE.items():
        pages[layer] += names
    for layer, names in pages.items():
        title = _LAYERS.get(layer, layer.capitalize())
        lines = [title, "=" * len(title), ""]
        for dotted in names:
            module, _, attr = dotted.rpartition(".")
            obj = getattr(importlib.import_module(module), attr)
            lines += [f".. {'autoclass' if inspect.isclass(obj) else 'autofunction'}:: {dotted}", ""]
        with open(os.path.join(app.srcdir, "api", f"{layer}.rst"), "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines))


def setup(app):
    app.connect("builder-inited", _write_cli_help)
    app.connect("builder-inited", _write_api_pages)
