"""Bad yearbook and panel input (issue 10, part E): refused, or read with a counted warning.

Every number here is made up; region names and GB/T 2260 codes are real so the
files look like what users hold. Each test asserts the exception or warning
type and that its message names the column / file and example ids or counts.
"""

from __future__ import annotations

import re
import unicodedata
import warnings

import numpy as np
import pandas as pd
import pytest
from yearbook_fixtures import write_csv, write_workbook

from policyeval.data.outcomes import chain_index, deflate
from policyeval.data.panel import read_panel
from policyeval.data.yearbook import read_yearbook
from policyeval.exceptions import (
    AdminCodeError,
    DataError,
    DataQualityWarning,
    DroppedObservationsWarning,
    DuplicateObservationError,
    NonNumericValueError,
    UnitConversionWarning,
    UnitParseError,
)

HEADER = ["地区", "地区生产总值(亿元)"]


def _no_warning(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args, **kwargs)


def _yb(tmp_path, rows, name="t.csv", **kwargs):
    return read_yearbook(write_csv(rows, tmp_path / name), **kwargs)


# ----------------------------------------------------------------------------- 1. aggregate rows


@pytest.mark.parametrize("total", ["全市", "合计", "总计", "市区", "市辖区", "全省", "全市合计", "苏州市区", "南京市辖区"])
def test_yearbook_total_row_is_excluded_with_a_counted_warning(tmp_path, total):
    rows = [HEADER, ["玄武区", "1"], [total, "9"], ["秦淮区", "2"]]
    with pytest.warns(DroppedObservationsWarning,
                      match=rf"'t.csv': excluded 1 aggregate row\(s\).*e\.g\. {total}\).*keep_aggregates=True"):
        df = _yb(tmp_path, rows, year=2015)
    assert df["region"].tolist() == ["玄武区", "秦淮区"]
    assert df.attrs["excluded_aggregates"] == [total]


@pytest.mark.parametrize("sub", ["其中:市区", "其中：工业园区", "＃开发区", "其中 ： 吴江区"])
def test_yearbook_qizhong_sub_rows_are_excluded(tmp_path, sub):
    rows = [HEADER, ["苏州市", "10"], [sub, "4"], ["南京市", "8"]]
    with pytest.warns(DroppedObservationsWarning, match=r"excluded 1 aggregate row\(s\).*其中|excluded 1 aggregate row\(s\).*#"):
        df = _yb(tmp_path, rows, year=2015)
    assert df["region"].tolist() == ["南京市", "苏州市"]


