"""TripleDiD: the 2x2x2 DDD against saturated OLS (statsmodels, HC0 and cluster-robust), the
Olden & Møen (2022) point that DDD removes violations of parallel trends that a DiD cannot,
staggered timing with a known effect (event study, not-yet-treated comparison cohorts by
hand), clusters, the result contract and bad input.

No published peer number is reproduced: R triplediff's examples draw data with R's RNG
(gen_dgp_2periods / gen_dgp_mult_periods) and print no fixed data set we can load.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.estimators.triple import TripleDiD
from policyeval.exceptions import (
    DesignError,
    EstimationError,
    EstimationWarning,
    FewTreatedWarning,
    TreatmentTimingError,
)

ARGS = dict(yname="y", tname="year", idname="cell", gname="first_treat", qname="targeted")


def county_industry_panel(n_counties=120, industries=4, targeted=2, years=range(2008, 2016),
                          cohorts=(2012, 2014), shares=(0.3, 0.3), effect=lambda e: 1.0 + 0.5 * e,
                          host_trend=0.4, industry_trend=0.3, noise=0.3, seed=0):
    """SIMULATED counties x industries. Counties are never treated or host a park from one of
    ``cohorts``; the first ``targeted`` industries are targeted (eligible). Untreated outcomes
    have a county effect, an industry effect, a common trend, a trend ``host_trend`` in every
    industry of host counties (breaking county-level parallel trends) and a trend
    ``industry_trend`` in targeted industries everywhere (breaking industry-level parallel
    trends). Targeted industries of host counties gain ``effect(t - g)`` from ``g`` on."""
    rng = np.random.default_rng(seed)
    years = np.asarray(list(years))
    g_c = rng.choice([0, *cohorts], size=n_counties, p=[1 - sum(shares), *shares])
    county = np.repeat(np.arange(n_counties), industries)
    industry = np.tile(np.arange(industries), n_counties)
    g = g_c[county]
    q = (industry < targeted).astype(int)
    a = rng.normal(0, 1, n_counties)[county] + rng.normal(0, 1, industries)[industry]
    frames = []
    for t in years:
        s = t - years[0]
        e = t - g
        y = (a + 0.2 * s + host_trend * s * (g > 0) + industry_trend * s * q
             + np.where((g > 0) & (e >= 0) & (q == 1), effect(e), 0.0)
             + rng.normal(0, noise, county.size))
        frames.append(pd.DataFrame({"cell": np.arange(county.size), "county": county,
                                    "industry": industry, "year": t, "first_treat": g,
                                    "targeted": q, "y": y}))
    return pd.concat(frames, ignore_index=True)


def two_period(**kw):
    return county_industry_panel(years=(2011, 2012), cohorts=(2012,), shares=(0.5,), **kw)


# --- 2x2x2: the slow obvious computation -------------------------------------------------
def test_two_by_two_by_two_equals_saturated_ols():
    import statsmodels.formula.api as smf

    df = two_period(seed=3)
    res = TripleDiD().fit(df, **ARGS)
    # long panel: Y on S x Q x Post, fully interacted
    long = df.assign(S=(df.first_treat > 0).astype(int), post=(df.year == 2012).astype(int))
    ols = smf.ols("y ~ S * targeted * post", data=long).fit()
    assert res.params["ATT"] == pytest.approx(ols.params["S:targeted:post"], abs=1e-10)
    # cross-section of changes: the influence-function SE is OLS HC0 on the saturated model
    wide = long.pivot(index="cell", columns="year", values="y")
    cells = long.drop_duplicates("cell").set_index("cell").loc[wide.index]
    cs = pd.DataFrame({"dy": wide[2012] - wide[2011], "S": cells.S, "targeted": cells.targeted,
                       "county": cells.county})
    hc0 = smf.ols("dy ~ S * targeted", data=cs).fit(cov_type="HC0")
    assert res.params["ATT"] == pytest.approx(hc0.params["S:targeted"], abs=1e-10)
    assert res.std_errors["ATT"] == pytest.approx(hc0.bse["S:targeted"], rel=1e-10)
    # clustered by county: statsmodels' cluster sandwich without its small-sample factor
    by_county = TripleDiD(cluster="county").fit(df, **ARGS)
    cl = smf.ols("dy ~ S * targeted", data=cs).fit(
        cov_type="cluster", cov_kwds={"groups": cs.county, "use_correction": False})
    assert by_county.std_errors["ATT"] == pytest.approx(cl.bse["S:targeted"], rel=1e-10)


def test_ddd_removes_what_breaks_each_did():
    """Olden & Møen (2022): host-county and targeted-industry trends bias each DiD but cancel
    in the DDD. SIMULATED effect 1 in the post period."""
    df = two_period(seed=5, n_counties=400, host_trend=0.8, industry_trend=0.6)
    res = TripleDiD().fit(df, **ARGS)
    assert res.params["ATT"] == pytest.approx(1.0, abs=4 * res.std_errors["ATT"])
    wide = df.pivot(index="cell", columns="year", values="y")
    cells = df.drop_duplicates("cell").set_index("cell").loc[wide.index]
    dy = wide[2012] - wide[2011]
    host, q = cells.first_treat > 0, cells.targeted == 1
    did_counties = dy[host & q].mean() - dy[~host & q].mean()   # biased by host_trend 0.8
    did_industries = dy[host & q].mean() - dy[host & ~q].mean()  # biased by industry_trend 0.6
    assert did_counties == pytest.approx(1.8, abs=0.15)
    assert did_industries == pytest.approx(1.6, abs=0.15)
    assert res.params["ATT"] == pytest.approx(did_counties - (dy[host & ~q].mean() - dy[~host & ~q].mean()),
                                              abs=1e-12)


# --- staggered timing with a known effect -----------------------------------------------
@pytest.fixture(scope="module")
def staggered():
    return county_industry_panel(seed=11)


def test_staggered_event_study_recovers_the_effect(staggered):
    res = TripleDiD(cluster="county").fit(staggered, **ARGS)
    es = res.event_study.set_index("event_time")
    pre = es.loc[es.index < -1]
    assert (np.abs(pre.estimate) / pre.std_error).max() < 4
    for e in range(0, 4):
        assert es.loc[e, "estimate"] == pytest.approx(1.0 + 0.5 * e, abs=4 * es.loc[e, "std_error"])
    cells = res.cells.query("period >= cohort")
    truth = np.average(1.0 + 0.5 * cells.event_time, weights=cells.n_eligible)
    assert res.params["ATT"] == pytest.approx(truth, abs=4 * res.std_errors["ATT"])


def test_not_yet_treated_averages_one_ddd_per_comparison_cohort(staggered):
    res = TripleDiD(control_group="not_yet_treated").fit(staggered, **ARGS)
    df = staggered
    wide = df.pivot(index="cell", columns="year", values="y")
    cells = df.drop_duplicates("cell").set_index("cell").loc[wide.index]
    g, q = cells.first_treat.to_numpy(), cells.targeted.to_numpy() == 1
    dy = (wide[2012] - wide[2011]).to_numpy()  # cohort 2012, period 2012: comparisons 0 and 2014

    def ddd(comp):
        return (dy[(g == 2012) & q].mean() - dy[(g == 2012) & ~q].mean()) - \
            (dy[comp & q].mean() - dy[comp & ~q].mean())

    n_never, n_2014 = (g == 0).sum(), (g == 2014).sum()
    by_hand = (n_never * ddd(g == 0) + n_2014 * ddd(g == 2014)) / (n_never + n_2014)
    cell = res.cells.query("cohort == 2012 and period == 2012")
    assert float(cell.ATT.iloc[0]) == pytest.approx(by_hand, abs=1e-12)
    # period 2014 for cohort 2012: cohort 2014 is treated, only never-treated counties compare
    cell = res.cells.query("cohort == 2012 and period == 2014")
    dy14 = (wide[2014] - wide[2011]).to_numpy()
    never = (dy14[(g == 2012) & q].mean() - dy14[(g == 2012) & ~q].mean()) - \
        (dy14[(g == 0) & q].mean() - dy14[(g == 0) & ~q].mean())
    assert float(cell.ATT.iloc[0]) == pytest.approx(never, abs=1e-12)
    nev = TripleDiD().fit(staggered, **ARGS)
    assert res.params["ATT"] == pytest.approx(nev.params["ATT"], abs=4 * nev.std_errors["ATT"])


def test_coverage_in_repeated_simulations():
    """SIMULATED, 60 seeds of the 2x2x2 design: the 95 % interval covers the effect 1 in at
    least 51 (binomial(60, 0.95) falls below 51 with probability 0.4 %)."""
    hits = 0
    for seed in range(60):
        res = TripleDiD(cluster="county").fit(two_period(seed=200 + seed, n_counties=60), **ARGS)
        ci = res.conf_int().loc["ATT"]
        hits += ci.conf_low <= 1.0 <= ci.conf_high
    assert hits >= 51, hits


def test_invariances_and_contract(staggered):
    res = TripleDiD().fit(staggered, **ARGS)
    moved = staggered.assign(y=staggered.y + 5 * staggered.cell + 0.3 * staggered.year * staggered.targeted)
    again = TripleDiD().fit(moved.sample(frac=1.0, random_state=4), **ARGS)
    assert again.params["ATT"] == pytest.approx(res.params["ATT"], abs=1e-9)
    scaled = TripleDiD().fit(staggered.assign(y=staggered.y * 100), **ARGS)
    assert scaled.std_errors["ATT"] == pytest.approx(100 * res.std_errors["ATT"], rel=1e-9)
    assert list(res.params.index) == ["ATT"] and res.level == 0.95
    assert res.vcov.shape == (1, 1) and res.nobs == len(staggered)
    assert res.n_units == staggered.cell.nunique()
    assert list(res.to_frame().columns[:3]) == ["term", "estimate", "std_error"]
    assert "Triple differences" in str(res.summary())
    assert TripleDiD(level=0.9).fit(staggered, **ARGS).conf_int().loc["ATT", "conf_high"] < \
        res.conf_int().loc["ATT", "conf_high"]
    import matplotlib

    matplotlib.use("Agg")
    assert res.plot() is not None
    assert pe.TripleDiD is TripleDiD and pe.estimators.TripleDiD is TripleDiD


# --- bad input and safety checks ---------------------------------------------------------
def test_bad_input(staggered):
    bad = staggered.assign(targeted=staggered.targeted * 2)
    with pytest.raises(DesignError, match="qname='targeted' must be 0/1"):
        TripleDiD().fit(bad, **ARGS)
    with pytest.raises(DesignError, match="qname='targeted' is 1 for every cell"):
        TripleDiD().fit(staggered.assign(targeted=1), **ARGS)
    bad = staggered.copy()
    bad.loc[(bad.cell == 0) & (bad.year == 2010), "targeted"] = 1 - bad.loc[(bad.cell == 0) & (bad.year == 2010), "targeted"]
    with pytest.raises(DesignError, match="qname='targeted' varies within idname='cell' for 1 units"):
        TripleDiD().fit(bad, **ARGS)
    bad = staggered.copy()
    bad.loc[(bad.cell == 0) & (bad.year == 2010), "first_treat"] = 2099
    with pytest.raises(TreatmentTimingError, match="gname='first_treat' varies within"):
        TripleDiD().fit(bad, **ARGS)
    with pytest.raises(ValueError, match="control_group='pooled' must be"):
        TripleDiD(control_group="pooled").fit(staggered, **ARGS)


def test_small_groups_and_few_treated():
    df = two_period(seed=1, n_counties=40)
    hosts = df.loc[df.first_treat > 0, "county"].unique()
    small = df[(df.first_treat == 0) | df.county.isin(hosts[:2])]
    with pytest.warns(FewTreatedWarning, match="only 4 treated units"):
        res = TripleDiD().fit(small, **ARGS)
    assert np.isfinite(res.params["ATT"])
    one = df[(df.first_treat == 0) | ((df.county == hosts[0]) & (df.industry.isin([0, 2, 3])))]
    with pytest.warns(FewTreatedWarning):
        with pytest.raises(EstimationError, match="cohort 2012, qname=1 has 1 cells"):
            TripleDiD().fit(one, **ARGS)
    with pytest.warns(EstimationWarning, match="only 8 clusters"):
        TripleDiD(cluster="region").fit(df.assign(region=df.county % 8), **ARGS)


@pytest.mark.parametrize("cluster", [None, "county"])
def test_influence_function_reproduces_the_standard_error(cluster):
    """The result's influence function (rows scaled by n, clusters attached) gives back
    std_errors and vcov (SIMULATED data)."""
    res = TripleDiD(cluster=cluster).fit(two_period(seed=3, n_counties=80), **ARGS)
    assert res.influence.n_clusters == (80 if cluster else res.n_units)
    np.testing.assert_allclose(res.influence.std_errors(), res.std_errors, rtol=1e-12)
    np.testing.assert_allclose(res.influence.vcov(), res.vcov.to_numpy(), rtol=1e-12)


def test_names_before_0_2_still_work_with_a_future_warning():
    from policyeval.exceptions import ArgumentValueError, PolicyevalFutureWarning

    df = two_period(seed=3, n_counties=80)
    new = TripleDiD(cluster="county").fit(df, **ARGS)
    with pytest.warns(PolicyevalFutureWarning, match="TripleDiD\\(cluster=...\\)"):
        old = TripleDiD().fit(df, cluster="county", **ARGS)
    assert old.std_errors["ATT"] == new.std_errors["ATT"]
    with pytest.warns(PolicyevalFutureWarning, match="data="):
        old = TripleDiD(cluster="county").fit(df=df, **ARGS)
    assert old.params["ATT"] == new.params["ATT"]
    with pytest.raises(ArgumentValueError, match="contradicts"), \
            pytest.warns(PolicyevalFutureWarning):
        TripleDiD(cluster="county").fit(df, cluster="cell", **ARGS)
    with pytest.raises(ArgumentValueError, match="control_group='pooled'"):
        TripleDiD(control_group="pooled")
