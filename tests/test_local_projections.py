"""LP-DiD: the authors' R recipe (cross-checked with R lpdid), a simulation with known effects
(SIMULATED data), the slow obvious computation (explicit loops + statsmodels OLS), bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from reference.lpdid_r_golden import DIRECT, EW, PMD, POOLED, VW
from policyeval.estimators.local_projections import LocalProjectionsDiD
from policyeval.exceptions import (
    ArgumentValueError,
    EstimationError,
    PolicyevalFutureWarning,
    TreatmentTimingError,
)
from policyeval.inference.influence import InfluenceFunction

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def golden_panel():
    return pd.read_csv(HERE / "data" / "lpdid_test_panel.csv")


@pytest.mark.parametrize("reweight, ref", [(False, VW), (True, EW)])
def test_reproduces_the_authors_r_recipe(golden_panel, reweight, ref):
    res = LocalProjectionsDiD(pre_window=3, post_window=4, reweight=reweight).fit(
        golden_panel, "y", "time", "unit", treatment="treat")
    assert list(res.params.index) == [-3, -2, 0, 1, 2, 3, 4]
    for h in res.params.index:
        assert res.params[h] == pytest.approx(ref[h][0], rel=1e-10)
        assert res.std_errors[h] == pytest.approx(ref[h][1], rel=1e-10)


def test_covariate_reproduces_the_authors_r_recipe(golden_panel):
    res = LocalProjectionsDiD(pre_window=3, post_window=4).fit(
        golden_panel, "y", "time", "unit", treatment="treat", covariates="x")
    for h in res.params.index:
        assert res.params[h] == pytest.approx(DIRECT[h][0], rel=1e-10)
        assert res.std_errors[h] == pytest.approx(DIRECT[h][1], rel=1e-10)


def test_pre_mean_baseline_reproduces_the_authors_r_recipe(golden_panel):
    res = LocalProjectionsDiD(pre_window=3, post_window=4, baseline_lags=2).fit(
        golden_panel, "y", "time", "unit", treatment="treat")
    for h in res.params.index:
        assert res.params[h] == pytest.approx(PMD[h][0], rel=1e-10)
        assert res.std_errors[h] == pytest.approx(PMD[h][1], rel=1e-10)


def test_pooled_reproduces_the_authors_r_recipe(golden_panel):
    res = LocalProjectionsDiD(pre_window=3, post_window=4).fit(golden_panel, "y", "time", "unit",
                                                               treatment="treat")
    assert res.pooled.params["ATT"] == pytest.approx(POOLED["post"][0], rel=1e-10)
    assert res.pooled.std_errors["ATT"] == pytest.approx(POOLED["post"][1], rel=1e-10)
    assert res.pooled.params["pre"] == pytest.approx(POOLED["pre"][0], rel=1e-9)
    assert res.pooled.std_errors["pre"] == pytest.approx(POOLED["pre"][1], rel=1e-10)
    assert res.ATT == res.pooled.params["ATT"]


def test_gname_and_treatment_give_the_same_numbers(golden_panel):
    g = golden_panel.loc[golden_panel["treat"] == 1].groupby("unit")["time"].min()
    df = golden_panel.assign(g=golden_panel["unit"].map(g).fillna(0).astype(int))
    a = LocalProjectionsDiD().fit(df, "y", "time", "unit", treatment="treat")
    b = LocalProjectionsDiD().fit(df, "y", "time", "unit", gname="g")
    pd.testing.assert_series_equal(a.params, b.params)
    pd.testing.assert_series_equal(a.std_errors, b.std_errors)


def _simulate(seed=0, n=300, drop=0.05):
    """SIMULATED: cohorts 5 and 8 and never treated over periods 1..12, effects
    (1 + 0.3 h) for cohort 5 and (2 + 0.1 h) for cohort 8; rows dropped at random."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        g = [0, 5, 8][i % 3]
        a = rng.normal(0, 2)
        for t in range(1, 13):
            h = t - g
            eff = 0.0 if g == 0 or h < 0 else (1 + 0.3 * h if g == 5 else 2 + 0.1 * h)
            rows.append((i, t, g, int(g > 0 and h >= 0), a + 0.2 * t + eff + rng.normal(0, .5)))
    df = pd.DataFrame(rows, columns=["county", "year", "g", "D", "y"])
    return df.loc[rng.uniform(size=len(df)) >= drop].reset_index(drop=True)


