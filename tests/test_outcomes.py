"""deflate() and the outcome builders: formulas checked by hand and against loops."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policyeval.data.outcomes import (
    deflate,
    gdp_per_mu,
    output_per_mu,
    patents_per_10k,
    talent_inflow_rate,
    talent_net_inflow,
    tax_per_capita,
    tax_per_mu,
    value_added_per_mu,
)
from policyeval.exceptions import ColumnNotFoundError, DataError, PolicyevalWarning, UnitParseError


def _panel():
    df = pd.DataFrame(
        {
            "county_code": [320102] * 3 + [321311] * 3,
            "year": [2010, 2011, 2012] * 2,
            "gdp": [100.0, 121.0, 150.0, 50.0, 55.0, 66.0],
            "cpi": [100.0, 110.0, 120.0, 100.0, 105.0, 112.0],
        }
    )
    df.attrs["units"] = {"gdp": "亿元"}
    return df


# ----------------------------------------------------------------------------- deflate


def test_deflate_with_a_series_index():
    index = pd.Series({2009: 95.0, 2010: 100.0, 2011: 110.0, 2012: 125.0})
    out = deflate(_panel(), "gdp", index, base_year=2011)
    expected = _panel()["gdp"] * 110.0 / _panel()["year"].map(index)
    np.testing.assert_allclose(out["gdp_real_2011"], expected, rtol=1e-15)
    assert out.loc[1, "gdp_real_2011"] == 121.0  # base year unchanged
    assert out.attrs["deflated"] == [
        {"column": "gdp", "new_column": "gdp_real_2011", "base_year": 2011,
         "index_type": "level", "price_index": "series"}
    ]
    assert out.attrs["units"]["gdp_real_2011"] == "亿元"
    assert "gdp_real_2011" not in _panel()


def test_deflate_base_choice_of_level_index_does_not_matter():
    a = pd.Series({2010: 100.0, 2011: 110.0, 2012: 125.0})
    b = a / a[2012] * 100  # same index rebased to 2012 = 100
    x = deflate(_panel(), "gdp", a, base_year=2010)["gdp_real_2010"]
    y = deflate(_panel(), "gdp", b, base_year=2010)["gdp_real_2010"]
    np.testing.assert_allclose(x, y, rtol=1e-14)


def test_deflate_chain_index_equals_hand_chained_level():
    chain = pd.Series({2010: 103.0, 2011: 110.0, 2012: 105.0})  # 上年=100; 2010's value is irrelevant
    level = pd.Series({2010: 1.0, 2011: 1.10, 2012: 1.10 * 1.05})
    got = deflate(_panel(), "gdp", chain, base_year=2010, index_type="chain")["gdp_real_2010"]
    np.testing.assert_allclose(got, _panel()["gdp"] / _panel()["year"].map(level), rtol=1e-14)
    with pytest.raises(DataError, match="chain index .* skips the year"):
        deflate(_panel(), "gdp", pd.Series({2010: 100.0, 2012: 105.0}), base_year=2010, index_type="chain")


def test_deflate_with_a_unit_specific_column():
    out = deflate(_panel(), ["gdp"], "cpi", base_year=2010, idname="county_code", suffix="_2010p")
    np.testing.assert_allclose(out["gdp_2010p"], _panel()["gdp"] * 100.0 / _panel()["cpi"], rtol=1e-15)
    with pytest.raises(DataError, match="price_index='cpi' is a column, so idname= is needed"):
        deflate(_panel(), "gdp", "cpi", base_year=2010)
    df = _panel().iloc[1:]  # 320102 loses its 2010 row
    with pytest.raises(DataError, match=r"no 2010 value for 1 unit\(s\) of idname='county_code' \(e.g. 320102\)"):
        deflate(df, "gdp", "cpi", base_year=2010, idname="county_code")


def test_deflate_bad_index_raises():
    with pytest.raises(DataError, match=r"price_index has no value for year\(s\) 2012"):
        deflate(_panel(), "gdp", {2010: 100.0, 2011: 110.0}, base_year=2010)
    with pytest.raises(DataError, match=r"price_index has no value for year\(s\) 2005"):
        deflate(_panel(), "gdp", {2010: 100.0, 2011: 110.0, 2012: 120.0}, base_year=2005)
    with pytest.raises(DataError, match="price_index must be positive; found 0.0"):
        deflate(_panel(), "gdp", {2010: 100.0, 2011: 0.0, 2012: 120.0}, base_year=2010)
    with pytest.raises(ColumnNotFoundError, match=r"columns\[0\]='gdpp' is not a column"):
        deflate(_panel(), "gdpp", {2010: 1.0}, base_year=2010)


# ----------------------------------------------------------------------------- per land unit


def test_gdp_per_mu_reproduces_the_qingyuan_scenario():
    # DOMAIN.md §4 (陈伟 2019 via a seed text): a 2 km² enclave at 250万元 GDP per 亩.
    # 2 km² = 3000 亩, so its GDP is 250 × 3000 万元 = 75万万元 = 75亿元.
    df = pd.DataFrame({"gdp": [75.0], "land_area": [2.0]})
    got = gdp_per_mu(df, gdp_unit="亿元", land_unit="平方公里")
    assert got.iloc[0] == pytest.approx(250.0, rel=1e-14)
    assert got.name == "gdp_per_mu" and got.attrs["unit"] == "万元/亩"


def test_per_mu_builders_agree_across_land_and_money_units():
    df = pd.DataFrame({"tax_revenue": [1.0e8], "industrial_value_added": [6.0e8],
                       "industrial_land_area": [2.0]})
    df.attrs["units"] = {"tax_revenue": "元", "industrial_value_added": "元", "industrial_land_area": "平方公里"}
    tax = tax_per_mu(df)
    assert tax.iloc[0] == pytest.approx(1e4 / 3000)  # 1亿元 = 1e4 万元 over 3000 亩
    assert tax.name == "tax_per_mu" and tax.attrs["unit"] == "万元/亩"
    va = value_added_per_mu(df, money_unit="元")
    assert va.iloc[0] == pytest.approx(6.0e8 / 3000) and va.attrs["unit"] == "元/亩"
    in_ha = pd.DataFrame({"t": [1.0], "land": [200.0]})  # 2 km² = 200 公顷
    assert output_per_mu(in_ha, "t", "land", output_unit="亿元", land_unit="公顷").iloc[0] == pytest.approx(tax.iloc[0])
    in_mu = pd.DataFrame({"t": [1.0e4], "land": [3000.0]})
    assert output_per_mu(in_mu, "t", "land", output_unit="万元", land_unit="亩").iloc[0] == pytest.approx(tax.iloc[0])


def test_zero_or_missing_land_gives_nan_and_a_warning_not_inf():
    df = pd.DataFrame({"county_code": [1, 2, 3, 4], "year": [2010] * 4,
                       "gdp": [1.0, 1.0, 1.0, np.nan], "land_area": [1.0, 0.0, np.nan, 0.0]})
    with pytest.warns(PolicyevalWarning, match=r"'land_area' is zero or missing in 2 row\(s\) .*county_code=2, year=2010; county_code=3"):
        got = gdp_per_mu(df, gdp_unit="亿元", land_unit="平方公里", idname="county_code")
    assert np.isfinite(got.iloc[0]) and got.iloc[1:].isna().all()
    assert not np.isinf(got).any()


def test_negative_land_raises_and_units_must_be_known():
    df = pd.DataFrame({"gdp": [1.0], "land_area": [-2.0]})
    with pytest.raises(DataError, match=r"column 'land_area' has 1 negative value"):
        gdp_per_mu(df, gdp_unit="亿元", land_unit="平方公里")
    with pytest.raises(UnitParseError, match=r"the unit of column 'gdp' is unknown: pass output_unit="):
        gdp_per_mu(pd.DataFrame({"gdp": [1.0], "land_area": [2.0]}), land_unit="亩")
    with pytest.raises(UnitParseError, match=r"land_unit='万元' for column 'land_area' is a money unit, not area"):
        gdp_per_mu(pd.DataFrame({"gdp": [1.0], "land_area": [2.0]}), gdp_unit="元", land_unit="万元")
    with pytest.raises(ColumnNotFoundError, match="land='built_up_area' is not a column"):
        gdp_per_mu(pd.DataFrame({"gdp": [1.0]}), land="built_up_area", gdp_unit="元", land_unit="亩")


# ----------------------------------------------------------------------------- per capita


def test_tax_per_capita_and_patents_per_10k():
    df = pd.DataFrame({"tax_revenue": [3.0, 1.0], "registered_population": [60.0, 0.0],
                       "patents_granted": [1200.0, 5.0], "resident_population": [80.0, 50.0]})
    df.attrs["units"] = {"tax_revenue": "亿元", "registered_population": "万人", "resident_population": "万人"}
    with pytest.warns(PolicyevalWarning, match="'registered_population' is zero or missing in 1 row"):
        tpc = tax_per_capita(df)
    assert tpc.iloc[0] == pytest.approx(3.0e8 / 6.0e5) and np.isnan(tpc.iloc[1])
    assert tpc.attrs["unit"] == "元/人"
    ppk = patents_per_10k(df)
    np.testing.assert_allclose(ppk, [1200 / 80, 5 / 50])  # population already in 万人
    assert ppk.attrs["unit"] == "件/万人"


# ----------------------------------------------------------------------------- talent inflow


def _talent():
    df = pd.DataFrame(
        {
            "id": [1, 1, 1, 2, 2, 2, 2],
            "year": [2010, 2011, 2012, 2010, 2011, 2013, 2014],
            "staff": [1.00, 1.10, 1.30, 2.00, 2.10, 2.40, 2.50],  # 万人
            "ngr": [5.0, 4.0, 3.0, 2.0, 2.0, 1.0, -1.0],          # 人口自然增长率, ‰
            "pop": [50.0, 51.0, 52.0, 80.0, 80.5, 81.0, 81.2],    # 万人
        }
    )
    df.attrs["units"] = {"staff": "万人", "ngr": "‰", "pop": "万人"}
    return df


def _slow_inflow(df):
    # The obvious loop: S_t - (1 + n_t) S_{t-1}, only when t-1 is present.
    out = []
    rows = {(r.id, r.year): r for r in df.itertuples()}
    for r in df.itertuples():
        prev = rows.get((r.id, r.year - 1))
        out.append(np.nan if prev is None else 1e4 * (r.staff - (1 + r.ngr / 1000) * prev.staff))
    return np.array(out)


def test_talent_net_inflow_matches_the_loop_and_warns_on_gaps():
    df = _talent()
    with pytest.warns(PolicyevalWarning, match=r"1 row\(s\) have no row for the previous year .*id=2, year=2013"):
        got = talent_net_inflow(df, "staff", "id", natural_growth="ngr")
    np.testing.assert_allclose(got, _slow_inflow(df), rtol=1e-12)
    assert got.iloc[1] == pytest.approx(11000 - 1.004 * 10000)  # 960 people
    assert got.attrs["unit"] == "人"
    shuffled = df.sample(frac=1.0, random_state=3)
    shuffled.attrs = df.attrs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyevalWarning)
        again = talent_net_inflow(shuffled, "staff", "id", natural_growth="ngr")
    np.testing.assert_allclose(again.sort_index(), got, rtol=1e-12)


def test_talent_net_inflow_without_natural_growth_is_the_change_in_stock():
    df = _talent().iloc[:3]
    got = talent_net_inflow(df, "staff", "id")
    np.testing.assert_allclose(got.iloc[1:], [1000.0, 2000.0])
    scalar = talent_net_inflow(df, "staff", "id", natural_growth=0.01)
    assert scalar.iloc[1] == pytest.approx(11000 - 1.01 * 10000)


def test_talent_inflow_rate_per_10k_previous_population():
    df = _talent().iloc[:3]
    rate = talent_inflow_rate(df, "staff", "pop", "id", natural_growth="ngr")
    inflow = talent_net_inflow(df, "staff", "id", natural_growth="ngr")
    assert rate.iloc[2] == pytest.approx(1e4 * inflow.iloc[2] / 51.0e4)
    assert np.isnan(rate.iloc[0]) and rate.attrs["unit"] == "人/万人"


def test_talent_measures_refuse_unknown_units_and_duplicates():
    df = _talent()
    df.attrs = {}
    with pytest.raises(UnitParseError, match="the unit of column 'staff' is unknown: pass stock_unit="):
        talent_net_inflow(df, "staff", "id")
    with pytest.raises(UnitParseError, match="the unit of column 'ngr' is unknown: pass natural_growth_unit="):
        talent_net_inflow(df, "staff", "id", stock_unit="万人", natural_growth="ngr")
    dup = pd.concat([_talent(), _talent().iloc[[0]]])
    dup.attrs = _talent().attrs
    with pytest.raises(DataError, match=r"duplicate \(idname='id', tname='year'\) rows"):
        talent_net_inflow(dup, "staff", "id")


def test_talent_net_inflow_recovers_simulated_migration():
    # Simulate S_t = (1 + n_t) S_{t-1} + M_t with known migration M; the measure must return M.
    rng = np.random.default_rng(7)
    rows = []
    for unit in range(4):
        stock = 5000.0 + 1000 * unit
        for year in range(2005, 2015):
            n = rng.uniform(-2, 8)  # ‰
            m = rng.normal(100, 300)
            if year > 2005:
                stock = (1 + n / 1000) * stock + m
            rows.append({"id": unit, "year": year, "s": stock, "ngr": n, "m": m if year > 2005 else np.nan})
    df = pd.DataFrame(rows)
    got = talent_net_inflow(df, "s", "id", natural_growth="ngr", natural_growth_unit="‰", stock_unit="人")
    np.testing.assert_allclose(got, df["m"], rtol=1e-9, atol=1e-7)
