r"""Design-stage power: the minimum detectable effect of a DiD study before it is run.

Two answers to "is one park enough to detect an effect on 亩均 output?":

- :func:`minimum_detectable_effect`, analytic: Bloom's
  :math:`MDE = (t_{1-\kappa} + t_{1-\alpha/2})\,SE` with the standard error
  of the two-way fixed-effects DiD under serially correlated errors
  (Burlig, Preonas & Woerman 2020);
- :func:`power_analysis`, by simulation on the user's own pre-period data:
  placebo-assign treatment to random units at a random date, inject an
  effect, estimate (TWFE or Callaway–Sant'Anna) and count rejections.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from policyeval._validation import examples, numeric_column, require_columns, require_frame
from policyeval.exceptions import (
    ArgumentTypeError,
    DataError,
    DesignError,
    DroppedObservationsWarning,
    EstimationError,
)
from policyeval.results.base import Summary

__all__ = ["minimum_detectable_effect", "power_analysis", "PowerResult"]


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{name}={value!r} must be an integer")
    if value < minimum:
        raise DesignError(f"{name}={value!r} must be at least {minimum}")
    return int(value)


def _probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ArgumentTypeError(f"{name}={value!r} must be a number strictly between 0 and 1")
    if not 0 < float(value) < 1:
        raise DesignError(f"{name}={value!r} must lie strictly between 0 and 1")
    return float(value)


def _check_design(n_units, n_treated, n_pre, n_post):
    n_units = _positive_int(n_units, "n_units", 2)
    n_treated = _positive_int(n_treated, "n_treated", 1)
    if n_treated >= n_units:
        raise DesignError(f"n_treated={n_treated} must be smaller than n_units={n_units}: "
                         "a DiD needs at least one control unit")
    return n_units, n_treated, _positive_int(n_pre, "n_pre"), _positive_int(n_post, "n_post")


def _contrast_variance(cov: np.ndarray, n_pre: int, n_post: int) -> float:
    """Variance of a unit's (post mean - pre mean) for error covariance ``cov``."""
    c = np.r_[np.full(n_pre, -1.0 / n_pre), np.full(n_post, 1.0 / n_post)]
    return float(c @ cov @ c)


