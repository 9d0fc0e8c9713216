"""Extended TWFE: Stata jwdid's published numbers, Callaway-Sant'Anna's ATT(g,t), simulations
with known effects (SIMULATED data), the slow obvious computations and bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from reference.jwdid_mpdta import NEVER, NOTYET
from policyeval.estimators.etwfe import ExtendedTWFE
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DroppedObservationsWarning,
    EstimationError,
    PolicyevalFutureWarning,
)
from policyeval.inference.influence import InfluenceFunction

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def mpdta():
    return pd.read_csv(HERE / "data" / "mpdta.csv")


@pytest.mark.parametrize("control_group, ref",
                         [("not_yet_treated", NOTYET), ("never_treated", NEVER)])
def test_reproduces_stata_jwdid_on_mpdta(mpdta, control_group, ref):
    res = ExtendedTWFE(control_group=control_group).fit(mpdta, "lemp", "year", "countyreal",
                                                        "first.treat")
    assert list(res.params.index) == sorted(ref)
    att = np.array([ref[k][0] for k in res.params.index])
    se = np.array([ref[k][1] for k in res.params.index])
    np.testing.assert_allclose(res.params.to_numpy(), att, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.std_errors.to_numpy(), se, rtol=1e-10)


def test_never_treated_controls_reproduce_callaway_santanna(mpdta):
    res = ExtendedTWFE(control_group="never_treated").fit(mpdta, "lemp", "year", "countyreal",
                                                  "first.treat")
    cols = dict(yname="lemp", tname="year", idname="countyreal", gname="first.treat")
    varying = pe.CallawaySantAnna(control_group="never_treated", method="reg").fit(mpdta, **cols)
    universal = pe.CallawaySantAnna(control_group="never_treated", method="reg",
                                    base_period="universal").fit(mpdta, **cols)
    post = res.cells["post"].to_numpy()
    keys = list(res.params.index)
    for cs, rows in ((varying, post), (universal, np.ones(len(keys), bool))):
        ref = cs.params.reindex([k for k, r in zip(keys, rows) if r])
        np.testing.assert_allclose(res.params.to_numpy()[rows], ref.to_numpy(), atol=1e-8,
                                   rtol=0)


def _staggered(seed=0, n=300, poisson=False):
    """SIMULATED: cohorts 2013, 2015 and never; effect 1 + 0.5 e (linear) or log-effect
    0.2 + 0.1 e (Poisson), heterogeneous across cohorts and event times."""
    rng = np.random.default_rng(seed)
    years = np.arange(2010, 2019)
    unit = np.repeat(np.arange(n), len(years))
    year = np.tile(years, n)
    g = np.array([0, 2013, 2015])[unit % 3]
    e = year - g
    treated = (g > 0) & (e >= 0)
    if poisson:
        log_eff = np.where(treated, 0.2 + 0.1 * e + 0.1 * (g == 2015), 0.0)
        base = np.exp(1.0 + 0.05 * (year - 2010) + 0.3 * (g == 2013))
        y = rng.poisson(base * np.exp(log_eff))
        tau = base * (np.exp(log_eff) - 1)
    else:
        tau = np.where(treated, 1.0 + 0.5 * e + 0.5 * (g == 2015), 0.0)
        y = rng.normal(0, 2, n)[unit] + 0.3 * (year - 2010) + tau + rng.normal(0, 1, len(unit))
    return pd.DataFrame({"county": unit, "year": year, "g": g, "y": y, "tau": tau})


def test_simulated_heterogeneous_effects_are_recovered_and_aggregations_are_weighted_means():
    df = _staggered(seed=3)
    res = ExtendedTWFE().fit(df, "y", "year", "county", "g")
    truth = df.loc[df["tau"] != 0].groupby(["g", "year"])["tau"].mean()
    err = res.params.to_numpy() - truth.to_numpy()
    assert np.all(np.abs(err) < 4 * res.std_errors.to_numpy())
    # slow obvious aggregation: average the cell effects over treated observations by hand
    cells = res.to_frame()
    for kind, key in (("event", "event_time"), ("group", "group"), ("calendar", "time")):
        agg = res.aggregate(kind)
        post = cells if kind != "event" else cells
        post = post[post["post"]] if kind != "event" else post
        by_hand = post.groupby(key).apply(
            lambda c: np.average(c["estimate"], weights=c["n_treated"]), include_groups=False)
        np.testing.assert_allclose(agg.params.to_numpy(), by_hand.to_numpy(), rtol=1e-12)
    simple = res.aggregate("simple")
    treated = df["tau"] != 0
    assert simple.params["ATT"] == pytest.approx(
        np.average(cells.loc[cells["post"], "estimate"],
                   weights=cells.loc[cells["post"], "n_treated"]), rel=1e-12)
    assert abs(simple.params["ATT"] - df.loc[treated, "tau"].mean()) < 4 * simple.std_errors["ATT"]
    assert res.ATT == pytest.approx(simple.params["ATT"])
    # the delta-method variance with fixed weights, by hand
    w = simple.extra["weights"].to_numpy()[0]
    assert simple.std_errors["ATT"] ** 2 == pytest.approx(w @ res.vcov.to_numpy() @ w, rel=1e-12)


def test_linear_etwfe_equals_ols_with_every_dummy():
    """Slow obvious computation: OLS of y on unit, year and cell dummies (statsmodels)."""
    import statsmodels.formula.api as smf

    df = _staggered(seed=5, n=60).sample(frac=0.9, random_state=1)   # unbalanced
    res = ExtendedTWFE().fit(df, "y", "year", "county", "g")
    d = df.copy()
    names = []
    for g_, t_ in res.params.index:
        name = f"c{g_}_{t_}"
        d[name] = ((d["g"] == g_) & (d["year"] == t_)).astype(float)
        names.append(name)
    ols = smf.ols("y ~ " + " + ".join(names) + " + C(county) + C(year)", data=d).fit(
        cov_type="cluster", cov_kwds={"groups": d["county"]})
    np.testing.assert_allclose(res.params.to_numpy(), ols.params[names].to_numpy(), rtol=1e-9)


def test_cr2_gives_bell_mccaffrey_df_for_cells_and_aggregations():
    df = _staggered(seed=7, n=90)
    df["prefecture"] = df["county"] // 9            # 10 clusters
    res = ExtendedTWFE(vcov="CR2", cluster="prefecture").fit(df, "y", "year", "county", "g")
    assert np.shape(res.df_resid) == (len(res.params),)
    ev = res.aggregate("event")
    assert np.shape(ev.df_resid) == (len(ev.params),)
    assert np.all((ev.df_resid > 1) & (ev.df_resid <= 9 + 1e-9))
    assert np.all(np.isfinite(ev.conf_int()))
    cr1 = ExtendedTWFE(cluster="prefecture").fit(df, "y", "year", "county", "g")
    np.testing.assert_allclose(res.params, cr1.params, rtol=1e-12)


def test_poisson_equals_glm_with_dummies_and_recovers_the_level_effect():
    sm = pytest.importorskip("statsmodels.api")
    df = _staggered(seed=11, n=600, poisson=True)
    res = ExtendedTWFE(family="poisson").fit(df, "y", "year", "county", "g")
    # slow obvious computation: a Poisson GLM on cohort, year and cell dummies
    cells = list(res.params.index)
    Z = pd.concat([pd.get_dummies(df["g"], prefix="g", dtype=float),
                   pd.get_dummies(df["year"], prefix="t", dtype=float).iloc[:, 1:]], axis=1)
    for g_, t_ in cells:
        Z[f"c{g_}_{t_}"] = ((df["g"] == g_) & (df["year"] == t_)).astype(float)
    glm = sm.GLM(df["y"], Z, family=sm.families.Poisson()).fit(
        tol=1e-13, cov_type="cluster", cov_kwds={"groups": df["county"], "use_correction": True})
    coef = glm.params.iloc[-len(cells):].to_numpy()
    np.testing.assert_allclose(res.spec["poisson_coefficients"], coef, rtol=1e-7)
    mu = glm.fittedvalues.to_numpy()
    att_hand = []
    for (g_, t_), b in zip(cells, coef):
        rows = ((df["g"] == g_) & (df["year"] == t_)).to_numpy()
        att_hand.append(np.mean(mu[rows] * (1 - np.exp(-b))))
    np.testing.assert_allclose(res.params.to_numpy(), att_hand, rtol=1e-7)
    # the GLM's clustered covariance (same small-sample factors) carried by the delta method:
    # the multiplicative effect exp(b) - 1 of the first cell
    truth = df.loc[df["tau"] != 0].groupby(["g", "year"])["tau"].mean().to_numpy()
    assert np.all(np.abs(res.params.to_numpy() - truth) < 4 * res.std_errors.to_numpy())
    simple = res.aggregate("simple")
    assert abs(simple.params["ATT"] - df.loc[df["tau"] != 0, "tau"].mean()) \
        < 4 * simple.std_errors["ATT"]
    # standard errors: the GLM's clustered covariance through the delta method, by hand
    V = glm.cov_params().to_numpy()
    Zm = Z.to_numpy()
    k0 = Zm.shape[1] - len(cells)
    for j, ((g_, t_), b) in enumerate(zip(cells, coef)):
        rows = ((df["g"] == g_) & (df["year"] == t_)).to_numpy()
        Z1 = Zm[rows]
        Z0 = Z1.copy()
        Z0[:, k0 + j] = 0.0
        m1 = mu[rows]
        grad = (Z1 * m1[:, None]).mean(axis=0) - (Z0 * (m1 * np.exp(-b))[:, None]).mean(axis=0)
        assert res.std_errors.iloc[j] == pytest.approx(np.sqrt(grad @ V @ grad), rel=1e-6)


def test_without_never_treated_the_last_cohort_is_the_control(mpdta):
    treated_only = mpdta.loc[mpdta["first.treat"] > 0]
    with pytest.warns(DroppedObservationsWarning, match="last cohort \\(2007\\)"):
        warnings.simplefilter("always")
        res = ExtendedTWFE().fit(treated_only, "lemp", "year", "countyreal", "first.treat")
    assert sorted(set(g for g, _ in res.params.index)) == [2004, 2006]
    assert max(t for _, t in res.params.index) == 2006


def test_bad_input(mpdta):
    with pytest.raises(ArgumentValueError, match="control_group"):
        ExtendedTWFE(control_group="sometimes")
    with pytest.raises(ArgumentValueError, match="family"):
        ExtendedTWFE(family="logit")
    with pytest.raises(ArgumentValueError, match="linear models"):
        ExtendedTWFE(family="poisson", vcov="CR2")
    with pytest.raises(EstimationError, match="needs never-treated units"):
        ExtendedTWFE(control_group="never_treated").fit(
            mpdta.loc[mpdta["first.treat"] > 0], "lemp", "year", "countyreal", "first.treat")
    with pytest.raises(DataError, match="non-negative yname='lemp'"):
        ExtendedTWFE(family="poisson").fit(mpdta.assign(lemp=mpdta["lemp"] - 10), "lemp",
                                           "year", "countyreal", "first.treat")
    with pytest.raises(ArgumentValueError, match="kind="):
        ExtendedTWFE().fit(mpdta, "lemp", "year", "countyreal", "first.treat").aggregate("cohort")


def test_result_contract(mpdta):
    res = ExtendedTWFE().fit(mpdta, "lemp", "year", "countyreal", "first.treat")
    frame = res.to_frame()
    assert {"group", "time", "event_time", "post", "estimate", "std_error", "p_value",
            "conf_low", "conf_high", "n_treated"} <= set(frame.columns)
    assert res.level == 0.95 and res.nobs == 2500 and res.n_units == 500
    assert "Extended TWFE" in str(res.summary())
    ev = res.aggregate("event")
    assert ev.params.index.name == "event_time" and list(ev.params.index) == [0, 1, 2, 3]
    assert res.aggregate("simple").params.index.tolist() == ["ATT"]
    ev.plot()


# ---- R etwfe's published numbers (with a covariate; cohort effects) ---------------------------

def _check(agg, ref, point_tol, se_rtol):
    for key, (est, se) in ref.items():
        assert agg.params[key] == pytest.approx(est, rel=point_tol, abs=point_tol), key
        assert agg.std_errors[key] == pytest.approx(se, rel=se_rtol), key


def test_reproduces_r_etwfe_emfx_with_a_covariate(mpdta):
    from reference import etwfe_mpdta as ref

    res = ExtendedTWFE(fe="cohort").fit(mpdta, "lemp", "year", "countyreal", "first.treat",
                                        covariates="lpop")
    simple = res.aggregate("simple")
    assert simple.params["ATT"] == pytest.approx(ref.SIMPLE[0], abs=1e-10)
    assert simple.std_errors["ATT"] == pytest.approx(ref.SIMPLE[1], rel=1e-6)
    _check(res.aggregate("event"), ref.EVENT, 1e-10, 1e-6)
    _check(res.aggregate("group"), ref.GROUP, 1e-10, 1e-6)
    _check(res.aggregate("calendar"), ref.CALENDAR, 1e-10, 1e-6)
    never = ExtendedTWFE(fe="cohort", control_group="never_treated").fit(
        mpdta, "lemp", "year", "countyreal", "first.treat", covariates="lpop")
    _check(never.aggregate("event"), ref.EVENT_NEVER, 1e-10, 1e-6)
    # unit effects absorb lpop and its cohort interactions: same cell effects (balanced panel)
    unit = ExtendedTWFE(fe="unit").fit(mpdta, "lemp", "year", "countyreal", "first.treat",
                                       covariates="lpop")
    np.testing.assert_allclose(unit.params, res.params, atol=1e-10)


def test_reproduces_r_etwfe_poisson_event_study(mpdta):
    from reference import etwfe_mpdta as ref

    res = ExtendedTWFE(family="poisson").fit(mpdta.assign(emp=np.exp(mpdta["lemp"])), "emp",
                                             "year", "countyreal", "first.treat",
                                             covariates="lpop")
    # Poisson: fixest's and our IRLS stop at slightly different points (1e-9 relative)
    _check(res.aggregate("event"), ref.EVENT_POISSON, 1e-7, 1e-5)


def test_covariate_cell_effects_equal_the_slow_computation():
    """SIMULATED, unbalanced, time-varying x: the ATT(g,t) are tau_gt + gamma_gt (xbar_gt - xbar_g)
    from OLS with every dummy and interaction written out."""
    import statsmodels.formula.api as smf

    df = _staggered(seed=21, n=90).sample(frac=0.92, random_state=3).reset_index(drop=True)
    rng = np.random.default_rng(0)
    df["x"] = rng.normal(size=len(df)) + 0.1 * (df["year"] - 2010)
    df["y"] = df["y"] + 0.5 * df["x"] + 0.3 * df["x"] * (df["tau"] != 0)
    res = ExtendedTWFE().fit(df, "y", "year", "county", "g", covariates="x")
    d = df.copy()
    d["x_dm"] = d["x"] - d.groupby("g")["x"].transform("mean")
    terms = []
    for g_, t_ in res.params.index:
        c = f"c{g_}_{t_}"
        d[c] = ((d["g"] == g_) & (d["year"] == t_)).astype(float)
        d[c + "x"] = d[c] * d["x_dm"]
        terms += [c, c + "x"]
    fml = ("y ~ " + " + ".join(terms) + " + x + x:C(g) + x:C(year) + C(county) + C(year)")
    ols = smf.ols(fml, data=d).fit()
    for (g_, t_), att in res.params.items():
        c = f"c{g_}_{t_}"
        cell = d[c] == 1
        want = ols.params[c] + ols.params[c + "x"] * d.loc[cell, "x_dm"].mean()
        assert att == pytest.approx(want, rel=1e-8, abs=1e-10)


@pytest.mark.parametrize("vcov, se_key, df_key", [("iid", "classical_se", None),
                                                   ("HC2", "hc2_se", "dof_bm_singleton"),
                                                   ("CR2", "cr2_bm_unit_se", "dof_bm_unit")])
def test_saturated_regression_standard_errors_match_clubsandwich(vcov, se_key, df_key):
    """ExtendedTWFE(control_group='never') is lm(y ~ every cohort x event-time dummy but e = -1
    + factor(unit) + factor(time)): clubSandwich's CR2 / HC2 and their Bell-McCaffrey df for the
    cohort-4, event-time-0 cell (tests/reference/clubsandwich_cr2.py, scenario ``sa``)."""
    from reference.clubsandwich_cr2 import SA_COHORTS, SA_TARGET, SA_Y

    rows = [(8 * c + u, t, g) for c, g in enumerate(SA_COHORTS) for u in range(8)
            for t in range(1, 9)]
    d = pd.DataFrame(rows, columns=["unit", "time", "g"]).assign(y=SA_Y)
    res = ExtendedTWFE(control_group="never_treated", vcov=vcov,
                       cluster="unit" if vcov == "CR2" else None).fit(d, "y", "time", "unit", "g")
    j = list(res.params.index).index((4, 4))
    assert res.std_errors.iloc[j] == pytest.approx(SA_TARGET[se_key], rel=1e-10)
    if df_key:
        assert res.df_resid[j] == pytest.approx(SA_TARGET[df_key], rel=1e-10)
    else:
        assert res.df_resid == 320 - 75           # lm's residual df


@pytest.mark.parametrize("family, vcov, cluster", [
    ("linear", "cluster", None), ("linear", "cluster", "prefecture"), ("linear", "hetero", None),
    ("poisson", "cluster", None), ("poisson", "cluster", "prefecture"),
    ("poisson", "hetero", None)])
def test_influence_reproduces_cr1_and_hc1_standard_errors(family, vcov, cluster):
    """sqrt(diag(gram)) / n of the influence function is the CR1 / HC1 std_errors without the
    small-sample factor (ssc="none"), for the cells and every aggregation (SIMULATED data)."""
    df = _staggered(seed=5, n=90, poisson=family == "poisson")
    df["prefecture"] = df["county"] // 9            # 10 clusters
    res = ExtendedTWFE(family=family, vcov=vcov, cluster=cluster).fit(
        df, "y", "year", "county", "g")
    # the influence function carries no small-sample factor (as for every result): it
    # reproduces the CR0 / HC0 errors, i.e. the fit with ssc="none"
    raw = ExtendedTWFE(family=family, vcov=vcov, cluster=cluster, ssc="none").fit(
        df, "y", "year", "county", "g")
    assert isinstance(res.influence, InfluenceFunction)
    n_rows = {"cluster": 10 if cluster else 90, "hetero": len(df)}[vcov]
    assert res.influence.n == n_rows
    se = np.sqrt(res.influence.gram_diagonal()) / res.influence.n
    np.testing.assert_allclose(se, raw.std_errors.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(res.influence.vcov(), raw.vcov.to_numpy(), rtol=1e-8,
                               atol=1e-14)
    ratio = res.std_errors.to_numpy() / se                # the small-sample factor's root
    assert np.all(ratio > 1) and np.ptp(ratio) < 1e-9
    for kind in ("simple", "dynamic", "group", "calendar"):
        agg, agg0 = res.aggregate(kind), raw.aggregate(kind)
        np.testing.assert_allclose(agg.influence.std_errors(), agg0.std_errors.to_numpy(),
                                   rtol=1e-9)


@pytest.mark.parametrize("fe, cluster, covariates", [("cohort", None, "x"),
                                                    ("unit", "year_group", None),
                                                    ("unit", "year_group", "x")])
def test_influence_with_mundlak_effects_covariates_and_clusters_across_units(fe, cluster,
                                                                            covariates):
    """Score rows on observations when the clusters cut across units (SIMULATED data)."""
    df = _staggered(seed=6, n=90)
    df["x"] = np.random.default_rng(6).normal(size=len(df))
    df["year_group"] = df["year"] * 10 + df["county"] % 4       # not nested in units
    res = ExtendedTWFE(fe=fe, cluster=cluster).fit(df, "y", "year", "county", "g",
                                                   covariates=covariates)
    raw = ExtendedTWFE(fe=fe, cluster=cluster, ssc="none").fit(df, "y", "year", "county", "g",
                                                               covariates=covariates)
    assert res.influence.n == (90 if cluster is None else df["year_group"].nunique())
    np.testing.assert_allclose(res.influence.std_errors(), raw.std_errors.to_numpy(), rtol=1e-9)


@pytest.mark.parametrize("vcov", ["CR2", "HC2", "iid"])
def test_influence_for_cr2_hc2_iid_is_the_unscaled_cr0_hc0_one(vcov):
    """Documented exception: no score rows reproduce CR2/HC2/iid; the influence function is
    the CR0 (clusters) / HC0 (observations) one."""
    df = _staggered(seed=5, n=90)
    res = ExtendedTWFE(vcov=vcov, cluster="county" if vcov == "CR2" else None).fit(
        df, "y", "year", "county", "g")
    raw = ExtendedTWFE(vcov="cluster" if vcov == "CR2" else "hetero",
                       ssc="none").fit(df, "y", "year", "county", "g")
    np.testing.assert_allclose(res.influence.vcov(), raw.vcov.to_numpy(), rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(res.params, raw.params, rtol=1e-12)


def test_old_spellings_still_work_with_a_future_warning(mpdta):
    cols = ("lemp", "year", "countyreal", "first.treat")
    new = ExtendedTWFE(control_group="never_treated").fit(mpdta, *cols)
    for old, value in (("never", "never_treated"), ("notyet", "not_yet_treated")):
        with pytest.warns(PolicyevalFutureWarning, match=f"control_group='{old}'"):
            est = ExtendedTWFE(control_group=old)
        assert est.control_group == value
    with pytest.warns(PolicyevalFutureWarning, match="data="):
        old = ExtendedTWFE(control_group="never_treated").fit(
            df=mpdta, yname="lemp", tname="year", idname="countyreal", gname="first.treat")
    pd.testing.assert_series_equal(old.params, new.params)
