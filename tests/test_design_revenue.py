"""Revenue attribution (在地统计 -> attributed revenue): hand calculations for every rule,
consistency with the simulator's revenue flows, bad input; and the doctests of policyeval.design."""

from __future__ import annotations

import doctest
import importlib
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policyeval as pe
from policyeval.design import attribute_revenue, sharing_rules
from policyeval.exceptions import ColumnNotFoundError, DesignError, PolicyevalWarning

REG_COLUMNS = [
    "enclave_id", "name_zh", "name_en", "type", "origin_name", "origin_code", "destination_name",
    "destination_code", "code_vintage", "agreement_year", "opening_year", "area_km2", "area_mu",
    "share_to_origin", "share_years", "share_cap", "fixed_return_rate", "fixed_return_years",
    "fixed_return_amount_wan", "investment_yi", "source_url", "source_url_2", "notes",
]  # fmt: skip
YEARS = list(range(2014, 2024))
CODES = ["320505", "320506", "320507", "320508", "320509", "321302", "321311",
         "330110", "330211", "330212", "330802", "330803", "330825"]  # fmt: skip


def registry(rows) -> pd.DataFrame:
    out = pd.DataFrame([{c: np.nan for c in REG_COLUMNS} | r for r in rows])
    out["name_zh"] = out["enclave_id"]
    out["origin_name"] = out["origin_code"]
    out["destination_name"] = out["destination_code"]
    out["source_url"] = "http://example.org"
    return out


def panel() -> pd.DataFrame:
    df = pd.DataFrame([(c, y) for c in CODES for y in YEARS], columns=["county_code", "year"])
    # booked revenue 1000 * (unit index + 1) + year offset: easy to read by hand
    df["booked"] = 1000.0 * (df["county_code"].map({c: i + 1 for i, c in enumerate(CODES)})) + (df["year"] - 2014)
    return df


def row(out, code, year, col):
    return float(out.loc[(out.county_code == code) & (out.year == year), col].iloc[0])


def test_share_50_50_for_3_years():
    # 财预〔2015〕92号-style rule: 50:50 for 3 years after the start; park = 10% of booked (assumption)
    reg = registry([dict(enclave_id="S", type="forward", origin_code="320509", destination_code="321302",
                         agreement_year=2016, opening_year=2016, share_to_origin=0.5, share_years=3)])
    out = attribute_revenue(panel(), reg, "booked", park_share=0.1)
    for y in YEARS:
        booked = 6000.0 + (y - 2014)                      # 321302 is unit 6
        paid = 0.5 * 0.1 * booked if 2016 <= y <= 2018 else 0.0
        assert row(out, "321302", y, "booked_out") == pytest.approx(paid, abs=1e-12)
        assert row(out, "320509", y, "booked_in") == pytest.approx(paid, abs=1e-12)
        assert row(out, "321302", y, "booked_attributed") == pytest.approx(booked - paid, abs=1e-9)
        assert row(out, "320509", y, "booked_attributed") == pytest.approx(5000.0 + (y - 2014) + paid, abs=1e-9)
    # revenue is moved, never created: totals are conserved
    assert out["booked_attributed"].sum() == pytest.approx(out["booked"].sum(), rel=1e-15)


def test_full_return_with_prefecture_origin_and_park_table():
    # 衢州海创园: 余杭 returns all (share 1) of the park's revenue; 衢州 (prefecture) -> 柯城, 衢江 (1/2 each)
    reg = registry([dict(enclave_id="Q", type="reverse_science", origin_code="330800",
                         destination_code="330110", agreement_year=2012, opening_year=2016,
                         share_to_origin=1.0)])
    park = pd.DataFrame({"enclave_id": "Q", "year": YEARS, "park_revenue": [100.0 * (y - 2013) for y in YEARS]})
    out = attribute_revenue(panel(), reg, "booked", park_revenue=park)
    for y in YEARS:
        paid = 100.0 * (y - 2013) if y >= 2016 else 0.0   # no duration: every year from 2016
        assert row(out, "330110", y, "booked_out") == pytest.approx(paid)
        assert row(out, "330802", y, "booked_in") == pytest.approx(paid / 2)
        assert row(out, "330803", y, "booked_in") == pytest.approx(paid / 2)


