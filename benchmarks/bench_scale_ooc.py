"""Benchmark: the out-of-core cases firm data has (entry/exit, weights, DR covariates, two-way clusters), pandas vs DuckDB vs Dask.

A script, not a test. It reads the SIMULATED firm panels that ``benchmarks/bench_scale.py`` writes
(``--data-dir``/firms_<n>, yearly Parquet files, seed 2026; run that script first) and derives, in
the query that reads them, what the simulation does not have:

* **entry and exit** (``twfe_unbalanced``, ``es_unbalanced``): firms with ``firm_id % 7 == 0``
  enter ``firm_id % 5`` years late, firms with ``firm_id % 11 == 0`` leave ``firm_id % 4`` years
  early (about 14% of firms miss some years);
* **sampling weights** constant within firm: ``w = 0.5 + (firm_id * 40503 % 7) / 4``;
* a **time-invariant firm covariate** for the propensity score: ``x_firm = (firm_id * 2654435761
  % 1000) / 1000`` (``cs_dr``: CallawaySantAnna(method="dr") on the balanced panel);
* **two-way clustering** (``twfe_twoway``): ``twfe_unbalanced`` (entry/exit, weights) with
  ``cluster=["county_code", "year"]`` instead of the county alone.

Methods: ``pandas`` (in memory), ``duckdb`` (a relation with the derived columns) and ``dask``
(``dd.read_parquet`` of the yearly files, the same derivation per partition, a local 2-worker
threaded cluster, the ``policyeval.scale`` functions with ``backend="dask"`` and
``split_out`` = number of partitions, as ``benchmarks/bench_scale.py`` runs the engine).

The same derivation is applied in pandas for the in-memory reference, so at sizes where pandas
runs the estimates must agree (the unit tests check 1e-8 on small panels; here the script prints
both to 10 digits and the largest difference). Each (method, case) runs in its own child process;
wall time and the child's peak resident memory are recorded.

    python benchmarks/bench_scale_ooc.py --sizes 1000000 10000000 --data-dir /tmp/pebench \
        --skip-pandas-above 2000000 --out benchmarks/results/scale_ooc_10m.md
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ("twfe_unbalanced", "cs_dr", "es_unbalanced", "twfe_twoway")
ENTER_EXIT = ("NOT ((firm_id % 7 = 0 AND year < 2006 + firm_id % 5) "
              "OR (firm_id % 11 = 0 AND year > 2020 - firm_id % 4))")
COLS = ["firm_id", "year", "first_treat", "county_code", "y"]


def _pandas_frame(folder: str, unbalanced: bool):
    import pandas as pd

    return _derive(pd.read_parquet(folder, columns=COLS), unbalanced)


def _duckdb_relation(folder: str, unbalanced: bool):
    import tempfile

    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit = '3GB'")
    con.execute("SET threads = 2")
    con.execute(f"SET temp_directory = '{tempfile.gettempdir()}'")
    con.execute("SET preserve_insertion_order = false")
    files = sorted(str(p) for p in Path(folder).glob("*.parquet"))
    where = f"WHERE {ENTER_EXIT}" if unbalanced else ""
    return con, con.sql(
        f"SELECT {', '.join(COLS)}, 0.5 + (firm_id * 40503 % 7) / 4.0 AS w, "
        f"(firm_id * 2654435761 % 1000) / 1000.0 AS x_firm FROM read_parquet({files}) {where}")


def _derive(df, unbalanced: bool):
    f = df["firm_id"].to_numpy()
    if unbalanced:
        yr = df["year"].to_numpy()
        df = df[~(((f % 7 == 0) & (yr < 2006 + f % 5)) | ((f % 11 == 0) & (yr > 2020 - f % 4)))]
        f = df["firm_id"].to_numpy()
    return df.assign(w=0.5 + (f * 40503 % 7) / 4.0, x_firm=(f * 2654435761 % 1000) / 1000.0)


def _dask_frame(folder: str, unbalanced: bool):
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    client = Client(LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None))
    files = sorted(str(p) for p in Path(folder).glob("*.parquet"))
    raw = dd.read_parquet(files, columns=COLS, split_row_groups=True)
    meta = _derive(raw._meta, unbalanced)
    return client, raw.map_partitions(_derive, unbalanced, meta=meta)


def child(method: str, case: str, folder: str, out: str) -> None:
    import warnings

    warnings.simplefilter("ignore")
    sys.path.insert(0, str(ROOT))
    import policyeval as pe

    t0 = time.perf_counter()
    unbalanced = case != "cs_dr"
    if method == "pandas":
        data = _pandas_frame(folder, unbalanced)
    elif method == "duckdb":
        con, data = _duckdb_relation(folder, unbalanced)
    else:
        client, data = _dask_frame(folder, unbalanced)
    cols = dict(yname="y", tname="year", idname="firm_id")
    if method == "dask":
        from policyeval.scale import fit_callaway_santanna, fit_event_study, fit_twfe

        opts = {"backend": "dask", "split_out": data.npartitions}
        fits = {"TWFE": lambda est, **kw: fit_twfe(data, estimator=est, **opts, **kw),
                "EventStudy": lambda est, **kw: fit_event_study(data, estimator=est, **opts, **kw),
                "CS": lambda est, **kw: fit_callaway_santanna(data, estimator=est, cluster=est.cluster,
                                                              **opts, **kw)}
    else:
        fits = {k: (lambda est, **kw: est.fit(data, **kw)) for k in ("TWFE", "EventStudy", "CS")}
    if case in ("twfe_unbalanced", "twfe_twoway"):
        cl = "county_code" if case == "twfe_unbalanced" else ["county_code", "year"]
        res = fits["TWFE"](pe.TWFE(cluster=cl), gname="first_treat", weights="w", **cols)
        summary = {"estimate": float(res.params.iloc[0]), "se": float(res.std_errors.iloc[0])}
    elif case == "es_unbalanced":
        res = fits["EventStudy"](pe.EventStudy(window=(-5, 5), cluster="county_code"), gname="first_treat",
                                 weights="w", **cols)
        summary = {"estimate": float(res.params.loc[0]), "se": float(res.std_errors.loc[0])}
    else:
        est = pe.CallawaySantAnna(method="dr", cluster="county_code", progress=False)
        res = fits["CS"](est, gname="first_treat", covariates=["x_firm"], **cols)
        agg = res.aggregate("dynamic")
        summary = {"estimate": float(agg.overall["estimate"]), "se": float(agg.overall["std_error"])}
    wall = time.perf_counter() - t0
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(out).write_text(json.dumps({"wall_s": wall, "peak_mb": peak_kb / 1024, **summary}))


def run_child(method, case, folder, timeout):
    out = Path(folder) / f".result_ooc_{method}_{case}.json"
    out.unlink(missing_ok=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", method, case, str(folder), str(out)],
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout after {timeout} s"}
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or "").strip().splitlines()[-1:] or ["killed"]
        return {"status": f"failed (rc={proc.returncode}): {tail[0][:160]}", "wall_s": time.perf_counter() - t0}
    return {"status": "ok", **json.loads(out.read_text())}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--data-dir", default="/tmp/pebench")
    ap.add_argument("--skip-pandas-above", type=int, default=2_000_000)
    ap.add_argument("--cases", nargs="+", default=list(CASES))
    ap.add_argument("--large-cases", nargs="+", default=["twfe_unbalanced", "cs_dr"])
    ap.add_argument("--methods", nargs="+", default=["pandas", "duckdb"])
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale_ooc.md"))
    ap.add_argument("--child", nargs=4, metavar=("METHOD", "CASE", "FOLDER", "OUT"))
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    start = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = os.getloadavg()
    rows = []
    for n in args.sizes:
        folder = Path(args.data_dir) / f"firms_{n}"
        if not (folder / "_info.json").exists():
            sys.exit(f"{folder} has no _info.json: generate it with benchmarks/bench_scale.py first")
        info = json.loads((folder / "_info.json").read_text())
        large = n > args.skip_pandas_above
        for case in (args.large_cases if large else args.cases):
            for method in args.methods:
                if method == "pandas" and large:
                    r = {"status": f"not run: > {args.skip_pandas_above:,} firms (memory)"}
                else:
                    r = run_child(method, case, folder, args.timeout)
                r.update(firms=n, rows=info["n_rows"], method=method, case=case, load=os.getloadavg()[0])
                print(json.dumps(r), flush=True)
                rows.append(r)
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Out of core, the cases firm data has: unbalanced panels, weights, doubly robust covariates, two-way clusters",
        "",
        f"Date: {start}. Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other jobs "
        f"(load average before: {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}; the "
        "1-minute load after each run is in the table). Python " + platform.python_version() + ".",
        "",
        "Command: `python benchmarks/bench_scale_ooc.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "Data: SIMULATED firm panels of `policyeval.scale.simulate_firms` (seed 2026, 2006-2020), with entry/exit, "
        "weights and a firm covariate derived in the reading query (see the script's docstring). DuckDB: "
        "`memory_limit=3GB`, 2 threads; the child's peak RSS includes DuckDB. Cases: `twfe_unbalanced` = "
        "TWFE(cluster=county) with sampling weights on the panel with entry and exit; `es_unbalanced` = "
        "EventStudy(window=(-5, 5), cluster=county), same data; `cs_dr` = CallawaySantAnna(method='dr', "
        "cluster=county) with the firm covariate on the balanced panel + dynamic aggregation; `twfe_twoway` = "
        "`twfe_unbalanced` with cluster=[county, year]. Dask: local cluster, 2 threaded workers, in the child.",
        "",
        "| firms | rows (before entry/exit) | case | method | wall (s) | peak memory (MB) | estimate | SE | "
        "load after | status |",
        "|---:|---:|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['firms']:,} | {r['rows']:,} | {r['case']} | {r['method']} | "
            + (f"{r['wall_s']:.1f}" if "wall_s" in r else "") + " | "
            + (f"{r['peak_mb']:.0f}" if "peak_mb" in r else "") + " | "
            + (f"{r['estimate']:.10f}" if "estimate" in r else "") + " | "
            + (f"{r['se']:.10f}" if "se" in r else "") + f" | {r['load']:.2f} | {r['status']} |")
    pairs = {}
    for r in rows:
        if "estimate" in r:
            pairs.setdefault((r["firms"], r["case"]), {})[r["method"]] = r
    diffs = [f"{n:,} firms, {c}, {other} vs duckdb: "
             f"|estimate diff| = {abs(m[other]['estimate'] - m['duckdb']['estimate']):.1e}, "
             f"|SE diff| = {abs(m[other]['se'] - m['duckdb']['se']):.1e}"
             for (n, c), m in pairs.items() for other in ("pandas", "dask") if {other, "duckdb"} <= set(m)]
    if diffs:
        lines += ["", "Each path vs DuckDB, same data:", ""] + [f"- {d}" for d in diffs]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
