"""Time the issue-13 tasks for policyeval and every installed peer that implements them.

A script, not a test. Tasks (fit only, after the data are built and the modules
imported, except ``cold_start``):

==================  ===========================================================
``cs_boot``         Callaway–Sant'Anna (no covariates, never-treated controls) with a
                    999-draw Rademacher multiplier bootstrap and uniform bands, then the
                    dynamic aggregation (bootstrapped too, same seed)
``cs_dr_cov``       Callaway–Sant'Anna, doubly robust with the covariate ``x``, analytic SEs,
                    dynamic aggregation
``cs``              Callaway–Sant'Anna, no covariates, analytic SEs, dynamic aggregation
``twfe``            static TWFE, ``y ~ D | unit + year``, CR1 clustered by unit
``twfe_unbal``      the same on the panel with 10% of the rows removed (seeded)
``event_study``     TWFE event study with a dummy for every relative period (ref. -1)
``sun_abraham``     Sun–Abraham interaction-weighted event study
``imputation``      Borusyak–Jaravel–Spiess imputation, overall ATT
``cold_start``      a fresh interpreter: ``import`` plus a first small CS fit (300 x 6)
==================  ===========================================================

``PEERS`` lists, for each task, the peer calls that estimate the same numbers
(``PEER_NOTES`` says how, and which peers cannot). Every (task, tool, size) runs in
its own child process. The child reports the wall time of the timed call, its
resident memory just before the call (``data MiB``: the data and the imported
modules) and its peak during the call (the high-water mark is reset after the data
are built), and every estimate and standard error the tool reports, by term
(``e=k`` event times, ``overall`` the dynamic overall, ``simple`` the simple
aggregation, ``D`` the TWFE coefficient, ``ATT`` the imputation ATT). The parent
compares each peer with policyeval over the terms both report: the largest
absolute difference and the largest difference relative to the largest
|policyeval value|, for estimates and for SEs separately. A peer whose estimates
differ by more than ``--tol`` (relative) is flagged and not counted as comparable;
a different SE is reported in the status but does not exclude the peer.
pyfixest and moderndid compile numba kernels on first use: their call runs once on
the first 300 units before the clock starts, so that compilation is not timed.

Limits, so that one run of every task and peer at 1,000,000 x 15 fits in about
twenty minutes and cannot take the machine down:

- policyeval runs first for every task; a peer's timed call then gets
  ``clamp(--timeout-ratio x policyeval's time, --min-timeout, --timeout)`` seconds
  (``--peer-timeout TOOL=S`` lowers or raises the cap per tool); a peer still
  running after that is reported as "timeout after N s", a lower bound on its time
  that already settles the 4x question whenever N >= 4 x policyeval;
- ``--setup-timeout`` bounds the imports and data set-up of a child;
- peers run in the order of ``PEERS`` (the peer expected fastest first) across all
  tasks, and a peer is skipped ("skipped: time budget") once ``--budget`` seconds
  are spent;
- every child runs with an address-space limit (``RLIMIT_AS``, ``--as-limit-gb``)
  and is killed when its resident memory passes ``--mem-limit-gb``; both, a
  ``MemoryError`` and a SIGKILL from the kernel are reported as "out of memory".

The data (``bench_staggered.make_panel``, SIMULATED, seeded) are built once per
size and cached as ``.npy`` columns in a temporary directory that the children
load (removed at the end).

Usage (from the repository root, with an interpreter that has the peers)::

    PYTHONPATH=. python benchmarks/bench_tasks.py --sizes 100000x15 [--tasks ...] [--tools ...]
    PYTHONPATH=. python benchmarks/bench_tasks.py --sizes 1000000x15 --budget 1200 \\
        --out benchmarks/results/tasks_1m.md

Writes the table and a summary (per task: policyeval, the fastest comparable peer,
the ratio, the issue-13 goals) to ``--out`` (default ``benchmarks/results/tasks.md``)
and the raw rows to the same name with ``.jsonl``; ``--from-log FILE.jsonl``
re-renders a table from such a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))     # bench_staggered.make_panel; policyeval from PYTHONPATH

from task_calls import (  # noqa: E402  (what each tool runs for each task)
    BOOTSTRAP_TASKS,
    NOT_IMPLEMENTED,
    PEER_NOTES,
    PEERS,
    TASKS,
    _CACHE_ENV,
    _es_terms,
    _merge,
    _panel,
    _peer,
    _peer_call,
    _policyeval,
)

GOAL_SIZE = (1_000_000, 15)
GOALS = {
    "cs_boot": {"seconds": 10.0}, "cs_dr_cov": {"seconds": 4.0}, "cs": {"seconds": 0.5},
    "twfe": {"seconds": 1.5}, "twfe_unbal": {}, "event_study": {"seconds": 3.0, "over_gib": 1.5},
    "sun_abraham": {"seconds": 5.0, "over_gib": 2.0}, "imputation": {"seconds": 5.0},
    "cold_start": {"seconds": 1.5, "ratio": False},   # an absolute goal; the peers' cold starts are shown
}
GOAL_RATIO = 4.0
_MARK_ENV = "BENCH_TASKS_MARK"


# ----------------------------------------------------------------------------- child side
def _status_mb(key: str) -> float | None:
    """A memory line of /proc/self/status in MiB (None where /proc is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the process's peak RSS to the current RSS (Linux ``clear_refs``)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_mb() -> float:
    import resource

    hwm = _status_mb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _mark():
    """Tell the parent that the timed call starts (its timeout counts from here)."""
    mark = os.environ.get(_MARK_ENV)
    if mark:
        Path(mark).touch()


def _cold_start(tool):
    t0 = time.perf_counter()
    _mark()
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    years = np.arange(2001, 2007)
    g = rng.choice([0, 2003, 2005], 300)
    df = pd.DataFrame({"id": np.repeat(np.arange(300), 6), "year": np.tile(years, 300),
                       "g": np.repeat(g, 6)})
    df["y"] = rng.normal(size=len(df)) + ((df.g > 0) & (df.year >= df.g))
    if tool == "policyeval":
        import policyeval as pe

        agg = (pe.CallawaySantAnna().fit(df, yname="y", tname="year", idname="id", gname="g")
               .aggregate("dynamic"))
        out = _merge({"terms": ["overall"], "estimate": [float(agg.overall["estimate"])],
                      "se": [float(agg.overall["std_error"])]},
                     _es_terms(agg.params.index, agg.params, agg.std_errors))
    else:
        out = _peer_call(tool, "cs", df)()
    return time.perf_counter() - t0, out


def run_child(task, tool, n, T):
    import gc
    import warnings

    warnings.simplefilter("ignore")
    if task == "cold_start":
        secs, out = _cold_start(tool)
        data_mb = 0.0
    else:
        df = _panel(task, n, T)
        fn = _policyeval(task, df) if tool == "policyeval" else _peer(tool, task, df)
        gc.collect()
        _reset_peak()
        data_mb = _status_mb("VmRSS") or 0.0
        _mark()
        t0 = time.perf_counter()
        out = fn()
        secs = time.perf_counter() - t0
    peak = _peak_mb()
    if callable(out):
        out = out()
    from importlib import metadata

    dist = tool.partition(":")[0]
    try:
        version = metadata.version(dist)
    except metadata.PackageNotFoundError:
        version = sys.modules["policyeval"].__version__ if dist == "policyeval" else "?"
    return {"seconds": secs, "peak_mb": peak, "data_mb": data_mb, "vm_peak_mb": _status_mb("VmPeak"),
            "out": out, "version": version}


# ----------------------------------------------------------------------------- parent side
def _compare(ref, out):
    """Largest absolute and relative differences of estimates and SEs over the common terms."""
    import numpy as np

    common = [t for t in ref["terms"] if t in set(out.get("terms", []))]
    res = {"terms_compared": len(common)}
    if not common:
        return res
    ia = [ref["terms"].index(t) for t in common]
    ib = [out["terms"].index(t) for t in common]
    for key, name in (("estimate", "est"), ("se", "se")):
        if key not in ref or key not in out:
            continue
        a = np.array([ref[key][i] for i in ia], dtype=float)
        b = np.array([out[key][i] for i in ib], dtype=float)
        ok = np.isfinite(a) & np.isfinite(b)
        if not ok.any():
            continue
        # a value one tool reports and the other leaves NaN counts as a difference
        d = float(np.abs(a[ok] - b[ok]).max()) if (ok == np.isfinite(a)).all() else float("inf")
        res[f"{name}_abs"] = d
        res[f"{name}_rel"] = d / max(float(np.abs(a[ok]).max()), 1e-300)
    return res


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


_OOM_TEXT = ("MemoryError", "Unable to allocate", "memory allocation of", "bad_alloc",
             "Cannot allocate memory", "out of memory")


def _launch(cmd, env, compute_timeout, setup_timeout, mem_limit_gb, as_limit_gb, workdir):
    """Run one child with the limits; return (parsed JSON or {}, status, extra)."""
    mark = Path(workdir) / "mark"
    mark.unlink(missing_ok=True)
    env = dict(env, **{_MARK_ENV: str(mark)})
    out_path, err_path = Path(workdir) / "stdout", Path(workdir) / "stderr"
    as_bytes = int(as_limit_gb * 2**30)

    def limits():
        import ctypes
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
        try:       # Linux: the child gets SIGKILL when the parent dies, however it dies
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass

    with open(out_path, "w") as fo, open(err_path, "w") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, preexec_fn=limits, start_new_session=True)
        started, killed = time.monotonic(), None
        try:
            killed = _watch(p, mark, compute_timeout, setup_timeout, mem_limit_gb, started)
        finally:       # the child has its own session: an interrupted parent must not leave it running
            if p.poll() is None:
                _kill(p)
    return _result(p, killed, out_path, err_path, compute_timeout, setup_timeout, mem_limit_gb, as_limit_gb)


