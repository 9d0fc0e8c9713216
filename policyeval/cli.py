"""Command line: a thin layer over the public API.

Examples
--------
$ policyeval estimate panel.csv --y log_gdp --id county_code --time year \\
      --group first_treat --method cs --aggregate dynamic --min-e -5 --max-e 5 \\
      --control-group not_yet_treated --n-bootstrap 999 --uniform --random-state 1 --out results/

Every Callaway–Sant'Anna option has a flag (``--control-group``,
``--est-method``, ``--base-period``, ``--anticipation``, ``--min-e`` /
``--max-e`` / ``--balance-e``, ``--n-bootstrap``, ``--bootstrap-weights``,
``--uniform``, ``--level``, ``--random-state``, ``--covariates``, ``--cluster``,
``--allow-unbalanced-panel``, ``--repeated-cross-sections``, ``--trim-level``). ``--aggregate`` means the
same for every method, which uses it or refuses it by name. Files are written
only into ``--out`` (nothing is written without it); warnings are printed as
one line each on stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

__all__ = ["main", "METHODS", "AGGREGATIONS"]

METHODS = {
    "cs": "Callaway & Sant'Anna (2021)",
    "twfe": "two-way fixed effects",
    "event-study": "TWFE event study",
    "sunab": "Sun & Abraham (2021)",
    "bjs": "Borusyak, Jaravel & Spiess (2024) imputation",
}

#: What ``--aggregate`` asks for, whatever the method.
AGGREGATIONS = {
    "simple": "one overall ATT over all treated cells",
    "dynamic": "one effect per event time e = t - g",
    "group": "one effect per cohort (first treated period)",
    "calendar": "one effect per calendar period",
    "none": "no aggregation: every ATT(g,t) (cs only)",
}
# Which --aggregate values each method supports; the first is its default.
_SUPPORTED = {
    "cs": ("dynamic", "simple", "group", "calendar", "none"),
    "twfe": ("simple",),
    "event-study": ("dynamic",),
    "sunab": ("dynamic", "simple", "group"),
    "bjs": ("simple", "dynamic"),
}
_SUNAB_KIND = {"dynamic": "period", "simple": "att", "group": "cohort"}
# Options only Callaway-Sant'Anna uses: flag -> argparse dest.
_CS_ONLY = {"--control-group": "control_group", "--est-method": "est_method",
            "--base-period": "base_period", "--n-bootstrap": "n_bootstrap",
            "--bootstrap-weights": "bootstrap_weights", "--uniform": "uniform",
            "--balance-e": "balance_e", "--random-state": "random_state",
            "--allow-unbalanced-panel": "allow_unbalanced_panel",
            "--repeated-cross-sections": "repeated_cross_sections", "--trim-level": "trim_level"}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policyeval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser(
        "estimate", help="estimate a staggered DiD from a long panel file",
        description="Estimate a staggered difference-in-differences from a long panel file; print "
                    "the summary and, with --out, write a CSV table, a LaTeX table and a PNG plot.")
    est.add_argument("data", type=Path, help="long panel: .csv, .parquet or .xlsx")
    cols = est.add_argument_group("columns")
    cols.add_argument("--y", required=True, dest="yname", help="outcome column")
    cols.add_argument("--id", required=True, dest="idname", help="unit id column")
    cols.add_argument("--time", required=True, dest="tname", help="period column (integer)")
    cols.add_argument("--group", required=True, dest="gname",
                      help="first treated period; 0 or empty for never treated")
    cols.add_argument("--covariates", nargs="*", default=None, help="covariate columns (cs)")
    cols.add_argument("--cluster", default=None, help="cluster column (default: unit)")

    what = est.add_argument_group("estimator and aggregation")
    what.add_argument("--method", choices=sorted(METHODS), default="cs",
                      help="; ".join(f"{k}: {v}" for k, v in METHODS.items()))
    what.add_argument("--aggregate", choices=list(AGGREGATIONS), default=None,
                      help="; ".join(f"{k}: {v}" for k, v in AGGREGATIONS.items())
                      + ". Default: dynamic for cs, event-study and sunab, simple for twfe and bjs; "
                        "a method that cannot aggregate as asked refuses with the choices it has")
    what.add_argument("--min-e", type=int, default=None,
                      help="first event time shown (cs, event-study, sunab dynamic)")
    what.add_argument("--max-e", type=int, default=None,
                      help="last event time shown (cs also caps simple/group with it; bjs dynamic)")
    what.add_argument("--anticipation", type=int, default=None,
                      help="periods of anticipation before treatment (cs, bjs); default 0")
    what.add_argument("--level", type=float, default=0.95, help="confidence level (default 0.95)")

    cs = est.add_argument_group("Callaway-Sant'Anna options (--method cs)")
    cs.add_argument("--control-group", choices=["never_treated", "not_yet_treated"], default=None,
                    help="comparison units (default never_treated)")
    cs.add_argument("--est-method", choices=["dr", "ipw", "reg", "dr_imp"], default=None,
                    help="doubly robust, inverse probability weighting, outcome regression, or "
                         "doubly robust with improved (Sant'Anna-Zhao) weights (default dr)")
    cs.add_argument("--base-period", choices=["varying", "universal"], default=None,
                    help="pre-treatment comparisons against t-1 (varying) or g-1 (universal)")
    cs.add_argument("--balance-e", type=int, default=None,
                    help="dynamic: keep cohorts observed for e = 0..balance_e")
    cs.add_argument("--n-bootstrap", type=int, default=None,
                    help="multiplier-bootstrap draws (default 0: analytic standard errors)")
    cs.add_argument("--bootstrap-weights", choices=["rademacher", "mammen"], default=None,
                    help="multiplier distribution of the bootstrap")
    cs.add_argument("--uniform", action="store_true", default=None,
                    help="add simultaneous (uniform) bands to the table and plot; needs --n-bootstrap")
    cs.add_argument("--random-state", type=int, default=None, help="seed of the bootstrap")
    cs.add_argument("--allow-unbalanced-panel", action="store_true", default=None,
                    help="keep units not observed in every period")
    cs.add_argument("--repeated-cross-sections", action="store_true", default=None,
                    help="the rows are repeated cross-sections, not a panel (--id may repeat)")
    cs.add_argument("--trim-level", type=float, default=None,
                    help="controls with a propensity score above this get zero weight (ipw, dr; "
                         "default 0.995)")

    est.add_argument("--out", type=Path, default=None,
                     help="folder for the table (CSV, LaTeX) and the plot (PNG); created if "
                          "missing. Without it nothing is written")
    est.add_argument("--progress", action="store_true", help="show the bootstrap progress bar")
    return parser


def _usage_error(message: str):
    from policyeval.exceptions import ArgumentValueError

    return ArgumentValueError(message)


def _check_options(args: argparse.Namespace) -> str:
    """Refuse options the chosen method does not use; return the aggregation to run."""
    aggregate = args.aggregate or _SUPPORTED[args.method][0]
    if aggregate not in _SUPPORTED[args.method]:
        hint = {"twfe": " (use --method event-study for dynamic effects)",
                "event-study": " (use --method twfe for one overall coefficient)"}.get(args.method, "")
        raise _usage_error(f"--aggregate {aggregate} is not available for --method {args.method}; "
                           f"it supports {', '.join(_SUPPORTED[args.method])}{hint}")
    if args.method != "cs":
        given = [flag for flag, dest in _CS_ONLY.items() if getattr(args, dest) is not None]
        if args.covariates is not None:
            given.append("--covariates")
        if given:
            raise _usage_error(f"{', '.join(given)} only apply to --method cs, not --method {args.method}")
    if args.anticipation is not None and args.method not in ("cs", "bjs"):
        raise _usage_error(f"--anticipation applies to --method cs and bjs, not {args.method}")
    window = args.min_e is not None or args.max_e is not None
    if window and (aggregate != "dynamic" and not (args.method == "cs" and aggregate in ("simple", "group")
                                                   and args.min_e is None)):
        raise _usage_error(f"--min-e/--max-e need --aggregate dynamic (cs also takes --max-e with "
                           f"simple and group), not --aggregate {aggregate}")
    if args.method == "bjs" and args.min_e is not None and args.min_e < 0:
        raise _usage_error("--method bjs estimates no pre-treatment event times (--min-e < 0); "
                           "its pre-trend test is policyeval.ImputationDiD(pretrends=...)")
    if args.balance_e is not None and aggregate != "dynamic":
        raise _usage_error(f"--balance-e needs --aggregate dynamic, not {aggregate}")
    if args.uniform and not args.n_bootstrap:
        raise _usage_error("--uniform needs a bootstrap: add --n-bootstrap N (e.g. 999)")
    if not 0 < args.level < 1:
        raise _usage_error(f"--level {args.level} must lie strictly between 0 and 1")
    return aggregate


def _estimate(args: argparse.Namespace, panel, aggregate: str):
    import policyeval as pe

    cols = dict(yname=args.yname, tname=args.tname, idname=args.idname, gname=args.gname)
    cluster = args.cluster or args.idname
    if args.method == "cs":
        options = dict(control_group=args.control_group, method=args.est_method,
                       base_period=args.base_period, anticipation=args.anticipation,
                       n_bootstrap=args.n_bootstrap, bootstrap_weights=args.bootstrap_weights,
                       random_state=args.random_state, allow_unbalanced_panel=args.allow_unbalanced_panel,
                       panel=None if args.repeated_cross_sections is None else False,
                       trim_level=args.trim_level)
        options = {k: v for k, v in options.items() if v is not None}
        gt = pe.CallawaySantAnna(level=args.level, progress=args.progress, **options).fit(
            panel, covariates=args.covariates, cluster=args.cluster, **cols)
        if aggregate == "none":
            return gt
        return gt.aggregate(aggregate, min_e=args.min_e, max_e=args.max_e, balance_e=args.balance_e)
    if args.method == "twfe":
        return pe.TWFE(cluster=cluster).fit(panel, **cols)
    if args.method == "event-study":
        if args.min_e is not None or args.max_e is not None:
            lo = -5 if args.min_e is None else args.min_e
            hi = 5 if args.max_e is None else args.max_e
            return pe.EventStudy(cluster=cluster, window=(lo, hi)).fit(panel, **cols)
        return pe.EventStudy(cluster=cluster).fit(panel, **cols)
    if args.method == "sunab":
        res = pe.SunAbraham(cluster=cluster).fit(panel, **cols)
        if aggregate == "dynamic":
            if args.min_e is None and args.max_e is None:
                return res
            return _event_window(res, args.min_e, args.max_e)
        return _sunab_aggregate(res, aggregate)
    horizons = None
    if aggregate == "dynamic":
        horizons = True if args.max_e is None else list(range(args.min_e or 0, args.max_e + 1))
    return pe.ImputationDiD(cluster=args.cluster, horizons=horizons,
                            anticipation=args.anticipation or 0).fit(panel, **cols)


def _sunab_aggregate(res, aggregate: str):
    """Sun-Abraham's aggregation under the shared name, or under its older one (att / cohort)."""
    from policyeval.exceptions import ArgumentValueError

    try:
        return res.aggregate(aggregate)
    except ArgumentValueError:
        return res.aggregate(_SUNAB_KIND[aggregate])


