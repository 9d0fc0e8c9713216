"""ImputationDiD: didimputation's published df_het numbers, the slow explicit
BJS computation (OLS with dummies, dense v weights), BJS's saturated-OLS
equivalence, simulations with known effects, properties, and bad input."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyeval.estimators.imputation import ImputationDiD, ImputationResult
from policyeval.exceptions import (
    ColumnNotFoundError,
    DataError,
    DroppedObservationsWarning,
    DuplicateObservationError,
    EstimationError,
    EstimationWarning,
    TreatmentTimingError,
)

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("didimputation_df_het", HERE / "reference" / "didimputation_df_het.py")
REF = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(REF)


@pytest.fixture(scope="module")
def df_het():
    return pd.read_csv(HERE / "data" / "df_het.csv.gz")


def simulate(seed, n_units=40, periods=range(1, 9), cohorts=(0, 4, 6), hetero=True, noise=1.0,
             anticipation_effect=0.0):
    """Seeded staggered panel with a known effect; ``tau_true`` holds it per row."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame([(i, t) for i in range(n_units) for t in periods], columns=["unit", "t"])
    g = np.array([cohorts[i % len(cohorts)] for i in range(n_units)])
    df["g"] = g[df["unit"]]
    df["state"] = df["unit"] % 7
    df["x1"] = rng.normal(size=len(df))
    df["x2"] = rng.normal(size=len(df)) + 0.1 * df["t"]
    df["w"] = rng.uniform(0.5, 2.0, size=n_units)[df["unit"]]
    e = np.where(df["g"] > 0, df["t"] - df["g"], -999)
    if hetero:
        tau = np.where(e >= 0, 1.0 + 0.3 * e + 0.2 * (df["g"] == cohorts[-1]), 0.0)
    else:
        tau = np.where(e >= 0, 1.5, 0.0)
    tau = tau + np.where(e == -1, anticipation_effect, 0.0)
    alpha = rng.normal(size=n_units)
    beta = np.cumsum(rng.normal(size=max(periods) + 1))
    df["tau_true"] = tau
    df["y"] = alpha[df["unit"]] + beta[df["t"]] + 0.5 * df["x1"] - 0.3 * df["x2"] + tau \
        + noise * rng.normal(size=len(df))
    return df


# --- slow explicit implementation -------------------------------------------------
def slow_bjs(df, covariates=(), weights=None, cluster="unit", horizons=None, anticipation=0):
    """BJS imputation written from the formulas with dense dummy matrices."""
    df = df.reset_index(drop=True)
    e = np.where(df["g"] > 0, df["t"] - df["g"], np.nan)
    treated = ~np.isnan(e) & (e >= -anticipation)
    w = df[weights].to_numpy(float) if weights else np.ones(len(df))
    U = pd.get_dummies(df["unit"]).to_numpy(float)
    Tm = pd.get_dummies(df["t"]).to_numpy(float)[:, 1:]
    Z = np.hstack([U, Tm, df[list(covariates)].to_numpy(float)])
    Z0, Z1, y0, y1, w0 = Z[~treated], Z[treated], df["y"].to_numpy()[~treated], df["y"].to_numpy()[treated], w[~treated]
    ZWZ = Z0.T @ (w0[:, None] * Z0)
    theta = np.linalg.solve(ZWZ, Z0.T @ (w0 * y0))
    tau = y1 - Z1 @ theta
    e1, g1 = e[treated], df["g"].to_numpy()[treated]
    targets = {"overall": e1 >= 0} if horizons is None else {h: e1 == h for h in horizons}
    out = {}
    cl = df[cluster].to_numpy()
    for name, mask in targets.items():
        w1 = mask * w[treated]
        w1 = w1 / w1.sum()
        est = w1 @ tau
        v = np.zeros(len(df))
        v[treated] = w1
        v[~treated] = -w0 * (Z0 @ np.linalg.solve(ZWZ, Z1.T @ w1))
        assert v @ df["y"].to_numpy() == pytest.approx(est, rel=1e-9, abs=1e-12)  # linear in Y
        eps = np.zeros(len(df))
        eps[~treated] = y0 - Z0 @ theta
        cells = pd.Series(list(zip(g1, e1)))
        tbar = np.zeros(len(tau))
        for c in cells.unique():
            m = (cells == c).to_numpy()
            if (w1[m] ** 2).sum() > 0:
                tbar[m] = (w1[m] ** 2 * tau[m]).sum() / (w1[m] ** 2).sum()
        eps[treated] = tau - tbar
        psi = pd.Series(v * eps).groupby(cl).sum()
        out[name] = (est, float(np.sqrt((psi ** 2).sum())))
    return out, tau


