"""Benchmark: in-memory (pandas) vs DuckDB vs Dask on simulated firm-level panels.

A script, not a test. For each size it writes the simulated firm panel
(:mod:`policyeval.scale.simulate_firms`, yearly Parquet files, seeded) to
``--data-dir``, then runs every (method, estimator) pair in its own child
process and records wall time and the child's peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``; Dask runs a 2-worker
LocalCluster with threads inside the child, so its workers are counted).

    .venv/bin/python benchmarks/bench_scale.py --sizes 1000000 10000000 \
        --skip-pandas-above 2000000 --dask-max 1000000

writes ``benchmarks/results/scale.md`` (and ``scale.json``). Methods: ``pandas``, ``duckdb``,
``dask`` (the engine's default: dense per-unit arrays when the ids are compact integers) and
``dask_shuffle`` (``dense=False``: the per-unit hash-shuffled group-by).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ESTIMATORS = ("cs", "twfe", "event_study")


def child(method: str, estimator: str, folder: str, out: str) -> None:
    """Run one estimator with one method and write timing + peak memory as JSON."""
    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    import policyeval as pe
    from policyeval.scale import fit_callaway_santanna, fit_event_study, fit_twfe

    t0 = time.perf_counter()
    client = None
    if method == "pandas":
        import pandas as pd

        cols = ["firm_id", "year", "first_treat", "county_code", "y"]
        data = pd.read_parquet(folder, columns=cols)
    elif method == "duckdb":
        data = folder
    else:          # "dask" (dense per-unit arrays when the ids allow) or "dask_shuffle" (groupby path)
        import dask.dataframe as dd
        from distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                     dashboard_address=None))
        files = sorted(str(p) for p in Path(folder).glob("*.parquet"))
        data = dd.read_parquet(files, columns=["firm_id", "year", "first_treat", "county_code", "y"],
                               split_row_groups=True)
    opts = {"memory_limit": "3GB", "threads": 2} if method == "duckdb" else {}
    backend = "dask" if method.startswith("dask") else method
    if method.startswith("dask"):
        # yearly files split every firm across partitions: where a per-firm groupby is used,
        # hash-shuffle it (one output partition per input partition) instead of a tree
        # reduction that would hold every firm's partial sums at once
        opts = {"split_out": data.npartitions}
        if method == "dask_shuffle":
            opts["dense"] = False        # the groupby path for every per-unit sum (the old engine)
    if estimator == "cs":
        est = pe.CallawaySantAnna(method="reg", progress=False, cluster="county_code")
        if method == "pandas":
            res = est.fit(data, "y", "year", "firm_id", "first_treat")
        else:
            res = fit_callaway_santanna(data, "y", "year", "firm_id", "first_treat", cluster="county_code",
                                        estimator=est, backend=backend, **opts)
        agg = res.aggregate("dynamic")
        summary = {"overall": float(agg.overall["estimate"]), "se": float(agg.overall["std_error"])}
    elif estimator == "twfe":
        est = pe.TWFE(cluster="county_code")
        res = (est.fit(data, "y", "year", "firm_id", gname="first_treat") if method == "pandas" else
               fit_twfe(data, "y", "year", "firm_id", gname="first_treat", estimator=est, backend=backend, **opts))
        summary = {"overall": float(res.params.iloc[0]), "se": float(res.std_errors.iloc[0])}
    else:
        est = pe.EventStudy(window=(-5, 5), cluster="county_code")
        res = (est.fit(data, "y", "year", "firm_id", "first_treat") if method == "pandas" else
               fit_event_study(data, "y", "year", "firm_id", "first_treat", estimator=est, backend=backend,
                               **opts))
        summary = {"overall": float(res.params.loc[0]), "se": float(res.std_errors.loc[0])}
    wall = time.perf_counter() - t0
    if client is not None:
        client.close()
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out).write_text(json.dumps({"wall_s": wall, "peak_mb": peak_kb / 1024, **summary}))


def run_child(method, estimator, folder, timeout):
    out = Path(folder) / f".result_{method}_{estimator}.json"
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", method, estimator, str(folder), str(out)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout} s"}
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["killed"]
        return {"status": f"failed (rc={proc.returncode}): {tail[0][:120]}",
                "wall_s": time.perf_counter() - t0}
    return {"status": "ok", **json.loads(out.read_text())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--years", type=int, default=15)
    ap.add_argument("--data-dir", default="/tmp/policyeval_bench_scale")
    ap.add_argument("--skip-pandas-above", type=int, default=2_000_000)
    ap.add_argument("--dask-max", type=int, default=1_000_000, help="largest size run on Dask")
    ap.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    ap.add_argument("--large-estimators", nargs="+", default=["cs", "twfe"],
                    help="estimators run above --skip-pandas-above")
    ap.add_argument("--methods", nargs="+", default=["pandas", "duckdb", "dask"])
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.md"))
    ap.add_argument("--child", nargs=4, metavar=("METHOD", "ESTIMATOR", "FOLDER", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(ROOT))
    from policyeval.scale.simulate_firms import simulate_firm_panel

    years = range(2006, 2006 + args.years)
    rows = []
    for n in args.sizes:
        folder = Path(args.data_dir) / f"firms_{n}"
        t0 = time.perf_counter()
        info_file = folder / "_info.json"
        if not info_file.exists():
            info = simulate_firm_panel(folder, n, years=years, seed=2026, chunk_firms=500_000, progress=False)
            info["generate_s"] = time.perf_counter() - t0
            info_file.write_text(json.dumps(info))
        info = json.loads(info_file.read_text())
        disk = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 2**30
        print(f"{n:,} firms: {info['n_rows']:,} rows, {disk:.2f} GiB on disk, generated in "
              f"{info['generate_s']:.0f} s", flush=True)
        large = n > args.skip_pandas_above
        for est in (args.large_estimators if large else args.estimators):
            for method in args.methods:
                if method == "pandas" and large:
                    r = {"status": f"not run: > {args.skip_pandas_above:,} firms (see note)"}
                elif method.startswith("dask") and n > args.dask_max:
                    r = {"status": f"not run: > {args.dask_max:,} firms (time budget)"}
                else:
                    r = run_child(method, est, folder, args.timeout)
                r.update(firms=n, rows=info["n_rows"], disk_gib=disk, method=method, estimator=est)
                print(json.dumps(r), flush=True)
                rows.append(r)
    # every method against DuckDB on the same files: largest absolute difference of estimate and SE
    ref = {(r["firms"], r["estimator"]): r for r in rows if r["method"] == "duckdb" and "overall" in r}
    for r in rows:
        base = ref.get((r["firms"], r["estimator"]))
        if base is not None and "overall" in r:
            r["diff_vs_duckdb"] = max(abs(r["overall"] - base["overall"]), abs(r["se"] - base["se"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Out-of-core benchmark: in-memory vs DuckDB vs Dask",
        "",
        (f"Machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB RAM; Python "
        f"{platform.python_version()}. Data: `policyeval.scale.simulate_firms` (simulated, seed 2026), "
        f"{args.years} years, yearly Parquet files. Each cell is one child process; peak memory is its "
        "maximum resident set size. DuckDB: `memory_limit=3GB`, 2 threads. Dask: LocalCluster, 2 "
        "workers (threads) in the child; `dask` = the engine's default (per-firm sums as dense arrays over "
        "the compact firm-id range, no shuffle), `dask_shuffle` = `dense=False` (hash-shuffled per-firm "
        "group-by, the engine before the dense path). pandas: `pd.read_parquet` of the five used columns, then the "
        "in-memory estimator. Estimators: `cs` = CallawaySantAnna (no covariates, clustered by county) "
        "+ dynamic aggregation; `twfe` = TWFE clustered by county; `event_study` = EventStudy window "
        "(-5, 5) clustered by county."),
        "",
        "Command: `.venv/bin/python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| firms | rows | on disk (GiB) | estimator | method | wall (s) | peak memory (MB) | estimate | SE "
        "| max abs. diff. vs DuckDB (estimate, SE) | status |",
        "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['firms']:,} | {r['rows']:,} | {r['disk_gib']:.2f} | {r['estimator']} | {r['method']} | "
            + (f"{r['wall_s']:.1f}" if "wall_s" in r else "") + " | "
            + (f"{r['peak_mb']:.0f}" if "peak_mb" in r else "") + " | "
            + (f"{r['overall']:.6f}" if "overall" in r else "") + " | "
            + (f"{r['se']:.6f}" if "se" in r else "") + " | "
            + (f"{r['diff_vs_duckdb']:.1e}" if "diff_vs_duckdb" in r else "") + f" | {r['status']} |")
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
