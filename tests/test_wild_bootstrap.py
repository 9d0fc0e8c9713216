"""Tests of the wild cluster bootstrap (policyeval.inference.wild_bootstrap).

Evidence, in order:

1. Peer package: ``wildboottest`` 0.3.2 (PyPI, py-econometrics/wildboottest, the Python
   port of R fwildclusterboot by the same author), run in the test on OLS with explicit
   unit and year dummies (statsmodels), ``bootstrap_type="11"`` (WCR/WCU with CRV1).
   With 6 clusters and B=9999 both tools enumerate all 2^6 Rademacher sign vectors, so
   the comparison is exact (no seed dependence): same t-statistic, same 64 bootstrap
   |t*| values, same p-value once exact ties are treated alike (see the test).
2. Slow obvious computation: a brute-force wild bootstrap that refits OLS with unit and
   year dummies on every bootstrap sample (same weights) gives the same t* (up to the
   constant small-sample factor) for TWFE with covariates, regression weights, an
   unbalanced panel, and an event-study coefficient; WCR and WCU.
3. Interval = test inversion: p(beta0) crosses 1 - level at the interval's ends.
4. Bad input: clear errors naming the argument.

The Monte Carlo size study is scripts/montecarlo_few_clusters.py (result in
docs/montecarlo_few_clusters.md), not a unit test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from _fe_panels import simulate_staggered

import policyeval as pe
from policyeval.exceptions import ArgumentTypeError, EstimationError, EstimationWarning
from policyeval.inference.wild_bootstrap import (
    WildBootstrapResult,
    _weight_batches,
    wild_cluster_bootstrap,
)

FIT = {"yname": "y", "tname": "year", "idname": "county", "gname": "first_treat"}


def _panel(seed=3, effect=0.3, drop_share=0.0, n_units=24):
    """Seeded simulated panel (tests/_fe_panels.py), 6 provinces as clusters."""
    df = simulate_staggered(n_units=n_units, years=range(2001, 2007), cohorts=(2003, 2005, 0),
                            seed=seed, effect=lambda g, e: effect, drop_share=drop_share)
    return df.assign(prov=df["province"])


def _fit(df, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        return pe.TWFE(cluster="prov", **kw).fit(df, covariates="x", **FIT)


def _dummy_design(df, first):
    """[first, x, unit dummies, year dummies (first dropped)] as a float array."""
    U = pd.get_dummies(df["county"], prefix="u", dtype=float)
    T = pd.get_dummies(df["year"], prefix="t", drop_first=True, dtype=float)
    return pd.concat([pd.DataFrame({"term": first, "x": df["x"].to_numpy()}, index=df.index),
                      U, T], axis=1)


# ------------------------------------------------------------------ 1. peer package
def test_matches_wildboottest_full_enumeration():
    wbt = pytest.importorskip("wildboottest.wildboottest")
    df = _panel()
    # ssc="full" counts every dummy in K, the convention of OLS with dummies
    res = _fit(df, ssc="full")
    ours = wild_cluster_bootstrap(res, data=df, n_bootstrap=9999, progress=False)
    assert ours.enumerated and ours.n_bootstrap == 2**6

    d = ((df.first_treat > 0) & (df.year >= df.first_treat)).astype(float).to_numpy()
    X = _dummy_design(df, d)
    R = np.zeros(X.shape[1])
    R[0] = 1.0
    for impose in (True, False):
        boot = wbt.WildboottestCL(X=X.to_numpy(), Y=df["y"].to_numpy(),
                                  cluster=df["prov"].to_numpy(), R=R, B=9999, seed=1,
                                  parallel=False)
        boot.get_scores(bootstrap_type="11", impose_null=impose)
        boot.get_weights("rademacher")
        boot.get_numer()
        boot.get_denom()
        boot.get_tboot()
        boot.get_vcov()
        boot.get_tstat()
        boot.get_pvalue()
        assert boot.full_enumeration
        mine = ours if impose else wild_cluster_bootstrap(
            res, data=df, n_bootstrap=9999, impose_null=False, progress=False)
        t_ref = float(np.ravel(boot.t_stat)[0])
        np.testing.assert_allclose(mine.statistic, t_ref, rtol=1e-10)
        np.testing.assert_allclose(np.sort(np.abs(mine.t_boot)),
                                   np.sort(np.abs(np.ravel(boot.t_boot))), rtol=1e-9,
                                   atol=1e-10)
        # wildboottest counts mean(|t| < |t*|) in floating point; under WCR the identity
        # draw and its negation reproduce |t| exactly (ties), which rounding may count.
        # Counting the same draws with ties excluded must give our p-value exactly.
        tb = np.abs(np.ravel(boot.t_boot))
        strict = np.mean(tb > abs(t_ref) * (1 + 1e-9))
        assert mine.p_value == pytest.approx(strict, abs=1e-12)
        ties = np.sum(np.isclose(tb, abs(t_ref), rtol=1e-9))
        assert abs(boot.pvalue - mine.p_value) <= ties / 64 + 1e-12
    # printed by wildboottest 0.3.2 on these data (WCU has no ties): p = 0.5
    assert boot.pvalue == pytest.approx(0.5)


# ------------------------------------------------------------------ 2. brute force
def _brute_t(df, X_full, weights_rows, V, term_col, impose_null, w=None):
    """Refit OLS with dummies on each bootstrap sample; CR1 t without small-sample factor."""
    y = df["y"].to_numpy()
    sw = np.ones(len(y)) if w is None else np.sqrt(w)
    Xw, yw = X_full * sw[:, None], y * sw

    def ols(yv):
        b, *_ = np.linalg.lstsq(Xw, yv, rcond=None)
        return b, yv - Xw @ b

    bread = np.linalg.pinv(Xw.T @ Xw)
    a = Xw @ bread[:, term_col]

    def t_of(beta, e, beta0):
        scores = np.bincount(weights_rows, a * e)
        return (beta[term_col] - beta0) / np.sqrt(np.sum(scores**2))

    beta, e = ols(yw)
    t_obs = t_of(beta, e, 0.0)
    if impose_null:
        others = np.delete(Xw, term_col, axis=1)
        g, *_ = np.linalg.lstsq(others, yw, rcond=None)
        fitted, u = others @ g, yw - others @ g
        beta_dgp = 0.0
    else:
        fitted, u, beta_dgp = Xw @ beta, e, beta[term_col]
    t_star = []
    for b in range(V.shape[1]):
        bs, es = ols(fitted + u * V[weights_rows, b])
        t_star.append(t_of(bs, es, beta_dgp))
    return t_obs, np.asarray(t_star)


@pytest.mark.parametrize("weights,impose_null,regression_weights", [
    ("webb", True, False), ("rademacher", False, False), ("mammen", True, True),
])
def test_fast_equals_brute_force_refit(weights, impose_null, regression_weights):
    df = _panel(seed=5, drop_share=0.1)                       # unbalanced
    kw = {"weights": "w"} if regression_weights else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        res = pe.TWFE(cluster="prov").fit(df, covariates="x", **FIT, **kw)
    wb = wild_cluster_bootstrap(res, data=df, weights=weights, impose_null=impose_null,
                                n_bootstrap=99, random_state=7, progress=False)
    # 6 clusters: Rademacher enumerates its 2^6 = 64 sign vectors (random draws below 99 are
    # refused), Webb and Mammen draw 99 at random; the brute force replays the same weights
    assert wb.enumerated == (weights == "rademacher")
    assert wb.n_bootstrap == (64 if weights == "rademacher" else 99)
    _, _, batches = _weight_batches(weights, wb.n_clusters, 99, 7)
    V = np.concatenate(list(batches()), axis=1)
    rows = np.searchsorted(wb.cluster_labels, df["prov"].to_numpy())
    d = ((df.first_treat > 0) & (df.year >= df.first_treat)).astype(float).to_numpy()
    X = _dummy_design(df, d).to_numpy()
    w = df["w"].to_numpy() if regression_weights else None
    t_obs, t_star = _brute_t(df, X, rows, V, 0, impose_null, w)
    # the small-sample factor is a constant: compare t*/t
    np.testing.assert_allclose(wb.t_boot / wb.statistic, t_star / t_obs, rtol=1e-8, atol=1e-10)
    assert wb.p_value == pytest.approx(np.mean(np.abs(t_star) > abs(t_obs) * (1 + 1e-9)))
    # the reported standard error is the fit's (same clustering, same convention)
    assert wb.std_error == pytest.approx(res.std_errors.iloc[0], rel=1e-10)
    assert wb.statistic == pytest.approx(res.tstats.iloc[0], rel=1e-10)


def test_event_study_coefficient_equals_brute_force():
    df = _panel(seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        res = pe.EventStudy(window=(-2, 2), cluster="prov").fit(df, covariates="x", **FIT)
    wb = wild_cluster_bootstrap(res, term=1, data=df, weights="webb", n_bootstrap=99,
                                random_state=3, progress=False)
    assert wb.term == 1
    _, _, batches = _weight_batches("webb", wb.n_clusters, 99, 3)
    V = np.concatenate(list(batches()), axis=1)
    rows = np.searchsorted(wb.cluster_labels, df["prov"].to_numpy())
    g = df["first_treat"].to_numpy()
    e = np.clip(df["year"].to_numpy() - g, -2, 2)
    terms = list(res.params.index)
    dummies = np.column_stack([((g > 0) & (e == k)).astype(float) for k in terms])
    base = _dummy_design(df, dummies[:, 0]).to_numpy()
    X = np.column_stack([dummies, base[:, 1:]])               # event dummies, x, FE dummies
    t_obs, t_star = _brute_t(df, X, rows, V, terms.index(1), True)
    np.testing.assert_allclose(wb.t_boot / wb.statistic, t_star / t_obs, rtol=1e-8, atol=1e-10)
    assert wb.statistic == pytest.approx(res.tstats.loc[1], rel=1e-10)


# ------------------------------------------------------------------ 3. intervals
def test_wcr_interval_is_test_inversion():
    df = _panel(seed=2, effect=1.0)
    res = _fit(df)
    kw = {"data": df, "weights": "webb", "n_bootstrap": 499, "random_state": 4,
          "progress": False}
    wb = wild_cluster_bootstrap(res, **kw)
    assert wb.conf_low < wb.estimate < wb.conf_high
    alpha = 1 - wb.level
    width = wb.conf_high - wb.conf_low
    for end, inward in ((wb.conf_low, 1), (wb.conf_high, -1)):
        inside = wild_cluster_bootstrap(res, null=end + inward * 1e-6 * width, **kw)
        outside = wild_cluster_bootstrap(res, null=end - inward * 1e-6 * width, **kw)
        assert inside.p_value > alpha >= outside.p_value


def test_wcu_interval_is_symmetric_percentile_t():
    df = _panel(seed=2, effect=1.0)
    res = _fit(df)
    wb = wild_cluster_bootstrap(res, data=df, weights="webb", impose_null=False,
                                n_bootstrap=400, random_state=4, progress=False)
    q = np.sort(np.abs(wb.t_boot))[::-1][20]                  # floor(0.05 * 400)
    assert wb.conf_low == pytest.approx(wb.estimate - q * wb.std_error)
    assert wb.conf_high == pytest.approx(wb.estimate + q * wb.std_error)


def test_seeds_enumeration_and_model_entry_point():
    df = _panel()
    res = _fit(df)
    a = wild_cluster_bootstrap(res, data=df, weights="webb", n_bootstrap=200,
                               random_state=9, progress=False)
    b = wild_cluster_bootstrap(res, data=df, weights="webb", n_bootstrap=200,
                               random_state=9, progress=False)
    c = wild_cluster_bootstrap(res, data=df, weights="webb", n_bootstrap=200,
                               random_state=10, progress=False)
    np.testing.assert_array_equal(a.t_boot, b.t_boot)
    assert not np.array_equal(a.t_boot, c.t_boot)
    # enumeration ignores the seed; 2^6 = 64 <= 64 enumerates, 63 would be random draws,
    # which are now refused below 99 (too coarse to resolve the 5% and 1% levels)
    e1 = wild_cluster_bootstrap(res, data=df, n_bootstrap=64, random_state=1, progress=False)
    e2 = wild_cluster_bootstrap(res, data=df, n_bootstrap=64, random_state=2, progress=False)
    assert e1.enumerated and e1.p_value == e2.p_value and e1.conf_low == e2.conf_low
    with pytest.raises(ValueError, match="n_bootstrap=63 is too few draws"):
        wild_cluster_bootstrap(res, data=df, n_bootstrap=63, progress=False)
    # an unfitted estimator plus fit arguments gives the same answer as its result
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        m = wild_cluster_bootstrap(pe.TWFE(cluster="prov"), data=df, covariates="x",
                                   weights="webb", n_bootstrap=200, random_state=9,
                                   progress=False, **FIT)
    np.testing.assert_array_equal(m.t_boot, a.t_boot)
    frame = a.to_frame()
    assert list(frame.columns[:7]) == ["term", "estimate", "std_error", "statistic", "null",
                                       "p_value", "conf_low"]
    assert "Wild cluster bootstrap" in str(a) and "<table>" in a._repr_html_()
    assert isinstance(a, WildBootstrapResult) and a.method == "WCR"


def test_covariate_term_and_other_cluster():
    df = _panel()
    res = _fit(df)
    wb = wild_cluster_bootstrap(res, term="x", data=df, cluster="prov", n_bootstrap=99,
                                weights="webb", random_state=0, progress=False)
    assert wb.term == "x" and wb.estimate == pytest.approx(res.extra["full_params"]["x"])


def test_size_under_null_is_close_to_nominal_quick():
    """A light sanity check (the real Monte Carlo is scripts/montecarlo_few_clusters.py):
    with no effect, WCR-Webb p-values over 40 seeded panels are not concentrated near 0."""
    pvals = []
    for seed in range(40):
        df = _panel(seed=100 + seed, effect=0.0)
        res = _fit(df)
        pvals.append(wild_cluster_bootstrap(res, data=df, weights="webb", n_bootstrap=99,
                                            random_state=seed, progress=False).p_value)
    pvals = np.asarray(pvals)
    assert np.mean(pvals < 0.05) <= 0.15
    assert 0.3 < np.mean(pvals) < 0.7


# ------------------------------------------------------------------ 4. bad input
def test_bad_input_errors():
    df = _panel()
    res = _fit(df)
    with pytest.raises(KeyError, match=r"term='nope' is not a coefficient.*treated, x"):
        wild_cluster_bootstrap(res, "nope", data=df, progress=False)
    with pytest.raises(ValueError, match=r"n_bootstrap=0 must be at least 1"):
        wild_cluster_bootstrap(res, data=df, n_bootstrap=0)
    with pytest.raises(ArgumentTypeError, match=r"n_bootstrap must be an integer"):
        wild_cluster_bootstrap(res, data=df, n_bootstrap=99.5)
    with pytest.raises(ValueError, match=r"weights='normal' must be one of"):
        wild_cluster_bootstrap(res, data=df, weights="normal")
    with pytest.raises(ValueError, match=r"level=1.5"):
        wild_cluster_bootstrap(res, data=df, level=1.5)
    with pytest.raises(ArgumentTypeError, match=r"data= must be the pandas DataFrame"):
        wild_cluster_bootstrap(res)
    one = df.assign(region=1)
    with pytest.raises(EstimationError, match=r"cluster='region' has 1 cluster\(s\).*at least 2"):
        wild_cluster_bootstrap(res, data=one, cluster="region", progress=False)
    with pytest.raises(KeyError, match=r"cluster='nowhere' is not a column"):
        wild_cluster_bootstrap(res, data=df, cluster="nowhere", progress=False)
    with pytest.raises(EstimationError, match=r"do not reproduce the result's estimates"):
        wild_cluster_bootstrap(res, data=df.assign(y=df["y"] * 2), progress=False)
    with pytest.raises(EstimationError, match=r"result was fitted on"):
        wild_cluster_bootstrap(res, data=df.iloc[5:], progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        two = pe.TWFE(cluster=["prov", "county"]).fit(df, **FIT)
        es = pe.EventStudy(window=(-2, 2)).fit(df, **FIT)
    with pytest.raises(EstimationError, match=r"clustered two ways \(prov, county\).*cluster="):
        wild_cluster_bootstrap(two, data=df, progress=False)
    with pytest.raises(ValueError, match=r"term=None: name the event-study coefficient"):
        wild_cluster_bootstrap(es, data=df, progress=False)
    imp = pe.ImputationDiD().fit(df, **FIT)
    with pytest.raises(ArgumentTypeError, match=r"supports TWFE and EventStudy"):
        wild_cluster_bootstrap(imp, data=df, progress=False)
    with pytest.raises(TypeError, match=r"unexpected arguments \['yname'\]"):
        wild_cluster_bootstrap(res, data=df, yname="y")


def test_behaviour_follows_the_model_not_the_display_label():
    """Renaming a result's label (as a result-class refactor might) changes nothing; the model does."""
    import copy

    df = _panel(seed=5)
    res = _fit(df)
    assert res.spec["model"] == "twfe"
    renamed = copy.copy(res)
    renamed.estimator = "Two-way fixed effects"
    kw = dict(data=df, weights="webb", n_bootstrap=99, random_state=2, progress=False)
    a, b = wild_cluster_bootstrap(res, **kw), wild_cluster_bootstrap(renamed, **kw)
    assert a.p_value == b.p_value and a.statistic == b.statistic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        es = pe.EventStudy(window=(-2, 2), cluster="prov").fit(df, covariates="x", **FIT)
    assert es.spec["model"] == "event_study"
    es_renamed = copy.copy(es)
    es_renamed.estimator = "TWFE"  # a label that once meant "static TWFE" to this function
    c, d = (wild_cluster_bootstrap(r, term=1, **kw) for r in (es, es_renamed))
    assert c.statistic == d.statistic == pytest.approx(es.tstats.loc[1], rel=1e-10)
    unknown = copy.copy(res)
    unknown.spec = {**res.spec, "model": "sun_abraham"}
    with pytest.raises(ArgumentTypeError, match=r"supports TWFE and EventStudy"):
        wild_cluster_bootstrap(unknown, **kw)


def test_warns_with_one_treated_cluster():
    df = _panel()
    df["first_treat"] = np.where(df["prov"] == 32, df["first_treat"], 0)
    res = _fit(df)
    with pytest.warns(EstimationWarning, match=r"term='treated' has only 1 treated cluster\(s\) "
                                               r"of 6 \(cluster='prov'\)"):
        wild_cluster_bootstrap(res, data=df, n_bootstrap=99, progress=False)


def test_docstring_examples_run():
    import doctest

    import matplotlib

    matplotlib.use("Agg")
    from policyeval.inference import wild_bootstrap as mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
