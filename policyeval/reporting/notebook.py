"""Notebook plumbing: where a notebook's files go, how its warnings show, its headline numbers.

Bookkeeping, not econometrics. These let an analysis notebook (the case
studies in the repository's ``notebooks/``, or a copy of one anywhere else)
run with nothing but policyeval installed: every dropped row is still
reported (warnings are printed, once each, to stdout, where a stored
notebook output keeps them), and tables, figures and the headline estimates
land in one folder per notebook.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import warnings
from pathlib import Path

import pandas as pd

__all__ = ["SIMULATED_NOTE", "echo_warnings", "reports_dir", "route_warnings_to_stdout", "save_figure",
           "save_table", "write_headline"]

#: Note written above every table saved from the bundled simulated data.
SIMULATED_NOTE = "SIMULATED data (policyeval's calibrated simulator, seeded) — not real statistics"

_HOUSEKEEPING = (DeprecationWarning, PendingDeprecationWarning)


def reports_dir(notebook: str, root: str | os.PathLike | None = None) -> Path:
    """Folder for one notebook's tables and figures, created if missing.

    Parameters
    ----------
    notebook : str
        The notebook's name (a sub-folder of ``root``).
    root : str or path-like, optional
        Default: ``$POLICYEVAL_REPORTS`` when set (``notebooks/run_all.py``
        and the notebook test run set it), else ``reports/notebooks`` under
        the current working directory.

    Returns
    -------
    pathlib.Path
        ``root / notebook``.

    Examples
    --------
    >>> import tempfile
    >>> from policyeval.reporting.notebook import reports_dir
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     print(reports_dir("01_demo", root=tmp).name)
    01_demo
    """
    if root is None:
        root = os.environ.get("POLICYEVAL_REPORTS", Path.cwd() / "reports" / "notebooks")
    out = Path(root) / notebook
    out.mkdir(parents=True, exist_ok=True)
    return out


@contextlib.contextmanager
def echo_warnings(label: str = ""):
    """Run a block and print its warnings to stdout, once each, in order.

    Warnings go to stderr by default, where their text depends on the call
    site and on the order in which a kernel first saw them; printing them
    keeps every dropped row on record in the notebook's output and keeps
    that output the same from run to run. Deprecation warnings (library
    housekeeping, not about the data) are left out.

    Parameters
    ----------
    label : str, optional
        Printed in brackets before each warning.

    Examples
    --------
    >>> import warnings
    >>> from policyeval.reporting.notebook import echo_warnings
    >>> with echo_warnings("fit"):
    ...     for _ in range(2):
    ...         warnings.warn("dropped 2 rows", UserWarning)
    [fit] UserWarning: dropped 2 rows
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen: list[str] = []
    for w in caught:
        if issubclass(w.category, _HOUSEKEEPING):
            continue
        text = f"{w.category.__name__}: {w.message}"
        if text not in seen:
            seen.append(text)
    for text in seen:
        print(f"[{label}] {text}" if label else text)


def route_warnings_to_stdout() -> None:
    """Show every warning not caught by :func:`echo_warnings` as one stdout line.

    The default handler writes to stderr with the file path of the calling
    cell (``/tmp/ipykernel_<pid>/...``), which changes on every run and would
    make a comparison of stored outputs fail for no reason. This replaces
    :func:`warnings.showwarning` for the running process.

    Examples
    --------
    >>> import warnings
    >>> from policyeval.reporting.notebook import route_warnings_to_stdout
    >>> previous = warnings.showwarning
    >>> route_warnings_to_stdout()
    >>> warnings.showwarning(UserWarning("3 rows dropped"), UserWarning, "cell.py", 1)
    UserWarning: 3 rows dropped
    >>> warnings.showwarning = previous
    """

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, _HOUSEKEEPING):
            return
        print(f"{category.__name__}: {message}", file=sys.stdout)

    warnings.showwarning = show


