"""Results built from 2×2 comparisons: the table of means and the Goodman-Bacon decomposition.

- :class:`DiDTableResult`: :func:`~policyeval.estimators.did_table`, the 2×2 table of cell
  means, its differences and the DiD, with standard errors;
- :class:`BaconResult`: :class:`~policyeval.estimators.BaconDecomposition`, the 2×2
  comparisons inside a TWFE coefficient and their weights (a test-style result: no standard
  errors, ``statistic`` and ``p_value``).

Both describe a DiD as 2×2 comparisons of group means rather than estimate event-time
effects, so they share a room. The comparison-type labels of the decomposition live here
because the result groups by them; :mod:`policyeval.estimators.bacon` imports them to label
the comparisons it computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from policyeval.results.base import EstimationResult, Summary

__all__ = [
    "DiDTableResult",
    "BaconResult",
    "TREATED_VS_UNTREATED",
    "EARLIER_VS_LATER",
    "LATER_VS_EARLIER",
    "LATER_VS_ALWAYS",
]


class DiDTableResult(EstimationResult):
    """Result of :func:`~policyeval.estimators.did_table`: the nine entries of the 2×2 table.

    ``params`` and ``std_errors`` are indexed by ``(row, column)`` labels
    flattened to strings ``"row | column"``, where the rows are the control
    group, the treated group and ``"difference"`` (treated − control) and
    the columns the pre period, the post period and ``"change"``
    (post − pre); ``"difference | change"`` is the DiD. :meth:`table`
    gives the familiar layout; ``extra["counts"]`` the number of
    observations per cell.
    """

    @property
    def did(self) -> float:
        """The difference-in-differences estimate."""
        return float(self.params["difference | change"])

    @property
    def did_std_error(self) -> float:
        """Standard error of the DiD."""
        return float(self.std_errors["difference | change"])

    def table(self, digits: int | None = None) -> pd.DataFrame:
        """The table in its usual layout.

        Parameters
        ----------
        digits : int, optional
            If given, return strings ``"estimate (se)"`` rounded to
            ``digits`` decimals (as papers print them); otherwise a frame
            with a column level ``("estimate", "std_error")``.

        Returns
        -------
        pandas.DataFrame
            Rows: control, treated, difference; columns: pre, post, change.
        """
        rows, cols = self.extra["rows"], self.extra["columns"]
        est = pd.DataFrame([[self.params[f"{r} | {c}"] for c in cols] for r in rows],
                           index=rows, columns=cols)
        se = pd.DataFrame([[self.std_errors[f"{r} | {c}"] for c in cols] for r in rows],
                          index=rows, columns=cols)
        if digits is None:
            return pd.concat({"estimate": est, "std_error": se}, axis=1)
        return est.map(lambda v: f"{v:.{digits}f}") + se.map(lambda v: f" ({v:.{digits}f})")

    def _summary_facts(self) -> list[tuple[str, str]]:
        facts = super()._summary_facts()
        facts.append(("Std. errors", self.spec["vcov"]))
        facts.append(("DiD", f"{self.did:.4f} ({self.did_std_error:.4f})"))
        return facts


TREATED_VS_UNTREATED = "Treated vs Untreated"
EARLIER_VS_LATER = "Earlier vs Later Treated"
LATER_VS_EARLIER = "Later vs Earlier Treated"
LATER_VS_ALWAYS = "Later vs Always Treated"
_TYPES = [EARLIER_VS_LATER, LATER_VS_EARLIER, LATER_VS_ALWAYS, TREATED_VS_UNTREATED]


class BaconResult:
    """The 2×2 comparisons behind a TWFE estimate.

    Not an :class:`~policyeval.results.base.EstimationResult`: the
    decomposition is descriptive and carries no standard errors, so only
    the parts of the contract that make sense are offered — ``to_frame``,
    ``summary`` (text, ``_repr_html_``, LaTeX), ``plot``, ``nobs``,
    ``n_units`` and the decomposed ``twfe_estimate``. As every test result it
    answers ``statistic`` (the TWFE estimate) and ``p_value`` (NaN: nothing
    is tested).

    Attributes
    ----------
    twfe_estimate : float
        Coefficient on the treatment dummy in the regression of the outcome
        on it and unit and period fixed effects; equals
        ``(to_frame().estimate * to_frame().weight).sum()``.
    nobs, n_units, n_periods : int
    spec : dict
        Column names used.
    """

    estimator = "Goodman-Bacon decomposition"

    def __init__(self, two_by_twos: pd.DataFrame, twfe_estimate: float, *, nobs: int, n_units: int,
                 n_periods: int, spec: dict[str, Any]) -> None:
        self._table = two_by_twos.reset_index(drop=True)
        self.twfe_estimate = float(twfe_estimate)
        self.nobs, self.n_units, self.n_periods = int(nobs), int(n_units), int(n_periods)
        self.spec = dict(spec)

    @property
    def estimate(self) -> float:
        """Alias of :attr:`twfe_estimate`."""
        return self.twfe_estimate

    @property
    def statistic(self) -> float:
        """The decomposed number, :attr:`twfe_estimate` (the test-result contract's ``statistic``)."""
        return self.twfe_estimate

    @property
    def p_value(self) -> float:
        """Always NaN: the decomposition describes the TWFE estimate and tests nothing."""
        return float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row per 2×2: ``treated``, ``control``, ``type``, ``estimate``, ``weight``.

        ``treated`` and ``control`` are timing groups labelled by their first
        period observed treated; ``control`` is ``"untreated"`` for units
        never treated within the sample.
        """
        return self._table.copy()

    def by_type(self) -> pd.DataFrame:
        """Total weight, weighted-average estimate and count per comparison type."""
        t = self._table
        rows = []
        for typ in _TYPES:
            sub = t[t["type"] == typ]
            if sub.empty:
                continue
            wsum = float(sub["weight"].sum())
            avg = float((sub["weight"] * sub["estimate"]).sum() / wsum) if wsum > 0 else np.nan
            rows.append({"type": typ, "weight": wsum, "avg_estimate": avg, "n_comparisons": len(sub)})
        return pd.DataFrame(rows, columns=["type", "weight", "avg_estimate", "n_comparisons"])

    def summary(self) -> Summary:
        """Summary by comparison type (text, ``_repr_html_``, ``as_latex``)."""
        facts = [
            ("Estimator", self.estimator),
            ("Observations", f"{self.nobs:,}"),
            ("Units", f"{self.n_units:,}"),
            ("Periods", f"{self.n_periods:,}"),
            ("yname", str(self.spec.get("yname"))),
            ("TWFE estimate", f"{self.twfe_estimate:.6f}"),
        ]
        total = float((self._table["weight"] * self._table["estimate"]).sum())
        notes = [
            f"Weighted sum of the {len(self._table)} 2x2 estimates: {total:.6f}; "
            f"weights sum to {self._table['weight'].sum():.6f}.",
            "'Later vs Earlier Treated' uses already-treated units as controls; it is biased "
            "when treatment effects change over time (Goodman-Bacon 2021).",
        ]
        table = self.by_type().set_index("type")
        table["n_comparisons"] = table["n_comparisons"].astype(str)
        return Summary(title=f"{self.estimator} of the TWFE estimate", facts=facts, table=table,
                       notes=notes)

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        return (f"<BaconResult: {len(self._table)} comparisons, "
                f"TWFE estimate={self.twfe_estimate:.6g}, nobs={self.nobs}>")

    def plot(self, ax=None, title: str | None = None):
        """Scatter of each 2×2 estimate against its weight, coloured by type.

        The dashed line marks the TWFE estimate (the weighted mean of the
        points), as in bacondecomp's vignette figure.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        markers = {EARLIER_VS_LATER: "^", LATER_VS_EARLIER: "s", LATER_VS_ALWAYS: "D",
                   TREATED_VS_UNTREATED: "o"}
        for i, typ in enumerate(_TYPES):
            sub = self._table[self._table["type"] == typ]
            if sub.empty:
                continue
            ax.scatter(sub["weight"], sub["estimate"], marker=markers[typ], color=f"C{i}",
                       label=typ, alpha=0.85)
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.axhline(self.twfe_estimate, color="0.3", linestyle="--", linewidth=1,
                   label=f"TWFE = {self.twfe_estimate:.4g}")
        ax.set_xlabel("Weight")
        ax.set_ylabel("2x2 DiD estimate")
        ax.set_title(title or self.estimator)
        ax.legend(frameon=False, fontsize="small")
        return ax
