"""Tests of the calibrated enclave-panel simulator (policyeval.data.simulate).

Most tests run on small stand-in frames built here (21 real county codes of
苏州, 宿迁, 杭州, 宁波, 衢州 and ten invented enclaves covering every branch of
the role mapping); the calibration and bundled-file tests use the real county
list and registry that ship with the package.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from policyeval.data import simulate as sim
from policyeval.data import _simulate_calibration as cal
from policyeval.data.simulate import (
    BUNDLED_PARAMETERS,
    default_effects,
    load_simulated_panel,
    simulate_enclave_panel,
)
from policyeval.exceptions import (
    ArgumentTypeError,
    ColumnNotFoundError,
    DataError,
    DuplicateObservationError,
    RegistryError,
)

ROOT = Path(__file__).resolve().parents[1]

_UNITS = [
    ("320505", "虎丘区", "3205", "district"), ("320506", "吴中区", "3205", "district"),
    ("320507", "相城区", "3205", "district"), ("320508", "姑苏区", "3205", "district"),
    ("320509", "吴江区", "3205", "district"), ("320581", "常熟市", "3205", "county_city"),
    ("320583", "昆山市", "3205", "county_city"), ("321302", "宿城区", "3213", "district"),
    ("321311", "宿豫区", "3213", "district"), ("321322", "沭阳县", "3213", "county"),
    ("321323", "泗阳县", "3213", "county"), ("321324", "泗洪县", "3213", "county"),
    ("330106", "西湖区", "3301", "district"), ("330110", "余杭区", "3301", "district"),
    ("330211", "镇海区", "3302", "district"), ("330212", "鄞州区", "3302", "district"),
    ("330802", "柯城区", "3308", "district"), ("330803", "衢江区", "3308", "district"),
    ("330822", "常山县", "3308", "county"), ("330825", "龙游县", "3308", "county"),
    ("330881", "江山市", "3308", "county_city"),
]  # fmt: skip
_PREF_NAMES = {"3205": "苏州市", "3213": "宿迁市", "3301": "杭州市", "3302": "宁波市", "3308": "衢州市"}
_REGISTRY_COLUMNS = [
    "enclave_id", "name_zh", "name_en", "type", "origin_name", "origin_code", "destination_name",
    "destination_code", "code_vintage", "agreement_year", "opening_year", "area_km2", "area_mu",
    "share_to_origin", "share_years", "share_cap", "fixed_return_rate", "fixed_return_years",
    "fixed_return_amount_wan", "investment_yi", "source_url", "source_url_2", "notes",
]  # fmt: skip


def standin_counties() -> pd.DataFrame:
    df = pd.DataFrame(_UNITS, columns=["code", "name", "p4", "level"])
    df["prefecture_code"] = df["p4"] + "00"
    df["prefecture_name"] = df["p4"].map(_PREF_NAMES)
    df["province_code"] = df["code"].str[:2] + "0000"
    df["province_name"] = df["province_code"].map({"320000": "江苏省", "330000": "浙江省"})
    return df.drop(columns="p4")


def _enclave(eid, etype, origin, dest, agreement, opening, **terms):
    return dict(enclave_id=eid, name_zh=eid, type=etype, origin_name=origin, origin_code=origin,
                destination_name=dest, destination_code=dest, agreement_year=agreement,
                opening_year=opening, **terms)  # fmt: skip


def standin_enclaves() -> pd.DataFrame:
    rows = [
        # prefecture origin (苏州 -> its 5 districts), county destination, share 50% for 3 years
        _enclave("E-SUSU", "forward", "320500", "321302", 2006, 2006, share_to_origin=0.5, share_years=3),
        # opening unknown -> agreement year
        _enclave("E-WJSY", "forward", "320509", "321323", 2012, None),
        # prefecture origin 衢州 -> 柯城, 衢江; reverse science enclave
        _enclave("E-QZHC", "reverse_science", "330800", "330110", 2012, 2016),
        _enclave("E-LYZH", "poverty_relief", "330825", "330211", 2019, 2019,
                 fixed_return_amount_wan=1000.8, fixed_return_years=5),
        _enclave("E-QJYZ", "poverty_relief", "330803", "330212", 2019, 2020,
                 fixed_return_rate=0.1, investment_yi=1.2, fixed_return_years=5),
        # destination outside the provinces: origin only
        _enclave("E-CSBJ", "reverse_science", "320581", "110108", 2017, 2017),
        # entirely outside
        _enclave("E-SHSW", "special_cooperation_zone", "440300", "441521", 2011, 2011),
        _enclave("E-KSJS", "two_way", "320583", "330881", 2018, 2019),
        _enclave("E-LATE", "eco_compensation", "330822", "330106", 2024, 2026),
        _enclave("E-NOYR", "eco_compensation", "330822", "330106", None, None),
    ]
    df = pd.DataFrame(rows).reindex(columns=_REGISTRY_COLUMNS)
    df["code_vintage"] = 2019
    df["source_url"] = "https://example.org/stand-in"
    for c in ("agreement_year", "opening_year", "share_years", "fixed_return_years", "code_vintage"):
        df[c] = df[c].astype("Int64")
    for c in ("area_km2", "area_mu", "share_to_origin", "fixed_return_rate", "fixed_return_amount_wan",
              "investment_yi"):  # fmt: skip
        df[c] = df[c].astype("Float64")
    return df


def run(**kw):
    kw.setdefault("seed", 7)
    return simulate_enclave_panel(counties=standin_counties(), enclaves=standin_enclaves(), **kw)


@pytest.fixture(scope="module")
def pair():
    """Same seed with and without effects: the draws are shared, only the effect differs."""
    return run(), run(effects=False)


@pytest.fixture(scope="module")
def complete_pair():
    return run(missing=False), run(missing=False, effects=False)


def _row(panel, code, year):
    return panel[(panel["county_code"] == code) & (panel["year"] == year)].iloc[0]


# --- determinism -------------------------------------------------------------------------------

def test_same_seed_same_output_and_different_seed_differs(pair):
    again = run()
    pd.testing.assert_frame_equal(pair[0].panel, again.panel)
    pd.testing.assert_frame_equal(pair[0].truth, again.truth)
    pd.testing.assert_frame_equal(pair[0].roles, again.roles)
    other = run(seed=8)
    common = pair[0].panel.merge(other.panel, on=["county_code", "year"])
    assert not np.allclose(common["gdp_wan_x"], common["gdp_wan_y"], equal_nan=True)


def test_unpacks_as_panel_and_truth(pair):
    panel, truth = pair[0]
    assert panel is pair[0].panel and truth is pair[0].truth


def test_sub_range_of_years_returns_the_same_numbers(pair):
    part = run(years=range(2010, 2016)).panel
    full = pair[0].panel
    full = full[full["year"].between(2010, 2015)].reset_index(drop=True)
    pd.testing.assert_frame_equal(part, full)


# --- the truth table is what was injected ---------------------------------------------------------

@pytest.mark.parametrize("role,tcol", [("destination", "first_treat_destination"),
                                       ("origin", "first_treat_origin"), ("any", "first_treat")])
def test_truth_equals_treated_minus_counterfactual(pair, role, tcol):
    on, off = pair
    both = on.panel.merge(off.panel, on=["county_code", "year"], suffixes=("", "_cf"))
    both = both[both[tcol] > 0]
    both["event_time"] = both["year"] - both[tcol]
    truth = on.truth[(on.truth["aggregation"] == "cohort_event") & (on.truth["role"] == role)]
    checked = 0
    for outcome, log_col in [("gdp_wan", "log_gdp"), ("tax_revenue_wan", "log_tax_revenue"),
                             ("patents_granted", "log1p_patents_granted"),
                             ("industrial_land_mu", "log_industrial_land")]:
        obs = both[both[outcome].notna()]
        mine = obs.groupby([tcol, "event_time"]).apply(
            lambda g: pd.Series({"att": (g[outcome] - g[outcome + "_cf"]).mean(),
                                 "att_log": (g[log_col] - g[log_col + "_cf"]).mean(), "n": len(g)}),
            include_groups=False).reset_index()
        got = truth[truth["outcome"] == outcome].set_index(["cohort", "event_time"])
        assert len(got) == len(mine) > 0
        for r in mine.itertuples(index=False):
            cell = got.loc[(getattr(r, tcol), r.event_time)]
            assert cell["n_obs"] == r.n
            assert cell["att"] == pytest.approx(r.att, rel=1e-12, abs=1e-9)
            assert cell["att_log"] == pytest.approx(r.att_log, rel=1e-12, abs=1e-12)
            checked += 1
    assert checked > 100


def test_overall_truth_is_mean_over_post_treatment_unit_years(pair):
    on, off = pair
    both = on.panel.merge(off.panel, on=["county_code", "year"], suffixes=("", "_cf"))
    post = both[(both["first_treat_destination"] > 0) & (both["year"] >= both["first_treat_destination"])
                & both["log_gdp"].notna()]
    want = (post["log_gdp"] - post["log_gdp_cf"]).mean()
    row = on.truth.query("aggregation == 'overall' and role == 'destination' and outcome == 'gdp_wan'")
    assert row["att_log"].iloc[0] == pytest.approx(want, rel=1e-12)
    assert row["n_obs"].iloc[0] == len(post)
    assert want > 0.03  # destinations gain: the simulated effect is not negligible


def test_counterfactual_run_has_zero_truth_and_no_flows(pair):
    off = pair[1]
    assert (off.truth["att"] == 0).all() and (off.truth["att_log"].fillna(0) == 0).all()
    assert (off.panel[["shared_revenue_in_wan", "shared_revenue_out_wan"]] == 0).all().all()


def test_effect_path_follows_the_effect_table(complete_pair):
    """A unit treated by one enclave only: log gap = w m theta (1 - exp(-(e+1)/ramp))."""
    on, off = complete_pair
    role = on.roles.query("enclave_id == 'E-WJSY' and role == 'destination'").iloc[0]
    assert role["start_source"].startswith("agreement_year")
    eff = default_effects().set_index(["outcome", "role", "enclave_type"])
    for outcome, log_col in [("gdp_wan", "log_gdp"), ("industrial_land_mu", "log_industrial_land"),
                             ("talent_stock", "log_talent_stock")]:
        theta, ramp = eff.loc[(outcome, "destination", "forward"), ["plateau", "ramp_years"]]
        for year in (2010, 2011, 2012, 2013, 2020, 2023):
            e = year - 2012
            gap = _row(on.panel, "321323", year)[log_col] - _row(off.panel, "321323", year)[log_col]
            want = role["weight"] * role["effect_multiplier"] * theta * (1 - np.exp(-(e + 1) / ramp)) if e >= 0 else 0.0
            assert gap == pytest.approx(want, abs=1e-12)


def test_effects_grow_over_event_time(pair):
    t = pair[0].truth.query("aggregation == 'type_cohort_event' and role == 'destination' "
                            "and outcome == 'gdp_wan' and cohort == 2006 and event_time >= 0")
    assert len(t) >= 10 and np.all(np.diff(t.sort_values("event_time")["att_log"].to_numpy()) > 0)
    pre = pair[0].truth.query("aggregation == 'cohort_event' and role == 'destination' and cohort == 2006 "
                              "and event_time < 0")
    assert len(pre) > 0 and (pre["att"] == 0).all()


def test_effects_differ_by_role_and_type():
    eff = default_effects().set_index(["outcome", "role", "enclave_type"])["plateau"]
    assert eff[("gdp_wan", "destination", "forward")] > eff[("gdp_wan", "origin", "forward")]
    assert eff[("patents_granted", "origin", "reverse_science")] > eff[("patents_granted", "destination",
                                                                      "reverse_science")]
    assert eff[("gdp_wan", "destination", "special_cooperation_zone")] > eff[("gdp_wan", "destination",
                                                                              "forward")]
    assert len(eff) == 8 * 2 * 8


def test_custom_effect_sizes_scale_the_injected_effect(complete_pair):
    doubled = default_effects().assign(plateau=lambda d: 2 * d["plateau"])
    on2 = run(missing=False, effect_sizes=doubled)
    t1 = complete_pair[0].truth.query("aggregation == 'overall'").set_index(["outcome", "role"])["att_log"]
    t2 = on2.truth.query("aggregation == 'overall'").set_index(["outcome", "role"])["att_log"]
    logs = ["gdp_wan", "industrial_land_mu", "tax_revenue_wan"]
    np.testing.assert_allclose(t2.loc[logs].to_numpy(), 2 * t1.loc[logs].to_numpy(), rtol=1e-10)


# --- treatment assignment from the registry -------------------------------------------------------

def test_prefecture_codes_map_to_urban_districts_with_weights(pair):
    roles = pair[0].roles
    susu = roles.query("enclave_id == 'E-SUSU' and role == 'origin'")
    assert sorted(susu["county_code"]) == ["320505", "320506", "320507", "320508", "320509"]
    assert np.allclose(susu["weight"], 0.2) and susu["mapping"].str.contains("urban district").all()
    qz = roles.query("enclave_id == 'E-QZHC' and role == 'origin'")
    assert sorted(qz["county_code"]) == ["330802", "330803"] and np.allclose(qz["weight"], 0.5)


def test_skipped_enclaves_are_listed_with_reasons(pair):
    skipped = pair[0].skipped.set_index(["enclave_id", "role"])["reason"]
    assert "outside the simulated provinces" in skipped[("E-CSBJ", "destination")]
    assert ("E-CSBJ", "origin") not in skipped.index  # the origin in Jiangsu is still simulated
    assert "outside" in skipped[("E-SHSW", "origin")] and "outside" in skipped[("E-SHSW", "destination")]
    assert "after the last simulated year" in skipped[("E-LATE", "origin")]
    assert "neither opening_year nor agreement_year" in skipped[("E-NOYR", "destination")]
    assert set(pair[0].roles["status"]) == {"simulated", "skipped"}


def test_timing_columns(pair):
    p = pair[0].panel
    per_unit = p.groupby("county_code")[["first_treat", "first_treat_destination", "first_treat_origin",
                                         "enclave_type"]].nunique(dropna=False)
    assert (per_unit == 1).all().all()
    u = p.groupby("county_code").first()
    roles_ft = u[["first_treat_destination", "first_treat_origin"]].replace(0, np.nan).min(axis=1)
    assert (u["first_treat"] == roles_ft.fillna(0).astype(int)).all()
    assert u.loc["320509", "first_treat_origin"] == 2006  # 苏州 via its district, before its own 2012 enclave
    assert u.loc["321323", "first_treat_destination"] == 2012
    assert u.loc["330881", "enclave_type"] == "two_way" and u.loc["330881", "first_treat_origin"] == 2019
    assert u.loc["321322", "first_treat"] == 0 and u.loc["321322", "first_exposed_neighbour"] == 2006
    assert u.loc["320581", "first_treat_destination"] == 0 and u.loc["320581", "first_treat_origin"] == 2017
    r = p[p["county_code"] == "320509"].set_index("year")
    assert r.loc[2005, "n_enclaves"] == 0 and r.loc[2006, "n_enclaves"] == 1 and r.loc[2012, "n_enclaves"] == 2
    assert (p["post"] == ((p["first_treat"] > 0) & (p["year"] >= p["first_treat"]))).all()
    assert p["is_simulated"].all()


# --- revenue sharing and spillovers ---------------------------------------------------------------

def test_fixed_returns_flow_to_the_origin(complete_pair):
    p = complete_pair[0].panel.set_index(["county_code", "year"])
    inflow = p.loc["330825", "shared_revenue_in_wan"]
    assert (inflow.loc[2019:2023] == 1000.8).all() and (inflow.loc[:2018] == 0).all()
    assert (p.loc["330211", "shared_revenue_out_wan"].loc[2019:2023] == 1000.8).all()
    qj = p.loc["330803", "shared_revenue_in_wan"]  # 0.1 x 1.2亿元 = 1200 万元/yr from 2020
    assert np.allclose(qj.loc[2020:2023], 1200.0) and (qj.loc[:2019] == 0).all()


def test_tax_share_flows_for_share_years_only(complete_pair):
    on, off = complete_pair
    extra_tax = (on.panel.set_index(["county_code", "year"])["tax_revenue_wan"]
                 - off.panel.set_index(["county_code", "year"])["tax_revenue_wan"]).loc["321302"]
    inflow = on.panel[on.panel["county_code"].isin(["320505", "320506", "320507", "320508"])] \
        .groupby("year")["shared_revenue_in_wan"].sum()
    inflow_wj = on.panel.query("county_code == '320509'").set_index("year")["shared_revenue_in_wan"]
    for year in (2006, 2007, 2008):
        assert inflow[year] + inflow_wj[year] == pytest.approx(0.5 * extra_tax[year], rel=1e-10)
    assert (inflow.loc[2009:] == 0).all()
    assert run(missing=False, revenue_sharing=False).panel["shared_revenue_in_wan"].eq(0).all()


def test_spillover_reaches_same_prefecture_neighbours_only(complete_pair):
    on, off = complete_pair
    spill = run(missing=False, spillover=0.5)
    idx = ["county_code", "year"]
    own = (on.panel.set_index(idx)["log_gdp"] - off.panel.set_index(idx)["log_gdp"])
    gap = (spill.panel.set_index(idx)["log_gdp"] - off.panel.set_index(idx)["log_gdp"])
    # 沭阳 (never treated, 宿迁): half the sum of its treated neighbours' own effects
    neighbours = own.loc[["321302", "321311", "321323", "321324"]].groupby(level="year").sum()
    np.testing.assert_allclose(gap.loc["321322"].to_numpy(), 0.5 * neighbours.to_numpy(), atol=1e-12)
    # without spillover a never-treated unit is untouched
    assert (own.loc["321322"] == 0).all() and (own.loc["330822"] == 0).all()
    n = spill.truth.query("aggregation == 'overall' and role == 'neighbour' and outcome == 'gdp_wan'")
    assert n["att_log"].iloc[0] > 0


# --- missingness and calibration ------------------------------------------------------------------

def test_missingness_like_yearbooks(pair, complete_pair):
    p = pair[0].panel
    assert p["talent_stock"].isna().any() and p["industrial_land_mu"].isna().any()
    assert p["gdp_wan"].isna().mean() < 0.03
    assert len(p) < 21 * 24  # a few units enter late: rows absent, not zero
    full = complete_pair[0].panel
    assert len(full) == 21 * 24
    assert not full[list(sim.OUTCOMES)].isna().any().any()


@pytest.fixture(scope="module")
def real():
    return simulate_enclave_panel(**BUNDLED_PARAMETERS)


def test_calibrated_to_provincial_anchors():
    """Without effects, provincial sums equal the anchors of _simulate_calibration exactly."""
    off = simulate_enclave_panel(seed=3, effects=False, missing=False).panel
    tot = off.groupby(["province_code", "year"])[["gdp_wan", "population_10k", "budget_revenue_wan"]].sum()
    # 2023 GDP 12.82万亿 (Jiangsu govt work report) and 82553亿 (Zhejiang communiqué), in 万元
    assert tot.loc[("320000", 2023), "gdp_wan"] == pytest.approx(128_200e4, rel=1e-9)
    assert tot.loc[("330000", 2023), "gdp_wan"] == pytest.approx(82_553e4, rel=1e-9)
    assert tot.loc[("330000", 2023), "population_10k"] == pytest.approx(6627, rel=1e-9)
    # Jiangsu 2023 general budget revenue 9930亿元
    assert tot.loc[("320000", 2023), "budget_revenue_wan"] == pytest.approx(9930e4, rel=0.001)
    # Zhejiang 2014 GDP 40154亿 (x2.06 to 2023): the assumed growth path stays within 2%
    assert tot.loc[("330000", 2014), "gdp_wan"] == pytest.approx(40_154e4, rel=0.02)


def test_real_panel_magnitudes(real):
    p = real.panel
    assert p["county_code"].nunique() > 180
    # Jiangsu and Zhejiang, plus both sides of the cross-province / two-way enclaves (EXTRA_UNITS)
    outside = p.loc[~p["province_code"].isin(["320000", "330000"]), "county_code"].unique()
    assert set(outside) == set(cal.EXTRA_UNITS)
    assert {"110115", "120116", "440112", "441521", "150402", "150430", "440305"} <= set(outside)
    js2015 = p[(p["province_code"] == "320000") & (p["year"] == 2015)]["gdp_wan"] / 1e4  # 亿元
    assert 100 < js2015.median() < 1000  # tens to hundreds of 亿元 per county
    both = p[["tax_revenue_wan", "budget_revenue_wan"]].dropna()
    assert (both["tax_revenue_wan"] <= both["budget_revenue_wan"]).all()
    values = p[list(sim.OUTCOMES)].to_numpy()
    assert (values[~np.isnan(values)] >= 0).all()
    dest = real.truth.query("aggregation == 'overall' and role == 'destination' and outcome == 'gdp_wan'")
    assert 0.02 < dest["att_log"].iloc[0] < 0.25  # ASZ 2016: ~+20% for a whole state-level SEZ
    assert p["first_treat"].gt(0).groupby(p["county_code"]).first().sum() >= 20


# --- the bundled files -----------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["panel", "truth", "roles"])
def test_bundled_files_equal_a_fresh_run(real, table):
    bundled = load_simulated_panel(table)
    pd.testing.assert_frame_equal(bundled, getattr(real, table), check_dtype=False, rtol=1e-9)
    shipped = ROOT / "policyeval" / "data" / f"simulated_enclave_{table}.csv.gz"
    assert shipped.stat().st_size < 1e6  # gzipped: 0.50 MB for the panel, 0.24 MB for the truth


def test_bundled_files_are_stored_once():
    """The package copy is the only one: no CSV duplicate of it anywhere in the repository."""
    stems = [f"simulated_enclave_{t}" for t in ("panel", "truth", "roles")]
    copies = [p.relative_to(ROOT).as_posix() for folder in ("data", "policyeval/data", "notebooks", "tests")
              for stem in stems for p in (ROOT / folder).glob(f"{stem}.csv*")]
    assert sorted(copies) == sorted(f"policyeval/data/{stem}.csv.gz" for stem in stems)


def test_bundled_files_say_simulated():
    for table in ("panel", "truth"):
        df = load_simulated_panel(table)
        assert df.columns[0] == "is_simulated" and df["is_simulated"].all()
    with gzip.open(ROOT / "policyeval" / "data" / "simulated_enclave_panel.csv.gz", "rt", encoding="utf-8") as f:
        first_line = f.readline()
    assert first_line.startswith("is_simulated,")


# --- bad input -------------------------------------------------------------------------------------

def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ArgumentTypeError, match="years must contain integers"):
        run(years=["2000", "2001"])
    with pytest.raises(DataError, match=r"years \[1999\] lie outside the calibrated range 2000-2023"):
        run(years=range(1999, 2005))
    with pytest.raises(DataError, match="years is empty"):
        run(years=[])
    with pytest.raises(ArgumentTypeError, match="seed must be an integer"):
        run(seed="a")
    with pytest.raises(DataError, match=r"spillover must lie in \[0, 1\]"):
        run(spillover=2.0)
    with pytest.raises(DataError, match="table='foo' is not one of"):
        load_simulated_panel("foo")


def test_bad_counties_raise_clear_errors():
    enc = standin_enclaves()
    with pytest.raises(ColumnNotFoundError, match=r"counties lacks column\(s\) \['prefecture_code'\]"):
        simulate_enclave_panel(counties=standin_counties().drop(columns="prefecture_code"), enclaves=enc)
    dup = pd.concat([standin_counties(), standin_counties().iloc[[0]]])
    with pytest.raises(DuplicateObservationError, match=r"column 'code' repeats 1 code\(s\) \(e.g. 320505\)"):
        simulate_enclave_panel(counties=dup, enclaves=enc)
    sh = standin_counties()
    sh.loc[0, ["code", "province_code"]] = ["310101", "310000"]
    with pytest.raises(DataError, match=r"outside the calibrated provinces .* \(e.g. 310101\)"):
        simulate_enclave_panel(counties=sh, enclaves=enc)


def test_bad_enclaves_raise_clear_errors():
    enc = standin_enclaves()
    enc["type"] = enc["type"].astype(object)
    enc.loc[enc["enclave_id"] == "E-KSJS", "type"] = "sideways"
    with pytest.raises(RegistryError, match=r"column 'type' is not one of .* \(e.g. E-KSJS\)"):
        simulate_enclave_panel(counties=standin_counties(), enclaves=enc)
    with pytest.raises(ColumnNotFoundError, match=r"enclaves lacks column\(s\) \['opening_year'\]"):
        simulate_enclave_panel(counties=standin_counties(), enclaves=standin_enclaves().drop(columns="opening_year"))
    with pytest.raises(ArgumentTypeError, match="enclaves must be a DataFrame"):
        simulate_enclave_panel(counties=standin_counties(), enclaves="data/enclaves.csv")
    twice = pd.concat([default_effects(), default_effects().iloc[[0]]])
    with pytest.raises(DuplicateObservationError, match=r"repeats 1 .* \(e.g. gdp_wan/origin/forward\)"):
        run(effect_sizes=twice)
    eff = default_effects()
    eff.loc[0, "outcome"] = "happiness"
    with pytest.raises(DataError, match=r"unknown outcome\(s\) \['happiness'\]"):
        run(effect_sizes=eff)


def test_input_row_order_does_not_matter(pair):
    shuffled = simulate_enclave_panel(seed=7, counties=standin_counties().sample(frac=1, random_state=1),
                                      enclaves=standin_enclaves().sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(shuffled.panel, pair[0].panel)
    pd.testing.assert_frame_equal(shuffled.truth, pair[0].truth)


# --- issue 11 F: calibration to published facts, location unknown ----------------------------------

def _area_enclaves(area_mu_a, area_mu_b):
    rows = [_enclave("E-A", "forward", "320505", "321322", 2006, 2006, area_mu=area_mu_a),
            _enclave("E-B", "forward", "320505", "321324", 2006, 2006, area_mu=area_mu_b)]
    df = pd.DataFrame(rows).reindex(columns=_REGISTRY_COLUMNS)
    df["code_vintage"] = 2019
    for c in ("agreement_year", "opening_year", "code_vintage"):
        df[c] = df[c].astype("Int64")
    df["area_mu"] = df["area_mu"].astype("Float64")
    return df


def test_park_effect_scales_with_area_relative_to_host():
    res = simulate_enclave_panel(seed=11, counties=standin_counties(), enclaves=_area_enclaves(2000.0, 4000.0))
    dest = res.roles[res.roles["role"] == "destination"].set_index("enclave_id")
    assert (dest["effect_basis"] == "area").all()
    # same operator, same year: park GDP is proportional to the area ...
    assert dest.at["E-B", "park_gdp_wan"] == pytest.approx(2 * dest.at["E-A", "park_gdp_wan"], rel=1e-12)
    # ... and the log effect is log(1 + park / host GDP), whatever the host's size
    off = simulate_enclave_panel(seed=11, counties=standin_counties(), enclaves=_area_enclaves(2000.0, 4000.0),
                                 effects=False, missing=False).panel
    for eid, code in (("E-A", "321322"), ("E-B", "321324")):
        host = off[(off["county_code"] == code) & (off["year"] == 2021)]["gdp_wan"].iloc[0]
        assert dest.at[eid, "park_gdp_share"] == pytest.approx(dest.at[eid, "park_gdp_wan"] / host, rel=1e-12)
    # without an area the profile size (and the heterogeneity draw) applies
    no_area = simulate_enclave_panel(seed=11, counties=standin_counties(), enclaves=_area_enclaves(None, None))
    assert (no_area.roles.loc[no_area.roles["role"] == "destination", "effect_basis"] == "profile").all()


def test_suzhou_suqian_calibrated_to_published_share(real):
    """苏宿 produces 2.2% of Suqian's (no-enclave) GDP in 2021 on its 20,400 亩 (docs/calibration.md)."""
    off = simulate_enclave_panel(**{**BUNDLED_PARAMETERS, "effects": False, "missing": False}).panel
    suqian_2021 = off[(off["prefecture_code"] == "321300") & (off["year"] == 2021)]["gdp_wan"].sum()
    susu = real.roles[(real.roles["enclave_id"] == "JS-SUSU-2006") & (real.roles["role"] == "destination")]
    assert susu["area_mu"].eq(20_400).all() and (susu["effect_basis"] == "area").all()
    assert susu["park_gdp_wan"].sum() / suqian_2021 == pytest.approx(0.022, rel=1e-9)
    table = sim.calibration_table(real.panel, real.roles).set_index("quantity")
    assert table["is_simulated"].all()
    share = table.loc["Suzhou-Suqian park GDP / Suqian GDP, 2021"]
    assert 0.015 < share["simulated"] < 0.022 and share["published"] == 0.022   # actual GDP includes enclaves
    assert table.loc["Suzhou-Suqian park area", "simulated"] == 20_400


