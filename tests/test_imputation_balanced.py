"""ImputationDiD's balanced-panel path (cohort x period cells) against the general
row-level path, which stays the reference: same estimates, standard errors,
influence, imputed effects, first stage and pre-trend test to 1e-10, and the
general path taken whenever the design is not a balanced panel without
covariates or weights. Data: SIMULATED, seeded, built below."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest

import policyeval.estimators.imputation as imp
from policyeval.estimators._did_inputs import prepare_panel
from policyeval.exceptions import EstimationError, EstimationWarning

TOL = 1e-10
COLS = dict(yname="y", tname="t", idname="unit", gname="g")


def simulate(seed=0, n_units=60, periods=range(1, 9), cohorts=(0, 3, 5, 7)):
    """SIMULATED balanced staggered panel with heterogeneous dynamic effects."""
    rng = np.random.default_rng(seed)
    periods = list(periods)
    g = np.array([cohorts[i % len(cohorts)] for i in range(n_units)])
    df = pd.DataFrame({"unit": np.repeat(np.arange(n_units), len(periods)),
                       "t": np.tile(periods, n_units)})
    df["g"] = g[df["unit"]]
    e = np.where(df["g"] > 0, df["t"] - df["g"], -99)
    df["y"] = (rng.normal(size=n_units)[df["unit"]] + 0.3 * df["t"] + np.where(e >= 0, 1 + 0.2 * e, 0.0)
               + rng.normal(size=len(df)))
    df["state"] = df["unit"] % 9
    df["x"] = rng.normal(size=len(df))
    df["w"] = rng.uniform(0.5, 2, n_units)[df["unit"]]
    return df


@pytest.fixture
def spy(monkeypatch):
    """Record whether the balanced path produced the result."""
    calls = []
    real = imp._balanced_parts

    def wrapped(*args, **kwargs):
        out = real(*args, **kwargs)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(imp, "_balanced_parts", wrapped)
    return calls


def fit_both(df, monkeypatch, spy, fitkw=None, **kw):
    fitkw = dict(COLS, **(fitkw or {}))
    fast = imp.ImputationDiD(**kw).fit(df, **fitkw)
    monkeypatch.setattr(imp, "_USE_BALANCED_PATH", False)
    general = imp.ImputationDiD(**kw).fit(df, **fitkw)
    monkeypatch.setattr(imp, "_USE_BALANCED_PATH", True)
    return fast, general


def assert_same(a, b):
    pd.testing.assert_index_equal(a.params.index, b.params.index)
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=TOL)
    np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=0, atol=TOL)
    np.testing.assert_allclose(a.vcov.to_numpy(), b.vcov.to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(a.influence.to_dense(), b.influence.to_dense(), rtol=0, atol=TOL)
    np.testing.assert_allclose(a.overall.to_numpy(), b.overall.to_numpy(), rtol=0, atol=TOL)
    # imputed effects: same rows in the same order, same dtypes
    pd.testing.assert_frame_equal(a.effects.drop(columns=["y0_hat", "tau"]),
                                  b.effects.drop(columns=["y0_hat", "tau"]))
    np.testing.assert_allclose(a.effects[["y0_hat", "tau"]], b.effects[["y0_hat", "tau"]], rtol=0, atol=TOL)
    fa, fb = a.extra["first_stage"], b.extra["first_stage"]
    for key in ("unit_effects", "period_effects"):
        pd.testing.assert_index_equal(fa[key].index, fb[key].index)
        np.testing.assert_allclose(fa[key], fb[key], rtol=0, atol=TOL)
    for key in ("n_clusters", "n_treated_obs", "n_untreated_obs", "influence_terms", "notes"):
        assert a.extra[key] == b.extra[key], key
    assert a.nobs == b.nobs and a.n_units == b.n_units
    if b.pretrend_test is None:
        assert a.pretrend_test is None
    else:
        for key in ("statistic", "p_value", "f_statistic", "f_p_value"):
            assert a.pretrend_test[key] == pytest.approx(b.pretrend_test[key], abs=TOL, rel=0)
        np.testing.assert_allclose(a.pretrend_test["vcov"], b.pretrend_test["vcov"], rtol=0, atol=TOL)


@pytest.mark.parametrize("kw", [
    {},
    {"horizons": True},
    {"horizons": [0, 2, 4]},
    {"anticipation": 1},
    {"anticipation": 1, "horizons": True},
    {"pretrends": 2},
    {"pretrends": [-3, -1], "pretrend_vcov": "iid"},
    {"cluster": "state"},
    {"cluster": "state", "horizons": True, "pretrends": 1},
], ids=repr)
def test_balanced_path_equals_general(kw, monkeypatch, spy):
    fast, general = fit_both(simulate(), monkeypatch, spy, **kw)
    assert spy == [True]
    assert_same(fast, general)


@pytest.mark.parametrize("case", ["no_never_treated_but_every_period_untreated", "beyond_sample",
                                  "second_period_cohort", "uneven_periods", "string_ids", "shuffled"])
def test_balanced_path_designs(case, monkeypatch, spy):
    df = simulate(seed=3)
    if case == "no_never_treated_but_every_period_untreated":
        df = simulate(seed=3, cohorts=(3, 5, 9))          # cohort 9 is treated after the sample
    elif case == "beyond_sample":
        df = simulate(seed=3, cohorts=(0, 4, 20))
    elif case == "second_period_cohort":
        df = simulate(seed=3, cohorts=(0, 2, 6))          # one untreated period for cohort 2
    elif case == "uneven_periods":
        df = simulate(seed=3, periods=[2000, 2001, 2003, 2006, 2007, 2010], cohorts=(0, 2003, 2007))
    elif case == "string_ids":
        df["unit"] = "u" + df["unit"].astype(str)       # sorted as text, not as numbers
    elif case == "shuffled":
        df = df.sample(frac=1.0, random_state=1)
    fast, general = fit_both(df, monkeypatch, spy, horizons=True)
    assert spy == [True]
    assert_same(fast, general)
    fast, general = fit_both(df, monkeypatch, spy)
    assert_same(fast, general)


def test_balanced_path_with_a_treatment_indicator(monkeypatch, spy):
    df = simulate(seed=4)
    df["d"] = ((df["g"] > 0) & (df["t"] >= df["g"])).astype(int)
    fast, general = fit_both(df.drop(columns="g"), monkeypatch, spy, fitkw={"gname": None, "dname": "d"},
                             horizons=True)
    assert spy == [True]
    assert_same(fast, general)


def test_cohort_treated_in_first_period_falls_back_and_raises(monkeypatch, spy):
    df = simulate(cohorts=(0, 1, 5))
    with pytest.raises(EstimationError, match="have no untreated observation"):
        imp.ImputationDiD().fit(df, **COLS)
    assert spy == [False]


def test_period_without_untreated_falls_back_and_raises(monkeypatch, spy):
    df = simulate(cohorts=(3, 5))                         # from period 5 on every unit is treated
    with pytest.raises(EstimationError, match="periods .* have no untreated observation"):
        imp.ImputationDiD().fit(df, **COLS)
    assert spy == [False]


def test_missing_horizon_falls_back_and_raises(monkeypatch, spy):
    with pytest.raises(EstimationError, match=r"horizons \[40\] have no treated observation"):
        imp.ImputationDiD(horizons=[0, 40]).fit(simulate(), **COLS)
    assert spy == [False]


@pytest.mark.parametrize("case", ["unbalanced", "covariates", "weights", "cluster_splits_units"])
def test_general_path_outside_the_balanced_design(case, monkeypatch, spy):
    df = simulate(seed=5)
    fitkw, kw = {}, {}
    if case == "unbalanced":
        df = df.drop(index=[3, 17, 40]).reset_index(drop=True)
    elif case == "covariates":
        fitkw["covariates"] = ["x"]
    elif case == "weights":
        fitkw["weights"] = "w"
    else:
        df["state"] = (df["unit"] + (df["t"] > 4)) % 9
        kw["cluster"] = "state"
    split = case == "cluster_splits_units"
    with pytest.warns(EstimationWarning, match="varies within") if split else contextlib.nullcontext():
        fast, general = fit_both(df, monkeypatch, spy, fitkw=fitkw, **kw)
    assert spy == [False]
    assert_same(fast, general)


def test_prepare_panel_codes_do_not_depend_on_input_order():
    df = simulate(seed=7)
    df["unit"] = df["unit"] * 3 + 1000
    ref = prepare_panel(df.sample(frac=1.0, random_state=2), **COLS)    # sorted by pandas
    fast = prepare_panel(df, **COLS)                                    # already ordered: runs
    np.testing.assert_array_equal(fast.unit_code, ref.unit_code)
    np.testing.assert_array_equal(fast.unit_labels, ref.unit_labels)
    assert fast.unit_labels.dtype == ref.unit_labels.dtype
    assert fast.unit_code.dtype == ref.unit_code.dtype
    for name in ("y", "t", "g"):
        np.testing.assert_array_equal(getattr(fast, name), getattr(ref, name))
    pd.testing.assert_frame_equal(fast.frame, ref.frame)
    # float ids ordered within but not across units are sorted
    df2 = df.copy()
    df2["unit"] = df2["unit"].astype(float)
    df2 = pd.concat([df2.iloc[80:], df2.iloc[:80]])
    got = prepare_panel(df2, **COLS)
    assert (np.diff(got.frame["unit"]) >= 0).all()
    np.testing.assert_array_equal(got.unit_code, ref.unit_code)


def test_prepare_panel_checks_still_run_on_ordered_frames():
    from policyeval.exceptions import DuplicateObservationError, TreatmentTimingError

    df = simulate(seed=8)
    dup = pd.concat([df.iloc[:3], df.iloc[2:]]).reset_index(drop=True)   # ordered, one pair twice
    with pytest.raises(DuplicateObservationError, match=r"1 \(unit, t\) pairs appear more than once"):
        prepare_panel(dup, **COLS)
    varying = df.copy()
    varying.loc[varying.index[9], "g"] = 5                               # unit 1 (cohort 3) row 2
    with pytest.raises(TreatmentTimingError, match="varies within idname='unit' for 1 units"):
        prepare_panel(varying, **COLS)
    never = df.copy()
    never.loc[never.index[0], "g"] = np.nan                              # 0 and missing: both never
    assert prepare_panel(never, **COLS).n_units == df["unit"].nunique()
