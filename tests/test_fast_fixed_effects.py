"""Fast paths of the fixed-effects machinery against the slow obvious computations.

* closed-form two-way demeaning of a balanced panel against OLS on unit and
  period dummies (and against the general Frisch-Waugh-Lovell path);
* the hashed (unit, period) duplicate check and period coding against pandas
  ``duplicated`` and ``numpy.unique``;
* the integer-range cluster coding and the nesting test against
  ``pandas.factorize`` and ``drop_duplicates``;
* the cluster meat by bincount against the sparse indicator product.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyeval._validation import duplicated_unit_periods
from policyeval.estimators import _fixed_effects as fe
from policyeval.estimators.twfe import TWFE
from policyeval.inference import covariance as cov
from policyeval.inference.few_treated import count_treated


def _dummy_residuals(Z, unit, time):
    D = np.column_stack([np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]])
    beta = np.linalg.lstsq(D, Z, rcond=None)[0]
    return Z - D @ beta


def _balanced(n_units=40, n_times=7, seed=0, shuffle=True):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(n_times), n_units)
    if shuffle:
        order = rng.permutation(len(unit))
        unit, time = unit[order], time[order]
    Z = rng.normal(size=(len(unit), 3)) + unit[:, None] * 0.3 - time[:, None] * 0.2
    return Z, unit, time


def test_closed_form_demeaning_equals_dummy_regression():
    Z, unit, time = _balanced()
    fast = fe.absorb_unit_time(Z, unit, time)
    np.testing.assert_allclose(fast, _dummy_residuals(Z, unit, time), atol=1e-10, rtol=0)
    general = fe.absorb_unit_time(Z, unit, time, weights=np.ones(len(unit)))  # the FWL path
    np.testing.assert_allclose(fast, general, atol=1e-10, rtol=0)


def test_unbalanced_panel_takes_the_exact_general_path():
    Z, unit, time = _balanced(seed=1)
    keep = np.random.default_rng(2).random(len(unit)) > 0.2
    Z, unit, time = Z[keep], unit[keep], time[keep]
    unit = pd.factorize(unit)[0]
    assert not fe._each_pair_once(unit, time, time.max() + 1) or len(unit) < (unit.max() + 1) * (time.max() + 1)
    np.testing.assert_allclose(fe.absorb_unit_time(Z, unit, time), _dummy_residuals(Z, unit, time),
                               atol=1e-10, rtol=0)


def test_duplicate_pairs_and_period_codes_match_pandas_and_numpy():
    rng = np.random.default_rng(3)
    unit = rng.integers(0, 50, 600)
    t = rng.choice([2003, 2001, 2010, 2002], 600).astype(float)
    periods, time = fe._period_codes(t)
    ref_periods, ref_time = np.unique(t.astype(np.int64), return_inverse=True)
    np.testing.assert_array_equal(periods, ref_periods)
    np.testing.assert_array_equal(time, ref_time)
    expect = pd.DataFrame({"u": unit, "t": time}).duplicated(keep=False).to_numpy()
    assert expect.any()
    # the one duplicate-key check of the input layer (policyeval/_validation.py)
    np.testing.assert_array_equal(duplicated_unit_periods(unit, time), expect)
    # very wide unit codes (a huge unit x period grid) agree too
    np.testing.assert_array_equal(duplicated_unit_periods(unit * 10**6, time), expect)
    once = ~expect
    assert not duplicated_unit_periods(unit[once], time[once]).any()


@pytest.mark.parametrize("labels", [
    np.array([5, 9, 5, 7, 9, 9, 12]),
    np.array([-3, 4, 4, -3, 0]),
    np.array([10**12, 3, 10**12]),           # too wide a range: hashed
    np.array(["b", "a", "b", "c"], dtype=object),
])
def test_cluster_codes_are_the_factorize_partition(labels):
    codes = cov._codes(labels)
    ref = pd.factorize(pd.Series(labels))[0]
    assert codes.min() == 0 and codes.max() == ref.max()
    # same partition: a code maps to exactly one reference code and back
    assert len(set(zip(codes, ref))) == len(set(ref))


def test_nesting_test_matches_drop_duplicates():
    rng = np.random.default_rng(4)
    inner = rng.integers(0, 30, 400)
    outer_nested = inner // 3
    outer_not = rng.integers(0, 5, 400)
    for outer in (outer_nested, outer_not):
        pairs = pd.DataFrame({"i": inner, "o": outer}).drop_duplicates()
        expect = len(pairs) == pairs["i"].nunique()
        assert cov._is_nested(cov._codes(inner), cov._codes(outer)) == expect
    assert cov._is_nested(cov._codes(inner), cov._codes(outer_nested))


def test_cluster_meat_bincount_equals_indicator_product():
    rng = np.random.default_rng(5)
    scores = rng.normal(size=(500, 3))
    codes = rng.integers(0, 37, 500)
    meat, groups = cov._cluster_meat(scores, codes)
    S = np.zeros((37, 3))
    np.add.at(S, codes, scores)
    np.testing.assert_allclose(meat, S.T @ S, rtol=1e-12)
    assert groups == 37


def test_twfe_balanced_fast_path_equals_dummy_ols_with_cr1():
    rng = np.random.default_rng(6)
    n, T = 60, 6
    g = rng.choice([0, 3, 5], n)
    df = pd.DataFrame({"id": np.repeat(np.arange(n) + 100, T), "year": np.tile(np.arange(1, T + 1), n),
                       "g": np.repeat(g, T)})
    d = ((df.g > 0) & (df.year >= df.g)).to_numpy(float)
    df["y"] = rng.normal(size=len(df)) + 0.5 * d + np.repeat(rng.normal(size=n), T)
    df = df.sample(frac=1, random_state=1)            # row order must not matter
    res = TWFE().fit(df, yname="y", tname="year", idname="id", gname="g")
    # slow obvious: OLS on treatment + unit and year dummies, CR1 by unit with fixest's small
    # sample K: the slope, the T period effects, and the unit effects (nested in the unit
    # clusters) counted as a single level
    unit = pd.factorize(df["id"])[0]
    time = pd.factorize(df["year"], sort=True)[0]
    dd = ((df.g > 0) & (df.year >= df.g)).to_numpy(float)
    X = np.column_stack([dd, np.eye(n)[unit], np.eye(T)[time][:, 1:]])
    beta, *_ = np.linalg.lstsq(X, df["y"].to_numpy(), rcond=None)
    e = df["y"].to_numpy() - X @ beta
    bread = np.linalg.pinv(X.T @ X)
    S = np.zeros((n, X.shape[1]))
    np.add.at(S, unit, X * e[:, None])
    N = len(e)
    K = 1 + T
    V = n / (n - 1) * (N - 1) / (N - K) * bread @ (S.T @ S) @ bread
    assert res.params.iloc[0] == pytest.approx(beta[0], abs=1e-10)
    assert res.std_errors.iloc[0] == pytest.approx(np.sqrt(V[0, 0]), rel=1e-8)


def test_count_treated_from_treatment_matches_cohort_route():
    rng = np.random.default_rng(7)
    n, T = 50, 5
    g = rng.choice([0, 2, 4], n)
    unit = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(1, T + 1), n)
    d = ((np.repeat(g, T) > 0) & (t >= np.repeat(g, T))).astype(float)
    a = count_treated(unit, treatment=d, time=t)
    b = count_treated(unit, np.repeat(g, T))
    assert (a.total, a.n_units) == (b.total, b.n_units) == (int((g > 0).sum()), n)
    pd.testing.assert_series_equal(a.by_cohort, b.by_cohort, check_index_type=False)


def test_duplicated_unit_periods_matches_pandas():
    rng = np.random.default_rng(8)
    df = pd.DataFrame({"id": rng.choice(["a", "b", "c", "d"], 300), "t": rng.integers(2000, 2040, 300)})
    expect = df.duplicated(["id", "t"], keep=False).to_numpy()
    assert expect.any() and not expect.all()
    np.testing.assert_array_equal(duplicated_unit_periods(df["id"], df["t"]), expect)
    once = df.loc[~expect]
    assert not duplicated_unit_periods(once["id"], once["t"]).any()


def test_alternating_projections_equal_the_exact_unbalanced_path(monkeypatch):
    Z, unit, time = _balanced(n_units=60, n_times=9, seed=9)
    rng = np.random.default_rng(10)
    keep = rng.random(len(unit)) > 0.25
    Z, unit, time = Z[keep], pd.factorize(unit[keep])[0], time[keep]
    w = rng.uniform(0.5, 2.0, len(unit))
    for weights in (None, w):
        exact = fe.absorb_unit_time(Z, unit, time, weights)
        monkeypatch.setattr(fe, "_EXACT_MAX_PERIODS", 1)
        fast = fe.absorb_unit_time(Z, unit, time, weights)
        monkeypatch.setattr(fe, "_EXACT_MAX_PERIODS", 2000)
        np.testing.assert_allclose(fast, exact, atol=1e-10, rtol=0)


def _cr1_reference(panel, X, ssc):
    """Slow route: general demeaning, count_parameters and sandwich_covariance on the raw ids."""
    Z = fe.absorb_unit_time(np.column_stack([panel.y, X]), panel.unit, panel.time, panel.weights)
    sw = None if panel.weights is None else np.sqrt(panel.weights)
    if sw is not None:
        Z = Z * sw[:, None]
    yt, Xt = Z[:, 0], Z[:, 1:]
    bread = np.linalg.inv(Xt.T @ Xt)
    beta = bread @ (Xt.T @ yt)
    e = yt - Xt @ beta
    corr = cov.resolve_ssc(ssc)
    K = cov.count_parameters(Xt.shape[1], [panel.unit, panel.time], panel.clusters, corr.fixef_k)
    V = cov.sandwich_covariance(Xt, e, clusters=panel.clusters, n_params=K, ssc=corr, bread=bread)
    return beta, V


@pytest.mark.parametrize("ssc", ["fixest", "full", "none"])
@pytest.mark.parametrize("drop", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_unit_cluster_shortcut_equals_sandwich_on_raw_ids(ssc, drop, weighted):
    rng = np.random.default_rng(11)
    n, T = 45, 6
    g = rng.choice([0, 2003, 2005], n)
    df = pd.DataFrame({"id": np.repeat(rng.permutation(n) * 7 + 1000, T),
                       "year": np.tile(np.arange(2001, 2001 + T), n), "g": np.repeat(g, T)})
    df["x"] = rng.normal(size=len(df))
    df["w"] = rng.uniform(0.5, 2, len(df))
    df["y"] = rng.normal(size=len(df)) + np.repeat(rng.normal(size=n), T)
    if drop:                                           # unbalanced: the general path
        df = df.loc[rng.random(len(df)) > 0.15]
    df = df.sample(frac=1, random_state=2)
    panel, _ = fe.prepare_fe_panel(df, yname="y", tname="year", idname="id", gname="g",
                                   covariates=["x"], weights="w" if weighted else None,
                                   estimator=None)
    assert panel.cluster_is_unit
    t = panel.periods[panel.time]
    X = np.column_stack([((panel.cohort > 0) & (t >= panel.cohort)).astype(float),
                         panel.frame["x"].to_numpy()])
    fit = fe.fit_fe_ols(panel, X, ["ATT", "x"], vcov="cluster", ssc=ssc)
    beta, V = _cr1_reference(panel, X, ssc)
    np.testing.assert_allclose(fit.params.to_numpy(), beta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fit.vcov.to_numpy(), V.vcov, rtol=1e-10, atol=1e-16)
    assert (fit.cov.n_params, fit.cov.df_resid, fit.cov.n_clusters) == \
        (V.n_params, V.df_resid, V.n_clusters)


def test_twfe_counts_treated_per_unit_like_the_row_route():
    rng = np.random.default_rng(12)
    n, T = 30, 5
    unit = np.repeat(np.arange(n), T)
    t = np.tile(np.arange(2001, 2001 + T), n)
    d = (rng.random(n * T) < 0.3).astype(float)        # switching, some units never on
    keep = rng.random(n * T) > 0.2
    order = rng.permutation(int(keep.sum()))
    unit, t, d = unit[keep][order], t[keep][order], d[keep][order]
    periods, time = np.unique(t, return_inverse=True)
    panel = fe.FEPanel(frame=pd.DataFrame({"id": unit}), y=np.zeros(len(unit)), unit=unit,
                       time=time, periods=periods, weights=None, clusters=[unit], cohort=None)
    from policyeval.estimators.twfe import _first_treated_period

    a = count_treated(None, cohort=_first_treated_period(panel, d))
    b = count_treated(unit, treatment=d, time=t)
    assert (a.total, a.n_units) == (b.total, b.n_units)
    assert 0 < a.total < n
    pd.testing.assert_series_equal(a.by_cohort, b.by_cohort, check_index_type=False)


def test_one_way_cluster_covariance_is_sandwich_one_way():
    rng = np.random.default_rng(13)
    X, e = rng.normal(size=(200, 3)), rng.normal(size=200)
    g = rng.integers(0, 23, 200)
    B = np.linalg.inv(X.T @ X)
    S = np.zeros((23, 3))
    np.add.at(S, g, X * e[:, None])
    for ssc in ("fixest", "none"):
        a = cov.one_way_cluster_covariance(S, 200, 5, ssc, B)
        b = cov.sandwich_covariance(X, e, clusters=[g], n_params=5, ssc=ssc)
        np.testing.assert_allclose(a.vcov, b.vcov, rtol=1e-12)
        assert (a.df_resid, a.n_clusters) == (b.df_resid, b.n_clusters)


def _event_panel(n=80, T=9, seed=21, never=True):
    rng = np.random.default_rng(seed)
    g = rng.choice([0, 2003, 2005, 2008] if never else [2003, 2005, 2008], n)
    df = pd.DataFrame({"id": np.repeat(rng.permutation(n) * 3 + 7, T),
                       "year": np.tile(np.arange(2001, 2001 + T), n), "g": np.repeat(g, T)})
    e = np.where(df.g > 0, df.year - df.g, -99)
    df["y"] = (rng.normal(size=len(df)) + np.repeat(rng.normal(size=n), T) + 0.1 * df.year
               + np.where(e >= 0, 0.3 + 0.1 * e, 0.0))
    return df.sample(frac=1, random_state=seed)


def _dense(influence):
    return influence if isinstance(influence, np.ndarray) else influence.to_dense()


def _both_event_fits(monkeypatch, est, df, **kw):
    from policyeval.estimators import twfe as twfe_mod

    fast = est.fit(df, "y", "year", "id", "g", **kw)
    with monkeypatch.context() as m:
        m.setattr(twfe_mod, "balanced_dummy_fit_applies", lambda *a, **k: False)
        dense = est.fit(df, "y", "year", "id", "g", **kw)
    return fast, dense


@pytest.mark.parametrize("opts", [dict(window=None), dict(window=(-3, 2)),
                                  dict(window=(-4, 4), reference=(-1, -4)),
                                  dict(window=None, ssc="full"), dict(window=(-2, 3), ssc="none")])
def test_event_study_sufficient_statistics_equal_the_dense_dummies(monkeypatch, opts):
    from policyeval.estimators.twfe import EventStudy
    from policyeval.estimators import _fixed_effects as fe_mod

    df = _event_panel()
    calls = []
    real = fe_mod.fit_balanced_dummies
    from policyeval.estimators import twfe as twfe_mod

    monkeypatch.setattr(twfe_mod, "fit_balanced_dummies",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    fast, dense = _both_event_fits(monkeypatch, EventStudy(**opts), df)
    assert calls == [1]                                 # the fast path ran once, the dense once
    assert list(fast.params.index) == list(dense.params.index)
    np.testing.assert_allclose(fast.params, dense.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.std_errors, dense.std_errors, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.vcov, dense.vcov, rtol=0, atol=1e-12)
    np.testing.assert_allclose(fast.influence.to_dense(), dense.influence.to_dense(), rtol=0,
                               atol=1e-9)
    # the factored influence's covariance comes from the per-cohort moments cached by the fit
    np.testing.assert_allclose(fast.influence.vcov(), dense.influence.vcov(), rtol=0, atol=1e-12)
    fresh = type(fast.influence)(fast.influence.outcomes, fast.influence.weights,
                                 fast.influence.cohort, fast.influence.coef)
    np.testing.assert_allclose(fast.influence.moments, fresh.moments, rtol=1e-12, atol=1e-9)
    assert fast.extra["df_all"] == dense.extra["df_all"]
    assert fast.extra["n_params_ssc"] == dense.extra["n_params_ssc"]
    assert fast.nobs == dense.nobs and fast.n_units == dense.n_units


def test_event_study_fast_path_falls_back_and_refuses_like_the_dense_one(monkeypatch):
    from policyeval.estimators import twfe as twfe_mod
    from policyeval.exceptions import EstimationError
    from policyeval.estimators.twfe import EventStudy

    calls = []
    real = twfe_mod.fit_balanced_dummies
    monkeypatch.setattr(twfe_mod, "fit_balanced_dummies",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    df = _event_panel()
    EventStudy(window=None, vcov="hetero").fit(df, "y", "year", "id", "g")
    EventStudy(window=None).fit(df.iloc[5:], "y", "year", "id", "g")          # unbalanced
    assert calls == []
    # no never-treated unit: the fully dynamic model is not identified, both paths say so
    df = _event_panel(never=False)
    msgs = []
    for patch in (False, True):
        with monkeypatch.context() as m:
            if patch:
                m.setattr(twfe_mod, "balanced_dummy_fit_applies", lambda *a, **k: False)
            with pytest.raises(EstimationError, match="collinear") as info:
                EventStudy(window=None).fit(df, "y", "year", "id", "g")
            msgs.append(str(info.value))
    assert calls == [1]
    # which term the pivoted Cholesky names depends on rounding (ties); the refusal does not
    assert all(m.startswith("the regressors are collinear given the unit and period fixed effects")
               for m in msgs)


@pytest.mark.parametrize("opts,always", [(dict(), False), (dict(control_group="last_treated"), False),
                                         (dict(), True), (dict(reference=(-1, -3)), False),
                                         (dict(ssc="full"), False)])
def test_sun_abraham_sufficient_statistics_equal_the_dense_cells(monkeypatch, opts, always):
    import warnings

    from policyeval.estimators import sun_abraham as sa_mod

    df = _event_panel(seed=22)
    if always:                                          # dropped whole units: still balanced
        df.loc[df.id.isin(df.id.unique()[:3]), "g"] = 2001
    calls = []
    real = sa_mod.fit_balanced_dummies
    monkeypatch.setattr(sa_mod, "fit_balanced_dummies",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fast = sa_mod.SunAbraham(**opts).fit(df, "y", "year", "id", "g")
        with monkeypatch.context() as m:
            m.setattr(sa_mod, "balanced_dummy_fit_applies", lambda *a, **k: False)
            dense = sa_mod.SunAbraham(**opts).fit(df, "y", "year", "id", "g")
    assert calls == [1]
    assert list(fast.params.index) == list(dense.params.index)
    np.testing.assert_allclose(fast.params, dense.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.std_errors, dense.std_errors, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.extra["cell_params"], dense.extra["cell_params"], rtol=0,
                               atol=1e-10)
    np.testing.assert_allclose(fast.extra["cell_vcov"], dense.extra["cell_vcov"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(_dense(fast.extra["cell_influence"]),
                               _dense(dense.extra["cell_influence"]), rtol=0, atol=1e-9)
    np.testing.assert_allclose(fast.influence.to_dense(), dense.influence.to_dense(), rtol=0,
                               atol=1e-9)
    for kind in ("simple", "group"):                    # aggregation keeps the factored form
        a, b = fast.aggregate(kind), dense.aggregate(kind)
        np.testing.assert_allclose(a.std_errors, b.std_errors, rtol=0, atol=1e-10)
        np.testing.assert_allclose(a.influence.to_dense(), b.influence.to_dense(), rtol=0,
                                   atol=1e-9)
    assert fast.extra["n_clusters"] == dense.extra["n_clusters"]
    assert fast.nobs == dense.nobs and fast.df_resid == dense.df_resid


def test_event_times_and_unit_cohorts_shortcuts_match_numpy_and_the_row_counts():
    from policyeval.estimators.twfe import _sorted_distinct, _unit_cohorts

    rng = np.random.default_rng(30)
    v = rng.integers(-7, 9, 400)
    np.testing.assert_array_equal(_sorted_distinct(v), np.unique(v))
    assert _sorted_distinct(v[:0]).size == 0
    df = _event_panel(seed=31)
    panel, _ = fe.prepare_fe_panel(df, yname="y", tname="year", idname="id", gname="g",
                                   estimator=None)
    a = count_treated(None, cohort=_unit_cohorts(panel))
    b = count_treated(panel.unit, panel.cohort)
    assert (a.total, a.n_units) == (b.total, b.n_units) and 0 < a.total < a.n_units
    pd.testing.assert_series_equal(a.by_cohort, b.by_cohort, check_index_type=False)


@pytest.mark.parametrize("path", ["fit_two_way", "fit_balanced_dummies"])
@pytest.mark.parametrize("ssc", ["fixest", "none"])
def test_twfe_gname_sufficient_statistics_equal_the_dense_fit(monkeypatch, ssc, path):
    from policyeval.estimators import twfe as twfe_mod

    df = _event_panel(seed=40)
    calls = []
    real = getattr(twfe_mod, path)
    monkeypatch.setattr(twfe_mod, path, lambda *a, **k: calls.append(1) or real(*a, **k))
    with monkeypatch.context() as m:
        if path == "fit_balanced_dummies":       # the block-wise path comes first otherwise
            m.setattr(twfe_mod, "two_way_applies", lambda *a, **k: False)
        fast = twfe_mod.TWFE(ssc=ssc).fit(df, "y", "year", "id", gname="g")
    with monkeypatch.context() as m:
        m.setattr(twfe_mod, "two_way_applies", lambda *a, **k: False)
        m.setattr(twfe_mod, "balanced_dummy_fit_applies", lambda *a, **k: False)
        dense = twfe_mod.TWFE(ssc=ssc).fit(df, "y", "year", "id", gname="g")
    assert calls == [1]
    np.testing.assert_allclose(fast.params, dense.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.std_errors, dense.std_errors, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.influence.to_dense(), dense.influence.to_dense(), rtol=0,
                               atol=1e-9)
    assert fast.extra["n_params_ssc"] == dense.extra["n_params_ssc"]


def test_group_table_reads_one_unit_per_cohort_and_reproduces_every_row():
    df = _event_panel(seed=50)
    panel, _ = fe.prepare_fe_panel(df, yname="y", tname="year", idname="id", gname="g",
                                   estimator=None)
    e = np.where(panel.cohort > 0, panel.periods[panel.time] - panel.cohort, 99)
    col = np.where((e >= -2) & (e <= 3), e + 2, -1)
    unit_group, table = fe._group_table(panel, col)
    np.testing.assert_array_equal(table[unit_group[panel.unit], panel.time], col)
    assert table.shape == (len(np.unique(panel.cohort)), len(panel.periods))


@pytest.mark.parametrize("estimator,opts,table", [
    ("EventStudy", dict(window=None), True), ("EventStudy", dict(window=(-2, 2)), True),
    ("EventStudy", dict(window=(-2, 2), bin_endpoints=False), None),
    ("SunAbraham", dict(), True), ("SunAbraham", dict(control_group="last_treated"), False)])
def test_balanced_fits_take_the_cohort_table_unless_rows_are_dropped(monkeypatch, estimator,
                                                                     opts, table):
    """A balanced panel with nothing dropped reaches the fit as a cohorts x periods table
    (``col=None``); dropping rows goes by rows: the last-treated periods (still balanced, the
    fast fit from a row column) or a window without bins (unbalanced: the dense fit)."""
    import warnings

    from policyeval.estimators import sun_abraham as sa_mod
    from policyeval.estimators import twfe as twfe_mod

    mod = twfe_mod if estimator == "EventStudy" else sa_mod
    seen = []
    real = mod.fit_balanced_dummies
    monkeypatch.setattr(mod, "fit_balanced_dummies",
                        lambda panel, col, *a, **k: seen.append(col is None) or real(panel, col, *a, **k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(mod, estimator)(**opts).fit(_event_panel(seed=60), "y", "year", "id", "g")
    assert seen == ([] if table is None else [table])
