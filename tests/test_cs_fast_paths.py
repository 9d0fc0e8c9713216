"""Fast paths of CallawaySantAnna checked against the obvious computation (SIMULATED, seeded data).

* ``prepare`` on a panel stored as sorted unit blocks (reshapes, per-unit checks) against the
  general path (the same rows shuffled);
* ``cohort_feature_moments`` (one blocked pass) against per-cohort ``F'F`` with masks;
* ``att_panel_batch`` (influence as ``a_i R_ij + G_i.H_j``) against ``att_panel`` column by column;
* ``tall_matmul`` and ``BlockInfluence.combine`` against dense products;
* ``check_design``'s Gram shortcut against the SVD decision it replaces.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.estimators import _staggered_cov
from policyeval.estimators._staggered_data import _balanced_blocks, prepare
from policyeval.exceptions import DroppedObservationsWarning, EstimationError, EstimationWarning
from policyeval.inference import influence as infl_mod
from policyeval.inference.influence import BlockInfluence, cohort_feature_moments, tall_matmul


def _panel(n=400, T=7, seed=3, weights=False):
    """SIMULATED staggered panel in sorted unit blocks, never-treated coded 0."""
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2001 + T)
    g = rng.choice([0, 2003, 2005, 2006], n)
    x = rng.normal(size=n)
    df = pd.DataFrame({"id": np.repeat(np.arange(10, 10 + n), T), "year": np.tile(years, n),
                       "g": np.repeat(g, T), "x": np.repeat(x, T),
                       "state": np.repeat(rng.integers(0, 40, n), T)})
    treated = (df.g > 0) & (df.year >= df.g)
    df["y"] = (np.repeat(rng.normal(size=n), T) + 0.1 * (df.year - 2000) * (1 + 0.5 * df.x)
               + treated * 1.5 + rng.normal(size=len(df)))
    if weights:
        df["w"] = np.repeat(rng.uniform(0.5, 2.0, n), T)
    return df


def _shuffled(df):
    return df.sample(frac=1.0, random_state=7).reset_index(drop=True)


KW = dict(yname="y", tname="year", idname="id", gname="g")


@pytest.mark.parametrize("weights,cluster,covs", [(None, None, []), ("w", "state", ["x"]),
                                                  (None, "id", ["x"])])
def test_prepare_fast_layout_equals_general_path(weights, cluster, covs):
    df = _panel(weights=weights is not None)
    assert _balanced_blocks(df["id"].to_numpy(), df["year"].to_numpy(), df["g"]) is not None
    shuffled = _shuffled(df)
    assert _balanced_blocks(shuffled["id"].to_numpy(), shuffled["year"].to_numpy(), shuffled["g"]) is None
    opts = dict(covariates=covs, weights=weights, cluster=cluster, panel=True, allow_unbalanced_panel=False,
                control_group="never_treated", anticipation=0, **KW)
    fast, slow = prepare(df, **opts), prepare(shuffled, **opts)
    order = np.argsort(slow.ids)                  # the general path numbers units by first appearance
    np.testing.assert_array_equal(fast.ids, slow.ids[order])
    np.testing.assert_array_equal(fast.periods, slow.periods)
    np.testing.assert_array_equal(fast.group, slow.group[order])
    np.testing.assert_array_equal(fast.weights, slow.weights[order])
    np.testing.assert_array_equal(fast.outcomes, slow.outcomes[order])
    if covs:
        np.testing.assert_array_equal(fast.covariates, slow.covariates[:, order])
    if cluster not in (None, "id"):
        # same partition of units (codes may be numbered differently)
        pairs = set(zip(fast.cluster.tolist(), slow.cluster[order].tolist()))
        assert len(pairs) == fast.n_clusters == slow.n_clusters
    else:
        assert fast.cluster is None and slow.cluster is None
    assert (fast.nobs, fast.n_units, fast.n_clusters) == (slow.nobs, slow.n_units, slow.n_clusters)


@pytest.mark.parametrize("method,covs", [("dr", None), ("dr", ["x"]), ("ipw", ["x"]), ("reg", ["x"])])
def test_fit_on_sorted_blocks_equals_shuffled_rows(method, covs):
    df = _panel(weights=True)
    est = pe.CallawaySantAnna(method=method)
    a = est.fit(df, covariates=covs, weights="w", **KW)
    b = est.fit(_shuffled(df), covariates=covs, weights="w", **KW)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.std_errors.to_numpy(), b.std_errors.to_numpy(), rtol=1e-10, atol=1e-14)
    da, db = a.aggregate("dynamic"), b.aggregate("dynamic")
    np.testing.assert_allclose(da.params.to_numpy(), db.params.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(da.std_errors.to_numpy(), db.std_errors.to_numpy(), rtol=1e-10)


def test_never_treated_coded_missing_takes_the_fast_layout():
    df = _panel()
    df["g"] = df["g"].where(df["g"] > 0)                        # NaN for never treated
    assert _balanced_blocks(df["id"].to_numpy(), df["year"].to_numpy(), df["g"]) is not None
    a = pe.CallawaySantAnna().fit(df, **KW)
    b = pe.CallawaySantAnna().fit(_shuffled(df), **KW)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.std_errors.to_numpy(), b.std_errors.to_numpy(), rtol=1e-10)


def test_fast_layout_falls_back_with_every_warning():
    df = _panel()
    df.loc[df.id == 10, "g"] = 2001                          # treated in every period: dropped
    df.loc[df.id == 11, "g"] = 2050                          # first treated after the data: never treated
    assert _balanced_blocks(df["id"].to_numpy(), df["year"].to_numpy(), df["g"]) is not None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pe.CallawaySantAnna().fit(df, **KW)
    kinds = {type(w.message) for w in caught}
    assert DroppedObservationsWarning in kinds and EstimationWarning in kinds
    assert res.n_units == df.id.nunique() - 1


def test_fast_layout_errors_name_the_units():
    df = _panel()
    df["w"] = 1.0
    df.loc[(df.id == 12) & (df.year == 2004), "w"] = 2.0     # weight varies within unit 12
    with pytest.raises(Exception, match=r"weights='w' varies within idname='id'.*12"):
        pe.CallawaySantAnna().fit(df, weights="w", **KW)
    df = _panel()
    df["g"] = ((df.g > 0) & (df.year >= df.g)).astype(int)    # a 0/1 indicator passed as gname
    with pytest.raises(Exception, match="0 and 1"):
        pe.CallawaySantAnna().fit(df, **KW)


def test_cohort_feature_moments_equal_masked_products(monkeypatch):
    monkeypatch.setattr(infl_mod, "_MOMENT_BLOCK", 37)        # many blocks, uneven last one
    rng = np.random.default_rng(0)
    n, T, C = 1000, 5, 4
    Y, w = rng.normal(size=(n, T)), rng.uniform(0.2, 3.0, n)
    cohort = rng.integers(0, C, n)
    cohort[cohort == 2] = 1                                    # an empty cohort
    q = cohort_feature_moments(Y, w, cohort, C)
    F = np.column_stack([Y * w[:, None], w, np.ones(n)])
    for c in range(C):
        Fc = F[cohort == c]
        np.testing.assert_allclose(q[c], Fc.T @ Fc, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("method", ["reg", "ipw", "dr", "dr_imp"])
def test_att_panel_batch_equals_att_panel_per_column(method):
    rng = np.random.default_rng(5)
    n, m = 600, 4
    x = rng.normal(size=(n, 2))
    X = np.column_stack([np.ones(n), x])
    D = (rng.random(n) < 1 / (1 + np.exp(-0.5 * x[:, 0]))).astype(float)
    w = rng.uniform(0.5, 2.0, n)
    DY = rng.normal(size=(n, m)) + x @ rng.normal(size=(2, m)) + D[:, None]
    att, inf = _staggered_cov.att_panel_batch(DY.copy(), D, X, w, method)
    for j in range(m):
        a1, i1 = _staggered_cov.att_panel(DY[:, j], D, X, w, method)
        assert abs(att[j] - a1) < 1e-12
        np.testing.assert_allclose(inf[:, j], i1, rtol=1e-10, atol=1e-12)


def test_tall_matmul_equals_product(monkeypatch):
    monkeypatch.setattr(infl_mod, "_MATMUL_WORK", 10)          # blocks of the minimum 256 rows
    rng = np.random.default_rng(1)
    A, B = rng.normal(size=(1000, 3)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(tall_matmul(A, B), A @ B, rtol=1e-14)
    out = rng.normal(size=(1500, 4))
    rows = np.sort(rng.choice(1500, 1000, replace=False))
    expect = out.copy()
    expect[rows] += A @ B
    np.testing.assert_allclose(tall_matmul(A, B, out=out.copy(), rows=rows), expect, rtol=1e-14)


def test_block_influence_combine_equals_dense():
    rng = np.random.default_rng(2)
    n, k = 300, 6
    cohort = rng.integers(0, 3, n)
    w = rng.uniform(0.5, 2.0, n)
    blocks = []
    for b, cols in enumerate(([0, 1, 2], [3, 4, 5])):
        rows = np.flatnonzero((cohort == b) | (cohort == 2))
        blocks.append((rows, np.array(cols), rng.normal(size=(len(rows), 3))))
    bi = BlockInfluence(n, k, blocks, cohort, w)
    W = rng.normal(size=(k, 2))
    cc = rng.normal(size=(3, 2))
    dense = bi.to_dense() @ W + w[:, None] * cc[cohort]
    np.testing.assert_allclose(bi.combine(W, cohort_coef=cc).to_dense(), dense, rtol=1e-13, atol=1e-13)


def _svd_decision(X):
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    s = np.linalg.svd(X / scale, compute_uv=False)
    return s[-1] <= s[0] * 1e-10


@pytest.mark.parametrize("eps", [1.0, 1e-3, 1e-6, 1e-9, 1e-12, 0.0])
def test_check_design_shortcut_decides_as_the_svd(eps):
    rng = np.random.default_rng(4)
    x1 = rng.normal(size=5000)
    X = np.column_stack([np.ones(5000), x1, 2 * x1 + eps * rng.normal(size=5000)])
    if _svd_decision(X):
        with pytest.raises(EstimationError, match="collinear"):
            _staggered_cov.check_design(X, ["a", "b"], "here")
    else:
        _staggered_cov.check_design(X, ["a", "b"], "here")

