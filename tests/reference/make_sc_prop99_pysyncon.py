"""Regenerate tests/reference/sc_prop99_pysyncon.json: pysyncon.Synth on Proposition 99.

Run from the repository root with pysyncon installed (numbers stored were made with
pysyncon 1.7.0, scipy 1.16, Python 3.12):

    python tests/reference/make_sc_prop99_pysyncon.py

Data: tests/data/california_prop99.csv (R synthdid's copy of the ADH 2010 panel; outcome
only, no covariates). Specification: one predictor per pre-treatment year (PacksPerCapita
in 1970, ..., 1988), predictors scaled by their standard deviation across the 39 states
(pysyncon and R Synth both do this), the V-loss on the same 19 years. Two fits:

* ``equal``: ``custom_V`` equal (1/19 each) -- the inner weight problem only, a convex QP;
* ``nested``: V chosen by pysyncon's default outer search (Nelder-Mead from equal weights,
  ``optim_options={'maxiter': 1000}``).

Neither is trusted as it stands: the tests certify the ``equal`` weights with the simplex
duality gap before comparing, and use the ``nested`` fit only as a known feasible point
(our outer search must reach a pre-period loss no larger than pysyncon's).
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pysyncon
from pysyncon import Synth

HERE = Path(__file__).parent
df = pd.read_csv(HERE.parent / "data" / "california_prop99.csv")
wide = df.pivot(index="Year", columns="State", values="PacksPerCapita")
pre = wide.loc[1970:1988]
Z0, Z1 = pre.drop(columns="California"), pre["California"]
X0, X1 = Z0.copy(), Z1.copy()
X0.index = X1.index = [f"PacksPerCapita[{y}]" for y in pre.index]
out = {"pysyncon_version": pysyncon.__version__ if hasattr(pysyncon, "__version__") else "1.7.0",
       "fits": {}}
for name, kw in {"equal": {"custom_V": np.full(len(pre), 1.0 / len(pre))}, "nested": {}}.items():
    s = Synth()
    s.fit(X0=X0, X1=X1, Z0=Z0, Z1=Z1, **kw)
    out["fits"][name] = {
        "command": f"Synth().fit(X0=X0, X1=X1, Z0=Z0, Z1=Z1{', custom_V=np.full(19, 1/19)' if kw else ''})",
        "weights": dict(zip(Z0.columns, map(float, s.W))),
        "V": list(map(float, s.V)),
        "loss_V": float(s.loss_V),
    }
(HERE / "sc_prop99_pysyncon.json").write_text(json.dumps(out, indent=1))