# --- reference: didimputation README -------------------------------------------
def test_static_matches_didimputation_readme(df_het):
    res = ImputationDiD().fit(df_het, yname="dep_var", tname="year", idname="unit", gname="g")
    est, se = REF.STATIC
    assert list(res.params.index) == ["ATT"]
    assert res.params["ATT"] == pytest.approx(est, rel=REF.RTOL)
    assert res.std_errors["ATT"] == pytest.approx(se, rel=REF.RTOL)


def test_event_study_matches_didimputation_readme(df_het):
    res = ImputationDiD(horizons=True, pretrends=[-5, -4, -3, -2, -1], pretrend_vcov="iid").fit(
        df_het, yname="dep_var", tname="year", idname="unit", gname="g")
    expected = {**REF.PRETRENDS, **REF.HORIZONS}
    assert list(res.params.index) == sorted(expected)
    for term, (est, se) in expected.items():
        assert res.params[term] == pytest.approx(est, rel=REF.RTOL), term
        assert res.std_errors[term] == pytest.approx(se, rel=REF.RTOL), term
    # the overall effect is kept in event-study mode too
    assert res.overall["estimate"] == pytest.approx(REF.STATIC[0], rel=REF.RTOL)
    assert res.pretrend_test["df"] == 5 and res.pretrend_test["p_value"] > 0.5


DIFF_DIFF = json.loads((HERE / "reference" / "imputation_df_het_diff_diff.json").read_text())
DIFF_DIFF_CONFIGS = {
    # record name -> (ImputationDiD options, fit options)
    "static": ({}, {}),
    "static_covariate_x_cluster_state": ({"cluster": "state"}, {"covariates": ["x"]}),
    "event_study": ({"horizons": True}, {}),
    "event_study_anticipation_1": ({"horizons": True, "anticipation": 1}, {}),
}


@pytest.mark.parametrize("record", DIFF_DIFF["records"], ids=lambda r: r["config"])
def test_matches_diff_diff_full_precision(df_het, record):
    """diff-diff (version in the JSON; see tests/reference/make_imputation_diff_diff.py).
    diff-diff solves the fixed effects iteratively, hence rtol 1e-9 rather than 1e-12."""
    df = df_het.assign(x=((df_het["unit"] * 7919) % 101) / 101 * (df_het["year"] - 2005) / 10)
    options, fit_kw = DIFF_DIFF_CONFIGS[record["config"]]
    res = ImputationDiD(**options).fit(df, yname="dep_var", tname="year", idname="unit", gname="g", **fit_kw)
    assert len(res.params) == len(record["terms"])
    for term, (est, se) in record["terms"].items():
        key = "ATT" if term == "overall" else int(term)   # diff-diff names it "overall"
        assert res.params[key] == pytest.approx(est, rel=1e-9), term
        assert res.std_errors[key] == pytest.approx(se, rel=1e-9), term


# --- slow obvious computations ---------------------------------------------------
@pytest.mark.parametrize("covariates, weights, cluster, horizons", [
    ((), None, "unit", None),
    (("x1", "x2"), None, "unit", None),
    (("x1",), "w", "unit", None),
    (("x1", "x2"), "w", "state", [0, 1, 2, 3, 4]),
    ((), None, "state", [0, 2, 4]),
])
def test_matches_explicit_dummy_computation(covariates, weights, cluster, horizons):
    df = simulate(11).sample(frac=0.93, random_state=3)  # unbalanced on purpose
    res = ImputationDiD(horizons=horizons, cluster=cluster).fit(
        df, yname="y", tname="t", idname="unit", gname="g", covariates=list(covariates) or None,
        weights=weights)
    slow, tau = slow_bjs(df.sort_values(["unit", "t"]), covariates, weights, cluster, horizons)
    for term, (est, se) in slow.items():
        term = "ATT" if term == "overall" else term
        assert res.params[term] == pytest.approx(est, rel=1e-9)
        assert res.std_errors[term] == pytest.approx(se, rel=1e-9)
    np.testing.assert_allclose(res.effects["tau"].to_numpy(), tau, rtol=1e-9, atol=1e-10)