def _kill(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def _watch(p, mark, compute_timeout, setup_timeout, mem_limit_gb, started):
    """Poll the child: its RSS, the start of its timed call, the clock; kill it past a limit."""
    t_mark, max_kb, killed = None, 0, None
    while p.poll() is None:
        time.sleep(0.05)
        now = time.monotonic()
        max_kb = max(max_kb, _rss_kb(p.pid))
        if t_mark is None and mark.exists():
            t_mark = now
        if max_kb > mem_limit_gb * 2**20:
            killed = "memory"
        elif t_mark is not None and now - t_mark > compute_timeout:
            killed = "timeout"
        elif t_mark is None and now - started > setup_timeout:
            killed = "setup"
        if killed:
            _kill(p)
            break
    p.max_kb = max_kb
    return killed


def _result(p, killed, out_path, err_path, compute_timeout, setup_timeout, mem_limit_gb, as_limit_gb):
    extra = {"child_max_rss_mb": getattr(p, "max_kb", 0) / 1024}
    stderr = err_path.read_text(errors="replace")
    if killed == "memory":
        return {}, f"out of memory (RSS > {mem_limit_gb:g} GiB, killed)", extra
    if killed == "timeout":
        return {}, f"timeout after {compute_timeout:.3g} s", dict(extra, timeout_s=compute_timeout)
    if killed == "setup":
        return {}, f"setup (imports, data) over {setup_timeout:.0f} s", extra
    if p.returncode == 0:
        try:
            return json.loads(out_path.read_text().strip().splitlines()[-1]), "ok", extra
        except (IndexError, ValueError):
            return {}, "error: no result printed", extra
    if p.returncode == -signal.SIGKILL or any(s in stderr for s in _OOM_TEXT):
        how = "SIGKILL" if p.returncode == -signal.SIGKILL else f"address space > {as_limit_gb:g} GiB"
        return {}, f"out of memory ({how})", extra
    last = (stderr.strip().splitlines() or ["?"])[-1]
    return {}, f"error (exit {p.returncode}): {last[:100]}", extra


def _peer_status(task, cmp, tol):
    if not cmp.get("terms_compared"):
        return "no common terms", False
    if "est_rel" not in cmp:
        return "no estimates", False
    if cmp["est_rel"] > tol:
        return f"ESTIMATES DIFFER (rel {cmp['est_rel']:.1e}): not comparable", False
    if "se_rel" not in cmp:
        return "ok (no SE compared)", True
    if cmp["se_rel"] <= tol:
        return "ok", True
    if task in BOOTSTRAP_TASKS:
        return f"ok (bootstrap SEs, other draws: rel {cmp['se_rel']:.1e})", True
    return f"ok, SE DIFFERS (rel {cmp['se_rel']:.1e})", True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000x15")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--tools", default="policyeval,pyfixest,moderndid,diff-diff,csdid",
                    help="tool names (a variant such as diff-diff:two_stage runs with its tool)")
    ap.add_argument("--timeout", type=float, default=180, help="cap on a peer's timed call, seconds")
    ap.add_argument("--timeout-ratio", type=float, default=6.0,
                    help="a peer's timed call gets this many times policyeval's time ...")
    ap.add_argument("--min-timeout", type=float, default=30.0, help="... but at least this many seconds")
    ap.add_argument("--peer-timeout", action="append", default=[], metavar="TOOL=SECONDS",
                    help="per-tool cap replacing --timeout (repeatable), e.g. csdid=60")
    ap.add_argument("--policyeval-timeout", type=float, default=600)
    ap.add_argument("--setup-timeout", type=float, default=300, help="imports and data set-up of a child")
    ap.add_argument("--budget", type=float, default=1200,
                    help="total seconds; peers not started by then are skipped (0: no budget)")
    ap.add_argument("--mem-limit-gb", type=float, default=16.0, help="kill a child whose RSS passes this (GiB)")
    ap.add_argument("--as-limit-gb", type=float, default=20.0, help="RLIMIT_AS of every child (GiB)")
    ap.add_argument("--tol", type=float, default=1e-8, help="relative tolerance for equal estimates")
    ap.add_argument("--peer-python", default=sys.executable)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "tasks.md"))
    ap.add_argument("--policyeval-path", default=str(ROOT),
                    help="checkout whose policyeval is timed (e.g. another branch, for before/after)")
    ap.add_argument("--from-log", help="re-render --out from the .jsonl a previous run wrote")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        task, tool, n, T = args.child.split(":", 1)[0], *args.child.split(":", 1)[1].rsplit(":", 2)
        print(json.dumps(run_child(task, tool, int(n), int(T))))
        return
    if args.from_log:
        lines = [json.loads(s) for s in Path(args.from_log).read_text().splitlines() if s.strip()]
        meta = {}
        for r in lines:          # the first meta line is written at the start, the last at the end
            if r.get("meta"):
                meta.update(r)
        meta["rendered_from"] = args.from_log
        write([r for r in lines if not r.get("meta")], args, meta)
        return
    run(args)


