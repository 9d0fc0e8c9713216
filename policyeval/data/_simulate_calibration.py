"""Calibration targets and the no-enclave (counterfactual) outcome model of the simulator.

Private helper of :mod:`policyeval.data.simulate`. Every number below is either
a published figure (source given beside it) or an assumption (said so). The
published anchors fix *levels*; the assumed paths only shape the years between
them. Nothing here is a real county's value: units are real names and codes,
their outcomes are draws.

Published anchors used
----------------------
- Jiangsu 2023: GDP 12.82万亿元, general budget revenue 9930亿元, manufacturing
  value added 36.3% of GDP, "人才总量超1560万人" -- 2024 Jiangsu government work
  report, reported at https://hkcd.com/hkcdweb/content/2024/01/23/content_8620069.html
  and http://hblexin.com/news/guonei/2024/02041059502024.html
- Zhejiang 2023: GDP 82553亿元, industry structure 2.8:41.1:56.1, year-end
  resident population 6627万 -- 2023年浙江省国民经济和社会发展统计公报,
  http://zjzd.stats.gov.cn/zwgk/xxgkml/tjxx/tjgb/202403/t20240304_110816.html
- Zhejiang 2014: GDP 40154亿元 (so 2014->2023 nominal growth x2.06), local
  budget revenue 4121亿元 (10.3% of GDP); Zhejiang prefecture GDPs 2013 (亿元):
  杭州 8343.52, 宁波 7128.87, 温州 4003.86, 绍兴 3967.29, 台州 3153.34,
  嘉兴 3147.6, 金华 2958.78, 湖州 1803.35, 衢州 1056.57, 丽水 983.08, 舟山 930.85
  -- third-party compilation at https://zhshhuida.com/tips/285297.html
- A poor Zhejiang county for scale, 缙云县 2023: GDP 319.73亿元, general budget
  revenue 23.52亿元 of which tax 16.53亿元 (70.3%), registered population
  46.46万, resident 40.8万 -- 2023年缙云县统计公报, copy at
  http://sjzyihang.com/forum.php?extra=page%3D78&mod=viewthread&tid=79681
- Suzhou-Suqian park (苏宿工业园区): 13.6 km2 (20,400 亩), ~2.2% of Suqian's GDP
  on 0.16% of its land by 2021-10, land output ~80% of Suzhou Industrial
  Park's (王曙光 & 梁爽 2023; area: http://district.ce.cn/newarea/roll/202101/08/t20210108_36202526.shtml);
  Suzhou Industrial Park 278 km2, GDP 2020 ~2907亿元 -- docs/domain.md
  section 4. :data:`SUSU_TARGET` fixes the GDP a park produces per 亩 (the
  size of every forward park's effect, in simulate.py); docs/calibration.md
  compares the simulated values with these figures.

Assumptions (not sourced; change them here)
-------------------------------------------
- Year-by-year nominal growth rates (:data:`NOMINAL_GROWTH`): shaped like the
  provinces' boom of the 2000s, the 2009 and 2020 dips and the 2021 rebound;
  only the 2023 level and (Zhejiang) the 2014->2023 ratio are anchored.
- Jiangsu prefecture tiers: 苏南 1.7, 苏中 1.0, 苏北 0.6 times the per-unit GDP
  of 苏中 (no sourced prefecture table was at hand).
- The 亩均 gradient (:data:`MU_TIER`): industrial value added per 亩 of
  industrial land is 1.3x the provincial path in 苏南 and Zhejiang's north
  (杭嘉湖甬绍), 1.0x in 苏中 and central Zhejiang, 0.7x in 苏北 and Zhejiang's
  south-west (衢州, 丽水). The direction (苏南 > 苏北) is the published fact;
  the sizes are assumptions.
- Units outside Jiangsu and Zhejiang (:data:`EXTRA_UNITS`: both sides of the
  registry's cross-province and two-way enclaves) have assumed 2023 GDP and
  population levels of a plausible order of magnitude -- NOT sourced figures --
  and borrow Jiangsu's growth and ratio paths. They are never rescaled to a
  provincial total (no province of theirs is simulated in full).
- Industry share, revenue ratios before 2014, tax share paths, 亩均工业增加值
  (25 -> 110 万元/亩), resident population in 2000 and Jiangsu's in 2023
  (≈7330万 and 8526万, recalled, unverified), talent and patent intensities
  (patents granted per 10k residents 1 -> 55), and every dispersion and noise
  scale.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from policyeval.exceptions import UnknownKeyError

#: The years the calibration covers; the simulator always draws all of them.
CALIBRATED_YEARS = tuple(range(2000, 2024))
ANCHOR_YEAR = 2023

PROVINCES = {"32": "江苏省", "33": "浙江省"}

# Province GDP in the anchor year, 万元 (1 亿元 = 1e4 万元).
GDP_ANCHOR_WAN = {"32": 128_200 * 1e4, "33": 82_553 * 1e4}
# Year-end resident population in the anchor year, 万人 (Jiangsu: assumption).
POP_ANCHOR_10K = {"32": 8_526.0, "33": 6_627.0}
POP_2000_10K = {"32": 7_330.0, "33": 4_680.0}  # assumption

# Nominal GDP growth of year t over t-1 (assumption; see module docstring).
NOMINAL_GROWTH = {
    "32": dict(zip(range(2001, 2024), (
        .105, .125, .17, .20, .19, .165, .19, .17, .11, .19, .18, .10,
        .10, .09, .08, .10, .10, .08, .075, .035, .13, .055, .043))),
    "33": dict(zip(range(2001, 2024), (
        .12, .15, .20, .19, .15, .17, .19, .14, .07, .20, .16, .08,
        .09, .065, .075, .10, .10, .085, .095, .036, .138, .057, .062))),
}  # fmt: skip

# Relative GDP of a prefecture: Zhejiang = 2013 prefecture GDP (亿元, source above),
# spread over its units; Jiangsu = per-unit tier (assumption).
ZJ_PREFECTURE_GDP_2013 = {
    "3301": 8343.52, "3302": 7128.87, "3303": 4003.86, "3304": 3147.6, "3305": 1803.35,
    "3306": 3967.29, "3307": 2958.78, "3308": 1056.57, "3309": 930.85, "3310": 3153.34,
    "3311": 983.08,
}  # fmt: skip
JS_TIER = {
    **dict.fromkeys(("3201", "3202", "3204", "3205", "3211"), 1.7),  # 苏南
    **dict.fromkeys(("3206", "3210", "3212"), 1.0),  # 苏中
    **dict.fromkeys(("3203", "3207", "3208", "3209", "3213"), 0.6),  # 苏北
}

# Province-year ratio paths, piecewise linear between the listed years.
# iva_share: industrial value added / GDP (2023 ≈ manufacturing 36.3% JS; ZJ
#   secondary 41.1%, industry assumed 0.37). budget_ratio: general budget
#   revenue / GDP (JS 2023 9930/128200 = 0.0775; ZJ 2014 0.103). tax_share:
#   tax / budget revenue (缙云 2023 0.703; provincial paths assumed).
#   mu_va: industrial value added per 亩 of industrial land, 万元 (assumed).
#   talent_share: talent stock / resident population (JS 2023 1560/8526).
#   patents_per_10k: patents granted per 10k residents (assumed).
RATIO_PATHS = {
    "iva_share": {"32": {2000: .46, 2010: .46, 2023: .38}, "33": {2000: .47, 2010: .46, 2023: .37}},
    "budget_ratio": {"32": {2000: .05, 2010: .09, 2023: .0775},
                     "33": {2000: .055, 2014: .103, 2023: .10}},
    "tax_share": {"32": {2000: .88, 2012: .85, 2023: .78}, "33": {2000: .88, 2012: .86, 2023: .80}},
    "mu_va": {"32": {2000: 25.0, 2023: 110.0}, "33": {2000: 25.0, 2023: 110.0}},
    "talent_share": {"32": {2000: .045, 2010: .10, 2023: 1560 / 8526},
                     "33": {2000: .04, 2010: .09, 2023: .17}},
    "patents_per_10k": {"32": {2000: 1.0, 2010: 17.0, 2023: 55.0},
                        "33": {2000: 1.5, 2010: 21.0, 2023: 60.0}},
}  # fmt: skip

# 亩均 level of a prefecture relative to its province's path (assumption; the gradient's
# direction is the published fact). Keys: 4-digit prefecture codes; default 1.0.
MU_TIER = {
    **dict.fromkeys(("3201", "3202", "3204", "3205", "3211"), 1.3),  # 苏南
    **dict.fromkeys(("3206", "3210", "3212"), 1.0),  # 苏中
    **dict.fromkeys(("3203", "3207", "3208", "3209", "3213"), 0.7),  # 苏北
    **dict.fromkeys(("3301", "3302", "3304", "3305", "3306"), 1.3),  # 浙北 杭嘉湖甬绍
    **dict.fromkeys(("3303", "3307", "3309", "3310"), 1.0),  # 温 金 舟 台
    **dict.fromkeys(("3308", "3311"), 0.7),  # 衢州, 丽水
    **dict.fromkeys(("1101", "1201", "4401", "4403"), 1.3),  # Beijing, Tianjin, Guangzhou, Shenzhen
    "1504": 0.6, "4415": 0.7,  # 赤峰, 汕尾
}  # fmt: skip


def mu_tier(prefecture_codes) -> "np.ndarray":
    """:data:`MU_TIER` of each prefecture code (first 4 digits; 1.0 when unlisted)."""
    return np.array([MU_TIER.get(str(c)[:4], 1.0) if isinstance(c, str) else 1.0 for c in prefecture_codes])


#: Published facts of the Suzhou-Suqian park the effect sizes are calibrated to
#: (docs/domain.md section 4): the park's GDP is ``gdp_share`` of Suqian
#: prefecture's in ``year`` on ``area_mu`` 亩; its land output is
#: ``sip_ratio`` of Suzhou Industrial Park's (``sip_gdp_yi`` on ``sip_area_km2``
#: in ``sip_year``); the park is on ``land_share`` of Suqian's land.
SUSU_TARGET = {"enclave_id": "JS-SUSU-2006", "prefecture": "321300", "origin_prefecture": "320500",
               "area_mu": 20_400.0, "area_km2": 13.6, "gdp_share": 0.022, "land_share": 0.0016,
               "year": 2021, "sip_ratio": 0.80, "sip_gdp_yi": 2907.0, "sip_area_km2": 278.0,
               "sip_year": 2020}  # fmt: skip
#: Park GDP per 亩 (万元, 2021) used when the panel lacks Suqian (a custom ``counties``):
#: the value the bundled draw calibrates to, rounded (see docs/calibration.md).
PARK_GDP_PER_MU_FALLBACK = 37.0

#: County-level units outside Jiangsu and Zhejiang simulated because a registry enclave
#: has a side there: code -> (prefecture code, prefecture name, assumed 2023 GDP in 亿元,
#: assumed resident population in 万人). ASSUMED magnitudes, not statistics.
EXTRA_UNITS = {
    "110108": ("110100", "北京市", 11_000.0, 310.0),  # 海淀区 (Zhongguancun)
    "110112": ("110100", "北京市", 1_300.0, 185.0),   # 通州区
    "110115": ("110100", "北京市", 1_500.0, 200.0),   # 大兴区 (Beijing E-Town)
    "120115": ("120100", "天津市", 800.0, 70.0),      # 宝坻区
    "120116": ("120100", "天津市", 7_000.0, 210.0),   # 滨海新区
    "150402": ("150400", "赤峰市", 300.0, 60.0), "150403": ("150400", "赤峰市", 200.0, 30.0),
    "150404": ("150400", "赤峰市", 250.0, 60.0),
    **{c: ("150400", "赤峰市", 130.0, 25.0)
       for c in ("150421", "150422", "150423", "150424", "150425", "150426", "150428", "150429",
                 "150430")},
    "440112": ("440100", "广州市", 4_000.0, 120.0),   # 黄埔区 (Guangzhou Development Zone)
    "440303": ("440300", "深圳市", 2_600.0, 110.0), "440304": ("440300", "深圳市", 5_500.0, 155.0),
    "440305": ("440300", "深圳市", 8_500.0, 180.0), "440306": ("440300", "深圳市", 5_000.0, 450.0),
    "440307": ("440300", "深圳市", 4_800.0, 400.0), "440308": ("440300", "深圳市", 800.0, 25.0),
    "440309": ("440300", "深圳市", 2_800.0, 250.0), "440310": ("440300", "深圳市", 1_200.0, 55.0),
    "440311": ("440300", "深圳市", 1_500.0, 110.0),
    "441521": ("441500", "汕尾市", 350.0, 75.0),     # 海丰县 (深汕 lies in it)
    "440404": ("440400", "珠海市", 800.0, 40.0),      # 金湾区
    "441704": ("441700", "阳江市", 400.0, 45.0),      # 阳东区
}  # fmt: skip
#: The calibrated province whose growth and ratio paths the extra units borrow.
EXTRA_TEMPLATE = "32"
EXTRA_PROVINCES = {"11": "北京市", "12": "天津市", "15": "内蒙古自治区", "44": "广东省"}

#: Outcome columns of the panel: name -> (unit, log column, log transform).
OUTCOMES = {
    "gdp_wan": ("万元", "log_gdp", "log"),
    "industrial_va_wan": ("万元", "log_industrial_va", "log"),
    "industrial_land_mu": ("亩", "log_industrial_land", "log"),
    "tax_revenue_wan": ("万元", "log_tax_revenue", "log"),
    "budget_revenue_wan": ("万元", "log_budget_revenue", "log"),
    "population_10k": ("万人", "log_population", "log"),
    "talent_stock": ("人", "log_talent_stock", "log"),
    "patents_granted": ("件", "log1p_patents_granted", "log1p"),
}

# Item non-response probability before / from 2010 (yearbooks got better).
ITEM_MISSING = {
    "gdp_wan": (.01, .003), "industrial_va_wan": (.04, .01), "industrial_land_mu": (.10, .03),
    "tax_revenue_wan": (.05, .01), "budget_revenue_wan": (.02, .005),
    "population_10k": (.02, .005), "talent_stock": (.15, .04), "patents_granted": (.08, .01),
}  # fmt: skip


def _path(knots: dict[int, float], years: np.ndarray) -> np.ndarray:
    xs = np.array(sorted(knots), dtype=float)
    return np.interp(years, xs, np.array([knots[int(x)] for x in xs]))


def growth_index(province: str, years: np.ndarray) -> np.ndarray:
    """Nominal GDP index of a province, 1.0 in :data:`ANCHOR_YEAR`."""
    g = NOMINAL_GROWTH[province]
    log_level = {ANCHOR_YEAR: 0.0}
    for y in range(ANCHOR_YEAR, CALIBRATED_YEARS[0], -1):
        log_level[y - 1] = log_level[y] - np.log1p(g[y])
    return np.exp(np.array([log_level[int(y)] for y in years]))


def _ar1(rng: np.random.Generator, shape: tuple[int, int], sigma: float, rho: float) -> np.ndarray:
    shocks = rng.normal(0.0, sigma, size=shape)
    out = np.empty(shape)
    out[:, 0] = shocks[:, 0] / np.sqrt(1 - rho**2)  # start from the stationary distribution
    for t in range(1, shape[1]):
        out[:, t] = rho * out[:, t - 1] + shocks[:, t]
    return out


def _within_group_shares(groups: np.ndarray, weights: np.ndarray) -> np.ndarray:
    totals = pd.Series(weights).groupby(groups).transform("sum").to_numpy()
    return weights / totals


def draw_unit_effects(units: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Time-invariant unit draws: size, trend and ratio deviations.

    ``units`` is sorted by code and has columns ``province_code`` (its first
    two digits name the province) and ``prefecture_code``. Draw order is fixed so that a seed gives the same
    units whatever else the caller switches on or off.
    """
    n = len(units)
    prov = units["province_code"].str[:2].to_numpy()
    pref4 = units["prefecture_code"].str[:4].to_numpy()
    size = np.exp(rng.normal(0.0, 0.55, n))
    draws = {
        "trend": rng.normal(0.0, 0.012, n),
        "iva": rng.normal(0.0, 0.25, n),
        "mu_va": rng.normal(0.0, 0.30, n),
        "budget": rng.normal(0.0, 0.20, n),
        "tax": rng.normal(0.0, 0.35, n),
        "pop": rng.normal(0.0, 0.35, n),
        "pop_trend": rng.normal(0.0, 0.004, n),
        "talent": rng.normal(0.0, 0.25, n),
        "patents": rng.normal(0.0, 0.40, n),
    }
    # Prefecture weight of GDP, then each unit's share inside its prefecture.
    pref_weight = np.where(
        prov == "33",
        np.array([ZJ_PREFECTURE_GDP_2013.get(p, np.nan) for p in pref4]),
        np.array([JS_TIER.get(p, np.nan) for p in pref4]),
    )
    if prov.size and np.isnan(pref_weight).any():
        bad = sorted(set(pref4[np.isnan(pref_weight)]))
        raise UnknownKeyError(f"no calibration for prefecture(s) {bad}")
    n_in_pref = pd.Series(1, index=pref4).groupby(level=0).transform("size").to_numpy()
    # Zhejiang's weight is a prefecture total; Jiangsu's tier is per unit.
    pref_total = np.where(prov == "33", pref_weight, pref_weight * n_in_pref)
    prov_norm = pd.Series(pref_total / n_in_pref).groupby(prov).transform("sum").to_numpy()
    gdp_anchor = np.array([GDP_ANCHOR_WAN[p] for p in prov])
    gdp_2023 = gdp_anchor * pref_total / prov_norm * _within_group_shares(pref4, size)
    out = pd.DataFrame({"gdp_anchor_wan": gdp_2023, **draws}, index=units.index)
    # Population: scales less than one-for-one with GDP, then normalised to the province.
    pop_w = np.exp(0.6 * np.log(gdp_2023) + draws["pop"])
    out["pop_anchor_10k"] = _within_group_shares(prov, pop_w) * np.array([POP_ANCHOR_10K[p] for p in prov])
    return out