def minimum_detectable_effect(
    n_units: int,
    n_treated: int,
    n_pre: int,
    n_post: int,
    sigma: float | None = None,
    *,
    rho: float = 0.0,
    covariance: np.ndarray | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    df: int | None | str = "units",
) -> float:
    r"""Analytic minimum detectable effect of a two-group DiD.

    Parameters
    ----------
    n_units : int
        Number of units (counties, clusters), treated and control.
    n_treated : int
        Number of treated units, :math:`1 \le` ``n_treated`` :math:`<`
        ``n_units``.
    n_pre, n_post : int
        Periods before and after treatment (common adoption date).
    sigma : float, optional
        Standard deviation of the outcome's idiosyncratic error (net of unit
        and period effects), in outcome units (e.g. log points of 亩均
        output). Give it with ``rho``, or give ``covariance``.
    rho : float
        First-order autocorrelation of the errors (AR(1):
        :math:`\mathrm{Cov}(\varepsilon_s, \varepsilon_t) = \sigma^2
        \rho^{|s-t|}`), in :math:`(-1, 1)`.
    covariance : array, optional
        A unit's error covariance over the ``n_pre + n_post`` periods, in
        time order (e.g. estimated from pre-period data); overrides
        ``sigma`` and ``rho``.
    alpha : float
        Size of the two-sided test, in (0, 1).
    power : float
        Desired power :math:`1-\kappa`, in (0, 1).
    df : "units", int or None
        Degrees of freedom of the t critical values: ``"units"``
        (default) uses ``n_units - 2``, an int that number, ``None`` the
        normal distribution.

    Returns
    -------
    float
        The smallest true effect the design detects with probability
        ``power`` in a two-sided test of size ``alpha``.

    Raises
    ------
    DesignError
        (a ``ValueError``) naming the argument: ``n_treated`` of zero or not below
        ``n_units``, ``power`` or ``alpha`` outside (0, 1), a negative
        ``sigma``, ``rho`` outside (-1, 1), a ``covariance`` of the wrong
        shape.
    ArgumentTypeError
        A count that is not an integer.

    Notes
    -----
    With :math:`J` units of which a share :math:`P` is treated, :math:`m`
    pre and :math:`r` post periods and error covariance :math:`\Sigma`, the
    DiD estimate is the difference between groups of the units' changes
    :math:`c'y_i` with :math:`c = (-\tfrac1m, \dots, \tfrac1r, \dots)`
    (unit effects cancel since :math:`c'1 = 0`), so

    .. math::

        \mathrm{Var}(\hat\delta) = \frac{c'\Sigma c}{P(1-P)J}
          = \frac{1}{P(1-P)J}\Big[\frac{m+r}{mr}\sigma^2
            + \frac{m-1}{m}\psi^B + \frac{r-1}{r}\psi^A - 2\psi^X\Big],

    Burlig, Preonas & Woerman's (2020, eq. 5) serial-correlation-robust
    variance, :math:`\psi^B, \psi^A, \psi^X` being the average covariances
    between distinct pre periods, distinct post periods and pre-post pairs.
    Then :math:`MDE = (t_{1-\kappa} + t_{1-\alpha/2})\sqrt{\mathrm{Var}}`
    (Bloom 1995). With ``rho=0`` this is :math:`\sigma^2(1/m + 1/r)/(P(1-P)J)`.
    The formula assumes homoskedastic errors across units; with one or a
    few treated units cluster-robust tests over-reject and the analytic MDE
    is optimistic — check with :func:`power_analysis`.

    References
    ----------
    Bloom, H. S. (1995). Minimum detectable effects: a simple way to report
    the statistical power of experimental designs. *Evaluation Review*,
    19(5), 547-556.

    Burlig, F., Preonas, L. and Woerman, M. (2020). Panel data and
    experimental design. *Journal of Development Economics*, 144, 102458.

    Examples
    --------
    One treated county among 60, ten years either side, errors with sd 0.1
    (log points) and autocorrelation 0.5:

    >>> import policyeval as pe
    >>> round(pe.minimum_detectable_effect(60, 1, 10, 10, sigma=0.1, rho=0.5), 3)
    0.199
    >>> round(pe.minimum_detectable_effect(60, 10, 10, 10, sigma=0.1, rho=0.5), 3)
    0.068
    """
    n_units, n_treated, n_pre, n_post = _check_design(n_units, n_treated, n_pre, n_post)
    alpha = _probability(alpha, "alpha")
    power = _probability(power, "power")
    T = n_pre + n_post
    if covariance is not None:
        cov = np.asarray(covariance, dtype=float)
        if cov.shape != (T, T):
            raise DesignError(f"covariance must be {T}x{T} (n_pre + n_post periods); got shape "
                             f"{cov.shape}")
    else:
        if sigma is None:
            raise DesignError("give sigma= (with rho=) or covariance=")
        if not np.isfinite(sigma) or sigma < 0:
            raise DesignError(f"sigma={sigma!r} must be a non-negative number")
        if not -1 < rho < 1:
            raise DesignError(f"rho={rho!r} must lie strictly between -1 and 1")
        lags = np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
        cov = sigma**2 * float(rho) ** lags
    share = n_treated / n_units
    se = np.sqrt(_contrast_variance(cov, n_pre, n_post) / (share * (1 - share) * n_units))
    if df == "units":
        df = n_units - 2
    dist = stats.norm if df is None else stats.t(_positive_int(df, "df"))
    return float((dist.ppf(power) + dist.ppf(1 - alpha / 2)) * se)


