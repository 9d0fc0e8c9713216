"""Industry fit: LQ, RCA, proximity, density and shift-share against slow loops and hand examples."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.assess import (
    example_industry_panel,
    gbt4754_sections,
    industry_fit,
    industry_matrix,
    location_quotients,
    proximity,
    rca,
    relatedness_density,
    shift_share,
)
from policyeval.exceptions import (
    ColumnNotFoundError,
    DataError,
    DuplicateObservationError,
    DataQualityWarning,
    NonNumericValueError,
)


@pytest.fixture(scope="module")
def panel():
    return example_industry_panel(random_state=0)   # simulated


def _cells(panel, year):
    one = panel[panel["year"] == year]
    return {(r.county_code, r.industry): r.employment for r in one.itertuples()}


def _slow_lq(panel, year):
    cells = _cells(panel, year)
    counties = sorted({c for c, _ in cells})
    inds = sorted({i for _, i in cells})
    total = sum(cells.values())
    out = {}
    for c in counties:
        c_tot = sum(cells.get((c, i), 0.0) for i in inds)
        for i in inds:
            i_tot = sum(cells.get((d, i), 0.0) for d in counties)
            out[(c, i)] = (cells.get((c, i), 0.0) / c_tot) / (i_tot / total)
    return out, counties, inds


def test_gbt4754_sections_are_the_twenty_letters_with_sources():
    s = gbt4754_sections()
    assert s["code"].tolist() == list("ABCDEFGHIJKLMNOPQRST")
    assert s["name_zh"].str.len().min() >= 2
    assert s["source_url"].str.startswith("http").all()


def test_lq_matches_explicit_loops(panel):
    slow, counties, inds = _slow_lq(panel, 2020)
    lq = location_quotients(panel, 2020)
    assert lq.index.tolist() == counties and lq.columns.tolist() == inds
    for (c, i), v in slow.items():
        assert lq.loc[c, i] == pytest.approx(v, rel=1e-12)


def test_lq_and_rca_by_hand():
    toy = pd.DataFrame({"county_code": ["a", "a", "b", "b"], "industry": ["A", "C"] * 2,
                        "year": 2020, "employment": [30.0, 10.0, 10.0, 50.0]})
    lq = location_quotients(toy, 2020)
    assert lq.loc["a", "A"] == pytest.approx(0.75 / 0.4)
    assert lq.loc["b", "C"] == pytest.approx((50 / 60) / 0.6)
    assert rca(toy, 2020).loc["b"].tolist() == [0, 1]


def test_proximity_matches_counting(panel):
    slow, counties, inds = _slow_lq(panel, 2020)
    m = {k: v >= 1 for k, v in slow.items()}
    phi = proximity(panel, 2020)
    for i, j in itertools.product(inds, inds):
        both = sum(m[(c, i)] and m[(c, j)] for c in counties)
        ki = sum(m[(c, i)] for c in counties)
        kj = sum(m[(c, j)] for c in counties)
        p_i_given_j = both / kj if kj else 0.0
        p_j_given_i = both / ki if ki else 0.0
        assert phi.loc[i, j] == pytest.approx(min(p_i_given_j, p_j_given_i)), (i, j)


def test_proximity_by_hand():
    # three counties; a and b specialise in A, b and c in C
    toy = pd.DataFrame({"county_code": list("aabbcc"), "industry": ["A", "C"] * 3, "year": 2020,
                        "employment": [9.0, 1, 5, 5, 1, 9]})
    m = rca(toy, 2020)
    assert m.to_dict("index") == {"a": {"A": 1, "C": 0}, "b": {"A": 1, "C": 1}, "c": {"A": 0, "C": 1}}
    phi = proximity(toy, 2020)
    assert phi.loc["A", "C"] == pytest.approx(0.5)   # one co-location over max(2, 2)
    assert phi.loc["A", "A"] == 1.0


def test_density_matches_loops(panel):
    m = rca(panel, 2020)
    phi = proximity(panel, 2020)
    dens = relatedness_density(panel, 2020)
    for c in m.index:
        for i in m.columns:
            num = sum(m.loc[c, j] * phi.loc[i, j] for j in m.columns if j != i)
            den = sum(phi.loc[i, j] for j in m.columns if j != i)
            assert dens.loc[c, i] == pytest.approx(num / den if den else 0.0)


def test_results_do_not_depend_on_row_order_or_id_type(panel):
    shuffled = panel.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(relatedness_density(panel, 2020),
                                  relatedness_density(shuffled, 2020))
    as_int = panel.assign(county_code=panel["county_code"].astype(int))
    pd.testing.assert_frame_equal(location_quotients(panel, 2020), location_quotients(as_int, 2020))


def test_shift_share_by_hand_and_identity(panel):
    toy = pd.DataFrame({"county_code": ["a", "a", "b", "b"] * 2, "industry": ["A", "C"] * 4,
                        "year": [2015] * 4 + [2020] * 4,
                        "employment": [10.0, 10, 10, 10, 10, 20, 10, 30]})
    ss = shift_share(toy, 2015, 2020).set_index(["county", "industry"])
    # national 40 -> 70 (g = 0.75); industry C 20 -> 50 (g_C = 1.5); a's C 10 -> 20
    row = ss.loc[("a", "C")]
    assert row["national_share"] == pytest.approx(7.5)
    assert row["industry_mix"] == pytest.approx(7.5)
    assert row["competitive"] == pytest.approx(10 * (1.0 - 1.5))
    full = shift_share(panel, 2015, 2020)
    parts = full[["national_share", "industry_mix", "competitive"]].sum(axis=1)
    np.testing.assert_allclose(parts, full["change"], rtol=1e-12, atol=1e-9)
    # summed over counties, the competitive effects of an industry cancel out
    np.testing.assert_allclose(full.groupby("industry")["competitive"].sum(), 0.0, atol=1e-6)


def test_shift_share_handles_a_county_entering_an_industry():
    toy = pd.DataFrame({"county_code": ["a", "b", "a", "b"], "industry": "C",
                        "year": [2015, 2015, 2020, 2020], "employment": [0.0, 10, 5, 10]})
    ss = shift_share(toy, 2015, 2020).set_index("county")
    assert ss.loc["a", "competitive"] == pytest.approx(5.0)
    assert ss.loc["a", "national_share"] == 0.0


def test_industry_fit_ranks_by_the_weighted_sum_of_its_parts(panel):
    fit = industry_fit(panel, "331126", 2020, base_year=2015)
    contrib = fit.filter(like="contrib_")
    assert set(contrib.columns) == {"contrib_density", "contrib_lq", "contrib_industry_growth"}
    np.testing.assert_allclose(fit["score"], contrib.sum(axis=1))
    assert fit["score"].is_monotonic_decreasing and fit["rank"].tolist() == list(range(1, 11))
    assert fit.set_index("industry").loc["C", "name_zh"] == "制造业"
    # z-scores: mean 0, sd 1 across industries
    np.testing.assert_allclose(fit["z_density"].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(fit["z_density"].std(ddof=0), 1)
    # the density column is the county's row of relatedness_density
    dens = relatedness_density(panel, 2020).loc["331126"]
    np.testing.assert_allclose(fit.set_index("industry")["density"], dens[fit["industry"]])


def test_industry_fit_custom_weights(panel):
    fit = industry_fit(panel, "331126", 2020, weights={"density": 1.0})
    assert fit["industry"].iloc[0] == fit.sort_values("density", ascending=False)["industry"].iloc[0]
    assert "contrib_lq" not in fit.columns
    with pytest.raises(DataError, match="weights names unknown components \\(e.g. talent\\)"):
        industry_fit(panel, "331126", 2020, weights={"talent": 1.0})
    with pytest.raises(DataError, match="county='999999' is not in idname='county_code' in 2020"):
        industry_fit(panel, "999999", 2020)


def test_unknown_industry_codes_raise(panel):
    bad = panel.copy()
    bad.loc[bad.index[bad["industry"] == "A"][:3], "industry"] = "Z9"   # three counties
    with pytest.raises(DataError, match="industry='industry' has 1 unknown industry codes \\(e.g. Z9\\)"):
        location_quotients(bad, 2020)
    # your own classification passes with codes=None, or with the list of codes
    with pytest.warns(DataQualityWarning, match="1 industries \\(e.g. Z9\\) have no row"):
        assert location_quotients(bad, 2020, codes=None).shape[1] == 11
    divisions = panel.assign(industry=panel["industry"].map({k: f"{n:02d}" for n, k in
                                                             enumerate("ABCDEFGIJM", start=13)}))
    assert location_quotients(divisions, 2020).shape == (18, 10)


def test_negative_missing_duplicate_and_non_numeric_values_raise(panel):
    neg = panel.copy()
    neg.loc[neg.index[0], "employment"] = -5
    with pytest.raises(DataError, match="yname='employment' has 1 negative values "
                                        "\\(e.g. county_code/industry/year = 331102/A/2015\\)"):
        rca(neg, 2020)
    miss = panel.copy()
    miss.loc[miss.index[1], "employment"] = np.nan
    with pytest.raises(DataError, match="1 rows have a missing 'employment' or 'year' "
                                        "\\(e.g. county_code/industry/year = 331102/B/2015\\)"):
        rca(miss, 2020)
    dup = pd.concat([panel, panel.iloc[[0]]])
    with pytest.raises(DuplicateObservationError, match="1 duplicate \\(county_code, industry, "
                                                        "year\\) keys \\(e.g. 331102/A/2015\\)"):
        rca(dup, 2020)
    text = panel.astype({"employment": object})
    text.loc[text.index[2], "employment"] = "n/a"
    with pytest.raises(NonNumericValueError, match="yname='employment' has 1 non-numeric"):
        rca(text, 2020)
    with pytest.raises(ColumnNotFoundError, match="yname='jobs' is not a column of df"):
        rca(panel, 2020, yname="jobs")
    with pytest.raises(DataError, match="year=2030 is not in the data"):
        rca(panel, 2030)


def test_industry_missing_in_some_years_warns_with_counts(panel):
    gap = panel[~((panel["industry"].isin(["I", "M"])) & (panel["year"] == 2015))]
    with pytest.warns(DataQualityWarning, match="2 industries \\(e.g. I, M\\) have no row in "
                                                   "1 of 2 years \\(e.g. 2015\\)"):
        industry_matrix(gap, 2020)
    with pytest.warns(DataQualityWarning), \
            pytest.raises(DataError, match="2 industries \\(e.g. I, M\\) have a zero total in "
                                           "base_year=2015"):
        shift_share(gap, 2015, 2020)


def test_zero_total_county_raises():
    toy = pd.DataFrame({"county_code": ["a", "a", "b", "b"], "industry": ["A", "C"] * 2,
                        "year": 2020, "employment": [0.0, 0.0, 10.0, 50.0]})
    with pytest.raises(DataError, match="1 counties have a zero total in 2020 \\(e.g. a\\)"):
        location_quotients(toy, 2020)


def test_top_level_names():
    assert pe.industry_fit is industry_fit and pe.shift_share is shift_share


def test_non_integer_years_raise(panel):
    odd = panel.astype({"year": float})
    odd.loc[odd.index[0], "year"] = 2015.5
    with pytest.raises(DataError, match="tname='year' must hold integer periods; found non-integer "
                                        "values 2015.5 for units 331102"):
        rca(odd, 2020)


def test_scaling_all_values_leaves_the_indices_unchanged_and_scales_shift_share(panel):
    scaled = panel.assign(employment=panel["employment"] * 7.0)
    pd.testing.assert_frame_equal(location_quotients(scaled, 2020), location_quotients(panel, 2020))
    pd.testing.assert_frame_equal(relatedness_density(scaled, 2020),
                                  relatedness_density(panel, 2020))
    a, b = shift_share(panel, 2015, 2020), shift_share(scaled, 2015, 2020)
    for col in ("change", "national_share", "industry_mix", "competitive"):
        np.testing.assert_allclose(b[col], 7.0 * a[col], rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(b["industry_growth"], a["industry_growth"])
