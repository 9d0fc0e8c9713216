"""Callaway--Sant'Anna cell arithmetic: which ATT(g,t) cells exist, their controls, their means.

Plain functions, shared by the in-memory estimator
(:class:`~policyeval.estimators.staggered.CallawaySantAnna`) and the
out-of-core path (:mod:`policyeval.scale.sufficient`), which feeds them the
same cohort x period sums computed by DuckDB or Dask. Options arrive as
arguments (``base_period``, ``anticipation``, ``control_group``), so neither
path reaches into the other's objects.

A cell is a tuple ``(g, t, b, post)``: cohort value ``g`` (float; never
treated is ``inf``), the index ``t`` of the period estimated, the index ``b``
of its base period, and whether ``t`` is a post-treatment period.
"""

from __future__ import annotations

import warnings

import numpy as np

from policyeval.exceptions import EstimationError, EstimationWarning

__all__ = ["treated_cohorts", "group_time_cells", "control_cohorts", "check_cohort_sizes",
           "cells_from_cohort_sums"]


def treated_cohorts(cohort_values: np.ndarray) -> np.ndarray:
    """The cohorts whose ATT(g,t) are estimated.

    Parameters
    ----------
    cohort_values : numpy.ndarray
        Sorted cohort values, ``inf`` for never treated.

    Returns
    -------
    numpy.ndarray
        The finite cohorts; without a never-treated cohort the last one only
        serves as a control (nobody is left to compare it with once it is
        treated), so it is left out.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.estimators.group_time import treated_cohorts
    >>> treated_cohorts(np.array([2004.0, 2006.0, np.inf])).tolist()
    [2004.0, 2006.0]
    >>> treated_cohorts(np.array([2004.0, 2006.0])).tolist()
    [2004.0]
    """
    glist = cohort_values[np.isfinite(cohort_values)]
    if not np.isinf(cohort_values).any():
        glist = glist[:-1]
    return glist


def group_time_cells(periods: np.ndarray, glist, *, base_period: str, anticipation: int) -> list[tuple]:
    """Every ATT(g,t) cell ``(g, t index, base index, post)``, in R ``did``'s order.

    Parameters
    ----------
    periods : numpy.ndarray
        Sorted periods of the panel.
    glist : array-like
        Treated cohorts (:func:`treated_cohorts`).
    base_period : {"varying", "universal"}
        ``"varying"``: a pre-period cell compares ``t`` with ``t - 1``;
        ``"universal"``: every cell compares with the last period before
        ``g - anticipation``.
    anticipation : int
        Periods of anticipation.

    Returns
    -------
    list of tuple
        ``(g, t, b, post)`` per cell.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.estimators.group_time import group_time_cells
    >>> group_time_cells(np.array([2001, 2002, 2003]), [2003.0], base_period="varying", anticipation=0)
    [(2003.0, 1, 0, False), (2003.0, 2, 1, True)]
    """
    out = []
    first_t = 1 if base_period == "varying" else 0
    for g in glist:
        pre = np.flatnonzero(periods + anticipation < g)
        if len(pre) == 0:       # such units are dropped before estimation
            continue
        last_pre = int(pre[-1])
        for ti in range(first_t, len(periods)):
            post = bool(g <= periods[ti])
            b = last_pre if (post or base_period == "universal") else ti - 1
            out.append((float(g), ti, b, post))
    return out


def control_cohorts(cohort_values: np.ndarray, g: float, periods: np.ndarray, ti: int, b: int, *,
                    control_group: str, anticipation: int) -> np.ndarray:
    """Boolean mask over ``cohort_values``: the cohorts that serve as controls of cell (g, t, b).

    Parameters
    ----------
    cohort_values : numpy.ndarray
        Sorted cohort values, ``inf`` for never treated.
    g : float
        The cell's cohort.
    periods : numpy.ndarray
        Sorted periods.
    ti, b : int
        Indices of the cell's period and base period.
    control_group : {"never_treated", "not_yet_treated"}
    anticipation : int

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.estimators.group_time import control_cohorts
    >>> cv = np.array([2002.0, 2003.0, np.inf])
    >>> control_cohorts(cv, 2002.0, np.array([2001, 2002, 2003]), 1, 0,
    ...                 control_group="not_yet_treated", anticipation=0).tolist()
    [False, True, True]
    """
    never = np.isinf(cohort_values)
    if control_group == "never_treated":
        return never
    cutoff = periods[max(ti, b)] + anticipation
    return never | ((cohort_values > cutoff) & (cohort_values != g))


