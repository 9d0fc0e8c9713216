"""Out of core, the panels firms actually give: entry and exit, sampling weights, two-way clusters.

Each case is fitted in memory (the reference: the exact two-way projection of
``absorb_unit_time``, checked against fixest in tests/test_twfe.py) and out of
core on DuckDB and on Dask; estimates, standard errors, K and the cluster
counts must agree to 1e-8. Data are SIMULATED here, seeded.
"""

import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import ArgumentValueError, DataError
from policyeval.inference.covariance import SmallSampleCorrection
from policyeval.scale import fit_callaway_santanna, fit_event_study, fit_twfe
from tests.test_scale_equality import make_panel, same_regression

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")


def firm_panel(n=240, seed=4):
    """SIMULATED: firms enter late, exit early or skip years; unit-level sampling weights;
    a few firms move county."""
    df = make_panel(n=n, seed=seed)
    rng = np.random.default_rng(seed)
    firms = df.firm.unique()
    enter = dict(zip(firms, rng.choice([2001, 2001, 2002, 2004], len(firms))))
    leave = dict(zip(firms, rng.choice([2008, 2008, 2007, 2005], len(firms))))
    keep = (df.year >= df.firm.map(enter)) & (df.year <= df.firm.map(leave)) & (rng.random(len(df)) > 0.08)
    df = df[keep].copy()
    df["wt"] = df.firm.map(dict(zip(firms, rng.uniform(0.3, 3.0, len(firms)))))
    movers = firms[:12]
    moved = df.firm.isin(movers) & (df.year >= 2005)
    df["county_now"] = np.where(moved, df.county + 1, df.county)
    return df.reset_index(drop=True)


@pytest.fixture(scope="module")
def panel():
    df = firm_panel()
    assert df.groupby("firm").size().lt(8).sum() > 100          # really unbalanced
    return df


@pytest.fixture(params=["duckdb", "dask"])
def source(request):
    if request.param == "duckdb":
        return duckdb.from_df
    request.getfixturevalue("client")
    # rows shuffled, so every unit is split across partitions
    return lambda df: dd.from_pandas(df.sample(frac=1, random_state=1), npartitions=3, sort=False)


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def same(a, b):
    same_regression(a, b)
    assert a.extra["n_clusters"] == b.extra["n_clusters"]
    assert a.extra["n_params_ssc"] == b.extra["n_params_ssc"]


TWFE_CASES = [
    (pe.TWFE(), {}),
    (pe.TWFE(cluster="county"), {"covariates": "x"}),
    (pe.TWFE(vcov="iid"), {"weights": "wt"}),
    (pe.TWFE(cluster="county", ssc="full"), {"weights": "wt", "covariates": "x"}),
    (pe.TWFE(cluster=["county", "year"]), {"covariates": "x"}),
    (pe.TWFE(cluster=["firm", "year"], ssc="none"), {"weights": "wt"}),
    (pe.TWFE(cluster=["county", "year"], ssc=SmallSampleCorrection(cluster_df="conventional")),
     {"weights": "wt"}),
    (pe.TWFE(cluster="year"), {}),
    (pe.TWFE(cluster="county_now"), {"covariates": "x"}),            # varies within 12 firms
    (pe.TWFE(cluster=["county_now", "year"]), {"weights": "wt"}),
]


@pytest.mark.parametrize("est,kw", TWFE_CASES)
def test_twfe_unbalanced_weighted_clustered(panel, source, est, kw):
    a = quiet(est.fit, panel, "y", "year", "firm", gname="first_treat", **kw)
    b = quiet(est.fit, source(panel), "y", "year", "firm", gname="first_treat", **kw)
    same(a, b)


@pytest.mark.parametrize("est,kw", [(pe.TWFE(cluster=["county", "year"]), {"weights": "wt"}),
                                    (pe.TWFE(cluster="county"), {"weights": "wt", "covariates": "x"})])
def test_twfe_balanced_panel_with_weights_or_two_way_clusters(source, est, kw):
    df = firm_panel()
    full = make_panel(n=200, seed=9).merge(df[["firm", "wt"]].drop_duplicates(), on="firm", how="left")
    full["wt"] = full["wt"].fillna(1.5)
    a = quiet(est.fit, full, "y", "year", "firm", gname="first_treat", **kw)
    b = quiet(est.fit, source(full), "y", "year", "firm", gname="first_treat", **kw)
    same(a, b)


def test_twfe_treatment_column_unbalanced(panel, source):
    est = pe.TWFE(cluster="county")
    a = quiet(est.fit, panel, "y", "year", "firm", treatment="d", covariates="x", weights="wt")
    b = quiet(est.fit, source(panel), "y", "year", "firm", treatment="d", covariates="x", weights="wt")
    same(a, b)


ES_CASES = [
    (pe.EventStudy(), {}),
    (pe.EventStudy(window=None, cluster=["county", "year"]), {"weights": "wt"}),
    (pe.EventStudy(window=(-3, 2), vcov="iid"), {"covariates": "x", "weights": "wt"}),
    (pe.EventStudy(reference=(-1, -4), window=(-4, 4), cluster="county_now"), {"covariates": "x"}),
]


