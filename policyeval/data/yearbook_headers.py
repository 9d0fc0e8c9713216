"""The dictionary of yearbook headers used by :func:`policyeval.data.read_yearbook`.

:data:`HEADERS` maps a Chinese header, as printed but without its unit, to a
:class:`HeaderSpec`: the canonical English snake_case column name and the
kind of quantity (money, money_usd, area, population, count, ratio), which
decides the units the column may carry. Keys are compared after NFKC
normalisation, removing spaces (``"地　区"`` = ``"地区"``), ``#``/``其中：``
prefixes and trailing ①/``*`` note marks. Several spellings map to one name
(地区生产总值, 生产总值, GDP → ``gdp``) because yearbooks and database exports
(EPS, CEIC, CNRDS) word the same series differently.

Extend it for a session with :func:`register_header`, or for one call with
``read_yearbook(headers={...})``. Canonical names are accepted as headers too.

Canonical columns (kind)
------------------------
gdp, gdp_per_capita, va_primary/secondary/tertiary, industrial_value_added,
industrial_value_added_above_scale, industrial_output_above_scale,
general_budget_revenue, general_budget_expenditure, tax_revenue,
fixed_asset_investment, retail_sales, rd_expenditure,
urban/rural_disposable_income_per_capita (money); fdi_utilized, trade_total
(money_usd); land_area, built_up_area, industrial_land_area,
urban_construction_land (area); registered_population, resident_population,
employment, college_educated_population, professional_technical_staff,
talent_stock, births, deaths (population); natural_growth_rate (ratio);
patents_granted, patent_applications, invention_patents_granted,
high_tech_firms, industrial_firms_above_scale (count).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from policyeval.exceptions import DataError

__all__ = [
    "HEADERS",
    "HeaderSpec",
    "KINDS",
    "register_header",
    "lookup_header",
    "normalize_header",
    "make_spec",
    "REGION_HEADERS",
    "CODE_HEADERS",
    "YEAR_HEADERS",
]

KINDS = ("money", "money_usd", "area", "population", "count", "ratio")


@dataclass(frozen=True)
class HeaderSpec:
    """What a yearbook header measures: canonical column name and kind of unit.

    ``kind`` None accepts any unit; ``default_unit`` is used when a table
    states no unit (only set for counts, whose unit is not ambiguous).
    """

    canonical: str
    kind: str | None
    default_unit: str | None = None


def _spec(canonical: str, kind: str | None, *chinese: str, default_unit: str | None = None):
    return {normalize_header(c): HeaderSpec(canonical, kind, default_unit) for c in chinese}


def normalize_header(text: object) -> str:
    text = unicodedata.normalize("NFKC", str(text))
    text = re.sub(r"\s+", "", text)
    text = re.sub(r"^(#|其中:|其中|内:)+", "", text)
    return re.sub(r"[*\u2460-\u2473]+$", "", text).lower()


#: Chinese yearbook header → canonical name and kind. Extend with register_header().
HEADERS: dict[str, HeaderSpec] = {
    **_spec("gdp", "money", "地区生产总值", "生产总值", "国内生产总值", "GDP", "地区GDP"),
    **_spec("gdp_per_capita", "money", "人均地区生产总值", "人均生产总值", "人均GDP"),
    **_spec("va_primary", "money", "第一产业增加值"),
    **_spec("va_secondary", "money", "第二产业增加值"),
    **_spec("va_tertiary", "money", "第三产业增加值"),
    **_spec("industrial_value_added", "money", "工业增加值", "全部工业增加值"),
    **_spec("industrial_value_added_above_scale", "money", "规模以上工业增加值", "规上工业增加值"),
    **_spec("industrial_output_above_scale", "money", "规模以上工业总产值", "规上工业总产值"),
    **_spec(
        "general_budget_revenue", "money",
        "一般公共预算收入", "地方一般公共预算收入", "一般预算收入", "地方财政一般预算收入",
        "公共财政预算收入", "地方公共财政预算收入", "地方财政收入",
    ),
    **_spec(
        "general_budget_expenditure", "money",
        "一般公共预算支出", "地方一般公共预算支出", "一般预算支出", "地方财政一般预算支出",
        "公共财政预算支出",
    ),
    **_spec("tax_revenue", "money", "税收收入", "税收", "地方税收收入"),
    **_spec("fixed_asset_investment", "money", "全社会固定资产投资", "固定资产投资", "固定资产投资额"),
    **_spec("retail_sales", "money", "社会消费品零售总额"),
    **_spec("rd_expenditure", "money", "R&D经费内部支出", "研究与试验发展经费支出", "R&D经费支出"),
    **_spec(
        "urban_disposable_income_per_capita", "money",
        "城镇居民人均可支配收入", "城镇常住居民人均可支配收入",
    ),
    **_spec(
        "rural_disposable_income_per_capita", "money",
        "农村居民人均可支配收入", "农村常住居民人均可支配收入",
    ),
    **_spec("fdi_utilized", "money_usd", "实际使用外资", "实际利用外资", "实际使用外资金额"),
    **_spec("trade_total", "money_usd", "进出口总额"),
    **_spec("land_area", "area", "行政区域土地面积", "土地面积", "行政区域面积", "总面积"),
    **_spec("built_up_area", "area", "建成区面积"),
    **_spec("industrial_land_area", "area", "工业用地面积", "工业用地"),
    **_spec("urban_construction_land", "area", "城市建设用地面积", "建设用地面积"),
    **_spec(
        "registered_population", "population",
        "年末户籍人口", "户籍人口", "年末总人口", "户籍总人口", "年末户籍总人口",
    ),
    **_spec("resident_population", "population", "常住人口", "年末常住人口", "年平均常住人口"),
    **_spec(
        "employment", "population",
        "年末从业人员", "从业人员", "年末从业人员数", "从业人员数", "就业人员", "年末单位从业人员",
    ),
    **_spec(
        "college_educated_population", "population",
        "大专及以上学历人口", "大专及以上文化程度人口", "受过大专以上教育人口",
    ),
    **_spec("professional_technical_staff", "population", "专业技术人员", "专业技术人员数"),
    **_spec("talent_stock", "population", "人才资源总量", "人才总量"),
    **_spec("births", "population", "出生人口", "出生人数"),
    **_spec("deaths", "population", "死亡人口", "死亡人数"),
    **_spec("natural_growth_rate", "ratio", "人口自然增长率", "自然增长率"),
    **_spec(
        "patents_granted", "count",
        "专利授权数", "专利授权量", "专利授权", "授权专利数", default_unit="件",
    ),
    **_spec(
        "patent_applications", "count", "专利申请数", "专利申请量", "专利申请受理量", default_unit="件"
    ),
    **_spec(
        "invention_patents_granted", "count",
        "发明专利授权数", "发明专利授权量", default_unit="件",
    ),
    **_spec("high_tech_firms", "count", "高新技术企业数", "高新技术企业", default_unit="家"),
    **_spec(
        "industrial_firms_above_scale", "count",
        "规模以上工业企业数", "规上工业企业数", default_unit="个",
    ),
}

REGION_HEADERS = {
    normalize_header(k)
    for k in (
        "地区", "区域", "地区名称", "区域名称", "行政区划", "行政区划名称", "行政区", "县(市、区)",
        "县(市,区)", "县市区", "县(市)", "县(区)", "县区", "区县", "市县", "县市", "城市",
        "城市名称", "地级市", "省份", "省(区、市)", "省区市", "地名", "名称",
        "region", "city", "county", "province", "region_name",
    )
}
CODE_HEADERS = {
    normalize_header(k)
    for k in ("代码", "行政区划代码", "区划代码", "地区代码", "编码", "code", "region_code")
}
YEAR_HEADERS = {normalize_header(k) for k in ("年份", "年度", "年", "year")}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9_]*$")


def register_header(chinese: str, canonical: str, kind: str | None = None) -> None:
    """Teach :func:`policyeval.data.read_yearbook` a new header (for the whole session).

    Parameters
    ----------
    chinese : str
        The header as printed, without its unit, e.g. ``"科技支出"``.
    canonical : str
        snake_case English column name, e.g. ``"science_expenditure"``.
    kind : {"money", "money_usd", "area", "population", "count", "ratio"}, optional
        What it measures; a table stating a unit of another kind is then
        refused. None accepts any unit.

    Raises
    ------
    DataError
        If ``canonical`` is not snake_case or ``kind`` is unknown.

    Examples
    --------
    >>> register_header("环保支出", "environmental_expenditure", "money")
    >>> HEADERS[normalize_header("环保支出")].canonical
    'environmental_expenditure'
    >>> del HEADERS[normalize_header("环保支出")]  # the registry is global; tidy up
    """
    HEADERS[normalize_header(chinese)] = make_spec(canonical, kind, f"register_header({chinese!r})")


def make_spec(canonical: str, kind: str | None, where: str) -> HeaderSpec:
    if not isinstance(canonical, str) or not SNAKE_CASE.match(canonical):
        raise DataError(f"{where}: canonical name {canonical!r} must be snake_case ASCII")
    if kind is not None and kind not in KINDS:
        raise DataError(f"{where}: kind={kind!r} is not one of {', '.join(KINDS)}")
    # A count needs no stated unit (件, 个 and 家 are all "one item").
    return HeaderSpec(canonical, kind, "个" if kind == "count" else None)


def lookup_header(name: str, extra: Mapping[str, HeaderSpec]) -> HeaderSpec | None:
    key = normalize_header(name)
    if key in extra:
        return extra[key]
    if key in HEADERS:
        return HEADERS[key]
    for spec in (*extra.values(), *HEADERS.values()):
        if key == spec.canonical:
            return spec
    return None