@dataclass
class PowerResult:
    """Result of :func:`power_analysis`: the simulated power curve.

    Attributes
    ----------
    curve : pandas.DataFrame
        One row per injected effect: ``effect``, ``power`` (rejection rate),
        ``mc_std_error`` (its Monte Carlo standard error).
    size : float
        Rejection rate at effect 0: the test's actual size on these data.
        Far above ``alpha`` means the standard errors are too small for
        this design (typical with one or two treated units).
    mde : float
        Smallest injected effect whose power reaches ``power``, by linear
        interpolation of the curve; ``nan`` if the grid never reaches it, or
        if the test already rejects that often at effect 0 (its size is
        invalid for the design).
    analytic_mde : float
        :func:`minimum_detectable_effect` with the error covariance
        estimated from the same data (averaged over the placebo windows).
    estimates, std_errors : numpy.ndarray
        Placebo estimates (no injected effect) and their standard errors.
    spec : dict
        The design and options.
    """

    curve: pd.DataFrame
    size: float
    mde: float
    analytic_mde: float
    estimates: np.ndarray
    std_errors: np.ndarray
    spec: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The power curve (a copy)."""
        return self.curve.copy()

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary."""
        s = self.spec
        facts = [("Estimator", s["estimator"]), ("Simulations", f"{s['n_simulations']:,}"),
                 ("Units", f"{s['n_units']:,}"), ("Treated units", str(s["n_treated"])),
                 ("Pre / post", f"{s['n_pre']} / {s['n_post']}"), ("alpha", f"{s['alpha']}"),
                 ("Size (effect 0)", f"{self.size:.3f}"), ("Simulated MDE", f"{self.mde:.4f}"),
                 ("Analytic MDE", f"{self.analytic_mde:.4f}")]
        notes = [f"Placebo treatment on yname={s['yname']!r}: {s['n_treated']} random units, "
                 f"random {s['n_pre'] + s['n_post']}-period window, effect added in the last "
                 f"{s['n_post']} periods; MDE at power {s['power']}."]
        if self.size > s["alpha"] + 3 * np.sqrt(s["alpha"] * (1 - s["alpha"]) / s["n_simulations"]):
            notes.append(f"Warning: the test rejects {self.size:.1%} of placebos at effect 0 "
                         f"(nominal {s['alpha']:.0%}); its standard errors are too small for "
                         "this design, so the simulated power overstates what can be detected.")
        return Summary("Power analysis (simulation)", facts, self.curve.set_index("effect"),
                       notes)

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def _fit(estimator: str, data, yname, tname, idname):
    from policyeval import estimators as pe  # the layer below, not the package root

    if estimator == "twfe":
        res = pe.TWFE().fit(data, yname=yname, tname=tname, idname=idname, gname="_placebo_g")
        dist = res._reference_distribution()
        return float(res.params["treated"]), float(res.std_errors["treated"]), dist
    res = pe.CallawaySantAnna(control_group="never_treated", allow_unbalanced_panel=True,
                              progress=False).fit(data, yname=yname, tname=tname,
                                                  idname=idname, gname="_placebo_g")
    agg = res.aggregate("simple")
    return float(agg.overall["estimate"]), float(agg.overall["std_error"]), stats.norm


