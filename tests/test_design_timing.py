"""Tests of policyeval.design: treatment timing by role, neighbours, clean samples, bad input.

The bundled SIMULATED panel (policyeval.load_simulated_panel) carries the
simulator's own timing columns, computed from the same registry mapping
(policyeval.design.roles) -- the design must reproduce them. Small stand-in
registries test the branches one by one.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.design import enclave_design
from policyeval.design.geo import county_centroids, distance_matrix, haversine_km
from policyeval.exceptions import (
    ArgumentTypeError,
    ColumnNotFoundError,
    DesignError,
    DroppedObservationsWarning,
    DuplicateObservationError,
    PolicyevalWarning,
)

REG_COLUMNS = [
    "enclave_id", "name_zh", "name_en", "type", "origin_name", "origin_code", "destination_name",
    "destination_code", "code_vintage", "agreement_year", "opening_year", "area_km2", "area_mu",
    "share_to_origin", "share_years", "share_cap", "fixed_return_rate", "fixed_return_years",
    "fixed_return_amount_wan", "investment_yi", "source_url", "source_url_2", "notes",
]  # fmt: skip


def registry(rows) -> pd.DataFrame:
    out = pd.DataFrame([{c: np.nan for c in REG_COLUMNS} | r for r in rows])
    out["name_zh"] = out["enclave_id"]
    out["origin_name"] = out["origin_code"]
    out["destination_name"] = out["destination_code"]
    return out


def toy_panel(codes, years=range(2010, 2021)) -> pd.DataFrame:
    rows = [(c, y) for c in codes for y in years]
    df = pd.DataFrame(rows, columns=["county_code", "year"])
    df["y"] = np.arange(len(df), dtype=float)
    return df


# 苏州 districts + 常熟, 宿迁 units, 杭州 余杭/西湖, 衢州 柯城/衢江/龙游
CODES = ["320505", "320506", "320507", "320508", "320509", "320581", "321302", "321311", "321323",
         "330106", "330110", "330802", "330803", "330825"]  # fmt: skip


@pytest.fixture(scope="module")
def bundled():
    return pe.load_simulated_panel()


@pytest.fixture(scope="module")
def design_pref(bundled):
    return enclave_design(bundled, neighbours="same_prefecture")


def test_timing_matches_simulator(bundled, design_pref):
    # the simulator wrote its timing columns with the same mapping: they must agree unit by unit,
    # including destinations coded at prefecture level that neither layer can locate (one shared rule,
    # policyeval.design.roles.unlocatable_destinations: no unit treated by them)
    t = design_pref.timing.set_index("county_code")
    sim = bundled.groupby("county_code")[["first_treat", "first_treat_origin", "first_treat_destination",
                                          "first_exposed_neighbour"]].first()
    lost = pe.load_simulated_panel("roles").query("status == 'location_unknown'")
    assert len(lost) >= 1
    assert set(lost["enclave_id"]) <= set(design_pref.location_unknown["enclave_id"])

    def differ(design_col, sim_col):
        return set(sim.index[t.loc[sim.index, design_col].to_numpy() != sim[sim_col].to_numpy()])

    for design_col, sim_col in [("first_treat_origin", "first_treat_origin"), ("first_treat_any", "first_treat"),
                                ("first_treat_destination", "first_treat_destination"),
                                ("first_exposed", "first_exposed_neighbour")]:
        assert differ(design_col, sim_col) == set(), design_col
    last = bundled[bundled.year == bundled.year.max()].set_index("county_code")["n_enclaves"]
    assert (t.loc[last.index, "n_enclaves"].to_numpy() == last.to_numpy()).all()


def test_unlocated_destination_treats_no_unit_and_its_prefecture_is_never_control(design_pref):
    lost = design_pref.location_unknown
    # 温州海创园 sits somewhere in Hangzhou (330100), area unknown: none of Hangzhou's districts is treated by it
    wz = lost[lost["enclave_id"] == "ZJ-WZHCY-2020"]
    assert len(wz) >= 10 and wz["county_code"].str.startswith("3301").all()
    assert wz["reason"].str.contains("location within the prefecture unknown").all()
    t = design_pref.timing.set_index("county_code")
    assert not t.loc[wz["county_code"], "enclave_ids"].str.contains("ZJ-WZHCY-2020").any()
    assert t.loc[wz["county_code"], "location_unknown"].all()
    with pytest.warns(DroppedObservationsWarning, match=r"unit\(s\) of a prefecture hosting an enclave whose "
                                                        r"location in it is unknown"):
        s = design_pref.sample("destination", exclude_other_roles=False, exclude_neighbours=False)
    g = s.groupby("county_code")["gname"].first()
    assert not (set(g.index[g == 0]) & set(lost["county_code"]))


def test_known_units(design_pref):
    t = design_pref.timing.set_index("county_code")
    # 江阴市 is origin of 江阴—靖江 (2003) and of 江阴—黄桥 (2014): first opening, two enclaves
    assert t.loc["320281", "first_treat_origin"] == 2003
    assert t.loc["320281", "n_enclaves_origin"] == 2
    assert t.loc["320281", "area_km2_origin"] == pytest.approx(60.0)  # 黄桥 has no sourced area
    # 苏州 (prefecture code) is spread over its 5 urban districts, weight 1/5 of 苏宿's 13.6 km2 and
    # 苏滁's 36 km2 (undated: it adds area, not a start date; 苏虞 and 中新昆承湖 have no sourced area)
    assert t.loc["320505", "first_treat_origin"] == 2006
    assert t.loc["320505", "enclave_ids"] == "AH-SUCHU-2011;JS-SUSU-2006;JS-SUYU-2013;JS-ZXKCH-2022"
    assert t.loc["320505", "area_km2_origin"] == pytest.approx((13.6 + 36.0) / 5)
    # 宿城区 hosts 苏宿 (2006) through 宿迁's prefecture code
    assert t.loc["321302", "first_treat_destination"] == 2006
    # 萧山区: origin of 龙泉—萧山 (2012), destination of 龙泉's 消薄 enclave (2018), 温州海创园 (2020) and more
    assert t.loc["330109", "role_label"] == "origin+destination"
    assert (t.loc["330109", "first_treat_origin"], t.loc["330109", "first_treat_destination"]) == (2012, 2018)
    assert t.loc["330109", "first_treat_any"] == 2012


def test_multi_role_and_skipped_reported(design_pref):
    multi = design_pref.multi_role
    # 萧山 and 嘉兴南湖 as before; 黄埔 (京广 both ways) and 龙泉 (origin of its 2018 enclave in 萧山, host of
    # 萧山's 2012 park) from the newer registry rows. Shenzhen's districts are not: 无锡's science enclave in
    # Shenzhen is coded at prefecture level with no area, so it treats none of them.
    assert set(multi["county_code"]) == {"330109", "330421", "331181", "440112"}
    assert multi["handling"].str.contains("never a control").all()
    skipped = design_pref.skipped
    assert (skipped["reason"].notna()).all()
    # every (enclave, role) of the registry is either mapped or skipped with a reason
    reg = pe.load_enclaves()
    seen = set(zip(design_pref.assignments["enclave_id"], design_pref.assignments["role"]))
    assert seen == {(e, r) for e in reg["enclave_id"] for r in ("origin", "destination")}
    why = dict(zip(zip(skipped["enclave_id"], skipped["role"]), skipped["reason"]))
    assert "after the last panel year 2023" in why[("ZJ-XLKCY-2024", "origin")]
    assert "outside the panel's provinces" in why[("HL-SZHRB-2019", "destination")]   # 哈尔滨: not simulated
    # an undated enclave is not skipped: its participants are "treated, timing unknown"
    assert ("JS-CSSH", "origin") not in why
    unknown = design_pref.timing_unknown
    assert {"320581", "321324"} <= set(unknown["county_code"])
    a = design_pref.assignments
    rows = a[(a["enclave_id"] == "JS-CSSH") & (a["role"] == "origin")]
    assert len(rows) >= 1 and (rows["status"] == "timing_unknown").all()
    assert rows["reason"].str.contains("neither opening_year nor agreement_year").all()


def test_sample_excludes_other_roles_and_neighbours(design_pref):
    t = design_pref.timing.set_index("county_code")
    # 62 exposed neighbours before undated enclaves counted as treatment: 9 of them take part in one
    with pytest.warns(DroppedObservationsWarning, match=r"50 unit\(s\) treated only in another role.*"
                                                        r"16 unit\(s\) treated, timing unknown.*"
                                                        r"13 unit\(s\) of a prefecture hosting an enclave whose "
                                                        r"location in it is unknown.*"
                                                        r"47 never-treated neighbour\(s\) exposed.*"
                                                        r"14 never-treated neighbour\(s\) of an enclave "
                                                        r"without a start date"):
        s = design_pref.sample("destination")
    g = s.groupby("county_code")["gname"].first()
    assert (g == t.loc[g.index, "first_treat_destination"]).all()
    controls = g.index[g == 0]
    assert (t.loc[controls, "first_treat_any"] == 0).all()
    assert (t.loc[controls, "first_exposed"] == 0).all()
    # treated-in-role units stay even when they are also origins
    assert "330109" in g.index and g["330109"] == 2018
    with pytest.warns(DroppedObservationsWarning, match="both roles"):
        s2 = design_pref.sample("destination", drop_multi_role=True)
    assert "330109" not in set(s2["county_code"])


def test_sample_without_exclusions_keeps_everything(design_pref, bundled):
    # everything but the undated participants not treated as origins: treated at an unknown
    # date, they cannot be controls even when other roles are allowed in
    t = design_pref.timing
    undated = set(t.loc[t["timing_unknown"] & (t["first_treat_origin"] == 0), "county_code"])
    assert len(undated) == 18 and {"320581", "321324", "330782"} <= undated
    with pytest.warns(DroppedObservationsWarning, match=r"^sample\(role='origin'\): dropped 804 rows of 34 units "
                                                        r"from the comparison group: 18 unit\(s\) treated, timing "
                                                        r"unknown[^;]*; 16 unit\(s\) of a prefecture hosting an "
                                                        r"enclave whose location in it is unknown[^;]*\.$"):
        s = design_pref.sample("origin", exclude_other_roles=False, exclude_neighbours=False)
    unlocated = set(t.loc[t["location_unknown"] & (t["first_treat_origin"] == 0), "county_code"])
    assert len(s) == len(bundled) - int(bundled.county_code.isin(undated | unlocated).sum())


UNDATED = {"320581": "常熟", "321324": "泗洪", "320583": "昆山", "321322": "沭阳", "330782": "义乌",
           "330681": "诸暨", "330127": "淳安", "331122": "缙云"}


@pytest.mark.parametrize("neighbours", [None, "same_prefecture"])
def test_undated_participants_are_never_controls(bundled, neighbours):
    with pytest.warns(PolicyevalWarning, match=r"^24 unit\(s\) take part in 13 enclave\(s\) without a sourced "
                                               r"start date .*e\.g\. 320581 常熟市 \(BJ-CSBJ origin\).*16 of them "
                                               r"have no dated treatment") as caught:
        d = enclave_design(bundled, neighbours=neighbours)
    undated_warnings = [w for w in caught if "without a sourced start date" in str(w.message)
                        and not issubclass(w.category, DroppedObservationsWarning)]
    assert len(undated_warnings) == 1       # one counted warning, not one per unit
    unknown = set(d.timing_unknown["county_code"])
    assert set(UNDATED) <= unknown
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        samples = [d.sample(role, exclude_other_roles=other, exclude_neighbours=nb, types=types)
                   for role in ("origin", "destination", "any") for other in (True, False)
                   for nb in (True, False) for types in (None, ("forward",))
                   if not (role == "origin" and types is not None)]
        if neighbours is not None:
            samples.append(d.spillover_sample(d.rings[0]))
    for s in samples:
        controls = set(s.loc[s["gname"] == 0, "county_code"])
        assert not controls & unknown, sorted(controls & unknown)


def test_start_column_agreement_year():
    reg = registry([dict(enclave_id="E1", type="forward", origin_code="320509", destination_code="321323",
                         agreement_year=2012, opening_year=2015, source_url="http://x.org")])
    panel = toy_panel(CODES)
    d1 = enclave_design(panel, reg)
    d2 = enclave_design(panel, reg, start="agreement_year")
    assert d1.timing.set_index("county_code").loc["321323", "first_treat_destination"] == 2015
    assert d2.timing.set_index("county_code").loc["321323", "first_treat_destination"] == 2012


def test_rings_distance_and_exposure():
    reg = registry([dict(enclave_id="E1", type="forward", origin_code="320509", destination_code="330110",
                         agreement_year=2014, opening_year=2014, source_url="http://x.org")])
    panel = toy_panel(CODES)
    d = enclave_design(panel, reg, rings_km=(0, 50, 400))
    pts = county_centroids(CODES).set_index("code")
    dist = distance_matrix(pts.reset_index())
    i = CODES.index
    t = d.timing.set_index("county_code")
    # 西湖区 lies within 50 km of 余杭区 (treated 2014) and of 吴江区 -> first ring
    assert dist[i("330106"), i("330110")] < 50
    assert t.loc["330106", "exposure_ring"] == "0-50km" and t.loc["330106", "first_exposed"] == 2014
    # 龙游 is 50-400 km from both
    far = min(dist[i("330825"), i("330110")], dist[i("330825"), i("320509")])
    assert 50 < far < 400
    assert t.loc["330825", "exposure_ring"] == "50-400km"
    assert t.loc["330825", "nearest_treated_km"] == pytest.approx(far)
    ex = d.exposure.set_index(["county_code", "ring"])
    assert ex.loc[("330825", "50-400km"), "n_sources"] == 2
    with pytest.warns(DroppedObservationsWarning, match="first exposed in another ring"):
        sp = d.spillover_sample("0-50km")
    assert set(sp.loc[sp.gname > 0, "county_code"]) == set(t.index[(t.exposure_ring == "0-50km")
                                                                   & (t.first_treat_any == 0)])


def test_adjacency_and_missing_points():
    reg = registry([dict(enclave_id="E1", type="forward", origin_code="320509", destination_code="330110",
                         agreement_year=2014, opening_year=2014, source_url="http://x.org")])
    panel = toy_panel(CODES)
    adj = pd.DataFrame({"code": ["330106"], "neighbour_code": ["330110"]})
    t = enclave_design(panel, reg, neighbours="adjacent", adjacency=adj).timing.set_index("county_code")
    assert t.loc["330106", "first_exposed"] == 2014          # symmetric pair
    assert t.loc["330802", "first_exposed"] == 0
    # 龙港市 (2019, carved out of 苍南县) has no cpca point: exposure unknown, kept out of controls
    panel2 = toy_panel(CODES + ["330383"])
    with pytest.warns(PolicyevalWarning, match="no county point for 1 unit"):
        d = enclave_design(panel2, reg, rings_km=(0, 50))
    with pytest.warns(DroppedObservationsWarning, match="exposure is unknown"):
        s = d.sample("destination")
    assert "330383" not in set(s.county_code)


def test_haversine_hand_calculation():
    # one degree of latitude = pi R / 180 on the sphere of radius 6371.0088 km
    assert haversine_km(30.0, 120.0, 31.0, 120.0) == pytest.approx(np.pi * 6371.0088 / 180, rel=1e-12)
    # quarter of the equator
    assert haversine_km(0.0, 0.0, 0.0, 90.0) == pytest.approx(np.pi * 6371.0088 / 2, rel=1e-12)
    pts = county_centroids(["320509", "320685"])
    assert pts["source"].iloc[0] == "cpca 0.5.5 adcodes.csv"
    assert "predecessor 320621" in pts["source"].iloc[1]   # 海安县 -> 海安市 (2018), seat unchanged


def test_bad_input():
    panel = toy_panel(CODES)
    reg = registry([dict(enclave_id="E1", type="forward", origin_code="320509", destination_code="321323",
                         agreement_year=2012, opening_year=2015, source_url="http://x.org")])
    with pytest.raises(DesignError, match=r"roles contains unknown role\(s\) \['host'\]"):
        enclave_design(panel, reg, roles=("origin", "host"))
    with pytest.raises(DesignError, match=r"rings_km=\(0, 100, 50\) must be strictly increasing"):
        enclave_design(panel, reg, rings_km=(0, 100, 50))
    with pytest.raises(DesignError, match="needs at least two edges"):
        enclave_design(panel, reg, rings_km=(50,))
    with pytest.raises(DesignError, match="needs adjacency="):
        enclave_design(panel, reg, neighbours="adjacent")
    with pytest.raises(DesignError, match="neighbours='ring' must be one of"):
        enclave_design(panel, reg, neighbours="ring")
    with pytest.raises(ColumnNotFoundError, match="idname='code' is not a column"):
        enclave_design(panel, reg, idname="code")
    with pytest.raises(ArgumentTypeError, match="panel must be a DataFrame"):
        enclave_design(panel.to_numpy(), reg)
    doubled = pd.concat([panel, panel.iloc[[0]]])
    with pytest.raises(DuplicateObservationError, match=r"1 duplicated \(idname='county_code', tname='year'\) "
                                                        r"row\(s\) \(e.g. 320505/2010\)"):
        enclave_design(doubled, reg)
    bad = panel.assign(county_code=panel["county_code"].replace({"320505": "3205x5"}))
    with pytest.raises(DesignError, match=r"not 6-digit GB/T 2260 codes \(e.g. 3205x5\)"):
        enclave_design(bad, reg)
    # a county-level registry code of the panel's provinces that the panel lacks (e.g. old 吴江市 320584)
    old = registry([dict(enclave_id="E2", type="forward", origin_code="320584", destination_code="321323",
                         agreement_year=2008, opening_year=2008, source_url="http://x.org")])
    with pytest.raises(DesignError, match=r"registry code\(s\) absent from panel column idname='county_code'"
                                          r" for 1 \(enclave, role\) pair\(s\) \(e.g. E2 origin 320584\)"):
        enclave_design(panel, old)
    d = enclave_design(panel, old, on_missing="skip")
    assert "harmonise" in d.skipped.loc[d.skipped.role == "origin", "reason"].iloc[0]
    nothing = registry([dict(enclave_id="E3", type="forward", origin_code="110000", destination_code="120116",
                             agreement_year=2016, opening_year=2016, source_url="http://x.org")])
    with pytest.raises(DesignError, match="no registry role maps onto a unit of the panel"):
        enclave_design(panel, nothing)
    d = enclave_design(panel, reg)
    with pytest.raises(DesignError, match=r"role='host' is not one of"):
        d.sample("host")
    with pytest.raises(DesignError, match="gname='y' is already a column"):
        d.sample("origin", gname="y")
    with pytest.raises(DesignError, match="no neighbours"):
        d.spillover_sample("0-50km")
    with pytest.raises(DesignError, match="start='launch' must be"):
        enclave_design(panel, reg, start="launch")


def test_row_order_invariance(bundled):
    shuffled = bundled.sample(frac=1.0, random_state=3)
    a = enclave_design(bundled, neighbours="same_prefecture").timing
    b = enclave_design(shuffled, neighbours="same_prefecture").timing
    pd.testing.assert_frame_equal(a, b)


def test_sample_by_enclave_type():
    reg = registry([
        dict(enclave_id="F1", type="forward", origin_code="320509", destination_code="321323",
             agreement_year=2016, opening_year=2016, source_url="http://x.org"),
        dict(enclave_id="E1", type="eco_compensation", origin_code="330825", destination_code="321302",
             agreement_year=2012, opening_year=2012, source_url="http://x.org"),
        dict(enclave_id="F2", type="forward", origin_code="320505", destination_code="321302",
             agreement_year=2015, opening_year=2015, source_url="http://x.org"),
        dict(enclave_id="R1", type="reverse_science", origin_code="330802", destination_code="330110",
             agreement_year=2014, opening_year=2014, source_url="http://x.org"),
    ])
    d = enclave_design(toy_panel(CODES), reg)
    with pytest.warns(DroppedObservationsWarning) as rec:
        s = d.sample("destination", types=("forward",))
    msg = str(rec[0].message)
    assert "types=['forward']" in msg
    assert "1 unit(s) treated as destination only by other enclave types (e.g. 330110)" in msg
    assert "1 unit(s) treated as destination by another enclave type before a selected one (e.g. 321302)" in msg
    g = s.groupby("county_code")["gname"].first()
    assert g["321323"] == 2016 and "321302" not in g.index and "330110" not in g.index
    # origins of the other enclaves are treated, never controls
    assert not {"320509", "330825", "320505", "330802"} & set(g.index[g == 0])
    with pytest.raises(DesignError, match=r"types contains unknown enclave type\(s\) \['fwd'\]"):
        d.sample("destination", types=("fwd",))
    with pytest.raises(DesignError, match="no unit is treated as origin by an enclave of types"):
        d.sample("origin", types=("two_way",))


def test_timing_plot(design_pref):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ax = design_pref.plot(max_units=10)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 10 and "磐安县 330727" in labels     # earliest: 金磐 (1995)
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {"飞出地 origin", "飞入地 destination"}
    plt.close("all")
