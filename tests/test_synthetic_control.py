"""SyntheticControl: the weight QP against brute force, V selection, a simulation with a
known effect, placebos (in-space, in-time, leave-one-out), conformal inference, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _reference_solvers import ReferenceNotConverged, certify_simplex, simplex_qp

from policyeval.estimators._simplex import project_simplex, simplex_lstsq
from policyeval.estimators.synthetic import SyntheticControl
from policyeval.exceptions import (
    DataError,
    DesignError,
    EstimationError,
    EstimationWarning,
)
from policyeval.inference import placebo

DATA = Path(__file__).parent / "data" / "california_prop99.csv"
ARGS = dict(yname="PacksPerCapita", tname="Year", idname="State")


@pytest.fixture(scope="module")
def prop99() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def prop99_equal(prop99):
    return SyntheticControl(v_method="equal", standardize=False).fit(prop99, treatment="treated", **ARGS)


def brute_force_simplex(A, b, ridge=0.0):
    """The exact, certified QP optimum (tests/_reference_solvers.py), not an SLSQP guess."""
    return simplex_qp(A, b, ridge)


def simulate(n_donors=20, n_pre=20, n_post=8, effect=0.0, noise=0.3, seed=0, covariate=False):
    """Seeded simulated panel: donors follow a 3-factor model; the treated unit is a convex
    combination of donors 0-2 (weights 0.5, 0.3, 0.2) plus noise and ``effect`` after treatment."""
    rng = np.random.default_rng(seed)
    T = n_pre + n_post
    F = np.cumsum(rng.normal(0, 1, (3, T)), axis=1)
    load = rng.uniform(0.2, 2.0, (n_donors, 3))
    mean = 20 + load @ F
    true_w = np.zeros(n_donors)
    true_w[:3] = [0.5, 0.3, 0.2]
    treated = true_w @ mean
    Y = np.vstack([mean, treated]) + rng.normal(0, noise, (n_donors + 1, T))
    Y[-1, n_pre:] += effect
    units = [f"d{i:02d}" for i in range(n_donors)] + ["T"]
    df = pd.DataFrame({"unit": np.repeat(units, T), "year": np.tile(np.arange(1990, 1990 + T), n_donors + 1),
                       "y": Y.ravel()})
    if covariate:
        x = np.append(load[:, 0], true_w @ load[:, 0])
        df["x"] = np.repeat(x, T) + rng.normal(0, 0.01, len(df))
    return df


SIM = dict(yname="y", tname="year", idname="unit", treated_units=["T"], treat_time=2010)


# --- the weight problem against brute force ----------------------------------------------
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("shape", [(8, 15), (30, 6), (19, 38)])
def test_simplex_lstsq_matches_exact_qp(seed, shape):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=shape)
    b = A @ project_simplex(rng.normal(size=shape[1])) + rng.normal(0, 1.0, shape[0])
    for ridge in (0.0, 0.5):
        ours = simplex_lstsq(A, b, ridge=ridge)
        slow = brute_force_simplex(A, b, ridge)
        f = lambda w: np.sum((A @ w - b) ** 2) + ridge * w @ w  # noqa: E731
        assert ours.min() >= 0 and ours.sum() == pytest.approx(1.0, abs=1e-12)
        assert f(ours) <= f(slow) + 1e-9
        if ridge > 0 or shape[0] >= shape[1]:  # unique optimum
            np.testing.assert_allclose(ours, slow, atol=2e-4)


def test_weights_with_identity_v_equal_brute_force_qp(prop99, prop99_equal):
    wide = prop99.pivot(index="State", columns="Year", values="PacksPerCapita")
    Y0 = wide.drop("California").loc[:, :1988].to_numpy()
    y1 = wide.loc["California", :1988].to_numpy()
    slow = brute_force_simplex(Y0.T, y1)
    ours = prop99_equal.weights.reindex(wide.drop("California").index).to_numpy()
    mspe = lambda w: np.mean((y1 - w @ Y0) ** 2)  # noqa: E731
    assert mspe(ours) <= mspe(slow) + 1e-10
    np.testing.assert_allclose(ours, slow, atol=1e-4)
    assert prop99_equal.rmspe_pre == pytest.approx(np.sqrt(mspe(ours)))
    # the synthetic path is the weighted donor path, the ATT the mean post gap
    synth = ours @ wide.drop("California").to_numpy()
    np.testing.assert_allclose(prop99_equal.paths["synthetic"].to_numpy(), synth, rtol=1e-12)
    assert prop99_equal.params["ATT"] == pytest.approx(np.mean(wide.loc["California", 1989:] - synth[19:]))


def test_nested_v_attains_the_best_pre_period_fit(prop99, prop99_equal):
    """With every pre-period outcome as a predictor, the MSPE-optimal V reaches the raw QP bound."""
    nested = SyntheticControl(v_method="nested", placebos=False).fit(prop99, treatment="treated", **ARGS)
    std_equal = SyntheticControl(v_method="equal", placebos=False).fit(prop99, treatment="treated", **ARGS)
    assert nested.rmspe_pre <= std_equal.rmspe_pre + 1e-12
    assert nested.rmspe_pre == pytest.approx(prop99_equal.rmspe_pre, abs=1e-5)  # lower bound over V
    assert nested.predictor_weights.sum() == pytest.approx(1.0)
    assert len(nested.predictor_weights) == 19


def test_a_stalled_reference_fails_as_a_reference_failure():
    """The uniform starting point SLSQP once returned on Prop 99 is refused by the certificate."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(19, 38))
    b = A[:, 0] * 3.0
    w = np.full(38, 1 / 38)
    fun = float(np.sum((A @ w - b) ** 2))
    with pytest.raises(ReferenceNotConverged, match="reference did not converge"):
        certify_simplex(2 * A.T @ (A @ w - b), w, fun)