def _slow_lpdid(df, h):
    """The clean sample by explicit loops over units and periods, then OLS with period dummies
    and unit-clustered errors (statsmodels, G/(G-1) (n-1)/(n-k) as fixest)."""
    import statsmodels.formula.api as smf

    y = {(r.county, r.year): r.y for r in df.itertuples()}
    first = df.loc[df["D"] == 1].groupby("county")["year"].min().to_dict()
    rows = []
    for (i, t), yt in y.items():
        base = y.get((i, t - 1))
        target = y.get((i, t + h)) if h >= 0 else y.get((i, t + h))
        if base is None or target is None:
            continue
        g = first.get(i, np.inf)
        entering = t == g
        clean = g > (t + h if h >= 0 else t)
        if entering or clean:
            rows.append((i, t, float(entering), target - base))
    s = pd.DataFrame(rows, columns=["county", "year", "d", "dy"])
    fit = smf.ols("dy ~ d + C(year)", data=s).fit(cov_type="cluster",
                                                   cov_kwds={"groups": s["county"]})
    return fit.params["d"], fit.bse["d"]


def test_equals_the_slow_obvious_computation_and_recovers_known_effects():
    df = _simulate(seed=4)
    res = LocalProjectionsDiD(pre_window=3, post_window=3).fit(df, "y", "year", "county",
                                                               treatment="D")
    for h in res.params.index:
        b, se = _slow_lpdid(df, h)
        assert res.params[h] == pytest.approx(b, rel=1e-9, abs=1e-12)
        assert res.std_errors[h] == pytest.approx(se, rel=1e-9)
    # known effects: placebos ~ 0; post horizons between the two cohorts' effects
    for h in (-3, -2):
        assert abs(res.params[h]) < 4 * res.std_errors[h]
    for h in range(4):
        lo, hi = sorted([1 + 0.3 * h, 2 + 0.1 * h])
        assert lo - 4 * res.std_errors[h] < res.params[h] < hi + 4 * res.std_errors[h]


def test_equal_weights_recover_the_average_over_entrants():
    """SIMULATED, balanced: with reweight=True the horizon-h estimate targets the mean effect
    over entering units (equal cohorts: the simple average of the two cohort effects)."""
    df = _simulate(seed=8, n=600, drop=0.0)
    res = LocalProjectionsDiD(pre_window=2, post_window=2, reweight=True).fit(
        df, "y", "year", "county", treatment="D")
    for h in range(3):
        truth = 0.5 * ((1 + 0.3 * h) + (2 + 0.1 * h))
        assert abs(res.params[h] - truth) < 4 * res.std_errors[h]


def test_cr2_gives_bell_mccaffrey_df_per_horizon(golden_panel):
    res = LocalProjectionsDiD(vcov="CR2").fit(golden_panel, "y", "time", "unit",
                                              treatment="treat")
    assert res.df_resid.shape == (7,)
    assert np.all((res.df_resid > 1) & (res.df_resid < 59))
    cr1 = LocalProjectionsDiD().fit(golden_panel, "y", "time", "unit", treatment="treat")
    np.testing.assert_allclose(res.params, cr1.params, rtol=1e-12)


def test_result_contract(golden_panel):
    res = pe.LocalProjectionsDiD().fit(golden_panel, "y", "time", "unit", treatment="treat")
    frame = res.to_frame()
    assert {"event_time", "estimate", "std_error", "p_value", "conf_low", "conf_high"} <= set(
        frame.columns)
    assert res.nobs == 719 and res.n_units == 60 and res.level == 0.95
    assert set(res.extra["horizons"].columns) >= {"n_treated", "n_control", "n_clusters"}
    assert "Pooled ATT" in str(res.summary())
    assert list(res.pooled.params.index) == ["ATT", "pre"]
    res.plot()


