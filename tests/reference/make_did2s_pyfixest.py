"""Regenerate tests/reference/did2s_pyfixest.json: pyfixest.did2s on did2s's df_het.

Run from the repository root with pyfixest installed (numbers stored were made with
pyfixest 0.60.0, Python 3.11):

    python tests/reference/make_did2s_pyfixest.py

Data: tests/data/did2s_df_het.csv.gz (see tests/data/README.md), the same rows as
pyfixest/did/data/df_het.csv shipped in the pyfixest wheel.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf

HERE = Path(__file__).parent
df = pd.read_csv(HERE.parent / "data" / "did2s_df_het.csv.gz")
df["rel_year"] = df["rel_year"].replace(-np.inf, -1000).astype(int)
out = {"pyfixest_version": pf.__version__, "fits": {}}
calls = {
    "static_state_year": dict(first_stage="~ 0 | state + year", second_stage="~ i(treat)"),
    "static_unit_year": dict(first_stage="~ 0 | unit + year", second_stage="~ i(treat)"),
    "event_state_year": dict(first_stage="~ 0 | state + year",
                             second_stage="~ i(rel_year, ref=-1000)"),
}
for name, kw in calls.items():
    fit = pf.did2s(df.copy(), yname="dep_var", treatment="treat", cluster="state", **kw)
    tidy = fit.tidy()
    out["fits"][name] = {
        "command": (f"pyfixest.did2s(df, yname='dep_var', first_stage='{kw['first_stage']}', "
                    f"second_stage='{kw['second_stage']}', treatment='treat', cluster='state')"),
        "terms": [str(t) for t in tidy.index],
        "estimate": tidy["Estimate"].tolist(),
        "std_error": tidy["Std. Error"].tolist(),
    }
(HERE / "did2s_pyfixest.json").write_text(json.dumps(out, indent=1))
