"""Units of Chinese yearbooks: parsing, conversion factors, recorded conversions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyeval.data.units import (
    CANONICAL_UNITS,
    conversion_factor,
    convert,
    convert_columns,
    parse_unit,
    split_header,
)
from policyeval.exceptions import UnitParseError


@pytest.mark.parametrize(
    "text, symbol, kind",
    [
        ("万元", "万元", "money"),
        ("（亿元）", "亿元", "money"),
        ("(千元)", "千元", "money"),
        ("单位：万元", "万元", "money"),
        ("单位:平方公里", "平方公里", "area"),
        ("平方千米", "平方公里", "area"),
        ("km²", "平方公里", "area"),
        ("KM2", "平方公里", "area"),
        ("公顷", "公顷", "area"),
        ("hm²", "公顷", "area"),
        ("亩", "亩", "area"),
        ("平方米", "平方米", "area"),
        ("万人", "万人", "population"),
        ("人", "人", "population"),
        ("件", "件", "count"),
        ("‰", "‰", "ratio"),
        ("万 元", "万元", "money"),
    ],
)
def test_parse_unit_variants(text, symbol, kind):
    unit = parse_unit(text)
    assert (unit.symbol, unit.kind) == (symbol, kind)


@pytest.mark.parametrize("bad", ["万吨", "斤", "平方英里", "12", ""])
def test_parse_unit_unknown_raises(bad):
    with pytest.raises(UnitParseError, match="cannot parse unit .*known units: 元"):
        parse_unit(bad)


def test_parse_unit_error_is_a_valueerror():
    with pytest.raises(ValueError):
        parse_unit("万吨")


def test_land_factors_follow_domain_definition():
    # DOMAIN.md §2: 1 亩 = 666.67 m², 1 km² = 1500 亩, 1 公顷 = 15 亩.
    assert conversion_factor("平方公里", "亩") == 1500.0
    assert conversion_factor("公顷", "亩") == 15.0
    assert conversion_factor("平方公里", "公顷") == pytest.approx(100.0, rel=1e-15)
    assert conversion_factor("平方公里", "平方米") == pytest.approx(1e6, rel=1e-12)
    assert 1.0 / conversion_factor("平方米", "亩") == pytest.approx(10000 / 15, rel=1e-12)
    assert conversion_factor("万亩", "平方公里") == pytest.approx(10000 / 1500)


def test_money_and_population_factors():
    assert conversion_factor("亿元", "元") == 1e8
    assert conversion_factor("万元", "元") == 1e4
    assert conversion_factor("亿元", "万元") == 1e4
    assert conversion_factor("千元", "万元") == pytest.approx(0.1)
    assert conversion_factor("万人", "人") == 1e4
    assert convert(np.array([1.5, 2.0]), "万元", "元").tolist() == [15000.0, 20000.0]


def test_cross_kind_conversion_raises():
    with pytest.raises(UnitParseError, match=r"cannot convert 万元 \(money\) to 平方公里 \(area\)"):
        conversion_factor("万元", "平方公里")
    with pytest.raises(UnitParseError, match="money_usd"):
        conversion_factor("万美元", "万元")


@pytest.mark.parametrize(
    "header, name, symbol",
    [
        ("地区生产总值(亿元)", "地区生产总值", "亿元"),
        ("行政区域土地面积（平方公里）", "行政区域土地面积", "平方公里"),
        ("年末户籍人口 【万人】", "年末户籍人口", "万人"),
        ("地区生产总值\n(亿元)", "地区生产总值", "亿元"),
        ("税收收入/万元", "税收收入", "万元"),
        ("一般公共预算收入(单位：万元)", "一般公共预算收入", "万元"),
    ],
)
def test_split_header_finds_unit(header, name, symbol):
    got_name, unit = split_header(header)
    assert got_name == name
    assert unit is not None and unit.symbol == symbol


@pytest.mark.parametrize("header, name", [("税收收入", "税收收入"), ("县（市、区）", "县(市、区)"), ("地　区", "地区")])
def test_split_header_without_unit(header, name):
    assert split_header(header) == (name, None)


def test_split_header_bad_declared_unit_raises():
    with pytest.raises(UnitParseError, match="header '地区生产总值\\(单位：万吨\\)'.*万吨"):
        split_header("地区生产总值(单位：万吨)")


def test_convert_columns_records_every_conversion():
    df = pd.DataFrame({"gdp": [1.5, 2.0], "land": [2.0, 3.0], "pop": [10.0, 20.0], "n": [1.0, 2.0]})
    out = convert_columns(df, {"gdp": "亿元", "land": "公顷", "pop": "人", "n": "家"})
    assert out["gdp"].tolist() == [1.5e8, 2.0e8]
    assert out["land"].tolist() == pytest.approx([0.02, 0.03])
    assert out.attrs["units"] == {"gdp": "元", "land": "平方公里", "pop": "人", "n": "家"}
    assert out.attrs["conversions"] == [
        {"column": "gdp", "from_unit": "亿元", "to_unit": "元", "factor": 1e8},
        {"column": "land", "from_unit": "公顷", "to_unit": "平方公里", "factor": pytest.approx(0.01)},
    ]
    assert df["gdp"].tolist() == [1.5, 2.0]  # input untouched


def test_convert_columns_target_override():
    df = pd.DataFrame({"gdp": [12345.0]})
    out = convert_columns(df, {"gdp": "万元"}, target={"money": "亿元"})
    assert out["gdp"].iloc[0] == pytest.approx(1.2345)
    assert out.attrs["units"]["gdp"] == "亿元"
    assert CANONICAL_UNITS["money"] == "元"
