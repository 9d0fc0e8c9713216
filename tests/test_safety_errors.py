"""One exception family, options checked again in fit(), and the command line (issue 10, part F)."""

from __future__ import annotations

import ast
import builtins
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import policyeval as pe
from policyeval import exceptions
from policyeval.cli import main
from policyeval.exceptions import ArgumentTypeError, ArgumentValueError, PolicyevalError

from test_safety_data import simulated_panel

PACKAGE = Path(pe.__file__).resolve().parent
ROOT = PACKAGE.parent

# builtin raises that are right as they are, each with its reason
ALLOWED = {
    ("cli.py", "SystemExit"): "the command line's exit status",
    ("demo.py", "SystemExit"): "the demo script's exit status",
    ("data/_simulate_truth.py", "AssertionError"): "internal invariant, not a user error",
    ("plots/fonts.py", "FileNotFoundError"): "a font file missing from an installed dependency "
                                             "(mplfonts), a packaging fault rather than bad input",
}


def _getattr_lines(tree) -> set[int]:
    """Lines of raises inside a ``__getattr__`` (PEP 562 and the data model require AttributeError)."""
    return {node.lineno for fn in ast.walk(tree)
            if isinstance(fn, ast.FunctionDef) and fn.name == "__getattr__"
            for node in ast.walk(fn) if isinstance(node, ast.Raise)}