# --- simulation with a known effect -----------------------------------------------------
@pytest.mark.parametrize("v_method", ["equal", "nested"])
def test_recovers_known_effect(v_method):
    df = simulate(n_donors=20 if v_method == "equal" else 10, effect=4.0, seed=1)
    res = SyntheticControl(v_method=v_method).fit(df, **SIM)
    assert res.params["ATT"] == pytest.approx(4.0, abs=0.4)
    # with a rank-3 factor model many donor mixes fit equally well, so check the fit, not w
    assert res.rmspe_pre < 0.6  # noise sd is 0.3 on treated and donors
    n = len(res.weights) + 1
    assert res.permutation_pvalue == pytest.approx(1 / n)  # largest post/pre ratio of all units
    assert res.pvalues["ATT"] == res.permutation_pvalue
    assert res.placebos["treated"].sum() == 1 and len(res.placebos) == n


def test_placebo_pvalue_is_not_small_without_effect():
    ps = [SyntheticControl(v_method="equal").fit(simulate(effect=0.0, seed=s), **SIM).permutation_pvalue
          for s in range(4)]
    assert all(p >= 1 / 21 for p in ps)
    assert np.mean(ps) > 0.2  # under the null the rank is roughly uniform (mean 0.52)


def test_permutation_pvalue_counts_ties_against_treated():
    assert placebo.permutation_pvalue(np.array([3.0, 1.0, 2.0, 3.0]), treated=0) == 0.5
    assert placebo.permutation_pvalue(np.array([1.0, 5.0, 2.0, 3.0]), treated=1) == 0.25


def test_cv_with_covariate_predictors():
    df = simulate(effect=2.0, seed=0, covariate=True)
    lags = [("y", [y]) for y in range(1990, 2010, 4)]
    res = SyntheticControl(predictors=["x", "y", *lags], v_method="cv", placebos=False).fit(df, **SIM)
    assert list(res.predictor_weights.index) == ["x", "y"] + [f"y[{y}]" for y in range(1990, 2010, 4)]
    assert res.predictor_weights.sum() == pytest.approx(1.0)
    assert res.params["ATT"] == pytest.approx(2.0, abs=0.6)
    bal = res.predictor_balance
    assert abs(bal.loc["x", "treated"] - bal.loc["x", "synthetic"]) < abs(bal.loc["x", "treated"] - bal.loc["x", "donor_mean"]) + 1e-9


# --- in-time placebo, leave-one-out, conformal ---------------------------------------------
def test_in_time_placebo_uses_only_pre_treatment_data():
    df = simulate(effect=5.0, seed=2)
    res = SyntheticControl(v_method="equal", placebos=False).fit(df, **SIM)
    fake = res.in_time_placebo(2003)
    assert fake.paths.index.max() == 2009 and fake.spec["treat_time"] == 2003
    assert abs(fake.params["ATT"]) < 0.5  # no effect before the real treatment
    with pytest.raises(DesignError, match="placebo_time=2015 must be a pre-treatment period"):
        res.in_time_placebo(2015)


def test_leave_one_out_drops_each_positive_weight_donor():
    df = simulate(effect=1.0, seed=4)
    res = SyntheticControl(v_method="equal", placebos=False).fit(df, **SIM)
    loo = res.leave_one_out()
    assert set(loo.columns) == set(res.weights.index[res.weights > 1e-8])
    for donor in loo.columns:
        assert not np.allclose(loo[donor].to_numpy(), res.paths["synthetic"].to_numpy())