def test_fixed_rate_on_investment_and_fixed_amount():
    # 鄞州—衢江: 1.2亿元 at 10%/yr for 5 years = 1200万元/yr 2019-2023; 镇海—龙游: 1000.8万元/yr
    reg = registry([
        dict(enclave_id="YQ", type="poverty_relief", origin_code="330803", destination_code="330212",
             agreement_year=2019, opening_year=2019, fixed_return_rate=0.1, fixed_return_years=5,
             investment_yi=1.2),
        dict(enclave_id="ZL", type="poverty_relief", origin_code="330825", destination_code="330211",
             agreement_year=2019, opening_year=2020, fixed_return_amount_wan=1000.8, fixed_return_years=2),
    ])
    out = attribute_revenue(panel(), reg, "booked")          # no share rule: no park revenue needed
    # 消薄: the returns are the village collectives' income (村集体), in no county budget
    for y in YEARS:
        assert row(out, "330803", y, "booked_village") == pytest.approx(1200.0 if 2019 <= y <= 2023 else 0.0)
        assert row(out, "330825", y, "booked_village") == pytest.approx(1000.8 if 2020 <= y <= 2021 else 0.0)
    assert (out[["booked_in", "booked_out"]] == 0).all().all()
    assert (out["booked_attributed"] == out["booked"]).all()
    assert out["booked_village"].sum() == pytest.approx(5 * 1200.0 + 2 * 1000.8)
    assert out["attribution_basis"].eq("under the agreed terms, paid in full (compliance 1)").all()
    # money units: the same rule with revenue booked in 亿元
    out_yi = attribute_revenue(panel(), reg, "booked", unit="亿元")
    assert row(out_yi, "330803", 2020, "booked_village") == pytest.approx(0.12)
    # the same terms on an eco-compensation enclave are a budget transfer (the county invested)
    eco = reg.assign(type="eco_compensation")
    out = attribute_revenue(panel(), eco, "booked")
    assert row(out, "330803", 2020, "booked_in") == pytest.approx(1200.0)
    assert row(out, "330212", 2020, "booked_out") == pytest.approx(1200.0)
    assert out["booked_village"].sum() == 0


def test_consistent_with_simulator_flows():
    # The simulator sends 衢州海创园's extra tax (share 1) from 余杭 to 柯城/衢江 and fixed returns of the
    # 消薄 enclaves from 鄞州/镇海 to 衢江/龙游. Feeding the park's revenue back (余杭's outflow is that
    # park alone) must reproduce every simulated flow, unit by unit.
    p = pe.load_simulated_panel()
    # Two parks share by a share of their revenue, each the only revenue-sharing park of its host:
    # 衢州海创园 in 余杭 (330110) and 龙泉's 2018 enclave in 萧山 (330109, share 1 for 5 years).
    park = pd.concat([
        p[p.county_code == host][["year", "shared_revenue_out_wan"]]
        .rename(columns={"shared_revenue_out_wan": "park_revenue"}).assign(enclave_id=eid)
        for host, eid in [("330110", "ZJ-QZHCY-2012"), ("330109", "ZJ-LQFD-2018")]])
    # The simulator books 消薄 returns as budget flows; attribute_revenue sends them to the village
    # collectives (村集体): the two agree once the village column is added back.
    with pytest.warns(PolicyevalWarning, match=r"fixed_return_rate is given but neither investment_yi nor "
                                               r"fixed_return_amount_wan for 1 enclave\(s\) \(e.g. ZJ-PHQT-2017\)"):
        out = attribute_revenue(p, booked_column="tax_revenue_wan", park_revenue=park)
    village = out["tax_revenue_wan_village"]
    np.testing.assert_allclose(out["tax_revenue_wan_in"] + village, out["shared_revenue_in_wan"], rtol=1e-8,
                               atol=1e-6)
    recv = out.groupby("year")[["tax_revenue_wan_in", "tax_revenue_wan_village"]].sum().sum(axis=1)
    sent = out.groupby("year")["shared_revenue_out_wan"].sum()
    np.testing.assert_allclose(recv, sent, rtol=1e-8, atol=1e-6)
    assert out.loc[out.county_code == "330825", "tax_revenue_wan_village"].max() == pytest.approx(1000.8)
    assert out.loc[out.county_code == "330825", "tax_revenue_wan_in"].max() == 0


def test_sharing_rules_table():
    rules = sharing_rules().set_index("enclave_id")
    assert rules.loc["ZJ-QZHCY-2012", "rule"] == "share"
    assert rules.loc["ZJ-QZHCY-2012", "share_to_origin"] == 1.0
    assert rules.loc["ZJ-QJYZ-2019", "fixed_wan_per_year"] == pytest.approx(1200.0)   # 10% x 1.2亿元
    assert rules.loc["ZJ-QJYZ-2019", "fixed_years"] == 5
    assert rules.loc["ZJ-LYZH-2019", "fixed_wan_per_year"] == pytest.approx(1000.8)
    assert rules.loc["GD-JINGGUANG", "rule"] == "two_way (not modelled)"
    assert rules.loc["JS-SUSU-2006", "rule"] == "none"
    assert rules["source_url"].str.startswith("http").all()


