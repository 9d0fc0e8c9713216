"""Placebo and permutation inference for estimators with few treated units.

The functions here take a *fit function* so they serve any
synthetic-control-type estimator: placebos take ``paths(j, donors) ->
(actual, synthetic)`` working on unit positions; conformal inference takes
``fit(y, Y_donors, n_fit) -> synthetic path of y`` with weights fitted on the
first ``n_fit`` periods (it must alter the treated outcomes under the null).
In-time placebos refit the estimator on truncated data (see
``SyntheticControlResult.in_time_placebo``).

* :func:`in_space_placebos` — reassign treatment to each donor in turn
  (Abadie, Diamond & Hainmueller 2010, Section 3.3) and compute post/pre RMSPE
  ratios; :func:`permutation_pvalue` ranks the treated unit's ratio among them.
* :func:`leave_one_out` — drop each donor with positive weight and refit.
* :func:`conformal_pvalue` / :func:`conformal_confidence_set` — the conformal
  inference of Chernozhukov, Wüthrich & Zhu (2021) for a hypothesised effect
  path, with moving-block or iid permutations of the residuals.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from policyeval._validation import check_draws, require_option
from policyeval.exceptions import EstimationWarning

__all__ = [
    "rmspe",
    "in_space_placebos",
    "permutation_pvalue",
    "leave_one_out",
    "conformal_pvalue",
    "conformal_confidence_set",
]

FitFunction = Callable[[np.ndarray, np.ndarray, int], np.ndarray]


def rmspe(gaps: np.ndarray) -> float:
    """Root mean squared prediction error of a vector of gaps."""
    gaps = np.asarray(gaps, dtype=float)
    return float(np.sqrt(np.mean(gaps**2))) if gaps.size else float("nan")


def _progress(iterable, show: bool, desc: str):
    if not show:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return iterable
    return tqdm(iterable, desc=desc)


def in_space_placebos(n_units: int, units: Sequence, treated: int, n_pre: int,
                      paths: Callable[[int, list], tuple[np.ndarray, np.ndarray]],
                      progress: bool = False,
                      exclude_treated: bool = True) -> tuple[pd.DataFrame, np.ndarray]:
    r"""Reassign treatment to every unit and record its gap path.

    Parameters
    ----------
    n_units : int
        Number of units (the treated unit and its donors).
    units : sequence
        Their labels.
    treated : int
        Position of the actually treated unit.
    n_pre : int
        Number of pre-treatment periods.
    paths : callable
        ``paths(j, donors)`` returning ``(actual, synthetic)`` outcome paths of
        unit ``j`` built from the units at positions ``donors``.
    progress : bool
        Show a progress bar.
    exclude_treated : bool
        Leave the treated unit out of every placebo's donor pool, as Abadie,
        Diamond & Hainmueller (2010) do (its post-period outcomes carry the
        effect). Placebos then have one donor fewer than the treated unit,
        which makes the test somewhat liberal; ``False`` gives every unit all
        other units as donors, the exact permutation test under the sharp null.

    Returns
    -------
    table : pandas.DataFrame
        One row per unit: ``unit``, ``pre_rmspe``, ``post_rmspe``, ``ratio``
        and ``treated`` (bool).
    gaps : ndarray, shape (n_units, n_periods)
        Gap (actual minus synthetic) paths.

    Notes
    -----
    :math:`\text{ratio}_j = \text{RMSPE}^{post}_j / \text{RMSPE}^{pre}_j`;
    :func:`permutation_pvalue` ranks the treated unit's ratio.
    """
    rows = []
    for j in _progress(range(n_units), progress, "in-space placebos"):
        donors = [i for i in range(n_units) if i != j and not (exclude_treated and i == treated)]
        actual, synthetic = paths(j, donors)
        rows.append(actual - synthetic)
    gaps = np.vstack(rows)
    pre = np.sqrt(np.mean(gaps[:, :n_pre] ** 2, axis=1))
    post = np.sqrt(np.mean(gaps[:, n_pre:] ** 2, axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = post / pre
    table = pd.DataFrame({"unit": list(units), "pre_rmspe": pre, "post_rmspe": post,
                          "ratio": ratio, "treated": np.arange(n_units) == treated})
    return table, gaps


def permutation_pvalue(stats: np.ndarray, treated: int) -> float:
    r"""Share of units whose statistic is at least the treated unit's.

    .. math:: p = \frac{1}{J + 1}\sum_{j=1}^{J+1} 1\{s_j \ge s_1\}

    The smallest attainable value is :math:`1/(J+1)`. Ties count against the
    treated unit (the conservative choice).
    """
    stats = np.asarray(stats, dtype=float)
    s1 = stats[treated]
    return float(np.mean(stats >= s1 - 1e-12 * max(abs(s1), 1.0)))


def leave_one_out(treated: int, donors: Sequence[int], weights: np.ndarray, labels: Sequence,
                  paths: Callable[[int, list], tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """Synthetic paths when each donor with positive weight is dropped in turn.

    Returns a DataFrame with one column per dropped donor (its label) and one
    row per period.
    """
    out = {}
    for k in np.nonzero(np.asarray(weights) > 1e-8)[0]:
        keep = [d for i, d in enumerate(donors) if i != k]
        out[labels[k]] = paths(treated, keep)[1]
    return pd.DataFrame(out)


def _block_stat(u: np.ndarray, post: np.ndarray, q: float) -> float:
    x = np.abs(u[post])
    return float(np.mean(x**q) ** (1.0 / q)) if np.isfinite(q) else float(x.max())


def conformal_pvalue(y: np.ndarray, Y_donors: np.ndarray, n_pre: int, theta0,
                     fit: FitFunction, permutation: str = "moving_block", q: float = 1.0,
                     n_permutations: int = 1000, random_state=None) -> float:
    r"""Conformal p-value of :math:`H_0: \theta_t = \theta_{0t}` for the post periods.

    Chernozhukov, Wüthrich & Zhu (2021): impose the null on the treated unit's
    post-period outcomes, :math:`y^N_t = y_t - \theta_{0t}`; fit the synthetic
    control on **all** periods; compute residuals :math:`\hat u_t`; compare

    .. math:: S(\hat u) = \Big(\frac{1}{T_1}\sum_{t > T_0} |\hat u_t|^q\Big)^{1/q}

    with its value under permutations :math:`\pi` of the time index,
    :math:`p = \frac{1}{|\Pi|}\sum_{\pi\in\Pi} 1\{S(\hat u_\pi) \ge S(\hat u)\}`.
    ``"moving_block"`` uses the :math:`T` cyclic shifts (valid under weak
    dependence); ``"iid"`` uses ``n_permutations`` random permutations
    (exchangeable residuals).

    Parameters
    ----------
    y : ndarray, shape (T,)
        Treated unit's outcomes over the periods used (pre then post).
    Y_donors : ndarray, shape (J, T)
    n_pre : int
        Number of pre-treatment periods :math:`T_0`.
    theta0 : float or ndarray of shape (T - n_pre,)
        Hypothesised effect path.
    fit : callable
        ``fit(y, Y_donors, n_fit)``; called with ``n_fit = T`` (all periods).
    permutation : {"moving_block", "iid"}
    q : float
        Norm of the test statistic (``np.inf`` allowed).
    n_permutations : int
        Number of random permutations for ``"iid"``.
    random_state : int or numpy.random.Generator, optional

    Returns
    -------
    float
    """
    y = np.asarray(y, dtype=float)
    T = y.size
    y0 = y.copy()
    y0[n_pre:] = y0[n_pre:] - np.broadcast_to(np.asarray(theta0, dtype=float), (T - n_pre,))
    u = y0 - fit(y0, Y_donors, T)
    post = np.zeros(T, dtype=bool)
    post[n_pre:] = True
    s_obs = _block_stat(u, post, q)
    if permutation == "moving_block":
        perm_stats = [_block_stat(np.roll(u, -j), post, q) for j in range(T)]
    elif permutation == "iid":
        check_draws(n_permutations, "n_permutations", stacklevel=3)
        rng = np.random.default_rng(random_state)
        perm_stats = [s_obs] + [_block_stat(u[rng.permutation(T)], post, q)
                                for _ in range(n_permutations - 1)]
    else:
        require_option(permutation, "permutation", ("moving_block", "iid"))
    perm_stats = np.asarray(perm_stats)
    return float(np.mean(perm_stats >= s_obs - 1e-12 * max(s_obs, 1.0)))


def conformal_confidence_set(y: np.ndarray, Y_donors: np.ndarray, n_pre: int, fit: FitFunction,
                             level: float = 0.9, grid: np.ndarray | None = None,
                             permutation: str = "moving_block", q: float = 1.0,
                             n_permutations: int = 1000, random_state=None,
                             confidence_sets: bool = True) -> pd.DataFrame:
    r"""Per-period conformal p-values and confidence sets by test inversion.

    For each post period :math:`t`, the data are the pre-treatment periods plus
    period :math:`t` alone (CWZ 2021, Section 3.3); the confidence set collects
    the :math:`\theta` on ``grid`` (centred on the estimated gap) whose p-value
    exceeds :math:`1 - \text{level}`. The reported bounds are the smallest and
    largest accepted grid values; the set is an interval in practice, but the
    grid resolution limits the precision of its ends.

    ``confidence_sets=False`` skips the inversion (the bounds are NaN).

    Returns
    -------
    pandas.DataFrame
        Columns ``p_value`` (for :math:`\theta_t = 0`), ``conf_low``,
        ``conf_high``; one row per post period (positional index).
    """
    y = np.asarray(y, dtype=float)
    T = y.size
    require_option(permutation, "permutation", ("moving_block", "iid"))
    if permutation == "iid":
        check_draws(n_permutations, "n_permutations", stacklevel=3)
    elif 1.0 / (n_pre + 1) > 1.0 - level:
        # n_pre + 1 cyclic shifts: no p-value can fall below 1/(n_pre + 1)
        warnings.warn(
            f"moving-block conformal inference with {n_pre} pre-treatment periods has "
            f"{n_pre + 1} permutations per post period, so no p-value is below "
            f"1/{n_pre + 1} = {1 / (n_pre + 1):.3g} and a {level:.0%} confidence set cannot "
            "exclude any effect; lengthen the pre-period or use permutation='iid'.",
            EstimationWarning, stacklevel=2)
    rows = []
    for t in range(n_pre, T):
        cols = list(range(n_pre)) + [t]
        yt, Yt = y[cols], Y_donors[:, cols]
        p0 = conformal_pvalue(yt, Yt, n_pre, 0.0, fit, permutation, q, n_permutations, random_state)
        if not confidence_sets:
            rows.append({"p_value": p0, "conf_low": np.nan, "conf_high": np.nan})
            continue
        gap = yt[-1] - fit(yt, Yt, n_pre)[-1]
        def accepted_on(g):
            return [th for th in g
                    if conformal_pvalue(yt, Yt, n_pre, th, fit, permutation, q, n_permutations,
                                        random_state) > 1.0 - level]

        if grid is None:
            scale = max(np.std(yt[:n_pre] - fit(yt, Yt, n_pre)[:n_pre]), 1e-8, 0.05 * abs(gap))
            width = 10.0 * scale
            for _ in range(4):  # widen until the set is interior to the grid
                g = gap + np.linspace(-width, width, 201)
                accepted = accepted_on(g)
                if not accepted or (min(accepted) > g[0] and max(accepted) < g[-1]):
                    break
                width *= 3.0
        else:
            g = np.asarray(grid, dtype=float)
            accepted = accepted_on(g)
        lo, hi = (min(accepted), max(accepted)) if accepted else (np.nan, np.nan)
        if accepted and (lo <= g[0] or hi >= g[-1]):
            warnings.warn(f"conformal confidence set for post period {t - n_pre + 1} reaches the "
                          "end of the grid; its bound is truncated", RuntimeWarning, stacklevel=2)
        rows.append({"p_value": p0, "conf_low": lo, "conf_high": hi})
    return pd.DataFrame(rows)