def test_equals_ols_with_one_dummy_per_treated_observation():
    """BJS (2024): without covariates the imputation estimates are the OLS coefficients
    on treated-observation dummies in a regression with unit and period effects."""
    df = simulate(5, n_units=24)
    treated = (df["g"] > 0) & (df["t"] >= df["g"])
    U = pd.get_dummies(df["unit"]).to_numpy(float)
    Tm = pd.get_dummies(df["t"]).to_numpy(float)[:, 1:]
    idx = np.flatnonzero(treated)
    Dm = np.zeros((len(df), len(idx)))
    Dm[idx, np.arange(len(idx))] = 1.0
    coef = np.linalg.lstsq(np.hstack([U, Tm, Dm]), df["y"].to_numpy(), rcond=None)[0]
    res = ImputationDiD().fit(df, yname="y", tname="t", idname="unit", gname="g")
    np.testing.assert_allclose(res.effects["tau"].to_numpy(), coef[-len(idx):], rtol=1e-8, atol=1e-10)
    assert res.params["ATT"] == pytest.approx(coef[-len(idx):].mean(), rel=1e-9)


def test_pretrend_test_matches_statsmodels_cluster_regression():
    df = simulate(7, n_units=60)
    res = ImputationDiD(pretrends=3).fit(df, yname="y", tname="t", idname="unit", gname="g", covariates=["x1"])
    d0 = df[~((df["g"] > 0) & (df["t"] >= df["g"]))].copy()
    for k in (1, 2, 3):
        d0[f"lead{k}"] = ((d0["g"] > 0) & (d0["t"] - d0["g"] == -k)).astype(float)
    fit = smf.ols("y ~ lead3 + lead2 + lead1 + x1 + C(unit) + C(t)", d0).fit(
        cov_type="cluster", cov_kwds={"groups": d0["unit"]})
    names = ["lead3", "lead2", "lead1"]
    pt = res.pretrend_test
    assert pt["leads"] == [-3, -2, -1]
    np.testing.assert_allclose(pt["coefficients"].to_numpy(), fit.params[names].to_numpy(), rtol=1e-8)
    # statsmodels counts the unit dummies in its (n-1)/(n-k) factor; fixest's "nested"
    # convention (ours) does not: p = periods - 1 + covariates + leads
    n, k_sm = len(d0), int(fit.df_model) + 1
    p = d0["t"].nunique() - 1 + 1 + 3
    V_sm = fit.cov_params().loc[names, names].to_numpy() * (n - k_sm) / (n - p)
    np.testing.assert_allclose(pt["vcov"], V_sm, rtol=1e-8)
    b = pt["coefficients"].to_numpy()
    assert pt["statistic"] == pytest.approx(b @ np.linalg.solve(V_sm, b), rel=1e-8)
    # lead coefficients appear in params with those standard errors
    np.testing.assert_allclose(res.std_errors[[-3, -2, -1]].to_numpy(), np.sqrt(np.diag(V_sm)), rtol=1e-8)


# --- simulations with a known effect ------------------------------------------
def test_recovers_heterogeneous_effects():
    df = simulate(2024, n_units=300, periods=range(1, 13), cohorts=(0, 4, 7, 9), noise=1.0)
    res = ImputationDiD(horizons=range(0, 6)).fit(df, yname="y", tname="t", idname="unit", gname="g")
    treated = df[(df["g"] > 0) & (df["t"] >= df["g"])]
    truth = treated.groupby(treated["t"] - treated["g"])["tau_true"].mean()
    for h in range(0, 6):
        assert abs(res.params[h] - truth[h]) < 4 * res.std_errors[h], h
    assert abs(res.overall["estimate"] - treated["tau_true"].mean()) < 4 * res.overall["std_error"]
    # and the effects really differ: a constant effect would be rejected
    assert res.params[5] - res.params[0] > 4 * np.hypot(res.std_errors[5], res.std_errors[0])


def test_standard_errors_are_calibrated_in_monte_carlo():
    ests, ses = [], []
    for rep in range(60):
        df = simulate(1000 + rep, n_units=45, periods=range(1, 7), cohorts=(0, 3, 5), hetero=False)
        res = ImputationDiD().fit(df, yname="y", tname="t", idname="unit", gname="g")
        ests.append(res.params["ATT"])
        ses.append(res.std_errors["ATT"])
    ests, ses = np.array(ests), np.array(ses)
    assert abs(ests.mean() - 1.5) < 3 * ests.std() / np.sqrt(len(ests))
    assert 0.7 < ses.mean() / ests.std(ddof=1) < 1.4
    assert np.mean(np.abs(ests - 1.5) < 1.96 * ses) >= 0.85