@pytest.mark.parametrize("est,kw", ES_CASES)
def test_event_study_unbalanced(panel, source, est, kw):
    a = quiet(est.fit, panel, "y", "year", "firm", "first_treat", **kw)
    b = quiet(est.fit, source(panel), "y", "year", "firm", "first_treat", **kw)
    same(a, b)
    assert a.extra["binned"] == b.extra["binned"]


def test_event_times_come_from_the_rows(source):
    # cohort 2003 skips 2006 and cohort 2008 reaches e = 0 at most: event time 3 is never observed
    df = make_panel(n=60, cohorts=(0, 2003, 2008), seed=2)
    df = df[~((df.first_treat == 2003) & (df.year == 2006))]
    est = pe.EventStudy(window=None)
    a = quiet(est.fit, df, "y", "year", "firm", "first_treat")
    b = quiet(est.fit, source(df), "y", "year", "firm", "first_treat")
    same(a, b)
    assert 3 not in b.params.index and {2, 4} <= set(b.params.index)


def test_always_treated_warning_counts_units_first_seen_after_treatment(source):
    df = make_panel(n=80, seed=6)
    late_entry = df.firm.isin(df[df.first_treat == 2003].firm.unique()[:5]) & (df.year < 2004)
    df = df[~late_entry]
    est = pe.TWFE()
    with pytest.warns(pe.exceptions.EstimationWarning, match=r"^5 units are treated in every period"):
        b = est.fit(source(df), "y", "year", "firm", gname="first_treat")
    same(quiet(est.fit, df, "y", "year", "firm", gname="first_treat"), b)


def test_weights_must_be_constant_within_unit(panel, source):
    df = panel.assign(wt=panel.wt + 0.01 * (panel.year == 2006))
    with pytest.raises(DataError, match=r"weights='wt' varies within idname='firm' for \d+ units .*constant "
                                        "within unit"):
        quiet(fit_twfe, source(df), "y", "year", "firm", gname="first_treat", weights="wt")


def test_weights_must_be_positive(panel, source):
    df = panel.copy()
    df.loc[df.firm == df.firm.iloc[0], "wt"] = 0.0
    with pytest.raises(DataError, match=r"weights='wt' has \d+ .*non-positive values .*weights must be"):
        quiet(fit_twfe, source(df), "y", "year", "firm", gname="first_treat", weights="wt")


def test_too_many_periods_for_the_pattern_mask():
    rng = np.random.default_rng(0)
    n, T = 30, 64
    df = pd.DataFrame({"firm": np.repeat(np.arange(n), T), "t": np.tile(np.arange(T), n)})
    df["g"] = np.repeat(rng.choice([0, 20, 40], n), T)
    df["y"] = rng.normal(size=len(df))
    df = df.iloc[1:]
    with pytest.raises(DataError, match="tname='t' has 64 periods; out of core, unbalanced or weighted panels "
                                        "take at most 62"):
        quiet(fit_twfe, duckdb.from_df(df), "y", "t", "firm", gname="g")


def test_three_way_clustering_and_weighted_callaway_santanna_say_so(panel):
    r = duckdb.from_df(panel)
    with pytest.raises(ArgumentValueError, match="clusters in one or two dimensions"):
        fit_twfe(r, "y", "year", "firm", gname="first_treat", estimator=pe.TWFE(cluster=["county", "year", "d"]))
    with pytest.raises(ArgumentValueError, match="weights='wt': sampling weights are not supported out of core "
                                                 "for Callaway-Sant'Anna"):
        fit_callaway_santanna(r, "y", "year", "firm", "first_treat", weights="wt")


def test_reports_each_pass(panel, tmp_path, capsys):
    for year, part in panel.groupby("year"):
        part.to_parquet(tmp_path / f"f{year}.parquet", index=False)
    quiet(fit_event_study, tmp_path, "y", "year", "firm", "first_treat", weights="wt", progress=True,
          estimator=pe.EventStudy(cluster=["county", "year"]))
    err = capsys.readouterr().err
    for step in ("pattern pass: periods", "pattern pass: units", "event times", "cluster score pass"):
        assert f"[policyeval.scale duckdb] {step}" in err


# ---------------------------------------------------------------------------
# Callaway-Sant'Anna with a propensity score (time-invariant covariates)
# ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def firms_x():
    from tests.test_scale_equality import with_firm_covariates

    return with_firm_covariates(make_panel(n=300, seed=3))


CS_PS_CASES = [
    ({"method": "dr"}, None),
    ({"method": "dr", "control_group": "not_yet_treated"}, "county"),
    ({"method": "ipw"}, "county"),
    ({"method": "ipw", "control_group": "not_yet_treated", "base_period": "universal", "anticipation": 1},
     None),
    ({"method": "dr", "base_period": "universal"}, None),
]


@pytest.mark.parametrize("opts,cluster", CS_PS_CASES)
def test_callaway_santanna_ipw_dr_equal_in_memory(firms_x, source, opts, cluster):
    from tests.test_scale_equality import same_cs

    est = pe.CallawaySantAnna(cluster=cluster, **opts)
    a = quiet(est.fit, firms_x, "y", "year", "firm", "first_treat", covariates=["size", "age"])
    b = quiet(fit_callaway_santanna, source(firms_x), "y", "year", "firm", "first_treat",
              covariates=["size", "age"], cluster=cluster, estimator=est)
    same_cs(a, b)


