"""Measurement units of Chinese statistical yearbooks and their conversion.

Yearbooks mix units freely: GDP in 亿元 in one table and 万元 in the next,
land in 平方公里, 公顷 or 亩, population in 万人 or 人. This module knows those
units, parses them out of a units row or a header such as
``"地区生产总值(亿元)"`` / ``"行政区域土地面积（平方公里）"``, and converts
columns to canonical units while recording every conversion.

Where conversions are recorded
------------------------------
:func:`convert_columns` (used by :func:`policyeval.data.read_yearbook`) writes
two entries in ``DataFrame.attrs``:

``attrs["units"]``
    ``{column: unit}`` -- the unit every measured column is now in.
``attrs["conversions"]``
    a list of dicts ``{"column", "from_unit", "to_unit", "factor"}`` (plus
    ``"year"`` when the conversion applied to one year's sheet only); the
    converted value is ``original * factor``.

Notes
-----
Land: 1 亩 = 10000/15 m² ≈ 666.67 m², hence 1 公顷 = 15 亩 and
1 km² = 100 公顷 = 1500 亩 (DOMAIN.md §2). Money: 1 万元 = 1e4 元,
1 亿元 = 1e8 元. Population: 1 万人 = 1e4 人.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from policyeval.exceptions import UnitParseError

__all__ = [
    "Unit",
    "UNITS",
    "CANONICAL_UNITS",
    "parse_unit",
    "split_header",
    "conversion_factor",
    "convert",
    "convert_columns",
    "MU_PER_KM2",
    "MU_PER_HECTARE",
]

MU_PER_KM2 = 1500.0
MU_PER_HECTARE = 15.0


@dataclass(frozen=True)
class Unit:
    """A measurement unit.

    Attributes
    ----------
    symbol : str
        Canonical spelling, e.g. ``"万元"`` or ``"平方公里"``.
    kind : str
        Dimension: ``"money"`` (人民币), ``"money_usd"``, ``"area"``,
        ``"population"``, ``"count"`` or ``"ratio"``.
    factor : float
        Size of one unit in the base unit of its kind (元, US$, 亩, 人,
        one item, one [dimensionless]).
    """

    symbol: str
    kind: str
    factor: float

    def __str__(self) -> str:
        return self.symbol


def _u(symbol: str, kind: str, factor: float, *aliases: str) -> dict[str, Unit]:
    unit = Unit(symbol, kind, float(factor))
    return {_norm(a): unit for a in (symbol, *aliases)}


def _norm(text: str) -> str:
    # NFKC folds full-width letters, digits and brackets; case and spaces carry no meaning.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(text))).lower()


#: Every unit the parser knows, keyed by normalised spelling.
UNITS: dict[str, Unit] = {
    **_u("元", "money", 1, "人民币元", "yuan", "rmb", "cny"),
    **_u("千元", "money", 1e3),
    **_u("万元", "money", 1e4, "万元人民币", "10kyuan", "10thousandyuan"),
    **_u("百万元", "money", 1e6, "millionyuan"),
    **_u("亿元", "money", 1e8, "亿元人民币", "100millionyuan"),
    **_u("美元", "money_usd", 1, "usd", "us$"),
    **_u("万美元", "money_usd", 1e4),
    **_u("亿美元", "money_usd", 1e8),
    **_u("平方公里", "area", MU_PER_KM2, "平方千米", "km2", "km²", "sqkm", "平方公里(km2)"),
    **_u("公顷", "area", MU_PER_HECTARE, "ha", "hm2", "hm²"),
    **_u("亩", "area", 1, "mu"),
    **_u("万亩", "area", 1e4),
    **_u("平方米", "area", MU_PER_HECTARE / 1e4, "m2", "m²", "sqm"),
    **_u("万平方米", "area", MU_PER_HECTARE, "万m2", "万m²"),
    **_u("人", "population", 1, "persons", "person", "people"),
    **_u("千人", "population", 1e3),
    **_u("万人", "population", 1e4, "10kpersons"),
    **_u("个", "count", 1),
    **_u("件", "count", 1, "项"),
    **_u("家", "count", 1),
    **_u("户", "count", 1),
    **_u("%", "ratio", 1e-2, "％", "percent"),
    **_u("‰", "ratio", 1e-3, "permille"),
}

#: Canonical unit of each kind used by default when converting.
CANONICAL_UNITS: dict[str, str] = {
    "money": "元",
    "money_usd": "美元",
    "area": "平方公里",
    "population": "人",
}
# Counts (件, 个, 家) and ratios (%, ‰) keep the unit they were published in:
# converting 家 to 件 or ‰ to % would only make the attrs harder to read.

_UNIT_PREFIX = re.compile(r"^(单位|计量单位|unit)[:：]?", re.IGNORECASE)
# A header ends with its unit in brackets: "地区生产总值(亿元)", "...（平方公里）", "...[万人]".
_HEADER_UNIT = re.compile(r"^(?P<name>.*?)[\(\[【〔](?P<unit>[^\(\)\[\]【】〔〕]*)[\)\]】〕]$")


def parse_unit(text: str | Unit) -> Unit:
    """Recognise a unit written in a yearbook.

    Parameters
    ----------
    text : str or Unit
        The unit as written: ``"万元"``, ``"（亿元）"``, ``"单位：平方公里"``,
        ``"km²"``, ``"公顷"``. Brackets, ``单位：`` prefixes, full-width
        characters and spaces are ignored.

    Returns
    -------
    Unit

    Raises
    ------
    UnitParseError
        If the unit is not one of :data:`UNITS`.

    Examples
    --------
    >>> parse_unit("（亿元）").factor
    100000000.0
    >>> parse_unit("单位：平方公里").kind
    'area'
    """
    if isinstance(text, Unit):
        return text
    if text is None or (isinstance(text, float) and np.isnan(text)):
        raise UnitParseError("unit is missing; expected one of " + _known())
    key = _norm(text)
    key = _UNIT_PREFIX.sub("", key).strip("()[]【】〔〕")
    key = _UNIT_PREFIX.sub("", key)
    if key in UNITS:
        return UNITS[key]
    raise UnitParseError(f"cannot parse unit {str(text)!r}; known units: {_known()}")


def _known() -> str:
    seen: list[str] = []
    for unit in UNITS.values():
        if unit.symbol not in seen:
            seen.append(unit.symbol)
    return ", ".join(seen)


def split_header(header: object) -> tuple[str, Unit | None]:
    """Split a yearbook header into its name and its unit.

    Parameters
    ----------
    header : object
        A column header such as ``"地区生产总值(亿元)"``,
        ``"行政区域土地面积（平方公里）"`` or ``"税收收入"``.

    Returns
    -------
    name : str
        The header without its unit, NFKC-normalised and without spaces
        (yearbooks pad names such as ``"地　区"``).
    unit : Unit or None
        The unit in the trailing brackets, or None if there is none.

    Raises
    ------
    UnitParseError
        If trailing brackets hold something that looks like a unit
        (``单位`` prefix) but is not a known unit. Brackets holding other
        text (``"县(市、区)"``) are kept as part of the name.

    Examples
    --------
    >>> split_header("行政区域土地面积（平方公里）")
    ('行政区域土地面积', Unit(symbol='平方公里', kind='area', factor=1500.0))
    """
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(header)))
    match = _HEADER_UNIT.match(text)
    if match is None:
        # "地区生产总值/亿元" and "地区生产总值 单位:亿元" are also seen in exports.
        for sep in ("/", "单位:"):
            if sep in text:
                name, _, tail = text.rpartition(sep)
                if _norm(tail) in UNITS and name:
                    return name, UNITS[_norm(tail)]
        return text, None
    name, inner = match.group("name"), match.group("unit")
    try:
        return name, parse_unit(inner)
    except UnitParseError:
        if _UNIT_PREFIX.match(inner):
            raise UnitParseError(
                f"header {str(header)!r}: cannot parse unit {inner!r}; known units: {_known()}"
            ) from None
        return text, None


def conversion_factor(from_unit: str | Unit, to_unit: str | Unit) -> float:
    """Factor ``f`` such that ``value_in_to_unit = value_in_from_unit * f``.

    Parameters
    ----------
    from_unit, to_unit : str or Unit

    Returns
    -------
    float

    Raises
    ------
    UnitParseError
        If either unit is unknown or the two measure different things.

    Examples
    --------
    >>> conversion_factor("平方公里", "亩")
    1500.0
    >>> conversion_factor("亿元", "万元")
    10000.0
    """
    src, dst = parse_unit(from_unit), parse_unit(to_unit)
    if src.kind != dst.kind:
        raise UnitParseError(
            f"cannot convert {src.symbol} ({src.kind}) to {dst.symbol} ({dst.kind})"
        )
    return src.factor / dst.factor


def convert(values, from_unit: str | Unit, to_unit: str | Unit):
    """Convert numbers (scalar, array or Series) from one unit to another.

    Examples
    --------
    >>> convert(2.0, "公顷", "亩")
    30.0
    """
    return values * conversion_factor(from_unit, to_unit)


def convert_columns(
    df: pd.DataFrame,
    units: Mapping[str, str | Unit],
    target: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Convert columns to canonical units and record what was done.

    Parameters
    ----------
    df : DataFrame
    units : mapping
        ``{column: unit the column is currently in}``.
    target : mapping, optional
        ``{kind: unit}`` overriding :data:`CANONICAL_UNITS`, e.g.
        ``{"money": "万元"}``.

    Returns
    -------
    DataFrame
        A copy with converted columns; ``attrs["units"]`` holds each column's
        new unit and ``attrs["conversions"]`` appends one dict per converted
        column (``column, from_unit, to_unit, factor``). Columns already in
        the target unit are listed in ``attrs["units"]`` but not in
        ``attrs["conversions"]``.

    Raises
    ------
    UnitParseError
        For an unknown unit, or a target unit of the wrong kind.
    """
    goal = {**CANONICAL_UNITS, **(dict(target) if target else {})}
    out = df.copy()
    out.attrs = dict(df.attrs)
    recorded_units = dict(out.attrs.get("units", {}))
    conversions = list(out.attrs.get("conversions", []))
    for column, unit in units.items():
        src = parse_unit(unit)
        dst = parse_unit(goal.get(src.kind, src))
        if dst.kind != src.kind:
            raise UnitParseError(
                f"target unit {dst.symbol!r} for kind {src.kind!r} measures {dst.kind}"
            )
        factor = conversion_factor(src, dst)
        if factor != 1.0:
            out[column] = pd.to_numeric(out[column]) * factor
            conversions.append(
                {"column": column, "from_unit": src.symbol, "to_unit": dst.symbol, "factor": factor}
            )
        recorded_units[column] = dst.symbol
    out.attrs["units"] = recorded_units
    out.attrs["conversions"] = conversions
    return out
