"""Design-stage power: analytic MDE (Bloom; Burlig, Preonas & Woerman 2020) and simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import ArgumentTypeError, DesignError, PolicyevalError
from policyeval.inference.power import _fit
from scipy import stats


def _iid_panel(n_units=80, n_periods=10, sigma=1.0, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame([(i, 2000 + t) for i in range(n_units) for t in range(n_periods)],
                      columns=["unit", "year"])
    df["y"] = (rng.normal(0, 2, n_units)[df["unit"]] + 0.1 * (df["year"] - 2000)
               + rng.normal(0, sigma, len(df)))
    return df


def test_iid_closed_form():
    J, k, m, r, s = 50, 10, 4, 6, 0.3
    se = s * np.sqrt((1 / m + 1 / r) / (k / J * (1 - k / J) * J))
    t = stats.t(J - 2)
    assert pe.minimum_detectable_effect(J, k, m, r, sigma=s) == pytest.approx(
        (t.ppf(0.8) + t.ppf(0.975)) * se, rel=1e-12)
    assert pe.minimum_detectable_effect(J, k, m, r, sigma=s, df=None) == pytest.approx(
        (stats.norm.ppf(0.8) + stats.norm.ppf(0.975)) * se, rel=1e-12)


def test_burlig_preonas_woerman_bracket():
    """AR(1) errors: the c'Sigma c variance equals BPW (2020) eq. 5's bracket."""
    J, k, m, r, s, rho = 40, 8, 5, 3, 0.5, 0.6
    T = m + r
    cov = s**2 * rho ** np.abs(np.subtract.outer(np.arange(T), np.arange(T)))
    pre, post = np.arange(m), np.arange(m, T)
    off = ~np.eye(T, dtype=bool)
    psi_b = cov[np.ix_(pre, pre)][off[:m, :m]].mean()
    psi_a = cov[np.ix_(post, post)][off[m:, m:]].mean()
    psi_x = cov[np.ix_(pre, post)].mean()
    P = k / J
    var = ((m + r) / (m * r) * s**2 + (m - 1) / m * psi_b + (r - 1) / r * psi_a
           - 2 * psi_x) / (P * (1 - P) * J)
    expected = (stats.norm.ppf(0.9) + stats.norm.ppf(0.995)) * np.sqrt(var)
    got = pe.minimum_detectable_effect(J, k, m, r, sigma=s, rho=rho, alpha=0.01, power=0.9,
                                       df=None)
    assert got == pytest.approx(expected, rel=1e-12)
    assert pe.minimum_detectable_effect(J, k, m, r, covariance=cov, alpha=0.01, power=0.9,
                                        df=None) == pytest.approx(expected, rel=1e-12)
    # here positive AR(1) correlation raises the variance (within-block covariances psi_B,
    # psi_A outweigh the pre-post psi_X), the case BPW warn iid power calculations miss
    assert got > pe.minimum_detectable_effect(J, k, m, r, sigma=s, alpha=0.01, power=0.9,
                                              df=None)


def test_analytic_mde_matches_simulation_on_iid_design():
    df = _iid_panel()
    mde = pe.minimum_detectable_effect(80, 40, 5, 5, sigma=1.0)
    res = pe.power_analysis(df, "y", "year", "unit", n_treated=40, n_pre=5, n_post=5,
                            effects=[0.0, mde], n_simulations=300, random_state=7)
    power = res.curve["power"].to_numpy()
    mc = np.sqrt(0.8 * 0.2 / 300)
    assert abs(power[1] - 0.8) < 3.5 * mc, power
    assert abs(res.size - 0.05) < 3.5 * np.sqrt(0.05 * 0.95 / 300)
    # the analytic MDE estimated from the same data agrees with the one from the true sigma,
    # up to the sampling error of a variance from 80 units (relative SE of the MDE ~8%)
    assert res.analytic_mde == pytest.approx(mde, rel=0.25)


@pytest.mark.parametrize("estimator", ["twfe", "cs"])
def test_shifting_the_placebo_estimate_equals_refitting(estimator):
    df = _iid_panel(n_units=30, n_periods=6, seed=3)
    df["_placebo_g"] = np.where(df["unit"] < 6, 2003, 0)
    est0, se0, _ = _fit(estimator, df, "y", "year", "unit")
    treated = (df["_placebo_g"] > 0) & (df["year"] >= df["_placebo_g"])
    est1, se1, _ = _fit(estimator, df.assign(y=df["y"] + 0.7 * treated), "y", "year", "unit")
    assert est1 == pytest.approx(est0 + 0.7, rel=1e-10)
    assert se1 == pytest.approx(se0, rel=1e-10)


def test_cs_power_curve_and_summary():
    df = _iid_panel(n_units=40, n_periods=6, seed=5)
    res = pe.power_analysis(df, "y", "year", "unit", n_treated=10, n_post=2, estimator="cs",
                            n_simulations=20, random_state=1)
    assert res.spec["n_pre"] == 4 and len(res.curve) == 13
    assert res.curve["power"].iloc[-1] >= res.curve["power"].iloc[0]
    text = str(res)
    assert "Simulated MDE" in text and "Analytic MDE" in text


def test_one_treated_unit_over_rejects_and_is_flagged():
    df = _iid_panel(n_units=40, n_periods=8, seed=2)
    res = pe.power_analysis(df, "y", "year", "unit", n_treated=1, n_post=4, n_simulations=60,
                            random_state=0)
    assert res.size > 0.15
    assert "too small for this design" in str(res)
    # a target power the placebo already reaches at effect 0 has no meaningful MDE
    low = pe.power_analysis(df, "y", "year", "unit", n_treated=1, n_post=4, n_simulations=60,
                            random_state=0, power=0.1)
    assert low.curve["power"].iloc[0] >= 0.1 and np.isnan(low.mde)


def test_gname_drops_treated_rows():
    df = _iid_panel(n_units=20, n_periods=6)
    df["g"] = np.where(df["unit"] < 4, 2004, 0)
    with pytest.warns(pe.DroppedObservationsWarning, match="dropped 8 treated rows"):
        res = pe.power_analysis(df, "y", "year", "unit", n_treated=3, n_post=2, n_pre=2,
                                gname="g", n_simulations=5, random_state=0)
    assert res.spec["n_units"] == 20


@pytest.mark.parametrize("kwargs, match", [
    ({"n_treated": 0}, "n_treated=0 must be at least 1"),
    ({"n_treated": 80}, "n_treated=80 must be smaller than n_units=50"),
    ({"power": 1.0}, r"power=1.0 must lie strictly between 0 and 1"),
    ({"power": 0}, r"power=0 must lie strictly between 0 and 1"),
    ({"alpha": -0.1}, r"alpha=-0.1 must lie strictly between 0 and 1"),
    ({"rho": 1.0}, r"rho=1.0 must lie strictly between -1 and 1"),
    ({"sigma": -1.0}, r"sigma=-1.0 must be a non-negative number"),
    ({"covariance": np.eye(3)}, r"covariance must be 8x8"),
])
def test_analytic_bad_input(kwargs, match):
    args = {"n_units": 50, "n_treated": 5, "n_pre": 4, "n_post": 4, "sigma": 1.0, **kwargs}
    with pytest.raises(DesignError, match=match) as err:
        pe.minimum_detectable_effect(**args)
    assert isinstance(err.value, (PolicyevalError, ValueError))


def test_bad_types_and_simulation_input():
    with pytest.raises(ArgumentTypeError, match="n_treated=2.5 must be an integer"):
        pe.minimum_detectable_effect(50, 2.5, 4, 4, sigma=1.0)
    df = _iid_panel(n_units=10, n_periods=5)
    with pytest.raises(DesignError, match="n_treated=10 must be smaller than n_units=10"):
        pe.power_analysis(df, "y", "year", "unit", n_treated=10, n_post=2)
    with pytest.raises(DesignError, match="n_pre \\+ n_post = 7 periods is longer than the 5"):
        pe.power_analysis(df, "y", "year", "unit", n_treated=2, n_post=2, n_pre=5)
    with pytest.raises(DesignError, match="estimator='sdid' must be 'twfe' or 'cs'"):
        pe.power_analysis(df, "y", "year", "unit", n_treated=2, n_post=2, estimator="sdid")
    with pytest.raises(DesignError, match="power=1.5 must lie strictly between 0 and 1"):
        pe.power_analysis(df, "y", "year", "unit", n_treated=2, n_post=2, power=1.5)
    with pytest.raises(pe.exceptions.ColumnNotFoundError, match="yname='lemp' is not a column"):
        pe.power_analysis(df, "lemp", "year", "unit", n_treated=2, n_post=2)



def test_seed_is_now_random_state():
    """Issue 12: random_state wherever a random draw happens; seed= warns for one release."""
    df = _iid_panel(n_units=40, n_periods=6, seed=5)
    kw = dict(n_treated=3, n_post=2, n_pre=2, n_simulations=10)
    new = pe.power_analysis(df, "y", "year", "unit", random_state=4, **kw)
    with pytest.warns(FutureWarning, match=r"seed=...\) is now .*random_state=...\)"):
        old = pe.power_analysis(df, "y", "year", "unit", seed=4, **kw)
    pd.testing.assert_frame_equal(new.to_frame(), old.to_frame())
