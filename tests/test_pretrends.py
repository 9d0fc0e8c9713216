"""Tests for policyeval.inference.pretrends (joint pre-trend test, Roth 2022 power).

No peer package publishes a full (beta, sigma) example for the pretrends power
numbers (the R pretrends README's He & Wang covariance is only in a binary .rda),
so the checks are: closed forms (independent coefficients; the Wald test's
noncentral chi-square), Monte Carlo simulation of the pre-test itself, and
statsmodels' Wald test on the README's Medicaid event study.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import policyeval as pe
from policyeval.exceptions import EstimationError
from policyeval.inference.pretrends import (
    PretrendPower,
    PretrendTest,
    pretrend_power,
    pretrend_test,
)
from policyeval.results.base import EstimationResult

DATA = Path(__file__).parent / "data" / "ehec.csv"


@pytest.fixture(scope="module")
def event_study():
    d = pd.read_csv(DATA)
    df = d[(d["year"] < 2016) & (d["yexp2"].isna() | (d["yexp2"] != 2015))].copy()
    df["g"] = np.where(df["yexp2"] == 2014, 2014, 0)
    return pe.EventStudy(window=None).fit(df, "dins", "year", "stfips", "g")


def _ar(n, rho=0.6, sd=0.01):
    i = np.arange(n)
    return sd**2 * rho ** np.abs(i[:, None] - i[None, :])


def test_wald_test_on_event_study(event_study):
    res = pretrend_test(event_study)
    b = event_study.params.loc[[-6, -5, -4, -3, -2]].to_numpy()
    V = event_study.vcov.loc[[-6, -5, -4, -3, -2], [-6, -5, -4, -3, -2]].to_numpy()
    W = b @ np.linalg.solve(V, b)
    assert isinstance(res, PretrendTest)
    assert res.df == 5 and res.event_times == [-6, -5, -4, -3, -2]
    assert res.statistic == pytest.approx(W, rel=1e-12)
    assert res.p_value == pytest.approx(stats.chi2.sf(W, 5), rel=1e-12)
    # the README's pre-trends are small: no rejection
    assert res.p_value > 0.1
    assert "chi2(5)" in str(res) and list(res.to_frame().columns) == [
        "statistic", "df", "p_value", "event_times"]


def test_wald_test_matches_statsmodels_wald(event_study):
    """statsmodels' wald_test of R beta = 0 with the same params and covariance."""
    import statsmodels.api as sm

    b = event_study.params.to_numpy()
    V = event_study.vcov.to_numpy()
    fit = sm.OLS(b, np.eye(7)).fit()          # params = b exactly
    R = np.eye(7)[:5]                          # the five pre-period coefficients
    wt = fit.wald_test(R, cov_p=V, use_f=False, scalar=True)
    res = pretrend_test(event_study)
    assert res.statistic == pytest.approx(float(wt.statistic), rel=1e-10)
    assert res.p_value == pytest.approx(float(wt.pvalue), rel=1e-8)


def test_power_independent_coefficients_closed_form():
    """Diagonal sigma: P(pass) = prod_t [Phi(z - mu_t) - Phi(-z - mu_t)]."""
    sd = np.array([0.02, 0.015, 0.01])
    S = np.diag(sd**2)
    beta = np.r_[0.0, 0.0, 0.0, 0.05]
    slope = 0.01
    rel = np.array([-3.0, -2.0, -1.0])
    mu = slope * rel / sd
    z = stats.norm.ppf(0.975)
    expected = 1 - np.prod(stats.norm.cdf(z - mu) - stats.norm.cdf(-z - mu))
    res = pretrend_power(betahat=beta, sigma=np.diag(np.r_[sd**2, 1e-4]), num_pre_periods=3,
                         slope=slope)
    assert isinstance(res, PretrendPower)
    assert res.power == pytest.approx(expected, abs=1e-6)
    # slopes reproduce their target power
    for p, g in res.slopes.items():
        m = g * rel / sd
        assert 1 - np.prod(stats.norm.cdf(z - m) - stats.norm.cdf(-z - m)) == pytest.approx(
            p, abs=1e-5)
    size = 1 - 0.95**3
    assert res.bayes_factor == pytest.approx((1 - expected) / (1 - size), abs=1e-5)
    # likelihood ratio of the observed pre-period coefficients (all zero here)
    lr = np.exp(-0.5 * np.sum(mu**2))
    assert res.likelihood_ratio == pytest.approx(lr, rel=1e-10)
    assert S.shape == (3, 3)