def run(args):
    tools = set(args.tools.split(","))
    caps = {k: float(v) for k, v in (s.split("=") for s in args.peer_timeout)}
    tasks = [t for t in args.tasks.split(",") if t]
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise SystemExit(f"unknown task(s) {unknown}; choose from {TASKS}")
    sizes = [tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")]
    meta = {"meta": True, "command": "python benchmarks/bench_tasks.py " + " ".join(sys.argv[1:]),
            "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_start": os.getloadavg()[0], "policyeval_path": args.policyeval_path,
            "python": sys.executable, "peer_python": args.peer_python}
    jsonl = Path(args.out).with_suffix(".jsonl")
    jsonl.parent.mkdir(parents=True, exist_ok=True)
    log = open(jsonl, "w")
    log.write(json.dumps(meta) + "\n")
    t_start = time.monotonic()
    cache = tempfile.mkdtemp(prefix="bench_tasks_")
    env = dict(os.environ, PYTHONPATH=f"{args.policyeval_path}{os.pathsep}{ROOT / 'benchmarks'}",
               MPLBACKEND="Agg", **{_CACHE_ENV: cache})
    rows, ref = [], {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))    # run the clean-up below on kill -TERM

    def cell(task, tool, n, T, timeout):
        py = sys.executable if tool == "policyeval" else args.peer_python
        cmd = [py, __file__, "--child", f"{task}:{tool}:{n}:{T}"]
        r, status, extra = _launch(cmd, env, timeout, args.setup_timeout, args.mem_limit_gb,
                                   args.as_limit_gb, cache)
        row = {"size": f"{n:,} x {T}", "n": n, "T": T, "task": task, "tool": tool, "status": status,
               "elapsed_run_s": round(time.monotonic() - t_start, 1), **extra, **r}
        if r and tool != "policyeval" and (task, n, T) in ref:
            cmp = _compare(ref[(task, n, T)], r["out"])
            row.update(cmp)
            row["status"], row["comparable"] = _peer_status(task, cmp, args.tol)
        elif r and tool != "policyeval":
            row["status"], row["comparable"] = "ok (no policyeval result to compare)", False
        rows.append(row)
        log.write(json.dumps(row) + "\n")
        log.flush()
        print(json.dumps({k: v for k, v in row.items() if k != "out"}), flush=True)
        return row

    try:
        # 1. policyeval, every task (never skipped)
        for n, T in sizes:
            for task in tasks:
                if "policyeval" in tools:
                    row = cell(task, "policyeval", n, T, args.policyeval_timeout)
                    if row["status"] == "ok":
                        ref[(task, n, T)] = row["out"]
        # 2. peers, round by round: every task's first peer, then every task's second peer, ...
        for rnd in range(max(len(p) for p in PEERS.values())):
            for n, T in sizes:
                for task in tasks:
                    if rnd >= len(PEERS[task]):
                        continue
                    tool = PEERS[task][rnd]
                    if tool.partition(":")[0] not in tools and tool not in tools:
                        continue
                    t_pe = next((r["seconds"] for r in rows if r["tool"] == "policyeval" and r["task"] == task
                                 and r["n"] == n and r.get("seconds") is not None), None)
                    cap = caps.get(tool, caps.get(tool.partition(":")[0], args.timeout))
                    timeout = cap if t_pe is None else min(cap, max(args.min_timeout, args.timeout_ratio * t_pe))
                    left = args.budget - (time.monotonic() - t_start) if args.budget else float("inf")
                    if left < args.min_timeout:
                        row = {"size": f"{n:,} x {T}", "n": n, "T": T, "task": task, "tool": tool,
                               "status": f"skipped: time budget ({args.budget:.0f} s) spent"}
                        rows.append(row)
                        log.write(json.dumps(row) + "\n")
                        print(json.dumps(row), flush=True)
                        continue
                    cell(task, tool, n, T, min(timeout, left))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
        meta.update(load_end=os.getloadavg()[0], total_s=round(time.monotonic() - t_start, 1),
                    finished=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
        log.write(json.dumps(meta) + "\n")
        log.close()
    write(rows, args, meta)


# ----------------------------------------------------------------------------- report
def _f(v, fmt):
    return "" if v is None else fmt.format(v)


def _summary(rows, tol):
    """Per (size, task): policyeval, the fastest comparable peer, the ratio and the goals."""
    lines = [
        "| size | task | policyeval s | over data MiB | fastest comparable peer | its s (over data MiB) | ratio | "
        "estimates / SEs vs that peer (rel) | slower or failed peers | time goal | memory goal | "
        f">= {GOAL_RATIO:g}x | goals met |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: | --- | --- | --- | --- | --- | --- |",
    ]
    keys = list(dict.fromkeys((r["size"], r["n"], r["T"], r["task"]) for r in rows))
    for size, n, T, task in keys:
        group = [r for r in rows if r["size"] == size and r["task"] == task]
        pe = next((r for r in group if r["tool"] == "policyeval"), None)
        if pe is None or pe.get("seconds") is None:
            lines.append(f"| {size} | {task} | {pe['status'] if pe else 'not run'} | | | | | | | | | | |")
            continue
        t_pe, over = pe["seconds"], pe["peak_mb"] - pe["data_mb"]
        peers = [r for r in group if r["tool"] != "policyeval"]
        comp = sorted((r for r in peers if r.get("comparable") and r.get("seconds") is not None),
                      key=lambda r: r["seconds"])
        best = comp[0] if comp else None
        ratio = best["seconds"] / t_pe if best else None
        others, unresolved = [], []
        for r in peers:
            if r is best:
                continue
            if r.get("seconds") is not None:
                flag = "" if r.get("comparable") else " (not comparable)"
                others.append(f"{r['tool']} {r['seconds']:.1f} s{flag}")
            else:
                others.append(f"{r['tool']}: {r['status']}")
                if r.get("timeout_s") is not None and r["timeout_s"] < GOAL_RATIO * t_pe:
                    unresolved.append(r["tool"])
                elif r["status"].startswith(("skipped", "setup", "error")):
                    unresolved.append(r["tool"])
        goal = GOALS.get(task, {})
        at_goal_size = (n, T) == GOAL_SIZE or task == "cold_start"     # cold_start: always 300 x 6
        verdicts = []
        if "seconds" in goal:
            ok_t = t_pe <= goal["seconds"]
            time_goal = f"<= {goal['seconds']:g} s: " + (("yes" if ok_t else "NO") if at_goal_size else "(1M goal)")
            verdicts.append(ok_t)
        else:
            time_goal = "none"
        if "over_gib" in goal:
            ok_m = over <= goal["over_gib"] * 1024
            mem_goal = f"<= {goal['over_gib']:g} GiB: " + (("yes" if ok_m else "NO") if at_goal_size else "(1M goal)")
            verdicts.append(ok_m)
        else:
            mem_goal = ""
        if best is not None and ratio < GOAL_RATIO:
            ok_r, ratio_txt = False, "NO"
        elif unresolved:
            ok_r, ratio_txt = None, "undetermined (" + ", ".join(unresolved) + ")"
        elif best is None and not peers:
            ok_r, ratio_txt = None, "no peer"
        else:
            ok_r, ratio_txt = True, "yes" if best else "yes (no peer finished)"
        if goal.get("ratio", True):
            verdicts.append(ok_r)
        else:
            ratio_txt += " (not a goal)"
        if not at_goal_size:
            met = "(goals are for 1M x 15)"
        elif None in verdicts:
            met = "undetermined"
        else:
            met = "yes" if all(verdicts) else "NO"
        agree, best_txt = "", ""
        if best is not None:
            best_txt = f"{best['seconds']:.2f} ({best['peak_mb'] - best['data_mb']:.0f})"
            agree = f"{best.get('est_rel', float('nan')):.0e} / " + (
                f"{best['se_rel']:.0e}" if best.get("se_rel") is not None else "no SE")
        lines.append(
            f"| {size} | {task} | {t_pe:.2f} | {over:.0f} | {best['tool'] if best else '—'} | "
            f"{best_txt} | {_f(ratio, '{:.1f}x')} | {agree} | "
            f"{'; '.join(others) or '—'} | {time_goal} | {mem_goal} | {ratio_txt} | {met} |")
    return lines


def write(rows, args, meta):
    from importlib import metadata

    lines = [
        "# Issue 13 tasks: policyeval and peers",
        "",
        f"Command: `{meta.get('command', 'python benchmarks/bench_tasks.py')}`, started "
        f"{meta.get('started', '?')}, finished {meta.get('finished', '?')} ({meta.get('total_s', '?')} s), "
        f"policyeval from `{meta.get('policyeval_path', args.policyeval_path)}`, peers run by "
        f"`{meta.get('peer_python', args.peer_python)}`; {platform.machine()}, {os.cpu_count()} cores "
        f"shared with other jobs (load average {meta.get('load_start', float('nan')):.1f} at the start, "
        f"{meta.get('load_end', float('nan')):.1f} at the end), Python {platform.python_version()}. "
        "Data: SIMULATED, seeded (`bench_staggered.make_panel`; 4-5 cohorts, ~1/6 never treated)."
        + (f" Tables re-rendered from `{meta['rendered_from']}` (`--from-log`), with the notes of the "
           "current script." if meta.get("rendered_from") else ""),
        "",
        "`seconds`: the timed call only (cold_start: imports plus a first 300 x 6 CS fit in a fresh "
        "interpreter). `data MiB`: the child's resident memory just before the call; `over data`: "
        "its peak during the call minus that (the high-water mark is reset after the set-up). "
        "`terms`: estimates compared with policyeval's (event times, overall, simple, D, ATT); "
        "`est`/`SE` diff: the largest absolute difference and that divided by the largest "
        f"|policyeval value|. Peers whose estimates differ by more than {args.tol:g} (relative) are "
        "not comparable. A timeout is a lower bound on the peer's time (it settles the 4x question "
        "when it is at least 4x policyeval's time).",
        "",
        "## Summary",
        "",
        *_summary(rows, args.tol),
        "",
        "## Every run",
        "",
        "| size | task | tool | seconds | data MiB | over data MiB | terms | est diff (abs / rel) | "
        "SE diff (abs / rel) | status |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in rows:
        over = r["peak_mb"] - r["data_mb"] if r.get("peak_mb") is not None else None
        if over is None and r.get("child_max_rss_mb"):
            over_txt = f"(max RSS {r['child_max_rss_mb']:.0f})"
        else:
            over_txt = _f(over, "{:.0f}")
        est = (f"{r['est_abs']:.1e} / {r['est_rel']:.1e}" if r.get("est_abs") is not None else "")
        se = (f"{r['se_abs']:.1e} / {r['se_rel']:.1e}" if r.get("se_abs") is not None else "")
        lines.append(
            f"| {r['size']} | {r['task']} | {r['tool']} {r.get('version', '')} | {_f(r.get('seconds'), '{:.2f}')} | "
            f"{_f(r.get('data_mb'), '{:.0f}')} | {over_txt} | {_f(r.get('terms_compared'), '{}')} | {est} | {se} | "
            f"{r['status']} |")
    lines += ["", "## How each peer is called", ""]
    seen = list(dict.fromkeys((r["task"], r["tool"]) for r in rows if r["tool"] != "policyeval"))
    for task, tool in seen:
        note = PEER_NOTES.get((task, tool), "")
        if note:
            lines.append(f"- {task}, {tool}: {note}.")
    lines += [f"- Not run: {NOT_IMPLEMENTED}", ""]
    versions = []
    for dist in ("numpy", "pandas", "scipy", "pyfixest", "moderndid", "diff-diff", "csdid"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} (not in this interpreter)")
    lines += ["Versions (parent interpreter): " + ", ".join(versions) + "."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
