"""TWFE and EventStudy: R fixest's own numbers, pyfixest, OLS with dummies,
linearmodels, a simulation with a known effect, invariances and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from _fe_panels import simulate_staggered
from policyeval.estimators.twfe import TWFE, EventStudy
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
REF = json.loads((HERE / "reference" / "fixest_twfe_sunab.json").read_text())


@pytest.fixture(scope="module")
def base_did():
    df = pd.read_csv(HERE / "data" / "fixest_base_did.csv")
    # fixest's i(period, treat, 5): all treated units start at period 6
    return df.assign(g=np.where(df["treat"] == 1, 6, 0))


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(seed=11)


# --- R fixest's own numbers ------------------------------------------------------------------


@pytest.mark.parametrize("key", ["base_did_event_study", "base_did_event_study_log_subset"])
def test_event_study_reproduces_fixest_stored_output(base_did, key):
    """fixest feols(y ~ x1 + i(period, treat, 5) | id + period, vcov='cluster'), values
    stored by ggfixest's tests with dput (provenance in the JSON)."""
    ref = REF[key]
    df = base_did
    if key.endswith("log_subset"):
        df = df.loc[df["y"] >= 0].assign(y=lambda d: np.log(d["y"]))
    res = EventStudy(reference=-1, window=None).fit(df, "y", "period", "id", "g", covariates="x1")
    keep = np.asarray(ref["period"]) != 5
    expected_e = np.asarray(ref["period"])[keep] - 6
    assert list(res.params.index) == list(expected_e)
    np.testing.assert_allclose(res.params, np.asarray(ref["estimate"])[keep], rtol=1e-9)
    ci = res.conf_int(0.95)
    # On the unbalanced subset fixest demeans iteratively to its default fixef.tol = 1e-6, which
    # moves its interval bounds by up to 3e-8 (relative); our transform is exact, and agrees
    # with pyfixest run at fixef_tol=1e-14 to 1e-10 (test below).
    rtol = 1e-7 if key.endswith("log_subset") else 1e-9
    np.testing.assert_allclose(ci["conf_low"], np.asarray(ref["ci_low"])[keep], rtol=rtol)
    np.testing.assert_allclose(ci["conf_high"], np.asarray(ref["ci_high"])[keep], rtol=rtol)
    assert res.df_resid == res.extra["n_clusters"][0] - 1
    assert res.extra["reference_period"] == -1


def test_static_twfe_equals_event_study_regression_in_fixest_form(base_did):
    # The same fixest regression written with explicit treat x period dummies through TWFE's
    # covariates: the treatment column is one of the dummies.
    df = base_did.copy()
    names = []
    for p in range(1, 11):
        if p != 5:
            df[f"p{p}"] = ((df["period"] == p) & (df["treat"] == 1)).astype(float)
            names.append(f"p{p}")
    res = TWFE(allow_switching_off=True).fit(df, "y", "period", "id", treatment="p6",
                                             covariates=[n for n in names if n != "p6"] + ["x1"])
    ref = REF["base_did_event_study"]
    assert res.params["ATT"] == pytest.approx(ref["estimate"][5], rel=1e-9)
    assert res.conf_int()["conf_low"]["ATT"] == pytest.approx(ref["ci_low"][5], rel=1e-9)


# --- pyfixest (whose test suite checks against R fixest) at 1e-8 ----------------------------

@pytest.fixture(scope="module")
def castle():
    causaldata = pytest.importorskip("causaldata")
    return causaldata.castle.load_pandas().data


