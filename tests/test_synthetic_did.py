"""SyntheticDiD: R synthdid's Proposition 99 numbers, the obvious slow computations,
a simulation with a known effect, invariances, standard errors and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _reference_solvers import simplex_qp

from policyeval.estimators.synthetic import SyntheticDiD
from policyeval.exceptions import (
    ColumnNotFoundError,
    DataError,
    DesignError,
    DuplicateObservationError,
    EstimationError,
    TreatmentTimingError,
)
HERE = Path(__file__).parent
DATA = HERE / "data" / "california_prop99.csv"


def _load_reference():
    import importlib.util

    spec = importlib.util.spec_from_file_location("synthdid_prop99", HERE / "reference" / "synthdid_prop99.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load_reference()
ARGS = dict(yname="PacksPerCapita", tname="Year", idname="State")


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def fits(prop99):
    return {m: SyntheticDiD(method=m, se_method=None).fit(prop99, treatment="treated", **ARGS)
            for m in ("sdid", "sc", "did")}


def simulate(n_control=30, n_treated=1, n_pre=15, n_post=5, effect=3.0, seed=0, rank=2):
    """Low-rank factor panel (seeded, simulated); treated units adopt together."""
    rng = np.random.default_rng(seed)
    N, T = n_control + n_treated, n_pre + n_post
    alpha = rng.normal(0, 2, N)
    beta = np.cumsum(rng.normal(0.2, 0.5, T))
    L = rng.normal(0, 1, (N, rank)) @ rng.normal(0, 1, (rank, T))
    Y = 10 + alpha[:, None] + beta[None, :] + L + rng.normal(0, 0.3, (N, T))
    treated = np.zeros((N, T), dtype=int)
    treated[n_control:, n_pre:] = 1
    Y = Y + effect * treated
    unit = np.repeat([f"u{i:02d}" for i in range(N)], T)
    return pd.DataFrame({"unit": unit, "year": np.tile(np.arange(2000, 2000 + T), N),
                         "y": Y.ravel(), "d": treated.ravel()})


SIM = dict(yname="y", tname="year", idname="unit", treatment="d")


# --- reference: R synthdid / Stata sdid on Proposition 99 -------------------------------
@pytest.mark.parametrize("method, expected", [("sdid", ref.SDID), ("sc", ref.SC), ("did", ref.DID)])
def test_prop99_point_estimates_match_synthdid(fits, method, expected):
    # printed to 5 decimals; achieved |diff| 2.1e-6 (sdid), 3.5e-6 (sc), 1.1e-6 (did)
    assert fits[method].params["att"] == pytest.approx(expected, abs=5e-6)
    assert round(fits[method].params["att"], 1) == ref.TABLE1_ROUNDED[method]


@pytest.mark.parametrize("col, method", [(0, "did"), (1, "sc"), (2, "sdid")])
def test_prop99_weights_match_synthdid_tables_7_and_8(fits, col, method):
    omega = fits[method].unit_weights
    printed = {s: f"{round(float(omega[s]), 3):.2f}" for s in omega.index}
    assert printed == {s: v[col] for s, v in ref.UNIT_WEIGHTS.items()}
    lam = fits[method].time_weights
    printed = {y: f"{round(float(lam[y]), 3):.2f}" for y in lam.index}
    assert printed == {y: v[col] for y, v in ref.TIME_WEIGHTS.items()}


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_prop99_effective_sample_sizes_match_synthdid_print(fits, method):
    omega = fits[method].unit_weights.to_numpy()
    assert round(1 / np.sum(omega**2), 1) == ref.EFFECTIVE_N0[method]
    if method == "sdid":
        lam = fits[method].time_weights.to_numpy()
        assert round(1 / np.sum(lam**2), 1) == ref.EFFECTIVE_T0_SDID


# --- the obvious slow computations ------------------------------------------------------
def test_did_special_case_is_the_two_by_two_difference_in_means(prop99, fits):
    d = prop99
    cal = d.State == "California"
    post = d.Year >= 1989
    y = d.PacksPerCapita
    by_hand = (y[cal & post].mean() - y[cal & ~post].mean()) - (y[~cal & post].mean() - y[~cal & ~post].mean())
    assert fits["did"].params["att"] == pytest.approx(by_hand, abs=1e-10)


def test_did_special_case_equals_twfe_with_dummies():
    df = simulate(n_control=8, n_treated=3, n_pre=5, n_post=3, seed=4)
    res = SyntheticDiD(method="did", se_method=None).fit(df, **SIM)
    X = pd.get_dummies(df[["unit"]].astype(object), drop_first=False).astype(float)
    X = pd.concat([X, pd.get_dummies(df["year"].astype(str), drop_first=True).astype(float)], axis=1)
    X["d"] = df["d"]
    beta = np.linalg.lstsq(X.to_numpy(), df["y"].to_numpy(), rcond=None)[0]
    assert res.params["att"] == pytest.approx(beta[-1], abs=1e-9)


def test_sdid_is_the_weighted_twfe_regression(fits, prop99):
    """tau solves the omega*lambda-weighted TWFE problem (eq. 1 of the paper)."""
    res = fits["sdid"]
    w = prop99.copy()
    N1, T1 = 1, 12
    w["wu"] = w.State.map(res.unit_weights).fillna(1.0 / N1)
    w["wt"] = w.Year.map(res.time_weights).fillna(1.0 / T1)
    w = w[(w.wu > 0) & (w.wt > 0)]
    X = pd.concat([pd.get_dummies(w.State, dtype=float),
                   pd.get_dummies(w.Year.astype(str), drop_first=True, dtype=float)], axis=1)
    X["treated"] = w.treated.astype(float)
    sw = np.sqrt((w.wu * w.wt).to_numpy())
    beta = np.linalg.lstsq(X.to_numpy() * sw[:, None], w.PacksPerCapita.to_numpy() * sw, rcond=None)[0]
    assert res.params["att"] == pytest.approx(beta[-1], abs=1e-8)


def test_unit_weights_solve_the_regularised_problem(fits, prop99):
    """Frank-Wolfe reaches the optimum of the paper's omega problem (checked by an exact QP)."""
    res = fits["sdid"]
    wide = prop99.pivot(index="State", columns="Year", values="PacksPerCapita")
    Y0 = wide.drop("California").loc[:, :1988].to_numpy()
    y1 = wide.loc["California", :1988].to_numpy()
    zeta = res.zeta_omega
    T0 = Y0.shape[1]

    def objective(w):  # intercept profiled out by centring over time
        r = (Y0.T @ w - y1)
        r = r - r.mean()
        return r @ r + zeta**2 * T0 * (w @ w)

    # the same problem as a simplex QP: centring over time profiles out the intercept
    C = np.eye(T0) - 1.0 / T0
    slow_w = simplex_qp(C @ Y0.T, C @ y1, ridge=zeta**2 * T0)  # exact and certified
    slow_fun = objective(slow_w)
    # synthdid stops early and sparsifies, so compare objective values, not weights
    ours = objective(res.unit_weights.to_numpy())
    assert ours <= slow_fun * (1 + 2e-3)
    noise = np.std(np.diff(Y0, axis=1), ddof=1)
    assert res.noise_level == pytest.approx(noise)
    assert zeta == pytest.approx((1 * 12) ** 0.25 * noise)


