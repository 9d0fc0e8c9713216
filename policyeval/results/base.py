"""The result object every estimator returns.

One class carries the contract shared by all estimators: point estimates,
standard errors, confidence intervals, p-values, sample sizes, a tidy
``to_frame()``, and one ``summary()`` that feeds ``__str__``, the notebook's
``_repr_html_`` and LaTeX export (the linearmodels pattern). Estimators
subclass it only to add what is theirs (an influence function, an
``aggregate`` method, ...), never to re-implement the contract.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import pandas as pd

from policyeval.inference import distributions as stats   # scipy.stats is slow to import
from policyeval.exceptions import ArgumentValueError, EstimationError, PolicyevalFutureWarning

__all__ = ["EstimationResult", "Summary", "check_level", "check_untreated_control", "HEADLINE"]

def check_untreated_control(value, estimator: str) -> str:
    """``control_group`` of an estimator that compares with every untreated observation.

    >>> check_untreated_control("not_yet_treated", "ImputationDiD")
    'not_yet_treated'
    """
    if value == "not_yet_treated":
        return value
    if not isinstance(value, str):
        raise ArgumentValueError(
            f"control_group={value!r}: {estimator}'s first argument is now control_group "
            "('not_yet_treated'); pass horizons= (and the other options) by name")
    raise ArgumentValueError(
        f"control_group={value!r}: {estimator} compares with every untreated observation (never "
        "treated and not yet treated), so control_group must be 'not_yet_treated'; for "
        "never-treated controls only use CallawaySantAnna(control_group='never_treated') or "
        "SunAbraham()")


#: Name of the headline treatment effect in every result's ``params`` (TWFE, imputation,
#: two-stage, synthetic control, Sun-Abraham and Callaway-Sant'Anna overall aggregations).
HEADLINE = "ATT"


def check_level(level) -> float:
    """Validate a confidence level (a number strictly between 0 and 1) and return it as float.

    >>> check_level(0.9)
    0.9
    """
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)) \
            or not 0 < float(level) < 1:
        raise ArgumentValueError(f"level={level!r} must lie strictly between 0 and 1")
    return float(level)


class _AliasedSeries(pd.Series):
    """A Series of estimates that still answers to a renamed term (with a FutureWarning).

    ``series["treated"]`` returns ``series["ATT"]`` when ``"treated"`` was
    the term's old name. Arithmetic on it gives plain Series.
    """

    _metadata = ["_aliases", "_where"]

    @property
    def _constructor(self):
        return pd.Series

    def _resolve(self, key):
        aliases = getattr(self, "_aliases", None) or {}
        if isinstance(key, str) and key in aliases and key not in self.index:
            new = aliases[key]
            warnings.warn(
                f"term {key!r} of {getattr(self, '_where', 'this result')} is now called {new!r}; "
                f"the old name stops working in the next release",
                PolicyevalFutureWarning, stacklevel=3)
            return new
        return key

    def __getitem__(self, key):
        return super().__getitem__(self._resolve(key))

    def get(self, key, default=None):
        return super().get(self._resolve(key), default)


def with_term_aliases(series: pd.Series, aliases: Mapping[str, str], where: str = "this result"):
    """Return ``series`` answering to the old term names in ``aliases`` (old -> new).

    Examples
    --------
    >>> import warnings
    >>> s = with_term_aliases(pd.Series({"ATT": 1.5}), {"treated": "ATT"}, "TWFE")
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     float(s["treated"])
    1.5
    """
    if not aliases:
        return series
    out = _AliasedSeries(series)
    out._aliases = dict(aliases)
    out._where = where
    return out


def _as_influence(influence):
    """Wrap an ``n x k`` array in a DenseInfluence (one row per unit or cluster, no clustering)."""
    if influence is None or not isinstance(influence, np.ndarray):
        return influence
    from policyeval.inference.influence import DenseInfluence

    values = influence[:, None] if influence.ndim == 1 else influence
    n = values.shape[0]
    return DenseInfluence(values, cohort=np.zeros(n, dtype=np.intp), weights=np.ones(n))


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
        Covariance matrix of ``params``. When omitted, :attr:`vcov` is
        computed from ``influence``, or else is the diagonal matrix of
        squared standard errors with NaN off the diagonal (covariances not
        estimated). It is never None.
    influence : InfluenceFunction or numpy.ndarray, optional
        Influence function. Stored as an
        :class:`~policyeval.inference.influence.InfluenceFunction` (an
        ``n x len(params)`` array is wrapped in a
        :class:`~policyeval.inference.influence.DenseInfluence`, one row per
        unit or cluster), scaled so that ``influence.vcov()`` (``gram / n**2``)
        is the covariance without small-sample correction. ``None`` only for
        results that have no per-unit influence function: synthetic control
        (no sampling standard error), synthetic DiD (standard errors from
        placebo / bootstrap / jackknife replications), the 2x2 table and
        the out-of-core (DuckDB / Dask) regressions, which keep only
        sufficient statistics.
    df_resid : int, optional
        Degrees of freedom for t-based inference; ``None`` uses the normal.
    critical_value : float, optional
        Critical value for uniform (simultaneous) confidence bands at
        ``level``, e.g. from a multiplier bootstrap.
    level : float
        Confidence level the result was fitted at (default 0.95). It is the
        default of :meth:`conf_int`, :meth:`to_frame`, :meth:`summary` and
        :meth:`plot`, and the level of ``critical_value``.
    term_aliases : mapping, optional
        Old term name -> new one (e.g. ``{"treated": "ATT"}``): ``params``,
        ``std_errors`` and ``pvalues`` still answer to the old name, with a
        :class:`~policyeval.exceptions.PolicyevalFutureWarning`.
    uniform_draws : numpy.ndarray, optional
        Bootstrap draws of :math:`\\hat\\theta^* - \\hat\\theta`
        (``n_bootstrap x len(params)``) behind ``critical_value``; kept so a
        uniform band at another level needs no new draws.
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
        level: float = 0.95,
        uniform_draws: np.ndarray | None = None,
        term_aliases: Mapping[str, str] | None = None,
    ) -> None:
        self.term_aliases = dict(term_aliases or {})
        self.params = with_term_aliases(pd.Series(params, dtype=float), self.term_aliases, estimator)
        self.std_errors = with_term_aliases(
            pd.Series(std_errors, dtype=float).reindex(self.params.index), self.term_aliases, estimator)
        self.nobs = int(nobs)
        self.n_units = int(n_units)
        self.spec = dict(spec)
        self.estimator = estimator
        self._vcov = vcov
        self.influence = _as_influence(influence)
        self.df_resid = df_resid
        self.critical_value = critical_value
        self.index_name = index_name
        self.extra = dict(extra or {})
        self.level = check_level(level)
        self.uniform_draws = uniform_draws

    # --- the contract -------------------------------------------------
    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of ``params`` (a DataFrame indexed like ``params``; never None).

        The estimator's covariance when it gave one; else the one of the
        influence function; else squared standard errors on the diagonal
        and NaN off it (covariances not estimated).
        """
        if self._vcov is None:
            index = self.params.index
            if self.influence is not None:
                V = np.asarray(self.influence.vcov(), dtype=float)
            else:
                V = np.full((len(index), len(index)), np.nan)
                np.fill_diagonal(V, self.std_errors.to_numpy(dtype=float) ** 2)
            self._vcov = pd.DataFrame(V, index=index, columns=index)
        elif not isinstance(self._vcov, pd.DataFrame):
            arr = np.asarray(self._vcov, dtype=float)
            k = len(self.params)
            if arr.shape != (k, k):
                raise EstimationError(f"result.vcov has shape {arr.shape}; expected ({k}, {k}) "
                                      "matching result.params")
            self._vcov = pd.DataFrame(arr, index=self.params.index, columns=self.params.index)
        return self._vcov

    @vcov.setter
    def vcov(self, value) -> None:
        self._vcov = value

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
        return with_term_aliases(
            pd.Series(2 * dist.sf(np.abs(self.tstats.to_numpy())), index=self.params.index),
            self.term_aliases, self.estimator)

    def _level(self, level: float | None) -> float:
        return self.level if level is None else check_level(level)

    def uniform_critical_value(self, level: float | None = None) -> float:
        """Critical value of the uniform (simultaneous) band at ``level``.

        At the result's own ``level`` this is ``critical_value``; at another
        level it is recomputed from the stored bootstrap draws (the
        ``level`` quantile of :math:`\\max_k |\\theta^*_k - \\hat\\theta_k| / se_k`).

        Raises
        ------
        ArgumentValueError
            If the result has no uniform band, or ``level`` differs from the
            fit's and no bootstrap draws are stored.
        """
        level = self._level(level)
        if self.critical_value is None and self.uniform_draws is None:
            raise ArgumentValueError(
                "uniform=True needs a simultaneous critical value; this result has none "
                "(fit with a bootstrap that computes uniform bands)"
            )
        if self.critical_value is not None and np.isclose(level, self.level):
            return float(self.critical_value)
        if self.uniform_draws is None:
            raise ArgumentValueError(
                f"level={level!r} with uniform=True: this result's uniform band was computed at "
                f"level={self.level!r} and no bootstrap draws are stored to recompute it; refit "
                f"(or re-bootstrap) with level={level!r}"
            )
        draws = np.asarray(self.uniform_draws, dtype=float)
        se = self.std_errors.to_numpy(dtype=float)
        ok = np.isfinite(se) & (se > 0)
        if not ok.any():
            return float("nan")
        t_max = np.max(np.abs(draws[:, ok] / se[ok]), axis=1)
        return float(np.quantile(t_max, level, method="inverted_cdf"))

    @property
    def has_uniform_band(self) -> bool:
        """Whether :meth:`conf_int` can give a uniform band (``uniform=True``)."""
        return self.critical_value is not None or self.uniform_draws is not None

    def conf_int(self, level: float | None = None, uniform: bool = False) -> pd.DataFrame:
        """Confidence intervals.

        Parameters
        ----------
        level : float, optional
            Coverage, between 0 and 1; default the result's ``level``.
        uniform : bool
            Simultaneous band over all terms (see
            :meth:`uniform_critical_value`); raises if the estimator
            computed none.

        Returns
        -------
        pandas.DataFrame
            ``conf_low`` and ``conf_high`` indexed like ``params``.
        """
        level = self._level(level)
        if uniform:
            crit = self.uniform_critical_value(level)
        else:
            crit = self._reference_distribution().ppf(0.5 + level / 2)
        half = crit * self.std_errors
        return pd.DataFrame(
            {"conf_low": self.params - half, "conf_high": self.params + half},
            index=self.params.index,
        )

    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """One row per term: estimate, std_error, statistic, p_value, conf_low, conf_high.

        ``uniform_low`` / ``uniform_high`` are added when the result has a
        uniform band at ``level`` (default: the result's ``level``).
        """
        level = self._level(level)
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
        if self._uniform_available(level):
            band = self.conf_int(level, uniform=True)
            out["uniform_low"] = band["conf_low"]
            out["uniform_high"] = band["conf_high"]
        out.index.name = self.index_name
        return out.reset_index()

    def _uniform_available(self, level: float) -> bool:
        return self.uniform_draws is not None or (
            self.critical_value is not None and np.isclose(level, self.level))

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

    def summary(self, level: float | None = None) -> Summary:
        """Text / HTML / LaTeX summary of the estimates.

        Parameters
        ----------
        level : float, optional
            Confidence level of the intervals; default the result's ``level``.
        """
        level = self._level(level)
        table = self.to_frame(level).set_index(self.index_name)
        return Summary(
            title=f"{self.estimator} results",
            facts=self._summary_facts() + [("Confidence level", f"{level:.0%}")],
            table=table,
            notes=self._summary_notes(),
        )

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.estimator}, {len(self.params)} terms, nobs={self.nobs}>"

    def plot(self, ax=None, label: str | None = None, **kwargs):
        """Coefficient / event-study plot (see :func:`policyeval.plots.plot_estimates`).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        label : str, optional
            Title of the plot (the model's name when several are compared);
            default the estimator's name.
        **kwargs
            Passed to :func:`policyeval.plots.plot_estimates` (``level``
            defaults to the result's).

        Returns
        -------
        matplotlib.axes.Axes
        """
        from policyeval.plots import plot_estimates

        kwargs.setdefault("level", self.level)
        if label is not None:
            kwargs.setdefault("title", label)
        return plot_estimates(self, ax=ax, **kwargs)