def baseline_outcomes(
    units: pd.DataFrame, effects: pd.DataFrame, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Counterfactual (no-enclave) latent outcomes on the full calibrated grid.

    Returns a dict of (n_units, n_years) arrays: the eight outcomes of
    :data:`OUTCOMES` except patents, plus ``patents_lambda`` (Poisson mean of
    patents granted) and ``patents_u`` (the uniform draw that turns a mean
    into a count, so that treated and untreated counts share their noise).
    """
    years = np.array(CALIBRATED_YEARS, dtype=float)
    n, t = len(units), len(years)
    prov = units["province_code"].str[:2].to_numpy()
    shape = (n, t)
    year_index = np.vstack([growth_index(p, years) for p in prov]) if n else np.empty(shape)
    rel_year = years[None, :] - ANCHOR_YEAR

    def path(name: str) -> np.ndarray:
        if not n:
            return np.empty(shape)
        return np.vstack([_path(RATIO_PATHS[name][p], years) for p in prov])

    # Fixed draw order: every array below is drawn whether or not it is used later.
    e_gdp = _ar1(rng, shape, 0.025, 0.7)
    e_iva = _ar1(rng, shape, 0.03, 0.5)
    e_land = _ar1(rng, shape, 0.015, 0.9)
    e_budget = _ar1(rng, shape, 0.05, 0.3)
    e_tax = _ar1(rng, shape, 0.06, 0.3)
    e_pop = _ar1(rng, shape, 0.004, 0.9)
    e_talent = _ar1(rng, shape, 0.03, 0.6)
    e_pat = _ar1(rng, shape, 0.10, 0.3)
    patents_u = rng.uniform(size=shape)

    def to_province(values: np.ndarray, total: np.ndarray) -> np.ndarray:
        # Rescale each province-year so the units add up to the calibrated total:
        # unit draws and noise set the distribution across units, the anchors the level.
        out = values.copy()
        for p in set(prov):
            rows = prov == p
            out[rows] *= total[rows][0] / values[rows].sum(axis=0)
        return out

    gdp_raw = effects["gdp_anchor_wan"].to_numpy()[:, None] * np.exp(
        effects["trend"].to_numpy()[:, None] * rel_year + e_gdp)
    gdp_total = np.array([GDP_ANCHOR_WAN[p] for p in prov])[:, None] * year_index
    gdp = to_province(gdp_raw, gdp_total)
    prov_gdp = gdp_total
    iva = to_province(gdp * np.exp(effects["iva"].to_numpy()[:, None] + e_iva), path("iva_share") * prov_gdp)
    tier = mu_tier(units["prefecture_code"].to_numpy())[:, None]
    land = iva / (path("mu_va") * tier * np.exp(effects["mu_va"].to_numpy()[:, None] + e_land))
    pop_2000 = np.array([POP_2000_10K[p] for p in prov])[:, None]
    pop_2023 = np.array([POP_ANCHOR_10K[p] for p in prov])[:, None]
    pop_total = pop_2023 * (pop_2023 / pop_2000) ** (rel_year / (ANCHOR_YEAR - CALIBRATED_YEARS[0]))
    pop = to_province(effects["pop_anchor_10k"].to_numpy()[:, None] * np.exp(
        effects["pop_trend"].to_numpy()[:, None] * rel_year + e_pop), pop_total)
    gdp_pc = gdp / pop
    rel_pc = np.log(gdp_pc) - np.log(gdp_pc).mean(axis=0, keepdims=True)
    # Richer units collect more revenue, hold more talent and patent more per head
    # (elasticities 0.3, 0.5, 1.0: assumptions).
    budget = to_province(gdp * np.exp(0.3 * rel_pc + effects["budget"].to_numpy()[:, None] + e_budget),
                         path("budget_ratio") * prov_gdp)
    # Tax share stays in (0.55, 0.92): a logistic around the provincial path.
    share_path = path("tax_share")
    logit = np.log((share_path - .55) / (.92 - share_path))
    tax_share = .55 + .37 / (1 + np.exp(-(logit + effects["tax"].to_numpy()[:, None] + e_tax)))
    tax = budget * tax_share
    talent = to_province(pop * np.exp(0.5 * rel_pc + effects["talent"].to_numpy()[:, None] + e_talent),
                         path("talent_share") * pop_total * 1e4)
    patents_lambda = to_province(
        pop * np.exp(1.0 * rel_pc + effects["patents"].to_numpy()[:, None] + e_pat),
        path("patents_per_10k") * pop_total)
    return {
        "gdp_wan": gdp, "industrial_va_wan": iva, "industrial_land_mu": land,
        "tax_revenue_wan": tax, "budget_revenue_wan": budget, "population_10k": pop,
        "talent_stock": talent, "patents_lambda": patents_lambda, "patents_u": patents_u,
    }  # fmt: skip


def extra_baseline(units: pd.DataFrame, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Counterfactual outcomes of the :data:`EXTRA_UNITS` (assumed levels, Jiangsu's paths).

    Same keys as :func:`baseline_outcomes`; not rescaled to any provincial
    total. Drawn from their own random stream, so adding these units leaves
    every Jiangsu and Zhejiang draw unchanged.
    """
    years = np.array(CALIBRATED_YEARS, dtype=float)
    n, t = len(units), len(years)
    shape = (n, t)
    rel_year = years[None, :] - ANCHOR_YEAR
    spec = [EXTRA_UNITS[c] for c in units["code"]]
    gdp_anchor = np.array([s[2] for s in spec]) * 1e4
    pop_anchor = np.array([s[3] for s in spec])
    tpl = EXTRA_TEMPLATE

    def path(name: str) -> np.ndarray:
        return np.tile(_path(RATIO_PATHS[name][tpl], years), (n, 1))

    dev = {k: rng.normal(0.0, sd, n)[:, None] for k, sd in
           (("trend", .012), ("iva", .15), ("mu_va", .2), ("budget", .15), ("tax", .3),
            ("pop_trend", .004), ("talent", .2), ("patents", .3))}  # fmt: skip
    e_gdp = _ar1(rng, shape, 0.025, 0.7)
    e_iva = _ar1(rng, shape, 0.03, 0.5)
    e_land = _ar1(rng, shape, 0.015, 0.9)
    e_budget = _ar1(rng, shape, 0.05, 0.3)
    e_tax = _ar1(rng, shape, 0.06, 0.3)
    e_pop = _ar1(rng, shape, 0.004, 0.9)
    e_talent = _ar1(rng, shape, 0.03, 0.6)
    e_pat = _ar1(rng, shape, 0.10, 0.3)
    patents_u = rng.uniform(size=shape)
    growth = growth_index(tpl, years)[None, :]
    gdp = gdp_anchor[:, None] * growth * np.exp(dev["trend"] * rel_year + e_gdp)
    iva = gdp * path("iva_share") * np.exp(dev["iva"] + e_iva)
    tier = mu_tier(units["prefecture_code"].to_numpy())[:, None]
    land = iva / (path("mu_va") * tier * np.exp(dev["mu_va"] + e_land))
    pop_ratio = POP_ANCHOR_10K[tpl] / POP_2000_10K[tpl]
    pop = pop_anchor[:, None] * pop_ratio ** (rel_year / (ANCHOR_YEAR - CALIBRATED_YEARS[0])) * np.exp(
        dev["pop_trend"] * rel_year + e_pop)
    budget = gdp * path("budget_ratio") * np.exp(dev["budget"] + e_budget)
    share_path = path("tax_share")
    logit = np.log((share_path - .55) / (.92 - share_path))
    tax = budget * (.55 + .37 / (1 + np.exp(-(logit + dev["tax"] + e_tax))))
    talent = pop * 1e4 * path("talent_share") * np.exp(dev["talent"] + e_talent)
    patents_lambda = pop * path("patents_per_10k") * np.exp(dev["patents"] + e_pat)
    return {
        "gdp_wan": gdp, "industrial_va_wan": iva, "industrial_land_mu": land,
        "tax_revenue_wan": tax, "budget_revenue_wan": budget, "population_10k": pop,
        "talent_stock": talent, "patents_lambda": patents_lambda, "patents_u": patents_u,
    }  # fmt: skip


def patents_from_lambda(lam: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson counts by inverse CDF, so one uniform draw serves both potential outcomes."""
    return stats.poisson.ppf(u, lam).astype(float)


def draw_missingness(
    n_units: int, rng: np.random.Generator, enabled: bool
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Which unit-years exist and which items are blank, like real yearbooks.

    Returns ``present`` (n_units, n_years) -- False where a unit's yearbook
    coverage has not started (a few units enter between 2001 and 2008) -- and
    a dict outcome -> boolean mask of item non-response. Draws are made even
    when ``enabled`` is False so that the seed's other streams do not shift.
    """
    years = np.array(CALIBRATED_YEARS)
    shape = (n_units, len(years))
    n_late = max(3, round(0.03 * n_units)) if n_units >= 10 else min(1, n_units)
    late = rng.choice(n_units, size=n_late, replace=False) if n_units else np.array([], int)
    entry = rng.integers(2001, 2009, size=n_late)
    item = {k: rng.uniform(size=shape) for k in ITEM_MISSING}
    present = np.ones(shape, dtype=bool)
    masks = {k: np.zeros(shape, dtype=bool) for k in ITEM_MISSING}
    if not enabled:
        return present, masks
    for unit, first in zip(late, entry):
        present[unit, years < first] = False
    for k, (early, late_p) in ITEM_MISSING.items():
        p = np.where(years < 2010, early, late_p)[None, :]
        masks[k] = item[k] < p
    return present, masks