def test_power_matches_monte_carlo_correlated():
    rng = np.random.default_rng(5)
    S = _ar(4)
    beta = np.zeros(6)
    sigma = np.zeros((6, 6))
    sigma[:4, :4] = S
    sigma[4:, 4:] = np.eye(2) * 1e-4
    res = pretrend_power(betahat=beta, sigma=sigma, num_pre_periods=4, slope=0.004)
    rel = np.arange(-4, 0)
    draws = rng.multivariate_normal(0.004 * rel, S, size=100_000)
    reject = (np.abs(draws / np.sqrt(np.diag(S))) > stats.norm.ppf(0.975)).any(axis=1).mean()
    se = np.sqrt(reject * (1 - reject) / 100_000)
    assert abs(res.power - reject) < 4 * se
    # and at the reported 80%-power slope
    g80 = res.slopes[0.8]
    draws = rng.multivariate_normal(g80 * rel, S, size=100_000)
    reject = (np.abs(draws / np.sqrt(np.diag(S))) > stats.norm.ppf(0.975)).any(axis=1).mean()
    assert abs(reject - 0.8) < 4 * np.sqrt(0.16 / 100_000)


def test_wald_power_noncentral_chi2(event_study):
    res = pretrend_power(event_study, test="wald", slope=0.003)
    V = event_study.vcov.loc[[-6, -5, -4, -3, -2], [-6, -5, -4, -3, -2]].to_numpy()
    d = 0.003 * np.arange(-5, 0)
    lam = d @ np.linalg.solve(V, d)
    assert res.power == pytest.approx(stats.ncx2.sf(stats.chi2.ppf(0.95, 5), 5, lam),
                                      rel=1e-10)
    # slopes: lambda(g) = g^2 * t'V^-1 t hits the target power
    t = np.arange(-5, 0, dtype=float)
    q = t @ np.linalg.solve(V, t)
    for p, g in res.slopes.items():
        assert stats.ncx2.sf(stats.chi2.ppf(0.95, 5), 5, g * g * q) == pytest.approx(p,
                                                                                    abs=1e-8)
    assert res.slopes[0.8] > res.slopes[0.5] > 0


def test_power_on_event_study_is_monotone(event_study):
    res = pretrend_power(event_study, target_power=(0.3, 0.5, 0.8))
    s = res.slopes.to_numpy()
    assert (np.diff(s) > 0).all()
    assert list(res.to_frame().columns) == ["target_power", "slope"]
    assert "slope with 50% power" in str(res)
    assert np.isnan(res.power)
    # a violation with the 50% slope has ~50% power
    again = pretrend_power(event_study, slope=res.slopes[0.5], target_power=(0.5,))
    assert again.power == pytest.approx(0.5, abs=1e-4)


def test_bad_input(event_study):
    with pytest.raises(EstimationError, match="no pre-period coefficients"):
        pretrend_test(betahat=[0.1, 0.2], sigma=np.eye(2), num_pre_periods=0)
    with pytest.raises(EstimationError, match="not positive semi-definite"):
        pretrend_test(betahat=[0.1, 0.2], sigma=np.array([[1.0, 2.0], [2.0, 1.0]]),
                      num_pre_periods=1)
    with pytest.raises(EstimationError, match="pass num_pre_periods"):
        pretrend_power(betahat=[0.1, 0.2], sigma=np.eye(2))
    with pytest.raises(EstimationError, match="test='joint'"):
        pretrend_power(event_study, test="joint")
    with pytest.raises(EstimationError, match=r"target_power \[0.01\]"):
        pretrend_power(event_study, target_power=(0.01,))
    with pytest.raises(EstimationError, match="deltatrue has 2 entries"):
        pretrend_power(event_study, deltatrue=[0.1, 0.2])
    post_only = EstimationResult(pd.Series({0: 0.1, 1: 0.2}), pd.Series({0: 0.1, 1: 0.1}),
                                 nobs=10, n_units=5, spec={}, estimator="hand",
                                 vcov=pd.DataFrame(np.eye(2) * 0.01, index=[0, 1],
                                                   columns=[0, 1]),
                                 extra={"reference_period": -1})
    with pytest.raises(EstimationError, match="no pre-period coefficients"):
        pretrend_test(post_only)


