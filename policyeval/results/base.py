"""The result object every estimator returns.

One class carries the contract shared by all estimators: point estimates,
standard errors, confidence intervals, p-values, sample sizes, a tidy
``to_frame()``, and one ``summary()`` that feeds ``__str__``, the notebook's
``_repr_html_`` and LaTeX export (the linearmodels pattern). Estimators
subclass it only to add what is theirs (an influence function, an
``aggregate`` method, ...), never to re-implement the contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from policyeval.inference import distributions as stats   # scipy.stats is slow to import
from policyeval.exceptions import ArgumentValueError

__all__ = ["EstimationResult", "Summary"]


@dataclass
class Summary:
    """A printable summary: a header of facts and a table of coefficients.

    ``str(summary)`` gives plain text, ``summary._repr_html_()`` an HTML
    table for notebooks and ``summary.as_latex()`` a LaTeX ``tabular`` that
    can be pasted into a paper.
    """

    title: str
    facts: list[tuple[str, str]]
    table: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def _formatted_table(self, digits: int = 4) -> pd.DataFrame:
        out = self.table.copy()
        for col in out.columns:
            if pd.api.types.is_float_dtype(out[col]):
                out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
        return out

    def __str__(self) -> str:
        width = 78
        lines = [self.title.center(width), "=" * width]
        half = (len(self.facts) + 1) // 2
        left, right = self.facts[:half], self.facts[half:]
        for i in range(half):
            lk, lv = left[i]
            cell = f"{lk + ':':<18}{lv:>18}"
            if i < len(right):
                rk, rv = right[i]
                cell += f"    {rk + ':':<18}{rv:>18}"
            lines.append(cell)
        lines.append("-" * width)
        lines.append(self._formatted_table().to_string())
        lines.append("=" * width)
        lines.extend(self.notes)
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        facts = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in self.facts)
        notes = "".join(f"<p><small>{n}</small></p>" for n in self.notes)
        return (
            f"<div><h4>{self.title}</h4><table>{facts}</table>"
            f"{self._formatted_table().to_html()}{notes}</div>"
        )

    def as_latex(self, digits: int = 4) -> str:
        """LaTeX in the paper-table layout (estimate over (SE), booktabs, threeparttable notes).

        One renderer for every LaTeX table: see
        :func:`policyeval.reporting.tables.summary_latex`.
        """
        from policyeval.reporting.tables import summary_latex

        return summary_latex(self, digits)


class EstimationResult:
    """Estimates, their uncertainty and the specification that produced them.

    Parameters
    ----------
    params : pandas.Series
        Point estimates, indexed by term (event time, group, coefficient
        name, ...).
    std_errors : pandas.Series
        Standard errors on the same index.
    nobs : int
        Number of observations (rows) used.
    n_units : int
        Number of cross-sectional units used.
    spec : mapping
        The specification (column names and options) that produced the
        result; kept so inference and sensitivity analysis need no refit.
    estimator : str
        Human-readable estimator name used in summaries.
    vcov : pandas.DataFrame, optional
        Covariance matrix of ``params``.
    influence : numpy.ndarray, optional
        Influence function, shape ``(n_units, len(params))``; the
        covariance is ``influence.T @ influence / n_units**2``.
    df_resid : int, optional
        Degrees of freedom for t-based inference; ``None`` uses the normal.
    critical_value : float, optional
        Critical value for uniform (simultaneous) confidence bands, e.g.
        from a multiplier bootstrap.
    index_name : str
        Name of the index column in :meth:`to_frame`.
    extra : mapping, optional
        Anything else worth keeping (reference period, notes, ...).
    """

    def __init__(
        self,
        params: pd.Series,
        std_errors: pd.Series,
        *,
        nobs: int,
        n_units: int,
        spec: Mapping[str, Any],
        estimator: str,
        vcov: pd.DataFrame | None = None,
        influence: np.ndarray | None = None,
        df_resid: int | None = None,
        critical_value: float | None = None,
        index_name: str = "term",
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        self.params = pd.Series(params, dtype=float)
        self.std_errors = pd.Series(std_errors, dtype=float).reindex(self.params.index)
        self.nobs = int(nobs)
        self.n_units = int(n_units)
        self.spec = dict(spec)
        self.estimator = estimator
        self.vcov = vcov
        self.influence = influence
        self.df_resid = df_resid
        self.critical_value = critical_value
        self.index_name = index_name
        self.extra = dict(extra or {})

    # --- the contract -------------------------------------------------
    @property
    def estimate(self) -> pd.Series:
        """Alias of :attr:`params`."""
        return self.params

    @property
    def tstats(self) -> pd.Series:
        return self.params / self.std_errors

    def _reference_distribution(self):
        return stats.norm if self.df_resid is None else stats.t(self.df_resid)

    @property
    def pvalues(self) -> pd.Series:
        """Two-sided p-values of H0: parameter = 0."""
        dist = self._reference_distribution()
        return pd.Series(2 * dist.sf(np.abs(self.tstats.to_numpy())), index=self.params.index)

    def conf_int(self, level: float = 0.95, uniform: bool = False) -> pd.DataFrame:
        """Confidence intervals.

        Parameters
        ----------
        level : float
            Coverage, between 0 and 1.
        uniform : bool
            Use the simultaneous critical value (``critical_value``) when
            the estimator computed one; raises if it did not.
        """
        if not 0 < level < 1:
            raise ArgumentValueError(f"level={level!r} must lie strictly between 0 and 1")
        if uniform:
            if self.critical_value is None:
                raise ArgumentValueError(
                    "uniform=True needs a simultaneous critical value; this result has none "
                    "(fit with a bootstrap that computes uniform bands)"
                )
            crit = self.critical_value
        else:
            crit = self._reference_distribution().ppf(0.5 + level / 2)
        half = crit * self.std_errors
        return pd.DataFrame(
            {"conf_low": self.params - half, "conf_high": self.params + half},
            index=self.params.index,
        )

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per term: estimate, std_error, statistic, p_value, conf_low, conf_high."""
        ci = self.conf_int(level)
        out = pd.DataFrame(
            {
                "estimate": self.params,
                "std_error": self.std_errors,
                "statistic": self.tstats,
                "p_value": self.pvalues,
                "conf_low": ci["conf_low"],
                "conf_high": ci["conf_high"],
            }
        )
        if self.critical_value is not None:
            half = self.critical_value * self.std_errors
            out["uniform_low"] = self.params - half
            out["uniform_high"] = self.params + half
        out.index.name = self.index_name
        return out.reset_index()

    def _summary_facts(self) -> list[tuple[str, str]]:
        facts = [
            ("Estimator", self.estimator),
            ("Observations", f"{self.nobs:,}"),
            ("Units", f"{self.n_units:,}"),
        ]
        for key in ("yname", "control_group", "cluster", "method"):
            if self.spec.get(key) is not None:
                facts.append((key, str(self.spec[key])))
        return facts

    def _summary_notes(self) -> list[str]:
        return list(self.extra.get("notes", []))

    def summary(self, level: float = 0.95) -> Summary:
        """Text / HTML / LaTeX summary of the estimates."""
        table = self.to_frame(level).set_index(self.index_name)
        return Summary(
            title=f"{self.estimator} results",
            facts=self._summary_facts(),
            table=table,
            notes=self._summary_notes(),
        )

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.estimator}, {len(self.params)} terms, nobs={self.nobs}>"

    def plot(self, ax=None, **kwargs):
        """Coefficient / event-study plot (see :func:`policyeval.plots.plot_estimates`)."""
        from policyeval.plots import plot_estimates

        return plot_estimates(self, ax=ax, **kwargs)