def save_table(table, out: Path, stem: str, note: str = SIMULATED_NOTE) -> list[str]:
    """Write a table as LaTeX and HTML into ``out``; return the file names.

    Parameters
    ----------
    table : ResultsTable or DataFrame
        A :class:`~policyeval.reporting.ResultsTable` is written with its own
        ``to_latex``/``to_html``; a DataFrame with 4 decimals.
    out : path-like
        Folder (e.g. from :func:`reports_dir`).
    stem : str
        File name without extension.
    note : str, default :data:`SIMULATED_NOTE`
        Shown with the table: a typeset ``threeparttable`` note in LaTeX
        (never a ``%`` comment, which vanishes when compiled) and a bold
        HTML paragraph.

    Returns
    -------
    list of str
        ``[stem + ".tex", stem + ".html"]``.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> from pathlib import Path
    >>> from policyeval.reporting.notebook import save_table
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_table(pd.DataFrame({"att": [0.1234567]}), Path(tmp), "toy")
    ['toy.tex', 'toy.html']
    """
    from policyeval.reporting.tables import ResultsTable

    out = Path(out)
    simulated = "SIMULATED" in str(note).upper()
    if isinstance(table, pd.DataFrame):
        html = table.to_html(float_format="%.4f")
        cells = table.map(lambda v: f"{v:.4f}" if isinstance(v, float) else ("" if v is None else v))
        cells.index = [", ".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in cells.index]
        cells.columns = [", ".join(map(str, c)) if isinstance(c, tuple) else str(c) for c in cells.columns]
        table = ResultsTable(cells.astype(object), str(note), simulated=simulated)
    else:
        html = table.to_html()
        if note and str(note) not in table.notes:
            table = dataclasses.replace(table, notes=f"{note}\n{table.notes}",
                                        simulated=table.simulated or simulated)
    latex = table.to_latex()
    (out / f"{stem}.tex").write_text(latex, encoding="utf-8")
    (out / f"{stem}.html").write_text(f"<p><b>{note}</b></p>\n{html}", encoding="utf-8")
    return [f"{stem}.tex", f"{stem}.html"]


def save_figure(fig, out: Path, stem: str) -> str:
    """Save a matplotlib figure as PNG (150 dpi) into ``out``; return the file name.

    Examples
    --------
    >>> import tempfile, matplotlib.pyplot as plt
    >>> from pathlib import Path
    >>> from policyeval.reporting.notebook import save_figure
    >>> fig, ax = plt.subplots()
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_figure(fig, Path(tmp), "toy")
    'toy.png'
    >>> plt.close(fig)
    """
    fig.savefig(Path(out) / f"{stem}.png", dpi=150, bbox_inches="tight")
    return f"{stem}.png"


def write_headline(out: Path, title: str, rows: list[dict]) -> pd.DataFrame:
    """Store a notebook's headline estimates as ``out/headline.json`` and return them as a table.

    Parameters
    ----------
    out : path-like
        Folder (e.g. from :func:`reports_dir`).
    title : str
        One line naming the notebook's question.
    rows : list of dict
        Each with ``quantity``, ``estimate``, ``std_error`` (or NaN) and
        ``truth`` (or NaN).

    Returns
    -------
    DataFrame
        The rows, numbers rounded to 4 decimals (what is stored and what a
        stored-output check compares).

    Examples
    --------
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from policyeval.reporting.notebook import write_headline
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     frame = write_headline(Path(tmp), "toy", [{"quantity": "ATT", "estimate": 0.123456,
    ...                                                "std_error": 0.01, "truth": 0.1}])
    ...     stored = json.loads((Path(tmp) / "headline.json").read_text(encoding="utf-8"))
    >>> frame["estimate"].tolist(), stored["rows"][0]["estimate"]
    ([0.1235], 0.1235)
    """
    frame = pd.DataFrame(rows, columns=["quantity", "estimate", "std_error", "truth"])
    numbers = ["estimate", "std_error", "truth"]
    frame[numbers] = frame[numbers].astype(float).round(4)
    payload = {"title": title, "rows": json.loads(frame.to_json(orient="records"))}
    (Path(out) / "headline.json").write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    return frame