# --- any event-study result (issue 12) -----------------------------------------------------
def _staggered(seed: int = 4, n_units: int = 90) -> pd.DataFrame:
    """SIMULATED staggered panel with parallel trends: cohorts 2004, 2006 and never treated."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2010)
    unit = np.repeat(np.arange(n_units), len(years))
    year = np.tile(years, n_units)
    g = np.array([2004, 2006, 0])[np.arange(n_units) % 3][unit]
    post = (g > 0) & (year >= g)
    y = (rng.normal(0, 1, n_units)[unit] + 0.1 * (year - 2000) + np.where(post, 1.0, 0.0)
         + rng.normal(0, 0.5, len(unit)))
    return pd.DataFrame({"unit": unit, "year": year, "g": g, "y": y})


ES_COLS = dict(yname="y", tname="year", idname="unit", gname="g")


def _wald(params: pd.Series, vcov: pd.DataFrame, terms) -> float:
    b = params.loc[terms].to_numpy(dtype=float)
    V = vcov.loc[terms, terms].to_numpy(dtype=float)
    return float(b @ np.linalg.solve(V, b))


@pytest.fixture(scope="module")
def event_studies():
    df = _staggered()
    return {
        "EventStudy": pe.EventStudy(window=None).fit(df, **ES_COLS),
        "SunAbraham": pe.SunAbraham().fit(df, **ES_COLS),
        "CS universal": pe.CallawaySantAnna(base_period="universal").fit(
            df, **ES_COLS).aggregate("dynamic"),
    }


@pytest.mark.parametrize("name", ["EventStudy", "SunAbraham", "CS universal"])
def test_event_studies_with_one_reference_go_to_both(event_studies, name):
    res = event_studies[name]
    pre = [e for e in res.params.index if e < -1]
    test = pretrend_test(res)
    assert test.event_times == pre
    assert test.statistic == pytest.approx(_wald(res.params, res.vcov, pre), rel=1e-8)
    assert test.df == len(pre)
    hd = pe.honest_did(res, event_time=0, m_grid=[0.0, 1.0], grid_points=100)
    assert hd.original_ci["estimate"] == pytest.approx(res.params.loc[0], rel=1e-12)
    # parallel trends hold in the simulation: the robust interval at M = 0 covers the effect 1
    row = hd.to_frame().iloc[0]
    assert row["lower"] < 1.0 < row["upper"]


def test_callaway_santanna_varying_base_goes_to_pretrend_test_only():
    df = _staggered()
    dyn = pe.CallawaySantAnna().fit(df, **ES_COLS).aggregate("dynamic")
    pre = [e for e in dyn.params.index if e < 0]           # e = -1 included: a placebo ATT
    test = pretrend_test(dyn)
    assert test.event_times == pre
    assert test.statistic == pytest.approx(_wald(dyn.params, dyn.vcov, pre), rel=1e-8)
    with pytest.raises(EstimationError, match="base_period='universal'"):
        pe.honest_did(dyn)


def test_imputation_leads_go_to_pretrend_test_and_honest_did_says_why_not():
    df = _staggered()
    res = pe.ImputationDiD(horizons=True, pretrends=3).fit(df, **ES_COLS)
    test = pretrend_test(res)
    assert test.event_times == [-3, -2, -1] and test.df == 3
    assert test.statistic == pytest.approx(res.pretrend_test["statistic"], rel=1e-10)
    assert test.p_value == pytest.approx(res.pretrend_test["p_value"], rel=1e-10)
    with pytest.raises(EstimationError, match="cannot use an ImputationDiD result.*pretrend_test"):
        pe.honest_did(res)
    with pytest.raises(EstimationError, match=r"fit with ImputationDiD\(pretrends=K\)"):
        pretrend_test(pe.ImputationDiD(horizons=True).fit(df, **ES_COLS))


def test_results_that_are_not_event_studies_are_refused_with_the_remedy():
    df = _staggered()
    gt = pe.CallawaySantAnna(base_period="universal").fit(df, **ES_COLS)
    with pytest.raises(EstimationError, match=r"pass result.aggregate\('dynamic'\)"):
        pretrend_test(gt)
    with pytest.raises(EstimationError, match=r"pass result.aggregate\('dynamic'\)"):
        pe.honest_did(gt)
    with pytest.raises(EstimationError, match="'simple' aggregation: use aggregate"):
        pe.honest_did(gt.aggregate("simple"))
    with pytest.raises(EstimationError, match="reference_period'\\] is missing"):
        pretrend_test(pe.TWFE().fit(df, **ES_COLS))
