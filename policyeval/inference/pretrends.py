r"""Pre-trend diagnostics for event studies.

Two questions an economist asks of the pre-period coefficients:

* are they jointly zero? :func:`pretrend_test` is the Wald test
  :math:`\hat\beta_{pre}'\hat\Sigma_{pre}^{-1}\hat\beta_{pre}\sim\chi^2_{K}`;
* would the usual pre-test even notice a violation that matters?
  :func:`pretrend_power` follows Roth (2022, "Pretest with caution"): the
  probability that the pre-test rejects when the trend gap is linear,
  :math:`\delta_t = \gamma (t - t_{ref})`, and the slopes :math:`\gamma`
  against which it has 50% and 80% power. A pre-test that passes is weak
  evidence when these slopes are large relative to the estimated effects.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from policyeval.exceptions import EstimationError
from policyeval.inference.sensitivity import _from_result, _validate_arrays
from policyeval._deprecation import renamed_arguments
from policyeval.results.base import Summary

__all__ = ["PretrendPower", "PretrendTest", "pretrend_power", "pretrend_test"]


def _pre_block(result, betahat, sigma, num_pre_periods, purpose="pretrend_power"):
    """Pre-period coefficients, their covariance, their event times and the reference."""
    if result is not None:
        if betahat is not None or sigma is not None:
            raise EstimationError("pass either result or betahat=/sigma=, not both")
        beta, S, pre, _, ref = _from_result(result, purpose)
        n_pre = len(pre)
    else:
        if betahat is None or sigma is None:
            raise EstimationError("pass an event-study result, or betahat= and sigma=")
        n = np.asarray(betahat).size
        n_pre = num_pre_periods
        if n_pre is None:
            raise EstimationError("with betahat= and sigma=, pass num_pre_periods=")
        beta, S, n_pre, _ = _validate_arrays(betahat, sigma, n_pre, n - int(n_pre))
        ref = -1
        pre = list(range(-n_pre - 1, -1))
    if n_pre < 1:
        raise EstimationError(
            "no pre-period coefficients (besides the reference period): there is no "
            "pre-trend to test")
    return beta[:n_pre], S[:n_pre, :n_pre], np.asarray(pre, dtype=float), ref


class PretrendTest:
    """Joint Wald test that all pre-period coefficients are zero.

    Attributes
    ----------
    statistic, df, p_value : float, int, float
    event_times : list of int
    """

    def __init__(self, statistic: float, df: int, p_value: float, event_times) -> None:
        self.statistic = statistic
        self.df = df
        self.p_value = p_value
        self.event_times = list(event_times)

    def to_frame(self) -> pd.DataFrame:
        """One row: ``statistic``, ``df``, ``p_value``, ``event_times``."""
        return pd.DataFrame({"statistic": [self.statistic], "df": [self.df],
                             "p_value": [self.p_value],
                             "event_times": [", ".join(map(str, self.event_times))]})

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary."""
        table = pd.DataFrame({"statistic": [self.statistic], "df": [str(self.df)],
                              "p_value": [self.p_value]}, index=pd.Index(["chi2"], name="test"))
        facts = [("Test", "joint Wald, all pre-period coefficients = 0"),
                 ("Event times", ", ".join(map(str, self.event_times)))]
        return Summary(title="Pre-trend test", facts=facts, table=table,
                       notes=[f"Wald statistic referred to chi2({self.df})."])

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __str__(self) -> str:
        return (f"Joint pre-trend Wald test: chi2({self.df}) = {self.statistic:.4f}, "
                f"p = {self.p_value:.4f} (event times {self.event_times})")

    __repr__ = __str__