def test_bad_input():
    reg = registry([dict(enclave_id="S", type="forward", origin_code="320509", destination_code="321302",
                         agreement_year=2016, opening_year=2016, share_to_origin=0.5, share_years=3,
                         share_cap="taxes of the 3 years before the move")])
    df = panel()
    with pytest.raises(DesignError, match=r"share rules apply to 1 enclave\(s\) \(e.g. S\) but neither "
                                          "park_revenue"):
        attribute_revenue(df, reg, "booked")
    with pytest.raises(ColumnNotFoundError, match="booked_column='tax' is not a column"):
        attribute_revenue(df, reg, "tax", park_share=0.1)
    with pytest.raises(DesignError, match=r"park_share=1.5 must be a fraction in \[0, 1\]"):
        attribute_revenue(df, reg, "booked", park_share=1.5)
    with pytest.raises(DesignError, match="not both"):
        attribute_revenue(df, reg, "booked", park_share=0.1, park_revenue="booked")
    with pytest.raises(DesignError, match="unit='千元' must be one of"):
        attribute_revenue(df, reg, "booked", park_share=0.1, unit="千元")
    with pytest.raises(ColumnNotFoundError, match=r"park_revenue lacks column\(s\) \['park_revenue'\]"):
        attribute_revenue(df, reg, "booked", park_revenue=pd.DataFrame({"enclave_id": ["S"], "year": [2016]}))
    with pytest.warns(PolicyevalWarning, match=r"share_cap is a rule about firms, not an amount, for 1 "
                                               r"enclave\(s\) \(e.g. S\).*relocation_tax_sharing"):
        attribute_revenue(df, reg, "booked", park_share=0.1)
    gappy = df.copy()
    gappy.loc[(gappy.county_code == "321302") & (gappy.year == 2017), "booked"] = np.nan
    with pytest.warns(PolicyevalWarning, match=r"park revenue is missing in years a share rule runs for 1 "
                                               r"enclave\(s\) \(e.g. S \(1\) destination unit-years\)"):
        out = attribute_revenue(gappy, reg, "booked", park_share=0.1)
    assert row(out, "320509", 2017, "booked_in") == 0.0 and row(out, "320509", 2016, "booked_in") > 0
    two = registry([
        dict(enclave_id="A", type="forward", origin_code="320509", destination_code="321302",
             agreement_year=2016, opening_year=2016, share_to_origin=0.5),
        dict(enclave_id="B", type="forward", origin_code="320505", destination_code="321302",
             agreement_year=2017, opening_year=2017, share_to_origin=0.5),
    ])
    with pytest.raises(DesignError, match=r"host several share-rule enclaves \(e.g. 321302 \(A\+B\)\)"):
        attribute_revenue(df, two, "booked", park_revenue="booked")


@pytest.mark.parametrize("module", ["policyeval.design.geo", "policyeval.design.enclave",
                                    "policyeval.design.truth",
                                    "policyeval.design.revenue", "policyeval.design.sides",
                                    "policyeval.design.spillover"])
def test_docstring_examples(module):
    mod = importlib.import_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(share=st.floats(0, 1), share_years=st.one_of(st.none(), st.integers(1, 6)),
       fixed=st.one_of(st.none(), st.floats(0, 5000)), fixed_years=st.one_of(st.none(), st.integers(1, 6)),
       start=st.integers(2012, 2023), park_share=st.floats(0, 1))
def test_transfers_conserve_revenue(share, share_years, fixed, fixed_years, start, park_share):
    # whatever the terms, attribution only moves revenue: paid = received, totals unchanged;
    # 苏州 (prefecture origin -> 5 districts) and 宿迁 (prefecture destination -> 2 districts)
    reg = registry([dict(enclave_id="P", type="forward", origin_code="320500", destination_code="321300",
                         agreement_year=start, opening_year=start, share_to_origin=share,
                         share_years=share_years, fixed_return_amount_wan=fixed, fixed_return_years=fixed_years)])
    out = attribute_revenue(panel(), reg, "booked", park_share=park_share)
    assert out["booked_in"].sum() == pytest.approx(out["booked_out"].sum(), rel=1e-12, abs=1e-9)
    assert out["booked_attributed"].sum() == pytest.approx(out["booked"].sum(), rel=1e-12)
    assert (out.loc[out.year < start, ["booked_in", "booked_out"]] == 0).all().all()
    # the five 苏州 districts receive equal shares
    recv = out[out.county_code.str.startswith("3205")].groupby("county_code")["booked_in"].sum()
    assert len(recv) == 5 and np.allclose(recv, recv.iloc[0])


