"""read_industry_sheet: census / yearbook county × industry sheets into the long assess table.

Every fixture is written by the test into tmp_path; the numbers are made up, the county codes
are real Lishui (丽水) units so the files look like what users hold.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policyeval.assess import industry_fit, partner_scores
from policyeval.data.industry_sheet import industry_code, read_industry_sheet
from policyeval.exceptions import (
    DataError,
    DataQualityWarning,
    DesignError,
    DroppedObservationsWarning,
    DuplicateObservationError,
    NonNumericValueError,
    UnitParseError,
)

COUNTIES = [("331102", "莲都区"), ("331121", "青田县"), ("331126", "庆元县"), ("331127", "景宁畲族自治县")]
# made-up employment (persons) by county and section, year 2015 and 2020
EMP = {
    2015: {"A": [4000, 9000, 8000, 7000], "C": [52000, 30000, 11000, 6000],
           "F": [21000, 8000, 3000, 2500], "I": [3100, 600, 150, 100]},
    2020: {"A": [3500, 8000, 7000, 6500], "C": [56000, 31000, 12500, 6600],
           "F": [25000, 9500, 3300, 2700], "I": [4600, 900, 260, 180]},
}
# how each section is headed in the sheet: letter + name, name only, letter, division-free name
HEADS = {"A": "农、林、牧、渔业(万人)", "C": "C 制造业(万人)", "F": "批发和零售业(万人)", "I": "I(万人)"}


def _expected() -> pd.DataFrame:
    rows = [(code, name, ind, year, float(v[k]))
            for year, table in EMP.items() for ind, v in table.items()
            for k, (code, name) in enumerate(COUNTIES)]
    out = pd.DataFrame(rows, columns=["county_code", "county_name", "industry", "year", "employment"])
    return out.sort_values(["county_code", "year", "industry"]).reset_index(drop=True)


def _sheet(year: int, *, drop: str | None = None, total_row: bool = True) -> pd.DataFrame:
    """One year's grid as a census table: title, 单位 line implied by headers, 万人 with separators."""
    inds = [i for i in EMP[year] if i != drop]
    head = ["地区", *[HEADS[i] for i in inds], "合计(万人)"]
    rows = [[f"{year}年 各县(市、区)分行业从业人员", *[""] * (len(head) - 1)], head]
    for k, (code, name) in enumerate(COUNTIES):
        vals = [EMP[year][i][k] / 1e4 for i in inds]
        rows.append([f"{code} {name}", *[f"{v:,.4f}" for v in vals], f"{sum(vals):.4f}"])
    if total_row:
        vals = [sum(EMP[year][i]) / 1e4 for i in inds]
        rows.append(["331100 丽水市", *[f"{v:.4f}" for v in vals], f"{sum(vals):.4f}"])
        rows.append(["全市合计", *[f"{v:.4f}" for v in vals], f"{sum(vals):.4f}"])
    rows.append(["注：测试数据，数字为虚构。", *[""] * (len(head) - 1)])
    return pd.DataFrame(rows)


def _workbook(path, **kw) -> None:
    with pd.ExcelWriter(path) as xl:
        for year in EMP:
            _sheet(year, **(kw if year == 2020 else {})).to_excel(
                xl, sheet_name=f"{year}年", header=False, index=False)


