"""Tests of randomization inference (policyeval.inference.randomization).

Evidence:

1. Peer computation: for a balanced two-period panel the TWFE coefficient is the
   difference in mean first differences between treated and control units, so its exact
   randomization distribution is the permutation distribution of that difference.
   ``scipy.stats.permutation_test`` (scipy installed in .venv; exact enumeration of all
   C(8, 3) = 56 splits, ``permutation_type="independent"``, statistic |difference|,
   ``alternative="greater"``) gives #{|T*| >= |T|}/M; ours must equal it exactly.
2. Bookkeeping with a recording estimator: the permuted gname / treatment paths /
   treated units are re-arrangements of the eligible units' values, the others are
   untouched, every distinct assignment is enumerated once, seeds reproduce.
3. Simulation: with no effect the randomization p-values are close to uniform; with a
   large effect the smallest attainable p-value is reached.
4. Bad input and failing refits: clear errors and warnings.
"""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from _fe_panels import simulate_staggered
from scipy import stats

import policyeval as pe
from policyeval.exceptions import (
    ArgumentTypeError,
    DataError,
    EstimationError,
    EstimationWarning,
    TreatmentTimingError,
)
from policyeval.inference.randomization import (
    RandomizationResult,
    default_statistic,
    randomization_inference,
)

FIT = {"yname": "y", "tname": "year", "idname": "county", "gname": "first_treat"}


class DiffInDiff:
    """A fast 2x2 DiD 'estimator' (mean post-minus-pre change, treated minus never
    treated) that records the adoption columns it was given."""

    def __init__(self):
        self.seen = []

    def fit(self, df, yname, tname, idname, gname=None, treatment=None, treated_units=None):
        if treated_units is not None:
            treated = df[idname].isin(treated_units).groupby(df[idname]).first()
            self.seen.append(sorted(treated_units))
        elif gname is not None:
            g = df.groupby(idname)[gname].first()
            self.seen.append(g.copy())
            treated = g.fillna(0) > 0
        else:
            d = df.pivot(index=idname, columns=tname, values=treatment)
            self.seen.append(d.copy())
            treated = d.max(axis=1) > 0
        if treated.all() or not treated.any():
            raise EstimationError("no control (or no treated) unit")
        wide = df.pivot(index=idname, columns=tname, values=yname)
        change = wide.iloc[:, -1] - wide.iloc[:, 0]
        att = change[treated.reindex(change.index)].mean() - change[~treated.reindex(
            change.index)].mean()
        return SimpleNamespace(params=pd.Series({"att": att}), estimator="2x2 DiD")


def _two_period(seed=0, n_units=8, n_treated=3, effect=0.0):
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), 2)
    year = np.tile([2001, 2002], n_units)
    g = np.where(np.arange(n_units) < n_treated, 2002, 0)[unit]
    y = rng.normal(0, 2, n_units)[unit] + 0.5 * (year == 2002) + rng.normal(size=len(unit))
    y = y + effect * ((g > 0) & (year >= g))
    return pd.DataFrame({"county": 100 + unit, "year": year, "first_treat": g, "y": y,
                         "D": ((g > 0) & (year >= g)).astype(int)})