@pytest.mark.parametrize(
    "vcov_kw, pf_vcov, ssc",
    [
        ({}, {"CRV1": "sid"}, "fixest"),
        ({"ssc": "full"}, {"CRV1": "sid"}, "full"),
        ({"vcov": "hetero"}, "hetero", "fixest"),
        ({"vcov": "iid"}, "iid", "fixest"),
        ({"cluster": ["sid", "year"]}, {"CRV1": "sid+year"}, "fixest"),
    ],
)
def test_twfe_matches_pyfixest_on_castle(castle, vcov_kw, pf_vcov, ssc):
    """Reference: pyfixest 0.60 feols (its test suite checks against R fixest), same data."""
    pf = pytest.importorskip("pyfixest")
    kw = {"k_fixef": "full"} if ssc == "full" else {}
    ref = pf.feols("l_homicide ~ post + l_police + l_income | sid + year", data=castle,
                   vcov=pf_vcov, ssc=pf.ssc(**kw))
    res = TWFE(**vcov_kw).fit(castle, "l_homicide", "year", "sid", treatment="post",
                              covariates=["l_police", "l_income"])
    np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.std_errors.to_numpy(), ref.se().to_numpy(), rtol=1e-8)
    np.testing.assert_allclose(res.pvalues.to_numpy(), ref.pvalue().to_numpy(), rtol=1e-6)


def test_unbalanced_event_study_matches_pyfixest_at_tight_tolerance(base_did):
    pf = pytest.importorskip("pyfixest")
    df = base_did.loc[base_did["y"] >= 0].assign(y=lambda d: np.log(d["y"]))
    ref = pf.feols("y ~ x1 + i(period, treat, ref=5) | id + period", data=df,
                   vcov={"CRV1": "id"}, demeaner=pf.MapDemeaner(fixef_tol=1e-14))
    res = EventStudy(window=None).fit(df, "y", "period", "id", "g", covariates="x1")
    np.testing.assert_allclose(res.params.to_numpy(), ref.coef().to_numpy()[1:], rtol=1e-10)
    np.testing.assert_allclose(res.std_errors.to_numpy(), ref.se().to_numpy()[1:], rtol=1e-10)


def test_weighted_twfe_matches_pyfixest(castle):
    pf = pytest.importorskip("pyfixest")
    # popwt is stored as float32; pyfixest (and statsmodels) take sqrt(w) in float32, which moves
    # the estimate by 3e-8, so both sides get the same float64 weights
    castle = castle.assign(popwt=castle["popwt"].astype("float64"))
    ref = pf.feols("l_homicide ~ post | sid + year", data=castle, vcov={"CRV1": "sid"},
                   weights="popwt")
    res = TWFE().fit(castle, "l_homicide", "year", "sid", treatment="post", weights="popwt")
    assert res.params["ATT"] == pytest.approx(ref.coef()["post"], rel=1e-8)
    assert res.std_errors["ATT"] == pytest.approx(ref.se()["post"], rel=1e-8)


# --- the slow obvious computation ------------------------------------------------------------


def test_within_estimator_equals_ols_with_dummies_on_unbalanced_weighted_panel():
    df = simulate_staggered(n_units=60, drop_share=0.15, seed=3)
    res = TWFE(ssc="full").fit(df, "y", "year", "county", gname="first_treat", covariates="x",
                               weights="w")
    df = df.assign(treated=((df.first_treat > 0) & (df.year >= df.first_treat)).astype(float))
    ols = smf.wls("y ~ treated + x + C(county) + C(year)", df, weights=df["w"]).fit(
        cov_type="cluster", cov_kwds={"groups": df["county"], "use_correction": True})
    np.testing.assert_allclose(res.params[["ATT", "x"]], ols.params[["treated", "x"]],
                               rtol=1e-10)
    # ssc="full" counts every dummy, exactly what statsmodels' correction does
    np.testing.assert_allclose(res.std_errors[["ATT", "x"]], ols.bse[["treated", "x"]],
                               rtol=1e-10)
    # fixest's default only rescales K: sqrt((n - K_full) / (n - K_nested))
    fx = TWFE().fit(df, "y", "year", "county", gname="first_treat", covariates="x", weights="w")
    n, k_full, k_nested = len(df), len(ols.params), 2 + df["year"].nunique()
    np.testing.assert_allclose(fx.std_errors["ATT"],
                               ols.bse["treated"] * np.sqrt((n - k_full) / (n - k_nested)),
                               rtol=1e-10)


