"""Monte Carlo: size and power at the 5% level with 1, 2, 5, 10 and 30 treated units.

Simulated data only. Two designs, both with common adoption (10 pre-treatment and
5 post-treatment periods) so that every method applies:

* ``county``: the bundled *simulated* county panel (``policyeval.load_simulated_panel()``),
  outcome ``log_gdp``, years 2005-2019, restricted to the counties that are never treated
  and observed in every year of the window (109 of 123). In each draw ``n`` of them are
  picked at random and given a placebo "enclave" from 2015. The outcomes are the panel's
  own: only the assignment is random, so H0 (no effect) holds exactly.
* ``generic``: 60 units, 15 periods; y_it = a_i + l_t + e_it with a_i ~ N(0, 1),
  l_t ~ N(0, 1), e_it a stationary AR(1) with rho = 0.5 and N(0, 1) innovations, drawn
  afresh in every draw; units 0..n-1 are treated from period 10.

Power: the same draws with a true effect added to the treated units' post-treatment
outcomes: ``EFFECT`` below (0.10 log points for ``county``, about 1.1 standard deviations
of a county's post-minus-pre change; 1.0 innovation sd for ``generic``).

Tests (two-sided, reject when p <= 0.05):

* ``CR: TWFE`` / ``CR: CallawaySantAnna`` / ``CR: ImputationDiD``: the analytic p-value of
  each estimator's headline effect, standard errors clustered by unit (the defaults);
* ``WCR bootstrap``: restricted wild cluster bootstrap-t of the TWFE coefficient, Webb
  weights, clustered by unit (``few_treated_inference(method="wild_bootstrap")``);
* ``randomization``: ``few_treated_inference(pe.ImputationDiD(), ...)``, re-assigning
  adoption across all units (the package's recommended route; with common adoption in a
  balanced panel the imputation estimate equals the TWFE coefficient);
* ``SC placebo`` / ``SC conformal``: one treated unit only,
  ``few_treated_inference(method="synthetic_control")``: in-space placebos over all units
  (``placebo_donors="all"``, V equal) and the joint conformal p-value of Chernozhukov,
  Wuthrich & Zhu (2021), moving-block permutations;
* ``SDID placebo``: ``few_treated_inference(method="synthetic_did")``, placebo standard
  error and normal p-value (Frank-Wolfe ``max_iter=1000`` instead of 10,000 to fit the
  time budget; the estimates differ in the third decimal). Needs more donors than treated
  units, so it is not defined for 30 treated of 60.

Run (from the repository root)::

    python benchmarks/mc_few_treated.py            # full run, writes docs/montecarlo_few_treated.md
    python benchmarks/mc_few_treated.py --quick    # a few draws per cell, prints the table

The Monte Carlo standard error of a rejection rate r over R draws is sqrt(r(1-r)/R).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import policyeval as pe  # noqa: E402

SEED = 20261202
ALPHA = 0.05
N_TREATED = (1, 2, 5, 10, 30)
DESIGNS = ("county", "generic")
EFFECT = {"county": 0.10, "generic": 1.0}
T_PRE, T_POST = 10, 5

METHODS = ("CR: TWFE", "CR: CallawaySantAnna", "CR: ImputationDiD", "WCR bootstrap",
           "randomization", "SC placebo", "SC conformal", "SDID placebo")


@dataclass
class Plan:
    """Draws per cell for each group of methods, and the resampling sizes."""

    reps_cheap: int       # analytic CR and wild bootstrap
    reps_ri: int          # size; power uses the first reps_ri_power of these draws
    reps_ri_power: int
    reps_sc: int
    reps_sdid: int
    n_permutations: int
    n_bootstrap: int
    sdid_replications: int


# Sized so the full run takes about 20 minutes on one core of the shared 2-core machine.
FULL = Plan(reps_cheap=80, reps_ri=100, reps_ri_power=40, reps_sc=80, reps_sdid=12, n_permutations=99,
            n_bootstrap=199, sdid_replications=40)
# --quick (and tests/test_few_treated.py): generic design, 1 and 2 treated units.
QUICK = Plan(reps_cheap=40, reps_ri=30, reps_ri_power=10, reps_sc=10, reps_sdid=3, n_permutations=99,
             n_bootstrap=199, sdid_replications=20)
QUICK_CELLS = (("generic",), (1, 2))


# --------------------------------------------------------------------------- designs
def county_pool() -> pd.DataFrame:
    """Never-treated simulated counties observed in every year 2005-2019 (log_gdp)."""
    panel = pe.load_simulated_panel()
    sub = panel[(panel["first_treat"] == 0) & panel["year"].between(2005, 2019)]
    wide = sub.pivot(index="county_code", columns="year", values="log_gdp").dropna()
    return wide


def draw(design: str, n: int, rng: np.random.Generator, pool: pd.DataFrame | None
         ) -> tuple[pd.DataFrame, int]:
    """A long panel ``unit, t, y, g, d`` (g = first treated period, 0 = never) and T0."""
    if design == "county":
        Y = pool.to_numpy()
        units = pool.index.to_numpy()
        periods = pool.columns.to_numpy()
        treated = rng.choice(len(units), size=n, replace=False)
    else:
        N, T, rho = 60, T_PRE + T_POST, 0.5
        e = np.empty((N, T))
        e[:, 0] = rng.normal(0, 1 / np.sqrt(1 - rho**2), N)
        for t in range(1, T):
            e[:, t] = rho * e[:, t - 1] + rng.normal(0, 1, N)
        Y = rng.normal(0, 1, (N, 1)) + rng.normal(0, 1, (1, T)) + e
        units, periods = np.arange(N), np.arange(T)
        treated = np.arange(n)
    N, T = Y.shape
    t0 = periods[T_PRE]
    g = np.zeros(N, dtype=np.int64)
    g[treated] = t0
    df = pd.DataFrame({"unit": np.repeat(units, T), "t": np.tile(periods, N), "y": Y.ravel(),
                       "g": np.repeat(g, T)})
    df["d"] = ((df["g"] > 0) & (df["t"] >= df["g"])).astype(np.int64)
    return df, t0


def with_effect(df: pd.DataFrame, effect: float) -> pd.DataFrame:
    return df.assign(y=df["y"] + effect * df["d"])


# --------------------------------------------------------------------------- tests
KW = dict(yname="y", tname="t", idname="unit", gname="g")


def _normal_p(est: float, se: float) -> float:
    return float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan


def p_values(df: pd.DataFrame, n: int, methods: tuple, plan: Plan, seed: int) -> dict:
    out = {}
    if "CR: TWFE" in methods:
        out["CR: TWFE"] = float(pe.TWFE().fit(df, **KW).pvalues.iloc[0])
    if "CR: CallawaySantAnna" in methods:
        ov = pe.CallawaySantAnna().fit(df, **KW).aggregate("simple").overall
        out["CR: CallawaySantAnna"] = _normal_p(ov["estimate"], ov["std_error"])
    if "CR: ImputationDiD" in methods:
        ov = pe.ImputationDiD().fit(df, **KW).overall
        out["CR: ImputationDiD"] = _normal_p(ov["estimate"], ov["std_error"])
    if "WCR bootstrap" in methods:
        out["WCR bootstrap"] = pe.few_treated_inference(
            pe.TWFE(), df, method="wild_bootstrap", n_bootstrap=plan.n_bootstrap,
            random_state=seed, **KW).p_value
    if "randomization" in methods:
        out["randomization"] = pe.few_treated_inference(
            pe.ImputationDiD(), df, n_permutations=plan.n_permutations, random_state=seed,
            **KW).p_value
    if n == 1 and ("SC placebo" in methods or "SC conformal" in methods):
        sc = pe.few_treated_inference(None, df, method="synthetic_control", **KW)
        out["SC placebo"] = sc.p_value
        out["SC conformal"] = float(sc.detail.conformal_inference(confidence_sets=False)
                                    .attrs["joint_p_value"])
    if "SDID placebo" in methods and df["unit"].nunique() > 2 * n:
        out["SDID placebo"] = pe.few_treated_inference(
            None, df, method="synthetic_did", n_replications=plan.sdid_replications,
            random_state=seed, options={"max_iter": 1000}, **KW).p_value
    return out


def _groups(plan: Plan) -> list[tuple[tuple, int, int]]:
    """(methods, draws for size, draws for power)."""
    return [(("CR: TWFE", "CR: CallawaySantAnna", "CR: ImputationDiD", "WCR bootstrap"),
             plan.reps_cheap, plan.reps_cheap),
            (("randomization",), plan.reps_ri, plan.reps_ri_power),
            (("SC placebo", "SC conformal"), plan.reps_sc, plan.reps_sc),
            (("SDID placebo",), plan.reps_sdid, plan.reps_sdid)]


def run_cell(design: str, n: int, plan: Plan, methods: tuple = METHODS, seed: int = SEED,
             pool: pd.DataFrame | None = None, kinds: tuple = ("size", "power")) -> pd.DataFrame:
    """Rejection rates at 5% under H0 and under the stated effect for one (design, n).

    Draw ``r`` of group ``k`` uses ``numpy.random.default_rng([seed, design, n, k, r])``;
    the size and the power p-values come from the same draw.
    """
    if design == "county" and pool is None:
        pool = county_pool()
    rows = []
    d_idx = DESIGNS.index(design)
    for k, (group, reps, reps_power) in enumerate(_groups(plan)):
        group = tuple(m for m in group if m in methods)
        if not group or (n != 1 and group[0].startswith("SC")):
            continue
        if group == ("SDID placebo",) and (pool.shape[0] if design == "county" else 60) <= 2 * n:
            continue
        t_start = time.perf_counter()
        got: dict[tuple[str, str], list] = {}
        for r in range(reps):
            rng = np.random.default_rng([seed, d_idx, n, k, r])
            df, _ = draw(design, n, rng, pool)
            s = int(rng.integers(2**31))
            for label in kinds:
                if label == "power" and r >= reps_power:
                    continue
                data = df if label == "size" else with_effect(df, EFFECT[design])
                for m, p in p_values(data, n, group, plan, s).items():
                    got.setdefault((m, label), []).append(p)
        secs = time.perf_counter() - t_start
        for (m, label), ps in got.items():
            ps = np.asarray(ps, dtype=float)
            ok = ps[np.isfinite(ps)]
            rate = float(np.mean(ok <= ALPHA + 1e-12)) if ok.size else np.nan
            rows.append({"design": design, "n_treated": n, "method": m, "kind": label,
                         "rate": rate, "mc_se": float(np.sqrt(rate * (1 - rate) / ok.size))
                         if ok.size else np.nan, "draws": int(ok.size),
                         "failed": int(ps.size - ok.size), "seconds": secs})
    return pd.DataFrame(rows)


def run(plan: Plan, designs=DESIGNS, n_treated=N_TREATED, methods=METHODS, seed=SEED,
        progress=True, csv: str | None = None) -> pd.DataFrame:
    pool = county_pool()
    parts = []
    for design in designs:
        for n in n_treated:
            t = time.perf_counter()
            parts.append(run_cell(design, n, plan, methods, seed, pool))
            if csv:  # written after every cell, so an interrupted run keeps what it did
                pd.concat(parts, ignore_index=True).to_csv(csv, index=False)
            if progress:
                print(f"{design:8s} n={n:2d}: {time.perf_counter() - t:6.1f} s", flush=True)
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- report
def table(results: pd.DataFrame) -> str:
    """Markdown: rows method x n_treated, columns size and power (rate, MC s.e., draws)."""
    out = []
    for design in results["design"].unique():
        sub = results[results["design"] == design]
        out.append(f"\n## Design `{design}` (true effect for power: {EFFECT[design]:g})\n")
        out.append("| treated | method | size (5%) | MC s.e. | power | MC s.e. | draws (size/power) |")
        out.append("|---:|:---|---:|---:|---:|---:|---:|")
        for n in sorted(sub["n_treated"].unique()):
            for m in METHODS:
                cell = sub[(sub["n_treated"] == n) & (sub["method"] == m)].set_index("kind")
                if cell.empty:
                    continue
                s, p = cell.loc["size"], cell.loc["power"]
                out.append(f"| {n} | {m} | {s['rate']:.3f} | {s['mc_se']:.3f} | "
                           f"{p['rate']:.3f} | {p['mc_se']:.3f} | {int(s['draws'])}/{int(p['draws'])} |")
    return "\n".join(out)


def _within(rate: float, lo: float = 0.02, hi: float = 0.08) -> bool:
    return bool(np.isfinite(rate) and lo <= rate <= hi)


def verdicts(results: pd.DataFrame) -> str:
    """Plain statements computed from the table (so they stay true when it is regenerated)."""
    size = results[results["kind"] == "size"]
    lines = ["## What the numbers say (computed by the script from the table above)", ""]
    cr = size[size["method"].str.startswith("CR:")]
    for design in size["design"].unique():
        sub = cr[cr["design"] == design]
        by_n = sub.groupby("n_treated")["rate"].max()
        draws = int(sub["draws"].min())
        bound = ALPHA + 2 * np.sqrt(ALPHA * (1 - ALPHA) / draws)
        ok = [n for n in by_n.index if all(by_n.loc[m] <= bound for m in by_n.index if m >= n)]
        first_ok = min(ok) if ok else None
        lines.append(
            f"- `{design}`: the worst of the three analytic (CR) tests rejects a true null in "
            + ", ".join(f"{by_n.loc[n]:.1%} ({n} treated)" for n in by_n.index)
            + (f"; it is within two MC s.e. of 5% (at most {bound:.1%} with {draws} draws) "
               f"from {first_ok} treated units on." if first_ok is not None else
               f"; it exceeds 5% by more than two MC s.e. (bound {bound:.1%}) at every count."))
    ri = size[size["method"] == "randomization"]
    bad = ri[~ri["rate"].map(_within)]
    lines.append(
        f"- Randomization inference (the route the warning recommends): size within 2-8% in "
        f"{len(ri) - len(bad)} of {len(ri)} cells"
        + ("." if bad.empty else "; outside in " + ", ".join(
            f"{r.design}/{r.n_treated} treated ({r.rate:.1%}, MC s.e. {r.mc_se:.1%})"
            for r in bad.itertuples()) + "."))
    pooled = ri["rate"].mul(ri["draws"]).sum() / ri["draws"].sum() if len(ri) else np.nan
    lines.append(f"  Pooled over all its cells: {pooled:.1%} "
                 f"(MC s.e. {np.sqrt(pooled * (1 - pooled) / ri['draws'].sum()):.1%}, "
                 f"{int(ri['draws'].sum())} draws).")
    wb = size[(size["method"] == "WCR bootstrap") & (size["n_treated"] == 1)]
    if not wb.empty:
        lines.append("- The restricted wild cluster bootstrap with one treated unit rejects in "
                     + ", ".join(f"{r.rate:.1%} ({r.design})" for r in wb.itertuples())
                     + " of draws under H0 and has as little power (MacKinnon & Webb 2017: "
                     "with one treated cluster WCR under-rejects badly).")
    conf = size[size["method"] == "SC conformal"]
    if not conf.empty and (conf["rate"] == 0).all():
        T = T_PRE + T_POST
        lines.append(f"- SC conformal never rejects here: with moving-block permutations over "
                     f"{T} periods its p-values are multiples of 1/{T} = {1 / T:.3f} > 0.05, so "
                     "it cannot reject at 5% whatever the effect (a resolution limit, not a "
                     "size property). Longer panels, or iid permutations "
                     "(`conformal_inference(permutation='iid')`, exchangeable errors), are "
                     "needed.")
    for m in ("SC placebo", "SC conformal", "SDID placebo"):
        sub = size[size["method"] == m]
        if not sub.empty:
            lines.append(f"- {m}: size " + ", ".join(
                f"{r.rate:.1%} ({r.design}, {r.n_treated} treated)" for r in sub.itertuples())
                + ".")
    return "\n".join(lines) + "\n"


def versions() -> str:
    import scipy

    return (f"Python {platform.python_version()}, numpy {np.__version__}, pandas "
            f"{pd.__version__}, scipy {scipy.__version__}, policyeval {pe.__version__}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="generic design, 1 and 2 treated units, few draws; print only")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", default=str(ROOT / "docs" / "montecarlo_few_treated.md"))
    ap.add_argument("--csv", default=str(ROOT / "benchmarks" / "results" / "mc_few_treated.csv"))
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    warnings.simplefilter("ignore")
    start, cpu = time.perf_counter(), time.process_time()
    if args.quick:
        results = run(plan, *QUICK_CELLS, seed=args.seed)
    else:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        results = run(plan, seed=args.seed, csv=args.csv)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    body = table(results)
    if args.quick:
        print(body)
        print(verdicts(results))
        return 0
    results.to_csv(args.csv, index=False)
    head = HEADER.format(
        command="python benchmarks/mc_few_treated.py" + (
            f" --seed {args.seed}" if args.seed != SEED else ""),
        seed=args.seed, date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        wall=wall / 60, cpu=cpu / 60, versions=versions(), plan=plan,
        ri_grid=plan.n_permutations + 1)
    Path(args.out).write_text(head + body + "\n\n" + verdicts(results), encoding="utf-8")
    print(body)
    print(f"\nwrote {args.out} and {args.csv} ({wall / 60:.1f} min)")
    return 0


HEADER = """# Monte Carlo: inference with few treated units (simulated data)