def test_sunan_subei_gradient_in_mu_levels():
    off = simulate_enclave_panel(seed=5, effects=False, missing=False).panel
    y = off[(off["year"] == 2021) & (off["province_code"] == "320000")]
    per_mu = y["industrial_va_wan"] / y["industrial_land_mu"]
    tier = pd.Series(cal.mu_tier(y["prefecture_code"].to_numpy()), index=y.index)
    sunan, subei = per_mu[tier == 1.3].median(), per_mu[tier == 0.7].median()
    assert sunan > 1.4 * subei


def _location_enclaves(area_km2):
    rows = [_enclave("E-OFFICE", "forward", "320583", "321300", 2010, 2010, area_km2=area_km2)]
    df = pd.DataFrame(rows).reindex(columns=_REGISTRY_COLUMNS)
    df["code_vintage"] = 2019
    for c in ("agreement_year", "opening_year", "code_vintage"):
        df[c] = df[c].astype("Int64")
    df["area_km2"] = df["area_km2"].astype("Float64")
    return df


@pytest.mark.parametrize("area_km2", [None, 0.02])
def test_prefecture_destination_of_small_or_unknown_park_is_location_unknown(area_km2):
    with pytest.warns(sim.LocationUnknownWarning, match=r"1 enclave destination\(s\) coded at prefecture level"
                                                         r".*e\.g\. E-OFFICE"):
        res = simulate_enclave_panel(seed=2, counties=standin_counties(), enclaves=_location_enclaves(area_km2))
    dest = res.roles[res.roles["role"] == "destination"]
    assert len(dest) == 1 and dest["status"].iloc[0] == "location_unknown"
    assert "location within the prefecture unknown" in dest["reason"].iloc[0]
    assert dest["county_code"].isna().all()
    assert len(res.skipped[res.skipped["status"] == "location_unknown"]) == 1
    units = res.panel.drop_duplicates("county_code").set_index("county_code")
    assert (units.loc[["321302", "321311"], "first_treat_destination"] == 0).all()   # no spread
    assert units.at["320583", "first_treat_origin"] == 2010                           # origin still located


