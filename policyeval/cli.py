"""Command line: a thin layer over the public API.

Examples
--------
$ policyeval estimate panel.csv --y log_gdp --id county_code --time year \\
      --group first_treat --method cs --aggregate dynamic --out results/
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

__all__ = ["main"]

METHODS = {
    "cs": "Callaway & Sant'Anna (2021)",
    "twfe": "two-way fixed effects",
    "event-study": "TWFE event study",
    "sunab": "Sun & Abraham (2021)",
    "bjs": "Borusyak, Jaravel & Spiess (2024) imputation",
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policyeval", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    est = sub.add_parser("estimate", help="estimate a staggered DiD from a long panel file")
    est.add_argument("data", type=Path, help="long panel: .csv, .parquet or .xlsx")
    est.add_argument("--y", required=True, dest="yname", help="outcome column")
    est.add_argument("--id", required=True, dest="idname", help="unit id column")
    est.add_argument("--time", required=True, dest="tname", help="period column (integer)")
    est.add_argument("--group", required=True, dest="gname",
                     help="first treated period; 0 or empty for never treated")
    est.add_argument("--method", choices=sorted(METHODS), default="cs")
    est.add_argument("--aggregate", choices=["simple", "group", "calendar", "dynamic"],
                     default="dynamic", help="aggregation for --method cs")
    est.add_argument("--control-group", choices=["never_treated", "not_yet_treated"],
                     default="never_treated", help="comparison units for --method cs")
    est.add_argument("--covariates", nargs="*", default=None, help="covariate columns (cs)")
    est.add_argument("--cluster", default=None, help="cluster column (default: unit)")
    est.add_argument("--out", type=Path, default=Path("policyeval-output"),
                     help="folder for the table (CSV, LaTeX) and the plot (PNG)")
    return parser


def _estimate(args: argparse.Namespace):
    import policyeval as pe

    panel = pe.read_panel(args.data, idname=args.idname, tname=args.tname)
    cols = dict(yname=args.yname, tname=args.tname, idname=args.idname)
    if args.method == "cs":
        res = pe.CallawaySantAnna(control_group=args.control_group, cluster=args.cluster).fit(
            panel, gname=args.gname, covariates=args.covariates, **cols)
        return res.aggregate(args.aggregate)
    if args.method == "twfe":
        return pe.TWFE(cluster=args.cluster or args.idname).fit(panel, gname=args.gname, **cols)
    if args.method == "event-study":
        return pe.EventStudy(cluster=args.cluster or args.idname).fit(panel, gname=args.gname, **cols)
    if args.method == "sunab":
        return pe.SunAbraham(cluster=args.cluster or args.idname).fit(panel, gname=args.gname, **cols)
    return pe.ImputationDiD(cluster=args.cluster).fit(panel, gname=args.gname, **cols)


def _check_out(out: Path) -> None:
    """Raise :class:`ArgumentValueError` unless ``--out`` is (or can become) a writable folder.

    Checked before estimating, so a long fit is not lost to a typo in the path.
    Nothing is created here; the folder is made after the estimate succeeds.
    """
    from policyeval.exceptions import ArgumentValueError

    if out.exists() and not out.is_dir():
        raise ArgumentValueError(f"--out {str(out)!r} is a file, not a folder")
    probe = out
    while not probe.exists():               # the nearest existing ancestor must be writable
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir():
        raise ArgumentValueError(f"--out {str(out)!r} cannot be created: {str(probe)!r} is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ArgumentValueError(f"--out {str(out)!r} is not writable ({str(probe)!r} does not "
                                 "allow writing)")


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``policyeval`` command.

    Returns 0 on success and 2 on a user error (a
    :class:`~policyeval.exceptions.PolicyevalError`: bad data, bad options, an
    unwritable ``--out``), which is printed as one line on stderr without a
    traceback; argparse exits with 2 for malformed command lines as well.
    """
    args = _build_parser().parse_args(argv)
    from policyeval.exceptions import PolicyevalError

    try:
        _check_out(args.out)
        result = _estimate(args)
    except (PolicyevalError, FileNotFoundError) as err:
        print(f"policyeval: error: {_one_line(err)}", file=sys.stderr)
        return 2
    print(result.summary())
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        print(f"policyeval: error: cannot create --out {str(args.out)!r}: {_one_line(err)}",
              file=sys.stderr)
        return 2
    stem = f"{args.method}_{args.yname}"
    result.to_frame().to_csv(args.out / f"{stem}.csv", index=False)
    (args.out / f"{stem}.tex").write_text(result.summary().as_latex(), encoding="utf-8")
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot()
    ax.figure.savefig(args.out / f"{stem}.png", dpi=150, bbox_inches="tight")
    print(f"wrote {stem}.csv, {stem}.tex and {stem}.png to {args.out}/")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
