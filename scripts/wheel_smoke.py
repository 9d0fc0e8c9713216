"""A wheel installed alone (no extras) imports and fits an estimator on the bundled data.

Run by ``make wheel`` with the clean venv's interpreter, from outside the repository, so the
installed package is what gets imported.
"""

from __future__ import annotations

import importlib.util

import policyeval as pe

assert "site-packages" in pe.__file__, f"imported the source tree, not the wheel: {pe.__file__}"
for heavy in ("duckdb", "dask", "jupyterlab", "pytest", "statsmodels", "linearmodels"):
    assert importlib.util.find_spec(heavy) is None, f"{heavy} came with the core install"

panel = pe.load_simulated_panel()
res = pe.CallawaySantAnna().fit(panel, yname="log_gdp", tname="year", idname="county_code",
                                gname="first_treat_destination")
print(res.summary())
try:
    pe.scale.make_engine("missing.parquet")
except pe.exceptions.MissingDependencyError as err:
    print("scale without the extra:", err)
else:
    raise AssertionError("the out-of-core path ran without the [scale] extra")
print(f"wheel smoke test passed: policyeval {pe.__version__} from {pe.__file__}")
