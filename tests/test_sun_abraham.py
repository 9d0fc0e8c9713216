"""SunAbraham: R fixest's printed sunab() output, cell means by hand, OLS with
dummies, a simulation with heterogeneous effects, invariances and bad input."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import given, settings
from hypothesis import strategies as st

from _fe_panels import simulate_staggered
from policyeval.estimators.sun_abraham import SunAbraham
from policyeval.exceptions import (
    DroppedObservationsWarning,
    EstimationError,
    TreatmentTimingError,
)

HERE = Path(__file__).parent
REF = json.loads((HERE / "reference" / "fixest_twfe_sunab.json").read_text())


@pytest.fixture(scope="module")
def base_stagg():
    return pd.read_csv(HERE / "data" / "fixest_base_stagg.csv")


@pytest.fixture(scope="module")
def fit_x1(base_stagg):
    return SunAbraham().fit(base_stagg, "y", "year", "id", "year_treated", covariates="x1")


# --- R fixest's printed numbers (6 significant digits) ---------------------------------------


def test_period_effects_match_fixest_issue_287(base_stagg):
    """feols(y ~ sunab(year_treated, year) | id + year, base_stagg), printed by fixest's author."""
    res = SunAbraham().fit(base_stagg, "y", "year", "id", "year_treated")
    ref = pd.DataFrame(REF["base_stagg_sunab_periods"]["rows"]).set_index("event_time")
    got = res.to_frame().set_index("event_time").loc[ref.index]
    np.testing.assert_allclose(got["estimate"], ref["estimate"], atol=5e-7)
    np.testing.assert_allclose(got["std_error"], ref["std_error"], atol=5e-7)
    np.testing.assert_allclose(got["statistic"], ref["t_value"], atol=5e-7)
    np.testing.assert_allclose(got["p_value"], ref["p_value"], atol=5e-7)
    assert list(res.params.index) == [*range(-9, -1), *range(0, 9)]
    assert res.nobs == 950 and res.n_units == 95 and res.df_resid == 94


def test_att_covariate_and_cohort_cells_match_fixest_printout(fit_x1):
    """feols(y ~ x1 + sunab(year_treated, year) | id + year, base_stagg); summary(agg='att')."""
    ref = REF["base_stagg_sunab_x1"]
    x1 = fit_x1.extra["covariates"].loc["x1"]
    assert x1["estimate"] == pytest.approx(ref["x1"]["estimate"], abs=5e-7)
    assert x1["std_error"] == pytest.approx(ref["x1"]["std_error"], abs=5e-7)
    att = fit_x1.aggregate("simple").to_frame().iloc[0]
    assert att["estimate"] == pytest.approx(ref["att"]["estimate"], abs=5e-7)
    assert att["std_error"] == pytest.approx(ref["att"]["std_error"], abs=5e-7)
    assert att["statistic"] == pytest.approx(ref["att"]["t_value"], abs=5e-7)
    assert att["p_value"] == pytest.approx(ref["att"]["p_value"], rel=5e-4)
    cells = fit_x1.cohort_effects.set_index(["cohort", "event_time"])
    printed = pd.DataFrame(ref["pre_period_cohort_cells"]).set_index(["cohort", "event_time"])
    assert len(printed) == 36
    np.testing.assert_allclose(cells.loc[printed.index, "estimate"], printed["estimate"],
                               atol=5e-7)
    np.testing.assert_allclose(cells.loc[printed.index, "std_error"], printed["std_error"],
                               atol=5e-7)


