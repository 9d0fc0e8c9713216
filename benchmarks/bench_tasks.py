"""Time the issue-13 tasks for policyeval and the installed peers, one child process each.

A script, not a test. Tasks (fit only, after the data are built and the modules
imported, except ``cold_start``):

==================  ===========================================================
``cs_boot``         Callaway–Sant'Anna (no covariates, never-treated controls) with a
                    999-draw Rademacher multiplier bootstrap and uniform bands, then the
                    dynamic aggregation (bootstrapped too, same seed)
``cs_dr_cov``       Callaway–Sant'Anna, doubly robust with the covariate ``x``, analytic SEs
``cs``              Callaway–Sant'Anna, no covariates, analytic SEs, dynamic aggregation
``twfe``            static TWFE, ``y ~ D | unit + year``, CR1 clustered by unit
``twfe_unbal``      the same on the panel with 10% of the rows removed (seeded)
``event_study``     TWFE event study with a dummy for every relative period (ref. -1)
``sun_abraham``     Sun–Abraham interaction-weighted event study
``imputation``      Borusyak–Jaravel–Spiess imputation, overall ATT
``cold_start``      a fresh interpreter: ``import`` plus a first small fit (300 x 6)
==================  ===========================================================

Every (task, tool, size) runs in its own child process; the parent records the
wall time of the timed call, the child's peak resident memory (``ru_maxrss``)
and the memory before the call, and the estimate(s) each tool reports. Where
tools estimate the same number (CS ATT(g,t) aggregation, the TWFE coefficient and
CR1 standard error, event-study coefficients) the parent asserts equality to
``--tol`` and writes the largest difference into the table.

Usage (from the repository root)::

    python benchmarks/bench_tasks.py --sizes 100000x15 [--tasks ...] [--tools ...]
    python benchmarks/bench_tasks.py --sizes 1000000x15 --tools policyeval

Peers are used when importable: pyfixest and moderndid (in the test extra),
diff-diff and csdid (the ``bench`` extra). ``--peer-python`` runs the peers with
another interpreter (a venv holding them). Writes ``benchmarks/results/tasks.md``
(``--out`` to change) and prints one JSON line per run.
Data: ``bench_staggered.make_panel`` (SIMULATED, seeded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))     # bench_staggered.make_panel; policyeval from PYTHONPATH

TASKS = ("cs_boot", "cs_dr_cov", "cs", "twfe", "twfe_unbal", "event_study", "sun_abraham", "imputation",
         "cold_start")
PEERS = {
    "cs_boot": ("moderndid", "diff-diff", "csdid"),
    "cs_dr_cov": ("moderndid", "diff-diff", "csdid"),
    "cs": ("moderndid", "diff-diff", "csdid"),
    "twfe": ("pyfixest",),
    "twfe_unbal": ("pyfixest",),
    "event_study": ("pyfixest",),
    "sun_abraham": ("diff-diff",),
    "imputation": ("diff-diff",),
    "cold_start": (),
}


def _panel(task: str, n: int, T: int):
    import numpy as np

    from bench_staggered import make_panel

    df = make_panel(n, T)
    if task == "twfe_unbal":
        keep = np.random.default_rng(1).random(len(df)) > 0.10
        df = df.loc[keep].reset_index(drop=True)
    df["D"] = ((df["g"] > 0) & (df["year"] >= df["g"])).astype(float)
    df["rel"] = np.where(df["g"] > 0, df["year"] - df["g"], -1000)   # never treated: no dummy
    return df


def _policyeval(task, df):
    import policyeval as pe

    for name in ("CallawaySantAnna", "TWFE", "EventStudy", "SunAbraham", "ImputationDiD"):
        getattr(pe, name)          # resolve the lazy imports before the clock starts
    kw = dict(yname="y", tname="year", idname="id")
    if task == "cs_boot":
        est = pe.CallawaySantAnna(n_bootstrap=999, random_state=1, progress=False)
        return lambda: _cs_out(est.fit(df, gname="g", **kw), boot=True)
    if task == "cs_dr_cov":
        est = pe.CallawaySantAnna(method="dr")
        return lambda: _cs_out(est.fit(df, gname="g", covariates=["x"], **kw), boot=False)
    if task == "cs":
        est = pe.CallawaySantAnna()
        return lambda: _cs_out(est.fit(df, gname="g", **kw), boot=False)
    if task in ("twfe", "twfe_unbal"):
        def run():
            r = pe.TWFE().fit(df, gname="g", **kw)
            return {"estimate": [float(r.params.iloc[0])], "se": [float(r.std_errors.iloc[0])]}
        return run
    if task == "event_study":
        def run():
            r = pe.EventStudy(window=None).fit(df, gname="g", **kw)
            return {"terms": [int(e) for e in r.params.index], "estimate": r.params.tolist(),
                    "se": r.std_errors.tolist()}
        return run
    if task == "sun_abraham":
        def run():
            r = pe.SunAbraham().fit(df, gname="g", **kw)
            return {"terms": [int(e) for e in r.params.index], "estimate": r.params.tolist()}
        return run
    if task == "imputation":
        def run():
            r = pe.ImputationDiD().fit(df, gname="g", **kw)
            return {"estimate": [float(r.params.iloc[0])]}
        return run
    raise ValueError(task)


def _cs_out(res, boot):
    agg = res.aggregate("dynamic")
    out = {"estimate": [float(agg.overall["estimate"])], "se": [float(agg.overall["std_error"])]}
    if boot:
        out["critical_value"] = float(agg.critical_value)
    return out


def _peer(tool, task, df):
    if tool == "pyfixest":
        import pyfixest as pf

        if task in ("twfe", "twfe_unbal"):
            def run():
                m = pf.feols("y ~ D | id + year", data=df, vcov={"CRV1": "id"})
                return {"estimate": [float(m.coef().iloc[0])], "se": [float(m.se().iloc[0])]}
            return run
        if task == "event_study":
            def run():
                m = pf.feols("y ~ i(rel, ref=-1) | id + year", data=df, vcov={"CRV1": "id"})
                coef = m.coef()
                terms = [int(float(str(k).split("::")[1].rstrip("]"))) for k in coef.index]
                keep = [i for i, t in enumerate(terms) if t != -1000]
                return {"terms": [terms[i] for i in keep], "estimate": [float(coef.iloc[i]) for i in keep],
                        "se": [float(m.se().iloc[i]) for i in keep]}
            return run
    if tool == "moderndid":
        import moderndid as md

        cov = task == "cs_dr_cov"
        boot = task == "cs_boot"

        def run():
            r = md.att_gt(data=df, yname="y", tname="year", idname="id", gname="g",
                          xformla="~x" if cov else None, est_method="dr", boot=boot,
                          biters=999, cband=boot, random_state=1)
            a = md.aggte(r, type="dynamic", boot=boot, biters=999, random_state=1)
            return {"estimate": [float(a.overall_att)], "se": [float(a.overall_se)]}
        return run
    if tool == "csdid":
        from csdid.att_gt import ATTgt

        cov = task == "cs_dr_cov"
        boot = task == "cs_boot"

        def run():
            att = ATTgt(yname="y", tname="year", idname="id", gname="g", data=df,
                        control_group=["nevertreated"], xformla="y~x" if cov else None)
            att.fit(est_method="dr", bstrap=boot)
            agg = att.aggte(typec="dynamic", bstrap=boot)
            import numpy as np

            first = (lambda v: float(np.asarray(v, dtype=float).ravel()[0]))
            return {"estimate": [first(agg.atte["overall_att"])], "se": [first(agg.atte["overall_se"])]}
        return run
    if tool == "diff-diff":
        import diff_diff as dd

        if task in ("cs_boot", "cs_dr_cov", "cs"):
            cov = task == "cs_dr_cov"
            boot = task == "cs_boot"

            def run():
                r = dd.CallawaySantAnna(estimation_method="dr", n_bootstrap=999 if boot else 0, seed=1).fit(
                    df, outcome="y", unit="id", time="year", first_treat="g",
                    covariates=["x"] if cov else None, aggregate="event_study")
                # diff-diff's overall_att is the *simple* aggregation: not compared
                return {"estimate_other": [float(r.overall_att)]}
            return run
        if task == "sun_abraham":
            def run():
                r = dd.SunAbraham(cluster="id").fit(df, outcome="y", unit="id", time="year", first_treat="g")
                eff = r.event_study_effects
                terms = sorted(eff)
                return {"terms": [int(e) for e in terms],
                        "estimate": [float(eff[e]["effect"]) for e in terms]}
            return run
        if task == "imputation":
            def run():
                r = dd.ImputationDiD(cluster="id").fit(df, outcome="y", unit="id", time="year", first_treat="g")
                return {"estimate": [float(r.overall_att)]}
            return run
    raise ValueError(f"{tool} has no {task}")


def run_child(task, tool, n, T):
    import resource
    import warnings

    warnings.simplefilter("ignore")
    if task == "cold_start":
        t0 = time.perf_counter()
        import numpy as np
        import pandas as pd

        import policyeval as pe

        rng = np.random.default_rng(0)
        years = np.arange(2001, 2007)
        g = rng.choice([0, 2003, 2005], 300)
        df = pd.DataFrame({"id": np.repeat(np.arange(300), 6), "year": np.tile(years, 300),
                           "g": np.repeat(g, 6)})
        df["y"] = rng.normal(size=len(df)) + ((df.g > 0) & (df.year >= df.g))
        est = float(pe.CallawaySantAnna().fit(df, yname="y", tname="year", idname="id", gname="g")
                    .aggregate("dynamic").overall["estimate"])
        secs = time.perf_counter() - t0
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return {"seconds": secs, "peak_mb": peak, "data_mb": 0.0, "out": {"estimate": [est]}}
    df = _panel(task, n, T)
    fn = _policyeval(task, df) if tool == "policyeval" else _peer(tool, task, df)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    out = fn()
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from importlib import metadata

    try:
        version = metadata.version(tool)
    except metadata.PackageNotFoundError:
        version = sys.modules["policyeval"].__version__ if tool == "policyeval" else "?"
    return {"seconds": secs, "peak_mb": peak, "data_mb": base, "out": out, "version": version}


def _max_diff(a, b):
    """Largest |difference| over the keys both report (event studies: common terms)."""
    import numpy as np

    if "terms" in a and "terms" in b:
        common = sorted(set(a["terms"]) & set(b["terms"]))
        if not common:
            return None
        ia = [a["terms"].index(t) for t in common]
        ib = [b["terms"].index(t) for t in common]
        diffs = [np.abs(np.subtract([a[k][i] for i in ia], [b[k][i] for i in ib])).max()
                 for k in ("estimate", "se") if k in a and k in b]
        return float(max(diffs))
    diffs = [abs(a[k][0] - b[k][0]) for k in ("estimate", "se") if k in a and k in b]
    return float(max(diffs)) if diffs else None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000x15")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--tools", default="policyeval,pyfixest,moderndid,diff-diff,csdid")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tasks.md"))
    ap.add_argument("--policyeval-path", default=str(ROOT),
                    help="checkout whose policyeval is timed (e.g. another branch, for before/after)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, tool, n, T = args.child.split(":")
        print(json.dumps(run_child(task, tool, int(n), int(T))))
        return
    tools = args.tools.split(",")
    rows = []
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for size in args.sizes.split(","):
        n, T = (int(v) for v in size.lower().split("x"))
        for task in args.tasks.split(","):
            ref = None
            for tool in ("policyeval", *PEERS[task]):
                if tool not in tools:
                    continue
                py = sys.executable if tool == "policyeval" else args.peer_python
                env = dict(os.environ, PYTHONPATH=f"{args.policyeval_path}{os.pathsep}{ROOT / 'benchmarks'}",
                           MPLBACKEND="Agg")
                cmd = [py, __file__, "--child", f"{task}:{tool}:{n}:{T}"]
                try:
                    p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout, env=env)
                    if p.returncode == 0:
                        r, status = json.loads(p.stdout.strip().splitlines()[-1]), "ok"
                    else:
                        r, status = {}, "error: " + ((p.stderr.strip().splitlines() or ["?"])[-1])[:90]
                except subprocess.TimeoutExpired:
                    r, status = {}, f"timeout > {args.timeout:.0f} s"
                diff = None
                if r and tool == "policyeval":
                    ref = r["out"]
                elif r and ref is not None:
                    diff = _max_diff(ref, r["out"])
                    if diff is not None and task != "cs_boot" and diff > args.tol:
                        status = f"MISMATCH {diff:.2e}"
                row = {"size": f"{n:,} x {T}", "task": task, "tool": tool, "status": status,
                       "diff_vs_policyeval": diff, **r}
                rows.append(row)
                print(json.dumps(row), flush=True)
    write(rows, args, started)


def write(rows, args, started):
    from importlib import metadata

    lines = [
        "# Issue 13 tasks: policyeval and peers",
        "",
        f"Command: `python benchmarks/bench_tasks.py {' '.join(sys.argv[1:])}`, started {started}, "
        f"policyeval from `{args.policyeval_path}`, "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other jobs (load average at the "
        f"end: {os.getloadavg()[0]:.1f}), Python {platform.python_version()}. Data: SIMULATED, "
        "seeded (`bench_staggered.make_panel`). `seconds`: the timed call only (cold_start: "
        "the interpreter's imports plus a first 300 x 6 fit). `peak MB`: the child's max RSS; "
        "`data MB`: RSS before the timed call. `max |diff|`: largest difference from policyeval "
        "in the estimate(s) and standard error(s) both tools report (cs_boot: estimates only "
        "agree, bootstrap SEs use different random streams).",
        "",
        "| size | task | tool | seconds | peak MB | data MB | estimate | SE | max diff | status |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        out = r.get("out", {})
        est = out.get("estimate", out.get("estimate_other", [None]))
        se = out.get("se", [None])
        f = (lambda v, s: "" if v is None else s.format(v))
        lines.append(
            f"| {r['size']} | {r['task']} | {r['tool']} {r.get('version', '')} | {f(r.get('seconds'), '{:.2f}')} | "
            f"{f(r.get('peak_mb'), '{:.0f}')} | {f(r.get('data_mb'), '{:.0f}')} | "
            f"{f(est[0] if est else None, '{:.6f}')} | {f(se[0] if se else None, '{:.6f}')} | "
            f"{f(r.get('diff_vs_policyeval'), '{:.1e}')} | {r['status']} |")
    versions = []
    for dist in ("numpy", "pandas", "scipy", "pyfixest", "moderndid", "diff-diff", "csdid"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not in this interpreter)")
    lines += ["", "Versions (parent interpreter): " + ", ".join(versions) + "."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