# ------------------------------------------------------------------ 1. peer computation
def test_twfe_2x2_matches_scipy_exact_permutation_test():
    df = _two_period(seed=1, effect=1.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        ri = randomization_inference(pe.TWFE(), df, n_permutations=999, progress=False, **FIT)
    assert ri.enumerated and ri.n_permutations == math.comb(8, 3) == 56
    wide = df.pivot(index="county", columns="year", values="y")
    change = (wide[2002] - wide[2001]).to_numpy()
    treated = df.groupby("county")["first_treat"].first().to_numpy() > 0
    ref = stats.permutation_test(
        (change[treated], change[~treated]),
        lambda a, b, axis: np.abs(np.mean(a, axis=axis) - np.mean(b, axis=axis)),
        permutation_type="independent", alternative="greater", n_resamples=np.inf,
        vectorized=True,
    )
    assert ri.observed == pytest.approx(change[treated].mean() - change[~treated].mean(),
                                        rel=1e-10)
    assert ri.p_value == pytest.approx(ref.pvalue, abs=1e-12)
    np.testing.assert_allclose(np.sort(np.abs(ri.distribution)), np.sort(ref.null_distribution),
                               rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ 2. bookkeeping
def test_enumeration_visits_each_distinct_assignment_once():
    df = _two_period(n_units=7, n_treated=2)
    est = DiffInDiff()
    ri = randomization_inference(est, df, n_permutations=1000, progress=False, **FIT)
    assert ri.enumerated and ri.n_permutations == math.comb(7, 2)
    vectors = {tuple(s.to_numpy()) for s in est.seen[1:]}      # seen[0] is the observed fit
    assert len(vectors) == math.comb(7, 2) == len(est.seen) - 1
    assert all(sorted(v) == sorted(est.seen[0].to_numpy()) for v in vectors)
    # the identity is among them, so the observed value is in the distribution
    assert np.any(np.isclose(ri.distribution, ri.observed))
    assert ri.p_value == np.mean(np.abs(ri.distribution) >= abs(ri.observed) - 1e-12)


def test_random_permutations_eligible_and_seed():
    df = _two_period(n_units=30, n_treated=6, seed=4)
    eligible = list(range(100, 120))                          # units 120..129 keep timing
    est = DiffInDiff()
    ri = randomization_inference(est, df, n_permutations=99, random_state=5, eligible=eligible,
                                 progress=False, **FIT)
    assert not ri.enumerated and ri.n_permutations == 99 and ri.n_eligible == 20
    observed_g = est.seen[0]
    for g in est.seen[1:]:
        assert g.loc[120:].equals(observed_g.loc[120:])
        assert sorted(g.loc[:119]) == sorted(observed_g.loc[:119])
    extreme = np.sum(np.abs(ri.distribution) >= abs(ri.observed) - 1e-12)
    assert ri.p_value == pytest.approx((1 + extreme) / 100)
    again = randomization_inference(FastDiD(), df, n_permutations=99, random_state=5,
                                    eligible=eligible, progress=False, **FIT)
    other = randomization_inference(FastDiD(), df, n_permutations=99, random_state=6,
                                    eligible=eligible, progress=False, **FIT)
    np.testing.assert_array_equal(ri.distribution, again.distribution)
    assert not np.array_equal(ri.distribution, other.distribution)


def test_treatment_paths_and_treated_units_are_permuted_whole():
    df = _two_period(n_units=6, n_treated=2)
    est = DiffInDiff()
    kw = {"yname": "y", "tname": "year", "idname": "county"}
    ri = randomization_inference(est, df, treatment="D", n_permutations=100, progress=False,
                                 **kw)
    assert ri.enumerated and ri.n_permutations == math.comb(6, 2)
    for d in est.seen[1:]:
        assert d.sum().sum() == 2 and set(d[2001]) == {0}     # whole paths moved
    est2 = DiffInDiff()
    # one treated among 6 units: 6 distinct re-assignments, all enumerated (random draws
    # below 99 are refused, so the enumeration is the only small test left)
    ri2 = randomization_inference(est2, df, treated_units=[100], n_permutations=99,
                                  random_state=1, progress=False, **kw)
    assert ri2.enumerated and ri2.n_permutations == 6 and all(len(s) == 1 for s in est2.seen)
    assert ri2.permuted == "treated_units"


def test_default_statistic_and_result_api():
    df = simulate_staggered(n_units=12, years=range(2001, 2007), cohorts=(2004, 0, 0), seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = pe.ImputationDiD().fit(df, **FIT)
    assert default_statistic(res) == pytest.approx(float(res.overall["estimate"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = pe.CallawaySantAnna().fit(df, **FIT)
        sa = pe.SunAbraham().fit(df, **FIT)
        es = pe.EventStudy(window=(-2, 2)).fit(df, **FIT)
        tw = pe.TWFE().fit(df, **FIT)
    assert default_statistic(cs) == pytest.approx(
        float(cs.aggregate("simple", n_bootstrap=0).overall["estimate"]))
    assert default_statistic(sa) == pytest.approx(float(sa.aggregate("simple").params.iloc[0]))
    assert default_statistic(tw) == pytest.approx(float(tw.params["ATT"]))
    with pytest.raises(ValueError, match=r"event-time coefficients \(first: -2\); pass statistic="):
        default_statistic(es)
    ri = randomization_inference(DiffInDiff(), _two_period(), n_permutations=99,
                                 random_state=0, progress=False, **FIT)
    assert isinstance(ri, RandomizationResult)
    frame = ri.to_frame()
    assert {"observed", "p_value", "n_permutations", "n_failed"} <= set(frame.columns)
    assert "Randomization inference" in str(ri) and "<table>" in ri._repr_html_()
    import matplotlib

    matplotlib.use("Agg")
    ax = ri.plot()
    assert len(ax.lines) == 2 and len(ax.patches) > 0


# ------------------------------------------------------------------ 3. simulation
class FastDiD:
    """The same 2x2 DiD as DiffInDiff with numpy only (rows sorted by unit, then year)."""

    def fit(self, df, yname, tname, idname, gname):
        y = df[yname].to_numpy().reshape(-1, 2)
        treated = df[gname].to_numpy()[::2] > 0
        change = y[:, 1] - y[:, 0]
        return SimpleNamespace(params=pd.Series(
            [change[treated].mean() - change[~treated].mean()], index=["att"]))


def test_uniform_p_values_under_no_effect_and_power_with_effect():
    pvals = []
    for seed in range(100):
        df = _two_period(seed=seed, n_units=12, n_treated=4)
        pvals.append(randomization_inference(FastDiD(), df, n_permutations=99,
                                             random_state=seed, progress=False,
                                             **FIT).p_value)
    pvals = np.asarray(pvals)
    # exact test: P(p <= 0.05) = 5/100 under the null; MC std. error 0.022
    assert np.mean(pvals <= 0.05) <= 0.12
    assert 0.4 < np.mean(pvals) < 0.6                        # uniform mean 0.5, s.e. 0.03
    strong = randomization_inference(DiffInDiff(), _two_period(seed=3, effect=50.0),
                                     n_permutations=999, progress=False, **FIT)
    # only the observed split (and none other) is as extreme: p = 1/56
    assert strong.p_value == pytest.approx(1 / 56)


# ------------------------------------------------------------------ 4. bad input
def test_failing_refits_warn_and_are_excluded():
    df = _two_period(n_units=6, n_treated=2)
    # an estimator whose every other refit fails
    calls = {"n": 0}

    class Flaky(DiffInDiff):
        def fit(self, df, **kw):
            calls["n"] += 1
            if calls["n"] > 1 and calls["n"] % 2:
                raise EstimationError("degenerate re-assignment")
            return super().fit(df, **kw)

    with pytest.warns(EstimationWarning, match=r"\d+ of 15 re-assignments gave no statistic"
                                               r".*degenerate re-assignment"):
        ri = randomization_inference(Flaky(), df, n_permutations=100, progress=False, **FIT)
    assert ri.n_failed > 0 and np.isnan(ri.distribution).sum() == ri.n_failed


def test_bad_input_errors():
    df = _two_period()
    est = DiffInDiff()
    with pytest.raises(ValueError, match=r"give gname= \(first treated period\), treatment="):
        randomization_inference(est, df, yname="y", tname="year", idname="county",
                                progress=False)
    with pytest.raises(ValueError, match=r"needs idname="):
        randomization_inference(est, df, yname="y", gname="first_treat", progress=False)
    with pytest.raises(DataError, match=r"eligible has 2 ids that are not values of "
                                        r"idname='county' \(e.g. 1, 2\)"):
        randomization_inference(est, df, eligible=[100, 1, 2], progress=False, **FIT)
    with pytest.raises(DataError, match=r"at least 2 units"):
        randomization_inference(est, df, eligible=[100], progress=False, **FIT)
    bad = df.copy()
    bad.loc[bad.index[:2], "first_treat"] = [2002, 2003]
    with pytest.raises(TreatmentTimingError, match=r"gname='first_treat' varies within "
                                                   r"idname='county' for 1 units \(e.g. 100\)"):
        randomization_inference(est, bad, progress=False, **FIT)
    with pytest.raises(ValueError, match=r"n_permutations=0 must be at least 1"):
        randomization_inference(est, df, n_permutations=0, **FIT)
    with pytest.raises(ArgumentTypeError, match=r"must have a fit"):
        randomization_inference(object(), df, **FIT)
    with pytest.raises(DataError, match=r"balanced panel; 1 units miss periods"):
        randomization_inference(est, df.iloc[1:], yname="y", tname="year", idname="county",
                                treatment="D", progress=False)
    with pytest.raises(KeyError, match=r"gname='g' is not a column"):
        randomization_inference(est, df, yname="y", tname="year", idname="county", gname="g",
                                progress=False)


def test_docstring_examples_run():
    import doctest

    import matplotlib

    matplotlib.use("Agg")
    from policyeval.inference import randomization as mod

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
