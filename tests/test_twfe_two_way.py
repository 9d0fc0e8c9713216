"""The block-wise sufficient-statistics TWFE fit against the row-wise fit and dummy-variable OLS.

:func:`policyeval.estimators._two_way.fit_two_way` (unit + period effects, CR1 by unit)
must give the numbers of :func:`policyeval.estimators._fixed_effects.fit_fe_ols` (explicit
demeaning of every row) to 1e-10 on balanced and unbalanced panels, rows sorted or shuffled,
with a treatment column, a cohort-built treatment and covariates; and the coefficient of
OLS on explicit unit and period dummies (the slow obvious computation). SIMULATED data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyeval.estimators import _two_way as tw
from policyeval.estimators._fixed_effects import fit_fe_ols, prepare_fe_panel
from policyeval.estimators.twfe import TWFE


def _panel(n_units=60, n_times=7, drop=0.0, shuffle=False, seed=0):
    """SIMULATED staggered panel: unit and period effects, cohorts, a covariate."""
    rng = np.random.default_rng(seed)
    periods = np.arange(2001, 2001 + n_times)
    g = rng.choice([0, 2003, 2005, 2006, 2020], n_units)       # 2020: treated after the sample
    df = pd.DataFrame({"id": np.repeat(np.arange(100, 100 + n_units), n_times),
                       "year": np.tile(periods, n_units), "g": np.repeat(g, n_times)})
    df["x"] = rng.normal(size=len(df)) + np.repeat(rng.normal(size=n_units), n_times)
    df["D"] = ((df["g"] > 0) & (df["year"] >= df["g"])).astype(float)
    df["y"] = (np.repeat(rng.normal(size=n_units) * 5 + 40, n_times) + 0.3 * (df["year"] - 2000)
               + 1.5 * df["D"] + 0.4 * df["x"] + rng.normal(size=len(df)))
    if drop:
        df = df.loc[rng.random(len(df)) > drop]
    if shuffle:
        df = df.sample(frac=1.0, random_state=seed)
    return df.reset_index(drop=True)


def _reference(df, covariates=()):
    panel, _ = prepare_fe_panel(df, yname="y", tname="year", idname="id",
                                regressors=["D"], covariates=list(covariates), vcov="cluster",
                                estimator=None)
    X = np.column_stack([df.loc[panel.frame.index, c].to_numpy(float)
                         for c in ["D", *covariates]])
    return panel, fit_fe_ols(panel, X, ["ATT", *covariates], vcov="cluster", ssc="fixest")


CASES = [dict(), dict(shuffle=True), dict(drop=0.15), dict(drop=0.15, shuffle=True),
         dict(n_units=5, n_times=40, drop=0.3)]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items())
                         or "balanced")
@pytest.mark.parametrize("covariates", [(), ("x",)])
def test_two_way_equals_row_wise_fit(case, covariates):
    df = _panel(**case)
    panel, ref = _reference(df, covariates)
    assert tw.two_way_applies(panel, "cluster")
    cols = [panel.frame[c].to_numpy(float) for c in ["D", *covariates]]
    fast = tw.fit_two_way(panel, cols, ["ATT", *covariates], ssc="fixest")
    np.testing.assert_allclose(fast.params, ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.vcov, ref.vcov, rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(fast.influence, ref.influence, rtol=0, atol=1e-9)
    assert fast.cov.n_params == ref.cov.n_params and fast.cov.df_resid == ref.cov.df_resid


@pytest.mark.parametrize("case", CASES[:4], ids=str)
def test_cohort_built_treatment_equals_the_column(case):
    df = _panel(**case)
    panel, ref = _reference(df)
    from policyeval.estimators.twfe import _cohort_timing

    panel_g, _ = prepare_fe_panel(df, yname="y", tname="year", idname="id", gname="g",
                                  vcov="cluster", estimator=None)
    treated_from, _ = _cohort_timing(panel_g)
    fast = tw.fit_two_way(panel_g, [], ["ATT"], ssc="fixest", treated_from=treated_from)
    np.testing.assert_allclose(fast.params, ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.vcov, ref.vcov, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("drop", [0.0, 0.2])
def test_twfe_equals_dummy_variable_ols(drop):
    """The slow obvious computation: least squares on explicit unit and period dummies."""
    df = _panel(n_units=30, n_times=6, drop=drop, shuffle=True, seed=3)
    res = TWFE().fit(df, yname="y", tname="year", idname="id", gname="g", covariates="x")
    unit = pd.factorize(df["id"])[0]
    time = pd.factorize(df["year"], sort=True)[0]
    Xd = np.column_stack([df["D"], df["x"], np.eye(unit.max() + 1)[unit],
                          np.eye(time.max() + 1)[time][:, 1:]])
    beta = np.linalg.lstsq(Xd, df["y"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(res.params.to_numpy(), beta[:2], rtol=0, atol=1e-10)
    # CR1 by unit with fixest's K (unit effects nested in the clusters, fixef.K="nested":
    # T period levels and one level for the nested unit effects): K = 2 + T
    e = df["y"].to_numpy() - Xd @ beta
    bread = np.linalg.pinv(Xd.T @ Xd)[:2]
    S = np.vstack([np.bincount(unit, weights=Xd[:, j] * e) for j in range(Xd.shape[1])]).T
    G, n, K = unit.max() + 1, len(df), 2 + time.max() + 1
    V = G / (G - 1) * (n - 1) / (n - K) * bread @ S.T @ S @ bread.T
    np.testing.assert_allclose(res.std_errors.to_numpy(), np.sqrt(np.diag(V)), rtol=1e-9)


def test_twfe_uses_the_two_way_path_and_keeps_the_old_numbers(monkeypatch):
    """TWFE (gname, default CR1 by unit) goes through fit_two_way, and a cluster column
    that equals the unit but is not idname through the row-wise path: same numbers."""
    import policyeval.estimators.twfe as twfe_module

    calls = []
    real = twfe_module.fit_two_way
    monkeypatch.setattr(twfe_module, "fit_two_way", lambda *a, **k: calls.append(1) or real(*a, **k))
    df = _panel(drop=0.1, seed=5)
    fast = TWFE().fit(df, yname="y", tname="year", idname="id", gname="g")
    # a cluster column equal to the unit but not named idname: the row-wise path
    rowwise = TWFE(cluster="id_copy").fit(df.assign(id_copy=df["id"]), yname="y", tname="year",
                                          idname="id", gname="g")
    np.testing.assert_allclose(fast.params, rowwise.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.std_errors, rowwise.std_errors, rtol=1e-9)
    assert calls == [1]


def test_absorbed_and_collinear_regressors_are_refused_by_name():
    from policyeval.exceptions import EstimationError

    df = _panel(drop=0.1)
    df["unit_level"] = df["id"] * 0.5
    panel, _ = prepare_fe_panel(df, yname="y", tname="year", idname="id", regressors=["D"],
                                covariates=["unit_level"], vcov="cluster", estimator=None)
    cols = [panel.frame[c].to_numpy(float) for c in ["D", "unit_level"]]
    with pytest.raises(EstimationError, match="absorbed.*unit_level"):
        tw.fit_two_way(panel, cols, ["ATT", "unit_level"], ssc="fixest")
    cols = [panel.frame["D"].to_numpy(float), 2 * panel.frame["D"].to_numpy(float)]
    with pytest.raises(EstimationError, match="collinear"):
        tw.fit_two_way(panel, cols, ["ATT", "D2"], ssc="fixest")


def test_blocks_smaller_than_the_panel(monkeypatch):
    """Many blocks (a few units each) give the numbers of one block."""
    df = _panel(n_units=50, drop=0.2, seed=7)
    panel, ref = _reference(df)
    monkeypatch.setattr(tw, "BLOCK_CELLS", 20)
    fast = tw.fit_two_way(panel, [panel.frame["D"].to_numpy(float)], ["ATT"], ssc="fixest")
    np.testing.assert_allclose(fast.params, ref.params, rtol=0, atol=1e-10)
    np.testing.assert_allclose(fast.vcov, ref.vcov, rtol=1e-9, atol=1e-14)


# ---------------------------------------------------------------- input preparation fast paths

from policyeval.estimators import _fixed_effects as fe  # noqa: E402
from policyeval.estimators import _inputs as inputs  # noqa: E402
from policyeval.exceptions import PolicyevalError  # noqa: E402


@pytest.mark.parametrize("ids", [
    np.repeat([3, 7, 8, 20], [2, 3, 1, 4]),                 # sorted integers: the no-hash path
    np.array([5, 5, 2, 2, 9, 9, 2]),                         # unsorted
    np.array(["b", "b", "a", "c"], dtype=object),            # text
])
def test_unit_codes_equal_factorize(ids):
    unit, labels, starts = inputs.unit_codes(pd.Series(ids))
    ref_codes, ref_labels = pd.factorize(pd.Series(ids))
    np.testing.assert_array_equal(unit, ref_codes)
    np.testing.assert_array_equal(np.asarray(labels), np.asarray(ref_labels))
    if starts is not None:               # each unit's rows are starts[i]:starts[i + 1]
        np.testing.assert_array_equal(np.repeat(np.arange(len(starts) - 1), np.diff(starts)),
                                      unit)
    assert (starts is not None) == bool((np.diff(ref_codes) >= 0).all())


@pytest.mark.parametrize("t", [np.array([2003, 2001, 2002, 2001]), np.array([5, 9, 5, 7]),
                               np.array([10**9, 1, 5])])
def test_period_codes_equal_numpy_unique(t):
    periods, time = fe._period_codes(t)
    ref_periods, ref_time = np.unique(t, return_inverse=True)
    np.testing.assert_array_equal(periods, ref_periods)
    np.testing.assert_array_equal(time, ref_time)


@pytest.mark.parametrize("sort", [True, False])
def test_pairs_unique_equals_pandas_duplicated(sort):
    rng = np.random.default_rng(2)
    for _ in range(30):
        u = rng.integers(0, 6, 25)
        t = rng.integers(0, 4, 25)
        if sort:
            order = np.lexsort((t, u))
            u, t = u[order], t[order]
        unit, _, starts = inputs.unit_codes(pd.Series(u))
        time = np.unique(t, return_inverse=True)[1]
        expect = not pd.DataFrame({"u": u, "t": t}).duplicated().any()
        assert inputs.pairs_unique(unit, time, unit.max() + 1, time.max() + 1, starts) == expect


def _gname_error(df, path, monkeypatch):
    """The error TWFE raises for ``df`` on the unit-level or the row-wise path."""
    with monkeypatch.context() as m:
        if path == "rows":
            m.setattr(fe, "sorted_unit_cohorts", lambda *a, **k: None)
        try:
            TWFE().fit(df, yname="y", tname="year", idname="id", gname="g")
        except PolicyevalError as err:
            return type(err), str(err)
    return None


@pytest.mark.parametrize("bad", ["negative", "indicator", "varies"])
def test_gname_checks_once_per_unit_word_the_rows_errors(bad, monkeypatch):
    df = _panel(n_units=40)
    if bad == "negative":
        df.loc[df["id"].isin([105, 111]), "g"] = -1
    elif bad == "indicator":
        df["g"] = (df["g"] > 0).astype(int)
    else:
        df.loc[(df["id"] == 107) & (df["year"] == 2003), "g"] = 2004
    fast, slow = _gname_error(df, "units", monkeypatch), _gname_error(df, "rows", monkeypatch)
    assert fast is not None and fast == slow


def test_late_cohorts_note_and_the_callers_column_untouched(monkeypatch):
    df = _panel(n_units=40)
    before = df.copy()
    fast = TWFE().fit(df, yname="y", tname="year", idname="id", gname="g")
    with monkeypatch.context() as m:
        m.setattr(fe, "sorted_unit_cohorts", lambda *a, **k: None)
        slow = TWFE().fit(df, yname="y", tname="year", idname="id", gname="g")
    pd.testing.assert_frame_equal(df, before)
    notes = [n for n in fast.extra["notes"] if "after the last period" in n]
    assert notes and notes == [n for n in slow.extra["notes"] if "after the last period" in n]
    np.testing.assert_allclose(fast.params, slow.params, rtol=0, atol=1e-10)


@pytest.mark.parametrize("shuffle", [False, True])
def test_always_treated_warning_per_unit_equals_the_row_count(shuffle):
    """Units observed only once treated: the unit-level count and examples of the fast
    path are those of the row-wise count (cluster on a copy of the id: the row path)."""
    import warnings

    from policyeval.exceptions import EstimationWarning

    df = _panel(n_units=80, drop=0.0, seed=11, shuffle=shuffle)
    early = df["id"].isin([101, 104, 117, 130]) & (df["year"] < 2006)
    df = df.loc[~early].assign(id_copy=lambda d: d["id"])

    def messages(**kw):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            TWFE(**kw).fit(df, yname="y", tname="year", idname="id", gname="g")
        return [str(w.message) for w in rec if issubclass(w.category, EstimationWarning)
                and "every period" in str(w.message)]

    fast, rows = messages(), messages(cluster="id_copy")
    assert len(fast) == 1 and fast == rows


@pytest.mark.parametrize("weighted", [False, True])
def test_row_wise_unbalanced_absorption_equals_weighted_dummy_ols(weighted):
    """absorb_unit_time's bincount path on an unbalanced panel: the weighted residuals of
    least squares on explicit unit and period dummies."""
    rng = np.random.default_rng(4)
    unit = np.repeat(np.arange(30), 8)
    time = np.tile(np.arange(8), 30)
    keep = rng.random(len(unit)) > 0.3
    unit, time = pd.factorize(unit[keep])[0], time[keep]
    Z = rng.normal(size=(len(unit), 2)) + unit[:, None] * 0.7 - time[:, None] * 0.4
    w = rng.uniform(0.5, 2.0, len(unit)) if weighted else None
    out = fe.absorb_unit_time(Z, unit, time, w)
    D = np.column_stack([np.eye(unit.max() + 1)[unit], np.eye(time.max() + 1)[time][:, 1:]])
    sw = np.ones(len(unit)) if w is None else np.sqrt(w)
    beta = np.linalg.lstsq(D * sw[:, None], Z * sw[:, None], rcond=None)[0]
    np.testing.assert_allclose(out, Z - D @ beta, rtol=0, atol=1e-10)