def test_callaway_santanna_dr_cluster_bootstrap_equals_in_memory(firms_x):
    # one multiplier per cluster; clusters numbered in sorted order in both paths after this sort
    from tests.test_scale_equality import close

    df = firms_x.sort_values(["county", "firm", "year"]).reset_index(drop=True)
    est = pe.CallawaySantAnna(method="dr", n_bootstrap=199, random_state=5, progress=False, cluster="county")
    a = quiet(est.fit, df, "y", "year", "firm", "first_treat", covariates="size")
    b = quiet(fit_callaway_santanna, duckdb.from_df(df), "y", "year", "firm", "first_treat", covariates="size",
              cluster="county", estimator=est)
    close(a.std_errors, b.std_errors)
    close(a.critical_value, b.critical_value)


def test_propensity_score_needs_time_invariant_covariates(panel):
    with pytest.raises(DataError, match=r"covariates=\['x'\] vary within idname='firm' for \d+ units .*"
                                        "time-invariant covariates only"):
        quiet(fit_callaway_santanna, duckdb.from_df(make_panel(n=60)), "y", "year", "firm", "first_treat",
              covariates="x", estimator=pe.CallawaySantAnna(method="ipw"))


def test_propensity_score_separation_is_named(firms_x):
    df = firms_x.assign(sep=np.where(firms_x.first_treat == 2003, 1.0, 0.0)
                        + 0.01 * (firms_x.firm % 5))
    est = pe.CallawaySantAnna(method="dr")
    with pytest.raises(pe.exceptions.EstimationError, match="cohort 2003 vs its .* controls.*: the propensity "
                                                            "score .* no maximum likelihood"):
        quiet(est.fit, df, "y", "year", "firm", "first_treat", covariates="sep")
    with pytest.raises(pe.exceptions.EstimationError, match="cohort 2003 vs its .* controls.*: the propensity "
                                                            "score .* no maximum likelihood"):
        quiet(fit_callaway_santanna, duckdb.from_df(df), "y", "year", "firm", "first_treat", covariates="sep",
              estimator=est)


def test_gram_influence_reduces_to_the_dense_one():
    # GramInfluence on phi = (psi, cohort indicators) answers as the dense matrix would
    from policyeval.inference.influence import DenseInfluence
    from policyeval.scale.propensity import GramInfluence

    rng = np.random.default_rng(0)
    n, k, C = 50, 4, 3
    psi = rng.normal(size=(n, k))
    cohort = rng.integers(0, C, n)
    phi = np.column_stack([psi, np.eye(C)[cohort]])
    g = GramInfluence(n, phi.T @ phi, k)
    d = DenseInfluence(psi, cohort, np.ones(n))
    W, cc = rng.normal(size=(k, 2)), rng.normal(size=(C, 2))
    np.testing.assert_allclose(g.combine(W, cc).gram(), d.combine(W, cc).gram(), rtol=1e-12)
    np.testing.assert_allclose((g.combine(W) + g.cohort_terms(cc, cc)).gram_diagonal(),
                               (d.combine(W) + d.cohort_terms(cc, cc)).gram_diagonal(), rtol=1e-12)


@pytest.mark.parametrize("method,covs,cluster", [("reg", None, None), ("reg", ["size"], "county"),
                                                 ("dr", ["size", "age"], None), ("ipw", ["size"], "county")])
def test_callaway_santanna_unbalanced_drops_units_as_in_memory(firms_x, source, method, covs, cluster):
    from tests.test_scale_equality import same_cs

    df = firms_x[np.random.default_rng(3).random(len(firms_x)) > 0.03]
    est = pe.CallawaySantAnna(method=method, cluster=cluster)
    with pytest.warns(pe.exceptions.DroppedObservationsWarning, match=r"Dropped (\d+) units .* not observed in all"):
        a = est.fit(df, "y", "year", "firm", "first_treat", covariates=covs)
    with pytest.warns(pe.exceptions.DroppedObservationsWarning, match=r"Dropped (\d+) units .* not observed in all"):
        b = fit_callaway_santanna(source(df), "y", "year", "firm", "first_treat", covariates=covs,
                                  cluster=cluster, estimator=est)
    same_cs(a, b)
    assert b.n_units < df.firm.nunique()


def test_disconnected_panel_is_noted_and_equal(source):
    # two groups of firms that share no period: the period effects are identified up to two constants
    df = make_panel(n=120, seed=8)
    early = df.firm < 5060
    df = df[(early & (df.year <= 2004)) | (~early & (df.year >= 2005))]
    est = pe.TWFE(cluster="county")
    a = quiet(est.fit, df, "y", "year", "firm", treatment="d", covariates="x")
    b = quiet(est.fit, source(df), "y", "year", "firm", treatment="d", covariates="x")
    same(a, b)
    assert any("disconnected" in note for note in b.extra["notes"])
