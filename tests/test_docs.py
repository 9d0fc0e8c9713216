"""The documentation: the Sphinx build is warning-free, and the translation table names real API.

The build needs the ``docs`` extra (Sphinx, numpydoc, myst-parser); without it that test skips
and says so. It took 35 s wall (8 s CPU) on the 2-core CI machine, under the 60 s budget for a
test in ``make test``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import policyeval as pe

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_sphinx_build_has_no_warnings(tmp_path):
    for module in ("sphinx", "numpydoc", "myst_parser"):
        pytest.importorskip(module, reason="the docs extra is not installed (pip install -e '.[docs]')")
    out = tmp_path / "html"
    run = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q", "-E",
         "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
        capture_output=True, text=True, timeout=600, env={**__import__("os").environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0 and not run.stderr.strip(), run.stderr[-5000:]
    api = (out / "api" / "estimators.html").read_text(encoding="utf-8")
    assert "policyeval.CallawaySantAnna" in api and "control_group" in api   # numpydoc rendered
    results = (out / "api" / "results.html").read_text(encoding="utf-8")
    assert "results_table" in results and "plot_estimates" in results
    assert "--control-group" in (out / "api" / "cli.html").read_text(encoding="utf-8")
    assert "csdid" in (out / "translation.html").read_text(encoding="utf-8")
    # every public name has its entry (the layer pages are generated from policyeval._LAZY)
    pages = "".join(p.read_text(encoding="utf-8") for p in (out / "api").glob("*.html"))
    missing = sorted(n for n in pe._LAZY if f'id="policyeval.{n}"' not in pages)
    assert not missing, missing


def test_translation_table_names_existing_policyeval_api():
    text = (DOCS / "translation.md").read_text(encoding="utf-8")
    names = set(re.findall(r"\bpe\.(\w+)", text))
    assert {"CallawaySantAnna", "results_table", "plot_estimates", "TWFE", "SunAbraham"} <= names
    missing = sorted(n for n in names if not hasattr(pe, n))
    assert not missing, f"docs/translation.md names policyeval objects that do not exist: {missing}"
    # the options it gives Callaway-Sant'Anna and its aggregation are real keywords
    import inspect

    init = inspect.signature(pe.CallawaySantAnna).parameters
    for option in re.findall(r"CallawaySantAnna\((\w+)=", text):
        assert option in init, option
    aggregate = inspect.signature(pe.results.GroupTimeResult.aggregate).parameters
    for kind in re.findall(r'aggregate\("(\w+)"', text):
        assert kind in ("simple", "dynamic", "group", "calendar", "att"), kind
    for option in re.findall(r'aggregate\("dynamic", (\w+)=', text):
        assert option in aggregate, option