def test_anticipation_moves_lead_out_of_the_untreated_sample():
    df = simulate(8, n_units=200, periods=range(1, 10), cohorts=(0, 5, 7), hetero=False, noise=0.5,
                  anticipation_effect=0.8)
    naive = ImputationDiD(pretrends=1).fit(df, yname="y", tname="t", idname="unit", gname="g")
    assert naive.pretrend_test["p_value"] < 1e-6  # the anticipation shows up as a pre-trend
    res = ImputationDiD(horizons=[-1, 0, 1], anticipation=1, pretrends=2).fit(
        df, yname="y", tname="t", idname="unit", gname="g")
    assert abs(res.params[-1] - 0.8) < 4 * res.std_errors[-1]
    assert abs(res.params[0] - 1.5) < 4 * res.std_errors[0]
    assert res.pretrend_test["leads"] == [-3, -2] and res.pretrend_test["p_value"] > 0.001
    assert abs(res.overall["estimate"] - 1.5) < 4 * res.overall["std_error"]
    slow, _ = slow_bjs(df, horizons=[-1, 0, 1], anticipation=1)
    for h in (-1, 0, 1):
        assert res.params[h] == pytest.approx(slow[h][0], rel=1e-9)
        assert res.std_errors[h] == pytest.approx(slow[h][1], rel=1e-9)


