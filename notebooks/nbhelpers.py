"""Plumbing shared by the case-study notebooks (not part of the policyeval API).

What lives here is bookkeeping, not econometrics: where outputs go, how
warnings are shown so that nbval compares them deterministically, how the
simulation's truth is averaged over the units a notebook actually uses, and
how headline numbers are written for ``run_all.py``'s summary.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SIMULATED = "SIMULATED data (policyeval's calibrated simulator, seeded) — not real statistics"
SEED = 20240601  # one seed for every random draw in the notebooks


def reports_dir(notebook: str) -> Path:
    """Folder for this notebook's tables and figures.

    ``$POLICYEVAL_REPORTS/<notebook>`` when the variable is set (``run_all.py``
    and ``make demo`` set it to ``reports/notebooks``), else
    ``../reports/notebooks/<notebook>`` relative to the notebooks folder.
    """
    root = Path(os.environ.get("POLICYEVAL_REPORTS", Path(__file__).resolve().parent.parent
                               / "reports" / "notebooks"))
    out = root / notebook
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextlib.contextmanager
def echo_warnings(label: str = ""):
    """Run a block and print its warnings to stdout, once each, in order.

    Warnings go to stderr by default, where their text depends on the call
    site and on the order in which a kernel first saw them; printing them
    here keeps the notebook honest (every dropped row is reported) and
    keeps the stored output identical from run to run.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = []
    for w in caught:
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning)):
            continue  # library housekeeping, version dependent, not about the data
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.append(text)
    for text in seen:
        print(f"[{label}] {text}" if label else text)


def save_table(table, out: Path, stem: str, note: str = SIMULATED) -> list[str]:
    """Write a ``ResultsTable`` (or DataFrame) as LaTeX and HTML; return the file names."""
    if isinstance(table, pd.DataFrame):
        latex, html = table.to_latex(float_format="%.4f"), table.to_html(float_format="%.4f")
    else:
        latex, html = table.to_latex(), table.to_html()
    (out / f"{stem}.tex").write_text(f"% {note}\n{latex}", encoding="utf-8")
    (out / f"{stem}.html").write_text(f"<p><b>{note}</b></p>\n{html}", encoding="utf-8")
    return [f"{stem}.tex", f"{stem}.html"]


def save_figure(fig, out: Path, stem: str) -> str:
    """Save a figure as PNG (150 dpi); return the file name."""
    fig.savefig(out / f"{stem}.png", dpi=150, bbox_inches="tight")
    return f"{stem}.png"


def write_headline(out: Path, title: str, rows: list[dict]) -> pd.DataFrame:
    """Store the notebook's headline estimates for ``run_all.py`` and return them as a table.

    Each row: ``quantity``, ``estimate``, ``std_error`` (or NaN), ``truth`` (or NaN).
    Numbers are rounded to 4 decimals, which is also what nbval compares.
    """
    frame = pd.DataFrame(rows, columns=["quantity", "estimate", "std_error", "truth"])
    frame[["estimate", "std_error", "truth"]] = frame[["estimate", "std_error", "truth"]].astype(float).round(4)
    payload = {"title": title, "rows": json.loads(frame.to_json(orient="records"))}
    (out / "headline.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return frame


def truth_for_sample(truth: pd.DataFrame, sample: pd.DataFrame, **kwargs) -> tuple[pd.Series, float]:
    """The simulation's truth for a sample's estimand: :func:`policyeval.design.truth.truth_for_sample`."""
    from policyeval.design.truth import truth_for_sample as in_package

    return in_package(truth, sample, **kwargs)


def add_ratio_truth(truth: pd.DataFrame, numerator: str, denominator: str, name: str) -> pd.DataFrame:
    """Append the true effect on ``log(numerator / denominator)`` to the truth table.

    The truth stores mean effects on log outcomes per cohort and event time,
    over the same units for every outcome, so the effect on a log ratio such
    as log 亩均增加值 = log VA − log land is the difference of the two rows.
    Only ``cohort_event`` rows are built (what :func:`truth_for_sample` uses).
    """
    keys = ["role", "cohort", "event_time"]
    cells = truth[truth["aggregation"] == "cohort_event"]
    num = cells[cells["log_outcome"] == numerator].set_index(keys)
    den = cells[cells["log_outcome"] == denominator].set_index(keys)
    common = num.index.intersection(den.index)
    rows = num.loc[common].copy()
    rows["att_log"] = num.loc[common, "att_log"] - den.loc[common, "att_log"]
    rows["log_outcome"], rows["outcome"], rows["att"] = name, name, np.nan
    return pd.concat([truth, rows.reset_index()[truth.columns]], ignore_index=True)


def route_warnings_to_stdout() -> None:
    """Show every warning not caught by :func:`echo_warnings` as one stdout line.

    The default handler writes to stderr with the file path of the calling
    cell (``/tmp/ipykernel_<pid>/...``), which changes on every run and would
    make nbval's comparison of stored outputs fail for no reason.
    """
    import sys

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, (DeprecationWarning, PendingDeprecationWarning)):
            return
        print(f"{category.__name__}: {message}", file=sys.stdout)

    warnings.showwarning = show