def _read(path, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = read_industry_sheet(path, **kw)
    return out, caught


def test_workbook_of_year_sheets_reads_to_the_long_table(tmp_path):
    path = tmp_path / "分行业从业人员.xlsx"
    _workbook(path)
    df, caught = _read(path)
    pd.testing.assert_frame_equal(df, _expected(), check_exact=False, rtol=1e-9)
    assert df.attrs["conversions"] == {"万人": 1e4}
    assert df.attrs["header_map"]["C制造业(万人)"] == "C"
    assert df.attrs["header_map"]["批发和零售业(万人)"] == "F"
    # the prefecture row (331100 above its counties) and 全市合计, in both years
    assert len(df.attrs["excluded_aggregates"]) == 4
    kinds = [type(w.message) for w in caught]
    assert kinds == [DroppedObservationsWarning], [str(w.message) for w in caught]
    assert "excluded 4 aggregate row(s)" in str(caught[0].message)
    # the table feeds the assessment directly
    fit = industry_fit(df, "331126", 2020, base_year=2015)
    ref = industry_fit(_expected(), "331126", 2020, base_year=2015)
    pd.testing.assert_frame_equal(fit, ref)


def test_csv_with_year_column_thousands_separators_and_unit_line(tmp_path):
    path = tmp_path / "emp.csv"
    lines = ["单位：人,,,,", "年份,代码,地区,C,J"]
    lines += ['2018,331126,庆元县,"12,000",300', '2018,331127,景宁畲族自治县,"7,500",—',
              "2019,331126,庆元县,12500,320", "2019,331127,景宁畲族自治县,7700,250"]
    path.write_text("\n".join(lines) + "\n", encoding="gbk")
    df, caught = _read(path)
    assert df.loc[(df["county_code"] == "331126") & (df["year"] == 2018) & (df["industry"] == "C"),
                  "employment"].item() == 12000.0
    missing = df["employment"].isna()
    assert missing.sum() == 1 and df.loc[missing, "county_code"].item() == "331127"
    assert [type(w.message) for w in caught] == [DataQualityWarning]
    assert "1 industry cell(s) are empty or missing-value markers (0 blank, 1 marked" in str(caught[0].message)
    with pytest.raises(DataError, match="missing 'employment'"):
        industry_fit(df, "331126", 2018)
    filled, _ = _read(path, fill_missing=0)
    assert filled["employment"].isna().sum() == 0


def test_unknown_industry_header_is_an_error_naming_it(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("地区,制造业,高新技术产业,数字经济\n331126 庆元县,1,2,3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"2 column header\(s\) name no GB/T 4754-2017 section.*"
                                        r"'高新技术产业', '数字经济'"):
        read_industry_sheet(path, year=2020, unit="人")
    df, _ = _read(path, year=2020, unit="人", codes=None)
    assert sorted(df["industry"]) == ["制造业", "数字经济", "高新技术产业"]


def test_letter_and_name_of_different_sections_are_refused():
    with pytest.raises(DataError, match="letter C and name '金融业' .*section J"):
        industry_code("C 金融业")
    assert industry_code("J 金融业") == "J"
    assert industry_code("农林牧渔业") == "A"           # punctuation-free spelling
    assert industry_code("36 汽车制造业(人)") == "36"
    assert industry_code("GDP") is None and industry_code("C 什么业") is None


def test_industry_missing_in_one_year_is_a_counted_warning(tmp_path):
    path = tmp_path / "gap.xlsx"
    _workbook(path, drop="I")
    df, caught = _read(path)
    msgs = [str(w.message) for w in caught if issubclass(w.category, DataQualityWarning)]
    assert len(msgs) == 1
    assert "1 industries (e.g. I) are absent from 1 of 2 years (e.g. 2020: ['I'])" in msgs[0]
    assert not ((df["industry"] == "I") & (df["year"] == 2020)).any()


def test_negative_employment_is_an_error_naming_the_cell(tmp_path):
    path = tmp_path / "neg.csv"
    path.write_text("地区,A,C\n331126 庆元县,100,-5\n331127 景宁畲族自治县,50,60\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"1 negative employment value\(s\) \(e.g. 331126/C/2020 = -5\)"):
        read_industry_sheet(path, year=2020, unit="人")


def test_total_column_that_does_not_add_up_warns_with_the_row(tmp_path):
    path = tmp_path / "tot.csv"
    path.write_text("地区,A,C,合计\n331126 庆元县,100,60,160\n331127 景宁畲族自治县,50,60,200\n",
                    encoding="utf-8")
    df, caught = _read(path, year=2020, unit="人")
    assert [type(w.message) for w in caught] == [DataQualityWarning]
    assert "in 1 row(s) (e.g. 景宁畲族自治县" in str(caught[0].message)
    assert df.attrs["total_mismatches"] == ["景宁畲族自治县 (tot.csv: industries 110, 合计 200)"]
    assert len(df) == 4          # the 合计 column is not an industry


def test_no_unit_anywhere_is_refused_and_units_convert(tmp_path):
    path = tmp_path / "nounit.csv"
    path.write_text("地区,A,C\n331126 庆元县,1.5,2\n", encoding="utf-8")
    with pytest.raises(UnitParseError, match="no unit for column 'A'"):
        read_industry_sheet(path, year=2020)
    df = read_industry_sheet(path, year=2020, unit="万人")
    assert df["employment"].tolist() == [15000.0, 20000.0]
    out = read_industry_sheet(path, year=2020, unit="亿元", target_unit="万元", yname="output")
    assert out["output"].tolist() == [15000.0, 20000.0]
    with pytest.raises(UnitParseError, match="cannot be converted to target_unit='人'"):
        read_industry_sheet(path, year=2020, unit="万元")


def test_duplicate_county_and_duplicate_industry_column(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("地区,A,C\n331126 庆元县,1,2\n331126 庆元县,3,4\n", encoding="utf-8")
    with pytest.raises(DuplicateObservationError, match="331126/A/2020"):
        read_industry_sheet(path, year=2020, unit="人")
    path.write_text("地区,C,制造业\n331126 庆元县,1,2\n", encoding="utf-8")
    with pytest.raises(DuplicateObservationError, match="both name industry C"):
        read_industry_sheet(path, year=2020, unit="人")


def test_non_numeric_cell_is_an_error(tmp_path):
    path = tmp_path / "text.csv"
    path.write_text("地区,A,C\n331126 庆元县,1,约200\n", encoding="utf-8")
    with pytest.raises(NonNumericValueError, match="'约200' at 庆元县"):
        read_industry_sheet(path, year=2020, unit="人")


def test_partner_list_with_the_county_itself_is_refused(tmp_path):
    path = tmp_path / "分行业从业人员.xlsx"
    _workbook(path)
    df, _ = _read(path)
    with pytest.raises(DesignError, match=r"candidates contains the county itself \(331126\)"):
        partner_scores(df, "331126", ["331102", "331126"], year=2020)
    tab = partner_scores(df, "331126", ["331102", "331121"], year=2020)
    assert set(tab["candidate"]) == {"331102", "331121"}
    assert np.isfinite(tab["score"]).all()


def test_a_table_without_any_year_is_refused(tmp_path):
    path = tmp_path / "noyear.csv"
    path.write_text("地区,A,C\n331126 庆元县,1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"1 row\(s\) have no year .*pass year="):
        read_industry_sheet(path, unit="人")
