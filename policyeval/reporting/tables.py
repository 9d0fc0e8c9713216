"""Tables for papers: several results side by side, in LaTeX and HTML.

Functions here take results and lay them out; they never estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from policyeval.exceptions import ArgumentValueError

__all__ = ["ResultsTable", "results_table"]


def _stars(p: float) -> str:
    if np.isnan(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


@dataclass
class ResultsTable:
    """Estimates with standard errors beneath, one column per result.

    ``frame`` holds the formatted cells (two rows per term: estimate, then
    the standard error in parentheses) followed by the sample-size rows.
    """

    frame: pd.DataFrame
    notes: str

    def to_latex(self) -> str:
        """A LaTeX ``tabular`` (booktabs rules) with the notes beneath."""
        body = self.frame.to_latex(escape=True, index=True, column_format="l" + "c" * self.frame.shape[1])
        return body + f"% {self.notes}\n"

    def to_html(self) -> str:
        return self.frame.to_html() + f"<p><small>{self.notes}</small></p>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def __str__(self) -> str:
        return self.frame.to_string() + "\n" + self.notes

    __repr__ = __str__


def results_table(results: Mapping[str, object] | Sequence[object], terms: Sequence | None = None,
                  digits: int = 3, stars: bool = True,
                  rename: Mapping[object, str] | None = None) -> ResultsTable:
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

    Returns
    -------
    ResultsTable

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
    return ResultsTable(cells, notes)