# --- properties ----------------------------------------------------------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scale=st.floats(-10, 10).filter(lambda x: abs(x) > 0.05))
def test_properties_row_order_relabel_unit_effect_scaling(seed, scale):
    df = simulate(seed, n_units=21, periods=range(1, 8), cohorts=(0, 3, 5))
    kw = dict(yname="y", tname="t", idname="unit", gname="g", covariates=["x1"])
    est = ImputationDiD(horizons=[0, 1, 2])
    base = est.fit(df, **kw)

    out = est.fit(df.sample(frac=1.0, random_state=seed), **kw)
    pd.testing.assert_series_equal(out.params, base.params, rtol=1e-9)
    pd.testing.assert_series_equal(out.std_errors, base.std_errors, rtol=1e-9)

    rng = np.random.default_rng(seed)
    relabel = df.assign(unit=df["unit"].map(dict(zip(range(21), rng.permutation(21) * 3 + 1000))))
    out = est.fit(relabel, **kw)
    pd.testing.assert_series_equal(out.params, base.params, rtol=1e-9)
    pd.testing.assert_series_equal(out.std_errors, base.std_errors, rtol=1e-9)

    fe = df.assign(y=df["y"] + df["unit"].map(dict(enumerate(rng.normal(size=21) * 50))))
    out = est.fit(fe, **kw)
    np.testing.assert_allclose(out.params, base.params, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(out.std_errors, base.std_errors, rtol=1e-7, atol=1e-8)

    out = est.fit(df.assign(y=df["y"] * scale), **kw)
    np.testing.assert_allclose(out.params, base.params * scale, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(out.std_errors, base.std_errors * abs(scale), rtol=1e-8, atol=1e-10)


def test_unit_weights_equal_to_one_change_nothing():
    df = simulate(3).assign(one=1.0)
    a = ImputationDiD(horizons=[0, 1]).fit(df, yname="y", tname="t", idname="unit", gname="g")
    b = ImputationDiD(horizons=[0, 1]).fit(df, yname="y", tname="t", idname="unit", gname="g", weights="one")
    pd.testing.assert_series_equal(a.params, b.params, rtol=1e-12)
    pd.testing.assert_series_equal(a.std_errors, b.std_errors, rtol=1e-12)


# --- result object -----------------------------------------------------------
def test_result_contract_and_plot(df_het):
    import matplotlib.pyplot as plt

    res = ImputationDiD(horizons=range(0, 5), pretrends=3).fit(
        df_het, yname="dep_var", tname="year", idname="unit", gname="g")
    assert isinstance(res, ImputationResult)
    frame = res.to_frame()
    assert frame.columns[0] == "event_time"
    assert frame["event_time"].tolist() == [-3, -2, -1, 0, 1, 2, 3, 4]
    assert res.nobs == 31_000 and res.n_units == 1_000
    text = str(res)
    assert "Pre-trend test (BJS Test 1)" in text and "Overall ATT" in text
    assert "<table" in res._repr_html_() and "tabular" in res.summary().as_latex()
    psi = res.influence.to_dense()
    assert psi.shape == (1_000, 5)
    np.testing.assert_allclose(psi.T @ psi / 1_000 ** 2,
                               res.vcov.loc[[0, 1, 2, 3, 4], [0, 1, 2, 3, 4]].to_numpy(), rtol=1e-12)
    eff = res.effects
    np.testing.assert_allclose(eff["tau"], eff["y"] - eff["y0_hat"])
    assert len(eff) == int(((df_het["g"] > 0) & (df_het["year"] >= df_het["g"])).sum())
    ax = res.plot()
    assert len(ax.lines) + len(ax.collections) > 0
    plt.close(ax.figure)


# --- bad input ---------------------------------------------------------------------
def fit(df, **kw):
    args = dict(yname="y", tname="t", idname="unit", gname="g")
    args.update(kw)
    est_kw = {k: args.pop(k) for k in ("horizons", "pretrends", "cluster", "anticipation") if k in args}
    return ImputationDiD(**est_kw).fit(df, **args)


def test_unit_without_untreated_observation_is_named():
    df = simulate(1)
    df.loc[df["unit"].isin([2, 5]), "g"] = 1  # treated from the first period
    with pytest.raises(EstimationError, match=r"cannot impute Y\(0\): 2 units \(e\.g\. 2, 5\) of idname='unit' "
                                              r"have no untreated observation"):
        fit(df)


def test_period_without_untreated_observation_is_named():
    df = simulate(1, cohorts=(4, 6))  # no never-treated: periods 6..8 are all treated
    with pytest.raises(EstimationError, match=r"cannot impute Y\(0\): 3 periods \(e\.g\. 6, 7, 8\) of tname='t' "
                                              r"have no untreated observation"):
        fit(df)
    # the remedy the message suggests works
    res = fit(df[df["t"] < 6])
    assert np.isfinite(res.params).all()


def test_gname_varying_within_unit():
    df = simulate(1)
    df.loc[(df["unit"] == 4) & (df["t"] == 3), "g"] = 5
    with pytest.raises(TreatmentTimingError, match=r"gname='g' varies within idname='unit' for 1 units \(e\.g\. 4\)"):
        fit(df)


def test_treatment_switching_off():
    df = simulate(1)
    df["D"] = ((df["g"] > 0) & (df["t"] >= df["g"])).astype(int)
    df.loc[(df["unit"] == 1) & (df["t"] == 8), "D"] = 0
    with pytest.raises(TreatmentTimingError, match=r"dname='D' switches from 1 back to 0 .*\(e\.g\. 1\)"):
        fit(df, gname=None, dname="D")
    df.loc[(df["unit"] == 1) & (df["t"] == 8), "D"] = 1
    a, b = fit(df, gname=None, dname="D"), fit(df)
    pd.testing.assert_series_equal(a.params, b.params)


def test_missing_column_duplicates_and_non_integer_time():
    df = simulate(1)
    with pytest.raises(ColumnNotFoundError, match=r"covariates\[0\]='nope' is not a column"):
        fit(df, covariates=["nope"])
    with pytest.raises(DuplicateObservationError, match=r"2 rows share an \(idname='unit', tname='t'\) pair in 1 units"):
        fit(pd.concat([df, df.iloc[[0]]]))
    with pytest.raises(DataError, match=r"tname='t' must hold integer periods"):
        fit(df.assign(t=df["t"] + 0.5))


def test_missing_outcome_warns_with_count():
    df = simulate(1)
    df.loc[df.index[[3, 10]], "y"] = np.nan
    with pytest.warns(DroppedObservationsWarning, match=r"2 rows have missing values in \['y'\]"):
        res = fit(df)
    assert res.nobs == len(df) - 2


def test_cluster_splitting_units_warns():
    df = simulate(1)
    with pytest.warns(EstimationWarning, match=r"cluster='t' varies within idname='unit' for 40 units"):
        fit(df, cluster="t")


def test_unavailable_horizon_and_lead():
    df = simulate(1)
    with pytest.raises(EstimationError, match=r"horizons \[9\] have no treated observation"):
        fit(df, horizons=[0, 9])
    with pytest.raises(EstimationError, match=r"event time -2 < -anticipation=0"):
        fit(df, horizons=[-2, 0])
    with pytest.raises(EstimationError, match=r"pretrends: leads \[-6\] have no untreated observation"):
        fit(df, pretrends=6)


def test_collinear_covariates_are_named():
    df = simulate(1)
    df["x3"] = 2 * df["x1"] - df["x2"]
    with pytest.raises(EstimationError, match=r"not identified: covariate 'x1', covariate 'x2', "
                                              r"covariate 'x3' are collinear"):
        fit(df, covariates=["x1", "x2", "x3"])
    df["unit_const"] = df["unit"] * 1.0  # absorbed by the unit effects
    with pytest.raises(EstimationError, match=r"no variation left in covariate 'unit_const' after removing unit"):
        fit(df, covariates=["unit_const"])


def test_overall_term_is_now_att_and_the_old_name_warns():
    df = simulate(3)
    res = ImputationDiD().fit(df, yname="y", tname="t", idname="unit", gname="g")
    assert list(res.params.index) == ["ATT"]
    with pytest.warns(FutureWarning, match="term 'overall' .* is now called 'ATT'"):
        assert res.params["overall"] == res.params["ATT"]