# --- caps, compliance, return rates without a base, 财预〔2015〕92号 firm by firm -------------------


def test_numeric_share_cap_total_and_per_year():
    # park = 10% of booked 6000+ (unit 6): 50% share = 300.0, 300.05, 300.1, ... from 2016
    base = dict(enclave_id="S", type="forward", origin_code="320509", destination_code="321302",
                agreement_year=2016, opening_year=2016, share_to_origin=0.5)
    total = attribute_revenue(panel(), registry([base | dict(share_cap="700万元 in total")]), "booked",
                              park_share=0.1)
    got = [row(total, "320509", y, "booked_in") for y in (2016, 2017, 2018, 2019)]
    assert got == pytest.approx([300.1, 300.15, 700 - 300.1 - 300.15, 0.0])   # stops at the cap
    assert total["booked_in"].sum() == pytest.approx(700.0)
    yearly = attribute_revenue(panel(), registry([base | dict(share_cap="300万元/yr")]), "booked", park_share=0.1)
    assert row(yearly, "320509", 2016, "booked_in") == pytest.approx(300.0)
    assert row(yearly, "320509", 2023, "booked_in") == pytest.approx(300.0)
    assert row(yearly, "321302", 2023, "booked_out") == pytest.approx(300.0)
    rules = sharing_rules(registry([base | dict(share_cap="0.07亿元")])).set_index("enclave_id")
    assert rules.loc["S", "cap_kind"] == "total" and rules.loc["S", "cap_wan"] == pytest.approx(700.0)


@pytest.mark.parametrize("compliance", [1.0, 0.5, 0.0])
def test_compliance_scenarios_scale_what_is_paid(compliance):
    reg = registry([dict(enclave_id="S", type="forward", origin_code="320509", destination_code="321302",
                         agreement_year=2016, opening_year=2016, share_to_origin=0.5, share_years=3),
                    dict(enclave_id="V", type="poverty_relief", origin_code="330825", destination_code="330211",
                         agreement_year=2019, opening_year=2019, fixed_return_amount_wan=1000.0)])
    out = attribute_revenue(panel(), reg, "booked", park_share=0.1, compliance=compliance)
    assert row(out, "320509", 2017, "booked_in") == pytest.approx(compliance * 0.5 * 0.1 * 6003.0)
    assert row(out, "330825", 2020, "booked_village") == pytest.approx(compliance * 1000.0)
    assert out["booked_attributed"].sum() == pytest.approx(out["booked"].sum())
    assert out["attribution_basis"].iloc[0].startswith("under the agreed terms")
    one = attribute_revenue(panel(), reg, "booked", park_share=0.1, compliance={"S": compliance})
    assert row(one, "320509", 2017, "booked_in") == pytest.approx(compliance * 300.15)
    assert row(one, "330825", 2020, "booked_village") == pytest.approx(1000.0)   # not listed: paid in full
    with pytest.raises(DesignError, match=r"compliance=1.5 must be the share of agreed transfers"):
        attribute_revenue(panel(), reg, "booked", park_share=0.1, compliance=1.5)
    with pytest.raises(DesignError, match=r"compliance must map enclave ids to shares in \[0, 1\]; got S=-1"):
        attribute_revenue(panel(), reg, "booked", park_share=0.1, compliance={"S": -1})


def test_return_rate_without_base_warns():
    reg = registry([dict(enclave_id="R", type="poverty_relief", origin_code="330825", destination_code="330211",
                         agreement_year=2017, fixed_return_rate=0.1)])
    with pytest.warns(PolicyevalWarning, match=r"fixed_return_rate is given but neither investment_yi nor "
                                               r"fixed_return_amount_wan for 1 enclave\(s\) \(e.g. R\)"):
        out = attribute_revenue(panel(), reg, "booked")
    assert (out[["booked_in", "booked_out", "booked_village"]] == 0).all().all()
    assert bool(sharing_rules(reg)["rate_without_base"].iloc[0])