def test_twfe_matches_linearmodels_panelols(castle):
    from linearmodels import PanelOLS

    data = castle.set_index(["sid", "year"])
    lm = PanelOLS(data["l_homicide"], data[["post"]], entity_effects=True,
                  time_effects=True).fit(cov_type="clustered", cluster_entity=True,
                                         debiased=True, group_debias=True)
    res = TWFE(ssc="full").fit(castle, "l_homicide", "year", "sid", treatment="post")
    assert res.params["ATT"] == pytest.approx(lm.params["post"], rel=1e-10)
    assert res.std_errors["ATT"] == pytest.approx(lm.std_errors["post"], rel=1e-10)


def test_binned_event_study_equals_ols_with_clipped_dummies():
    panel = simulate_staggered(n_units=48, seed=13)
    res = EventStudy(window=(-3, 2), ssc="full").fit(panel, "y", "year", "county",
                                                     "first_treat", covariates="x")
    df = panel.copy()
    e = np.where(df.first_treat > 0, np.clip(df.year - df.first_treat, -3, 2), -99)
    terms = []
    for k in (-3, -2, 0, 1, 2):
        df[f"e{k + 10}"] = (e == k).astype(float)
        terms.append(f"e{k + 10}")
    ols = smf.ols("y ~ " + " + ".join(terms) + " + x + C(county) + C(year)", df).fit(
        cov_type="cluster", cov_kwds={"groups": df["county"], "use_correction": True})
    np.testing.assert_allclose(res.params, ols.params[terms], rtol=1e-10)
    np.testing.assert_allclose(res.std_errors, ols.bse[terms], rtol=1e-10)
    assert res.extra["binned"] == {-3: "<= -3", 2: ">= 2"}
    assert res.extra["covariates"].loc["x", "estimate"] == pytest.approx(ols.params["x"], rel=1e-10)


# --- simulation with a known effect ----------------------------------------------------------


def test_homogeneous_effect_is_recovered():
    df = simulate_staggered(n_units=600, seed=5, effect=lambda g, e: 2.0)
    res = TWFE().fit(df, "y", "year", "county", gname="first_treat", covariates="x")
    est, se = res.params["ATT"], res.std_errors["ATT"]
    assert abs(est - 2.0) < 4 * se and se < 0.1
    assert res.params["x"] == pytest.approx(0.5, abs=4 * res.std_errors["x"])
    es = EventStudy(window=(-4, 4)).fit(df, "y", "year", "county", "first_treat",
                                        covariates="x")
    z = (es.params - np.where(es.params.index >= 0, 2.0, 0.0)) / es.std_errors
    assert np.all(np.abs(z) < 4)


