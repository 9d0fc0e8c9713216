"""Execute every case-study notebook from scratch and collect its outputs in ``reports/``.

For each ``notebooks/NN_*.ipynb`` this script

1. runs the notebook top to bottom in a fresh kernel (cells in order, the
   stored outputs are ignored), with ``POLICYEVAL_REPORTS`` pointing at
   ``<out>/notebooks`` so the notebook writes its figures (PNG), tables
   (LaTeX and HTML) and ``headline.json`` to ``<out>/notebooks/<notebook>/``;
2. writes the executed notebook as HTML to ``<out>/notebooks/<notebook>.html``;

then prints a one-screen summary of the headline estimates next to the
simulation's truth. The stored notebooks are not modified (they are the
reference outputs ``pytest --nbval`` compares against); pass ``--inplace``
to refresh them after a deliberate change.

Usage (from the repository root)::

    MPLBACKEND=Agg .venv/bin/python notebooks/run_all.py --out reports
    MPLBACKEND=Agg .venv/bin/python notebooks/run_all.py --only 04 01

From Python (e.g. ``policyeval.demo``): ``run_all(Path("reports"))``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def notebooks(only: list[str] | None = None) -> list[Path]:
    """The case-study notebooks in order, optionally those whose name starts with ``only``."""
    found = sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) for o in only)]
        if not found:
            raise SystemExit(f"no notebook in {HERE} starts with any of {only}")
    return found


def execute(path: Path, out: Path, *, timeout: int = 600, inplace: bool = False) -> float:
    """Run one notebook in a fresh ``python3`` kernel; write its HTML. Returns seconds taken."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("POLICYEVAL_REPORTS")
    os.environ["POLICYEVAL_REPORTS"] = str((out / "notebooks").resolve())
    os.environ.setdefault("MPLBACKEND", "Agg")
    # single-threaded BLAS, as under nbval (notebooks/conftest.py): results must not depend on
    # the number of cores, since the stored outputs are compared digit for digit
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    started = time.perf_counter()
    try:
        # the kernel inherits this process's environment, so it writes under `out`
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("POLICYEVAL_REPORTS", None)
        else:
            os.environ["POLICYEVAL_REPORTS"] = env_before
    seconds = time.perf_counter() - started
    html, _ = HTMLExporter().from_notebook_node(nb)
    target = out / "notebooks" / f"{path.stem}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(html, encoding="utf-8")
    if inplace:
        nbformat.write(nb, path)
    return seconds


def summary(out: Path, timings: dict[str, float] | None = None) -> str:
    """One screen: each notebook's headline estimates beside the simulation's truth."""
    lines = ["Case-study notebooks — headline estimates (SIMULATED panel; real registry timing)",
             f"{'':2}{'quantity':<46}{'estimate':>10}{'s.e.':>9}{'truth':>9}"]
    for folder in sorted((out / "notebooks").glob("[0-9][0-9]_*")):
        head = folder / "headline.json"
        if not head.is_file():
            continue
        data = json.loads(head.read_text(encoding="utf-8"))
        took = f" [{timings[folder.name]:.0f} s]" if timings and folder.name in timings else ""
        lines.append(f"{data['title']}{took}")
        for row in data["rows"]:
            fmt = lambda v: "" if v is None else f"{v:+.4f}" if isinstance(v, float) else str(v)  # noqa: E731
            se = "" if row["std_error"] is None else f"{row['std_error']:.4f}"
            lines.append(f"{'':2}{row['quantity'][:45]:<46}{fmt(row['estimate']):>10}{se:>9}"
                         f"{fmt(row['truth']):>9}")
    lines.append(f"HTML, figures (PNG) and tables (LaTeX, HTML) in {out / 'notebooks'}/")
    return "\n".join(lines)


def run_all(out: Path = Path("reports"), only: list[str] | None = None, *, timeout: int = 600,
            inplace: bool = False, verbose: bool = True) -> dict[str, float]:
    """Execute the notebooks, write HTML/figures/tables under ``out``, print the summary."""
    out = Path(out)
    timings: dict[str, float] = {}
    for path in notebooks(only):
        if verbose:
            print(f"running {path.name} ...", flush=True)
        timings[path.stem] = execute(path, out, timeout=timeout, inplace=inplace)
    if verbose:
        print()
        print(summary(out, timings))
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports)")
    parser.add_argument("--only", nargs="*", help="notebook name prefixes, e.g. 01 04")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--inplace", action="store_true",
                        help="also overwrite the stored notebooks with the fresh outputs")
    args = parser.parse_args(argv)
    run_all(args.out, args.only, timeout=args.timeout, inplace=args.inplace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