# --- simulation with a known effect ------------------------------------------------------
@pytest.mark.parametrize("n_treated", [1, 4])
def test_recovers_known_effect(n_treated):
    df = simulate(n_control=40, n_treated=n_treated, n_pre=20, n_post=6, effect=5.0, seed=11)
    res = SyntheticDiD(se_method=None).fit(df, **SIM)
    assert res.params["att"] == pytest.approx(5.0, abs=0.5)
    assert res.effects.index.tolist() == list(range(2020, 2026))
    assert res.effects.mean() == pytest.approx(res.params["att"], abs=1e-9)


def test_treated_units_and_treat_time_equal_treatment_column():
    df = simulate(n_treated=3, seed=2)
    a = SyntheticDiD(se_method=None).fit(df, **SIM)
    b = SyntheticDiD(se_method=None).fit(df, yname="y", tname="year", idname="unit",
                                         treated_units=["u30", "u31", "u32"], treat_time=2015)
    assert a.params["att"] == pytest.approx(b.params["att"], abs=1e-12)


# --- invariances (synthdid issues #38 and #43) -----------------------------------------
@pytest.mark.parametrize("method", ["sdid", "did"])
def test_unit_and_time_effects_leave_estimate_unchanged(method):
    df = simulate(n_treated=2, seed=3)
    base = SyntheticDiD(method=method, se_method=None).fit(df, **SIM).params["att"]
    codes = df.unit.str[1:].astype(int)
    # unit effects arbitrary; time effects linear, as in synthdid's own test: a non-linear
    # time effect changes the sd of first differences and with it the regularisation zeta
    shifted = df.assign(y=df.y + 2.5 * codes ** 1.5 + 2.0 * (df.year - 2000))
    assert SyntheticDiD(method=method, se_method=None).fit(shifted, **SIM).params["att"] == \
        pytest.approx(base, abs=1e-6)


@pytest.mark.parametrize("method", ["sdid", "sc", "did"])
def test_scaling_y_scales_estimate_and_se(method):
    df = simulate(n_treated=2, seed=5)
    kw = dict(method=method, se_method="placebo", n_replications=3, random_state=9)
    a = SyntheticDiD(**kw).fit(df, **SIM)
    b = SyntheticDiD(**kw).fit(df.assign(y=df.y * 1000.0), **SIM)
    assert b.params["att"] == pytest.approx(1000 * a.params["att"], rel=1e-6)
    assert b.std_errors["att"] == pytest.approx(1000 * a.std_errors["att"], rel=1e-6)


