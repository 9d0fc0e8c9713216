"""Builders of yearbook-style test files (made-up numbers, realistic mess).

Every number here is invented for tests; the region names and GB/T 2260 codes
are real Jiangsu units so the files look like what users hold. The builders
write into a folder the test gives them (pytest's ``tmp_path``) and read
nothing outside the repository.

The mess reproduced: a title line, a ``单位：万元`` line, units inside the
headers (ASCII and full-width brackets) or in a separate units row, names
padded with full-width spaces (``"地　区"``, ``"　　玄武区"``), codes glued
to names (``"320102 玄武区"``), thousands separators, ``—``/``…`` for missing
values, footnotes under the table, GBK-encoded CSV, one sheet per year with
sheet names ``2015`` / ``2016年`` and different money units in different years.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

REGIONS = [
    (320102, "玄武区"),
    (320104, "秦淮区"),
    (320509, "吴江区"),
    (321311, "宿豫区"),
    (321322, "沭阳县"),
]
YEARS = [2015, 2016, 2017]

# canonical column -> (Chinese header, unit the file uses, factor file->canonical)
WRITE_SPEC = {
    "gdp": ("地区生产总值", "亿元", 1e8),
    "general_budget_revenue": ("一般公共预算收入", "万元", 1e4),
    "tax_revenue": ("税收收入", "万元", 1e4),
    "land_area": ("行政区域土地面积", "平方公里", 1.0),
    "industrial_land_area": ("工业用地面积", "公顷", 1.0 / 100.0),
    "registered_population": ("年末户籍人口", "万人", 1e4),
    "patents_granted": ("专利授权数", "件", 1.0),
}


def known_panel() -> pd.DataFrame:
    """A long panel in canonical units (元, km², 人, 件), two values missing.

    Values are rounded in the units the files use (GDP to 0.01 亿元, budget and
    tax to 1 万元, population to 0.01 万人, industrial land to 1 公顷) so that
    writing and reading back is exact up to floating point.
    """
    rng = np.random.default_rng(20240601)
    rows = []
    for k, (code, name) in enumerate(REGIONS):
        for t, year in enumerate(YEARS):
            gdp_yi = round(300 + 150 * k + 25 * t + float(rng.normal(0, 5)), 2)
            rows.append(
                {
                    "region_code": code,
                    "region": name,
                    "year": year,
                    "gdp": gdp_yi * 1e8,
                    "general_budget_revenue": round(gdp_yi * 900 + 37 * t) * 1e4,
                    "tax_revenue": round(gdp_yi * 760 + 11 * k) * 1e4,
                    "land_area": [75.46, 49.11, 1176.68, 853.0, 2298.0][k],
                    "industrial_land_area": [3.12, 1.85, 28.4, 16.7, 22.05][k] + 0.01 * t,
                    "registered_population": round(50 + 30 * k + 0.4 * t, 2) * 1e4,
                    "patents_granted": float(800 + 350 * k + 40 * t),
                }
            )
    df = pd.DataFrame(rows)
    df.loc[(df.region_code == 320104) & (df.year == 2016), "tax_revenue"] = np.nan
    df.loc[(df.region_code == 321322) & (df.year == 2017), "patents_granted"] = np.nan
    return df


def _cell(value: float, factor: float, decimals: int, text: bool) -> object:
    if pd.isna(value):
        return "—"
    number = round(value / factor, decimals)
    if text:
        return f"{number:,.{decimals}f}" if decimals else f"{int(round(number)):,}"
    return number


def wide_rows(panel: pd.DataFrame, year: int, *, text: bool, money_units: dict | None = None) -> list[list]:
    """Rows of one yearbook table (title, 单位 line, header, units row, data, notes).

    GDP states its unit in the header with full-width brackets, land in ASCII
    brackets, budget revenue takes the table-wide ``单位：万元`` line, and
    industrial land, population and patents take the units row.
    """
    money_units = money_units or {}
    gdp_unit = money_units.get("gdp", "亿元")
    factors = {"亿元": 1e8, "万元": 1e4, "元": 1.0}
    header = [
        "地　区",
        f"地区生产总值\n（{gdp_unit}）",
        "一般公共预算收入",
        "税收收入",
        "行政区域土地面积(平方公里)",
        "工业用地面积",
        "年末户籍人口",
        "专利授权数",
    ]
    units_row = ["", "", "", "", "", "公顷", "万人", "件"]
    rows: list[list] = [
        [f"表2-1 各县（市、区）主要经济指标（{year}年）"] + [""] * 7,
        [""] * 6 + ["单位：万元", ""],
        header,
        units_row,
    ]
    for code, name in REGIONS:
        r = panel[(panel.region_code == code) & (panel.year == year)].iloc[0]
        rows.append(
            [
                f"{code} 　　{name}",
                _cell(r.gdp, factors[gdp_unit], 2 if gdp_unit == "亿元" else 0, text),
                _cell(r.general_budget_revenue, 1e4, 0, text),
                _cell(r.tax_revenue, 1e4, 0, text),
                _cell(r.land_area, 1.0, 2, text),
                _cell(r.industrial_land_area, 0.01, 0, text),
                _cell(r.registered_population, 1e4, 2, text),
                _cell(r.patents_granted, 1.0, 0, text),
            ]
        )
    rows += [
        [""] * 8,
        ["注：1. 本表按当年价格计算。"] + [""] * 7,
        ["2. 专利授权数含发明、实用新型和外观设计。"] + [""] * 7,
        ["资料来源：江苏省统计局（测试用虚构数据）"] + [""] * 7,
    ]
    return rows


def write_csv(rows: list[list], path: Path, encoding: str = "gbk") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def write_workbook(sheets: dict[str, list[list]], path: Path) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, rows in sheets.items():
            pd.DataFrame(rows, dtype=object).to_excel(writer, sheet_name=name, header=False, index=False)
    return path


def write_sheets_workbook(panel: pd.DataFrame, path: Path) -> Path:
    """One sheet per year ("2015", "2016年", "2017年度") plus a 说明 sheet; GDP in
    亿元 in 2015 and 2017 but 万元 in 2016 (yearbooks change units)."""
    sheets = {"说明": [["本工作簿为测试用虚构数据"]]}
    for year, name in zip(YEARS, ["2015", "2016年", "2017年度"]):
        unit = "万元" if year == 2016 else "亿元"
        sheets[name] = wide_rows(panel, year, text=False, money_units={"gdp": unit})
    return write_workbook(sheets, path)


def years_in_columns_rows(panel: pd.DataFrame, column: str = "gdp") -> list[list]:
    """One indicator, one column per year; unit in the title, codes in a 代码 column."""
    chinese, unit, factor = WRITE_SPEC[column]
    rows: list[list] = [
        [f"表3-2 各县（市、区）{chinese}（{unit}）", "", "", "", ""],
        ["代码", "地区", *[f"{y}年" for y in YEARS]],
    ]
    for code, name in REGIONS:
        sub = panel[panel.region_code == code].set_index("year")[column]
        rows.append([str(code), name, *[_cell(sub[y], factor, 2, True) for y in YEARS]])
    rows.append(["资料来源：测试用虚构数据", "", "", "", ""])
    return rows
