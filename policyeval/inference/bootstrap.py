"""Multiplier bootstrap on an influence function, with uniform confidence bands.

Given an influence function :math:`\\psi` (see
:mod:`policyeval.inference.influence`) with cluster sums :math:`S_c`, each
bootstrap draw perturbs the cluster sums by i.i.d. multipliers :math:`V_c`
(mean 0, variance 1) and keeps

.. math::

    \\hat\\theta^{*}_r - \\hat\\theta = \\frac{1}{n}\\sum_c V_{rc} S_c .

The bootstrap standard error is the normal-scaled interquartile range of the
draws, :math:`(q_{.75} - q_{.25}) / (z_{.75} - z_{.25})`, and the critical
value of the uniform (simultaneous) band is the :math:`1-\\alpha` quantile of
:math:`\\max_k |\\hat\\theta^{*}_{rk} - \\hat\\theta_k| / \\widehat{se}_k`, as in
R ``did``'s ``mboot`` (Callaway & Sant'Anna 2021, Algorithm 1). Nothing here
is specific to one estimator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from policyeval.inference import distributions as stats   # scipy.stats is slow to import
from policyeval._validation import check_draws, require_option
from policyeval.exceptions import ArgumentValueError
from policyeval.inference._multiplier import MultiplierStream

__all__ = ["BootstrapResult", "multiplier_bootstrap", "multiplier_draws"]


def multiplier_draws(kind: str, rng: np.random.Generator):
    """Return ``draw(m, size)`` producing an ``m x size`` array of multipliers.

    Parameters
    ----------
    kind : {"rademacher", "mammen"}
        Rademacher: :math:`\\pm 1` with probability 1/2 each. Mammen (1993):
        :math:`1-\\phi` with probability :math:`\\phi/\\sqrt5` and :math:`\\phi`
        otherwise, :math:`\\phi = (1+\\sqrt5)/2`; mean 0, variance 1, third
        moment 1.
    rng : numpy.random.Generator
    """
    require_option(kind, "weights", ("rademacher", "mammen"))
    return MultiplierStream(kind, rng, chunk=1)


@dataclass
class BootstrapResult:
    """Outcome of :func:`multiplier_bootstrap`.

    Attributes
    ----------
    std_errors : numpy.ndarray
        Bootstrap standard errors (NaN for degenerate terms).
    critical_value : float
        Critical value of the uniform band at ``level``.
    draws : numpy.ndarray
        ``n_bootstrap x k`` draws of :math:`\\hat\\theta^* - \\hat\\theta`.
    level : float
    n_bootstrap : int
    weights : str
    random_state : int or None
    """

    std_errors: np.ndarray
    critical_value: float
    draws: np.ndarray
    level: float
    n_bootstrap: int
    weights: str
    random_state: object


def multiplier_bootstrap(influence, n_bootstrap: int = 999, *, level: float = 0.95,
                         weights: str = "rademacher", random_state=None,
                         progress: bool = True) -> BootstrapResult:
    """Multiplier bootstrap of an influence function.

    Parameters
    ----------
    influence : policyeval.inference.influence.InfluenceFunction
        Any representation; clustering is taken from it.
    n_bootstrap : int
        Number of draws.
    level : float
        Coverage of the uniform band.
    weights : {"rademacher", "mammen"}
        Multiplier distribution (see :func:`multiplier_draws`).
    random_state : int, numpy.random.Generator or None
        Seed; the same seed gives the same draws.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    BootstrapResult

    Raises
    ------
    ArgumentValueError
        If ``n_bootstrap < 99`` (a p-value or band from fewer draws moves in
        steps too coarse to resolve the 5% and 1% levels; see
        :func:`policyeval._validation.check_draws`) or ``level`` not in (0, 1).

    Warns
    -----
    EstimationWarning
        If ``n_bootstrap < 399`` (Davidson & MacKinnon 2000).

    Notes
    -----
    Standard errors use the interquartile range so a few extreme draws do
    not dominate; the uniform critical value is computed only over terms
    with a non-degenerate bootstrap distribution (a reference period with an
    influence function of zeros is skipped).

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences
    with multiple time periods. Journal of Econometrics 225(2), 200-230.
    Mammen, E. (1993). Bootstrap and wild bootstrap for high dimensional
    linear models. Annals of Statistics 21(1), 255-285.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.inference.influence import DenseInfluence
    >>> psi = DenseInfluence(np.random.default_rng(0).normal(size=(500, 2)),
    ...                      cohort=np.zeros(500), weights=np.ones(500))
    >>> out = multiplier_bootstrap(psi, 499, random_state=1, progress=False)
    >>> out.std_errors.shape
    (2,)
    """
    require_option(weights, "weights", ("rademacher", "mammen"))
    check_draws(n_bootstrap, "n_bootstrap", stacklevel=3)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ArgumentValueError(f"level={level!r} must lie strictly between 0 and 1")
    rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    n_cols = influence.n_clusters
    chunk = int(max(1, min(n_bootstrap, 4_000_000 // max(n_cols, 1))))
    # the same seed gives the same draws: sums computed from them may be reused (same law, same
    # seed, same number of draws, same generator calls)
    seeded = isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool)
    key = (weights, int(random_state), int(n_bootstrap), chunk) if seeded else None
    draw = MultiplierStream(weights, rng, chunk, key)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_bootstrap, desc="multiplier bootstrap", leave=False)
    try:
        sums = influence.multiplier_sums(draw, n_bootstrap, chunk, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    boot = sums / influence.n
    q75, q25 = np.quantile(boot, [0.75, 0.25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / (stats.norm.ppf(0.75) - stats.norm.ppf(0.25))
    se[se <= np.sqrt(np.finfo(float).eps) * 10] = np.nan
    ok = np.isfinite(se)
    if ok.any():
        t_max = np.max(np.abs(boot[:, ok] / se[ok]), axis=1)
        crit = float(np.quantile(t_max, level, method="inverted_cdf"))
    else:
        crit = float("nan")
    return BootstrapResult(se, crit, boot, level, int(n_bootstrap), weights,
                           None if isinstance(random_state, np.random.Generator) else random_state)