Size (rejection rate of a true null of no effect) and power (rejection rate with the stated
true effect) of two-sided tests at the 5% level, with 1, 2, 5, 10 and 30 treated units.
Generated by `benchmarks/mc_few_treated.py`; its docstring states both data-generating
processes (the bundled **simulated** county panel with placebo enclaves assigned to
never-treated counties, outcome `log_gdp`; and a generic 60-unit, 15-period AR(1) panel).

- Command: `{command}` (from the repository root)
- Seed: {seed}; draw r of method group k for design d and n treated units uses
  `numpy.random.default_rng([{seed}, d, n, k, r])`; size and power come from the same draw
- Draws per cell: {plan.reps_cheap} for the analytic tests and the wild bootstrap
  ({plan.n_bootstrap} Webb draws); {plan.reps_ri} (size) and {plan.reps_ri_power} (power) for
  randomization inference
  ({plan.n_permutations} re-assignments, so p-values are multiples of 1/{ri_grid});
  {plan.reps_sc} for synthetic control (one treated unit only); {plan.reps_sdid} for SDID
  ({plan.sdid_replications} placebo replications)
- Date: {date}; wall time {wall:.1f} min, CPU {cpu:.1f} min (one process on a shared
  2-core machine); {versions}
- MC s.e. = sqrt(r(1 - r) / draws). A rate is consistent with the nominal 5% when it lies
  within about two MC s.e. of 0.05.
"""


if __name__ == "__main__":
    raise SystemExit(main())
