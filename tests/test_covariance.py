"""policyeval.inference.covariance against textbook formulas and statsmodels.

The sandwich is recomputed here by hand, cluster by cluster in a Python loop
(the slow obvious way), and compared with the vectorised module; the
no-fixed-effect cases are compared with statsmodels, whose conventions are
documented (HC1, cluster with ``use_correction=True``).
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from policyeval.exceptions import ArgumentTypeError, EstimationError
from policyeval.inference.covariance import (
    SmallSampleCorrection,
    count_parameters,
    linear_combination,
    resolve_ssc,
    sandwich_covariance,
)


@pytest.fixture
def ols_data():
    rng = np.random.default_rng(20240501)
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    g1 = rng.integers(0, 25, n)
    g2 = rng.integers(0, 7, n)
    # cluster-correlated errors so the cluster matrices differ from HC
    e = rng.normal(size=n) + rng.normal(size=25)[g1] + 0.5 * rng.normal(size=7)[g2]
    y = X @ np.array([1.0, 0.5, -0.3]) + e
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return X, y - X @ beta, g1, g2


def _hand_cluster(X, e, groups):
    """sum_g (X_g' e_g)(X_g' e_g)' by an explicit loop over clusters."""
    meat = np.zeros((X.shape[1], X.shape[1]))
    for g in np.unique(groups):
        s = X[groups == g].T @ e[groups == g]
        meat += np.outer(s, s)
    return meat, len(np.unique(groups))


def test_one_way_cluster_equals_textbook_sandwich(ols_data):
    X, e, g1, _ = ols_data
    n, k = X.shape
    B = np.linalg.inv(X.T @ X)
    meat, G = _hand_cluster(X, e, g1)
    expected = G / (G - 1) * (n - 1) / (n - k) * B @ meat @ B
    got = sandwich_covariance(X, e, clusters=[g1], ssc="fixest")
    np.testing.assert_allclose(got.vcov, expected, rtol=1e-12)
    assert got.df_resid == G - 1 and got.n_clusters == (G,)
    raw = sandwich_covariance(X, e, clusters=[g1], ssc="none").vcov
    np.testing.assert_allclose(raw, B @ meat @ B, rtol=1e-12)


def test_one_way_cluster_matches_statsmodels(ols_data):
    X, e, g1, _ = ols_data
    y = X @ np.ones(3) + e
    fit = sm.OLS(y, X).fit(cov_type="cluster", cov_kwds={"groups": g1, "use_correction": True})
    got = sandwich_covariance(X, fit.resid, clusters=[g1])
    np.testing.assert_allclose(got.vcov, fit.cov_params(), rtol=1e-10)


def test_hetero_and_iid_match_statsmodels(ols_data):
    X, e, _, _ = ols_data
    y = X @ np.array([0.2, 1.0, 2.0]) + e
    hc1 = sm.OLS(y, X).fit(cov_type="HC1")
    np.testing.assert_allclose(
        sandwich_covariance(X, hc1.resid, kind="hetero").vcov, hc1.cov_params(), rtol=1e-10
    )
    iid = sm.OLS(y, X).fit()
    got = sandwich_covariance(X, iid.resid, kind="iid")
    np.testing.assert_allclose(got.vcov, iid.cov_params(), rtol=1e-10)
    assert got.df_resid == len(y) - X.shape[1]


@pytest.mark.parametrize("cluster_df", ["min", "conventional"])
def test_two_way_cluster_is_inclusion_exclusion(ols_data, cluster_df):
    X, e, g1, g2 = ols_data
    n, k = X.shape
    B = np.linalg.inv(X.T @ X)
    inter = g1 * 100 + g2
    parts = [_hand_cluster(X, e, g) for g in (g1, g2, inter)]
    g_min = min(parts[0][1], parts[1][1])

    def factor(G):
        G = g_min if cluster_df == "min" else G
        return G / (G - 1)

    meat = sum(sign * factor(G) * m for sign, (m, G) in zip((1, 1, -1), parts))
    expected = (n - 1) / (n - k) * B @ meat @ B
    ssc = SmallSampleCorrection(cluster_df=cluster_df)
    got = sandwich_covariance(X, e, clusters=[g1, g2], ssc=ssc)
    assert np.linalg.eigvalsh(expected).min() > 0  # so no eigenvalue repair applies here
    np.testing.assert_allclose(got.vcov, expected, rtol=1e-10)
    assert got.df_resid == g_min - 1


def test_count_parameters_follows_fixest_nesting_rules():
    n_units, n_times = 12, 5
    unit = np.repeat(np.arange(n_units), n_times)
    time = np.tile(np.arange(n_times), n_units)
    state = unit // 4  # units nested in 3 states
    fes = [unit, time]
    full = 2 + n_units + n_times - 1
    assert count_parameters(2, fes, None, "nested") == full  # no clusters: count everything
    assert count_parameters(2, fes, [unit], "full") == full
    assert count_parameters(2, fes, [unit], "none") == 2
    assert count_parameters(2, fes, [unit], "nested") == 2 + n_times
    assert count_parameters(2, fes, [state], "nested") == 2 + n_times
    assert count_parameters(2, fes, [time], "nested") == 2 + n_units
    assert count_parameters(2, fes, [unit, time], "nested") == 2 + 1


def test_linear_combination_is_w_beta_and_w_v_w():
    beta = np.array([1.0, 2.0, 3.0])
    V = np.diag([1.0, 4.0, 9.0])
    W = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
    est, cov = linear_combination(W, beta, V)
    np.testing.assert_allclose(est, [1.5, 3.0])
    np.testing.assert_allclose(cov, [[1.25, 0.0], [0.0, 9.0]])


def test_bad_arguments_raise_clear_errors(ols_data):
    X, e, g1, _ = ols_data
    with pytest.raises(ValueError, match="ssc='stata' is not a known small-sample convention"):
        resolve_ssc("stata")
    with pytest.raises(ArgumentTypeError, match="ssc must be a preset name"):
        resolve_ssc(3)
    with pytest.raises(ValueError, match="fixef_k='some'"):
        SmallSampleCorrection(fixef_k="some")
    with pytest.raises(EstimationError, match="needs at least one cluster variable"):
        sandwich_covariance(X, e, kind="cluster")
    with pytest.raises(EstimationError, match="at least 2 clusters; found 1"):
        sandwich_covariance(X, e, clusters=[np.zeros(len(e))])
    with pytest.raises(EstimationError, match="no degrees of freedom"):
        sandwich_covariance(X[:3], e[:3], kind="hetero")
    with pytest.raises(ValueError, match="kind='robust'"):
        sandwich_covariance(X, e, kind="robust")


def test_two_way_cluster_repairs_a_non_psd_matrix():
    # seed found by search: V_1 + V_2 - V_12 has a negative eigenvalue on these data
    rng = np.random.default_rng(6)
    X, e = rng.normal(size=(12, 2)), rng.normal(size=12)
    g1, g2 = rng.integers(0, 3, 12), rng.integers(0, 3, 12)

    def raw(groups):
        return sandwich_covariance(X, e, clusters=[groups], ssc="none").vcov

    naive = raw(g1) + raw(g2) - raw(g1 * 10 + g2)
    vals, vecs = np.linalg.eigh(naive)
    assert vals.min() < 0
    got = sandwich_covariance(X, e, clusters=[g1, g2], ssc="none").vcov
    np.testing.assert_allclose(got, (vecs * np.clip(vals, 0, None)) @ vecs.T, atol=1e-14)