def test_conformal_pvalue_by_hand():
    zero_fit = lambda y, Y, n: np.zeros_like(y)  # noqa: E731  residuals are y itself
    y = np.array([1.0, -2.0, 3.0, 0.5, 10.0])
    Y = np.zeros((2, 5))
    assert placebo.conformal_pvalue(y, Y, 4, 0.0, zero_fit) == pytest.approx(1 / 5)
    assert placebo.conformal_pvalue(y, Y, 4, 10.0, zero_fit) == pytest.approx(1.0)
    assert placebo.conformal_pvalue(y, Y, 4, 7.5, zero_fit) == pytest.approx(2 / 5)  # 3 and 2.5 >= 2.5
    y2 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])  # two post periods, q=1: mean |u| of last two
    # cyclic shifts give post pairs (5,6),(6,1),(1,2),(2,3),(3,4),(4,5): only (5,6) reaches 5.5
    assert placebo.conformal_pvalue(y2, np.zeros((1, 6)), 4, 0.0, zero_fit) == pytest.approx(1 / 6)
    p_iid = placebo.conformal_pvalue(y2, np.zeros((1, 6)), 4, 0.0, zero_fit, permutation="iid",
                                     n_permutations=2000, random_state=0)
    assert p_iid == pytest.approx(1 / 15, abs=0.02)  # 1 of C(6,2) = 15 unordered pairs


def test_conformal_inference_covers_the_truth():
    df = simulate(n_donors=15, n_pre=19, n_post=4, effect=6.0, noise=0.3, seed=5)
    args = dict(SIM, treat_time=2009)
    res = SyntheticControl(v_method="equal", placebos=False).fit(df, **args)
    table = res.conformal_inference(level=0.9)
    assert list(table.index) == [2009, 2010, 2011, 2012]
    np.testing.assert_allclose(table["p_value"], 1 / 20)  # 20 periods: the smallest p-value
    assert ((table["conf_low"] < 6.0) & (table["conf_high"] > 6.0)).all()
    assert (table["conf_low"] > 0).all()
    # joint test of no effect in all 4 post periods (cyclic shifts of 23 residuals)
    joint = {e: [SyntheticControl(v_method="equal", placebos=False).fit(
        simulate(n_donors=15, n_pre=19, n_post=4, effect=e, seed=s), **args)
        .conformal_inference(confidence_sets=False).attrs["joint_p_value"] for s in range(3)] for e in (0.0, 12.0)}
    np.testing.assert_allclose(joint[12.0], 1 / 23)
    assert np.mean(joint[0.0]) > 0.2


# --- bad input ------------------------------------------------------------------------------
def test_too_few_donors(prop99):
    two = prop99[prop99.State.isin(["California", "Utah"])]
    with pytest.raises(EstimationError, match="at least 2 donor units; the donor pool has 1"):
        SyntheticControl().fit(two, treatment="treated", **ARGS)


def test_outside_convex_hull_warns_with_pre_period_fit():
    df = simulate(seed=6)
    df.loc[df.unit == "T", "y"] += 100.0
    with pytest.warns(EstimationWarning, match=r"outside the donors' convex hull.*in 20 of 20 "
                                               r"pre-treatment periods.*RMSPE = \d"):
        SyntheticControl(v_method="equal", placebos=False).fit(df, **SIM)


def test_inside_convex_hull_does_not_warn(prop99):
    with warnings.catch_warnings():
        warnings.simplefilter("error", EstimationWarning)
        SyntheticControl(v_method="equal", placebos=False).fit(prop99, treatment="treated", **ARGS)


@pytest.mark.filterwarnings("ignore::policyeval.exceptions.EstimationWarning")
def test_pre_period_shorter_than_predictors():
    df = simulate(n_pre=3, n_post=2, seed=7)
    cols = {f"x{i}": np.arange(len(df)) % (i + 2) for i in range(4)}
    df = df.assign(**cols)
    with pytest.raises(EstimationError, match="4 predictors but only 3 pre-treatment periods"):
        SyntheticControl(predictors=list(cols)).fit(df, yname="y", tname="year", idname="unit",
                                                   treated_units=["T"], treat_time=1993)
    res = SyntheticControl(predictors=list(cols), v_method="equal", placebos=False).fit(
        df, yname="y", tname="year", idname="unit", treated_units=["T"], treat_time=1993)
    assert len(res.predictor_weights) == 4


def test_nan_in_donor_pool_names_donors_and_years():
    df = simulate(seed=8)
    df.loc[(df.unit == "d03") & (df.year.isin([1995, 1996])), "y"] = np.nan
    with pytest.raises(DataError, match=r"donor pool for 1 units: d03 \[donor\] \(1995, 1996\)"):
        SyntheticControl().fit(df, **SIM)


def test_predictor_window_after_treatment_is_refused():
    df = simulate(seed=9)
    with pytest.raises(DesignError, match=r"predictor \('y', \[2012\]\) uses periods outside"):
        SyntheticControl(predictors=[("y", [2012])]).fit(df, **SIM)


