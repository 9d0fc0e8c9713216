"""Count treated units and warn when there are too few for analytic inference.

The estimators call down into this module from ``fit()`` (as they do for
covariances and placebos); :mod:`policyeval.inference.few_treated` builds on it
and routes to inference that stays valid with one or a few treated units (its
module docstring has the evidence behind the thresholds).

* :func:`warn_few_treated` counts treated units per cohort and in total and issues a
  :class:`~policyeval.exceptions.FewTreatedWarning` below :data:`MIN_TREATED_UNITS`.
* :func:`warn_placebo_resolution` warns when a synthetic-control placebo p-value
  cannot reach 0.05 (its resolution is :math:`1/(J+1)`), and when synthetic DiD is
  asked for a bootstrap or jackknife standard error with few treated units.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from policyeval.exceptions import ArgumentTypeError, FewTreatedWarning

__all__ = [
    "MIN_TREATED_UNITS",
    "MIN_PLACEBO_UNITS",
    "TreatedCounts",
    "count_treated",
    "warn_few_treated",
    "warn_if_few_treated",
    "warn_placebo_resolution",
]

#: Fewer treated units than this trigger :class:`FewTreatedWarning`. Justified by
#: ``benchmarks/mc_few_treated.py`` (table in ``docs/montecarlo_few_treated.md``): at the
#: 5% level the analytic tests of TWFE, Callaway-Sant'Anna and the imputation estimator
#: reject a true null in 69-89% of draws with 1 treated unit, 34-49% with 2 and up to
#: 20% with 5 (four times the nominal level); with 10 treated units the worst of them
#: is at 10% (two times) and several are within two Monte Carlo standard errors of 5%.
#: Ten is therefore the smallest count at which the analytic p-value is usable, not a
#: guarantee: on the county panel the worst analytic test still rejects 10% of the time
#: with 30 treated units, while randomization inference holds 2-7% in every cell.
MIN_TREATED_UNITS = 10

#: A placebo / permutation p-value over ``n`` units has resolution ``1/n``; it can
#: reach 0.05 only with at least 20 units.
MIN_PLACEBO_UNITS = 20


# --------------------------------------------------------------------------- counting
@dataclass(frozen=True)
class TreatedCounts:
    """Treated units in total and per cohort.

    Attributes
    ----------
    total : int
        Units treated within the sample.
    by_cohort : pandas.Series
        Units per first treated period (index), sorted by period.
    n_units : int
        All units (treated and control).
    """

    total: int
    by_cohort: pd.Series
    n_units: int

    def describe(self, k: int = 6) -> str:
        """``"cohort 2012: 1, cohort 2015: 2"`` (the first ``k`` cohorts)."""
        items = [f"{_fmt(g)}: {int(n)}" for g, n in self.by_cohort.items()]
        more = f", ... ({len(items)} cohorts)" if len(items) > k else ""
        return ", ".join(items[:k]) + more


def _fmt(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def _unit_codes(unit) -> tuple[np.ndarray, int]:
    """Codes ``0..K-1`` of the units (any order) and ``K``; a missing id counts as one unit."""
    v = np.asarray(unit)
    if v.dtype.kind in "iu" and v.size:
        lo, hi = int(v.min()), int(v.max())
        if hi - lo <= 4 * v.size:            # compact integer ids or codes: rank, no hashing
            present = np.bincount(v - lo, minlength=hi - lo + 1) > 0
            rank = np.cumsum(present) - 1
            return rank[v - lo].astype(np.intp), int(present.sum())
    ids, labels = pd.factorize(v, use_na_sentinel=False)
    return ids.astype(np.intp), len(labels)


def count_treated(unit, cohort=None, *, treatment=None, time=None,
                  last_period: float | None = None) -> TreatedCounts:
    """Count treated units per cohort and in total.

    Parameters
    ----------
    unit : array-like or None
        Unit of each row; ``None`` when every row is one unit.
    cohort : array-like, optional
        First treated period of each row's unit. Never treated: missing,
        infinite or 0 (the R ``did`` convention).
    treatment, time : array-like, optional
        Instead of ``cohort``: a 0/1 treatment per row and its period; a unit's
        cohort is its first period with treatment 1.
    last_period : float, optional
        Cohorts after this period are not treated within the sample.

    Returns
    -------
    TreatedCounts

    Examples
    --------
    >>> from policyeval.inference.few_treated import count_treated
    >>> c = count_treated([1, 1, 2, 2, 3, 3], [2001, 2001, 0, 0, 2003, 2003])
    >>> c.total, c.n_units, c.describe()
    (2, 3, '2001: 1, 2003: 1')
    """
    if (cohort is None) == (treatment is None):
        raise ArgumentTypeError("give exactly one of cohort= and treatment= (with time=)")
    if treatment is not None:
        if time is None:
            raise ArgumentTypeError("treatment= needs time= (the period of each row)")
        d = np.asarray(treatment, dtype=float)
        t = np.asarray(time, dtype=float)
        if unit is None:
            g, ids, n_units = np.where(d == 1, t, np.inf), np.arange(d.size), d.size
        else:
            # a unit's cohort is its first period with treatment 1
            ids, n_units = _unit_codes(unit)
            on = d == 1
            first = np.full(n_units, np.inf)
            np.minimum.at(first, ids[on], t[on])
            g, ids = first, np.arange(n_units)
    else:
        g = np.asarray(cohort, dtype=float)
        if unit is None:
            ids, n_units = np.arange(g.size), g.size
        else:
            ids, n_units = _unit_codes(unit)
    treated = np.isfinite(g) & (g != 0)
    if last_period is not None:
        treated &= g <= last_period
    first = ~pd.Series(ids[treated]).duplicated().to_numpy()   # each treated unit once
    per_unit = pd.Series(g[treated][first], index=ids[treated][first])
    by_cohort = per_unit.value_counts().sort_index().astype(int)
    by_cohort.index.name = "cohort"
    return TreatedCounts(total=int(per_unit.size), by_cohort=by_cohort, n_units=n_units)


def warn_few_treated(unit, cohort=None, *, estimator: str, argument: str, treatment=None,
                     time=None, last_period: float | None = None,
                     threshold: int = MIN_TREATED_UNITS, stacklevel: int = 3) -> TreatedCounts:
    """Count treated units; warn when fewer than ``threshold`` are treated.

    Parameters are those of :func:`count_treated`, plus:

    estimator : str
        Class name of the caller, e.g. ``"TWFE"``; used in the message.
    argument : str
        How the design was given, e.g. ``"gname='first_treat'"``.
    threshold : int
        Default :data:`MIN_TREATED_UNITS`.

    Returns
    -------
    TreatedCounts

    Warns
    -----
    FewTreatedWarning
        With the counts (total, per cohort, all units) and the valid
        alternatives, when ``0 < total < threshold``.
    """
    counts = count_treated(unit, cohort, treatment=treatment, time=time,
                           last_period=last_period)
    warn_if_few_treated(counts, estimator=estimator, argument=argument, threshold=threshold,
                        stacklevel=stacklevel + 1)
    return counts


def warn_if_few_treated(counts: TreatedCounts, *, estimator: str, argument: str,
                        threshold: int = MIN_TREATED_UNITS, stacklevel: int = 3) -> None:
    """Warn (:class:`FewTreatedWarning`) when ``0 < counts.total < threshold``.

    The warning of :func:`warn_few_treated` for counts computed elsewhere (for example
    from the cohort sizes of an out-of-core engine).

    Examples
    --------
    >>> import warnings
    >>> import pandas as pd
    >>> c = TreatedCounts(total=1, by_cohort=pd.Series({2005: 1}), n_units=40)
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     warn_if_few_treated(c, estimator="TWFE", argument="gname='g'")
    >>> w[0].category.__name__
    'FewTreatedWarning'
    """
    if 0 < counts.total < threshold:
        warnings.warn(_few_treated_message(counts, estimator, argument, threshold),
                      FewTreatedWarning, stacklevel=stacklevel)


def _few_treated_message(counts: TreatedCounts, estimator: str, argument: str,
                         threshold: int) -> str:
    n, N = counts.total, counts.n_units
    unit_word = "unit" if n == 1 else "units"
    msg = (f"{estimator}: only {n} treated {unit_word} of {N} ({argument}; treated units by "
           f"first treated period: {counts.describe()}). With fewer than {threshold} treated "
           "units the analytic (cluster-robust) standard errors and p-values are not "
           "valid: a true null of no effect is rejected far more often than the nominal "
           "level (docs/montecarlo_few_treated.md), and the wild cluster bootstrap does not "
           "fix it. Use randomization inference, one call: "
           f"pe.few_treated_inference({estimator}(...), data, ...same fit arguments...) "
           f"(exact if adoption is as good as random; smallest p-value "
           f"{_resolution_text(N, n)})")
    if len(counts.by_cohort) == 1:
        msg += ("; or method='synthetic_control' (one treated unit: placebos over all units, "
                "conformal inference) or method='synthetic_did' (placebo standard error)")
    return msg + "."


def _resolution_text(n_units: int, n_treated: int) -> str:
    m = math.comb(n_units, n_treated) if 0 < n_treated < n_units else 1
    return f"1/{m}" if m < 10**6 else "below 1e-6"


def warn_placebo_resolution(n_units: int, *, estimator: str, n_treated: int = 1,
                            se_method: str | None = None, stacklevel: int = 3) -> None:
    """Warn when synthetic-control / synthetic-DiD placebo inference cannot be valid.

    Parameters
    ----------
    n_units : int
        Units in the placebo pool (treated and donors): the in-space placebo
        p-value is a multiple of ``1 / n_units``.
    estimator : str
        ``"SyntheticControl"`` or ``"SyntheticDiD"``.
    n_treated : int
        Treated units.
    se_method : str, optional
        The synthetic DiD standard error. ``"bootstrap"`` and ``"jackknife"``
        resample treated units and need many of them (Arkhangelsky et al. 2021,
        Section 5); with fewer than :data:`MIN_TREATED_UNITS` the placebo
        method is recommended.

    Warns
    -----
    FewTreatedWarning
    """
    if estimator == "SyntheticControl" and n_units < MIN_PLACEBO_UNITS:
        warnings.warn(
            f"SyntheticControl: the in-space placebo p-value over {n_units} units has "
            f"resolution 1/{n_units} = {1 / n_units:.3f}, so it can never fall to 0.05 (that "
            f"needs at least {MIN_PLACEBO_UNITS} units); add donors, or report the "
            "conformal p-values of result.conformal_inference().",
            FewTreatedWarning, stacklevel=stacklevel)
    if estimator == "SyntheticDiD" and se_method in ("bootstrap", "jackknife") \
            and n_treated < MIN_TREATED_UNITS:
        warnings.warn(
            f"SyntheticDiD: se_method={se_method!r} with {n_treated} treated units; the "
            f"bootstrap and jackknife resample treated units and need many of them "
            f"(Arkhangelsky et al. 2021, Sec. 5). With fewer than {MIN_TREATED_UNITS} use "
            "se_method='placebo', or pe.few_treated_inference(..., method='randomization').",
            FewTreatedWarning, stacklevel=stacklevel)
