"""Flexible fixed effects (``fe=``) and HC2 / CR2 standard errors with Bell-McCaffrey df.

Checks, in order of strength:

* R clubSandwich's own numbers (CR2, HC2 and their Satterthwaite df) on the published
  benchmark data in ``tests/reference/clubsandwich_cr2.py``;
* the slow obvious computation: OLS with every dummy written out, the full hat matrix,
  :math:`A_g = (I - H_{gg})^{+1/2}` and the Satterthwaite :math:`\\Omega` formed explicitly,
  on a small unbalanced weighted panel with unit and province-by-year effects;
* pyfixest 0.60.0 (``feols(... | county + province^year)``) for the absorbed point estimates
  and the iid / HC1 / CR1 / two-way standard errors;
* a simulation (SIMULATED data) with a known effect that only ``fe=[unit, region^year]``
  recovers.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from _fe_panels import simulate_staggered
from reference.clubsandwich_cr2 import ABSORBED_FE_DID, BALANCED_SMALL
from policyeval.estimators.twfe import TWFE, EventStudy
from policyeval.exceptions import ArgumentValueError, ColumnNotFoundError, EstimationError
from policyeval.inference.covariance import bias_reduced_covariance


@pytest.fixture(autouse=True)
def _quiet():
    # the reference panels are small on purpose: few-cluster / few-treated warnings are expected
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ---- R clubSandwich --------------------------------------------------------------------------

def test_cr2_and_bell_mccaffrey_df_match_clubsandwich_without_fixed_effects():
    x, y = np.array(BALANCED_SMALL["x"]), np.array(BALANCED_SMALL["y"])
    X = np.column_stack([np.ones_like(x), x])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    res = bias_reduced_covariance(X, y - X @ beta, X, clusters=np.array(BALANCED_SMALL["cluster"]))
    np.testing.assert_allclose(beta, BALANCED_SMALL["coef"], rtol=1e-12)
    np.testing.assert_allclose(res.vcov.ravel(order="F"), BALANCED_SMALL["vcov_cr2"], rtol=1e-10)
    np.testing.assert_allclose(res.df, BALANCED_SMALL["dof_bm"], rtol=1e-10)


@pytest.fixture(scope="module")
def did8():
    d = pd.DataFrame({k: ABSORBED_FE_DID[k] for k in ("unit", "period", "treated", "post", "y")})
    return d.assign(treat_post=d["treated"] * d["post"])


@pytest.mark.parametrize("fe", [None, ["unit", "period"]])
def test_twfe_cr2_by_unit_matches_clubsandwich_lm_with_dummies(did8, fe):
    res = TWFE(vcov="CR2", cluster="unit", fe=fe).fit(did8, "y", "period", "unit",
                                                      treatment="treat_post")
    ref = ABSORBED_FE_DID
    assert res.params["treat_post"] == pytest.approx(ref["coef_treat_post"], rel=1e-12)
    assert res.std_errors["treat_post"] ** 2 == pytest.approx(ref["var_cr2_treat_post"], rel=1e-10)
    assert res.df_resid[0] == pytest.approx(ref["dof_cr2"][1], rel=1e-10)
    # the t reference uses the Bell-McCaffrey df, not G - 1 = 7
    from scipy import stats
    t = ref["coef_treat_post"] / np.sqrt(ref["var_cr2_treat_post"])
    assert res.pvalues["treat_post"] == pytest.approx(2 * stats.t(6.0).sf(t), rel=1e-8)


def test_twfe_hc2_matches_sandwich_and_its_bm_df_matches_clubsandwich(did8):
    res = TWFE(vcov="HC2").fit(did8, "y", "period", "unit", treatment="treat_post")
    ref = ABSORBED_FE_DID
    assert res.std_errors["treat_post"] ** 2 == pytest.approx(ref["var_hc2_treat_post"], rel=1e-10)
    assert res.std_errors["treat_post"] ** 2 == pytest.approx(ref["var_hc2_bm_treat_post"],
                                                              rel=1e-10)
    assert res.df_resid[0] == pytest.approx(ref["dof_hc2_bm"][1], rel=1e-10)


def test_event_study_cr2_period_terms_match_clubsandwich(did8):
    # with every treated unit starting in period 2, the event-time dummies e = 1, 2 (reference
    # e = 0 ... ) are not those of the lm; instead check the period effects through a TWFE
    # with period dummies as covariates and unit effects only
    d = did8.assign(**{f"p{k}": (did8["period"] == k).astype(float) for k in (2, 3, 4)})
    res = TWFE(vcov="CR2", cluster="unit", fe=["unit"]).fit(
        d, "y", "period", "unit", treatment="treat_post", covariates=["p2", "p3", "p4"])
    full_var = np.diag(res.extra["full_vcov"].to_numpy())
    np.testing.assert_allclose(full_var[1:], ABSORBED_FE_DID["var_cr2_periods"], rtol=1e-10)
    np.testing.assert_allclose(res.extra["df_all"][1:], ABSORBED_FE_DID["dof_cr2"][9:], rtol=1e-10)


# ---- the slow obvious computation ------------------------------------------------------------

def _slow_bias_reduced(D, X, y, w, clusters, j):
    """Full dummy design, explicit hat matrix, explicit Omega. Returns (vcov, df_j).

    ``j`` is a coefficient position or a contrast vector over the coefficients of ``X``."""
    sw = np.sqrt(w)
    Z = np.column_stack([X, D]) * sw[:, None]
    ys = y * sw
    coef = np.linalg.lstsq(Z, ys, rcond=None)[0]
    e = ys - Z @ coef
    H = Z @ np.linalg.pinv(Z.T @ Z) @ Z.T
    k = X.shape[1]
    # (X'M_D X)^{-1} X'M_D = rows 0..k-1 of the pseudo-inverse of Z
    L = np.linalg.pinv(Z)[:k]
    n = len(y)
    IH = np.eye(n) - H
    groups = [np.flatnonzero(clusters == g) for g in np.unique(clusters)]
    V = np.zeros((k, k))
    ps = []
    for rows in groups:
        vals, vecs = np.linalg.eigh(IH[np.ix_(rows, rows)])
        ok = vals > 1e-10
        A = (vecs[:, ok] / np.sqrt(vals[ok])) @ vecs[:, ok].T
        u = L[:, rows] @ A @ e[rows]
        V += np.outer(u, u)
        ps.append(A @ (np.asarray(j, float) @ L[:, rows] if np.ndim(j) else L[j, rows]))
    G = len(groups)
    Om = np.array([[ps[a] @ IH[np.ix_(groups[a], groups[b])] @ ps[b] for b in range(G)]
                   for a in range(G)])
    return V, np.trace(Om) ** 2 / (Om**2).sum(), coef[:k]


@pytest.fixture(scope="module")
def small_panel():
    df = simulate_staggered(n_units=18, years=range(2001, 2007), cohorts=(2003, 2005, 0),
                            drop_share=0.15, seed=11)
    return df.assign(province=30 + (df["county"] // 2) % 3, D=df["D"].astype(float))


def _dummies(df, fe_cols):
    blocks = []
    for col in fe_cols:
        key = df[list(col)].astype(str).agg("_".join, axis=1) if isinstance(col, tuple) \
            else df[col]
        blocks.append(pd.get_dummies(key, dtype=float).to_numpy())
    return np.column_stack(blocks)


@pytest.mark.parametrize("vcov, cluster", [("CR2", "county"), ("CR2", "province"),
                                           ("CR2", "year"), ("HC2", None)])
@pytest.mark.parametrize("weighted", [False, True])
def test_bias_reduced_equals_the_textbook_formula_with_every_dummy(small_panel, vcov, cluster,
                                                                   weighted):
    df = small_panel
    est = TWFE(vcov=vcov, cluster=cluster, fe=["county", "province^year"])
    res = est.fit(df, "y", "year", "county", treatment="D", covariates="x",
                  weights="w" if weighted else None)
    D = _dummies(df, ["county", ("province", "year")])
    X = df[["D", "x"]].to_numpy(float)
    w = df["w"].to_numpy(float) if weighted else np.ones(len(df))
    cl = df[cluster].to_numpy() if cluster else np.arange(len(df))
    for j in range(2):
        V, df_j, coef = _slow_bias_reduced(D, X, df["y"].to_numpy(float), w, cl, j)
        np.testing.assert_allclose(res.extra["full_params"].to_numpy(), coef, rtol=1e-9)
        assert res.extra["df_all"][j] == pytest.approx(df_j, rel=1e-8)
    np.testing.assert_allclose(res.extra["full_vcov"].to_numpy(), V, rtol=1e-8, atol=1e-14)


def test_contrast_df_equal_the_textbook_formula(small_panel):
    """The Satterthwaite df of a linear combination (used for aggregated effects)."""
    from policyeval.estimators._fixed_effects import absorb_effects, effects_design, parse_fe
    from policyeval.estimators._fixed_effects import prepare_fe_panel
    from policyeval.inference.covariance import bias_reduced_covariance

    df = small_panel
    panel, _ = prepare_fe_panel(df, yname="y", tname="year", idname="county", vcov="CR2",
                                cluster="province", covariates="x",
                                fe=parse_fe(["county", "year"], "county", "year"))
    X = df[["D", "x"]].to_numpy(float)
    Z, _ = absorb_effects(np.column_stack([df["y"], X]), panel.fe_codes)
    beta = np.linalg.lstsq(Z[:, 1:], Z[:, 0], rcond=None)[0]
    design = effects_design(panel, X, [1], [0])     # county absorbed (nested), year dummies
    c = np.array([[0.5], [2.0]])
    res = bias_reduced_covariance(Z[:, 1:], Z[:, 0] - Z[:, 1:] @ beta, design,
                                  clusters=df["province"].to_numpy(), contrasts=c)
    _, df_c, _ = _slow_bias_reduced(_dummies(df, ["county", "year"]), X, df["y"].to_numpy(float),
                                    np.ones(len(df)), df["province"].to_numpy(), c[:, 0])
    assert res.contrast_df[0] == pytest.approx(df_c, rel=1e-8)


# ---- pyfixest: absorbed effects and the fixest conventions -----------------------------------

@pytest.fixture(scope="module")
def sim_panel():
    df = simulate_staggered(n_units=120, seed=3, drop_share=0.1)
    return df.assign(D=df["D"].astype(float))


@pytest.mark.parametrize("fe, vcov, cluster, formula, pf_vcov", [
    (["year"], "CR1", "county", "y ~ D + x | year", {"CRV1": "county"}),
    (["county", "province^year"], "CR1", "county", "y ~ D + x | county + province^year",
     {"CRV1": "county"}),
    ([("county",), ("province", "year")], "CR1", "province",
     "y ~ D + x | county + province^year", {"CRV1": "province"}),
    (["county", "province^year"], "HC1", None, "y ~ D + x | county + province^year", "hetero"),
    (["county", "province^year"], "iid", None, "y ~ D + x | county + province^year", "iid"),
    (["county", "year"], "CR1", ["county", "province"], "y ~ D + x | county + year",
     {"CRV1": "county+province"}),
])
def test_flexible_fixed_effects_match_pyfixest(sim_panel, fe, vcov, cluster, formula, pf_vcov):
    pf = pytest.importorskip("pyfixest")
    res = TWFE(vcov=vcov, cluster=cluster, fe=fe).fit(sim_panel, "y", "year", "county",
                                                      treatment="D", covariates="x")
    ref = pf.feols(formula, data=sim_panel, vcov=pf_vcov)
    # pyfixest demeans iteratively (tolerance 1e-8); policyeval solves exactly
    assert res.params["D"] == pytest.approx(ref.coef()["D"], rel=1e-9)
    assert res.std_errors["D"] == pytest.approx(ref.se()["D"], rel=1e-7)


def test_period_only_fixed_effects_equal_ols_with_year_dummies(sim_panel):
    import statsmodels.formula.api as smf

    res = TWFE(vcov="HC1", fe=["year"]).fit(sim_panel, "y", "year", "county", treatment="D")
    ols = smf.ols("y ~ D + C(year)", data=sim_panel).fit(cov_type="HC1")
    assert res.params["D"] == pytest.approx(ols.params["D"], rel=1e-10)
    assert res.std_errors["D"] == pytest.approx(ols.bse["D"], rel=1e-10)


# ---- simulation with a known effect ----------------------------------------------------------

def test_region_by_year_effects_remove_regional_shocks_that_bias_twfe():
    """SIMULATED: provinces adopt at different years and each province has its own year shocks
    that rise after adoption; only unit + province^year effects recover the true effect 1.5."""
    rng = np.random.default_rng(2024)
    rows = []
    for p in range(8):
        g = 2005 + (p % 4)                        # every province has treated and untreated units
        shock = rng.normal(0, 1, 10) + 1.5 * (np.arange(2001, 2011) >= g)
        for u in range(25):
            treated = u < 12
            a = rng.normal()
            for t in range(2001, 2011):
                d = float(treated and t >= g)
                rows.append((p * 100 + u, p, t, d, a + shock[t - 2001] + 1.5 * d
                             + rng.normal(0, 0.5)))
    df = pd.DataFrame(rows, columns=["county", "province", "year", "D", "y"])
    good = TWFE(vcov="CR2", cluster="province", fe=["county", "province^year"]).fit(
        df, "y", "year", "county", treatment="D")
    plain = TWFE().fit(df, "y", "year", "county", treatment="D")
    assert abs(good.params["D"] - 1.5) < 4 * good.std_errors["D"]
    assert abs(good.params["D"] - 1.5) < 0.1
    assert plain.params["D"] - 1.5 > 0.3          # the regional shocks load on D
    lo, hi = good.conf_int().loc["D"]
    assert lo < 1.5 < hi
    assert good.df_resid[0] < 7                    # BM df below G - 1 = 7 with 8 provinces


def test_event_study_cr2_has_one_df_per_term(sim_panel):
    res = EventStudy(window=(-3, 3), vcov="CR2", cluster="province").fit(
        sim_panel, "y", "year", "county", "first_treat")
    assert np.shape(res.df_resid) == (len(res.params),)
    assert np.all((res.df_resid > 0) & (res.df_resid < 6))
    ci = res.conf_int(0.9)
    from scipy import stats
    half = stats.t(res.df_resid).ppf(0.95) * res.std_errors.to_numpy()
    np.testing.assert_allclose(ci["conf_high"] - res.params, half, rtol=1e-12)
    assert "Bell-McCaffrey" in str(res.summary())
    assert "county + year" in str(res.summary())


# ---- bad input -------------------------------------------------------------------------------

def test_bad_fixed_effects_and_vcov_are_refused(sim_panel):
    with pytest.raises(ArgumentValueError, match="fe=\\[\\] absorbs nothing"):
        TWFE(fe=[])
    with pytest.raises(ArgumentValueError, match="same effect twice"):
        TWFE(fe=["county", "county"])
    with pytest.raises(ArgumentValueError, match="vcov='CR3'"):
        TWFE(vcov="CR3")
    with pytest.raises(ArgumentValueError, match="CR2' takes one cluster"):
        TWFE(vcov="CR2", cluster=["county", "province"])
    with pytest.raises(ColumnNotFoundError, match="region"):
        TWFE(fe=["county", "region^year"]).fit(sim_panel, "y", "year", "county", treatment="D")
    with pytest.raises(EstimationError, match="absorbed by the fixed effects county \\+ year"):
        TWFE(fe=["county", "year"]).fit(sim_panel.assign(z=sim_panel["year"] * 2.0), "y",
                                        "year", "county", treatment="D", covariates="z")
    with pytest.raises(ArgumentValueError, match="out-of-core"):
        TWFE(fe=["year"]).fit("panel.parquet", "y", "year", "county", treatment="D")


def test_hc1_and_cr1_are_the_existing_conventions(sim_panel):
    a = TWFE(vcov="CR1").fit(sim_panel, "y", "year", "county", treatment="D")
    b = TWFE(vcov="cluster").fit(sim_panel, "y", "year", "county", treatment="D")
    assert a.std_errors["D"] == b.std_errors["D"]
    c = TWFE(vcov="HC1").fit(sim_panel, "y", "year", "county", treatment="D")
    d = TWFE(vcov="hetero").fit(sim_panel, "y", "year", "county", treatment="D")
    assert c.std_errors["D"] == d.std_errors["D"]


def test_cr2_bell_mccaffrey_holds_size_where_cr1_over_rejects_with_twelve_prefectures():
    """SIMULATED Monte Carlo (seeded, 200 draws): 12 prefectures of 6 counties x 8 years, 3
    prefectures treated from 2014, true effect 0, prefecture-by-year shocks. CR1 with G - 1 df
    over-rejects a 5% test (9.5% here); CR2 with Bell-McCaffrey df stays at the nominal level
    (4.0%). This is the small-cluster case of a dozen prefectures."""
    rng = np.random.default_rng(20261207)
    P, C, T = 12, 6, 8
    pref = np.repeat(np.arange(P), C * T)
    county = np.repeat(np.arange(P * C), T)
    year = np.tile(np.arange(2010, 2010 + T), P * C)
    D = ((pref < 3) & (year >= 2014)).astype(float)
    rejections = {"CR1": 0, "CR2": 0}
    draws = 200
    for _ in range(draws):
        y = (rng.normal(0, 1, P * C)[county] + rng.normal(0, 1, (P, T))[pref, year - 2010]
             + rng.normal(0, 1, len(pref)))
        df = pd.DataFrame({"pref": pref, "county": county, "year": year, "D": D, "y": y})
        for vcov in rejections:
            res = TWFE(vcov=vcov, cluster="pref").fit(df, "y", "year", "county", treatment="D")
            rejections[vcov] += res.pvalues["D"] < 0.05
    cr1, cr2 = rejections["CR1"] / draws, rejections["CR2"] / draws
    assert cr2 <= 0.075, cr2
    assert cr1 - cr2 >= 0.03, (cr1, cr2)


def test_sun_abraham_refuses_bias_reduced_covariances():
    from policyeval.estimators.sun_abraham import SunAbraham

    with pytest.raises(ArgumentValueError, match="use ExtendedTWFE"):
        SunAbraham(vcov="CR2")


def test_results_table_names_the_cluster_and_cr2(sim_panel):
    import policyeval as pe

    res = TWFE(vcov="CR2", cluster="province", fe=["county", "province^year"]).fit(
        sim_panel, "y", "year", "county", treatment="D")
    text = str(pe.results_table([res]))
    assert "province (CR2)" in text
    assert "FE: province^year" in text