def firms_92() -> pd.DataFrame:
    """Four firms, 2012-2023, 三税 local shares in 万元 (hand-made, not data).

    A: moved 2015, full production 2017; pre-move 3000/yr (cap 9000): 50% of 4000 = 2000 a year in
       2017-2019 (6000 < 9000), extension 2020: min(2000, 3000) = 2000, 2021: min(2000, 1000) = 1000.
    B: pre-move 1500/yr: below the 2000万元 threshold, never shares.
    C: pre-move 2400/yr (cap 7200), then 8000/yr from 2016 (full production 2016): 4000, then 3200
       (cap reached in 2017), nothing after; no extension.
    D: moved 2014 but only 2 pre-move years in the data (2012-2013): unknown, warned, shares nothing.
    """
    years = list(range(2012, 2024))
    rows = []
    for y in years:
        rows.append(("A", y, 3000.0 if y < 2015 else (500.0 if y < 2017 else 4000.0), 2015, 2017))
        rows.append(("B", y, 1500.0 if y < 2015 else 5000.0, 2015, 2016))
        rows.append(("C", y, 2400.0 if y < 2016 else 8000.0, 2016, 2016))
        rows.append(("D", y, 9000.0, 2014, 2015))
    df = pd.DataFrame(rows, columns=["firm_id", "year", "three", "move_year", "full_production_year"])
    df["vat_local"] = df["three"] * 0.75
    df["cit_local"] = df["three"] * 0.25
    return df.drop(columns="three")


def test_rule_92_firm_by_firm():
    from policyeval.design.revenue import relocation_tax_sharing

    with pytest.warns(PolicyevalWarning, match=r"1 moved firm\(s\) lack some of the 3 years before the move "
                                               r"\(e.g. D\)"):
        out = relocation_tax_sharing(firms_92())
    take = out.pivot(index="year", columns="firm_id", values="to_origin_agreed")
    a = take["A"]
    assert a.loc[2012:2016].eq(0).all()
    assert a.loc[2017:2021].tolist() == pytest.approx([2000, 2000, 2000, 2000, 1000])
    assert a.loc[2022:].eq(0).all() and a.sum() == pytest.approx(9000.0)     # capped at pre-move 三税
    phase = out[out.firm_id == "A"].set_index("year")["share_phase"]
    assert phase.loc[2019] == "first 3 years" and phase.loc[2020] == "extension" and phase.loc[2022] == ""
    assert take["B"].eq(0).all() and not out.loc[out.firm_id == "B", "qualifies_92"].any()
    assert take["C"].loc[2016:2018].tolist() == pytest.approx([4000, 3200, 0])
    assert take["D"].eq(0).all()
    kept = out.set_index(["firm_id", "year"])["destination_keeps"]
    assert kept.loc[("A", 2021)] == pytest.approx(4000 - 1000)
    # without the extension A's take stops after 3 years; half compliance halves what is paid
    short = relocation_tax_sharing(firms_92()[lambda d: d.firm_id != "D"], extension=False, compliance=0.5)
    s = short.pivot(index="year", columns="firm_id", values="to_origin_paid")["A"]
    assert s.sum() == pytest.approx(0.5 * 6000.0) and s.loc[2020] == 0
    # market-driven moves do not qualify
    gov = firms_92()[lambda d: d.firm_id != "D"].assign(gov=lambda d: d.firm_id != "A")
    led = relocation_tax_sharing(gov, government_led="gov")
    assert led.loc[led.firm_id == "A", "to_origin_agreed"].sum() == 0
    assert led.loc[led.firm_id == "C", "to_origin_agreed"].sum() == pytest.approx(7200.0)
    # 元 instead of 万元: the threshold scales with the unit
    yuan = firms_92()[lambda d: d.firm_id == "B"].assign(vat_local=lambda d: d.vat_local * 1e4,
                                                          cit_local=lambda d: d.cit_local * 1e4)
    assert not relocation_tax_sharing(yuan, unit="元")["qualifies_92"].any()


def test_rule_92_bad_input():
    from policyeval.design.revenue import relocation_tax_sharing

    df = firms_92()[lambda d: d.firm_id != "D"]
    with pytest.raises(ColumnNotFoundError, match="move_year"):
        relocation_tax_sharing(df.drop(columns="move_year"))
    bad = df.copy()
    bad.loc[(bad.firm_id == "A") & (bad.year == 2020), "move_year"] = 2016
    with pytest.raises(DesignError, match=r"varies within idname='firm_id' for 1 firm\(s\) \(e.g. A\)"):
        relocation_tax_sharing(bad)
    early = df.assign(full_production_year=np.where(df.firm_id == "C", 2014, df.full_production_year))
    with pytest.raises(DesignError, match=r"full_production_year='full_production_year' is before "
                                          r"move_year='move_year' for 1 firm\(s\) \(e.g. C\)"):
        relocation_tax_sharing(early)
    with pytest.raises(pe.exceptions.DuplicateObservationError, match="duplicated"):
        relocation_tax_sharing(pd.concat([df, df.head(1)]))