def _test_block(result):
    """Pre-period coefficients, covariance and event times for :func:`pretrend_test`.

    Besides event studies with one reference period (as :func:`honest_did`), accepts the two
    event studies whose pre-period estimates are placebo tests but not a pre-trend path: an
    ImputationDiD result with ``pretrends`` (BJS Test 1: the lead coefficients of the separate
    regression on untreated observations) and a Callaway-Sant'Anna dynamic aggregation with
    ``base_period="varying"`` (each pre-period ATT compares two adjacent periods; all are 0
    under parallel trends, as R ``did``'s pre-test of parallel trends).
    """
    from policyeval.inference.sensitivity import _is_imputation

    if _is_imputation(result):
        pt = result.pretrend_test
        if pt is None:
            raise EstimationError(
                "this ImputationDiD result has no pre-trend coefficients: fit with "
                "ImputationDiD(pretrends=K) (BJS Test 1 on K leads)")
        b = pt["coefficients"].to_numpy(dtype=float)
        return b, np.asarray(pt["vcov"], dtype=float), np.asarray(pt["leads"], dtype=float)
    if getattr(result, "kind", None) == "dynamic" and \
            (getattr(result, "spec", {}) or {}).get("base_period") == "varying":
        e = np.array([float(x) for x in result.params.index])
        V = result.vcov.to_numpy(dtype=float)
        se = np.sqrt(np.clip(np.diag(V), 0, None))
        keep = np.flatnonzero((e < 0) & np.isfinite(result.params.to_numpy()) & (se > 0))
        if len(keep) == 0:
            raise EstimationError(
                "no pre-period coefficients (event time < 0) with a standard error: there is no "
                "pre-trend to test")
        return (result.params.to_numpy(dtype=float)[keep], V[np.ix_(keep, keep)], e[keep])
    b, S, pre, _ = _pre_block(result, None, None, None, purpose="pretrend_test")
    return b, S, pre


def pretrend_test(result: Any = None, *, betahat: Sequence[float] | None = None,
                  sigma: Any = None, num_pre_periods: int | None = None) -> PretrendTest:
    r"""Joint Wald test of :math:`H_0: \beta_{pre} = 0`.

    Parameters
    ----------
    result : EstimationResult, optional
        Any event-study result: ``EventStudy``, ``SunAbraham``, a
        ``CallawaySantAnna`` dynamic aggregation (``base_period`` universal:
        the pre-period path against the reference; varying: the one-period
        placebo ATTs, all zero under parallel trends), or an ``ImputationDiD``
        result fitted with ``pretrends`` (its lead coefficients: BJS Test 1,
        chi-square form).
    betahat, sigma, num_pre_periods
        Raw input instead: coefficients (pre-periods first, reference
        omitted), their covariance and the number of pre-periods.

    Returns
    -------
    PretrendTest

    Raises
    ------
    EstimationError
        No pre-periods, or a covariance that is not a valid covariance.

    Notes
    -----
    :math:`W = \hat\beta_{pre}'\hat\Sigma_{pre}^{-1}\hat\beta_{pre}`, compared
    with :math:`\chi^2_K`, :math:`K` the number of pre-periods (with a
    singular :math:`\hat\Sigma_{pre}` its pseudo-inverse and rank are used).

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.inference.pretrends import pretrend_test
    >>> pretrend_test(betahat=[0.0, 0.1, 0.2], sigma=np.eye(3) * 0.01,
    ...               num_pre_periods=2).df
    2
    """
    if result is not None and betahat is None and sigma is None:
        b, S, pre = _test_block(result)
    else:
        b, S, pre, _ = _pre_block(result, betahat, sigma, num_pre_periods, purpose="pretrend_test")
    rank = int(np.linalg.matrix_rank(S))
    W = float(b @ np.linalg.pinv(S) @ b)
    return PretrendTest(W, rank, float(stats.chi2.sf(W, rank)), pre.astype(int).tolist())