def power_analysis(
    data: pd.DataFrame,
    yname: str,
    tname: str,
    idname: str,
    *,
    n_treated: int,
    n_post: int,
    n_pre: int | None = None,
    effects: Sequence[float] | None = None,
    estimator: str = "twfe",
    n_simulations: int = 200,
    alpha: float = 0.05,
    power: float = 0.8,
    gname: str | None = None,
    seed: int | None = None,
) -> PowerResult:
    r"""Simulated power of a DiD design on the user's own pre-period data.

    Each simulation draws ``n_treated`` units at random and a random window
    of ``n_pre + n_post`` consecutive periods, marks the last ``n_post`` as
    treated for the drawn units (a placebo: nothing happened to them), adds
    an effect :math:`\delta` to their outcome there, estimates the DiD and
    records whether the two-sided test of size ``alpha`` rejects.

    Parameters
    ----------
    data : pandas.DataFrame
        Long panel of outcomes *without* treatment: the pre-period data
        (or pass ``gname`` to drop treated rows).
    yname, tname, idname : str
        Outcome, integer period and unit columns.
    n_treated : int
        Treated units per simulated study, :math:`1 \le` ``n_treated``
        :math:`<` number of units.
    n_post : int
        Post-treatment periods in each simulated study.
    n_pre : int, optional
        Pre-treatment periods; default every remaining period.
    effects : sequence of float, optional
        Injected effects (outcome units). Default: 0 to 4 times the median
        placebo standard error in 13 steps.
    estimator : {"twfe", "cs"}
        :class:`policyeval.TWFE` (clustered by unit) or
        :class:`policyeval.CallawaySantAnna` (never-treated controls,
        simple aggregation).
    n_simulations : int
        Number of placebo draws.
    alpha, power : float
        Size of the test and target power, in (0, 1).
    gname : str, optional
        First treated period; rows of treated units from that period on are
        dropped (with a warning) so only untreated outcomes remain.
    seed : int, optional
        Seed of the random draws.

    Returns
    -------
    PowerResult

    Raises
    ------
    DesignError
        (a ``ValueError``) naming the argument: ``n_treated`` zero or not below the number of
        units, ``power`` / ``alpha`` outside (0, 1), ``n_pre + n_post``
        longer than the panel, an unknown ``estimator``.
    ColumnNotFoundError
        A named column is missing.

    Notes
    -----
    Both estimators are linear in the outcome and the injected effect lies
    in the span of the treatment regressor (TWFE) or shifts every treated
    unit's post-period change by :math:`\delta` (Callaway–Sant'Anna), so
    the estimate at :math:`\delta` is the placebo estimate plus
    :math:`\delta` and the standard error is unchanged: one fit per draw
    gives the whole power curve (checked against refitting in the tests).
    The rejection rate at :math:`\delta = 0` is the actual size; with very
    few treated units cluster-robust tests reject far more often than
    ``alpha`` and the curve is then not a valid power curve — use a
    randomization test (:func:`policyeval.randomization_inference`) for such
    designs. The analytic MDE in the result uses the error covariance of
    the outcome net of period means, averaged over the possible windows.

    References
    ----------
    Burlig, F., Preonas, L. and Woerman, M. (2020). Panel data and
    experimental design. *Journal of Development Economics*, 144, 102458.

    Examples
    --------
    Is one park enough to detect an effect on 亩均 value added (log value
    added per 亩 of industrial land) in the bundled SIMULATED panel?

    >>> import numpy as np, policyeval as pe
    >>> panel = pe.load_simulated_panel()  # simulated data, not real counties
    >>> panel["log_va_per_mu"] = panel["log_industrial_va"] - panel["log_industrial_land"]
    >>> pre = panel[panel["first_treat"] == 0].dropna(subset=["log_va_per_mu"])
    >>> one = pe.power_analysis(pre, "log_va_per_mu", "year", "county_code", n_treated=1,
    ...                         n_post=5, n_pre=5, n_simulations=40, seed=1)
    >>> one.size > 0.05   # one treated unit: the clustered test over-rejects
    True
    >>> ten = pe.power_analysis(pre, "log_va_per_mu", "year", "county_code", n_treated=10,
    ...                         n_post=5, n_pre=5, n_simulations=40, seed=1)
    >>> bool(ten.analytic_mde < one.analytic_mde)
    True
    """
    require_frame(data, "data")
    require_columns(data, strict=True, yname=yname, tname=tname, idname=idname,
                    **({"gname": gname} if gname is not None else {}))
    if estimator not in ("twfe", "cs"):
        raise DesignError(f"estimator={estimator!r} must be 'twfe' or 'cs'")
    alpha = _probability(alpha, "alpha")
    power = _probability(power, "power")
    n_simulations = _positive_int(n_simulations, "n_simulations", 2)
    frame = data[list(dict.fromkeys([idname, tname, yname] + ([gname] if gname else [])))].copy()
    y = numeric_column(frame, yname, "yname", idname)
    if gname is not None:
        g = numeric_column(frame, gname, "gname", idname)
        treated = (g > 0) & (frame[tname].to_numpy(dtype=float) >= g)
        if treated.any():
            warnings.warn(f"dropped {int(treated.sum())} treated rows (gname={gname!r}, units "
                          f"{examples(frame.loc[treated, idname])}); the placebo uses untreated "
                          "outcomes only", DroppedObservationsWarning, stacklevel=2)
        keep = ~treated
        frame, y = frame.loc[keep], y[keep]
    miss = np.isnan(y)
    if miss.any():
        warnings.warn(f"dropped {int(miss.sum())} of {len(frame)} rows with a missing "
                      f"yname={yname!r} (units {examples(frame.loc[miss, idname])})",
                      DroppedObservationsWarning, stacklevel=2)
        frame, y = frame.loc[~miss], y[~miss]
    frame = frame.assign(**{yname: y})
    units = pd.unique(frame[idname])
    periods = np.sort(pd.unique(frame[tname]))
    n_units = len(units)
    if n_units < 2:
        raise DataError(f"data has {n_units} units with an outcome; a DiD needs at least two")
    _check_design(n_units, n_treated, 1, n_post)
    if n_pre is None:
        n_pre = len(periods) - n_post
    n_pre = _positive_int(n_pre, "n_pre")
    window = n_pre + n_post
    if window > len(periods):
        raise DesignError(f"n_pre + n_post = {window} periods is longer than the "
                         f"{len(periods)} periods of tname={tname!r} in data")
    if effects is not None:
        effects = np.asarray(effects, dtype=float)
        if effects.ndim != 1 or not effects.size or not np.isfinite(effects).all():
            raise DesignError(f"effects={effects!r} must be a non-empty list of finite numbers")

    rng = np.random.default_rng(seed)
    starts = np.arange(len(periods) - window + 1)
    est, se, crit = np.empty(n_simulations), np.empty(n_simulations), np.empty(n_simulations)
    t_all = frame[tname].to_numpy()
    for s in range(n_simulations):
        start = periods[rng.choice(starts)]
        adopt = periods[np.searchsorted(periods, start) + n_pre]
        last = periods[np.searchsorted(periods, start) + window - 1]
        rows = (t_all >= start) & (t_all <= last)
        sim = frame.loc[rows].copy()
        # placebo-treated units need an outcome both before and after the placebo date
        post_rows = sim[tname].to_numpy() >= adopt
        has_pre = set(sim.loc[~post_rows, idname])
        eligible = [u for u in pd.unique(sim.loc[post_rows, idname]) if u in has_pre]
        if len(eligible) <= n_treated:
            raise DataError(
                f"only {len(eligible)} units have outcomes both before and after the placebo "
                f"date {adopt} in the window {start}-{last}; n_treated={n_treated} needs more "
                "(and at least one control)")
        chosen = rng.choice(np.asarray(eligible, dtype=object), size=n_treated, replace=False)
        sim["_placebo_g"] = np.where(sim[idname].isin(chosen), adopt, 0)
        try:
            est[s], se[s], dist = _fit(estimator, sim, yname, tname, idname)
        except EstimationError as err:
            raise EstimationError(f"simulation {s} (units {examples(chosen)}, adoption "
                                  f"{adopt}) could not be estimated: {err}") from err
        crit[s] = dist.ppf(1 - alpha / 2)
    if effects is None:
        effects = np.linspace(0, 4, 13) * float(np.median(se))
    t_abs = np.abs(est[:, None] + effects[None, :]) / se[:, None]
    reject = (t_abs > crit[:, None]).mean(axis=0)
    curve = pd.DataFrame({"effect": effects, "power": reject,
                          "mc_std_error": np.sqrt(reject * (1 - reject) / n_simulations)})
    size = float((np.abs(est) / se > crit).mean())
    order = np.argsort(effects)
    e_sorted, p_sorted = np.abs(effects[order]), reject[order]
    mde = float("nan")
    above = np.flatnonzero(p_sorted >= power)
    if above.size:
        i = above[0]
        if i == 0:
            # the test already rejects this often at the smallest effect (effect 0: its size):
            # no meaningful minimum detectable effect
            mde = float(e_sorted[0]) if e_sorted[0] > 0 else float("nan")
        else:
            e0, e1, p0, p1 = e_sorted[i - 1], e_sorted[i], p_sorted[i - 1], p_sorted[i]
            mde = float(e0 + (power - p0) * (e1 - e0) / (p1 - p0))

    # analytic MDE with the covariance of the outcome net of period means, over the windows
    wide = frame.pivot_table(index=idname, columns=tname, values=yname, aggfunc="first")
    wide = wide.reindex(columns=periods)
    dev = wide - wide.mean(axis=0)
    cov_full = dev.cov(min_periods=2).to_numpy()
    variances = [_contrast_variance(cov_full[k:k + window, k:k + window], n_pre, n_post)
                 for k in starts]
    share = n_treated / n_units
    se_analytic = np.sqrt(np.nanmean(variances) / (share * (1 - share) * n_units))
    df_t = stats.t(max(n_units - 2, 1))
    analytic = float((df_t.ppf(power) + df_t.ppf(1 - alpha / 2)) * se_analytic)
    spec = {"yname": yname, "tname": tname, "idname": idname, "n_units": n_units,
            "n_treated": n_treated, "n_pre": n_pre, "n_post": n_post, "estimator": estimator,
            "n_simulations": n_simulations, "alpha": alpha, "power": power, "seed": seed}
    return PowerResult(curve, size, mde, analytic, est, se, spec)