def test_prefecture_destination_of_large_park_is_spread_and_flagged():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", sim.LocationUnknownWarning)
        res = simulate_enclave_panel(seed=2, counties=standin_counties(), enclaves=_location_enclaves(13.6))
    dest = res.roles[res.roles["role"] == "destination"]
    assert sorted(dest["county_code"]) == ["321302", "321311"] and (dest["status"] == "simulated").all()
    assert dest["location"].str.contains("location within the prefecture unknown").all()
    # the park's total size does not depend on how many districts share it
    assert dest["park_gdp_wan"].nunique() == 1


# --- issue 11 G: both sides of cross-province and two-way enclaves ---------------------------------

def test_default_units_cover_both_sides_of_cross_province_enclaves():
    units = sim.default_counties()
    extra = units[units["code"].isin(list(cal.EXTRA_UNITS))]
    assert len(extra) == len(cal.EXTRA_UNITS) == 30
    assert extra["prefecture_code"].notna().all()
    assert extra.set_index("code").at["110115", "prefecture_code"] == "110100"


def test_extra_units_leave_jiangsu_zhejiang_draws_unchanged():
    from policyeval.data.admin_codes import list_counties

    core = list_counties(("32", "33"), vintage=2019)
    a = simulate_enclave_panel(seed=9, counties=core, effects=False).panel
    b = simulate_enclave_panel(seed=9, effects=False).panel
    b_core = b[b["county_code"].isin(core["code"])].reset_index(drop=True)
    cols = ["county_code", "year", *sim.OUTCOMES]
    pd.testing.assert_frame_equal(a[cols], b_core[cols])


