"""Partner choice: each component against a slow computation, the decomposition, bad input, the plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.assess import (
    example_industry_panel,
    partner_scores,
    plot_partner_scores,
    proximity,
    rca,
)
from policyeval.design.geo import county_centroids, haversine_km
from policyeval.exceptions import ArgumentTypeError, DataError, DesignError

FOCAL = "331126"   # 庆元县


@pytest.fixture(scope="module")
def panel():
    return example_industry_panel(random_state=0)   # simulated


def test_distance_is_the_haversine_between_shipped_points(panel):
    tab = partner_scores(panel, FOCAL, ["330106", "331181"], year=2020).set_index("candidate")
    pts = county_centroids([FOCAL, "330106", "331181"]).set_index("code")
    for c in ("330106", "331181"):
        expected = haversine_km(pts.loc[FOCAL, "lat"], pts.loc[FOCAL, "lon"],
                                pts.loc[c, "lat"], pts.loc[c, "lon"])
        assert tab.loc[c, "distance_km"] == pytest.approx(float(expected))
    assert tab.loc["330106", "name"] == "西湖区"


def test_complementarity_and_overlap_match_loops(panel):
    m = rca(panel, 2020)
    phi = proximity(panel, 2020)
    tab = partner_scores(panel, FOCAL, year=2020).set_index("candidate")
    mine = [i for i in m.columns if m.loc[FOCAL, i]]
    for d in tab.index:
        theirs = [j for j in m.columns if m.loc[d, j]]
        pairs = [(i, j) for i in mine for j in theirs]
        total = sum(phi.loc[i, j] for i, j in pairs if i != j)
        expected = total / len(pairs) if pairs else 0.0
        assert tab.loc[d, "complementarity"] == pytest.approx(expected), d
        both = set(mine) & set(theirs)
        either = set(mine) | set(theirs)
        assert tab.loc[d, "overlap"] == pytest.approx(len(both) / len(either) if either else 0.0)


def test_io_linkage_matches_loops(panel):
    inds = sorted(panel["industry"].unique())
    rng = np.random.default_rng(5)
    a = pd.DataFrame(rng.uniform(0, 0.2, (len(inds), len(inds))), index=inds, columns=inds)
    tab = partner_scores(panel, FOCAL, ["330106", "331181"], year=2020, io_matrix=a)
    x = panel[panel["year"] == 2020].pivot(index="county_code", columns="industry",
                                           values="employment")
    s = x.div(x.sum(axis=1), axis=0)
    for row in tab.itertuples():
        o, d = s.loc[FOCAL], s.loc[row.candidate]
        expected = sum(o[i] * a.loc[i, j] * d[j] + d[i] * a.loc[i, j] * o[j]
                       for i in inds for j in inds)
        assert row.io_linkage == pytest.approx(expected)
    assert "contrib_io_linkage" in tab.columns   # weighted by default once given


def test_score_is_the_weighted_sum_of_standardised_components(panel):
    w = {"distance_km": -2.0, "complementarity": 0.5, "overlap": 1.0}
    tab = partner_scores(panel, FOCAL, year=2020, weights=w)
    total = np.zeros(len(tab))
    for k, wk in w.items():
        x = tab[k].to_numpy()
        z = (x - x.mean()) / x.std()
        np.testing.assert_allclose(tab[f"z_{k}"], z)
        np.testing.assert_allclose(tab[f"contrib_{k}"], wk * z)
        total += wk * z
    np.testing.assert_allclose(tab["score"], total)
    assert tab["score"].is_monotonic_decreasing
    assert tab["rank"].tolist() == list(range(1, len(tab) + 1))


def test_nearer_is_better_by_default(panel):
    # with distance as the only weighted component, the nearer candidate must rank higher
    tab = partner_scores(panel, FOCAL, year=2020, weights={"distance_km": -1.0})
    assert tab["distance_km"].is_monotonic_increasing


def test_gaps_are_destination_over_origin_in_both_roles(panel):
    pop = {FOCAL: 200_000, "330106": 800_000}
    inc = {FOCAL: 50_000, "330106": 200_000}
    out = partner_scores(panel, FOCAL, ["330106", "331181"], year=2020, population=pop | {"331181": 1e5},
                         income=inc | {"331181": 5e4}).set_index("candidate")
    assert out.loc["330106", "size_gap"] == pytest.approx(np.log(4))
    assert out.loc["330106", "income_gap"] == pytest.approx(np.log(4))
    assert (out["origin"] == FOCAL).all()
    back = partner_scores(panel, FOCAL, ["330106", "331181"], year=2020, role="destination",
                          population=pd.Series(pop | {"331181": 1e5}),
                          income=inc | {"331181": 5e4}).set_index("candidate")
    assert back.loc["330106", "income_gap"] == pytest.approx(-np.log(4))
    assert (back["destination"] == FOCAL).all() and back.loc["330106", "origin"] == "330106"
    # gaps are shown but carry no weight unless asked
    assert "contrib_income_gap" not in out.columns


def test_partner_list_with_the_county_itself_raises(panel):
    with pytest.raises(DesignError, match="candidates contains the county itself \\(331126\\)"):
        partner_scores(panel, FOCAL, ["330106", 331126], year=2020)
    with pytest.raises(ValueError, match="lists 1 counties twice \\(e.g. 330106\\)"):
        partner_scores(panel, FOCAL, ["330106", "330106"], year=2020)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(candidates=["110101"]), DataError,
         "1 candidates are not in idname='county_code' in 2020 \\(e.g. 110101\\)"),
        (dict(population={FOCAL: 1e5}), DataError,
         "population has no value for 17 counties \\(e.g. 330106, 330108, 330109, ...\\)"),
        (dict(candidates=["330106"], income={FOCAL: 1.0, "330106": 0.0}), DataError,
         "income must be positive"),
        (dict(population=[1, 2]), ArgumentTypeError, "population must be a pandas Series or dict"),
        (dict(role="host"), ArgumentTypeError, "role='host' must be 'origin' or 'destination'"),
        (dict(weights={"gdp": 1}), DataError, "weights names unknown components \\(e.g. gdp\\)"),
        (dict(weights={"distance_km": "far"}), ArgumentTypeError, "must be a finite number"),
        (dict(io_matrix=pd.DataFrame({"A": [0.1]}, index=["A"])), DataError,
         "io_matrix lacks 9 industries"),
    ],
)
def test_bad_input(panel, kwargs, error, match):
    with pytest.raises(error, match=match):
        partner_scores(panel, FOCAL, year=2020, **kwargs)


def test_unknown_focal_county_and_missing_points(panel):
    with pytest.raises(DataError, match="county='110101' is not in idname='county_code' in 2020"):
        partner_scores(panel, "110101", year=2020)
    own = pd.DataFrame({"code": [FOCAL, "330106"], "lon": [119.06, 120.13], "lat": [27.62, 30.26]})
    with pytest.raises(DataError, match="1 counties have no point in the centroids table "
                                        "\\(e.g. 331181\\)"):
        partner_scores(panel, FOCAL, ["330106", "331181"], year=2020, centroids=own)


def test_plot_draws_one_bar_per_component_and_chinese_names(panel):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tab = partner_scores(panel, FOCAL, year=2020)
    ax = plot_partner_scores(tab, top=4, title="庆元县的候选伙伴 (simulated)")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == tab["name"].head(4).tolist()[::-1]
    assert len(ax.containers) == 2                    # distance and complementarity bars
    assert "Noto Sans CJK SC" in matplotlib.rcParams["font.family"]
    plt.close(ax.figure)
    with pytest.raises(DataError, match="no contrib_\\* / score columns"):
        plot_partner_scores(tab[["candidate", "name"]])


def test_top_level_names():
    assert pe.partner_scores is partner_scores
    assert pe.assess.partner_scores is partner_scores


def test_map_marks_the_focal_county_in_both_roles(panel):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from policyeval.assess import plot_partner_map

    for role in ("origin", "destination"):
        tab = partner_scores(panel, FOCAL, year=2020, role=role)
        ax = plot_partner_map(tab, label_top=2)
        texts = [t.get_text() for t in ax.texts]
        assert texts[0] == "庆元县" and texts[1:] == tab["name"].head(2).tolist()
        offsets = ax.collections[1].get_offsets()[0]     # the star
        pts = county_centroids([FOCAL]).iloc[0]
        np.testing.assert_allclose(offsets, [pts["lon"], pts["lat"]])
        plt.close(ax.figure)
    with pytest.raises(DataError, match="table lacks columns lon, lat"):
        plot_partner_map(tab.drop(columns=["lon", "lat"]))