def test_bad_input(golden_panel):
    with pytest.raises(ArgumentValueError, match="pre_window=-1"):
        LocalProjectionsDiD(pre_window=-1)
    with pytest.raises(ArgumentValueError, match="baseline_lags=0"):
        LocalProjectionsDiD(baseline_lags=0)
    with pytest.raises(ArgumentValueError, match="exactly one of"):
        LocalProjectionsDiD().fit(golden_panel, "y", "time", "unit")
    off = golden_panel.copy()
    off.loc[(off["unit"] == 1) & (off["time"] == 9), "treat"] = 0
    with pytest.raises(TreatmentTimingError, match="switches off"):
        LocalProjectionsDiD().fit(off, "y", "time", "unit", treatment="treat")
    with pytest.raises(EstimationError, match="h=9: 0 newly treated"):
        LocalProjectionsDiD(post_window=11).fit(golden_panel, "y", "time", "unit",
                                                treatment="treat")


@pytest.mark.parametrize("options, n_rows", [
    ({}, 300), ({"cluster": "state"}, 30), ({"vcov": "hetero"}, None),
    ({"reweight": True}, 300), ({"reweight": True, "cluster": "state"}, 30)])
def test_influence_reproduces_cr1_and_hc1_standard_errors(options, n_rows):
    """sqrt(diag(gram)) / n of the joint influence function is each horizon's CR1 / HC1
    standard error without the small-sample factor (ssc="none"), for the horizons and the
    pooled windows (SIMULATED data)."""
    df = _simulate(seed=3)
    df["state"] = df["county"] // 10                 # 30 clusters
    res = LocalProjectionsDiD(pre_window=3, post_window=3, **options).fit(
        df, "y", "year", "county", gname="g")
    raw = LocalProjectionsDiD(pre_window=3, post_window=3, ssc="none", **options).fit(
        df, "y", "year", "county", gname="g")
    for r, r0 in ((res, raw), (res.pooled, raw.pooled)):
        assert isinstance(r.influence, InfluenceFunction)
        assert r.influence.n_terms == len(r.params)
        se = np.sqrt(r.influence.gram_diagonal()) / r.influence.n
        # no small-sample factor in the influence function (as for every result)
        np.testing.assert_allclose(se, r0.std_errors.to_numpy(), rtol=1e-9)
        assert np.all(r.std_errors.to_numpy() > se)
    # one row per cluster in some horizon's sample, or per (unit, period) observation
    assert res.influence.n <= (len(df) if n_rows is None else n_rows)
    assert res.influence.n > (len(df) // 2 if n_rows is None else 0.9 * n_rows)


@pytest.mark.parametrize("vcov", ["CR2", "iid"])
def test_influence_for_cr2_and_iid_is_the_unscaled_cr0_hc0_one(vcov):
    """Documented exception: CR2 and iid have no score-row representation."""
    df = _simulate(seed=3)
    res = LocalProjectionsDiD(vcov=vcov).fit(df, "y", "year", "county", gname="g")
    raw = LocalProjectionsDiD(vcov="cluster" if vcov == "CR2" else "hetero", ssc="none").fit(
        df, "y", "year", "county", gname="g")
    np.testing.assert_allclose(res.influence.std_errors(), raw.std_errors.to_numpy(), rtol=1e-9)


def test_df_is_now_data(golden_panel):
    new = LocalProjectionsDiD().fit(golden_panel, "y", "time", "unit", treatment="treat")
    with pytest.warns(PolicyevalFutureWarning, match="data="):
        old = LocalProjectionsDiD().fit(df=golden_panel, yname="y", tname="time",
                                        idname="unit", treatment="treat")
    pd.testing.assert_series_equal(old.params, new.params)
