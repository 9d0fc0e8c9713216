"""Scenario arithmetic for a planned enclave: formulas against a slow loop, hand examples, Qingyuan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import policyeval as pe
from policyeval.assess import MU_PER_KM2, RULE_92, enclave_scenario, sharing_from_registry
from policyeval.exceptions import ArgumentTypeError, DataError, UnitConversionWarning

BASE = dict(origin_population=100_000, host_population=500_000)


def test_pe_assess_is_reachable_and_lazy_names_resolve():
    assert pe.assess.enclave_scenario is enclave_scenario
    assert pe.enclave_scenario is enclave_scenario


def test_area_units_km2_equals_1500_mu():
    a = enclave_scenario(area_km2=2, output_per_mu_wan=250, years=[2022], **BASE)
    b = enclave_scenario(area_mu=3000, output_per_mu_wan=250, years=[2022], **BASE)
    assert MU_PER_KM2 == 1500
    assert a.draws[("park", "output_wan")][0, 0] == b.draws[("park", "output_wan")][0, 0] == 750_000


def test_ramp_up_and_start_year_by_hand():
    res = enclave_scenario(area_mu=10, output_per_mu_wan=30, ramp_years=3, start_year=2021,
                           years=range(2020, 2026), n_draws=1, **BASE)
    out = res.draws[("park", "output_wan")][0]
    np.testing.assert_allclose(out, [0, 100, 200, 300, 300, 300])


def test_revenue_share_window_and_fixed_return_by_hand():
    # park revenue 100 亩 × 10万元 = 1000万元 a year; half to the origin for 2 years,
    # plus 100万元 a year for 3 years paid out of the host's revenue
    res = enclave_scenario(area_mu=100, output_per_mu_wan=50, tax_per_mu_wan=10,
                           revenue_share_to_origin=0.5, revenue_share_years=2,
                           fixed_return_wan=100, fixed_return_years=3, years=range(2020, 2025),
                           n_draws=1, **BASE)
    np.testing.assert_allclose(res.draws[("origin", "revenue_wan")][0], [600, 600, 100, 0, 0])
    np.testing.assert_allclose(res.draws[("host", "revenue_wan")][0], [400, 400, 900, 1000, 1000])
    np.testing.assert_allclose(res.draws[("origin", "added_revenue_per_head_yuan")][0, 0],
                               600 * 1e4 / 100_000)


def test_rule_92_keywords_give_half_for_three_years():
    res = enclave_scenario(area_mu=1, output_per_mu_wan=100, tax_rate=0.1, years=range(2020, 2025),
                           n_draws=1, **RULE_92, **BASE)
    np.testing.assert_allclose(res.draws[("origin", "revenue_wan")][0], [5, 5, 5, 0, 0])


def _slow(inputs: pd.Series, years, start, base_year, share_years, fixed_years):
    """One draw, year by year, written out as a planner would in a spreadsheet."""
    rows = {}
    for year in years:
        e = year - start
        if e < 0:
            f = 0.0
        elif inputs["ramp_years"] > 0:
            f = min(1.0, (e + 1) / inputs["ramp_years"])
        else:
            f = 1.0
        y = inputs["area_mu"] * inputs["output_per_mu_wan"] * f
        r = inputs["tax_rate"] * y
        t = 0.0
        if e >= 0 and e < share_years:
            t += inputs["revenue_share_to_origin"] * r
        if e >= 0 and e < fixed_years:
            t += inputs["fixed_return_wan"]
        g = (1 + inputs["base_growth"]) ** (year - base_year)
        credited = inputs["output_share_to_origin"] * y
        rows[year] = {
            ("park", "output_wan"): y,
            ("origin", "revenue_wan"): t,
            ("host", "revenue_wan"): r - t,
            ("origin", "output_per_head_yuan"):
                (inputs["origin_base_output_wan"] * g + credited) * 1e4 / inputs["origin_population"],
            ("host", "output_per_head_yuan"):
                (inputs["host_base_output_wan"] * g + y - credited) * 1e4 / inputs["host_population"],
        }
    return rows


def test_every_draw_matches_the_slow_spreadsheet_computation():
    years = list(range(2019, 2027))
    res = enclave_scenario(area_km2=(1, 3), output_per_mu_wan=(150, 350), ramp_years=(0, 4),
                           tax_rate=(0.05, 0.1), output_share_to_origin=(0.3, 1.0),
                           revenue_share_to_origin=(0, 0.5), revenue_share_years=3,
                           fixed_return_wan=(0, 500), fixed_return_years=5,
                           origin_population=(150_000, 250_000),
                           host_population=stats.norm(800_000, 50_000),
                           origin_base_output_wan=(800_000, 1_000_000),
                           host_base_output_wan=5_000_000, base_growth=(0.0, 0.06),
                           start_year=2020, base_year=2019, years=years, n_draws=40,
                           random_state=7)
    for k in range(40):
        slow = _slow(res.inputs.iloc[k], years, 2020, 2019, 3, 5)
        for t, year in enumerate(years):
            for key, value in slow[year].items():
                assert res.draws[key][k, t] == pytest.approx(value, rel=1e-12, abs=1e-9), (k, year, key)


def test_ranges_are_propagated_and_seeded():
    kw = dict(area_mu=100, output_per_mu_wan=(100, 300), years=[2020], n_draws=4000, **BASE)
    a = enclave_scenario(random_state=3, **kw).to_frame()
    b = enclave_scenario(random_state=3, **kw).to_frame()
    c = enclave_scenario(random_state=4, **kw).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    park = a[(a.side == "park") & (a.quantity == "output_wan")].iloc[0]
    # output = 100 × U(100, 300): quantiles 11000, 20000, 29000
    assert park["q5"] == pytest.approx(11_000, rel=0.03)
    assert park["q50"] == pytest.approx(20_000, rel=0.03)
    assert park["q95"] == pytest.approx(29_000, rel=0.03)
    assert park["q95"] > park["q50"] > park["q5"]


def test_probability_counts_draws():
    res = enclave_scenario(area_mu=1, output_per_mu_wan=(0, 1), years=[2020], n_draws=1000,
                           random_state=0, **BASE)
    x = res.draws[("park", "output_wan")][:, 0]
    assert res.probability("park", "output_wan", 0.25).iloc[0] == pytest.approx((x >= 0.25).mean())
    with pytest.raises(DataError, match="no quantity 'gdp' for side 'park'"):
        res.probability("park", "gdp", 1)


def test_to_frame_has_quantile_columns_for_every_side():
    res = enclave_scenario(area_mu=1, output_per_mu_wan=1, years=[2020, 2021], n_draws=5, **BASE)
    t = res.to_frame(quantiles=(0.1, 0.9))
    assert {"q10", "q90", "mean"} <= set(t.columns)
    assert set(t["side"]) == {"park", "origin", "host"}
    assert len(t) == 2 * (2 + 5 + 5)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(area_mu=1, area_km2=1), DataError, "exactly one of area_mu"),
        (dict(), DataError, "exactly one of area_mu"),
        (dict(area_mu=(3, 1)), DataError, r"area_mu=\(3, 1\): low must not exceed high"),
        (dict(area_mu=-1), DataError, r"area_mu: 3 of 3 draws outside \[0.0, inf\) \(e.g. -1.0\)"),
        (dict(area_mu=1, output_share_to_origin=1.5), DataError, "output_share_to_origin: 3 of 3"),
        (dict(area_mu="2"), ArgumentTypeError, "area_mu must be a number, a \\(low, high\\) range"),
        (dict(area_mu=(1, 2, 3)), ArgumentTypeError, "a range must be \\(low, high\\)"),
        (dict(area_mu=1, years=[]), DataError, "years is empty"),
        (dict(area_mu=1, n_draws=0), ArgumentTypeError, "n_draws must be a positive integer"),
        (dict(area_mu=1, tax_rate=0.1, tax_per_mu_wan=1), DataError, "at most one of tax_per_mu_wan"),
        (dict(area_mu=1, origin_population=0), DataError, "origin_population must be positive"),
    ],
)
def test_bad_input_raises_naming_the_argument(kwargs, error, match):
    base = dict(output_per_mu_wan=1, years=[2020], n_draws=3, **BASE)
    base.update(kwargs)
    with pytest.raises(error, match=match):
        enclave_scenario(**base)


def test_population_in_wan_ren_warns():
    with pytest.warns(UnitConversionWarning, match="origin_population is below 1000 persons"):
        enclave_scenario(area_mu=1, output_per_mu_wan=1, years=[2020], n_draws=2,
                         origin_population=19.98, host_population=1e6)


def test_sharing_terms_from_the_registry():
    terms = sharing_from_registry("ZJ-LYZH-2019")   # 镇海—龙游: fixed 1000.8万元 a year
    assert terms["fixed_return_wan"] == 1000.8 and terms["revenue_share_to_origin"] == 0.0
    res = enclave_scenario(area_mu=100, output_per_mu_wan=10, tax_per_mu_wan=20, years=[2020],
                           n_draws=1, **terms, **BASE)
    assert res.draws[("origin", "revenue_wan")][0, 0] == pytest.approx(1000.8)
    assert res.draws[("host", "revenue_wan")][0, 0] == pytest.approx(2000 - 1000.8)
    with pytest.raises(DataError, match="enclave_id='nope' is not in the registry"):
        sharing_from_registry("nope")


# The Qingyuan (庆元) check of docs/assess.md; every real number carries its source there.
QY_GDP_2022_WAN = 927_000        # 92.7亿元, https://www.zjqy.gov.cn/art/2023/8/24/art_1229355939_58958386.html
QY_HUJI_POP_2022 = 199_800       # 户籍总人口 19.98万人, same page
ZJ_GDP_PER_HEAD_2022 = 118_496   # 元, 2022 浙江统计公报, http://zhishi5.com/redianxinwen/202303/291943.html


def test_qingyuan_scenario_arithmetic():
    # claim (Zhejiang DRC 2019): 2 km² at 250万元 GDP per 亩, all credited to 庆元
    res = enclave_scenario(area_km2=2, output_per_mu_wan=250, output_share_to_origin=1.0,
                           years=[2022], origin_population=QY_HUJI_POP_2022,
                           host_population=1_000_000, origin_base_output_wan=QY_GDP_2022_WAN,
                           n_draws=1)
    assert res.draws[("origin", "output_wan")][0, 0] == 750_000        # 75亿元
    per_head = res.draws[("origin", "output_per_head_yuan")][0, 0]
    assert per_head == pytest.approx((927_000 + 750_000) * 1e4 / 199_800)
    assert round(per_head) == 83_934
    # on the registered (户籍) population the park does not reach the provincial mean ...
    assert per_head < ZJ_GDP_PER_HEAD_2022
    # ... it does when the population counted is at most this many persons
    break_even = (QY_GDP_2022_WAN + 750_000) * 1e4 / ZJ_GDP_PER_HEAD_2022
    assert round(break_even) == 141_524
    at = enclave_scenario(area_km2=2, output_per_mu_wan=250, output_share_to_origin=1.0,
                          years=[2022], origin_population=break_even, host_population=1e6,
                          origin_base_output_wan=QY_GDP_2022_WAN, n_draws=1)
    assert at.draws[("origin", "output_per_head_yuan")][0, 0] == pytest.approx(ZJ_GDP_PER_HEAD_2022)


def test_quantile_levels_are_checked():
    with pytest.raises(DataError, match="level=\\(5.0,\\): quantiles must lie in \\[0, 1\\]"):
        enclave_scenario(area_mu=1, output_per_mu_wan=1, years=[2020], level=5, **BASE)
