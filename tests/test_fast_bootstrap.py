"""The fast multiplier bootstrap against the obvious computation.

The obvious computation draws the ``draws x clusters`` multiplier matrix the way
policyeval always has (``Generator.integers(0, 2, dtype=int8)`` for Rademacher,
``Generator.random`` against :math:`\\phi/\\sqrt5` for Mammen, in the same
generator calls), forms the dense influence matrix and multiplies. The fast
paths never build either matrix; with the same seed they must give the same
draws, to 1e-10 relative to the size of the sums.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyeval.estimators.staggered import CallawaySantAnna
from policyeval.inference._multiplier import MultiplierStream, rademacher_bytes
from policyeval.inference.bootstrap import multiplier_bootstrap, multiplier_draws
from policyeval.inference.influence import BlockInfluence, CohortInfluence, DenseInfluence

_PHI = (1 + np.sqrt(5)) / 2


def _obvious_draws(kind, seed, n_draws, size, chunk):
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, n_draws, chunk):
        m = min(chunk, n_draws - start)
        if kind == "rademacher":
            out.append(rng.integers(0, 2, size=(m, size), dtype=np.int8).astype(float) * 2.0 - 1.0)
        else:
            out.append(np.where(rng.random((m, size)) < _PHI / np.sqrt(5), 1.0 - _PHI, _PHI))
    return np.vstack(out)


def _obvious_sums(infl, kind, seed, n_draws, chunk):
    psi = infl.to_dense()
    if infl.cluster is not None:
        s = np.zeros((infl.n_clusters, psi.shape[1]))
        np.add.at(s, infl.cluster, psi)
        psi = s
    return _obvious_draws(kind, seed, n_draws, psi.shape[0], chunk) @ psi


def _close(fast, ref):
    assert fast.shape == ref.shape
    np.testing.assert_allclose(fast, ref, rtol=0, atol=1e-10 * max(1.0, np.abs(ref).max()))


@pytest.mark.parametrize("size", [1, 3, 4, 1001, 4003])
def test_rademacher_bytes_are_the_int8_stream(size):
    a, b = np.random.default_rng(11), np.random.default_rng(11)
    for _ in range(3):   # several calls: the leftover bytes of each call are discarded alike
        expect = a.integers(0, 2, size=size, dtype=np.int8)
        got = rademacher_bytes(b, size) >> 7
        np.testing.assert_array_equal(got, expect)


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
def test_multiplier_draws_keep_their_values(kind):
    draw = multiplier_draws(kind, np.random.default_rng(4))
    np.testing.assert_array_equal(draw(7, 13), _obvious_draws(kind, 4, 7, 13, 7))


def _cohort_influence(n, T, C, k, seed, cluster=False):
    rng = np.random.default_rng(seed)
    Y = rng.normal(size=(n, T))
    w = rng.uniform(0.5, 2.0, n)
    cohort = rng.integers(0, C, n)
    coef = rng.normal(size=(C, T + 2, k))
    if cluster:
        codes = rng.integers(0, 40, n)
        return CohortInfluence(Y, w, cohort, coef, cluster=codes, n_clusters=40)
    return CohortInfluence(Y, w, cohort, coef)


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
@pytest.mark.parametrize("n, chunk", [(997, 999), (4003, 999), (5001, 7), (3000, 1)])
def test_cohort_influence_fast_sums_equal_obvious(kind, n, chunk):
    infl = _cohort_influence(n, 5, 4, 6, seed=n)
    fast = infl.multiplier_sums(MultiplierStream(kind, np.random.default_rng(9), chunk), 999, chunk)
    _close(fast, _obvious_sums(infl, kind, 9, 999, chunk))


def test_cohort_influence_fast_sums_clustered():
    infl = _cohort_influence(3001, 4, 3, 5, seed=2, cluster=True)
    fast = infl.multiplier_sums(MultiplierStream("rademacher", np.random.default_rng(5), 999), 999, 999)
    _close(fast, _obvious_sums(infl, "rademacher", 5, 999, 999))


def test_seeded_draw_cache_serves_combinations_exactly():
    infl = _cohort_influence(2003, 6, 4, 8, seed=3)
    A = np.random.default_rng(0).normal(size=(8, 3))
    first = multiplier_bootstrap(infl, 499, random_state=12, progress=False)
    combo = infl.combine(A, cohort_coef=np.random.default_rng(1).normal(size=(4, 3)))
    assert infl._draw_cache and combo._draw_cache is infl._draw_cache   # reused, not redrawn
    cached = multiplier_bootstrap(combo, 499, random_state=12, progress=False)
    ref = _obvious_sums(combo, "rademacher", 12, 499, 499) / combo.n
    _close(cached.draws, ref)
    _close(first.draws, _obvious_sums(infl, "rademacher", 12, 499, 499) / infl.n)
    # another seed is drawn afresh
    other = multiplier_bootstrap(combo, 499, random_state=13, progress=False)
    _close(other.draws, _obvious_sums(combo, "rademacher", 13, 499, 499) / combo.n)


@pytest.mark.parametrize("kind", ["rademacher", "mammen"])
def test_dense_and_block_fast_sums_equal_obvious(kind):
    rng = np.random.default_rng(8)
    n = 3001
    dense = DenseInfluence(rng.normal(size=(n, 4)), np.zeros(n), np.ones(n))
    blocks = BlockInfluence(n, 6, [
        (np.arange(0, 2000), np.array([0, 2]), rng.normal(size=(2000, 2))),
        (np.arange(1000, n), np.array([1, 3, 4]), rng.normal(size=(n - 1000, 3))),
        (np.arange(5, n, 3), np.array([5]), rng.normal(size=(999, 1)))], np.zeros(n), np.ones(n))
    for infl in (dense, blocks):
        fast = infl.multiplier_sums(MultiplierStream(kind, np.random.default_rng(6), 999), 999, 999)
        _close(fast, _obvious_sums(infl, kind, 6, 999, 999))


def _panel(n=600, seed=0):
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2009)
    g = rng.choice([0, 2004, 2006], n)
    x = rng.normal(size=n)
    df = pd.DataFrame({"id": np.repeat(np.arange(n), len(years)), "year": np.tile(years, n),
                       "g": np.repeat(g, len(years)), "x": np.repeat(x, len(years))})
    df["y"] = (rng.normal(size=len(df)) + 0.2 * df["x"]
               + ((df.g > 0) & (df.year >= df.g)).to_numpy())
    return df


@pytest.mark.parametrize("covariates", [None, ["x"]])
def test_callaway_santanna_bootstrap_equals_obvious(covariates):
    df = _panel()
    kw = dict(yname="y", tname="year", idname="id", gname="g", covariates=covariates)
    fit = CallawaySantAnna(n_bootstrap=499, random_state=21, progress=False).fit(df, **kw)
    infl = fit.influence
    boot = _obvious_sums(infl, "rademacher", 21, 499, 499) / infl.n
    q75, q25 = np.quantile(boot, [0.75, 0.25], axis=0, method="inverted_cdf")
    se = (q75 - q25) / (2 * 0.6744897501960817)
    ok = se > 1e-7
    np.testing.assert_allclose(fit.std_errors.to_numpy()[ok], se[ok], rtol=1e-10)
    t_max = np.max(np.abs(boot[:, ok] / se[ok]), axis=1)
    assert fit.critical_value == pytest.approx(np.quantile(t_max, 0.95, method="inverted_cdf"), rel=1e-10)
    agg = fit.aggregate("dynamic")
    per = agg.influence
    boot_e = _obvious_sums(per, "rademacher", 21, 499, 499) / per.n
    q75, q25 = np.quantile(boot_e, [0.75, 0.25], axis=0, method="inverted_cdf")
    np.testing.assert_allclose(agg.std_errors.to_numpy(), (q75 - q25) / (2 * 0.6744897501960817),
                               rtol=1e-10)


def test_two_workers_give_the_same_draws(monkeypatch):
    from policyeval.inference import _multiplier

    infl = _cohort_influence(4003, 5, 4, 6, seed=11)
    one = infl.multiplier_sums(MultiplierStream("rademacher", np.random.default_rng(2), 999), 999, 999)
    monkeypatch.setattr(_multiplier, "_workers", lambda n_rows: 2)
    infl._draw_cache.clear()
    two = infl.multiplier_sums(MultiplierStream("rademacher", np.random.default_rng(2), 999), 999, 999)
    np.testing.assert_array_equal(one, two)
    _close(two, _obvious_sums(infl, "rademacher", 2, 999, 999))
