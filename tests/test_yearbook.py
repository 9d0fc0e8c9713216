"""read_yearbook on yearbook-style files built in tmp_path (see yearbook_fixtures.py)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from yearbook_fixtures import (
    REGIONS,
    YEARS,
    wide_rows,
    write_csv,
    write_sheets_workbook,
    write_workbook,
    years_in_columns_rows,
)

from policyeval.data import yearbook
from policyeval.data.yearbook import read_yearbook, register_header
from policyeval.exceptions import (
    DataError,
    DataQualityWarning,
    DroppedObservationsWarning,
    DuplicateObservationError,
    NonNumericValueError,
    UnitParseError,
)

RTOL = 1e-12  # values pass through one multiplication by a power of ten


def _year(panel, year):
    return panel[panel.year == year].reset_index(drop=True)


def _read_quietly(*args, markers=0, **kwargs):
    # A clean file must read without any warning but the count of its "—" cells.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = read_yearbook(*args, **kwargs)
    expected = [rf"read {markers} cell\(s\) written as a missing-value marker"] if markers else []
    assert len(caught) == len(expected), [str(w.message) for w in caught]
    for w, pattern in zip(caught, expected):
        assert w.category is DataQualityWarning and re.search(pattern, str(w.message)), str(w.message)
    return df


@pytest.fixture
def restore_headers():
    saved = dict(yearbook.HEADERS)
    yield
    yearbook.HEADERS.clear()
    yearbook.HEADERS.update(saved)


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("encoding", ["gbk", "utf-8", "utf-8-sig"])
def test_messy_csv_table_reads_back_to_the_panel(known_panel, tmp_path, encoding):
    path = write_csv(wide_rows(known_panel, 2016, text=True), tmp_path / "表2-1.csv", encoding)
    df = _read_quietly(path, year=2016, markers=1)  # 秦淮区's 税收收入 is "—" in 2016
    pd.testing.assert_frame_equal(df, _year(known_panel, 2016), check_dtype=False, rtol=RTOL)
    assert df["year"].dtype == "int64" and df["region_code"].dtype == "int64"
    assert np.isnan(df.loc[df.region_code == 320104, "tax_revenue"]).all()  # "—" is missing, not 0


def test_csv_attrs_record_units_conversions_headers_and_footnotes(known_panel, tmp_path):
    path = write_csv(wide_rows(known_panel, 2016, text=True), tmp_path / "t.csv")
    df = read_yearbook(path, year=2016)
    conv = {c["column"]: c for c in df.attrs["conversions"]}
    assert conv["gdp"] == {"column": "gdp", "from_unit": "亿元", "to_unit": "元", "factor": 1e8}
    assert conv["tax_revenue"]["from_unit"] == "万元"  # from the "单位：万元" line
    assert conv["industrial_land_area"]["from_unit"] == "公顷"  # from the units row
    assert conv["industrial_land_area"]["factor"] == pytest.approx(0.01)
    assert conv["registered_population"]["factor"] == 1e4
    assert "land_area" not in conv and "patents_granted" not in conv  # already canonical
    assert df.attrs["units"] == {
        "gdp": "元", "general_budget_revenue": "元", "tax_revenue": "元", "land_area": "平方公里",
        "industrial_land_area": "平方公里", "registered_population": "人", "patents_granted": "件",
    }
    assert df.attrs["header_map"]["地区生产总值(亿元)"] == "gdp"
    assert df.attrs["header_map"]["行政区域土地面积(平方公里)"] == "land_area"
    assert len(df.attrs["footnotes"]) == 3
    assert df.attrs["footnotes"][0].endswith("注:1.本表按当年价格计算。")
    assert df.attrs["idname"] == "region_code" and df.attrs["layout"] == "table"


def test_workbook_one_sheet_per_year_with_mixed_units(known_panel, tmp_path):
    path = write_sheets_workbook(known_panel, tmp_path / "年鉴.xlsx")
    df = _read_quietly(path, markers=2)  # one "—" in 2016, one in 2017
    pd.testing.assert_frame_equal(df, known_panel, check_dtype=False, rtol=RTOL)
    gdp_conv = {c["year"]: c["from_unit"] for c in df.attrs["conversions"] if c["column"] == "gdp"}
    assert gdp_conv == {2015: "亿元", 2016: "万元", 2017: "亿元"}
    assert df.attrs["skipped_sheets"] == ["说明"]
    assert df.attrs["layout"] == "sheets"


def test_sheets_with_different_columns_are_aligned(known_panel, tmp_path):
    rows_2016 = [r[:7] for r in wide_rows(known_panel, 2016, text=False)]  # 2016 lacks 专利授权数
    sheets = {"2015": wide_rows(known_panel, 2015, text=False), "2016": rows_2016}
    df = read_yearbook(write_workbook(sheets, tmp_path / "w.xlsx"))
    assert df.loc[df.year == 2016, "patents_granted"].isna().all()
    assert df.loc[df.year == 2015, "patents_granted"].notna().all()


def test_years_in_columns_csv(known_panel, tmp_path):
    path = write_csv(years_in_columns_rows(known_panel, "gdp"), tmp_path / "gdp.csv")
    df = _read_quietly(path)
    expected = known_panel[["region_code", "region", "year", "gdp"]]
    pd.testing.assert_frame_equal(df, expected, check_dtype=False, rtol=RTOL)
    assert df.attrs["layout"] == "years_in_columns"
    assert df.attrs["conversions"] == [{"column": "gdp", "from_unit": "亿元", "to_unit": "元", "factor": 1e8}]


def test_years_in_columns_excel_with_numeric_year_headers_and_indicator_argument(known_panel, tmp_path):
    rows = [["地区", *YEARS]]  # no title: the indicator comes from the argument
    for code, name in REGIONS:
        sub = known_panel[known_panel.region_code == code].set_index("year")["registered_population"]
        rows.append([name, *[round(sub[y] / 1e4, 2) for y in YEARS]])
    path = write_workbook({"Sheet1": rows}, tmp_path / "pop.xlsx")
    with pytest.raises(DataError, match="no indicator name was found above the table; pass indicator="):
        read_yearbook(path)
    df = read_yearbook(path, indicator="年末户籍人口(万人)")
    assert "region_code" not in df and df.attrs["idname"] == "region"
    expected = known_panel[["region", "year", "registered_population"]].sort_values(["region", "year"])
    pd.testing.assert_frame_equal(df, expected.reset_index(drop=True), check_dtype=False, rtol=RTOL)


def test_round_trip_in_other_canonical_units(known_panel, tmp_path):
    path = write_sheets_workbook(known_panel, tmp_path / "wb.xlsx")
    df = read_yearbook(path, money_unit="亿元", area_unit="亩", population_unit="万人")
    np.testing.assert_allclose(df["gdp"], known_panel["gdp"] / 1e8, rtol=RTOL)
    np.testing.assert_allclose(df["land_area"], known_panel["land_area"] * 1500, rtol=RTOL)
    np.testing.assert_allclose(df["industrial_land_area"], known_panel["industrial_land_area"] * 1500, rtol=RTOL)
    np.testing.assert_allclose(df["registered_population"], known_panel["registered_population"] / 1e4, rtol=RTOL)
    assert df.attrs["units"]["gdp"] == "亿元" and df.attrs["units"]["land_area"] == "亩"
    with pytest.raises(UnitParseError, match="money_unit='平方公里' is not a money unit"):
        read_yearbook(path, money_unit="平方公里")


# ----------------------------------------------------------------------------- regions and codes


def _small(rows_body, header=("地区", "地区生产总值(万元)", "行政区域土地面积(平方公里)")):
    return [list(header), *[list(r) for r in rows_body]]


def test_separate_code_column_and_names_without_codes(tmp_path):
    rows = [["代码", "县（市、区）", "地区生产总值（万元）"], ["320102", "玄武区", "1,000"], ["320104", "秦淮区", "…"]]
    df = read_yearbook(write_csv(rows, tmp_path / "a.csv"), year=2015)
    assert df["region_code"].tolist() == [320102, 320104]
    assert df["gdp"].iloc[0] == 1e7 and np.isnan(df["gdp"].iloc[1])

    rows = _small([["南京市", "90,000,000", "6587"], ["苏州市", "—", "8657.3"]])
    df = read_yearbook(write_csv(rows, tmp_path / "b.csv"), year=2015)
    assert list(df.columns) == ["region", "year", "gdp", "land_area"]
    assert df["region"].tolist() == ["南京市", "苏州市"]


def test_twelve_digit_codes_and_province_header(tmp_path):
    # A 12-digit statistical code ending in six zeros is its 6-digit GB/T 2260 code
    # (issue 10 E: before, 320000000000 and 320000 would have been two units).
    rows = [["省份", "税收收入(亿元)"], ["320000000000 江苏省", "1"], ["330000 浙江省", "2"]]
    df = read_yearbook(write_csv(rows, tmp_path / "p.csv"), year=2020)
    assert df["region_code"].tolist() == [320000, 330000]
    assert df["region"].tolist() == ["江苏省", "浙江省"]
    rows = [["region", "tax_revenue(亿元)"], ["Suzhou  Industrial Park", "1"], ["320102 玄 武 区", "2"]]
    df = read_yearbook(write_csv(rows, tmp_path / "en.csv", "utf-8"), year=2020)
    assert df["region"].tolist() == ["Suzhou Industrial Park", "玄武区"]


def test_code_in_name_conflicting_with_code_column_raises(tmp_path):
    rows = [["代码", "地区", "地区生产总值(万元)"], ["320102", "320104 秦淮区", "1"]]
    with pytest.raises(DataError, match="region '秦淮区' has code 320104 in its name cell but 320102 in the code column"):
        read_yearbook(write_csv(rows, tmp_path / "c.csv"), year=2015)


def test_duplicate_names_without_codes_raise_with_hint(tmp_path):
    rows = _small([["鼓楼区", "1", "53"], ["鼓楼区", "2", "219"]])  # Nanjing's and Xuzhou's
    with pytest.raises(DuplicateObservationError, match=r"2 rows share 1 .*\(鼓楼区, 2015\).*add a 代码 column"):
        read_yearbook(write_csv(rows, tmp_path / "d.csv"), year=2015)


def test_year_column_layout(tmp_path):
    rows = [["地区", "年份", "税收收入(亿元)"], ["玄武区", "2015年", "1.5"], ["玄武区", "2016年", "1.7"]]
    df = read_yearbook(write_csv(rows, tmp_path / "y.csv"))
    assert df["year"].tolist() == [2015, 2016] and df["tax_revenue"].tolist() == [1.5e8, 1.7e8]
    rows[2][1] = "2016/17"
    with pytest.raises(DataError, match=r"tname='year' has 1 value\(s\) that are not integer years \(e.g. '2016/17'"):
        read_yearbook(write_csv(rows, tmp_path / "y2.csv"))


def test_table_without_a_year_raises(tmp_path):
    rows = _small([["南京市", "1", "6587"]])
    with pytest.raises(DataError, match=r"1 row\(s\) have no year .*pass year="):
        read_yearbook(write_csv(rows, tmp_path / "n.csv"))


def test_no_header_row_and_custom_region_column(tmp_path):
    rows = [["单位名称", "税收收入(万元)"], ["玄武区", "3"]]
    path = write_csv(rows, tmp_path / "h.csv")
    with pytest.raises(DataError, match="no header row found .*pass region_column="):
        read_yearbook(path, year=2015)
    assert read_yearbook(path, year=2015, region_column="单位名称")["tax_revenue"].tolist() == [3e4]


# ----------------------------------------------------------------------------- footnotes


def test_footnote_rows_that_look_like_data_warn_with_count(tmp_path):
    rows = _small([["玄武区", "1", "75"], ["注：下列为上年数", "", ""], ["秦淮区", "2", "49"], ["", "7", ""]])
    with pytest.warns(DroppedObservationsWarning, match=r"dropped 2 row\(s\) that hold numbers"):
        df = read_yearbook(write_csv(rows, tmp_path / "f.csv"), year=2015)
    assert df["region"].tolist() == ["玄武区"]
    assert len(df.attrs["footnotes"]) == 3


def test_unprefixed_note_sentence_is_a_footnote_not_a_region(tmp_path):
    rows = _small([["玄武区", "1", "75"], ["1. 本表按当年价格计算，下同。", "", ""]])
    df = _read_quietly(write_csv(rows, tmp_path / "s.csv"), year=2015)
    assert df["region"].tolist() == ["玄武区"]
    assert df.attrs["footnotes"] == ["[s.csv] 1.本表按当年价格计算,下同。"]


def test_skipped_sheet_with_numbers_warns(known_panel, tmp_path):
    sheets = {"2015": wide_rows(known_panel, 2015, text=False), "2015-2016": wide_rows(known_panel, 2016, text=False)}
    path = write_workbook(sheets, tmp_path / "s.xlsx")
    with pytest.warns(DroppedObservationsWarning, match="sheet '2015-2016' .* not named like a year and was skipped"):
        df = read_yearbook(path)
    assert df["year"].unique().tolist() == [2015]
    assert df.attrs["skipped_sheets"] == ["2015-2016"]


# ----------------------------------------------------------------------------- headers


def test_unknown_header_raise_keep_ignore(tmp_path):
    rows = [["地区", "地区生产总值(万元)", "科技支出(万元)"], ["玄武区", "1", "2"]]
    path = write_csv(rows, tmp_path / "u.csv")
    with pytest.raises(DataError, match=r"unknown header\(s\) '科技支出\(万元\)'; map them with headers="):
        read_yearbook(path, year=2015)
    kept = read_yearbook(path, year=2015, unknown_headers="keep")
    assert kept["科技支出"].tolist() == [2e4]  # its header states 万元, so it is converted
    assert kept.attrs["units"]["科技支出"] == "元"
    ignored = read_yearbook(path, year=2015, unknown_headers="ignore")
    assert "科技支出" not in ignored and ignored.attrs["ignored_columns"] == ["科技支出(万元)"]
    mapped = read_yearbook(path, year=2015, headers={"科技支出": ("science_expenditure", "money")})
    assert mapped["science_expenditure"].tolist() == [2e4]
    with pytest.raises(DataError, match="canonical name '科技' must be snake_case"):
        read_yearbook(path, year=2015, headers={"科技支出": "科技"})


def test_register_header_extends_the_dictionary(tmp_path, restore_headers):
    rows = [["地区", "高技术产业产值(亿元)"], ["玄武区", "2.5"]]
    path = write_csv(rows, tmp_path / "r.csv")
    register_header("高技术产业产值", "high_tech_output", "money")
    assert read_yearbook(path, year=2015)["high_tech_output"].tolist() == [2.5e8]
    register_header("新增市场主体", "new_market_entities", "count")
    rows = [["地区", "新增市场主体"], ["玄武区", "120"]]
    df = read_yearbook(write_csv(rows, tmp_path / "c.csv"), year=2015)
    assert df["new_market_entities"].tolist() == [120.0] and df.attrs["units"]["new_market_entities"] == "个"
    with pytest.raises(DataError, match="kind='weight' is not one of money"):
        register_header("产量", "output_tonnes", "weight")


def test_known_header_variants_map(tmp_path):
    rows = [["地 区", "＃税收收入", "地方一般公共预算收入", "年末常住人口", "专利授权量", "建成区面积"],
            ["", "亿元", "亿元", "万人", "件", "平方公里"],
            ["玄武区", "1", "2", "3", "4", "5"]]
    df = read_yearbook(write_csv(rows, tmp_path / "v.csv"), year=2015)
    assert list(df.columns[2:]) == ["tax_revenue", "general_budget_revenue", "resident_population",
                                    "patents_granted", "built_up_area"]


def test_year_columns_mixed_with_indicators_or_unknown_headers_raise(tmp_path):
    rows = [["地区", "2015年", "税收收入(万元)"], ["玄武区", "1", "2"]]
    with pytest.raises(DataError, match=r"mixes year columns \(2015\) with indicator columns"):
        read_yearbook(write_csv(rows, tmp_path / "m.csv"), year=2015)
    rows = [["地区生产总值（亿元）"], ["地区", "2015年", "2016年", "排名"], ["玄武区", "1", "2", "3"]]
    path = write_csv(rows, tmp_path / "r.csv")
    with pytest.raises(DataError, match=r"unknown header\(s\) '排名'"):
        read_yearbook(path)
    df = read_yearbook(path, unknown_headers="ignore")
    assert df["gdp"].tolist() == [1e8, 2e8] and df.attrs["ignored_columns"] == ["排名"]


def test_two_headers_mapping_to_one_column_raise(tmp_path):
    rows = [["地区", "地区生产总值(亿元)", "GDP(亿元)"], ["玄武区", "1", "1"]]
    with pytest.raises(DataError, match="both map to 'gdp'"):
        read_yearbook(write_csv(rows, tmp_path / "g.csv"), year=2015)


# ----------------------------------------------------------------------------- units


def test_unknown_unit_in_header_units_row_and_unit_line(tmp_path):
    with pytest.raises(UnitParseError, match=r"header '地区生产总值\(万吨\)': cannot parse unit '万吨'"):
        read_yearbook(write_csv([["地区", "地区生产总值(万吨)"], ["玄武区", "1"]], tmp_path / "a.csv"), year=2015)
    rows = [["地区", "地区生产总值"], ["", "万吨"], ["玄武区", "1"]]
    with pytest.raises(UnitParseError, match="units row .*cannot parse unit '万吨' of column '地区生产总值'"):
        read_yearbook(write_csv(rows, tmp_path / "b.csv"), year=2015)
    rows = [["单位：万吨", ""], ["地区", "地区生产总值"], ["玄武区", "1"]]
    with pytest.raises(UnitParseError, match="cannot parse unit '万吨'"):
        read_yearbook(write_csv(rows, tmp_path / "c.csv"), year=2015)


def test_money_column_without_a_unit_raises_and_units_argument_fixes_it(tmp_path):
    path = write_csv([["地区", "地区生产总值", "专利授权数"], ["玄武区", "1.5", "3"]], tmp_path / "m.csv")
    with pytest.raises(UnitParseError, match=r"no unit for column '地区生产总值' \(gdp\); yearbooks mix 万元 and 亿元"):
        read_yearbook(path, year=2015)
    df = read_yearbook(path, year=2015, units={"gdp": "亿元"})
    assert df["gdp"].tolist() == [1.5e8]
    assert df["patents_granted"].tolist() == [3.0] and df.attrs["units"]["patents_granted"] == "件"
    assert read_yearbook(path, year=2015, units={"地区生产总值": "万元"})["gdp"].tolist() == [1.5e4]


def test_unit_of_the_wrong_kind_raises(tmp_path):
    path = write_csv([["地区", "地区生产总值(平方公里)"], ["玄武区", "1"]], tmp_path / "k.csv")
    with pytest.raises(UnitParseError, match=r"'地区生产总值\(平方公里\)' \(gdp\) measures money but its unit is 平方公里 \(area\)"):
        read_yearbook(path, year=2015)


def test_header_and_units_row_disagree(tmp_path):
    rows = [["地区", "地区生产总值(亿元)"], ["", "万元"], ["玄武区", "1"]]
    with pytest.raises(UnitParseError, match=r"states two units \(亿元 in the header, 万元 in the units row\)"):
        read_yearbook(write_csv(rows, tmp_path / "t.csv"), year=2015)


def test_year_columns_with_different_units_raise(tmp_path):
    rows = [["地区生产总值"], ["地区", "2015年", "2016年"], ["", "亿元", "万元"], ["玄武区", "1", "2"]]
    with pytest.raises(UnitParseError, match=r"year columns state different units \(万元, 亿元\)"):
        read_yearbook(write_csv(rows, tmp_path / "yu.csv"))


# ----------------------------------------------------------------------------- bad values


def test_junk_value_raises_naming_column_and_region(known_panel, tmp_path):
    rows = wide_rows(known_panel, 2015, text=True)
    rows[6][3] = "12a"  # 吴江区's 税收收入
    with pytest.raises(NonNumericValueError, match=r"column 'tax_revenue' has 1 non-numeric value\(s\) \(e.g. '12a'\) at region=吴江区, year=2015.*header '税收收入'"):
        read_yearbook(write_csv(rows, tmp_path / "j.csv"), year=2015)


def test_negative_land_area_raises(tmp_path):
    rows = _small([["玄武区", "1", "75"], ["秦淮区", "1", "-49"]])
    with pytest.raises(DataError, match=r"column 'land_area' has 1 negative value\(s\) \(e.g. -49.0 at region=秦淮区, year=2015\)"):
        read_yearbook(write_csv(rows, tmp_path / "neg.csv"), year=2015)


def test_bad_arguments(tmp_path):
    path = write_csv(_small([["玄武区", "1", "75"]]), tmp_path / "ok.csv")
    with pytest.raises(DataError, match="layout='long' must be"):
        read_yearbook(path, layout="long")
    with pytest.raises(DataError, match="layout='sheets' needs an Excel workbook"):
        read_yearbook(path, layout="sheets")
    with pytest.raises(DataError, match="unknown_headers='drop' must be"):
        read_yearbook(path, unknown_headers="drop")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_yearbook(tmp_path / "missing.xlsx")


@pytest.mark.parametrize(
    "module",
    ["panel", "units", "yearbook", "yearbook_headers", "outcomes"],
)
def test_docstring_examples_run(module, restore_headers):
    import doctest
    import importlib

    mod = importlib.import_module(f"policyeval.data.{module}")
    result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


# ----------------------------------------------------------------------------- property: any units round-trip

_UNIT_CHOICES = {
    "gdp": ("地区生产总值", ["元", "千元", "万元", "亿元"]),
    "tax_revenue": ("税收收入", ["元", "万元", "亿元"]),
    "land_area": ("行政区域土地面积", ["平方公里", "公顷", "亩", "平方米"]),
    "resident_population": ("常住人口", ["人", "万人"]),
}


@settings(max_examples=20, deadline=None)
@given(
    data=st.data(),
    n_regions=st.integers(1, len(REGIONS)),
    brackets=st.sampled_from([("(", ")"), ("（", "）"), ("【", "】")]),
)
def test_any_mix_of_units_reads_back_to_canonical_values(tmp_path_factory, data, n_regions, brackets):
    from policyeval.data.units import conversion_factor

    canonical = {"gdp": "元", "tax_revenue": "元", "land_area": "平方公里", "resident_population": "人"}
    chosen = {c: data.draw(st.sampled_from(units)) for c, (_, units) in _UNIT_CHOICES.items()}
    values = {
        c: data.draw(st.lists(st.one_of(st.none(), st.floats(1e-3, 1e12)), min_size=n_regions, max_size=n_regions))
        for c in _UNIT_CHOICES
    }
    header = ["地区"] + [f"{zh}{brackets[0]}{chosen[c]}{brackets[1]}" for c, (zh, _) in _UNIT_CHOICES.items()]
    rows = [header]
    for k in range(n_regions):
        code, name = REGIONS[k]
        cells = []
        for c in _UNIT_CHOICES:
            v = values[c][k]
            cells.append("—" if v is None else repr(v / conversion_factor(chosen[c], canonical[c])))
        rows.append([f"{code} {name}", *cells])
    path = write_csv(rows, tmp_path_factory.mktemp("prop") / "t.csv")
    df = read_yearbook(path, year=2020)
    for c in _UNIT_CHOICES:
        expected = np.array([np.nan if v is None else v for v in values[c]], dtype=float)
        np.testing.assert_allclose(df[c].to_numpy(), expected, rtol=1e-12, err_msg=f"{c} in {chosen[c]}")
        assert df.attrs["units"][c] == canonical[c]
