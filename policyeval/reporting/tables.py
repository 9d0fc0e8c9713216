"""Tables for papers: several results side by side, in LaTeX and HTML.

Functions here take results and lay them out; they never estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from policyeval.data.simulated_label import SIMULATED_COLUMN, SIMULATED_LABEL, resolve_simulated
from policyeval.exceptions import ArgumentValueError

__all__ = ["ResultsTable", "results_table", "latex_escape"]

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$"}  # fmt: skip


def latex_escape(text: str) -> str:
    r"""Escape ``text`` for LaTeX body text (``p<0.1`` becomes ``p$<$0.1``).

    Examples
    --------
    >>> print(latex_escape("p<0.1, 50% & more"))
    p$<$0.1, 50\% \& more
    """
    return re.sub(r"[\\&%$#_{}~^<>]", lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def _stars(p: float) -> str:
    if np.isnan(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


@dataclass
class ResultsTable:
    """Estimates with standard errors beneath, one column per result.

    ``frame`` holds the formatted cells (two rows per term: estimate, then
    the standard error in parentheses) followed by the sample-size rows.

    Attributes
    ----------
    frame : pandas.DataFrame
        The formatted cells.
    notes : str
        Table notes; they begin with :data:`SIMULATED_LABEL` when
        ``simulated`` is True.
    simulated : bool
        Whether any result shown comes from SIMULATED data.
    caption : str or None
        Caption of the LaTeX ``table`` float (see :meth:`to_latex`).
    """

    frame: pd.DataFrame
    notes: str
    simulated: bool = False
    caption: str | None = None

    def to_latex(self, caption: str | None = None) -> str:
        """LaTeX: a ``tabular`` (booktabs rules) whose last row prints the notes.

        The notes are typeset in the table (a ``\\multicolumn`` row under
        ``\\bottomrule``), never as a ``%`` comment, so "SIMULATED DATA" is
        visible wherever the table is pasted. With a caption (argument or
        :attr:`caption`), the tabular is wrapped in a ``table`` float whose
        caption also starts with "SIMULATED DATA" when the data are.
        """
        ncol = self.frame.shape[1] + 1
        body = self.frame.to_latex(escape=True, index=True, column_format="l" + "c" * self.frame.shape[1])
        note_row = (f"\\multicolumn{{{ncol}}}{{p{{0.9\\linewidth}}}}{{\\footnotesize "
                    f"{latex_escape(self.notes)}}} \\\\\n")
        body = body.replace("\\bottomrule\n", "\\bottomrule\n" + note_row, 1)
        caption = self.caption if caption is None else caption
        if caption is None:
            return body
        if self.simulated and "SIMULATED" not in caption:
            caption = f"{SIMULATED_LABEL}. {caption}"
        return ("\\begin{table}[htbp]\n\\centering\n"
                f"\\caption{{{latex_escape(caption)}}}\n{body}\\end{{table}}\n")

    def to_html(self) -> str:
        head = f"<p><strong>{SIMULATED_LABEL}</strong></p>" if self.simulated else ""
        return head + self.frame.to_html() + f"<p><small>{self.notes}</small></p>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_frame(self) -> pd.DataFrame:
        """The cells as a tidy frame: a ``row`` column, one column per result, ``is_simulated``."""
        out = self.frame.copy()
        out.insert(0, "row", out.index.astype(str))
        out[SIMULATED_COLUMN] = self.simulated
        return out.reset_index(drop=True)

    def to_csv(self, path: str | Path, **kwargs) -> Path:
        """Write :meth:`to_frame` to ``path`` (UTF-8); the ``is_simulated`` column says where it came from."""
        path = Path(path)
        self.to_frame().to_csv(path, index=False, **kwargs)
        return path

    def __str__(self) -> str:
        head = SIMULATED_LABEL + "\n" if self.simulated else ""
        return head + self.frame.to_string() + "\n" + self.notes

    __repr__ = __str__


def results_table(results: Mapping[str, object] | Sequence[object], terms: Sequence | None = None,
                  digits: int = 3, stars: bool = True,
                  rename: Mapping[object, str] | None = None, *, simulated: bool | None = None,
                  caption: str | None = None) -> ResultsTable:
    """Lay several results side by side.

    Parameters
    ----------
    results : mapping of column title to result, or a sequence of results
        Any objects with the policyeval result contract (``params``,
        ``std_errors``, ``pvalues``, ``nobs``, ``n_units``).
    terms : sequence, optional
        Terms (rows) to show, in order; default: the union in first-seen order.
    digits : int
        Decimals shown.
    stars : bool
        Mark p < 0.1, 0.05, 0.01 with *, **, ***.
    rename : mapping, optional
        Term labels to unify before laying out, e.g.
        ``{"treated": "ATT", "overall": "ATT", "att": "ATT"}`` so that
        estimators that name the same quantity differently share a row.
    simulated : bool, optional
        Label the table SIMULATED. Default (None): label it when any result
        comes from simulated data (see
        :func:`policyeval.data.simulated_label.is_simulated`: a result's
        ``extra["simulated"]`` / ``spec["simulated"]``, or the panel of the
        design it was fitted on). ``False`` for simulated input is refused.
    caption : str, optional
        Caption for :meth:`ResultsTable.to_latex` (a ``table`` float).

    Returns
    -------
    ResultsTable

    Raises
    ------
    DataError
        ``simulated=False`` while a result comes from simulated data.

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.results import EstimationResult
    >>> r = EstimationResult(pd.Series({"ATT": 0.1}), pd.Series({"ATT": 0.02}),
    ...                      nobs=100, n_units=10, spec={}, estimator="toy")
    >>> print(results_table({"(1)": r}))
                 (1)
    ATT     0.100***
             (0.020)
    N obs.       100
    N units       10
    Standard errors in parentheses. * p<0.1, ** p<0.05, *** p<0.01.
    """
    if not isinstance(results, Mapping):
        results = {f"({i + 1})": r for i, r in enumerate(results)}
    simulated = resolve_simulated(simulated, list(results.values()))
    rename = dict(rename or {})
    columns = {}
    for title, res in results.items():
        labels = [rename.get(t, t) for t in res.params.index]
        if len(set(labels)) < len(labels):
            raise ArgumentValueError(f"rename maps two terms of result {title!r} to the same label: "
                             f"{list(res.params.index)} -> {labels}")
        columns[title] = (
            pd.Series(res.params.to_numpy(), index=labels),
            pd.Series(res.std_errors.to_numpy(), index=labels),
            pd.Series(res.pvalues.to_numpy(), index=labels),
            res,
        )
    if terms is None:
        terms = list(dict.fromkeys(t for est, *_ in columns.values() for t in est.index))
    rows: list[tuple[str, str]] = []
    for term in terms:
        rows += [(str(term), "estimate"), (str(term), "std_error")]
    index = pd.MultiIndex.from_tuples(rows + [("N obs.", ""), ("N units", "")])
    cells = pd.DataFrame("", index=index, columns=list(results))
    for title, (params, std_errors, pvalues, res) in columns.items():
        for term in terms:
            if term not in params.index:
                continue
            est, se, p = params[term], std_errors[term], pvalues[term]
            mark = _stars(p) if stars else ""
            cells.loc[(str(term), "estimate"), title] = f"{est:.{digits}f}{mark}"
            cells.loc[(str(term), "std_error"), title] = f"({se:.{digits}f})"
        cells.loc[("N obs.", ""), title] = f"{res.nobs:,}"
        cells.loc[("N units", ""), title] = f"{res.n_units:,}"
    cells.index = [a if b != "std_error" else "" for a, b in cells.index]
    notes = "Standard errors in parentheses."
    if stars:
        notes += " * p<0.1, ** p<0.05, *** p<0.01."
    if simulated:
        notes = f"{SIMULATED_LABEL}. {notes}"
    return ResultsTable(cells, notes, simulated=simulated, caption=caption)
