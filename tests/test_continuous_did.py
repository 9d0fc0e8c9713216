"""ContinuousDiD (Callaway, Goodman-Bacon & Sant'Anna 2024): simulations with a known dose
response, the slow obvious computation (polyfit + statsmodels HC0 sandwich), parallel trends vs
strong parallel trends, staggered cohorts, clusters and bad input.

No published peer number is reproduced: R contdid's examples simulate with R's RNG, and the
Python port contdid 0.1.0 on PyPI cannot run (its wheel lacks runtime_assets/
symbol_map_contract.json and the simulation manifest it reads).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _dose_panels import effect, two_period_dose_panel

import policyeval as pe
from policyeval.estimators.continuous import ContinuousDiD
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DesignError,
    EstimationError,
    EstimationWarning,
    FewTreatedWarning,
    TreatmentTimingError,
)

ARGS = dict(yname="y", tname="year", idname="unit", gname="g", dname="dose")
GRID = np.array([0.2, 0.4, 0.6, 0.8, 0.95])


@pytest.fixture(scope="module")
def panel():
    return two_period_dose_panel()


@pytest.fixture(scope="module")
def fit(panel):
    return ContinuousDiD(degree=3, dose_grid=GRID).fit(panel, **ARGS)


# --- simulation with a known dose response -------------------------------------------------
def test_recovers_the_known_dose_response(panel, fit):
    dr = fit.dose_response
    truth = effect(GRID)
    z = np.abs(dr["att"] - truth) / dr["att_se"]
    assert z.max() < 4, z.to_numpy()
    slope = 2 + 2 * GRID
    assert (np.abs(dr["acrt"] - slope) / dr["acrt_se"]).max() < 4
    units = panel.drop_duplicates("unit")
    d = units.loc[units.g > 0, "dose"].to_numpy()
    assert fit.params["ATT"] == pytest.approx(effect(d).mean(), abs=4 * fit.std_errors["ATT"])
    assert fit.params["ACRT"] == pytest.approx((2 + 2 * d).mean(), abs=4 * fit.std_errors["ACRT"])


def test_intervals_cover_in_repeated_simulations():
    """SIMULATED, 60 seeds: pointwise 95 % intervals for ATT(0.5) and the ATT cover the truth
    in at least 50 (a binomial(60, 0.95) falls below 51 with probability 0.4 %)."""
    cover_d, cover_o = 0, 0
    for seed in range(60):
        df = two_period_dose_panel(n=400, seed=100 + seed)
        res = ContinuousDiD(degree=2, dose_grid=[0.5]).fit(df, **ARGS)
        row = res.dose_response.iloc[0]
        cover_d += row.att_low <= effect(0.5) <= row.att_high
        d = df.drop_duplicates("unit").query("g > 0")["dose"].to_numpy()
        ci = res.conf_int().loc["ATT"]
        cover_o += ci.conf_low <= effect(d).mean() <= ci.conf_high
    assert cover_d >= 51 and cover_o >= 51, (cover_d, cover_o)


# --- the slow obvious computation ----------------------------------------------------------
def test_equals_polyfit_and_the_hc0_sandwich(panel, fit):
    import statsmodels.api as sm

    wide = panel.pivot(index="unit", columns="year", values="y")
    units = panel.drop_duplicates("unit").set_index("unit").loc[wide.index]
    dy = (wide[2011] - wide[2010]).to_numpy()
    tr = units.g.to_numpy() > 0
    d = units.dose.to_numpy()
    X = np.column_stack([d[tr] ** p for p in range(4)])
    ols = sm.OLS(dy[tr], X).fit(cov_type="HC0")
    mu0 = dy[~tr].mean()
    var_mu0 = np.var(dy[~tr]) / (~tr).sum()  # ddof 0: the influence-function variance
    for i, x in enumerate(GRID):
        b = x ** np.arange(4)
        att = b @ ols.params - mu0
        se = np.sqrt(b @ ols.cov_params() @ b + var_mu0)
        db = np.r_[0, 1, 2 * x, 3 * x ** 2]
        assert fit.dose_response.att[i] == pytest.approx(att, abs=1e-10)
        assert fit.dose_response.att_se[i] == pytest.approx(se, rel=1e-9)
        assert fit.dose_response.acrt[i] == pytest.approx(db @ ols.params, abs=1e-9)
        assert fit.dose_response.acrt_se[i] == pytest.approx(np.sqrt(db @ ols.cov_params() @ db), rel=1e-9)
    # ATT is the binarized 2x2 DiD
    assert fit.params["ATT"] == pytest.approx(dy[tr].mean() - mu0, abs=1e-12)
    se = np.sqrt(np.var(dy[tr]) / tr.sum() + var_mu0)
    assert fit.std_errors["ATT"] == pytest.approx(se, rel=1e-12)
    slopes = np.column_stack([np.zeros(tr.sum()), np.ones(tr.sum()), 2 * d[tr], 3 * d[tr] ** 2]) @ ols.params
    assert fit.params["ACRT"] == pytest.approx(slopes.mean(), abs=1e-10)


# --- parallel trends vs strong parallel trends --------------------------------------------
def test_pt_identifies_att_of_own_dose_but_not_the_causal_slope():
    """SIMULATED selection on gains: unit i gains theta_i * d, and high-theta units pick high
    doses (d = theta / 4 + noise). PT holds for untreated outcomes, so ATT(d) = E[theta | D=d] d
    is recovered; strong PT fails, so ACRT is not the average causal slope E[theta | D > 0]."""
    rng = np.random.default_rng(3)
    n = 6000
    treated = np.arange(n) < n // 2
    theta = rng.uniform(1, 3, n)
    dose = np.where(treated, np.clip(theta / 4 + rng.normal(0, 0.05, n), 0.05, None), 0.0)
    y0 = rng.normal(0, 1, n)
    y1 = y0 + 0.3 + treated * theta * dose + rng.normal(0, 0.3, n)
    df = pd.DataFrame({"unit": np.repeat(np.arange(n), 2), "year": np.tile([1, 2], n),
                       "g": np.repeat(np.where(treated, 2, 0), 2), "dose": np.repeat(dose, 2),
                       "y": np.column_stack([y0, y1]).ravel()})
    res = ContinuousDiD(degree=3).fit(df, **ARGS)
    # ATT = E[theta D | D > 0] (needs only PT)
    truth_att = (theta * dose)[treated].mean()
    assert res.params["ATT"] == pytest.approx(truth_att, abs=4 * res.std_errors["ATT"])
    # ATT(d | d) at d = 0.5: E[theta | D ~ 0.5] * 0.5 ~ 2 * 0.5 = 1
    att_half = np.interp(0.5, res.dose_response.dose, res.dose_response.att)
    assert att_half == pytest.approx(1.0, abs=0.1)
    # the slope of ATT(d|d) is about 2 * 4 d = 8d (selection), far from the causal E[theta] = 2
    causal_slope = theta[treated].mean()
    assert res.params["ACRT"] > causal_slope + 10 * res.std_errors["ACRT"]


# --- staggered cohorts, comparison groups, clusters --------------------------------------
def staggered_panel(seed=11, n=1500):
    """SIMULATED: cohorts 2013 and 2015 (dose U(0.2, 1)), never treated; periods 2010-2017;
    effect (1 + 0.5 e) * 2 d in event time e >= 0; no effect before treatment."""
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2018)
    g = rng.choice([0, 2013, 2015], size=n, p=[0.4, 0.3, 0.3])
    dose = np.where(g > 0, rng.uniform(0.2, 1.0, n), 0.0)
    alpha = rng.normal(0, 1, n)
    rows = []
    for t in years:
        e = t - g
        eff = np.where((g > 0) & (e >= 0), (1 + 0.5 * e) * 2 * dose, 0.0)
        y = alpha + 0.2 * (t - 2010) + eff + rng.normal(0, 0.3, n)
        rows.append(pd.DataFrame({"unit": np.arange(n), "year": t, "g": g, "dose": dose, "y": y,
                                  "prefecture": np.arange(n) % 40}))
    return pd.concat(rows, ignore_index=True)


def test_staggered_cohorts_event_study_and_overall():
    df = staggered_panel()
    res = ContinuousDiD(degree=2).fit(df, **ARGS)
    es = res.event_study.set_index("event_time")
    units = df.drop_duplicates("unit")
    dbar = units.loc[units.g > 0, "dose"].mean()
    pre = es.loc[es.index < -1]
    assert (np.abs(pre.estimate) / pre.std_error).max() < 4  # no pre-trends in the simulation
    for e in (0, 1, 2):
        assert es.loc[e, "estimate"] == pytest.approx((1 + 0.5 * e) * 2 * dbar,
                                                      abs=4 * es.loc[e, "std_error"])
    # overall: post cells weighted by cohort size; cohort 2013 has 5 post years, 2015 has 3
    cells = res.cells.query("period >= cohort")
    w = cells.n_treated / cells.n_treated.sum()
    assert res.params["ATT"] == pytest.approx(float((w * cells.ATT).sum()), abs=1e-12)
    nyt = ContinuousDiD(degree=2, control_group="not_yet_treated").fit(df, **ARGS)
    assert nyt.params["ATT"] == pytest.approx(res.params["ATT"], abs=4 * res.std_errors["ATT"])
    assert nyt.cells.n_control.max() > res.cells.n_control.max()


def test_clusters_sum_influence_within_clusters():
    df = staggered_panel(n=600)
    by_unit = ContinuousDiD(degree=2).fit(df, **ARGS)
    same = ContinuousDiD(degree=2, cluster="unit").fit(df, **ARGS)
    np.testing.assert_allclose(same.std_errors, by_unit.std_errors, rtol=1e-12)
    clustered = ContinuousDiD(degree=2, cluster="prefecture").fit(df, **ARGS)
    psi = by_unit.influence.to_dense() / by_unit.influence.n     # rows scaled by n (contract)
    codes = df.drop_duplicates("unit").sort_values("unit")["prefecture"].to_numpy()
    summed = np.vstack([psi[codes == c].sum(axis=0) for c in np.unique(codes)])
    np.testing.assert_allclose(clustered.std_errors, np.sqrt((summed ** 2).sum(axis=0)), rtol=1e-12)
    np.testing.assert_allclose(clustered.params, by_unit.params, rtol=0, atol=0)
    for res in (by_unit, same, clustered):      # the influence function carries the clusters
        np.testing.assert_allclose(res.influence.std_errors(), res.std_errors, rtol=1e-12)
        np.testing.assert_allclose(res.influence.vcov(), res.vcov.to_numpy(), rtol=1e-12,
                                   atol=1e-15)
    with pytest.warns(EstimationWarning, match="only 5 clusters"):
        ContinuousDiD(degree=2, cluster="prefecture").fit(df.assign(prefecture=df.unit % 5),
                                                          **ARGS)


def test_invariances(panel, fit):
    shifted = panel.assign(y=panel.y + 3.0 * panel.unit + 7.0 * (panel.year == 2011))
    again = ContinuousDiD(degree=3, dose_grid=GRID).fit(shifted.sample(frac=1.0, random_state=2), **ARGS)
    np.testing.assert_allclose(again.dose_response.att, fit.dose_response.att, atol=1e-8)
    np.testing.assert_allclose(again.params, fit.params, atol=1e-9)
    scaled = ContinuousDiD(degree=3, dose_grid=GRID * 10).fit(panel.assign(dose=panel.dose * 10), **ARGS)
    np.testing.assert_allclose(scaled.dose_response.att, fit.dose_response.att, atol=1e-9)
    np.testing.assert_allclose(scaled.dose_response.acrt * 10, fit.dose_response.acrt, atol=1e-8)


def test_result_contract(fit):
    assert list(fit.params.index) == ["ATT", "ACRT"]
    assert fit.level == 0.95
    assert fit.vcov.shape == (2, 2)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), fit.std_errors)
    table = fit.to_frame()
    assert list(table.columns[:3]) == ["term", "estimate", "std_error"]
    assert (fit.pvalues < 1e-6).all()
    assert fit.nobs == 4000 and fit.n_units == 2000
    text = str(fit.summary())
    assert "strong parallel trends" in text and "Continuous-dose DiD" in text
    ninety = ContinuousDiD(degree=3, dose_grid=GRID, level=0.9).fit(two_period_dose_panel(), **ARGS)
    assert (ninety.conf_int().conf_high < fit.conf_int().conf_high).all()
    import matplotlib

    matplotlib.use("Agg")
    for kind in ("att", "acrt", "event"):
        assert fit.plot(kind=kind) is not None
    assert pe.ContinuousDiD is ContinuousDiD and pe.estimators.ContinuousDiD is ContinuousDiD


# --- bad input ------------------------------------------------------------------------------
def test_bad_doses(panel):
    bad = panel.copy()
    bad.loc[bad.unit.isin([bad.loc[bad.g > 0, "unit"].iloc[0]]), "dose"] = 0.0
    with pytest.raises(DesignError, match="dname='dose' is 0 for 1 treated units"):
        ContinuousDiD().fit(bad, **ARGS)
    bad = panel.copy()
    never = bad.loc[bad.g == 0, "unit"].iloc[0]
    bad.loc[bad.unit == never, "dose"] = 0.4
    with pytest.raises(DesignError, match=f"positive for 1 never-treated units .*e.g. {never}"):
        ContinuousDiD().fit(bad, **ARGS)
    bad = panel.copy()
    bad.loc[(bad.unit == never) & (bad.year == 2011), "dose"] = 0.4
    with pytest.raises(DesignError, match="dname='dose' varies within idname='unit' for 1 units"):
        ContinuousDiD().fit(bad, **ARGS)
    bad.loc[(bad.unit == never) & (bad.year == 2011), ["dose", "g"]] = [0.0, 2011]
    with pytest.raises(TreatmentTimingError, match="gname='g' varies within"):
        ContinuousDiD().fit(bad, **ARGS)


def test_missing_unbalanced_and_options(panel):
    with pytest.raises(DataError, match=r"yname='y' is missing in 1 rows \(e.g. \(3, 2011\)\)"):
        ContinuousDiD().fit(panel.assign(y=panel.y.where(~((panel.unit == 3) & (panel.year == 2011)))), **ARGS)
    with pytest.raises(DataError, match="unbalanced: 1 units lack some periods"):
        ContinuousDiD().fit(panel[~((panel.unit == 3) & (panel.year == 2011))], **ARGS)
    with pytest.raises(ArgumentValueError, match="degree=0 must be an integer from 1 to 6"):
        ContinuousDiD(degree=0).fit(panel, **ARGS)
    with pytest.raises(ValueError, match="control_group='all' must be 'never_treated' or 'not_yet_treated'"):
        ContinuousDiD(control_group="all").fit(panel, **ARGS)
    few = panel[(panel.g == 0) | panel.unit.isin(panel.loc[panel.g > 0, "unit"].unique()[:3])]
    with pytest.warns(FewTreatedWarning, match="only 3 treated units"):
        with pytest.raises(EstimationError, match="3 distinct doses but a degree-3 polynomial has 4"):
            ContinuousDiD(degree=3).fit(few, **ARGS)


def test_names_before_0_2_still_work_with_a_future_warning(panel, fit):
    from policyeval.exceptions import PolicyevalFutureWarning

    with pytest.warns(PolicyevalFutureWarning, match="control_group is now the first"):
        old = ContinuousDiD(3, "not_yet_treated", GRID)
    assert (old.control_group, old.degree) == ("not_yet_treated", 3)
    with pytest.warns(PolicyevalFutureWarning, match="data="):
        again = ContinuousDiD(degree=3, dose_grid=GRID).fit(df=panel, **ARGS)
    np.testing.assert_allclose(again.params, fit.params, rtol=0, atol=0)
    with pytest.warns(PolicyevalFutureWarning, match="ContinuousDiD\\(cluster=...\\)"):
        clustered = ContinuousDiD(degree=3, dose_grid=GRID).fit(panel, cluster="unit", **ARGS)
    np.testing.assert_allclose(clustered.std_errors, fit.std_errors, rtol=1e-12)
    with pytest.raises(ArgumentValueError, match="contradicts"), \
            pytest.warns(PolicyevalFutureWarning):
        ContinuousDiD(cluster="unit").fit(panel, cluster="year", **ARGS)
    with pytest.warns(PolicyevalFutureWarning, match="kind='acrt'"):
        assert fit.plot("acrt") is not None