def test_two_way_enclave_treats_both_extra_units_in_both_roles():
    rows = [_enclave("E-JG", "two_way", "110115", "440112", 2019, 2019, area_mu=50.0)]
    enc = pd.DataFrame(rows).reindex(columns=_REGISTRY_COLUMNS)
    enc["code_vintage"] = 2019
    for c in ("agreement_year", "opening_year", "code_vintage"):
        enc[c] = enc[c].astype("Int64")
    res = simulate_enclave_panel(seed=4, enclaves=enc)
    units = res.panel.drop_duplicates("county_code").set_index("county_code")
    for code in ("110115", "440112"):
        assert units.at[code, "first_treat_origin"] == 2019 and units.at[code, "first_treat_destination"] == 2019
        assert units.at[code, "is_simulated"]
    extra = res.panel[res.panel["county_code"].isin(list(cal.EXTRA_UNITS))]
    assert not extra[list(sim.OUTCOMES)].isna().any().any()           # complete series
    truth = res.truth.query("aggregation == 'overall' and role == 'origin' and outcome == 'gdp_wan'")
    assert truth["att_log"].iloc[0] > 0


def test_calibration_doc_shows_the_bundled_calibration_table():
    text = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    block = text.split("<!-- calibration-table:start -->\n")[1].split("<!-- calibration-table:end -->")[0]
    assert block == sim.calibration_markdown()
    assert "SIMULATED" in block.splitlines()[0]