def _builtin_raises():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        in_getattr = _getattr_lines(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            name = exc.id if isinstance(exc, ast.Name) else None
            obj = getattr(builtins, name, None) if name else None
            if name == "AttributeError" and node.lineno in in_getattr:
                continue
            if isinstance(obj, type) and issubclass(obj, BaseException):
                yield rel, node.lineno, name


def test_no_bare_builtin_raise_in_the_package():
    found = [(rel, line, name) for rel, line, name in _builtin_raises()
             if (rel, name) not in ALLOWED]
    assert not found, ("raise a policyeval.exceptions error (it keeps the builtin base) instead "
                       f"of a bare builtin: {found}")


def test_the_scan_finds_a_bare_raise(tmp_path, monkeypatch):
    # the scan itself can fail: a module with a bare ValueError is reported
    fake = tmp_path / "policyeval"
    fake.mkdir()
    (fake / "bad.py").write_text("def f():\n    raise ValueError('x')\n"
                                 "def __getattr__(name):\n    raise AttributeError(name)\n"
                                 "def g():\n    raise AttributeError('y')\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake)
    assert list(_builtin_raises()) == [("bad.py", 2, "ValueError"), ("bad.py", 6, "AttributeError")]


def test_every_package_error_also_subclasses_a_builtin():
    errors = [obj for _, obj in inspect.getmembers(exceptions, inspect.isclass)
              if issubclass(obj, PolicyevalError) and obj is not PolicyevalError]
    assert len(errors) >= 15
    for err in errors:
        assert any(issubclass(err, b) for b in (ValueError, TypeError, KeyError, ImportError,
                                                RuntimeError, OSError)), err
    assert issubclass(exceptions.UnknownTermError, KeyError)
    assert issubclass(exceptions.SolverError, RuntimeError)
    assert issubclass(exceptions.DataFileNotFoundError, FileNotFoundError)


# ------------------------------------------------------------------ options re-checked in fit()
KW = dict(yname="y", tname="year", idname="unit")


@pytest.fixture(scope="module")
def panel():
    return simulated_panel(n_units=40)


@pytest.mark.parametrize("make,attr,value,fit_kw,pattern", [
    (pe.CallawaySantAnna, "control_group", "bogus", {"gname": "first_treat"},
     r"control_group='bogus' must be 'never_treated' or 'not_yet_treated'"),
    (pe.CallawaySantAnna, "method", "ols", {"gname": "first_treat"},
     r"method='ols' must be one of 'dr', 'ipw', 'reg', 'dr_imp'"),
    (pe.CallawaySantAnna, "n_bootstrap", 5, {"gname": "first_treat"},
     r"n_bootstrap=5 is too few draws"),
    (pe.CallawaySantAnna, "trim_level", 0.2, {"gname": "first_treat"},
     r"trim_level=0.2 must lie in \(0.5, 1\]"),
    (pe.TWFE, "vcov", "robust", {"gname": "first_treat"},
     r"vcov='robust' must be one of 'iid', 'HC1' \(= 'hetero'\), 'HC2', 'CR1'"),
    (pe.EventStudy, "window", (3, -3), {"gname": "first_treat"},
     r"window=\(3, -3\) must be two integers \(first, last\) with first < last"),
    (pe.SunAbraham, "reference", "minus one", {"gname": "first_treat"},
     r"reference='minus one' must be an integer event time"),
])
def test_options_changed_after_construction_are_checked_in_fit(panel, make, attr, value, fit_kw,
                                                               pattern):
    est = make()
    setattr(est, attr, value)
    with pytest.raises(ArgumentValueError, match=pattern):
        est.fit(panel, **fit_kw, **KW)


def test_imputation_options_are_checked_in_fit(panel):
    est = pe.ImputationDiD()
    est.pretrend_vcov = "hc1"
    with pytest.raises(ArgumentTypeError, match="pretrend_vcov='hc1' must be 'cluster' or 'iid'"):
        est.fit(panel, gname="first_treat", **KW)


def test_synthetic_control_options_are_checked_in_fit():
    est = pe.SyntheticControl()
    est.v_method = "magic"
    with pytest.raises(ArgumentValueError, match="v_method='magic' must be one of"):
        est.fit(simulated_panel(n_units=8), yname="y", tname="year", idname="unit",
                treated_units=[100], treat_time=2005)


# ------------------------------------------------------------------ command line
@pytest.fixture
def panel_csv(tmp_path, panel):
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    return path


ARGS = ["--y", "y", "--id", "unit", "--time", "year", "--group", "first_treat"]


def test_cli_checks_out_before_estimating(panel_csv, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "taken"
    blocker.write_text("not a folder", encoding="utf-8")
    import policyeval.cli as cli

    monkeypatch.setattr(cli, "_estimate", lambda args: pytest.fail("estimated before --out check"))
    code = main(["estimate", str(panel_csv), *ARGS, "--out", str(blocker / "results")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == (f"policyeval: error: --out {str(blocker / 'results')!r} cannot be created: "
                   f"{str(blocker)!r} is a file\n")


def test_cli_out_that_is_a_file(panel_csv, tmp_path, capsys):
    blocker = tmp_path / "taken.txt"
    blocker.write_text("x", encoding="utf-8")
    assert main(["estimate", str(panel_csv), *ARGS, "--out", str(blocker)]) == 2
    assert capsys.readouterr().err.strip().endswith("is a file, not a folder")


def test_cli_bad_data_exits_2_with_one_line_and_no_traceback(panel, tmp_path):
    bad = panel.astype({"y": object})
    bad.loc[bad.unit == 105, "y"] = "1e309"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    run = subprocess.run([sys.executable, "-m", "policyeval.cli", "estimate", str(path), *ARGS,
                          "--out", str(tmp_path / "out")], capture_output=True, text=True,
                         cwd=ROOT, env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
                                        "PATH": "/usr/bin:/bin"})
    assert run.returncode == 2
    lines = [ln for ln in run.stderr.splitlines() if ln.startswith("policyeval: error:")]
    assert len(lines) == 1 and "Traceback" not in run.stderr
    assert "column='y' has 8 infinite values" in lines[0] and "105" in lines[0]
    assert not (tmp_path / "out").exists()


def test_cli_missing_file_exits_2(tmp_path, capsys):
    assert main(["estimate", str(tmp_path / "nope.csv"), *ARGS,
                 "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == f"policyeval: error: no such file: {str(tmp_path / 'nope.csv')!r}\n"