def test_row_order_and_labels_do_not_matter():
    df = simulate(n_treated=2, seed=6)
    a = SyntheticDiD(se_method=None).fit(df, **SIM).params["att"]
    shuffled = df.sample(frac=1.0, random_state=1).assign(unit=lambda x: "id_" + x.unit)
    assert SyntheticDiD(se_method=None).fit(shuffled, **SIM).params["att"] == pytest.approx(a, abs=1e-9)


# --- standard errors ---------------------------------------------------------------------
def test_jackknife_did_equals_hand_jackknife():
    df = simulate(n_control=10, n_treated=4, n_pre=6, n_post=3, seed=7)
    res = SyntheticDiD(method="did", se_method="jackknife").fit(df, **SIM)
    wide = df.pivot(index="unit", columns="year", values="y")
    treated = wide.index >= "u10"

    def did(w, tr):
        pre, post = w.columns < 2006, w.columns >= 2006
        return ((w[tr].loc[:, post].mean(axis=1).mean() - w[tr].loc[:, pre].mean(axis=1).mean())
                - (w[~tr].loc[:, post].mean(axis=1).mean() - w[~tr].loc[:, pre].mean(axis=1).mean()))

    u = np.array([did(wide.drop(i), treated[wide.index != i]) for i in wide.index])
    n = len(u)
    se = np.sqrt((n - 1) / n * np.sum((u - u.mean()) ** 2))
    assert res.std_errors["att"] == pytest.approx(se, rel=1e-10)


def test_placebo_se_is_seeded_and_sensible(prop99):
    kw = dict(se_method="placebo", n_replications=5)
    a = SyntheticDiD(random_state=1, **kw).fit(prop99, treatment="treated", **ARGS)
    b = SyntheticDiD(random_state=1, **kw).fit(prop99, treatment="treated", **ARGS)
    c = SyntheticDiD(random_state=2, **kw).fit(prop99, treatment="treated", **ARGS)
    assert a.std_errors["att"] == b.std_errors["att"]
    assert a.std_errors["att"] != c.std_errors["att"]
    assert len(a.replications) == 5
    # placebo estimates on never-treated states: centred near zero, spread of the order of
    # the published placebo SE (8.4 in Table 1 of the paper; 9.2-10.1 in reruns)
    assert 2.0 < a.std_errors["att"] < 25.0
    ci = a.conf_int()
    assert ci.loc["att", "conf_low"] < a.params["att"] < ci.loc["att", "conf_high"]


def test_bootstrap_se_with_several_treated_units():
    df = simulate(n_control=20, n_treated=5, n_pre=10, n_post=4, effect=2.0, seed=8)
    res = SyntheticDiD(se_method="bootstrap", n_replications=12, random_state=3).fit(df, **SIM)
    jk = SyntheticDiD(se_method="jackknife").fit(df, **SIM)
    assert np.isfinite(res.std_errors["att"]) and res.std_errors["att"] > 0
    assert 0.2 < res.std_errors["att"] / jk.std_errors["att"] < 5
    assert abs(res.params["att"] - 2.0) < 4 * res.std_errors["att"]
    table = res.to_frame()
    assert list(table.columns[:3]) == ["term", "estimate", "std_error"]
    assert "Synthetic DiD" in str(res.summary())


# --- bad input -----------------------------------------------------------------------------
def test_bootstrap_and_jackknife_need_two_treated_units(prop99):
    for se in ("bootstrap", "jackknife"):
        with pytest.raises(EstimationError, match=f"se_method='{se}' needs at least 2 treated units"):
            SyntheticDiD(se_method=se).fit(prop99, treatment="treated", **ARGS)


def test_placebo_needs_more_donors_than_treated():
    df = simulate(n_control=3, n_treated=3, seed=1)
    with pytest.raises(EstimationError, match="more donors than treated units; got 3 donors and 3"):
        SyntheticDiD(se_method="placebo").fit(df, **SIM)


def test_staggered_adoption_is_refused():
    df = simulate(n_treated=2, seed=1)
    df.loc[(df.unit == "u31") & (df.year == 2015), "d"] = 0
    with pytest.raises(TreatmentTimingError, match=r"common adoption.*2015 \(1 units, e.g. u30\); 2016"):
        SyntheticDiD(se_method=None).fit(df, **SIM)


def test_treatment_switching_off_is_refused():
    df = simulate(n_treated=1, seed=1)
    df.loc[(df.unit == "u30") & (df.year == 2017), "d"] = 0
    with pytest.raises(TreatmentTimingError, match="switches off after adoption for 1 units"):
        SyntheticDiD(se_method=None).fit(df, **SIM)