# --- invariances (hypothesis) ----------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 50.0), shift=st.floats(-5, 5))
def test_twfe_invariances(seed, scale, shift):
    df = simulate_staggered(n_units=24, seed=seed, drop_share=0.1)
    base = TWFE().fit(df, "y", "year", "county", gname="first_treat", covariates="x")
    rng = np.random.default_rng(seed)
    shuffled = df.sample(frac=1.0, random_state=seed)
    # string ids exercise pandas' string dtype path
    relabel = dict(zip(df["county"].unique(),
                       [f"county-{k}" for k in rng.permutation(df["county"].nunique())]))
    shuffled = shuffled.assign(county=shuffled["county"].map(relabel))
    other = TWFE().fit(shuffled, "y", "year", "county", gname="first_treat", covariates="x")
    np.testing.assert_allclose(other.params, base.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(other.std_errors, base.std_errors, rtol=1e-9)
    unit_effect = df["county"].map(dict(zip(df["county"].unique(),
                                            rng.normal(size=df["county"].nunique()))))
    scaled = df.assign(y=scale * df["y"] + shift * unit_effect)
    res = TWFE().fit(scaled, "y", "year", "county", gname="first_treat", covariates="x")
    np.testing.assert_allclose(res.params, scale * base.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.std_errors, scale * base.std_errors, rtol=1e-8)


# --- bad input ---------------------------------------------------------------------------------


def test_treatment_switching_off_is_rejected(panel):
    df = panel.copy()
    first = df.index[(df["county"] == 320000) & (df["year"] == 2009)]
    df.loc[first, "D"] = 0  # unit 320000 (cohort 2004) is untreated again in 2009
    with pytest.raises(TreatmentTimingError,
                       match=r"treatment='D' switches off .* for 1 units \(e\.g\. 320000\)"):
        TWFE().fit(df, "y", "year", "county", treatment="D")
    res = TWFE(allow_switching_off=True).fit(df, "y", "year", "county", treatment="D")
    assert np.isfinite(res.params["ATT"])


def test_non_integer_time_is_rejected(panel):
    df = panel.assign(year=panel["year"] + 0.5 * (panel["county"] == 320003))
    with pytest.raises(DataError, match=r"tname='year' must hold integer periods; found "
                                        r"non-integer values .* for units 320003"):
        TWFE().fit(df, "y", "year", "county", gname="first_treat")
    with pytest.raises(DataError, match="tname='year' must hold integer periods"):
        EventStudy().fit(panel.assign(year=panel["year"].astype(str) + "y"), "y", "year",
                         "county", "first_treat")


def test_gname_varying_within_unit_is_rejected(panel):
    df = panel.copy()
    df.loc[(df["county"].isin([320001, 320005])) & (df["year"] == 2003), "first_treat"] = 2009
    with pytest.raises(TreatmentTimingError,
                       match=r"gname='first_treat' varies within idname='county' for 2 units "
                             r"\(e\.g\. 320001, 320005\); treatment timing must be constant"):
        EventStudy().fit(df, "y", "year", "county", "first_treat")


def test_missing_columns_are_named(panel):
    with pytest.raises(ColumnNotFoundError, match="cluster='prefecture' is not a column"):
        TWFE(cluster="prefecture").fit(panel, "y", "year", "county", gname="first_treat")
    with pytest.raises(ColumnNotFoundError, match="covariates='gdp' is not a column"):
        TWFE().fit(panel, "y", "year", "county", gname="first_treat", covariates=["gdp"])


def test_other_bad_inputs(panel):
    with pytest.raises(ValueError, match="give exactly one of treatment="):
        TWFE().fit(panel, "y", "year", "county", treatment="D", gname="first_treat")
    with pytest.raises(DataError, match=r"treatment='x' must be 0/1"):
        TWFE().fit(panel, "y", "year", "county", treatment="x")
    dup = pd.concat([panel, panel.iloc[[0]]])
    with pytest.raises(DuplicateObservationError,
                       match=r"2 rows share an \(idname='county', tname='year'\) pair in 1 units "
                             r"\(e\.g\. 320000\): 1 \(county, year\) pairs appear more than once "
                             r"\(e\.g\. \(320000, 20\d\d\)\)"):
        TWFE().fit(dup, "y", "year", "county", gname="first_treat")
    # a time-invariant covariate is absorbed by the unit effects
    with pytest.raises(EstimationError, match=r"absorbed by the unit and period fixed effects.*"
                                              r"province"):
        TWFE().fit(panel, "y", "year", "county", gname="first_treat", covariates="province")
    with pytest.raises(ValueError, match="cluster='province' was given but vcov='hetero'"):
        TWFE(vcov="hetero", cluster="province")
    with pytest.raises(ValueError, match=r"reference=-6 lies outside window=\(-5, 5\)"):
        EventStudy(reference=-6)


def test_missing_values_are_dropped_with_a_warning(panel):
    df = panel.copy()
    df.loc[[3, 4, 50], "y"] = np.nan
    with pytest.warns(DroppedObservationsWarning, match=r"dropped 3 of 2400 rows with missing "
                                                        r"values in 'y' \(3\)"):
        res = TWFE().fit(df, "y", "year", "county", gname="first_treat")
    assert res.nobs == 2397


def test_always_treated_units_trigger_a_warning(panel):
    df = panel.assign(first_treat=panel["first_treat"].where(panel["county"] != 320003, 2001))
    with pytest.warns(EstimationWarning, match=r"1 units are treated in every period .*320003"):
        TWFE().fit(df, "y", "year", "county", gname="first_treat")


def test_event_study_without_never_treated_reports_collinear_terms():
    # no unit stays untreated through 2010: the fully dynamic specification is not identified
    df = simulate_staggered(n_units=60, cohorts=(2004, 2006, 2008, 2010), seed=2)
    # rank deficiency 2: two event times named (which two depends on the pivoting)
    with pytest.raises(EstimationError, match=r"collinear given the unit and period fixed "
                                              r"effects; cannot separate -?\d, -?\d from"):
        EventStudy(window=None).fit(df, "y", "year", "county", "first_treat")
    res = EventStudy(reference=(-1, -5), window=(-5, 5)).fit(df, "y", "year", "county",
                                                             "first_treat")
    assert list(res.params.index) == [-4, -3, -2, 0, 1, 2, 3, 4, 5]
    assert res.extra["references"] == [-1, -5]
    with pytest.raises(EstimationError, match=r"reference=\[-9\] is not observed"):
        EventStudy(reference=-9, window=None).fit(df.query("year >= 2003"), "y", "year",
                                                  "county", "first_treat")


def test_unbinned_window_drops_rows_with_a_warning(panel):
    with pytest.warns(DroppedObservationsWarning, match=r"event time outside window=\(-2, 2\)"):
        res = EventStudy(window=(-2, 2), bin_endpoints=False).fit(panel, "y", "year", "county",
                                                                  "first_treat")
    assert list(res.params.index) == [-2, 0, 1, 2]
    assert res.extra["binned"] == {}


# --- result contract ----------------------------------------------------------------------------


def test_result_contract_and_plot(panel):
    import matplotlib

    matplotlib.use("Agg")
    res = EventStudy(window=(-3, 3)).fit(panel, "y", "year", "county", "first_treat")
    frame = res.to_frame()
    assert list(frame.columns[:4]) == ["event_time", "estimate", "std_error", "statistic"]
    assert res.nobs == 2400 and res.n_units == 240
    crit = stats.t(res.df_resid).ppf(0.975)
    np.testing.assert_allclose(frame["conf_high"] - frame["estimate"], crit * frame["std_error"])
    text = str(res.summary())
    assert "clustered (county: 240)" in text and "fixef_k='nested'" in text
    assert "<table>" in res._repr_html_()
    assert "\\begin{tabular}" in res.summary().as_latex()
    ax = res.plot()
    assert any("reference period (-1)" in t.get_text() for t in ax.get_legend().get_texts())


def test_influence_function_reproduces_the_raw_unit_clustered_covariance(panel):
    res = TWFE(ssc="none").fit(panel, "y", "year", "county", gname="first_treat",
                               covariates="x")
    psi = res.influence.to_dense()
    assert psi.shape == (240, 2)
    np.testing.assert_allclose(psi.T @ psi / 240**2, res.vcov.to_numpy(), rtol=1e-10)


def test_headline_term_is_att_and_old_names_warn():
    """Issue 12: the treatment effect is "ATT" whatever the input; the names used before 0.2
    (the treatment column, or "treated") still answer for one release, with a FutureWarning."""
    df = simulate_staggered(n_units=40, seed=5)
    res = TWFE().fit(df, "y", "year", "county", gname="first_treat")
    assert res.params.index[0] == "ATT"
    with pytest.warns(FutureWarning, match="term 'treated' of TWFE is now called 'ATT'"):
        old = res.params["treated"]
    assert old == res.params["ATT"]
    with pytest.warns(FutureWarning, match="now called 'ATT'"):
        assert res.pvalues["treated"] == res.pvalues["ATT"]
    df = df.assign(D=((df.first_treat > 0) & (df.year >= df.first_treat)).astype(int))
    res_d = TWFE().fit(df, "y", "year", "county", treatment="D")
    assert res_d.params["ATT"] == pytest.approx(res.params["ATT"], rel=1e-12)
    with pytest.warns(FutureWarning, match="term 'D'"):
        assert res_d.std_errors["D"] == res_d.std_errors["ATT"]
    with pytest.raises(KeyError):
        res.params["no such term"]
