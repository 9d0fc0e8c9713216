"""Monte Carlo: size of cluster-robust and wild-bootstrap tests with 10 clusters (simulated data).

Data-generating process (simulated, no treatment effect): 10 provinces with
3, 4, ..., 12 counties each (75 counties) observed for 12 years,

    y_it = a_i + l_t + eta_{p(i),t} + e_it,

with county effects a_i ~ N(0, 1), year effects l_t ~ N(0, 1), a
province-year shock eta_{p,t} following a stationary AR(1) with rho = 0.6 and
unit variance (errors correlated within a province, across its counties and
over time), and county noise e_it ~ N(0, 1). In each replication ``n_treated``
provinces drawn at random adopt the (ineffective) policy, half of them in
year 6 and half in year 9 (staggered), so every H0: beta = 0 is true.

For the static TWFE coefficient (unit and year effects, standard errors
clustered by province) the script records the rejection rate at 5% of

* the cluster-robust t-test: CR1 with fixest's small-sample correction and
  t(G-1) critical values (what ``pe.TWFE`` reports);
* the restricted wild cluster bootstrap (WCR), Rademacher weights;
* WCR with Webb six-point weights;
* the unrestricted wild cluster bootstrap (WCU), Rademacher weights,

each bootstrap with B = 399 draws (a test rejects when p < 0.05). The table
goes to docs/montecarlo_few_clusters.md with the command, seed and date.

Run from the repository root::

    .venv/bin/python scripts/montecarlo_few_clusters.py --reps 1000 --seed 20261122
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import policyeval as pe
from policyeval.inference.wild_bootstrap import wild_cluster_bootstrap

SIZES = np.arange(3, 13)        # counties per province
YEARS = np.arange(2001, 2013)
RHO = 0.6


def simulate(rng: np.random.Generator, n_treated: int) -> pd.DataFrame:
    """One simulated province-county-year panel with no treatment effect."""
    G, T = len(SIZES), len(YEARS)
    province = np.repeat(np.arange(G), SIZES)
    n_units = len(province)
    eta = np.empty((G, T))
    eta[:, 0] = rng.normal(size=G)
    for t in range(1, T):
        eta[:, t] = RHO * eta[:, t - 1] + np.sqrt(1 - RHO**2) * rng.normal(size=G)
    treated = rng.choice(G, size=n_treated, replace=False)
    adopt = np.zeros(G, dtype=int)
    adopt[treated[: (n_treated + 1) // 2]] = YEARS[5]
    adopt[treated[(n_treated + 1) // 2:]] = YEARS[8]
    unit = np.repeat(np.arange(n_units), T)
    tt = np.tile(np.arange(T), n_units)
    p = province[unit]
    y = (rng.normal(size=n_units)[unit] + rng.normal(size=T)[tt] + eta[p, tt]
         + rng.normal(size=len(unit)))
    return pd.DataFrame({"county": unit, "province": p, "year": YEARS[tt],
                         "first_treat": adopt[p], "y": y})


def one_replication(rng: np.random.Generator, n_treated: int, n_boot: int) -> dict:
    df = simulate(rng, n_treated)
    res = pe.TWFE(cluster="province").fit(df, "y", "year", "county", gname="first_treat")
    seed = int(rng.integers(2**31))
    out = {"CR1 t-test, t(G-1)": float(res.pvalues.iloc[0])}
    for label, w, imp in (("WCR Rademacher", "rademacher", True), ("WCR Webb", "webb", True),
                          ("WCU Rademacher", "rademacher", False)):
        wb = wild_cluster_bootstrap(res, data=df, weights=w, impose_null=imp,
                                    n_bootstrap=n_boot, random_state=seed, progress=False)
        out[label] = wb.p_value
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--boot", type=int, default=399)
    parser.add_argument("--seed", type=int, default=20261122)
    parser.add_argument("--treated", type=int, nargs="+", default=[3, 5])
    parser.add_argument("--out", default="docs/montecarlo_few_clusters.md")
    args = parser.parse_args(argv)

    start, cpu_start = time.time(), time.process_time()
    rows = []
    for n_treated in args.treated:
        rng = np.random.default_rng([args.seed, n_treated])
        pvals = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pe.exceptions.EstimationWarning)
            for _ in range(args.reps):
                pvals.append(one_replication(rng, n_treated, args.boot))
        frame = pd.DataFrame(pvals)
        for test, p in frame.items():
            rate = float((p < 0.05).mean())
            rows.append({"treated provinces": f"{n_treated} of {len(SIZES)}", "test": test,
                         "rejection rate at 5%": rate,
                         "MC std. error": np.sqrt(rate * (1 - rate) / args.reps)})
        print(f"n_treated={n_treated} done after {time.time() - start:.0f}s", file=sys.stderr)
    table = pd.DataFrame(rows)
    elapsed, cpu = time.time() - start, time.process_time() - cpu_start
    print(table.to_string(index=False))

    command = "python scripts/montecarlo_few_clusters.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    md = [
        "# Monte Carlo: tests with 10 clusters (simulated data)",
        "",
        "Size of the static TWFE test of H0: beta = 0 (true: the policy has no effect) with",
        "standard errors clustered by province, 10 provinces. Generated by",
        "`scripts/montecarlo_few_clusters.py` (its docstring states the data-generating",
        "process: 3-12 counties per province, 12 years, AR(1) province-year shocks with",
        f"rho = {RHO}, staggered adoption in years 6 and 9, treated provinces drawn at random).",
        "",
        f"- Command: `{command.strip()}`",
        (f"- Seed: {args.seed} (numpy `default_rng([seed, n_treated])`); replications: "
         f"{args.reps}; bootstrap draws per test: {args.boot}"),
        (f"- Date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; run time "
         f"{elapsed / 60:.1f} min wall, {cpu / 60:.1f} min CPU (one process on a shared 2-core "
         f"machine); Python {platform.python_version()}, numpy {np.__version__}, "
         f"pandas {pd.__version__}, policyeval {pe.__version__}"),
        ("- A test rejects when its p-value is below 0.05. MC std. error = "
         "sqrt(r(1-r)/replications)."),
        "",
        table.to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    Path(args.out).write_text("\n".join(md), encoding="utf-8")
    print(f"wrote {args.out} ({elapsed:.0f}s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