# --- power ----------------------------------------------------------------------
def _power(delta: np.ndarray, S: np.ndarray, test: str, level: float, seed: int) -> float:
    """P(pre-test rejects) when the pre-period coefficients are N(delta, S)."""
    k = len(delta)
    if test == "wald":
        crit = stats.chi2.ppf(level, k)
        lam = float(delta @ np.linalg.pinv(S) @ delta)
        return float(stats.ncx2.sf(crit, k, lam)) if lam > 0 else 1 - level
    sd = np.sqrt(np.diag(S))
    z = stats.norm.ppf(0.5 + level / 2)
    mu = delta / sd
    if k == 1:
        return float(1 - (stats.norm.cdf(z - mu[0]) - stats.norm.cdf(-z - mu[0])))
    R = S / np.outer(sd, sd)
    mvn = stats.multivariate_normal(mean=mu, cov=R, allow_singular=True, maxpts=25_000 * k,
                                    abseps=1e-7, releps=1e-6)
    inside = mvn.cdf(np.full(k, z), lower_limit=np.full(k, -z),
                     rng=np.random.default_rng(seed))
    return float(np.clip(1 - inside, 0.0, 1.0))


class PretrendPower:
    """Power of the pre-test against linear (or user-given) violations.

    Attributes
    ----------
    slopes : pandas.Series
        Slope :math:`\\gamma` of :math:`\\delta_t = \\gamma (t - t_{ref})`
        at which the pre-test has each target power (index).
    power : float
        Power against the hypothesised violation (NaN if none given).
    bayes_factor, likelihood_ratio : float
        Roth (2022): P(pass | hypothesised) / P(pass | parallel trends), and
        the likelihood of the estimated pre-period coefficients under the
        hypothesis relative to parallel trends (NaN if no hypothesis).
    test, level : str, float
    """

    def __init__(self, slopes, power, bayes_factor, likelihood_ratio, test, level,
                 hypothesis, event_times):
        self.slopes = slopes
        self.power = power
        self.bayes_factor = bayes_factor
        self.likelihood_ratio = likelihood_ratio
        self.test = test
        self.level = level
        self.hypothesis = hypothesis
        self.event_times = event_times

    def to_frame(self) -> pd.DataFrame:
        """One row per target power: ``target_power``, ``slope``."""
        return pd.DataFrame({"target_power": self.slopes.index.to_numpy(),
                             "slope": self.slopes.to_numpy()})

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary."""
        table = self.to_frame().set_index("target_power")
        facts = [("Test", f"{self.test}, level {self.level:.0%}"),
                 ("Pre-periods", ", ".join(map(str, self.event_times)))]
        notes = []
        if self.hypothesis is not None:
            notes.append(f"Power against the hypothesis: {self.power:.4f}; Bayes factor "
                         f"{self.bayes_factor:.4f}; likelihood ratio {self.likelihood_ratio:.4f}.")
        return Summary(title="Pre-trend power (Roth 2022)", facts=facts, table=table, notes=notes)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __str__(self) -> str:
        head = (f"Pre-trend power ({self.test} test at level {self.level:.0%}; pre-periods "
                f"{self.event_times})")
        lines = [head]
        for p, s in self.slopes.items():
            lines.append(f"  slope with {p:.0%} power: {s:.6g}")
        if self.hypothesis is not None:
            lines.append(f"  power against hypothesis: {self.power:.4f}; Bayes factor "
                         f"{self.bayes_factor:.4f}; likelihood ratio {self.likelihood_ratio:.4f}")
        return "\n".join(lines)

    __repr__ = __str__


@renamed_arguments(seed="random_state")
def pretrend_power(result: Any = None, *, slope: float | None = None,
                   deltatrue: Sequence[float] | None = None,
                   target_power: Sequence[float] = (0.5, 0.8), test: str = "individual",
                   level: float = 0.95, random_state: int = 0,
                   betahat: Sequence[float] | None = None, sigma: Any = None,
                   num_pre_periods: int | None = None) -> PretrendPower:
    r"""Power of the pre-trend test against a linear violation (Roth 2022).

    Parameters
    ----------
    result : EstimationResult, optional
        Event-study result (as for :func:`policyeval.honest_did`).
    slope : float, optional
        Hypothesised linear violation :math:`\delta_t = \gamma (t - t_{ref})`.
    deltatrue : sequence of float, optional
        Hypothesised pre-period violation (one value per pre-period),
        instead of ``slope``.
    target_power : sequence of float
        Powers whose slopes are reported (default 50% and 80%).
    test : {"individual", "wald"}
        ``"individual"`` (Roth's and the pretrends package's default): the
        pre-test rejects if any pre-period coefficient is significant at
        ``level``; ``"wald"``: the joint test of :func:`pretrend_test`.
    level : float
        Confidence level of the pre-test.
    random_state : int
        Seed of the quasi-Monte-Carlo multivariate normal probabilities.
    betahat, sigma, num_pre_periods
        Raw input instead of ``result``.

    Returns
    -------
    PretrendPower

    Raises
    ------
    EstimationError
        No pre-periods, bad covariance, ``deltatrue`` of the wrong length,
        a target power outside (size, 1).

    Notes
    -----
    With :math:`\hat\beta_{pre}\sim N(\delta_{pre}, \Sigma_{pre})` and
    :math:`z` the two-sided critical value, the individual pre-test passes
    with probability :math:`P(|\hat\beta_t|/\sigma_t \le z\ \forall t)`, a
    multivariate-normal rectangle probability; the Wald test's power is the
    noncentral :math:`\chi^2_K(\delta'\Sigma^{-1}\delta)` tail. Power is
    increasing in :math:`|\gamma|`, so the slope for a target power is found
    by root finding.

    References
    ----------
    Roth, J. (2022). Pretest with caution: event-study estimates after
    testing for parallel trends. *American Economic Review: Insights*, 4(3),
    305-322.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.inference.pretrends import pretrend_power
    >>> res = pretrend_power(betahat=[0.0, 0.0, 0.1], sigma=np.eye(3) * 0.01,
    ...                      num_pre_periods=2)
    >>> bool(res.slopes[0.8] > res.slopes[0.5] > 0)
    True
    """
    if test not in ("individual", "wald"):
        raise EstimationError(f"test={test!r} must be 'individual' or 'wald'")
    if not 0 < level < 1:
        raise EstimationError(f"level={level!r} must lie strictly between 0 and 1")
    b, S, pre, ref = _pre_block(result, betahat, sigma, num_pre_periods)
    rel = pre - ref
    size = _power(np.zeros(len(b)), S, test, level, random_state)
    targets = [float(p) for p in np.atleast_1d(target_power)]
    bad = [p for p in targets if not size < p < 1]
    if bad:
        raise EstimationError(
            f"target_power {bad} must lie between the test's size ({size:.3f}) and 1")

    def power_at(g):
        return _power(g * rel, S, test, level, random_state)

    scale = float(np.sqrt(np.max(np.diag(S))) / np.max(np.abs(rel)))
    slopes = {}
    for p in targets:
        hi = scale
        while power_at(hi) < p:
            hi *= 2
            if hi > scale * 2**40:
                raise EstimationError(f"no slope reaches power {p}")
        slopes[p] = optimize.brentq(lambda g, p=p: power_at(g) - p, 0.0, hi, xtol=1e-9 * hi,
                                    rtol=1e-8)
    hyp = None
    if deltatrue is not None:
        hyp = np.asarray(deltatrue, dtype=float).ravel()
        if hyp.size != len(b):
            raise EstimationError(
                f"deltatrue has {hyp.size} entries; it needs one per pre-period ({len(b)}: "
                f"event times {pre.astype(int).tolist()})")
    elif slope is not None:
        hyp = float(slope) * rel
    power = bf = lr = float("nan")
    if hyp is not None:
        power = _power(hyp, S, test, level, random_state)
        bf = (1 - power) / (1 - size)
        mvn0 = stats.multivariate_normal(mean=np.zeros(len(b)), cov=S, allow_singular=True)
        mvn1 = stats.multivariate_normal(mean=hyp, cov=S, allow_singular=True)
        lr = float(np.exp(mvn1.logpdf(b) - mvn0.logpdf(b)))
    return PretrendPower(pd.Series(slopes, name="slope"), power, bf, lr, test, level, hyp,
                         pre.astype(int).tolist())