def test_cohort_effects_match_pyfixest_saturated_event_study(base_stagg):
    """Reference: pyfixest 0.60 SaturatedEventStudy (feols of y on i(rel_time, cohort, ref=-1)
    | id + year, clustered by id); its aggregation is not used (beta in that release)."""
    pytest.importorskip("pyfixest")
    from pyfixest.did.saturated_twfe import SaturatedEventStudy

    df = base_stagg.assign(g=np.where(base_stagg["year_treated"] > 10, 0,
                                      base_stagg["year_treated"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sat = SaturatedEventStudy(df, "y", "id", "year", "g", cluster="id")
        sat.estimate()
        ref = sat.tidy()
    # coefficient names look like "rel_time::-9.0:first_treated_period::10"
    keys = [tuple(int(float(v)) for v in re.findall(r"::(-?[\d.]+)", n))[::-1]
            for n in ref.index]
    ref.index = pd.MultiIndex.from_tuples(keys, names=["cohort", "event_time"])
    got = SunAbraham().fit(base_stagg, "y", "year", "id", "year_treated").cohort_effects
    got = got.set_index(["cohort", "event_time"])
    assert len(got) == len(ref) == 81
    np.testing.assert_allclose(got["estimate"], ref.loc[got.index, "Estimate"], rtol=1e-8)
    np.testing.assert_allclose(got["std_error"], ref.loc[got.index, "Std. Error"], rtol=1e-8)


# --- the slow obvious computations -------------------------------------------------------------


def test_cohort_effects_are_differences_of_cell_means_in_a_balanced_panel():
    df = simulate_staggered(n_units=80, seed=4,
                            effect=lambda g, e: 1.0 + 0.3 * e + 0.1 * (g - 2004))
    res = SunAbraham().fit(df, "y", "year", "county", "first_treat")
    means = df.groupby(["first_treat", "year"])["y"].mean()
    for (g, e), est in res.cohort_effects.set_index(["cohort", "event_time"])["estimate"].items():
        hand = (means[g, g + e] - means[g, g - 1]) - (means[0, g + e] - means[0, g - 1])
        assert est == pytest.approx(hand, abs=1e-10)


def test_sun_abraham_equals_ols_with_interaction_dummies_and_delta_method():
    df = simulate_staggered(n_units=60, seed=8, drop_share=0.1,
                            effect=lambda g, e: 1.0 + 0.2 * e)
    res = SunAbraham(ssc="full").fit(df, "y", "year", "county", "first_treat", covariates="x")
    cells = res.cohort_effects
    data = df.copy()
    names = []
    for g, e in zip(cells["cohort"], cells["event_time"]):
        name = f"c{g}_e{e + 20}"
        data[name] = ((data.first_treat == g) & (data.year - data.first_treat == e)).astype(float)
        names.append(name)
    ols = smf.ols("y ~ " + " + ".join(names) + " + x + C(county) + C(year)", data).fit(
        cov_type="cluster", cov_kwds={"groups": data["county"], "use_correction": True})
    np.testing.assert_allclose(cells["estimate"], ols.params[names], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cells["std_error"], ols.bse[names], rtol=1e-9)
    # event-time aggregate: cell sizes as weights, variance w'Vw, computed by hand
    V = ols.cov_params().loc[names, names].to_numpy()
    for e in (-3, 0, 4):
        sel = (cells["event_time"] == e).to_numpy()
        n_cell = np.array([data[n].sum() for n in names])
        w = np.where(sel, n_cell, 0.0) / n_cell[sel].sum()
        assert res.params[e] == pytest.approx(w @ ols.params[names].to_numpy(), rel=1e-9)
        assert res.std_errors[e] == pytest.approx(np.sqrt(w @ V @ w), rel=1e-9)


def test_last_cohort_control_equals_recoded_never_treated_fit():
    df = simulate_staggered(n_units=90, cohorts=(2004, 2006, 2009), seed=6)
    with pytest.warns(DroppedObservationsWarning, match="dropped 180 rows from period 2009 on"):
        last = SunAbraham(control_group="last_treated").fit(df, "y", "year", "county", "first_treat")
    manual = df.query("year < 2009").assign(
        first_treat=lambda d: d["first_treat"].where(d["first_treat"] != 2009, 0))
    never = SunAbraham().fit(manual, "y", "year", "county", "first_treat")
    pd.testing.assert_series_equal(last.params, never.params, rtol=1e-10)
    pd.testing.assert_series_equal(last.std_errors, never.std_errors, rtol=1e-10)
    # the pre-0.2 spelling, fit(control_cohort="last"), still works for one release
    with pytest.warns(FutureWarning, match=r"control_cohort='last'\) is now SunAbraham\(control_group="
                                           "'last_treated'"):
        old = SunAbraham().fit(df, "y", "year", "county", "first_treat", control_cohort="last")
    pd.testing.assert_series_equal(old.params, last.params)


def test_weights_enter_regression_and_cohort_shares():
    df = simulate_staggered(n_units=60, seed=9)
    res = SunAbraham(ssc="full").fit(df, "y", "year", "county", "first_treat", weights="w")
    cells = res.cohort_effects
    data = df.copy()
    names = []
    for g, e in zip(cells["cohort"], cells["event_time"]):
        name = f"c{g}_e{e + 20}"
        data[name] = ((data.first_treat == g) & (data.year - data.first_treat == e)).astype(float)
        names.append(name)
    wls = smf.wls("y ~ " + " + ".join(names) + " + C(county) + C(year)", data,
                  weights=data["w"]).fit()
    np.testing.assert_allclose(cells["estimate"], wls.params[names], rtol=1e-9)
    sel = (cells["event_time"] == 2).to_numpy()
    wsum = np.array([data.loc[data[n] == 1, "w"].sum() for n in names])
    np.testing.assert_allclose(cells["weight"], wsum, rtol=1e-12)
    share = np.where(sel, wsum, 0) / wsum[sel].sum()
    assert res.params[2] == pytest.approx(share @ wls.params[names].to_numpy(), rel=1e-9)


# --- simulation with a known heterogeneous effect --------------------------------------------


def test_heterogeneous_dynamic_effects_are_recovered():
    def effect(g, e):
        return (1.0 + 0.5 * e) * (1.5 if g == 2004 else 0.7)

    df = simulate_staggered(n_units=900, seed=21, effect=effect, noise=0.5)
    res = SunAbraham().fit(df, "y", "year", "county", "first_treat", covariates="x")
    treated = df[(df.first_treat > 0)]
    truth = (treated.assign(e=treated.year - treated.first_treat)
             .query("e >= 0").groupby("e")["tau"].mean())
    z = (res.params.loc[truth.index] - truth) / res.std_errors.loc[truth.index]
    assert np.all(np.abs(z) < 4), z
    pre = res.params[res.params.index < -1] / res.std_errors[res.params.index < -1]
    assert np.all(np.abs(pre) < 4)
    att = res.aggregate("simple")
    true_att = treated.query("year >= first_treat")["tau"].mean()
    assert abs(att.params["ATT"] - true_att) < 4 * att.std_errors["ATT"]


# --- invariances (hypothesis) ------------------------------------------------------------------


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 50.0))
def test_sun_abraham_invariances(seed, scale):
    df = simulate_staggered(n_units=32, seed=seed)
    base = SunAbraham().fit(df, "y", "year", "county", "first_treat")
    rng = np.random.default_rng(seed)
    relabel = dict(zip(df["county"].unique(), rng.permutation(df["county"].nunique()) + 10))
    shuffled = df.sample(frac=1.0, random_state=seed).assign(
        county=lambda d: d["county"].map(relabel))
    other = SunAbraham().fit(shuffled, "y", "year", "county", "first_treat")
    pd.testing.assert_series_equal(other.params, base.params, rtol=1e-9, atol=1e-12)
    pd.testing.assert_series_equal(other.std_errors, base.std_errors, rtol=1e-9)
    scaled = SunAbraham().fit(df.assign(y=scale * df["y"]), "y", "year", "county",
                              "first_treat")
    np.testing.assert_allclose(scaled.params, scale * base.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(scaled.std_errors, scale * base.std_errors, rtol=1e-8)


# --- bad input -------------------------------------------------------------------------------


def test_no_never_treated_units_is_an_error():
    df = simulate_staggered(n_units=30, cohorts=(2004, 2006, 2008), seed=1)
    with pytest.raises(EstimationError, match=r"gname='first_treat': no never-treated unit .* "
                                              r"use control_group='last_treated'"):
        SunAbraham().fit(df, "y", "year", "county", "first_treat")
    one = df.query("first_treat == 2004 or first_treat == 2006").assign(
        first_treat=2004)
    with pytest.raises(EstimationError, match="control_group='last_treated' needs at least two "
                                              "treated cohorts; found 2004"):
        SunAbraham(control_group="last_treated").fit(one, "y", "year", "county", "first_treat")
    with pytest.raises(ValueError, match="control_group='first' must be"):
        SunAbraham(control_group="first")


def test_always_treated_units_are_dropped_with_a_warning():
    df = simulate_staggered(n_units=40, seed=2)
    df.loc[df["county"] == 320001, "first_treat"] = 1999
    with pytest.warns(DroppedObservationsWarning, match=r"dropped 10 rows of 1 units treated "
                                                        r"in every period .*320001"):
        res = SunAbraham().fit(df, "y", "year", "county", "first_treat")
    assert res.n_units == 39


def test_gname_varying_within_unit_is_rejected():
    df = simulate_staggered(n_units=20, seed=2)
    df.loc[(df["county"] == 320002) & (df["year"] == 2010), "first_treat"] = 2007
    with pytest.raises(TreatmentTimingError,
                       match=r"gname='first_treat' varies within idname='county' for 1 units "
                             r"\(e\.g\. 320002\)"):
        SunAbraham().fit(df, "y", "year", "county", "first_treat")


# --- result contract ----------------------------------------------------------------------------


def test_aggregations_and_plot(fit_x1):
    import matplotlib

    matplotlib.use("Agg")
    cohort = fit_x1.aggregate("group")
    assert list(cohort.params.index) == list(range(2, 11))
    period = fit_x1.aggregate("dynamic")
    pd.testing.assert_series_equal(period.params, fit_x1.params, check_names=False)
    with pytest.raises(ValueError, match="kind='calendar' must be"):
        fit_x1.aggregate("calendar")
    # the names used before 0.2 still work for one release, with a FutureWarning
    with pytest.warns(FutureWarning, match="kind='cohort' is now called 'group'"):
        old = fit_x1.aggregate("cohort")
    pd.testing.assert_series_equal(old.params, cohort.params)
    with pytest.warns(FutureWarning, match="'att' is now called 'simple'"):
        assert fit_x1.aggregate("att").params.index.tolist() == ["ATT"]
    assert fit_x1.extra["reference_period"] == -1
    assert "Sun & Abraham (2021) results" in str(fit_x1.summary())
    ax = fit_x1.plot()
    assert ax.get_xlabel() == "event_time"


def test_influence_function_carries_through_aggregation():
    df = simulate_staggered(n_units=60, seed=12)
    res = SunAbraham(ssc="none").fit(df, "y", "year", "county", "first_treat")
    for agg in (res, res.aggregate("simple"), res.aggregate("group")):
        psi = agg.influence.to_dense()
        np.testing.assert_allclose(psi.T @ psi / 60**2, agg.vcov.to_numpy(), rtol=1e-10)