def check_cohort_sizes(cohort_values: np.ndarray, sizes, covs: list, gname: str, *,
                       stacklevel: int = 3) -> None:
    """Refuse cohorts too small for their covariate regressions; warn about nearly too small ones.

    Parameters
    ----------
    cohort_values : numpy.ndarray
        Cohort values, ``inf`` for never treated.
    sizes : array-like of int
        Units per cohort (fewest observations in one period with repeated
        cross-sections).
    covs : list of str
        Covariates.
    gname : str
        The cohort column, named in messages.
    stacklevel : int, default 3
        Of the warning.

    Raises
    ------
    EstimationError
        A cohort has no more units than covariates plus an intercept.

    Warns
    -----
    EstimationWarning
        A cohort has fewer than four units beyond that.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.estimators.group_time import check_cohort_sizes
    >>> check_cohort_sizes(np.array([2004.0, np.inf]), [2, 40], ["x"], "g")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.EstimationError: cohort g=2004 has 2 units, too few for 1 covariates ['x'] plus an intercept; drop covariates or merge cohorts.
    """
    k = len(covs) + 1
    for value, size in zip(cohort_values, sizes):
        label = "never treated" if np.isinf(value) else f"{value:g}"
        if size < k + 1:
            raise EstimationError(
                f"cohort {gname}={label} has {size} units, too few for {len(covs)} covariates "
                f"{covs} plus an intercept; drop covariates or merge cohorts.")
        if size < k + 4:
            warnings.warn(f"cohort {gname}={label} has only {size} units for {len(covs)} covariates; "
                          "estimates may be unstable.", EstimationWarning, stacklevel=stacklevel)


def cells_from_cohort_sums(cells, cohort_values: np.ndarray, periods: np.ndarray, counts, W, S, n: int, *,
                           control_group: str, anticipation: int):
    """Every ATT(g,t) as a difference of cohort-period means, with its influence weights.

    Parameters
    ----------
    cells : list of tuple
        From :func:`group_time_cells`.
    cohort_values : numpy.ndarray
        Sorted cohort values, ``inf`` for never treated.
    periods : numpy.ndarray
        Sorted periods.
    counts : numpy.ndarray
        Units per cohort.
    W : numpy.ndarray
        Weight total per cohort.
    S : numpy.ndarray
        ``S[c, t]``: cohort ``c``'s weighted outcome sum in period ``t``.
    n : int
        Number of units.
    control_group : {"never_treated", "not_yet_treated"}
    anticipation : int

    Returns
    -------
    est : numpy.ndarray
        ATT(g,t) per cell (NaN where a side has no weight; 0 where ``t`` is
        the base period).
    coef : numpy.ndarray
        ``coef[c, t, j]`` turns a unit's outcomes (and, at ``t = T``, its
        weight) into its influence on cell ``j``.
    n_t, n_c : numpy.ndarray
        Treated and control units per cell.

    Notes
    -----
    Without covariates every Callaway--Sant'Anna estimator reduces to
    :math:`\\widehat{ATT}(g,t) = \\bar\\Delta Y_{g} - \\bar\\Delta Y_{C}`, the
    change from the base period of the cohort's weighted mean minus that of
    its controls.

    Examples
    --------
    Two units per cohort, a 2003 cohort and the never treated, periods 2002--2003:

    >>> import numpy as np
    >>> from policyeval.estimators.group_time import cells_from_cohort_sums, group_time_cells
    >>> periods, cv = np.array([2002, 2003]), np.array([2003.0, np.inf])
    >>> S = np.array([[2.0, 6.0], [2.0, 4.0]])          # outcome sums by cohort and period
    >>> cells = group_time_cells(periods, [2003.0], base_period="varying", anticipation=0)
    >>> est, coef, n_t, n_c = cells_from_cohort_sums(cells, cv, periods, np.array([2, 2]),
    ...                                              np.array([2.0, 2.0]), S, 4,
    ...                                              control_group="never_treated", anticipation=0)
    >>> est.tolist(), n_t.tolist(), n_c.tolist()
    ([1.0], [2], [2])
    """
    T = S.shape[1]
    k = len(cells)
    coef = np.zeros((len(cohort_values), T + 2, k))
    est = np.full(k, np.nan)
    n_t = np.zeros(k, dtype=np.int64)
    n_c = np.zeros(k, dtype=np.int64)
    for j, (g, ti, b, _) in enumerate(cells):
        cg = int(np.searchsorted(cohort_values, g))
        ctrl = control_cohorts(cohort_values, g, periods, ti, b, control_group=control_group,
                               anticipation=anticipation)
        n_t[j], n_c[j] = counts[cg], counts[ctrl].sum()
        if ti == b:
            est[j] = 0.0
            continue
        w1, w0 = W[cg], W[ctrl].sum()
        if w1 <= 0 or w0 <= 0:
            continue
        mu1 = (S[cg, ti] - S[cg, b]) / w1
        mu0 = (S[ctrl, ti].sum() - S[ctrl, b].sum()) / w0
        est[j] = mu1 - mu0
        coef[cg, ti, j] += n / w1
        coef[cg, b, j] -= n / w1
        coef[cg, T, j] = -n * mu1 / w1
        coef[ctrl, ti, j] -= n / w0
        coef[ctrl, b, j] += n / w0
        coef[ctrl, T, j] = n * mu0 / w0
    return est, coef, n_t, n_c