def test_nan_in_donor_pool_names_donors_and_years(prop99):
    bad = prop99.copy()
    bad.loc[(bad.State == "Nevada") & bad.Year.isin([1975, 1976]), "PacksPerCapita"] = np.nan
    bad.loc[(bad.State == "Utah") & (bad.Year == 1990), "PacksPerCapita"] = np.nan
    with pytest.raises(DataError, match=r"donor pool for 2 units: Nevada \[donor\] \(1975, 1976\); "
                                        r"Utah \[donor\] \(1990\)"):
        SyntheticDiD(se_method=None).fit(bad, treatment="treated", **ARGS)


def test_too_few_donors(prop99):
    two = prop99[prop99.State.isin(["California", "Utah"])]
    with pytest.raises(EstimationError, match="at least 2 donor units; the donor pool has 1 \\(Utah\\)"):
        SyntheticDiD(se_method=None).fit(two, treatment="treated", **ARGS)


def test_unbalanced_panel_and_duplicates_and_columns(prop99):
    with pytest.raises(DataError, match=r"unbalanced: 1 units lack rows.*Iowa \(1980\)"):
        SyntheticDiD(se_method=None).fit(
            prop99[~((prop99.State == "Iowa") & (prop99.Year == 1980))], treatment="treated", **ARGS)
    with pytest.raises(DuplicateObservationError, match=r"\(Iowa, 1980\)"):
        SyntheticDiD(se_method=None).fit(
            pd.concat([prop99, prop99[(prop99.State == "Iowa") & (prop99.Year == 1980)]]),
            treatment="treated", **ARGS)
    with pytest.raises(ColumnNotFoundError, match="yname='packs' is not a column"):
        SyntheticDiD(se_method=None).fit(prop99, yname="packs", tname="Year", idname="State",
                                         treatment="treated")


def test_design_arguments(prop99):
    with pytest.raises(DesignError, match="either treatment="):
        SyntheticDiD(se_method=None).fit(prop99, **ARGS)
    with pytest.raises(DesignError, match="treat_time=2050 is not a period"):
        SyntheticDiD(se_method=None).fit(prop99, treated_units=["California"], treat_time=2050, **ARGS)
    with pytest.raises(DesignError, match=r"treated_units contains 1 ids not found.*Atlantis"):
        SyntheticDiD(se_method=None).fit(prop99, treated_units=["Atlantis"], treat_time=1989, **ARGS)
    with pytest.raises(ValueError, match="method='lasso' must be one of"):
        SyntheticDiD(method="lasso").fit(prop99, treatment="treated", **ARGS)


def test_plot_draws_paths(fits):
    import matplotlib

    matplotlib.use("Agg")
    ax = fits["sdid"].plot()
    assert len(ax.lines) >= 2
    res = fits["sdid"]
    post = res.paths.loc[1989:, "gap"].mean()
    assert post == pytest.approx(res.params["att"], abs=1e-9)


def _did_rows(Y, rows_c, rows_t, T0):
    """2x2 DiD with rows (repeats allowed) as controls and treated."""
    c, t = Y[rows_c], Y[rows_t]
    return (t[:, T0:].mean() - t[:, :T0].mean()) - (c[:, T0:].mean() - c[:, :T0].mean())


def test_placebo_and_bootstrap_se_follow_algorithms_4_and_2_by_hand():
    df = simulate(n_control=12, n_treated=3, n_pre=6, n_post=3, seed=13)
    Y = df.pivot(index="unit", columns="year", values="y").to_numpy()  # u00..u11 controls first
    N0, N1, T0, B = 12, 3, 6, 25
    rng = np.random.default_rng(42)
    draws = []
    for _ in range(B):
        perm = rng.permutation(N0)
        draws.append(_did_rows(Y, perm[: N0 - N1], perm[N0 - N1:], T0))
    placebo_se = np.sqrt((B - 1) / B) * np.std(draws, ddof=1)
    res = SyntheticDiD(method="did", se_method="placebo", n_replications=B, random_state=42).fit(df, **SIM)
    assert res.std_errors["att"] == pytest.approx(placebo_se, rel=1e-12)

    rng = np.random.default_rng(7)
    draws = []
    while len(draws) < B:
        ind = np.sort(rng.integers(0, N0 + N1, N0 + N1))
        if (ind < N0).all() or (ind >= N0).all():
            continue
        draws.append(_did_rows(Y, ind[ind < N0], ind[ind >= N0], T0))
    boot_se = np.sqrt((B - 1) / B) * np.std(draws, ddof=1)
    res = SyntheticDiD(method="did", se_method="bootstrap", n_replications=B, random_state=7).fit(df, **SIM)
    assert res.std_errors["att"] == pytest.approx(boot_se, rel=1e-12)
