"""``import policyeval`` and a first small fit load no heavy optional module.

A module-set test, not a timing: a cold child process imports policyeval, runs a
Callaway-Sant'Anna fit with its dynamic aggregation and a TWFE fit, and lists what
it loaded. The light normal / t functions that replace ``scipy.stats`` on that
path are checked against ``scipy.stats`` itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as scipy_stats

from policyeval.inference import distributions as _distributions

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("dask", "duckdb", "matplotlib", "linearmodels", "cvxpy", "statsmodels", "scipy.stats",
         "scipy.optimize", "numba", "polars", "sklearn", "tqdm")

_CHILD = """
import json, sys
import numpy as np, pandas as pd
import policyeval as pe
after_import = sorted(m for m in {heavy!r} if m in sys.modules)
rng = np.random.default_rng(0)
n, years = 200, np.arange(2001, 2007)
g = rng.choice([0, 2003, 2005], n)
df = pd.DataFrame({{"id": np.repeat(np.arange(n), len(years)), "year": np.tile(years, n),
                   "g": np.repeat(g, len(years))}})
df["y"] = rng.normal(size=len(df)) + ((df.g > 0) & (df.year >= df.g))
res = pe.CallawaySantAnna().fit(df, yname="y", tname="year", idname="id", gname="g")
res.aggregate("dynamic").overall
res.att_gt
pe.TWFE().fit(df, yname="y", tname="year", idname="id", gname="g").conf_int()
after_fit = sorted(m for m in {heavy!r} if m in sys.modules)
print(json.dumps({{"import": after_import, "fit": after_fit}}))
"""


def test_import_and_first_fit_load_no_heavy_module():
    out = subprocess.run([sys.executable, "-c", _CHILD.format(heavy=HEAVY)], cwd=ROOT,
                         capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded["import"] == []
    assert loaded["fit"] == []


@pytest.mark.parametrize("df", [None, 3, 17.5, 400])
def test_light_distributions_equal_scipy_stats(df):
    x = np.array([-40.0, -3.2, -1.0, 0.0, 0.3, 1.96, 8.0])
    q = np.array([1e-12, 0.025, 0.25, 0.5, 0.8, 0.975, 1 - 1e-9])
    ours = _distributions.norm if df is None else _distributions.t(df)
    ref = scipy_stats.norm if df is None else scipy_stats.t(df)
    for name, arg in (("cdf", x), ("sf", x), ("ppf", q), ("isf", q)):
        np.testing.assert_allclose(getattr(ours, name)(arg), getattr(ref, name)(arg), rtol=1e-13, atol=0)
    assert _distributions.chi2 is scipy_stats.chi2          # anything else is scipy.stats itself