def test_one_treated_unit_only_and_cv_needs_predictors():
    df = simulate(seed=10)
    with pytest.raises(EstimationError, match="fits one treated unit; got 2"):
        SyntheticControl().fit(df, yname="y", tname="year", idname="unit",
                               treated_units=["T", "d05"], treat_time=2010)
    with pytest.raises(EstimationError, match="v_method='cv' needs explicit predictors"):
        SyntheticControl(v_method="cv").fit(df, **SIM)
    with pytest.raises(ValueError, match="v_method='magic' must be one of"):
        SyntheticControl(v_method="magic").fit(df, **SIM)


# --- presentation ------------------------------------------------------------------------------
def test_summary_plot_and_frame(prop99_equal):
    import matplotlib

    matplotlib.use("Agg")
    text = str(prop99_equal.summary())
    assert "Synthetic control" in text and "California" in text and "Pre RMSPE" in text
    frame = prop99_equal.to_frame()
    assert frame.loc[0, "term"] == "ATT" and np.isnan(frame.loc[0, "std_error"])
    assert frame.loc[0, "p_value"] == prop99_equal.permutation_pvalue
    assert len(prop99_equal.plot(kind="paths").lines) >= 2
    assert len(prop99_equal.plot(kind="gaps").lines) >= 39
    with pytest.raises(ValueError, match="kind='bars'"):
        prop99_equal.plot(kind="bars")
    with pytest.warns(FutureWarning, match="pass kind='gaps'"):
        assert len(prop99_equal.plot("gaps").lines) >= 39
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    with pytest.warns(FutureWarning, match="pass kind='paths'"):
        assert prop99_equal.plot("paths", ax) is ax          # the pre-0.2 order plot(kind, ax)
    plt.close("all")


def test_row_order_labels_and_common_shocks_do_not_matter():
    df = simulate(effect=1.0, seed=12)
    base = SyntheticControl(v_method="equal", placebos=False).fit(df, **SIM)
    shuffled = df.sample(frac=1.0, random_state=3)
    again = SyntheticControl(v_method="equal", placebos=False).fit(shuffled, **SIM)
    pd.testing.assert_series_equal(base.weights, again.weights)
    # a shock common to all units leaves weights and effects unchanged
    shocked = df.assign(y=df.y + 5.0 * np.sin(df.year))
    moved = SyntheticControl(v_method="equal", standardize=False, placebos=False).fit(shocked, **SIM)
    plain = SyntheticControl(v_method="equal", standardize=False, placebos=False).fit(df, **SIM)
    np.testing.assert_allclose(moved.weights, plain.weights, atol=1e-8)
    assert moved.params["ATT"] == pytest.approx(plain.params["ATT"], abs=1e-8)


def test_simplex_lstsq_satisfies_kkt_property():
    """For any data, the solution is feasible and no feasible direction lowers the objective."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=60, deadline=None)
    @given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 10_000), st.sampled_from([0.0, 0.1]))
    def check(m, n, seed, ridge):
        rng = np.random.default_rng(seed)
        A, b = rng.normal(size=(m, n)) * rng.uniform(0.1, 100), rng.normal(size=m)
        w = simplex_lstsq(A, b, ridge=ridge)
        assert w.min() >= 0 and abs(w.sum() - 1) < 1e-10
        grad = 2 * (A.T @ (A @ w - b) + ridge * w)
        # KKT on the simplex: gradient entries on the support are minimal (equal)
        scale = max(np.abs(grad).max(), 1.0)
        assert grad[w > 1e-9].max() <= grad.min() + 1e-6 * scale

    check()


@pytest.mark.parametrize("pool", ["exclude_treated", "all"])
@pytest.mark.filterwarnings("ignore::policyeval.exceptions.EstimationWarning")
def test_each_placebo_equals_a_direct_fit(pool):
    """A placebo is the SC of that donor from the pool; standardize=False so that predictor
    scaling (computed over all units of the fit) is the same in both fits."""
    df = simulate(n_donors=8, effect=3.0, seed=14)
    opts = dict(v_method="equal", standardize=False)
    res = SyntheticControl(placebo_donors=pool, **opts).fit(df, **SIM)
    pool_units = [u for u in df.unit.unique() if u != "d04" and not (pool == "exclude_treated" and u == "T")]
    direct = SyntheticControl(placebos=False, **opts).fit(
        df[df.unit.isin(pool_units + ["d04"])], yname="y", tname="year", idname="unit",
        treated_units=["d04"], treat_time=2010)
    row = res.placebos.set_index("unit").loc["d04"]
    assert row["pre_rmspe"] == pytest.approx(direct.rmspe_pre, rel=1e-9)
    assert row["post_rmspe"] == pytest.approx(direct.rmspe_post, rel=1e-9)
    with pytest.raises(ValueError, match="placebo_donors='some' must be"):
        SyntheticControl(placebo_donors="some").fit(df, **SIM)