def _event_window(res, min_e, max_e):
    """The event times of a result inside [min_e, max_e] (a view for display; nothing refitted)."""
    from policyeval.results.base import EstimationResult

    terms = res.params.index.to_numpy()
    keep = (terms >= (-float("inf") if min_e is None else min_e)) & \
        (terms <= (float("inf") if max_e is None else max_e))
    sub = res.params.index[keep]
    vcov = res.vcov.loc[sub, sub] if res.vcov is not None else None
    return EstimationResult(res.params[sub], res.std_errors[sub], nobs=res.nobs, n_units=res.n_units,
                            spec=dict(res.spec, min_e=min_e, max_e=max_e), estimator=res.estimator,
                            vcov=vcov, df_resid=res.df_resid, index_name=res.index_name,
                            extra={k: v for k, v in res.extra.items()
                                   if k in ("reference_period", "notes", "vcov_type", "n_clusters")})


def _check_out(out: Path) -> None:
    """Raise :class:`ArgumentValueError` unless ``--out`` is (or can become) a writable folder.

    Checked before estimating, so a long fit is not lost to a typo in the path.
    Nothing is created here; the folder is made after the estimate succeeds.
    """
    if out.exists() and not out.is_dir():
        raise _usage_error(f"--out {str(out)!r} is a file, not a folder")
    probe = out
    while not probe.exists():               # the nearest existing ancestor must be writable
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise _usage_error(f"--out {str(out)!r} cannot be created: {str(probe)!r} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise _usage_error(f"--out {str(out)!r} is not writable ({str(probe)!r} does not allow writing)")


def _one_line(err) -> str:
    return " ".join(str(err).split())


def _warning_printer():
    """A ``warnings.showwarning`` that prints each distinct warning once, as one line, no source line."""
    seen: set[tuple[str, str]] = set()

    def show(message, category, filename, lineno, file=None, line=None):
        key = (category.__name__, _one_line(message))
        if key not in seen:
            seen.add(key)
            print(f"policyeval: warning: {key[0]}: {key[1]}", file=sys.stderr)

    return show


def _write_outputs(result, args, aggregate: str, simulated: bool) -> list[Path]:
    """CSV, LaTeX and PNG into ``--out`` (and nowhere else); return the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from policyeval.reporting import export_csv, results_table

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    stem = f"{args.method}_{aggregate}_{args.yname}"
    frame = result.to_frame(args.level)
    if not args.uniform:
        frame = frame.drop(columns=[c for c in ("uniform_low", "uniform_high") if c in frame])
    written = [export_csv(frame, out / f"{stem}.csv", simulated=simulated or None)]
    notes = list(result.summary(args.level).notes) if hasattr(result, "summary") else []
    table = results_table([result], labels=[METHODS[args.method]], digits=4, simulated=simulated or None,
                          notes=notes, caption=f"{args.yname}: {METHODS[args.method]}, {aggregate}")
    tex = out / f"{stem}{'_SIMULATED' if table.simulated else ''}.tex"
    tex.write_text(table.to_latex(), encoding="utf-8")
    written.append(tex)
    if args.method == "cs" and aggregate == "none":
        ax = result.plot(level=args.level)
    else:
        from policyeval.plots import plot_estimates

        ax = plot_estimates(result, level=args.level, uniform=bool(args.uniform),
                            label=METHODS[args.method], simulated=simulated or None)
    png = out / f"{stem}{'_SIMULATED' if table.simulated else ''}.png"
    ax.figure.savefig(png, dpi=150, bbox_inches="tight")
    plt.close(ax.figure)
    written.append(png)
    return written


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``policyeval`` command.

    Returns 0 on success and 2 on a user error (a
    :class:`~policyeval.exceptions.PolicyevalError`: bad data, bad options, an
    option the method does not use, an unwritable ``--out``), which is
    printed as one line on stderr without a traceback; argparse exits with 2
    for malformed command lines as well. Warnings are printed as one line each
    (``policyeval: warning: <Class>: <message>``), without source lines.
    """
    args = _build_parser().parse_args(argv)
    from policyeval.data.simulated_label import is_simulated
    from policyeval.exceptions import PolicyevalError

    with warnings.catch_warnings():
        warnings.showwarning = _warning_printer()
        try:
            aggregate = _check_options(args)
            if args.out is not None:
                _check_out(args.out)
            import policyeval as pe

            panel = pe.read_panel(args.data, idname=args.idname, tname=args.tname)
            result = _estimate(args, panel, aggregate)
        except (PolicyevalError, FileNotFoundError) as err:
            print(f"policyeval: error: {_one_line(err)}", file=sys.stderr)
            return 2
        print(result.summary(args.level) if "level" in _params(result.summary) else result.summary())
        if args.out is None:
            print("no files written (add --out DIR for the CSV, LaTeX and PNG)")
            return 0
        try:
            written = _write_outputs(result, args, aggregate, is_simulated(panel))
        except OSError as err:
            print(f"policyeval: error: cannot write to --out {str(args.out)!r}: {_one_line(err)}",
                  file=sys.stderr)
            return 2
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}/")
    return 0


def _params(func) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return set()


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
