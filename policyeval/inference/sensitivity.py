r"""Sensitivity of event-study conclusions to violations of parallel trends.

:func:`honest_did` implements Rambachan & Roth (2023): instead of assuming
that the post-treatment difference in trends :math:`\delta_{post}` is zero, it
bounds it by what the pre-treatment coefficients reveal and reports, for each
degree of violation, a confidence interval that stays valid. Two
restrictions are offered, as in R ``HonestDiD``:

* **relative magnitudes** :math:`\Delta^{RM}(\bar M)`: no post-period move of
  the trend gap is larger than :math:`\bar M` times the largest pre-period
  move; inference by the ARP conditional-least-favourable hybrid test
  ("C-LF", HonestDiD's default), inverted over a grid;
* **smoothness** :math:`\Delta^{SD}(M)`: the slope of the trend gap changes by
  at most :math:`M` between consecutive periods; inference by the optimal
  fixed-length confidence interval ("FLCI", HonestDiD's default) or the ARP
  tests.

The numerical routines live in :mod:`policyeval.inference._honest_lp`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from policyeval.exceptions import ArgumentTypeError, EstimationError, EstimationWarning
from policyeval.inference import _honest_lp as lp
from policyeval._deprecation import renamed_arguments
from policyeval.results.base import Summary

__all__ = ["HonestDiDResult", "honest_did"]

_METHODS = {"relative_magnitude": "DeltaRM", "smoothness": "DeltaSD"}
_INFERENCE = {"relative_magnitude": ("C-LF", "conditional"),
              "smoothness": ("FLCI", "C-LF", "conditional")}


# --- input handling -----------------------------------------------------------
def _as_event_time(label):
    try:
        val = float(label)
    except (TypeError, ValueError):
        return None
    return int(val) if val.is_integer() else None


def _covariance_of(result, index: pd.Index) -> np.ndarray:
    vcov = getattr(result, "vcov", None)
    if callable(vcov):  # a method, e.g. on an influence object
        vcov = None
    if vcov is not None:
        if not isinstance(vcov, pd.DataFrame):
            arr = np.asarray(vcov, dtype=float)
            if arr.shape != (len(index), len(index)):
                raise EstimationError(
                    f"result.vcov has shape {arr.shape}; expected ({len(index)}, {len(index)}) "
                    "matching result.params")
            return arr
        V = vcov
        missing = [i for i in index if i not in V.index or i not in V.columns]
        if missing:
            raise EstimationError(
                f"result.vcov lacks rows/columns for {len(missing)} terms of result.params "
                f"(e.g. {missing[:3]}); the covariance must be indexed like params"
            )
        out = V.loc[list(index), list(index)].to_numpy(dtype=float)
        bad = ~np.isfinite(out)
        if bad.any():
            pairs = [(index[i], index[j]) for i, j in zip(*np.nonzero(bad))]
            raise EstimationError(
                f"result has no joint covariance of its coefficients: result.vcov is NaN for "
                f"{len(pairs)} entries (e.g. {pairs[:3]}), i.e. only standard errors (or separate "
                "blocks) were estimated; the joint covariance of the event-study coefficients is "
                "needed, not only their standard errors")
        return out
    infl = getattr(result, "influence", None)
    if infl is None:
        raise EstimationError(
            "result has neither a covariance (result.vcov) nor an influence function "
            "(result.influence); honest_did needs the joint covariance of the event-study "
            "coefficients, not only their standard errors"
        )
    if hasattr(infl, "vcov") and callable(infl.vcov):
        V = np.asarray(infl.vcov(), dtype=float)
    else:
        psi = np.asarray(infl, dtype=float)
        if psi.ndim != 2 or psi.shape[1] != len(index):
            raise EstimationError(
                f"result.influence has shape {psi.shape}; expected (n_units, {len(index)}) "
                "matching result.params"
            )
        V = psi.T @ psi / psi.shape[0] ** 2
    if V.shape != (len(index), len(index)):
        raise EstimationError(
            f"covariance from result.influence has shape {V.shape}; expected "
            f"({len(index)}, {len(index)}) matching result.params"
        )
    return V


def _is_imputation(result) -> bool:
    return hasattr(result, "pretrend_test") and hasattr(result, "effects") \
        and isinstance(getattr(result, "spec", None), dict) and "pretrend_vcov" in result.spec


def _check_event_study(result, purpose: str) -> None:
    """Refuse, with the reason, results that are not an event study of one reference period."""
    if hasattr(result, "att_gt") and callable(getattr(result, "aggregate", None)):
        raise EstimationError(
            f"{purpose} needs event-time coefficients: pass result.aggregate('dynamic') of this "
            "Callaway-Sant'Anna ATT(g,t) result (fitted with base_period='universal' for "
            "honest_did)")
    if getattr(result, "kind", None) in ("simple", "group", "calendar"):
        raise EstimationError(
            f"{purpose} needs the dynamic (event-time) aggregation; this is the "
            f"{result.kind!r} aggregation: use aggregate('dynamic')")
    if _is_imputation(result):
        raise EstimationError(
            f"{purpose} cannot use an ImputationDiD result: its pre-period (lead) coefficients come "
            "from BJS's separate test regression on the untreated observations, measured against "
            "all earlier untreated periods rather than one reference period, and their covariance "
            "with the imputed effects is not estimated (NaN in result.vcov); relating the two as "
            "Rambachan-Roth requires would misstate the violation. Test the leads with "
            "pretrend_test(result) (BJS Test 1), and run the sensitivity analysis on an event "
            "study with one reference period: EventStudy, SunAbraham, or CallawaySantAnna("
            "base_period='universal').aggregate('dynamic')")


def _from_result(result, purpose: str = "honest_did"
                 ) -> tuple[np.ndarray, np.ndarray, list[int], list[int], int]:
    """betahat, sigma, pre and post event times and the reference period of a result."""
    _check_event_study(result, purpose)
    params = getattr(result, "params", None)
    if not isinstance(params, pd.Series):
        raise ArgumentTypeError(
            f"result={type(result).__name__} has no pandas Series `params`; pass an "
            "event-study result of policyeval or betahat=/sigma= arrays"
        )
    extra = getattr(result, "extra", {}) or {}
    ref = extra.get("reference_period")
    if ref is None:
        raise EstimationError(
            "result.extra['reference_period'] is missing: honest_did needs event-study "
            "coefficients measured against one common (universal) reference period. For "
            "CallawaySantAnna use base_period='universal' before aggregate('dynamic'); with "
            "a varying base period the pre-period estimates are short placebo differences, "
            "not a pre-trend path (HonestDiD README, 'Staggered timing'). ImputationDiD's "
            "pre-trend coefficients come from a separate test regression with no common "
            "reference period, so they cannot be used here"
        )
    ref = int(ref)
    times = [_as_event_time(i) for i in params.index]
    bad = [lab for lab, t in zip(params.index, times) if t is None]
    if bad:
        raise EstimationError(
            f"result.params must be indexed by integer event time; found {len(bad)} other "
            f"labels (e.g. {bad[:3]})"
        )
    sigma_full = _covariance_of(result, params.index)
    beta_full = params.to_numpy(dtype=float)
    keep = [i for i, t in enumerate(times) if t != ref]
    if len(keep) < len(times):
        j = times.index(ref)
        if abs(beta_full[j]) > 1e-10 or abs(sigma_full[j, j]) > 1e-14:
            raise EstimationError(
                f"the reference period {ref} is in result.params with estimate "
                f"{beta_full[j]:.4g} (variance {sigma_full[j, j]:.3g}); a reference period "
                "must be normalised to exactly 0"
            )
    times_k = [times[i] for i in keep]
    order = np.argsort(times_k)
    idx = [keep[i] for i in order]
    times_k = [times[i] for i in idx]
    pre = [t for t in times_k if t < ref]
    post = [t for t in times_k if t > ref]
    if pre:
        want = list(range(ref - len(pre), ref))
        if pre != want:
            missing = sorted(set(range(min(pre), ref)) - set(pre))
            raise EstimationError(
                f"pre-period event times must be consecutive up to the reference period "
                f"{ref}; missing {missing[:5]} (have {pre})"
            )
    if post:
        want = list(range(ref + 1, ref + 1 + len(post)))
        if post != want:
            missing = sorted(set(range(ref + 1, max(post))) - set(post))
            raise EstimationError(
                f"post-period event times must be consecutive after the reference period "
                f"{ref}; missing {missing[:5]} (have {post})"
            )
    beta = beta_full[idx]
    sigma = sigma_full[np.ix_(idx, idx)]
    return beta, sigma, pre, post, ref


def _validate_arrays(betahat, sigma, num_pre_periods, num_post_periods):
    beta = np.asarray(betahat, dtype=float)
    if beta.ndim != 1:
        raise EstimationError(f"betahat must be a 1-D vector; got shape {beta.shape}")
    if not np.isfinite(beta).all():
        raise EstimationError(
            f"betahat has {int((~np.isfinite(beta)).sum())} non-finite entries "
            f"(positions {np.flatnonzero(~np.isfinite(beta))[:5].tolist()})")
    S = np.asarray(sigma, dtype=float)
    if S.shape != (beta.size, beta.size):
        raise EstimationError(
            f"sigma has shape {S.shape} but betahat has {beta.size} entries; sigma must be "
            f"the ({beta.size}, {beta.size}) covariance of betahat")
    if not np.isfinite(S).all():
        raise EstimationError("sigma has non-finite entries")
    if not np.allclose(S, S.T, rtol=1e-8, atol=1e-12 * max(1.0, np.abs(S).max())):
        raise EstimationError("sigma is not symmetric; pass the covariance matrix of betahat")
    eig = np.linalg.eigvalsh((S + S.T) / 2)
    if eig.min() < -1e-10 * max(1.0, abs(eig.max())):
        raise EstimationError(
            f"sigma is not positive semi-definite (smallest eigenvalue {eig.min():.3g}); "
            "pass a valid covariance matrix")
    if num_pre_periods is None or num_post_periods is None:
        raise EstimationError("with betahat= and sigma=, pass num_pre_periods= and "
                              "num_post_periods=")
    n_pre, n_post = int(num_pre_periods), int(num_post_periods)
    if n_pre + n_post != beta.size:
        raise EstimationError(
            f"num_pre_periods={n_pre} + num_post_periods={n_post} must equal len(betahat)="
            f"{beta.size}")
    return beta, (S + S.T) / 2, n_pre, n_post


def _check_sample(n_pre: int, n_post: int, pre_times, post_times) -> None:
    if n_pre < 1:
        raise EstimationError(
            "no pre-period coefficients: sensitivity to parallel trends is calibrated on the "
            "pre-trends, so at least one pre-period estimate (besides the reference period) "
            "is needed")
    if n_post < 1:
        raise EstimationError("no post-period coefficients to analyse")


def _l_vector(event_time, l_vec, post_times: list[int]) -> tuple[np.ndarray, str]:
    n_post = len(post_times)
    if l_vec is not None:
        lv = np.asarray(l_vec, dtype=float).ravel()
        if lv.size != n_post or not np.isfinite(lv).all():
            raise EstimationError(
                f"l_vec has {lv.size} entries; it needs one finite weight per post-period "
                f"({n_post}: event times {post_times})")
        if not np.any(lv != 0):
            raise EstimationError("l_vec is all zeros")
        return lv, "l_vec'tau_post (custom weights)"
    if isinstance(event_time, str):
        if event_time != "average":
            raise EstimationError(f"event_time={event_time!r} must be an event time or "
                                  "'average'")
        return np.full(n_post, 1.0 / n_post), f"average effect over event times {post_times}"
    et = _as_event_time(event_time)
    if et is None or et not in post_times:
        raise EstimationError(
            f"event_time={event_time!r} is not a post-period event time of the result "
            f"(post-period event times: {post_times}); use 'average' or l_vec= for "
            "combinations")
    lv = np.zeros(n_post)
    lv[post_times.index(et)] = 1.0
    return lv, f"effect at event time {et}"


def _default_m_grid(method: str, beta, sigma, n_pre: int, alpha: float) -> np.ndarray:
    if method == "relative_magnitude":
        return np.arange(0.0, 2.01, 0.5)
    # smoothness: up to an upper confidence bound on the largest pre-period
    # second difference (HonestDiD's DeltaSD_upperBound_Mpre idea)
    pre_ext = np.r_[beta[:n_pre], 0.0]
    if n_pre < 2:
        sd = np.sqrt(sigma[0, 0])
        mub = abs(beta[0]) + stats.norm.ppf(1 - alpha / 2) * sd
    else:
        D2 = np.zeros((n_pre - 1, n_pre + 1))
        for r in range(n_pre - 1):
            D2[r, r:r + 3] = (1.0, -2.0, 1.0)
        D2 = D2[:, :n_pre]  # reference column multiplies 0
        sd = np.sqrt(np.diag(D2 @ sigma[:n_pre, :n_pre] @ D2.T))
        mub = float(np.max(np.abs(D2 @ pre_ext[:n_pre]) + stats.norm.ppf(1 - alpha / 2) * sd))
    return np.linspace(0.0, mub, 10)


# --- the public function --------------------------------------------------------
@renamed_arguments(seed="random_state")
def honest_did(
    result: Any = None,
    *,
    event_time: int | str = 0,
    l_vec: Sequence[float] | None = None,
    method: str = "relative_magnitude",
    m_grid: Sequence[float] | None = None,
    level: float | None = None,
    inference: str | None = None,
    grid_points: int = 1000,
    grid_bounds: tuple[float, float] | None = None,
    hybrid_kappa: float | None = None,
    random_state: int = 0,
    r_compatible: bool = False,
    betahat: Sequence[float] | None = None,
    sigma: Any = None,
    num_pre_periods: int | None = None,
    num_post_periods: int | None = None,
) -> HonestDiDResult:
    r"""Robust confidence intervals under bounded violations of parallel trends.

    Parameters
    ----------
    result : EstimationResult, optional
        An event-study result with one reference period: ``EventStudy``,
        ``SunAbraham``, or the ``CallawaySantAnna`` dynamic aggregation with
        ``base_period="universal"`` (``params`` indexed by event time, a
        covariance ``vcov`` and ``extra["reference_period"]``). Event times
        before the reference are pre-periods, after it post-periods; both
        must be consecutive. Refused, with the reason: an ``ImputationDiD``
        result (its leads are not measured against one reference period and
        have no covariance with the imputed effects; test them with
        :func:`~policyeval.inference.pretrends.pretrend_test`), a
        Callaway-Sant'Anna dynamic aggregation with ``base_period="varying"``
        (its pre-period estimates are one-period placebo differences), and
        results that are not event studies.
    event_time : int or "average"
        Post-period event time whose effect is analysed (default 0, the
        on-impact effect), or ``"average"`` for the mean over all
        post-periods.
    l_vec : sequence of float, optional
        Weights :math:`l` on the post-period effects; the target is
        :math:`\theta = l'\tau_{post}`. Overrides ``event_time``.
    method : {"relative_magnitude", "smoothness"}
        The restriction :math:`\Delta^{RM}(\bar M)` or :math:`\Delta^{SD}(M)`.
    m_grid : sequence of float, optional
        Values of :math:`\bar M` (relative magnitudes; default 0, 0.5, ..., 2)
        or :math:`M` (smoothness; default ten values from 0 to an upper
        confidence bound on the largest pre-period second difference).
    level : float, optional
        Confidence level; default the result's ``level`` (0.95 with ``betahat=``).
    inference : str, optional
        ``"C-LF"`` (default for relative magnitudes) or ``"conditional"``
        ARP tests; for smoothness also ``"FLCI"`` (default).
    grid_points, grid_bounds
        The grid of :math:`\bar\theta` over which ARP tests are inverted
        (HonestDiD's defaults: 1000 points on :math:`\pm 20` standard
        deviations of :math:`l'\hat\beta_{post}` around 0 for relative
        magnitudes, around the identified set under parallel trends for
        smoothness). Interval endpoints are grid points, so they are exact to
        one grid step.
    hybrid_kappa : float, optional
        First-stage size of the C-LF hybrid (default ``alpha / 10``).
    random_state : int
        Seed of the normal draws for the least-favourable critical value
        (R's ``set.seed`` stream, so ``random_state=0`` gives HonestDiD's draws;
        called ``seed`` before 0.2).
    r_compatible : bool
        Use HonestDiD's simulated folded-normal quantile (:math:`10^6` draws)
        in the FLCI instead of the exact one, to match R's printed digits.
    betahat, sigma, num_pre_periods, num_post_periods
        Raw input instead of ``result``, in HonestDiD's layout: pre-period
        coefficients (earliest first, reference omitted) then post-period
        ones, and their covariance. They are labelled as event times
        ``-num_pre_periods-1, ..., -2`` (reference ``-1``) and
        ``0, ..., num_post_periods-1``, so ``event_time=0`` is HonestDiD's
        default first post-period.

    Returns
    -------
    HonestDiDResult
        ``to_frame()`` (one row per M), ``original_ci``, ``breakdown``,
        ``summary()``, ``plot()``.

    Raises
    ------
    EstimationError
        No pre-periods, a non-PSD or mis-shaped ``sigma``, ``event_time`` not
        a post-period, no reference period, gaps in the event times.
    ArgumentTypeError
        ``result`` is not an event-study result.

    Notes
    -----
    With :math:`\beta = \tau + \delta` (:math:`\tau_{pre} = 0`, the reference
    period normalised to :math:`\delta_0 = 0`),

    .. math::

        \Delta^{RM}(\bar M) = \{\delta: |\delta_{t+1}-\delta_t| \le \bar M
            \max_{s<0} |\delta_{s+1}-\delta_s|,\ t \ge 0\},

    .. math::

        \Delta^{SD}(M) = \{\delta: |(\delta_{t+1}-\delta_t)-(\delta_t-\delta_{t-1})|
            \le M \ \forall t\}.

    :math:`\Delta^{RM}` is a union of polyhedra (which pre-period move is the
    largest, and its sign); the C-LF interval is the union of the intervals
    for each piece, as in HonestDiD. The ARP test of
    :math:`H_0:\theta=\bar\theta` uses the moments
    :math:`A\hat\beta - d - A_{post}\Gamma^{-1}(\bar\theta,\tilde\gamma)` with
    the post-period rows only (HonestDiD's ``postPeriodMomentsOnly``) when
    there is more than one post-period. The FLCI is
    :math:`v'\hat\beta \pm \sigma_v cv_\alpha(\bar b(v)/\sigma_v)` with the
    half-length minimised over :math:`v`.

    References
    ----------
    Rambachan, A. and Roth, J. (2023). A more credible approach to parallel
    trends. *Review of Economic Studies*, 90(5), 2555-2591.

    Andrews, I., Roth, J. and Pakes, A. (2023). Inference for linear
    conditional moment inequalities. *Review of Economic Studies*, 90(6),
    2763-2791.

    Armstrong, T. B. and Kolesár, M. (2018). Optimal inference in a class of
    regression models. *Econometrica*, 86(2), 655-683.

    Examples
    --------
    An event study with five pre-periods and two post-periods (HonestDiD's
    Medicaid example shape); intervals for the first post-period effect:

    >>> import numpy as np
    >>> from policyeval.inference.sensitivity import honest_did
    >>> beta = np.array([-0.005, -0.011, -0.003, -0.001, 0.0, 0.046, 0.069])
    >>> sig = 5e-5 * (0.5 ** np.abs(np.subtract.outer(range(7), range(7))))
    >>> res = honest_did(betahat=beta, sigma=sig, num_pre_periods=5,
    ...                  num_post_periods=2, method="smoothness",
    ...                  m_grid=[0, 0.01, 0.02, 0.03])
    >>> res.to_frame().columns.tolist()
    ['m', 'lower', 'upper', 'method', 'delta']
    >>> float(res.breakdown)
    0.03

    With a fitted event study, ``honest_did(result, event_time=0)``
    reads the coefficients, covariance and reference period from it.
    """
    if method not in _METHODS:
        raise EstimationError(f"method={method!r} must be one of {tuple(_METHODS)}")
    if level is None:
        level = float(getattr(result, "level", 0.95)) if result is not None else 0.95
    if not 0 < level < 1:
        raise EstimationError(f"level={level!r} must lie strictly between 0 and 1")
    alpha = 1 - level
    if inference is None:
        inference = _INFERENCE[method][0]
    if inference not in _INFERENCE[method]:
        raise EstimationError(
            f"inference={inference!r} is not available for method={method!r}; choose one of "
            f"{_INFERENCE[method]}")
    if int(grid_points) < 10:
        raise EstimationError(f"grid_points={grid_points!r} must be at least 10")

    if result is not None:
        if betahat is not None or sigma is not None:
            raise EstimationError("pass either result or betahat=/sigma=, not both")
        beta, S, pre_times, post_times, ref = _from_result(result)
        n_pre, n_post = len(pre_times), len(post_times)
        _check_sample(n_pre, n_post, pre_times, post_times)
        beta, S, n_pre, n_post = _validate_arrays(beta, S, n_pre, n_post)
    else:
        if betahat is None or sigma is None:
            raise EstimationError("pass an event-study result, or betahat= and sigma=")
        beta, S, n_pre, n_post = _validate_arrays(betahat, sigma, num_pre_periods,
                                                  num_post_periods)
        _check_sample(n_pre, n_post, None, None)
        # policyeval's convention: reference -1, post-periods labelled 0, 1, ...
        ref = -1
        pre_times = list(range(-n_pre - 1, -1))
        post_times = list(range(n_post))
    lv, target = _l_vector(event_time, l_vec, post_times)

    grid_m = (_default_m_grid(method, beta, S, n_pre, alpha) if m_grid is None
              else np.asarray(m_grid, dtype=float).ravel())
    if grid_m.size == 0 or not np.isfinite(grid_m).all() or (grid_m < 0).any():
        raise EstimationError(f"m_grid must be non-negative finite numbers; got {m_grid!r}")

    est = float(lv @ beta[n_pre:])
    sd_theta = float(np.sqrt(lv @ S[n_pre:, n_pre:] @ lv))
    z = stats.norm.ppf(1 - alpha / 2)
    original = pd.Series({"lower": est - z * sd_theta, "upper": est + z * sd_theta,
                          "estimate": est, "std_error": sd_theta})
    def interval(m: float, warn: bool = True) -> tuple[float, float]:
        if method == "smoothness" and inference == "FLCI":
            fl = lp.flci_sd(beta, S, n_pre, lv, m, alpha, simulated_quantile=r_compatible)
            return fl.lower, fl.upper
        theta_grid = _theta_grid(method, grid_bounds, grid_points, sd_theta, n_pre, n_post,
                                 lv, m)
        accept = _arp_accept(method, inference, beta, S, n_pre, n_post, lv, m,
                             theta_grid, alpha, hybrid_kappa, random_state)
        if not accept.any():
            return np.nan, np.nan
        if warn and (accept[0] or accept[-1]):
            warnings.warn(
                f"the robust confidence set at M={m:g} reaches the end of the theta grid "
                f"[{theta_grid[0]:.4g}, {theta_grid[-1]:.4g}]; widen grid_bounds for the "
                "true endpoint", EstimationWarning, stacklevel=3)
        return float(theta_grid[accept].min()), float(theta_grid[accept].max())

    rows = [(float(m), *interval(float(m))) for m in grid_m]
    table = pd.DataFrame(rows, columns=["m", "lower", "upper"])
    table["method"] = inference
    table["delta"] = _METHODS[method]
    return HonestDiDResult(
        table=table, original_ci=original, method=method, inference=inference, level=level,
        l_vec=lv, target=target, pre_times=pre_times, post_times=post_times,
        reference_period=ref, interval=interval,
    )


def _theta_grid(method, grid_bounds, grid_points, sd_theta, n_pre, n_post, lv, m):
    """HonestDiD's default grids: +-20 sd around 0 (RM), around the PT identified set (SD)."""
    if grid_bounds is not None:
        lo, hi = float(grid_bounds[0]), float(grid_bounds[1])
        if not lo < hi:
            raise EstimationError(f"grid_bounds={grid_bounds!r} must be (lower, upper) with "
                                  "lower < upper")
    elif method == "smoothness":
        A, d = lp.sd_constraints(n_pre, n_post, m)
        id_lo, id_hi = lp.identified_set(A, d, np.zeros(n_pre + n_post), n_pre, lv)
        lo, hi = id_lo - 20 * sd_theta, id_hi + 20 * sd_theta
    else:
        lo, hi = -20 * sd_theta, 20 * sd_theta
    return np.linspace(lo, hi, int(grid_points))


def _arp_accept(method, inference, beta, S, n_pre, n_post, lv, m, grid, alpha, kappa, seed):
    hybrid = "LF" if inference == "C-LF" else "ARP"
    if method == "smoothness":
        A, d = lp.sd_constraints(n_pre, n_post, m)
        rows = np.any(np.abs(A[:, n_pre:]) > 0, axis=1) if n_post > 1 else None
        return lp.arp_accept_grid(beta, S, A, d, n_pre, lv, grid, alpha=alpha, hybrid=hybrid,
                                  kappa=kappa, rows=rows, seed=seed)
    accept = np.zeros(len(grid), dtype=bool)
    for s in range(-(n_pre - 1), 1):
        for positive in (True, False):
            A, d, post_rows = lp.rm_constraints(n_pre, n_post, m, s, positive)
            rows = post_rows if n_post > 1 else None
            accept |= lp.arp_accept_grid(beta, S, A, d, n_pre, lv, grid, alpha=alpha,
                                         hybrid=hybrid, kappa=kappa, rows=rows, seed=seed)
    return accept


# --- the result -----------------------------------------------------------------
class HonestDiDResult:
    """Robust confidence intervals over a grid of M, with the original interval.

    Attributes
    ----------
    original_ci : pandas.Series
        ``lower``, ``upper``, ``estimate``, ``std_error`` of
        :math:`l'\\hat\\beta_{post}` under exact parallel trends.
    breakdown : float
        Smallest M in the grid whose robust interval contains 0 (NaN if
        none does: the conclusion survives every M tried).
    method, inference, level, l_vec, target
        What was computed.
    """

    def __init__(self, *, table: pd.DataFrame, original_ci: pd.Series, method: str,
                 inference: str, level: float, l_vec: np.ndarray, target: str,
                 pre_times: list[int], post_times: list[int], reference_period: int,
                 interval=None) -> None:
        self._table = table
        self._interval = interval
        self.original_ci = original_ci
        self.method = method
        self.inference = inference
        self.level = level
        self.l_vec = l_vec
        self.target = target
        self.pre_times = pre_times
        self.post_times = post_times
        self.reference_period = reference_period

    @property
    def statistic(self) -> float:
        """z-statistic of the target under exact parallel trends (``estimate / std_error``).

        The sensitivity analysis itself reports intervals (:meth:`to_frame`)
        and the :attr:`breakdown` value; ``statistic`` and :attr:`p_value`
        are the conventional test it relaxes.
        """
        oc = self.original_ci
        return float(oc["estimate"] / oc["std_error"]) if oc["std_error"] > 0 else float("nan")

    @property
    def p_value(self) -> float:
        """Two-sided normal p-value of the target under exact parallel trends."""
        from scipy import stats

        z = self.statistic
        return float(2 * stats.norm.sf(abs(z))) if np.isfinite(z) else float("nan")

    @property
    def m_name(self) -> str:
        return "Mbar" if self.method == "relative_magnitude" else "M"

    @property
    def breakdown(self) -> float:
        """Smallest M whose robust CI includes 0 (NaN if none in the grid)."""
        t = self._table
        covers = (t["lower"] <= 0) & (t["upper"] >= 0)
        return float(t.loc[covers, "m"].min()) if covers.any() else float("nan")

    def refine_breakdown(self, tol: float = 1e-4) -> float:
        """Breakdown value between grid points, by bisection on M.

        Starts from the grid: the breakdown lies between the last value whose
        interval excludes 0 and :attr:`breakdown`; bisection assumes the
        intervals widen with M (true of the identified sets; the ARP
        intervals are computed on a grid, so the answer is as exact as that
        grid). Returns ``breakdown`` unchanged when it is the first grid
        value or NaN.

        Parameters
        ----------
        tol : float
            Absolute tolerance in M.
        """
        t = self._table.sort_values("m")
        bd = self.breakdown
        if np.isnan(bd) or self._interval is None or bd == t["m"].iloc[0]:
            return bd
        below = t.loc[t["m"] < bd, "m"]
        lo, hi = float(below.max()), float(bd)
        while hi - lo > tol:
            mid = (lo + hi) / 2
            low, up = self._interval(mid, warn=False)
            if np.isfinite(low) and low <= 0 <= up:
                hi = mid
            else:
                lo = mid
        return hi

    def to_frame(self) -> pd.DataFrame:
        """One row per M: ``m``, ``lower``, ``upper``, ``method``, ``delta``."""
        return self._table.copy()

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary (see :class:`policyeval.results.base.Summary`)."""
        oc = self.original_ci
        bd = self.breakdown
        facts = [
            ("Restriction", "relative magnitudes" if self.method == "relative_magnitude"
             else "smoothness"),
            ("Inference", self.inference),
            ("Level", f"{self.level:.0%}"),
            ("Estimate", f"{oc['estimate']:.4f}"),
            ("Original CI", f"[{oc['lower']:.4f}, {oc['upper']:.4f}]"),
            ("Breakdown " + self.m_name, "> max of grid" if np.isnan(bd) else f"{bd:g}"),
        ]
        table = self._table.rename(columns={"m": self.m_name}).set_index(self.m_name)
        notes = [
            (f"Target: {self.target} (reference period {self.reference_period}; "
             f"{len(self.pre_times)} pre-periods, {len(self.post_times)} post-periods)."),
            "Breakdown: smallest value in the grid whose robust interval includes 0.",
            "Rambachan & Roth (2023); ARP intervals are exact to one grid step.",
        ]
        return Summary(title="Sensitivity to parallel-trends violations (Rambachan-Roth)",
                       facts=facts, table=table, notes=notes)

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        return (f"<HonestDiDResult: {self.method}, {self.inference}, {len(self._table)} values "
                f"of {self.m_name}>")

    def plot(self, ax=None, **kwargs):
        """Sensitivity plot: the original CI and the robust CIs against M.

        Like HonestDiD's ``createSensitivityPlot``: one interval per value of
        M, the original (parallel-trends) interval drawn to the left.
        Extra keyword arguments go to ``ax.errorbar``.
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        t = self._table
        ms = t["m"].to_numpy()
        step = np.min(np.diff(ms)) if len(ms) > 1 else max(abs(ms[0]), 1.0)
        x0 = ms.min() - step
        oc = self.original_ci
        ax.errorbar([x0], [(oc["lower"] + oc["upper"]) / 2],
                    yerr=[[(oc["upper"] - oc["lower"]) / 2]], fmt="none", capsize=4,
                    color="tab:red", label="Original")
        mid = (t["lower"] + t["upper"]) / 2
        half = (t["upper"] - t["lower"]) / 2
        opts = {"fmt": "none", "capsize": 4, "color": "tab:blue", "label": self.inference}
        opts.update(kwargs)
        ax.errorbar(ms, mid, yerr=half, **opts)
        ax.axhline(0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(r"$\bar{M}$" if self.method == "relative_magnitude" else "M")
        ax.set_ylabel(f"{self.level:.0%} robust CI")
        ax.legend()
        return ax
