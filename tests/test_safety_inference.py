"""Few clusters and few bootstrap draws (issue 10, part B), on simulated panels.

One cluster is an error in every estimator that clusters; fewer than MIN_CLUSTERS (30) warn
with the count and point to the wild cluster bootstrap; fewer than 99 random bootstrap /
permutation draws are refused and fewer than 399 warned about; bootstrap p-values are
reported with their resolution.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import policyeval as pe
from policyeval._validation import MIN_CLUSTERS, p_value_text
from policyeval.exceptions import ArgumentValueError, EstimationError, EstimationWarning
from policyeval.inference import placebo
from policyeval.inference.bootstrap import multiplier_bootstrap
from policyeval.inference.influence import DenseInfluence
from policyeval.inference.randomization import randomization_inference
from policyeval.inference.wild_bootstrap import wild_cluster_bootstrap

from test_safety_data import ALL, simulated_panel

KW = dict(yname="y", tname="year", idname="unit")


def _fit(name, df, cluster):
    if name == "twfe":
        return pe.TWFE(cluster=cluster).fit(df, gname="first_treat", **KW)
    if name == "event_study":
        return pe.EventStudy(window=(-2, 2), cluster=cluster).fit(df, gname="first_treat", **KW)
    if name == "sun_abraham":
        return pe.SunAbraham(cluster=cluster).fit(df, gname="first_treat", **KW)
    if name == "callaway_santanna":
        return pe.CallawaySantAnna(cluster=cluster).fit(df, gname="first_treat", **KW)
    return pe.ImputationDiD(cluster=cluster).fit(df, gname="first_treat", **KW)


@pytest.fixture
def panel():
    return simulated_panel()


# ------------------------------------------------------------------ clusters
@pytest.mark.parametrize("name", ALL)
def test_one_cluster_is_an_error(panel, name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        with pytest.raises(EstimationError, match=r"cluster='one' has 1 cluster\(s\) in the "
                                                  r"estimation sample; .* needs at least 2"):
            _fit(name, panel, "one")


@pytest.mark.parametrize("name", ALL)
def test_few_clusters_warn_with_the_count_and_the_wild_bootstrap(panel, name):
    with pytest.warns(EstimationWarning, match=r"cluster='prov' has only 10 clusters \(fewer than "
                                               r"30\).*wild_cluster_bootstrap with "
                                               r"multiplier='webb'"):
        _fit(name, panel, "prov")


@pytest.mark.parametrize("name", ["twfe", "callaway_santanna", "imputation"])
def test_default_unit_clusters_are_counted_too(name):
    small = simulated_panel(n_units=20)
    with pytest.warns(EstimationWarning, match=r"cluster=idname='unit' \(the default\) has only "
                                               r"20 clusters"):
        _fit(name, small, None)


@pytest.mark.parametrize("name", ALL)
def test_enough_clusters_do_not_warn(name):
    big = simulated_panel(n_units=MIN_CLUSTERS + 2)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        _fit(name, big, None)
    assert not [w for w in seen if "clusters" in str(w.message)]


def test_wild_bootstrap_refuses_one_cluster(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        res = pe.TWFE(cluster="prov").fit(panel, gname="first_treat", **KW)
    with pytest.raises(EstimationError, match=r"cluster='one' has 1 cluster\(s\); the wild "
                                              r"cluster bootstrap needs at least 2"):
        wild_cluster_bootstrap(res, data=panel, cluster="one", progress=False)


def test_wild_bootstrap_rademacher_with_few_clusters_points_to_webb(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        res = pe.TWFE(cluster="prov").fit(panel, gname="first_treat", **KW)
    with pytest.warns(EstimationWarning, match=r"cluster='prov' has 10 clusters: Rademacher weights "
                                               r"give only 2\^10 = 1024 distinct.*multiplier='webb'"):
        wb = wild_cluster_bootstrap(res, data=panel, n_bootstrap=9999, progress=False)
    assert wb.enumerated and wb.n_bootstrap == 1024
    # the effect is strong: no sign vector is as extreme, so p is reported as < 1/1024
    assert wb.p_value == 0
    assert wb.p_value_text == ("p < 0.000977 = 1/1024 (no draw as extreme; exact over all 1024 "
                               "enumerated draws)")
    assert wb.p_value_text in str(wb.summary())
    assert wb.to_frame()["p_value_resolution"].iloc[0] == pytest.approx(1 / 1024)


# ------------------------------------------------------------------ bootstrap draws
def test_multiplier_bootstrap_with_two_draws_is_refused_at_construction():
    with pytest.raises(ArgumentValueError, match=r"n_bootstrap=2 is too few draws: p-values move "
                                                 r"in steps of 1/2.*at least 99"):
        pe.CallawaySantAnna(n_bootstrap=2)


def test_bootstrap_below_399_draws_warns(panel):
    with pytest.warns(EstimationWarning, match=r"n_bootstrap=199 draws: .*at least 399"):
        pe.CallawaySantAnna(n_bootstrap=199, random_state=1, progress=False).fit(
            panel, gname="first_treat", **KW)


def test_result_bootstrap_and_aggregate_refuse_few_draws(panel):
    res = pe.CallawaySantAnna().fit(panel, gname="first_treat", **KW)
    with pytest.raises(ArgumentValueError, match="n_bootstrap=50 is too few draws"):
        res.bootstrap(50, progress=False)
    with pytest.raises(ArgumentValueError, match="n_bootstrap=5 is too few draws"):
        res.aggregate("dynamic", n_bootstrap=5)


def test_multiplier_bootstrap_refuses_non_integer_draws():
    psi = DenseInfluence(np.ones((10, 1)), cohort=np.zeros(10, dtype=int), weights=np.ones(10))
    with pytest.raises(TypeError, match=r"n_bootstrap must be an integer, got 99.5"):
        multiplier_bootstrap(psi, 99.5)


def test_wild_bootstrap_random_draws_below_99_are_refused(panel):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimationWarning)
        res = pe.TWFE(cluster="prov").fit(panel, gname="first_treat", **KW)
    with pytest.raises(ArgumentValueError, match="n_bootstrap=50 is too few draws"):
        wild_cluster_bootstrap(res, data=panel, multiplier="webb", n_bootstrap=50, progress=False)


def test_wild_bootstrap_p_value_of_zero_is_reported_as_below_1_over_b():
    assert p_value_text(0.0, 999) == "p < 0.001 = 1/999 (no draw as extreme; 999 random draws)"
    assert p_value_text(0.25, 399) == "p = 0.25 (399 random draws; resolution 1/399)"


def test_randomization_with_few_random_reassignments_is_refused(panel):
    with pytest.raises(ArgumentValueError, match=r"n_permutations=20 is too few draws"):
        randomization_inference(pe.TWFE(), panel, n_permutations=20, progress=False,
                                gname="first_treat", **KW)


def test_randomization_enumerated_reassignments_are_exact_and_say_so():
    df = simulated_panel(n_units=6)       # cohorts 0,2004,2006,0,0,2004: 6!/(3!2!1!) = 60 orders
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ri = randomization_inference(pe.TWFE(), df, n_permutations=99, progress=False,
                                     gname="first_treat", **KW)
    assert ri.enumerated and ri.n_permutations == 60
    assert ri.p_value_text.endswith("(exact over all 60 enumerated draws; resolution 1/60)")
    assert ri.p_value_text in str(ri.summary())


def test_conformal_iid_permutations_below_99_are_refused():
    y, Y = np.arange(6.0), np.zeros((2, 6))
    with pytest.raises(ArgumentValueError, match="n_permutations=10 is too few draws"):
        placebo.conformal_pvalue(y, Y, 4, 0.0, lambda a, b, n: np.zeros_like(a),
                                 permutation="iid", n_permutations=10)


def test_conformal_moving_block_that_cannot_reject_warns():
    y, Y = np.arange(6.0), np.zeros((2, 6))
    with pytest.warns(EstimationWarning, match=r"4 pre-treatment periods has 5 permutations .* "
                                               r"no p-value is below 1/5 = 0.2"):
        placebo.conformal_confidence_set(y, Y, 4, lambda a, b, n: np.zeros_like(a), level=0.9,
                                         confidence_sets=False)
