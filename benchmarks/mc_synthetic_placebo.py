"""Monte Carlo: size of the synthetic-control permutation test and of SDID placebo inference.

DGP (simulated, seeded): N = 20 exchangeable units from a 2-factor model plus unit and
time effects and AR(1)-free normal noise, T0 = 15 pre and T1 = 5 post periods, one
treated unit (unit 0), treatment effect 0 (size) or 1.5 noise sds (power).

* SyntheticControl(v_method="equal"): in-space permutation p-value of the post/pre
  RMSPE ratio, with placebo donor pools excluding the treated unit (ADH 2010,
  ``sc_perm``) or including it (``sc_perm_all``). Units are exchangeable, so with
  ``placebo_donors="all"`` the p-value is uniform on {1/20, ..., 20/20} under H0:
  P(p <= 0.05) = 0.05 and P(p <= 0.10) = 0.10 exactly.
* SyntheticDiD(se_method="placebo"): normal-theory p-value of att / placebo SE.
* SyntheticControl conformal inference (CWZ 2021): joint p-value of no effect in the
  5 post periods, moving-block permutations.

Run:  .venv/bin/python benchmarks/mc_synthetic_placebo.py [n_sims] [sdid_reps]   (0 skips SDID)
The result of the last run is recorded in benchmarks/mc_synthetic_placebo.md.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from policyeval.estimators.synthetic import SyntheticControl, SyntheticDiD


def simulate(rng, n_units=20, n_pre=15, n_post=5, effect=0.0, noise=1.0):
    T = n_pre + n_post
    F = np.cumsum(rng.normal(0, 0.5, (2, T)), axis=1)
    load = rng.normal(1.0, 0.5, (n_units, 2))
    Y = (10 + rng.normal(0, 1, (n_units, 1)) + np.linspace(0, 2, T)[None, :] + load @ F
         + rng.normal(0, noise, (n_units, T)))
    Y[0, n_pre:] += effect
    units = [f"u{i:02d}" for i in range(n_units)]
    return pd.DataFrame({"unit": np.repeat(units, T), "t": np.tile(np.arange(T), n_units),
                         "y": Y.ravel()}), n_pre


def one_draw(seed: int, effect: float, sdid_reps: int) -> dict:
    rng = np.random.default_rng(seed)
    df, n_pre = simulate(rng, effect=effect)
    args = dict(yname="y", tname="t", idname="unit", treated_units=["u00"], treat_time=n_pre)
    sc = SyntheticControl(v_method="equal").fit(df, **args)
    sc_all = SyntheticControl(v_method="equal", placebo_donors="all").fit(df, **args)
    conformal = sc.conformal_inference(confidence_sets=False).attrs["joint_p_value"]
    out = {"sc_perm": sc.permutation_pvalue, "sc_perm_all": sc_all.permutation_pvalue,
           "sc_conformal": conformal}
    if sdid_reps:
        sd = SyntheticDiD(se_method="placebo", n_replications=sdid_reps, random_state=seed).fit(df, **args)
        out["sdid_placebo"] = float(sd.pvalues["att"])
    return out


def main(n_sims: int = 300, sdid_reps: int = 50) -> pd.DataFrame:
    rows = []
    start = time.time()
    for effect in (0.0, 1.5):
        for s in range(n_sims):
            rows.append({"effect": effect, **one_draw(10_000 + s, effect, sdid_reps)})
    out = pd.DataFrame(rows)
    summary = []
    for (effect), g in out.groupby("effect"):
        for col in [c for c in ("sc_perm", "sc_perm_all", "sc_conformal", "sdid_placebo") if c in g]:
            p = g[col].to_numpy()
            summary.append({"effect": effect, "test": col, "reject_5%": np.mean(p <= 0.05),
                            "reject_10%": np.mean(p <= 0.10), "mean_p": p.mean(),
                            "ks_uniform_p": stats.kstest(p, "uniform").pvalue if col == "sdid_placebo" else np.nan})
    table = pd.DataFrame(summary)
    print(f"n_sims={n_sims} per effect, sdid placebo reps={sdid_reps}, {time.time() - start:.0f}s")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return table


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300, int(sys.argv[2]) if len(sys.argv) > 2 else 50)
