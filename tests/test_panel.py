"""read_panel / validate_panel: loading long panels and naming what is wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policyeval.data.panel import parse_year, read_panel, to_numeric, validate_panel
from policyeval.exceptions import (
    ColumnNotFoundError,
    DataError,
    DroppedObservationsWarning,
    DuplicateObservationError,
    NonNumericValueError,
)


def _raw():
    # As a CSV export gives it: everything text, unsorted, yearbook missing markers.
    return pd.DataFrame(
        {
            "county_code": ["321311", "320102", "321311", "320102"],
            "year": ["2011", "2010年", "2010", "2011.0"],
            "name": ["宿豫区", "玄武区", "宿豫区", "玄武区"],
            "gdp": ["1,234.5", "—", "980", "…"],
            "land_area": ["853", "75.46", "853", "75.46"],
        }
    )


def test_dataframe_is_validated_sorted_and_typed():
    raw = _raw()
    out = read_panel(raw, idname="county_code", tname="year")
    assert out["county_code"].tolist() == [320102, 320102, 321311, 321311]
    assert out["year"].tolist() == [2010, 2011, 2010, 2011]
    assert out["year"].dtype == "int64" and out["county_code"].dtype == "int64"
    assert np.isnan(out["gdp"].iloc[0]) and np.isnan(out["gdp"].iloc[1])
    assert out["gdp"].iloc[2:].tolist() == [980.0, 1234.5]
    assert out["name"].tolist() == ["玄武区", "玄武区", "宿豫区", "宿豫区"]  # text stays text
    assert raw["year"].tolist() == ["2011", "2010年", "2010", "2011.0"]  # input untouched


@pytest.mark.parametrize("marker", ["—", "...", "－", "-", "…", "／", "", "NA", "——", " ", "N/A"])
def test_missing_markers_are_nan_not_zero(marker):
    raw = pd.DataFrame({"id": [1, 2], "year": [2010, 2010], "gdp": ["5", marker]})
    out = read_panel(raw, idname="id", tname="year")
    assert out["gdp"].iloc[0] == 5.0
    assert np.isnan(out["gdp"].iloc[1])


def test_numeric_text_forms():
    s = pd.Series(["1,234.5", "１２３", "-5", "−2.5", "1e3", " 7 ", "Inf", "-inf"])
    assert to_numeric(s).tolist() == [1234.5, 123.0, -5.0, -2.5, 1000.0, 7.0, np.inf, -np.inf]


def test_integer_periods_are_accepted_as_time():
    # Simulated and textbook panels (fixest base_stagg) index time 1..T, not calendar years.
    raw = pd.DataFrame({"id": ["1", "1", "2"], "period": ["2", "1", "1"], "y": ["0.5", "1.5", "2"]})
    out = read_panel(raw, idname="id", tname="period")
    assert out["period"].tolist() == [1, 2, 1] and out["period"].dtype == "int64"
    assert parse_year("3") == 3 and parse_year("3", calendar=True) is None


@pytest.mark.parametrize("junk", ["12a", "x", "12%", "3.4.5", "约100"])
def test_non_numeric_value_raises_with_column_and_id(junk):
    raw = pd.DataFrame(
        {"county_code": [320102, 320104, 321311], "year": [2010] * 3, "gdp": ["1.0", junk, "2.0"]}
    )
    with pytest.raises(NonNumericValueError, match=r"column 'gdp' has 1 non-numeric.*county_code=320104, year=2010"):
        read_panel(raw, idname="county_code", tname="year")


def test_explicit_numeric_column_that_is_mostly_text_raises():
    raw = pd.DataFrame({"id": [1, 2], "year": [2010, 2010], "tax": ["abc", "def"]})
    assert read_panel(raw, idname="id", tname="year")["tax"].tolist() == ["abc", "def"]
    with pytest.raises(NonNumericValueError, match="column 'tax' has 2 non-numeric"):
        read_panel(raw, idname="id", tname="year", numeric=["tax"])


@pytest.mark.parametrize("arg, kwargs", [("idname", {"idname": "code", "tname": "year"}),
                                         ("tname", {"idname": "county_code", "tname": "yr"})])
def test_missing_id_or_time_column_names_argument_and_lists_columns(arg, kwargs):
    with pytest.raises(ColumnNotFoundError, match=rf"{arg}='\w+' is not a column.*available columns: 'county_code', 'year', 'name'"):
        read_panel(_raw(), **kwargs)


def test_column_not_found_is_a_keyerror():
    with pytest.raises(KeyError):
        read_panel(_raw(), idname="nope", tname="year")


def test_columns_selection_and_missing_column():
    out = read_panel(_raw(), idname="county_code", tname="year", columns=["gdp"])
    assert list(out.columns) == ["county_code", "year", "gdp"]
    with pytest.raises(ColumnNotFoundError, match="columns='taxx' is not a column"):
        read_panel(_raw(), idname="county_code", tname="year", columns=["gdp", "taxx"])


def test_duplicate_unit_year_rows_raise_with_count_and_examples():
    raw = pd.DataFrame(
        {"county_code": [320102, 320102, 320104, 320104, 320104, 321311],
         "year": [2010, 2010, 2011, 2011, 2012, 2010], "gdp": [1.0] * 6}
    )
    with pytest.raises(
        DuplicateObservationError,
        match=r"4 rows share 2 \(idname='county_code', tname='year'\) pair\(s\), e.g. \(320102, 2010\), \(320104, 2011\)",
    ):
        read_panel(raw, idname="county_code", tname="year")


def test_duplicates_counted_after_year_parsing():
    raw = pd.DataFrame({"id": [1, 1], "year": ["2010年", 2010], "y": [1.0, 2.0]})
    with pytest.raises(DuplicateObservationError, match=r"\(1, 2010\)"):
        read_panel(raw, idname="id", tname="year")


@pytest.mark.parametrize("bad", [2010.5, "2010/11", "2010-2011", "FY2010", "二〇一〇"])
def test_non_integer_years_raise(bad):
    raw = pd.DataFrame({"county_code": [320102, 320104], "year": [2011, bad], "gdp": [1.0, 2.0]}, dtype=object)
    with pytest.raises(DataError, match=r"tname='year' has 1 value\(s\) that are not integer years.*county_code=320104"):
        read_panel(raw, idname="county_code", tname="year")


@pytest.mark.parametrize("label, year", [("2010年", 2010), ("2010", 2010), (2010.0, 2010), ("２０１０", 2010), ("2010年度", 2010)])
def test_unambiguous_year_labels(label, year):
    assert parse_year(label) == year


def test_missing_year_and_missing_id_raise():
    with pytest.raises(DataError, match=r"tname='year' is missing in 1 row\(s\) \(e.g. id=2\)"):
        read_panel(pd.DataFrame({"id": [1, 2], "year": [2010, None]}), idname="id", tname="year")
    with pytest.raises(DataError, match=r"idname='id' is missing in 1 row\(s\)"):
        read_panel(pd.DataFrame({"id": [1, None], "year": [2010, 2010]}), idname="id", tname="year")


def test_negative_land_area_raises():
    raw = pd.DataFrame({"county_code": [320102, 320104], "year": [2010, 2010], "land_area": [75.5, -49.1]})
    with pytest.raises(DataError, match=r"column 'land_area' has 1 negative value\(s\) \(e.g. -49.1 at county_code=320104, year=2010\)"):
        read_panel(raw, idname="county_code", tname="year")
    # other columns may be negative (growth rates), unless declared
    ok = read_panel(raw.rename(columns={"land_area": "growth"}), idname="county_code", tname="year")
    assert ok["growth"].min() < 0
    with pytest.raises(DataError, match="column 'growth' has 1 negative"):
        read_panel(raw.rename(columns={"land_area": "growth"}), idname="county_code", tname="year",
                   nonnegative=["growth"])


def test_leading_zero_ids_stay_text():
    raw = pd.DataFrame({"stkcd": ["000001", "600000"], "year": [2010, 2010], "y": [1, 2]})
    out = read_panel(raw, idname="stkcd", tname="year")
    assert out["stkcd"].tolist() == ["000001", "600000"]


def test_csv_utf8_gbk_parquet_excel_agree(tmp_path):
    expected = read_panel(_raw(), idname="county_code", tname="year")
    raw = _raw()
    raw.to_csv(tmp_path / "p_utf8.csv", index=False)
    raw.to_csv(tmp_path / "p_gbk.csv", index=False, encoding="gbk")
    raw.to_csv(tmp_path / "p_bom.csv", index=False, encoding="utf-8-sig")
    raw.to_excel(tmp_path / "p.xlsx", index=False)
    expected.to_parquet(tmp_path / "p.parquet")
    for name in ["p_utf8.csv", "p_gbk.csv", "p_bom.csv", "p.xlsx", "p.parquet"]:
        got = read_panel(tmp_path / name, idname="county_code", tname="year")
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, obj=name)
        assert got["year"].dtype == "int64" and got["gdp"].dtype == "float64"


def test_empty_rows_of_a_file_are_dropped_with_a_warning(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("id,year,y\n1,2010,5\n,,\n2,2010,6\n,,\n", encoding="utf-8")
    with pytest.warns(DroppedObservationsWarning, match=r"dropped 2 completely empty row\(s\)"):
        out = read_panel(path, idname="id", tname="year")
    assert len(out) == 2


def test_unsupported_file_and_missing_file(tmp_path):
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(TypeError, match=r"expected a .csv"):
        read_panel(tmp_path / "x.json", idname="id", tname="year")
    with pytest.raises(FileNotFoundError, match="no such file"):
        read_panel(tmp_path / "none.csv", idname="id", tname="year")
    with pytest.raises(TypeError, match="path_or_frame must be a file path or a DataFrame, got list"):
        read_panel([1, 2], idname="id", tname="year")


def test_validate_panel_keeps_attrs():
    df = pd.DataFrame({"id": [2, 1], "year": [2010, 2010], "gdp": [1.0, 2.0]})
    df.attrs["units"] = {"gdp": "元"}
    out = validate_panel(df, "id", "year")
    assert out.attrs["units"] == {"gdp": "元"}
    assert out["id"].tolist() == [1, 2]


@settings(max_examples=25, deadline=None)
@given(st.permutations(list(range(6))))
def test_row_order_does_not_matter(order):
    raw = pd.DataFrame(
        {"id": [1, 1, 1, 2, 2, 2], "year": [2010, 2011, 2012] * 2, "y": ["1", "—", "3", "4", "5", "…"]}
    )
    expected = read_panel(raw, idname="id", tname="year")
    got = read_panel(raw.iloc[list(order)], idname="id", tname="year")
    pd.testing.assert_frame_equal(got, expected)


def test_clean_csv_reads_like_pandas_read_csv(tmp_path):
    # On a file without yearbook mess read_panel must agree with pandas.read_csv
    # (values and dtypes): ints stay int, flags become bool, blanks become NaN.
    df = pd.DataFrame(
        {
            "state": ["New Hampshire", "Alabama", "New Hampshire", "Alabama"],
            "year": [2001, 2001, 2000, 2000],
            "first_treat": [0, 2001, 0, 2001],
            "y": [1.5, np.nan, 2.25, -3.0],
            "treated": [False, True, False, True],
            "kind": ["a", None, "b", "c"],
        }
    )
    df.to_csv(tmp_path / "clean.csv", index=False)
    expected = pd.read_csv(tmp_path / "clean.csv").sort_values(["state", "year"]).reset_index(drop=True)
    got = read_panel(tmp_path / "clean.csv", idname="state", tname="year")
    pd.testing.assert_frame_equal(got, expected)


def test_text_columns_and_ids_are_tidied_not_mangled():
    raw = pd.DataFrame(
        {"region": ["南　京　市", " 苏州市 "], "year": [2010, 2010], "note": ["—", "开发区"]}
    )
    out = read_panel(raw, idname="region", tname="year")
    assert out["region"].tolist() == ["南京市", "苏州市"]
    assert pd.isna(out["note"].iloc[0]) and out["note"].iloc[1] == "开发区"
    with pytest.raises(DataError, match=r"idname='region' is missing in 1 row"):
        read_panel(raw.assign(region=["", "苏州市"]), idname="region", tname="year")
