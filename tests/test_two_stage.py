"""TwoStageDiD: R did2s's README, pyfixest.did2s, the dense GMM sandwich, a known effect."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import ArgumentTypeError, ColumnNotFoundError, DataError, EstimationError

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("did2s_readme",
                                               HERE / "reference" / "did2s_readme.py")
README = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(README)
PYFIXEST = json.loads((HERE / "reference" / "did2s_pyfixest.json").read_text())
# pyfixest recovers the first-stage effects by iterative demeaning (to its convergence
# tolerance), policyeval by a direct sparse solve (checked exact against dense least squares
# below): they agree to ~3e-7 relative on the static effect, 2e-6 absolute per event time
PF_RTOL, PF_ATOL = 2e-6, 5e-6


@pytest.fixture(scope="module")
def df_het():
    return pd.read_csv(HERE / "data" / "did2s_df_het.csv.gz")


def test_r_did2s_readme_static(df_het):
    res = pe.TwoStageDiD(fe=["state", "year"], cluster="state").fit(
        df_het, "dep_var", "year", "unit", treatment="treat")
    est, se = README.STATIC
    assert abs(res.params["ATT"] - est) <= README.TOL[0]
    assert abs(res.std_errors["ATT"] - se) <= README.TOL[1]
    assert res.nobs == README.NOBS


@pytest.mark.parametrize("name, fe", [("static_state_year", ["state", "year"]),
                                      ("static_unit_year", ["unit", "year"])])
def test_pyfixest_static(df_het, name, fe):
    ref = PYFIXEST["fits"][name]
    res = pe.TwoStageDiD(fe=fe, cluster="state").fit(df_het, "dep_var", "year", "unit", gname="g")
    assert res.params["ATT"] == pytest.approx(ref["estimate"][0], rel=PF_RTOL)
    assert res.std_errors["ATT"] == pytest.approx(ref["std_error"][0], rel=PF_RTOL)


def test_pyfixest_event_study(df_het):
    ref = PYFIXEST["fits"]["event_state_year"]
    res = pe.TwoStageDiD(horizons=True, fe=["state", "year"], cluster="state").fit(
        df_het, "dep_var", "year", "unit", gname="g")
    terms = [int(t.split("::")[1]) for t in ref["terms"]]
    assert res.params.index.tolist() == terms
    np.testing.assert_allclose(res.params.to_numpy(), ref["estimate"], rtol=PF_RTOL, atol=PF_ATOL)
    np.testing.assert_allclose(res.std_errors.to_numpy(), ref["std_error"], rtol=PF_RTOL)


def test_event_study_exact_against_dense_least_squares(df_het):
    res = pe.TwoStageDiD(horizons=True, fe=["state", "year"], cluster="state").fit(
        df_het, "dep_var", "year", "unit", gname="g")
    d = df_het["treat"].to_numpy().astype(bool)
    W = np.column_stack([pd.get_dummies(df_het["state"]).to_numpy(float),
                         pd.get_dummies(df_het["year"]).to_numpy(float)[:, 1:]])
    y = df_het["dep_var"].to_numpy()
    gamma = np.linalg.lstsq(W[~d], y[~d], rcond=None)[0]
    resid = y - W @ gamma
    e = np.where(df_het["g"] > 0, df_het["year"] - df_het["g"], -999)
    means = [resid[e == k].mean() for k in res.params.index]
    np.testing.assert_allclose(res.params.to_numpy(), means, rtol=1e-9, atol=1e-12)


def _tiny_panel(seed=0, n_units=12, n_periods=6):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame([(i, 2000 + t) for i in range(n_units) for t in range(n_periods)],
                      columns=["unit", "year"])
    df["g"] = df["unit"].map(lambda i: [0, 2002, 2004][i % 3])
    df["region"] = df["unit"] % 4
    df["x"] = rng.normal(size=len(df))
    treated = (df["g"] > 0) & (df["year"] >= df["g"])
    df["y"] = (rng.normal(size=n_units)[df["unit"]] + 0.3 * (df["year"] - 2000) + 0.5 * df["x"]
               + treated * (1 + df["year"] - df["g"]) + rng.normal(0, 0.5, len(df)))
    return df, treated.to_numpy()


@pytest.mark.parametrize("fe, horizons", [(["unit", "year"], None), (["region", "year"], None),
                                          (["unit", "year"], [0, 1, 2, 3])])
def test_dense_gmm_sandwich(fe, horizons):
    """The stacked GMM sandwich with dense dummy matrices, written out."""
    df, d = _tiny_panel()
    res = pe.TwoStageDiD(horizons=horizons, fe=fe, cluster="region").fit(
        df, "y", "year", "unit", gname="g", covariates="x")
    # first-stage design: all levels of the first FE, the others minus one, then x
    cols = [pd.get_dummies(df[fe[0]]).to_numpy(float)]
    cols += [pd.get_dummies(df[c]).to_numpy(float)[:, 1:] for c in fe[1:]]
    W = np.column_stack(cols + [df["x"].to_numpy()])
    e = np.where(df["g"] > 0, df["year"] - df["g"], -99)
    Z = (d.astype(float)[:, None] if horizons is None
         else np.column_stack([(e == k).astype(float) for k in horizons]))
    y = df["y"].to_numpy()
    W0 = W * (~d)[:, None]
    gamma = np.linalg.solve(W0.T @ W0, W0.T @ y)
    beta = np.linalg.solve(Z.T @ Z, Z.T @ (y - W @ gamma))
    # moments g_i = [W0_i'(y_i - W_i gamma); Z_i'(y_i - W_i gamma - Z_i beta)]
    u = y - W @ gamma
    g = np.hstack([W0 * u[:, None], Z * (u - Z @ beta)[:, None]])
    p, k = W.shape[1], Z.shape[1]
    J = np.block([[-W0.T @ W0, np.zeros((p, k))], [-Z.T @ W, -Z.T @ Z]])
    S = np.zeros((p + k, p + k))
    for c in np.unique(df["region"]):
        s = g[df["region"].to_numpy() == c].sum(axis=0)
        S += np.outer(s, s)
    Jinv = np.linalg.inv(J)
    V = (Jinv @ S @ Jinv.T)[p:, p:]
    np.testing.assert_allclose(res.params.to_numpy(), beta, rtol=1e-10)
    np.testing.assert_allclose(res.vcov.to_numpy(), V, rtol=1e-8, atol=1e-14)
    psi = res.influence.to_dense()
    np.testing.assert_allclose(psi.T @ psi / 4**2, V, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(res.influence.vcov(), V, rtol=1e-8, atol=1e-14)


def test_point_estimates_equal_imputation():
    """With unit + period effects, stage two averages the imputed effects (BJS 2024, sec. 4)."""
    df = pd.read_csv(HERE / "data" / "df_het.csv.gz")
    two = pe.TwoStageDiD(horizons=[0, 5, 10]).fit(df, "dep_var", "year", "unit", gname="g")
    imp = pe.ImputationDiD(horizons=[0, 5, 10]).fit(df, "dep_var", "year", "unit", gname="g")
    np.testing.assert_allclose(two.params.to_numpy(), imp.params.loc[[0, 5, 10]].to_numpy(),
                               rtol=1e-9)


def test_known_heterogeneous_effect_recovered_where_twfe_is_biased():
    rng = np.random.default_rng(11)
    n, periods = 600, np.arange(2000, 2012)
    df = pd.DataFrame([(i, t) for i in range(n) for t in periods], columns=["unit", "year"])
    df["g"] = df["unit"].map(lambda i: [0, 2003, 2006, 2009][i % 4])
    e = np.where(df["g"] > 0, df["year"] - df["g"], -1)
    effect = np.where(e >= 0, 1.0 + 0.5 * e, 0.0)          # grows with exposure
    df["y"] = (rng.normal(size=n)[df["unit"]] + 0.05 * (df["year"] - 2000)
               + effect + rng.normal(0, 1, len(df)))
    truth = effect[e >= 0].mean()
    res = pe.TwoStageDiD().fit(df, "y", "year", "unit", gname="g")
    assert abs(res.params["ATT"] - truth) < 4 * res.std_errors["ATT"]
    twfe = pe.TWFE().fit(df, "y", "year", "unit", gname="g")
    assert abs(twfe.params["ATT"] - truth) > 10 * twfe.std_errors["ATT"]
    es = pe.TwoStageDiD(horizons=[-2, -1, 0, 3, 6]).fit(df, "y", "year", "unit", gname="g")
    true_es = np.array([0, 0, 1.0, 2.5, 4.0])
    assert np.all(np.abs(es.params.to_numpy() - true_es) < 4 * es.std_errors.to_numpy())
    assert "First-stage FE" in str(es.summary())


def test_bad_input():
    df, _ = _tiny_panel()
    est = pe.TwoStageDiD()
    with pytest.raises(ValueError, match="give exactly one of gname="):
        est.fit(df, "y", "year", "unit")
    with pytest.raises(ColumnNotFoundError, match="fe='county' is not a column"):
        pe.TwoStageDiD(fe=["county", "year"]).fit(df, "y", "year", "unit", gname="g")
    with pytest.raises(ArgumentTypeError, match="horizons='all' must be None, True or integers"):
        pe.TwoStageDiD(horizons="all")
    with pytest.raises(EstimationError, match=r"horizons \[40\] have no observation"):
        pe.TwoStageDiD(horizons=[0, 40]).fit(df, "y", "year", "unit", gname="g")
    with pytest.raises(ValueError, match="horizons .* need gname="):
        df["d"] = ((df["g"] > 0) & (df["year"] >= df["g"])).astype(int)
        pe.TwoStageDiD(horizons=[0]).fit(df, "y", "year", "unit", treatment="d")
    bad = df.assign(d=df["d"] * 2)
    with pytest.raises(DataError, match="treatment='d' must be 0/1"):
        est.fit(bad, "y", "year", "unit", treatment="d")
    first = df.copy()
    first.loc[first["unit"] == 1, "g"] = 2000  # treated in every period
    with pytest.raises(EstimationError, match=r"fe='unit': 1 levels \(e.g. 1\) have no untreated"):
        est.fit(first, "y", "year", "unit", gname="g")
    with pytest.raises(DataError, match="fe='region' has 2 missing values"):
        pe.TwoStageDiD(fe=["region", "year"]).fit(
            df.assign(region=df["region"].where(df.index > 1)), "y", "year", "unit", gname="g")


def test_invariant_to_row_order_and_unit_shifts():
    df, _ = _tiny_panel(seed=4, n_units=30)
    base = pe.TwoStageDiD(horizons=[0, 1]).fit(df, "y", "year", "unit", gname="g")
    shuffled = df.sample(frac=1.0, random_state=1)
    shifted = shuffled.assign(y=shuffled["y"] + 5.0 * shuffled["unit"])
    other = pe.TwoStageDiD(horizons=[0, 1]).fit(shifted, "y", "year", "unit", gname="g")
    np.testing.assert_allclose(other.params.to_numpy(), base.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(other.std_errors.to_numpy(), base.std_errors.to_numpy(), rtol=1e-8)
    assert other.extra["residualized"].index.equals(shifted.index)
    ax = base.plot()
    assert ax is not None