def test_yearbook_totals_are_counted_once_with_examples(tmp_path):
    rows = [["代码", *HEADER], ["320500", "苏州市", "100"], ["320505", "虎丘区", "10"],
            ["320506", "吴中区", "20"], ["", "全市", "130"], ["", "其中:市区", "30"], ["", "合计", "1"]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = _yb(tmp_path, rows, year=2015)
    messages = [str(w.message) for w in caught if w.category is DroppedObservationsWarning]
    assert len(messages) == 1  # ONE warning for all of them
    assert re.search(r"excluded 4 aggregate row\(s\).*320500 \(prefecture code; the data also hold its "
                     r"county 320505\), 全市, 其中:市区, \.\.\.", messages[0])
    assert df["region_code"].tolist() == [320505, 320506]


def test_yearbook_province_code_above_its_counties_is_excluded(tmp_path):
    rows = [["代码", *HEADER], ["320000", "江苏省", "1000"], ["320505", "虎丘区", "10"], ["330106", "西湖区", "9"]]
    with pytest.warns(DroppedObservationsWarning, match=r"excluded 1 aggregate.*320000 \(province code; the data also hold 320505\)"):
        df = _yb(tmp_path, rows, year=2015)
    assert df["region_code"].tolist() == [320505, 330106]


def test_prefecture_level_table_and_real_districts_are_not_aggregates(tmp_path):
    # 320100 and 320500 are peers, not parent and child; 沙市区, 新市区 and 全州县 are real units.
    rows = [["代码", *HEADER], ["320100", "南京市", "1"], ["320500", "苏州市", "2"], ["421002", "沙市区", "3"],
            ["650104", "新市区", "4"], ["450324", "全州县", "5"], ["370103", "市中区", "6"]]
    df = _no_warning(_yb, tmp_path, rows, year=2015)
    assert len(df) == 6 and df.attrs["excluded_aggregates"] == []


def test_keep_aggregates_keeps_totals_without_a_warning(tmp_path):
    rows = [["代码", *HEADER], ["320500", "苏州市", "100"], ["320505", "虎丘区", "10"], ["", "合计", "110"]]
    df = _no_warning(_yb, tmp_path, rows, year=2015, keep_aggregates=True)
    assert sorted(df["region"]) == sorted(["苏州市", "虎丘区", "合计"])


def test_years_in_columns_table_drops_its_total_row(tmp_path):
    rows = [["地区生产总值(亿元)"], ["地区", "2015年", "2016年"], ["玄武区", "1", "2"], ["总计", "5", "6"]]
    with pytest.warns(DroppedObservationsWarning, match=r"excluded 2 aggregate row\(s\) .*e\.g\. 总计"):
        df = _yb(tmp_path, rows)
    assert df["region"].unique().tolist() == ["玄武区"]


def test_read_panel_excludes_total_rows_and_parent_codes():
    raw = pd.DataFrame({"county_code": [320500, 320505, 320506, 320500, 320505, 320506],
                        "year": [2010, 2010, 2010, 2011, 2011, 2011], "gdp": [30.0, 10, 20, 33, 11, 22]})
    with pytest.warns(DroppedObservationsWarning,
                      match=r"excluded 2 aggregate row\(s\).*320500 \(prefecture code; the data also hold its county 320505\)"):
        out = read_panel(raw, idname="county_code", tname="year")
    assert out["county_code"].unique().tolist() == [320505, 320506]
    named = pd.DataFrame({"region": ["全市", "玄武区", "其中：市区"], "year": [2010] * 3, "gdp": [3.0, 1.0, 2.0]})
    with pytest.warns(DroppedObservationsWarning, match=r"excluded 2 aggregate row\(s\).*全市, 其中:市区"):
        assert read_panel(named, idname="region", tname="year")["region"].tolist() == ["玄武区"]
    kept = _no_warning(read_panel, raw, idname="county_code", tname="year", keep_aggregates=True)
    assert len(kept) == 6


def test_read_panel_total_row_in_a_name_column_is_excluded():
    raw = pd.DataFrame({"county_code": [320102, 320199], "county_name": ["玄武区", "合计"],
                        "year": [2010, 2010], "y": [1.0, 9.0]})
    with pytest.warns(DroppedObservationsWarning, match=r"excluded 1 aggregate row\(s\).*合计"):
        out = read_panel(raw, idname="county_code", tname="year")
    assert out["county_code"].tolist() == [320102]


@pytest.mark.parametrize("ids", [[1, 100, 101], [1001, 1000, 1003], [100100, 100101, 100102], [8000, 8001, 8003]])
def test_read_panel_generic_ids_are_never_taken_for_admin_codes(ids):
    # Firm ids, FIPS codes, textbook ids: not 6-digit codes with a province prefix.
    raw = pd.DataFrame({"id": ids, "year": [2010] * 3, "y": [1.0, 2.0, 3.0]})
    assert len(_no_warning(read_panel, raw, idname="id", tname="year")) == 3


# ----------------------------------------------------------------------------- 2. statistical breaks


@pytest.mark.parametrize("note", ["注：2016年起按新口径统计。", "注：2014年数据经第三次经济普查调整",
                                  "说明：2012年前后数据不可比", "注：统计范围自2011年起为年主营业务收入2000万元以上企业"])
def test_footnote_announcing_a_break_warns_with_its_text(tmp_path, note):
    rows = [HEADER, ["玄武区", "1"], ["秦淮区", "2"], [note, ""]]
    word = next(w for w in ("口径", "调整", "不可比", "统计范围") if w in note)
    with pytest.warns(DataQualityWarning, match=rf"'t.csv': 1 note\(s\) announce a statistical break \({word}\): "
                                                rf"'\[t.csv\] {re.escape(unicodedata.normalize('NFKC', note))}'"):
        df = _yb(tmp_path, rows, year=2015)
    assert len(df) == 2 and len(df.attrs["breaks"]) == 1


def test_note_column_and_title_announcing_breaks_warn_naming_the_region(tmp_path):
    rows = [["表2-1 各县地区生产总值（2013年起口径调整）", "", ""], ["地区", "地区生产总值(亿元)", "备注"],
            ["玄武区", "1", ""], ["吴江区", "2", "2012年撤市设区，数据不可比"]]
    with pytest.warns(DataQualityWarning, match=r"2 note\(s\) announce a statistical break \(不可比, 口径, 调整\).*吴江区: 2012年撤市设区"):
        df = _yb(tmp_path, rows, year=2015)
    assert list(df.columns) == ["region", "year", "gdp"]  # the note column is not a measure
    assert any("吴江区: 2012年撤市设区" in f for f in df.attrs["footnotes"])


# ----------------------------------------------------------------------------- 3. admin codes


def test_yearbook_float_and_twelve_digit_codes_are_the_six_digit_code(tmp_path):
    rows = [["代码", *HEADER], ["320505.0", "320505 虎丘区", "1"], ["320506000000", "320506 吴中区", "2"]]
    df = _no_warning(_yb, tmp_path, rows, year=2015)
    assert df["region_code"].tolist() == [320505, 320506]


def test_yearbook_twelve_digit_township_code_is_refused_naming_both_forms(tmp_path):
    rows = [["代码", *HEADER], ["320505", "虎丘区", "1"], ["320505001000", "狮山街道", "2"]]
    with pytest.raises(AdminCodeError, match=r"t.csv: region '狮山街道' has the 12-digit statistical code 320505001000.*"
                                             r"last six digits 001000 are not zeros\); its 6-digit form 320505"):
        _yb(tmp_path, rows, year=2015)


def test_read_panel_reads_320500_and_320500_point_0_as_one_unit():
    raw = pd.DataFrame({"code": ["320505", "320505.0", "320506"], "year": [2010, 2011, 2010], "y": ["1", "2", "3"]})
    out = read_panel(raw, idname="code", tname="year")
    assert out["code"].tolist() == [320505, 320505, 320506] and out["code"].dtype == "int64"


def test_read_panel_same_code_in_two_forms_in_one_year_names_both():
    raw = pd.DataFrame({"code": ["320505", "320505.0", "320506"], "year": [2010, 2010, 2010], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(DuplicateObservationError,
                       match=r"\(320505, 2010\); the ids were written in two forms .*320505 written as '320505' and '320505.0'"):
        read_panel(raw, idname="code", tname="year")


def test_read_panel_twelve_digit_codes_with_zero_tails_become_six_digits():
    raw = pd.DataFrame({"code": [320505000000, 320506, 320505000000], "year": [2010, 2010, 2011], "y": [1.0, 2.0, 3.0]})
    out = read_panel(raw, idname="code", tname="year")
    assert out["code"].tolist() == [320505, 320505, 320506]
    both = pd.DataFrame({"code": [320505000000, 320505], "year": [2010, 2010], "y": [1.0, 2.0]})
    with pytest.raises(DuplicateObservationError, match=r"320505 written as '320505' and '320505000000'"):
        read_panel(both, idname="code", tname="year")


def test_read_panel_township_codes_mixed_with_counties_are_refused():
    raw = pd.DataFrame({"code": [320505001000, 320506, 320507], "year": [2010] * 3, "y": [1.0, 2.0, 3.0]})
    with pytest.raises(AdminCodeError, match=r"idname='code' mixes 12-digit statistical codes below county level .*"
                                             r"1 row\(s\), e.g. 320505001000 \(6-digit form 320505\)"):
        read_panel(raw, idname="code", tname="year")
    townships = pd.DataFrame({"code": [320505001000, 320505002000], "year": [2010] * 2, "y": [1.0, 2.0]})
    assert read_panel(townships, idname="code", tname="year")["code"].tolist() == [320505001000, 320505002000]


def test_read_panel_excel_float_codes(tmp_path):
    raw = pd.DataFrame({"code": [320505.0, 320506.0], "year": [2010.0, 2010.0], "y": [1.0, 2.0]}, dtype=object)
    raw.to_excel(tmp_path / "f.xlsx", index=False)
    out = read_panel(tmp_path / "f.xlsx", idname="code", tname="year")
    assert out["code"].tolist() == [320505, 320506] and out["code"].dtype == "int64"


# ----------------------------------------------------------------------------- 4. thousands separators


@pytest.mark.parametrize("bad", ["1,5", "12,34", "1,2345", "1,234,56", "1，5", ",123", "1,,234"])
def test_read_panel_refuses_commas_that_are_not_thousands_separators(bad):
    raw = pd.DataFrame({"county_code": [320102, 320104], "year": [2010, 2010], "gdp": ["1,234", bad]})
    with pytest.raises(NonNumericValueError,
                       match=rf"column 'gdp' has 1 non-numeric value\(s\) \(e.g. '{bad}'\) at county_code=320104, "
                             r"year=2010; .*not a thousands separator"):
        read_panel(raw, idname="county_code", tname="year")


def test_three_digit_groups_are_accepted():
    raw = pd.DataFrame({"id": [1, 2, 3, 4], "year": [2010] * 4, "gdp": ["1,234,567", "1，234", "-12,345.5", "999"]})
    assert read_panel(raw, idname="id", tname="year")["gdp"].tolist() == [1234567.0, 1234.0, -12345.5, 999.0]


def test_yearbook_decimal_comma_is_refused_naming_column_region_and_header(tmp_path):
    rows = [HEADER, ["玄武区", "1,234"], ["秦淮区", "1,5"]]
    with pytest.raises(NonNumericValueError, match=r"t.csv: column 'gdp' has 1 non-numeric value\(s\) \(e.g. '1,5'\) "
                                                   r"at region=秦淮区, year=2015.*header '地区生产总值\(亿元\)'"):
        _yb(tmp_path, rows, year=2015)


# ----------------------------------------------------------------------------- 5. implausible years


@pytest.mark.parametrize("bad", [20010, 199, 1900, 2101, "20010年"])
def test_read_panel_refuses_implausible_years(bad):
    raw = pd.DataFrame({"county_code": [320102, 320104, 320106], "year": [2010, 2011, bad], "y": [1.0, 2.0, 3.0]},
                       dtype=object)
    shown = str(bad).rstrip("年")
    with pytest.raises(DataError, match=rf"tname='year' has 1 implausible year\(s\) \(e.g. {shown} at "
                                        r"county_code=320106\); calendar years must lie in 1949..2100"):
        read_panel(raw, idname="county_code", tname="year")


def test_year_range_can_be_widened_and_integer_periods_pass():
    raw = pd.DataFrame({"id": [1, 2], "year": [1935, 1936], "y": [1.0, 2.0]})
    with pytest.raises(DataError, match=r"implausible year\(s\) \(e.g. 1935, 1936"):
        read_panel(raw, idname="id", tname="year")
    assert read_panel(raw, idname="id", tname="year", year_range=(1900, 2100))["year"].tolist() == [1935, 1936]
    periods = pd.DataFrame({"id": [1, 1], "t": [1, 199], "y": [1.0, 2.0]})  # all below 1000: periods 1..T
    assert read_panel(periods, idname="id", tname="t")["t"].tolist() == [1, 199]


def test_yearbook_implausible_year_argument_or_column_names_the_file(tmp_path):
    with pytest.raises(DataError, match=r"'t.csv': tname='year' has 1 implausible year\(s\) \(e.g. 20010 at region=玄武区\)"):
        _yb(tmp_path, [HEADER, ["玄武区", "1"]], year=20010)
    rows = [["地区", "年份", "地区生产总值(亿元)"], ["玄武区", "2015年", "1"], ["玄武区", "2016", "2"], ["秦淮区", "216", "3"]]
    with pytest.raises(DataError, match=r"implausible year\(s\) \(e.g. 216 at region=秦淮区\)"):
        _yb(tmp_path, rows, name="y.csv")


# ----------------------------------------------------------------------------- 6. percent and missing markers


def test_all_percent_column_is_read_in_percent_with_a_warning():
    raw = pd.DataFrame({"id": [1, 2, 3], "year": [2010] * 3, "growth": ["12.5%", "—", "-3%"]})
    with pytest.warns(UnitConversionWarning, match=r"column\(s\) 'growth' \(e.g. '12.5%', '-3%'\) are written in percent"):
        out = read_panel(raw, idname="id", tname="year")
    np.testing.assert_array_equal(out["growth"].to_numpy(), [12.5, np.nan, -3.0])
    assert out.attrs["units"] == {"growth": "%"}


def test_a_stray_percent_among_numbers_is_refused():
    raw = pd.DataFrame({"county_code": [320102, 320104], "year": [2010] * 2, "growth": ["12.5", "3%"]})
    with pytest.raises(NonNumericValueError, match=r"column 'growth' has 1 non-numeric value\(s\) \(e.g. '3%'\) at "
                                                   r"county_code=320104.*percent only when every value"):
        read_panel(raw, idname="county_code", tname="year")


@pytest.mark.parametrize("marker", ["n.a.", "NA", "—", "--", "…", "N/A", "N.A."])
def test_missing_markers_become_nan_with_a_counted_warning(marker):
    raw = pd.DataFrame({"county_code": [320102, 320104, 320106], "year": [2010] * 3, "gdp": ["1", marker, "3"]})
    with pytest.warns(DataQualityWarning, match=rf"read 1 cell\(s\) written as a missing-value marker .* column 'gdp': 1 "
                                                rf"\('{re.escape(marker)}' x1; e.g. at county_code=320104, year=2010\)"):
        out = read_panel(raw, idname="county_code", tname="year")
    assert np.isnan(out["gdp"].iloc[1]) and out["gdp"].iloc[2] == 3.0


def test_markers_are_counted_over_columns_and_blanks_are_not():
    raw = pd.DataFrame({"id": [1, 2, 3], "year": [2010] * 3, "gdp": ["—", "—", "3"], "tax": ["n.a.", "", "1"]})
    with pytest.warns(DataQualityWarning, match=r"read 3 cell\(s\).*column 'gdp': 2 \('—' x2.*column 'tax': 1 \('n.a.' x1"):
        read_panel(raw, idname="id", tname="year")
    blanks = raw.assign(gdp=["", " ", "3"], tax=["1", "", "1"])
    assert _no_warning(read_panel, blanks, idname="id", tname="year")["gdp"].isna().sum() == 2


def test_yearbook_percent_and_marker_cells(tmp_path):
    rows = [["地区", "人口自然增长率"], ["玄武区", "5.2%"], ["秦淮区", "…"], ["吴江区", "3.1%"]]
    with pytest.warns(UnitConversionWarning, match=r"'t.csv': column\(s\) '人口自然增长率' \(e.g. '5.2%'\) are written in percent"):
        df = _yb(tmp_path, rows, year=2015)
    assert df.attrs["units"]["natural_growth_rate"] == "%"
    assert df.set_index("region")["natural_growth_rate"].to_dict() == pytest.approx({"吴江区": 3.1, "玄武区": 5.2, "秦淮区": np.nan}, nan_ok=True)
    rows = [HEADER, ["玄武区", "—"], ["秦淮区", "n.a."], ["吴江区", "2"]]
    with pytest.warns(DataQualityWarning, match=r"'m.csv': read 2 cell\(s\) .*column 'gdp': 2 \('—' x1, 'n.a.' x1; e.g. at region=玄武区"):
        _yb(tmp_path, rows, name="m.csv", year=2015)


def test_yearbook_percent_cells_under_a_money_or_other_unit_header_are_refused(tmp_path):
    with pytest.raises(UnitParseError, match=r"'地区生产总值' \(gdp\) measures money but its unit is %"):
        _yb(tmp_path, [["地区", "地区生产总值"], ["玄武区", "5%"], ["秦淮区", "6%"]], year=2015)
    with pytest.raises(UnitParseError, match=r"column '人口自然增长率\(‰\)' is written in % in its cells but its header .* states ‰"):
        _yb(tmp_path, [["地区", "人口自然增长率(‰)"], ["玄武区", "5%"]], name="p.csv", year=2015)


# ----------------------------------------------------------------------------- 7. chain indices in deflate


def _panel():
    return pd.DataFrame({"county_code": [320102] * 4, "year": [2010, 2011, 2012, 2013], "gdp": [100.0, 110.0, 120.0, 130.0]})


CHAIN = pd.Series({2010: 103.3, 2011: 105.4, 2012: 102.6, 2013: 102.6})  # CPI-like, previous year = 100


def test_deflate_warns_when_a_level_index_looks_chained_and_chaining_fixes_it():
    with pytest.warns(DataQualityWarning, match=r"price_index looks like a previous-year = 100 chain index .*all 4 values "
                                                r"lie between 102.6 and 105.4 and none is 100.*index_type='chain'"):
        naive = deflate(_panel(), "gdp", CHAIN, base_year=2010)
    chained = _no_warning(deflate, _panel(), "gdp", CHAIN, base_year=2010, index_type="chain")
    level = 1.054 * 1.026 * 1.026
    assert chained["gdp_real_2010"].iloc[-1] == pytest.approx(130.0 / level, rel=1e-12)
    assert naive["gdp_real_2010"].iloc[-1] == pytest.approx(130.0 * 103.3 / 102.6)  # the wrong number it warns about
    explicit = _no_warning(deflate, _panel(), "gdp", CHAIN, base_year=2010, index_type="level")
    assert explicit["gdp_real_2010"].iloc[-1] == naive["gdp_real_2010"].iloc[-1]


def test_chain_index_helper_gives_a_fixed_base_index_deflate_accepts():
    fixed = chain_index(CHAIN, base_year=2012)
    assert fixed[2012] == 100.0 and fixed.name == "index_2012=100"
    assert fixed[2013] == pytest.approx(102.6) and fixed[2010] == pytest.approx(100 / (1.054 * 1.026))
    got = _no_warning(deflate, _panel(), "gdp", fixed, base_year=2010)  # holds 100: no warning
    want = deflate(_panel(), "gdp", CHAIN, base_year=2010, index_type="chain")
    np.testing.assert_allclose(got["gdp_real_2010"], want["gdp_real_2010"], rtol=1e-12)
    with pytest.raises(DataError, match="chain index .* skips the year"):
        chain_index({2010: 103.0, 2012: 104.0})
    with pytest.raises(DataError, match=r"base_year=2020 is not one of the index's years \(2010..2013\)"):
        chain_index(CHAIN, base_year=2020)


def test_deflate_warns_for_a_chain_looking_index_column():
    df = _panel().assign(cpi=[101.5, 102.0, 103.1, 101.9])
    with pytest.warns(DataQualityWarning, match=r"price_index='cpi' looks like a previous-year = 100 chain index"):
        deflate(df, "gdp", "cpi", base_year=2010, idname="county_code")
    fixed = df.assign(cpi=[100.0, 102.0, 105.1, 107.0])  # 2010 = 100
    _no_warning(deflate, fixed, "gdp", "cpi", base_year=2010, idname="county_code")


# ----------------------------------------------------------------------------- 8. unreadable files


def _write(kind, path):
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(np.random.default_rng(7).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    elif kind == "encrypted":  # what Excel writes for a password-protected .xlsx: an OLE2 compound file
        path.write_bytes(bytes.fromhex("D0CF11E0A1B11AE1") + bytes(3000))
    elif kind == "broken_zip":
        path.write_bytes(b"PK\x03\x04" + bytes(3000))
    return path


FILE_CASES = [
    ("empty", "e.csv", r"is empty \(0 bytes\)"),
    ("empty", "e.xlsx", r"is empty \(0 bytes\)"),
    ("random", "r.xlsx", r"is not a valid .xlsx workbook .*corrupt"),
    ("random", "r.csv", r"cannot decode"),
    ("encrypted", "p.xlsx", r"is an OLE2 compound file.*password-protected \(encrypted\)"),
    ("broken_zip", "z.xlsx", r"cannot read .*BadZipFile"),
]


@pytest.mark.parametrize("kind, name, pattern", FILE_CASES)
@pytest.mark.parametrize("reader", ["read_panel", "read_yearbook"])
def test_unreadable_files_raise_a_data_error_naming_the_path(tmp_path, kind, name, pattern, reader):
    path = _write(kind, tmp_path / name)
    with pytest.raises(DataError, match=re.escape(repr(str(path)))) as err:
        if reader == "read_panel":
            read_panel(path, idname="id", tname="year")
        else:
            read_yearbook(path, year=2015)
    assert re.search(pattern, str(err.value)), str(err.value)


def test_header_only_and_blank_files_raise_naming_the_path(tmp_path):
    panel_file = tmp_path / "h.csv"
    panel_file.write_text("id,year,y\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(repr(str(panel_file))) + r" has a header \('id', 'year', 'y'\) but no data rows"):
        read_panel(panel_file, idname="id", tname="year")
    yb = write_csv([HEADER], tmp_path / "hy.csv")
    with pytest.raises(DataError, match=re.escape(repr(str(yb))) + ": no data rows found under the header"):
        read_yearbook(yb, year=2015)
    blank = tmp_path / "b.csv"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(repr(str(blank))) + " holds no table"):
        read_panel(blank, idname="id", tname="year")
    empty_book = write_workbook({"Sheet1": [[]]}, tmp_path / "w.xlsx")
    with pytest.raises(DataError, match=re.escape(repr(str(empty_book))) + ": the workbook has no cells"):
        read_yearbook(empty_book, year=2015)
    with pytest.raises(DataError, match=re.escape(repr(str(empty_book))) + " holds no columns"):
        read_panel(empty_book, idname="id", tname="year")


def test_corrupt_parquet_raises_naming_the_path(tmp_path):
    path = _write("random", tmp_path / "r.parquet")
    with pytest.raises(DataError, match=rf"cannot read {re.escape(repr(str(path)))}: ArrowInvalid"):
        read_panel(path, idname="id", tname="year")
