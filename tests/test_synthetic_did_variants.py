"""SyntheticDiD variants and standard errors against R synthdid.

* ``method="difp"`` (Doudchenko-Imbens de-meaned synthetic control) and the ridge-regularised
  ``sc_reg`` / ``difp_reg`` variants against Table 1 of synthdid's paper-results article;
* the exact (all-permutations) placebo distribution on Proposition 99 against the published
  placebo standard errors, allowing for the Monte Carlo error of R's 200 draws;
* R synthdid 0.0.9's ATT, jackknife SE and placebo SE (from R's own permutations) on a small
  simulated panel, as published by diff-diff;
* the slow obvious computation of difp: an exact, certified QP for the unit weights;
* a simulation with a known effect.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _reference_solvers import simplex_qp

from policyeval.estimators._synthetic_panel import prepare_block
from policyeval.estimators.synthetic import SyntheticDiD, _sdid_core, _sum_normalize
from policyeval.exceptions import ArgumentValueError

HERE = Path(__file__).parent
ARGS = dict(yname="PacksPerCapita", tname="Year", idname="State", treatment="treated")
ETA_REG = (1 * 12) ** 0.25  # synthdid's default (N1 T1)^(1/4) on Prop 99


def _module(name):
    spec = importlib.util.spec_from_file_location(name, HERE / "reference" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prop99_ref = _module("synthdid_prop99")
parity = _module("synthdid_r_parity")

VARIANTS = {  # name in synthdid's Table 1 -> (method, eta_omega)
    "did": ("did", None), "sc": ("sc", None), "sdid": ("sdid", None), "difp": ("difp", None),
    "sc_reg": ("sc", ETA_REG), "difp_reg": ("difp", ETA_REG),
}


def att(res) -> float:
    """Headline estimate (``ATT`` under the standard result contract, ``att`` before it)."""
    return float(res.params["ATT"] if "ATT" in res.params.index else res.params["att"])


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(HERE / "data" / "california_prop99.csv")


@pytest.fixture(scope="module")
def fits(prop99):
    return {name: SyntheticDiD(method=m, eta_omega=eta, se_method=None).fit(prop99, **ARGS)
            for name, (m, eta) in VARIANTS.items()}


# --- reference: synthdid paper-results Table 1 --------------------------------------------
@pytest.mark.parametrize("name", list(VARIANTS))
def test_table1_point_estimates(fits, name):
    # printed to one decimal: the estimate must round to the printed value
    assert round(att(fits[name]), 1) == prop99_ref.TABLE1_ESTIMATE[name]


def test_difp_values_to_the_third_decimal(fits):
    # achieved: DIFP -11.10464, DIFP_REG -16.12120, SC_REG -21.71706; the published table has
    # one decimal, so these pin our own numbers against drift (the rounding test is the reference)
    assert att(fits["difp"]) == pytest.approx(-11.1046, abs=5e-4)
    assert att(fits["difp_reg"]) == pytest.approx(-16.1212, abs=5e-4)
    assert att(fits["sc_reg"]) == pytest.approx(-21.7171, abs=5e-4)


def test_difp_time_weights_are_uniform_and_unit_weights_on_simplex(fits):
    res = fits["difp"]
    np.testing.assert_allclose(res.time_weights.to_numpy(), 1 / 19, rtol=0, atol=1e-15)
    w = res.unit_weights.to_numpy()
    assert w.min() >= 0 and w.sum() == pytest.approx(1.0, abs=1e-12)
    assert "DIFP" in str(res.summary())


def test_difp_is_the_slow_obvious_computation(prop99, fits):
    """Exact certified QP for the de-meaned SC weights, then the weighted DiD by hand."""
    wide = prop99.pivot(index="State", columns="Year", values="PacksPerCapita")
    Y0 = wide.drop("California").to_numpy()
    y1 = wide.loc["California"].to_numpy()
    pre = wide.columns < 1989
    T0 = int(pre.sum())
    C = np.eye(T0) - 1.0 / T0  # centring over time profiles out the intercept
    zeta = fits["difp_reg"].zeta_omega
    for name in ("difp", "difp_reg"):
        res = fits[name]
        ridge = (res.zeta_omega ** 2) * T0
        w_exact = simplex_qp(C @ Y0[:, pre].T, C @ y1[pre], ridge=ridge)  # certified optimum

        def objective(w):
            r = C @ (Y0[:, pre].T @ w - y1[pre])
            return r @ r + ridge * w @ w

        ours = res.unit_weights.reindex(wide.drop("California").index).to_numpy()
        # synthdid's stopping rule ends Frank-Wolfe early (we follow it to reproduce R): achieved
        # objective excess 1.04 % (difp, ridge 1e-12 of the loss scale) and 0.17 % (difp_reg)
        assert objective(ours) <= objective(w_exact) * (1 + (1.5e-2 if name == "difp" else 3e-3))
        tau_exact = (y1[~pre].mean() - y1[pre].mean()) - w_exact @ (Y0[:, ~pre].mean(1) - Y0[:, pre].mean(1))
        tau_ours = (y1[~pre].mean() - y1[pre].mean()) - ours @ (Y0[:, ~pre].mean(1) - Y0[:, pre].mean(1))
        assert att(res) == pytest.approx(tau_ours, abs=1e-9)
        # achieved |tau - tau_exact|: 0.0044 (difp), 0.0060 (difp_reg), on an SE of about 9
        assert att(res) == pytest.approx(tau_exact, abs=0.01)
    assert zeta == pytest.approx(ETA_REG * fits["difp"].noise_level, rel=1e-12)


# --- placebo standard errors against the published ones --------------------------------
def _exact_placebo(prop99, method, eta):
    """All 38 placebo estimates (each control in turn as the treated unit)."""
    est = SyntheticDiD(method=method, eta_omega=eta, se_method=None)
    res = est.fit(prop99, **ARGS)
    block = prepare_block(prop99, "PacksPerCapita", "Year", "State", treatment="treated")
    Y, N0, T0 = block.Y, block.n_control, block.n_pre
    opts = est._opts(Y, N0, T0)
    omega, lam = res.unit_weights.to_numpy(), res.time_weights.to_numpy()
    out = []
    for j in range(N0):
        perm = np.r_[np.delete(np.arange(N0), j), j]
        out.append(_sdid_core(Y[perm], N0 - 1, T0, opts, _sum_normalize(omega[perm[:N0 - 1]]), lam)[0])
    return np.asarray(out)


@pytest.mark.parametrize("name", ["did", "sdid", "difp", "difp_reg"])
def test_placebo_se_matches_published_within_monte_carlo_error(prop99, name):
    """With one treated unit the placebo draws take 38 values, so the B -> infinity placebo SE
    is computable exactly; R's 200-draw SE must lie in the central 99 % of the distribution of
    200-draw SEs resampled from those 38 values (published values rounded to 0.1)."""
    draws = _exact_placebo(prop99, *VARIANTS[name])
    rng = np.random.default_rng(20261207)
    B = 200
    sims = np.sqrt((B - 1) / B) * np.std(draws[rng.integers(0, draws.size, (4000, B))], axis=1, ddof=1)
    lo, hi = np.quantile(sims, [0.005, 0.995])
    published = prop99_ref.TABLE1_PLACEBO_SE[name]
    assert lo - 0.05 <= published <= hi + 0.05, (name, lo, hi, published)
    if name == "sdid":
        # Stata sdid's README (github.com/Daniel-Pailanir/sdid): `sdid packspercapita state year
        # treated, vce(placebo) reps(100) seed(1213)` prints SE 9.20931 (100 draws)
        sims100 = np.sqrt(99 / 100) * np.std(draws[rng.integers(0, draws.size, (4000, 100))],
                                             axis=1, ddof=1)
        lo100, hi100 = np.quantile(sims100, [0.005, 0.995])
        assert lo100 <= 9.20931 <= hi100, (lo100, hi100)
    # and the estimator's own placebo SE uses exactly these draws
    est = SyntheticDiD(method=VARIANTS[name][0], eta_omega=VARIANTS[name][1], se_method="placebo",
                       n_replications=8, random_state=5)
    res = est.fit(prop99, **ARGS)
    assert set(np.round(res.replications, 8)) <= set(np.round(draws, 8))


# --- reference: R synthdid 0.0.9 on diff-diff's simulated panel ----------------------------
@pytest.fixture(scope="module")
def r_panel():
    Y = np.asarray(parity.Y)
    N, T = Y.shape
    unit = np.repeat(np.arange(N), T)
    time = np.tile(np.arange(T), N)
    return pd.DataFrame({"unit": unit, "time": time, "y": Y.ravel(),
                         "d": ((unit >= parity.N0) & (time >= parity.T0)).astype(int)})


R_ARGS = dict(yname="y", tname="time", idname="unit", treatment="d")


def test_r_synthdid_att_and_jackknife_se(r_panel):
    with pytest.warns(Warning, match="3 treated units"):
        res = SyntheticDiD(se_method="jackknife").fit(r_panel, **R_ARGS)
    # achieved: |diff| < 1e-14 for both
    assert att(res) == pytest.approx(parity.R_ATT, abs=1e-12)
    assert float(res.std_errors.iloc[0]) == pytest.approx(parity.R_JACKKNIFE_SE, abs=1e-12)


def test_r_synthdid_placebo_se_from_rs_permutations(r_panel):
    est = SyntheticDiD(se_method=None)
    res = est.fit(r_panel, **R_ARGS)
    Y = np.asarray(parity.Y)
    opts = est._opts(Y, parity.N0, parity.T0)
    omega, lam = res.unit_weights.to_numpy(), res.time_weights.to_numpy()
    n0 = parity.N0 - parity.N1
    taus = np.array([_sdid_core(Y[p], n0, parity.T0, opts, _sum_normalize(omega[p[:n0]]), lam)[0]
                     for p in np.asarray(parity.PERMUTATIONS)])
    se = np.sqrt((len(taus) - 1) / len(taus)) * np.std(taus, ddof=1)
    # achieved: SE 0.2263168 vs R 0.2263428 (rel. 1.1e-4); per-draw |diff| <= 7.9e-5 on the 20
    # draws R printed. The point estimate and jackknife match R to 1e-14, so the Frank-Wolfe
    # iterations agree; the placebo residual is systematic (every draw moves by ~1e-5) and is not
    # explained by the stopping threshold or warm starts (tried); it is far below the SE itself.
    assert se == pytest.approx(parity.R_PLACEBO_SE, rel=2e-4)
    np.testing.assert_allclose(taus[:20], parity.R_PLACEBO_TAUS_HEAD, rtol=0, atol=1e-4)


# --- simulation with a known effect ----------------------------------------------------------
def test_difp_recovers_known_effect_with_level_shifted_treated_unit():
    """SIMULATED: the treated unit is a convex combination of donors plus a constant 25 (outside
    the donors' hull). DIFP's intercept absorbs the shift; SC without intercept cannot."""
    rng = np.random.default_rng(31)
    n_donors, T0, T1, effect = 25, 20, 6, -4.0
    F = np.cumsum(rng.normal(0, 1, (2, T0 + T1)), axis=1)
    Y0 = 50 + rng.uniform(0.5, 2, (n_donors, 2)) @ F + rng.normal(0, 0.2, (n_donors, T0 + T1))
    w_true = np.zeros(n_donors)
    w_true[:4] = [0.4, 0.3, 0.2, 0.1]
    y1 = w_true @ Y0 + 25 + rng.normal(0, 0.2, T0 + T1)
    y1[T0:] += effect
    Y = np.vstack([Y0, y1])
    units = [f"d{i:02d}" for i in range(n_donors)] + ["T"]
    df = pd.DataFrame({"unit": np.repeat(units, T0 + T1), "year": np.tile(np.arange(T0 + T1), n_donors + 1),
                       "y": Y.ravel()})
    kw = dict(yname="y", tname="year", idname="unit", treated_units=["T"], treat_time=T0)
    difp = SyntheticDiD(method="difp", se_method=None).fit(df, **kw)
    sc = SyntheticDiD(method="sc", se_method=None).fit(df, **kw)
    # across seeds 0-29 difp has mean -3.97 and sd 0.17 on this design: 4 sd
    assert att(difp) == pytest.approx(effect, abs=0.7)
    assert abs(att(sc) - effect) > 3.0


def test_eta_omega_must_be_positive(prop99):
    for bad in (0.0, -1.0, float("nan"), "big"):
        with pytest.raises(ArgumentValueError, match="eta_omega=.* must be a positive finite number"):
            SyntheticDiD(method="difp", eta_omega=bad, se_method=None).fit(prop99, **ARGS)
