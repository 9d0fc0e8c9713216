"""Reading wide statistical-yearbook tables into a clean long panel.

A yearbook table (or an EPS/CEIC/CNRDS export of one) is wide, Chinese and
messy: a title line, ``单位：万元`` above the table, headers such as
``"地区生产总值(亿元)"`` or ``"地　区"``, sometimes a separate units row,
region cells like ``"320100 南京市"``, missing values written ``—``, and
footnotes (``注：…``, ``资料来源：…``) under the data. :func:`read_yearbook`
turns that into one row per (region, year) with canonical English column
names in canonical units, and records in ``attrs`` what it mapped, converted
and removed.

The header dictionary
---------------------
:data:`HEADERS` maps a Chinese header (without its unit; spaces, full-width
forms, ``#``/``其中：`` prefixes and ①/* marks are ignored) to a canonical
snake_case name and the kind of quantity it measures (money, area,
population, count, ratio). Extend it for a session with
:func:`register_header` or for one call with ``read_yearbook(headers=...)``.
Canonical names are also accepted as headers, so a table this module wrote
can be read back.

Layouts
-------
``"table"``
    One sheet (or CSV), rows = regions, columns = indicators. The year comes
    from a year column (年份/年度/year), the ``year=`` argument, or the sheet.
``"sheets"``
    An Excel workbook with one such table per year; sheets named ``2015`` /
    ``2015年`` / ``2015年度``. Other sheets are skipped and listed in
    ``attrs["skipped_sheets"]``.
``"years_in_columns"``
    One indicator; rows = regions, columns = years (``2015年`` / ``2015``).
    The indicator is taken from ``indicator=`` or the title above the table.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from policyeval.data._checks import _aggregate_mask, _warn_aggregates, check_file
from policyeval.data.panel import (
    _BAD,
    _PERCENT,
    _markers,
    _marker_summary,
    _parse_scalar,
    _parse_values,
    _percent_values,
    _tidy_label,
    _warn_markers,
    _where,
    detect_encoding,
    parse_year,
    to_numeric,
    validate_panel,
)
from policyeval.data.units import (
    CANONICAL_UNITS,
    Unit,
    conversion_factor,
    parse_unit,
    split_header,
)
from policyeval.data.yearbook_headers import (
    CODE_HEADERS,
    REGION_HEADERS,
    SNAKE_CASE,
    YEAR_HEADERS,
    HEADERS,
    KINDS,
    HeaderSpec,
    normalize_header,
    make_spec,
    register_header,
)
from policyeval.data.yearbook_headers import lookup_header as _lookup
from policyeval.exceptions import (
    AdminCodeError,
    ArgumentTypeError,
    DataError,
    DataFileNotFoundError,
    DataQualityWarning,
    DroppedObservationsWarning,
    DuplicateObservationError,
    NonNumericValueError,
    UnitParseError,
    UnitConversionWarning,
)

__all__ = ["read_yearbook", "register_header", "HEADERS", "HeaderSpec", "KINDS"]

_FOOTNOTE = re.compile(
    r"^(注|说明|资料来源|数据来源|来源|备注|附注|note|source|\*|[\u2460-\u2473])", re.IGNORECASE
)
_TABLE_UNIT = re.compile(r"^(?:计量)?单位[:：](.+)$")
# Words with which a yearbook announces that a series changes definition or
# coverage (a statistical break): 口径 (scope), 调整 (adjusted), 不可比 (not
# comparable), 统计范围 (coverage).
_BREAK = re.compile(r"口径|调整|不可比|统计范围")
NOTE_HEADERS = {normalize_header(k) for k in ("备注", "注", "附注", "注释", "说明", "note", "notes", "remark", "remarks")}
_MARKER = "\0markers\0"  # prefix of the per-column raw missing-marker texts carried to _assemble


# --------------------------------------------------------------------------- reading raw grids


def _csv_grid(path: Path, encoding: str | None) -> pd.DataFrame:
    # csv.reader tolerates the ragged rows of exports (a one-cell title line
    # above a ten-column table), which pandas.read_csv refuses.
    text = path.read_bytes().decode(detect_encoding(path, encoding))
    rows = list(csv.reader(io.StringIO(text)))
    width = max((len(r) for r in rows), default=0)
    return pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)


def _blank(value: object) -> bool:
    if value is None or value is pd.NA:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def _text(value: object) -> str:
    if _blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))


# --------------------------------------------------------------------------- one table


@dataclass
class _Table:
    frame: pd.DataFrame  # region_code, region, year, indicators (converted)
    header_map: dict
    units: dict
    conversions: list
    footnotes: list
    dropped: int
    layout: str
    ignored: list
    breaks: list
    percent: list


def _find_header(grid: pd.DataFrame, region_column: str | None, where: str) -> int:
    keys = REGION_HEADERS | CODE_HEADERS
    if region_column is not None:
        keys = {normalize_header(region_column)}
    for i in range(min(len(grid), 30)):
        if any(normalize_header(_text(v)) in keys for v in grid.iloc[i] if not _blank(v)):
            return i
    raise DataError(
        f"{where}: no header row found -- no cell in the first 30 rows reads "
        f"{'/'.join(sorted(keys)[:8])}...; pass region_column= with the name of the region column"
    )


def _table_unit(grid: pd.DataFrame, header_row: int) -> Unit | None:
    for i in range(header_row):
        for v in grid.iloc[i]:
            match = _TABLE_UNIT.match(_text(v))
            if match:
                return parse_unit(match.group(1))
    return None


def _title_indicator(grid: pd.DataFrame, header_row: int, extra) -> tuple[HeaderSpec, str, Unit | None] | None:
    names = {**{k: v for k, v in HEADERS.items()}, **dict(extra)}
    for i in range(header_row):
        for v in grid.iloc[i]:
            text = _text(v)
            if not text or _TABLE_UNIT.match(text):
                continue
            name, unit = split_header(text)
            # Titles carry prefixes ("表3-1 各县地区生产总值"): take the longest known name inside.
            hits = [k for k in names if k and k in normalize_header(name)]
            if hits:
                best = max(hits, key=len)
                return names[best], best, unit
    return None


def _parse_region(cell: object) -> tuple[int | None, str | None]:
    if _blank(cell):
        return None, None
    if isinstance(cell, float) and cell.is_integer():
        cell = int(cell)
    text = _tidy_label(cell)
    # GB/T 2260 codes have 6 digits; statistical codes (统计用区划代码) 12.
    match = re.match(r"^(\d{12}|\d{6})(?!\d)\s*(.*)$", text)
    if match:
        return int(match.group(1)), (match.group(2).strip() or None)
    return None, text


def _parse_code(cell: object, where: str) -> int | None:
    text = _text(cell)
    if not text:
        return None
    # "320500.0": a code that went through a float somewhere (Excel, pandas) is the code 320500.
    match = re.fullmatch(r"(\d{6}(?:\d{6})?)(?:\.0+)?", text)
    if match is None:
        raise DataError(f"{where}: region code {str(cell)!r} is not a 6- or 12-digit code")
    return int(match.group(1))


def _six_digit(code: int | None, region: str | None, where: str) -> int | None:
    """A 12-digit statistical code (统计用区划代码) as its 6-digit GB/T 2260 code.

    ``320500000000`` is the prefecture 320500. A 12-digit code whose last six
    digits are not zeros is a township or village: cutting it would merge it
    into its county, so it is refused.
    """
    if code is None or code < 10**11:
        return code
    if code % 10**6 == 0:
        return code // 10**6
    raise AdminCodeError(
        f"{where}: region {region!r} has the 12-digit statistical code {code}, which is below "
        f"county level (its last six digits {code % 10**6:06d} are not zeros); its 6-digit form "
        f"{code // 10**6} would merge it into its county. read_yearbook reads tables of counties, "
        "prefectures and provinces (6-digit GB/T 2260 codes)"
    )


def _read_table(
    grid: pd.DataFrame,
    *,
    where: str,
    year: int | None,
    layout: str,
    indicator: str | None,
    extra: Mapping[str, HeaderSpec],
    given_units: Mapping[str, str],
    target: Mapping[str, str],
    unknown_headers: str,
    region_column: str | None,
) -> _Table:
    hrow = _find_header(grid, region_column, where)
    header = [_text(v) for v in grid.iloc[hrow]]
    table_unit = _table_unit(grid, hrow)
    region_keys = {normalize_header(region_column)} if region_column else REGION_HEADERS

    roles: dict[int, tuple] = {}  # column position -> ("region"|"code"|"year"|"ind"|"yearcol", ...)
    header_map: dict[str, str] = {}
    unknown: list[str] = []
    for j, h in enumerate(header):
        if not h:
            continue
        k = normalize_header(h)
        if k in region_keys and "region" not in [r[0] for r in roles.values()]:
            roles[j] = ("region",)
        elif k in CODE_HEADERS:
            roles[j] = ("code",)
        elif k in YEAR_HEADERS:
            roles[j] = ("year",)
        elif k in NOTE_HEADERS:
            roles[j] = ("note",)
        else:
            name, unit = split_header(h)
            y = parse_year(name, calendar=True)
            if y is not None and 1900 <= y <= 2100:
                roles[j] = ("yearcol", y, unit)
                continue
            spec = _lookup(name, extra)
            if spec is None and unit is None:
                inner = re.match(r"^(.+?)[(\[【〔]([^()\[\]]*)[)\]】〕]$", name)
                if inner and _lookup(inner.group(1), extra) is not None:
                    raise UnitParseError(
                        f"{where}: header {h!r}: cannot parse unit {inner.group(2)!r}; known "
                        "units: 元, 千元, 万元, 亿元, 平方公里, 公顷, 亩, 平方米, 人, 万人, 件, 个, %, ‰ ..."
                    )
            if spec is None:
                unknown.append(h)
                if unknown_headers == "keep":
                    roles[j] = ("ind", HeaderSpec(name, None), unit, h)
                continue
            roles[j] = ("ind", spec, unit, h)
    if "region" not in [r[0] for r in roles.values()] and "code" not in [r[0] for r in roles.values()]:
        raise DataError(f"{where}: no region or code column in header {header}")

    seen: dict[str, str] = {}
    for r in roles.values():
        if r[0] == "ind":
            if r[1].canonical in seen:
                raise DataError(
                    f"{where}: headers {seen[r[1].canonical]!r} and {r[3]!r} both map to "
                    f"{r[1].canonical!r}; keep one column or map one of them elsewhere with headers="
                )
            seen[r[1].canonical] = r[3]
    yearcols = {j: r for j, r in roles.items() if r[0] == "yearcol"}
    inds = {j: r for j, r in roles.items() if r[0] == "ind"}
    if layout == "auto":
        layout = "years_in_columns" if yearcols and not inds else "table"
    if unknown and unknown_headers == "raise":
        raise DataError(
            f"{where}: unknown header(s) {', '.join(repr(u) for u in unknown)}; map them with "
            "headers={'中文名': 'english_name'} or register_header(), or pass "
            "unknown_headers='keep' (keep under the Chinese name) or 'ignore'"
        )
    if layout == "table" and yearcols:
        raise DataError(
            f"{where}: the header mixes year columns ({', '.join(str(r[1]) for r in yearcols.values())}) "
            "with indicator columns; a table has either one column per indicator (pass year= or "
            "add a 年份 column) or one column per year of a single indicator"
        )
    if layout == "years_in_columns":
        if not yearcols:
            raise DataError(f"{where}: layout='years_in_columns' but no header reads like a year")
        if indicator is not None:
            spec = _lookup(split_header(indicator)[0], extra)
            title_unit = split_header(indicator)[1]
            label = indicator
            if spec is None:
                raise DataError(
                    f"indicator={indicator!r} is not a known header; known e.g. 地区生产总值, "
                    "税收收入; add it with register_header() or headers="
                )
        else:
            found = _title_indicator(grid, hrow, extra)
            if found is None:
                raise DataError(
                    f"{where}: years are in columns but no indicator name was found above the "
                    "table; pass indicator='地区生产总值' (or another header)"
                )
            spec, label, title_unit = found
        col_units = {r[2] for r in yearcols.values() if r[2] is not None}
        if len(col_units) > 1:
            raise UnitParseError(f"{where}: year columns state different units {sorted(map(str, col_units))}")
        if inds:
            raise DataError(
                f"{where}: layout='years_in_columns' but the header also has indicator columns "
                f"{', '.join(repr(r[3]) for r in inds.values())}"
            )
        inds = {j: ("ind", spec, title_unit or next(iter(col_units), None), str(label)) for j in yearcols}

    # A units row sits right under the header: no region, no numbers, only text
    # in the indicator columns. Every such text must then be a known unit.
    start = hrow + 1
    row_units: dict[int, Unit] = {}
    if start < len(grid):
        cells = {j: grid.iat[start, j] for j in inds if not _blank(grid.iat[start, j])}
        ids = [_text(grid.iat[start, j]) for j, r in roles.items() if r[0] in ("region", "code")]
        no_id = all(t in ("", "单位", "计量单位", "unit") for t in ids)
        if cells and no_id and not any(np.isfinite(_num(v)) for v in cells.values()):
            for j, v in cells.items():
                try:
                    row_units[j] = parse_unit(_text(v))
                except UnitParseError:
                    raise UnitParseError(
                        f"{where}: units row under the header: cannot parse unit {_text(v)!r} "
                        f"of column {inds[j][3]!r}"
                    ) from None
            start += 1

    # Columns whose every number is written "12.5%" (or "3.2‰") carry their unit in the cells.
    cell_units: dict[int, Unit] = {}
    for j in inds:
        cells = [_text(grid.iat[i, j]) for i in range(start, len(grid)) if not _blank(grid.iat[i, j])]
        signs = {m.group(6) for m in (_PERCENT.match(c) for c in cells) if m}
        if len(signs) == 1 and not any(np.isfinite(_as_number(c)) for c in cells):
            cell_units[j] = parse_unit(signs.pop())

    # Resolve one unit per indicator column.
    units: dict[int, Unit] = {}
    for j, (_, spec, head_unit, label) in inds.items():
        if j in cell_units and any(u is not None and u.symbol != cell_units[j].symbol
                                   for u in (head_unit, row_units.get(j))):
            stated = next(u for u in (head_unit, row_units.get(j)) if u is not None)
            raise UnitParseError(
                f"{where}: column {label!r} is written in {cell_units[j]} in its cells but its "
                f"header or units row states {stated}"
            )
        candidates = [u for u in (head_unit, row_units.get(j), cell_units.get(j)) if u is not None]
        if len({u.symbol for u in candidates}) > 1:
            raise UnitParseError(
                f"{where}: column {label!r} states two units ({candidates[0]} in the header, "
                f"{candidates[1]} in the units row)"
            )
        unit = candidates[0] if candidates else None
        for src in (given_units.get(spec.canonical), given_units.get(normalize_header(split_header(label)[0]))):
            if unit is None and src is not None:
                unit = parse_unit(src)
        if unit is None and table_unit is not None and (spec.kind in (None, table_unit.kind)):
            unit = table_unit
        if unit is None and spec.default_unit is not None:
            unit = parse_unit(spec.default_unit)
        if unit is None:
            if spec.kind is None:
                continue  # unknown header kept as published; no unit to convert
            raise UnitParseError(
                f"{where}: no unit for column {label!r} ({spec.canonical}); yearbooks mix "
                f"{'万元 and 亿元' if spec.kind == 'money' else 'units'}, so state it in the header, a "
                f"units row, a '单位：' line, or pass units={{{spec.canonical!r}: '...'}}"
            )
        if spec.kind is not None and unit.kind != spec.kind:
            raise UnitParseError(
                f"{where}: column {label!r} ({spec.canonical}) measures {spec.kind} but its unit "
                f"is {unit.symbol} ({unit.kind})"
            )
        units[j] = unit

    if layout == "years_in_columns" and len({u.symbol for u in units.values()}) > 1:
        raise UnitParseError(
            f"{where}: the year columns state different units "
            f"({', '.join(sorted({u.symbol for u in units.values()}))}); one column per year must "
            "share one unit"
        )

    # Data rows, footnotes and blank rows.
    id_cols = [j for j, r in roles.items() if r[0] in ("region", "code", "year")]
    note_cols = [j for j, r in roles.items() if r[0] == "note"]
    # Text above the header (title, 单位 line) may announce a break too: "(2016年起口径调整)".
    above = [_text(v) for i in range(hrow) for v in grid.iloc[i] if not _blank(v)]
    breaks: list[str] = [f"[{where}] {t}" for t in above if _BREAK.search(t)]
    footnotes: list[str] = []
    dropped = 0
    records: list[dict] = []
    in_notes = False
    for i in range(start, len(grid)):
        row = grid.iloc[i]
        if all(_blank(v) for v in row):
            continue
        first = next(_text(v) for v in row if not _blank(v))
        values_present = any(
            np.isfinite(_num(row.iat[j])) for j in inds if not _blank(row.iat[j])
        )
        # A sentence ("1. 本表按当年价格计算。") with no numbers is a note even
        # without a 注 prefix; region names never carry sentence punctuation.
        sentence = not values_present and (len(first) > 30 or any(p in first for p in "。;,"))
        in_notes = in_notes or bool(_FOOTNOTE.match(first)) or sentence
        has_id = any(not _blank(row.iat[j]) for j in id_cols if roles[j][0] != "year")
        if in_notes or not has_id:
            footnotes.append(f"[{where}] " + " ".join(_text(v) for v in row if not _blank(v)))
            dropped += int(values_present)
            continue
        records.append(_record(row, roles, inds, year, where))
        for j in note_cols:
            if not _blank(row.iat[j]):
                label = " ".join(_text(row.iat[k]) for k in id_cols if roles[k][0] != "year")
                footnotes.append(f"[{where}] {label}: {_text(row.iat[j])}")
    breaks += [t for t in footnotes if _BREAK.search(t)]

    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    if layout == "years_in_columns" and records:
        frame = _melt_years(frame, inds)
    label_of = {}
    percent: list[str] = []
    for j, (_, spec, _, label) in inds.items():
        header_map[label] = spec.canonical
        label_of[j] = spec.canonical
        col = spec.canonical
        if col in frame and j in cell_units and not pd.api.types.is_numeric_dtype(frame[col]):
            found = _percent_values(frame[col].astype(object))
            if found is not None:
                percent.append(f"{label!r} (e.g. {frame[col].dropna().iloc[0]!r})")
                frame[col] = found[0]
                continue
        if col in frame and not pd.api.types.is_numeric_dtype(frame[col]):
            values = frame[col].astype(object)
            parsed, bad = _parse_values(values)
            marked = _markers(values, parsed, bad)
            if marked.any():
                frame[_MARKER + col] = values.where(marked, None)
            try:
                frame[col] = to_numeric(frame[col], col, context=frame, idname="region", tname="year")
            except NonNumericValueError as err:
                raise NonNumericValueError(f"{where}: {err} (header {label!r})") from None
    conversions: list[dict] = []
    out_units: dict[str, str] = {}
    for j, unit in units.items():
        col = label_of[j]
        if col in out_units:
            continue
        dst = parse_unit(target.get(unit.kind, unit.symbol))
        factor = conversion_factor(unit, dst)
        if col in frame and factor != 1.0:
            frame[col] = frame[col] * factor
            conversions.append({"column": col, "from_unit": unit.symbol, "to_unit": dst.symbol, "factor": factor})
        out_units[col] = dst.symbol
    ignored = unknown if unknown_headers == "ignore" else []
    return _Table(frame, header_map, out_units, conversions, footnotes, dropped, layout, ignored,
                  breaks, percent)


def _as_number(text: str) -> float:
    parsed = _parse_scalar(text)
    return np.nan if parsed is _BAD else float(parsed)


def _num(value: object) -> float:
    """A cell as a number (percent cells included), NaN for markers and text."""
    parsed = _parse_scalar(value)
    if parsed is _BAD:
        match = _PERCENT.match(_text(value))
        return float(match.group(1).replace(",", "")) if match else np.nan
    return float(parsed)


def _record(row, roles, inds, year, where) -> dict:
    rec: dict = {"region_code": None, "region": None, "year": year}
    name_code = column_code = None
    for j, role in roles.items():
        cell = row.iat[j]
        if role[0] == "region":
            name_code, rec["region"] = _parse_region(cell)
        elif role[0] == "code":
            column_code = _parse_code(cell, where)
        elif role[0] == "year":
            rec["year"] = None if _blank(cell) else cell
    name_code = _six_digit(name_code, rec["region"], where)
    column_code = _six_digit(column_code, rec["region"], where)
    if name_code is not None and column_code is not None and name_code != column_code:
        raise DataError(
            f"{where}: region {rec['region']!r} has code {name_code} in its name cell but "
            f"{column_code} in the code column"
        )
    rec["region_code"] = column_code if column_code is not None else name_code
    for j, (_, spec, _, _) in inds.items():
        key = spec.canonical if roles[j][0] == "ind" else ("__year__", roles[j][1])
        rec[key] = row.iat[j]
    return rec


def _melt_years(frame: pd.DataFrame, inds) -> pd.DataFrame:
    year_keys = [c for c in frame.columns if isinstance(c, tuple)]
    canonical = next(iter(inds.values()))[1].canonical
    long = frame.melt(
        id_vars=["region_code", "region"], value_vars=year_keys, var_name="_y", value_name=canonical
    )
    long["year"] = [k[1] for k in long["_y"]]
    return long.drop(columns="_y")


# --------------------------------------------------------------------------- public entry


def read_yearbook(
    path: str | Path,
    *,
    layout: str = "auto",
    sheet_name: str | int | None = None,
    year: int | None = None,
    indicator: str | None = None,
    units: Mapping[str, str] | None = None,
    headers: Mapping[str, str | tuple[str, str | None]] | None = None,
    money_unit: str = "元",
    area_unit: str = "平方公里",
    population_unit: str = "人",
    unknown_headers: str = "raise",
    region_column: str | None = None,
    encoding: str | None = None,
    keep_aggregates: bool = False,
    year_range: tuple[int, int] | None = (1949, 2100),
) -> pd.DataFrame:
    r"""Read a wide statistical-yearbook table (Excel or CSV) into a long panel.

    Parameters
    ----------
    path : str or Path
        ``.xlsx``/``.xls`` workbook or ``.csv`` (UTF-8, UTF-8 with BOM or GBK).
    layout : {"auto", "table", "sheets", "years_in_columns"}
        See the module docstring. ``"auto"`` reads a workbook with year-named
        sheets as ``"sheets"``, a table whose headers are years as
        ``"years_in_columns"``, anything else as ``"table"``.
    sheet_name : str or int, optional
        Sheet to read for the ``"table"`` / ``"years_in_columns"`` layouts
        (default: the first).
    year : int, optional
        Year of a single table that has no year column.
    indicator : str, optional
        For ``"years_in_columns"``: the indicator, e.g. ``"地区生产总值(亿元)"``
        (a unit in brackets is used if the file states none).
    units : mapping, optional
        Units for columns whose table does not state one, keyed by canonical
        or Chinese name: ``{"gdp": "亿元"}``.
    headers : mapping, optional
        Extra header mappings for this call: ``{"科技支出": "science_expenditure"}``
        or ``{"科技支出": ("science_expenditure", "money")}``.
    money_unit : {"元", "万元", "亿元", ...}, default "元"
        Canonical money unit of the result.
    area_unit : str, default "平方公里"
        Canonical area unit (``"亩"``, ``"公顷"`` also possible).
    population_unit : str, default "人"
    unknown_headers : {"raise", "keep", "ignore"}, default "raise"
        What to do with a header not in the dictionary: raise, keep it under
        its Chinese name (numbers parsed; converted only if its header states a
        unit), or leave the
        column out (listed in ``attrs["ignored_columns"]``).
    region_column : str, optional
        Header of the region column if it is not a usual one (地区, 区域, 县(市、区), ...).
    encoding : str, optional
        CSV encoding; detected when omitted.
    keep_aggregates : bool, default False
        Keep rows that are totals or sub-rows rather than regions: 全市, 合计,
        总计, 市区, 市辖区, 全省 (and ``苏州市区``, ``全省合计``...), rows starting
        with ``其中:``, and a prefecture or province code (320500, 320000)
        listed above its own counties (3205xx). By default they are excluded
        with one counted warning and listed in ``attrs["excluded_aggregates"]``.
        A prefecture listed by name only (苏州市 without a code) cannot be told
        from a prefecture-level table and is kept.
    year_range : (int, int) or None, default (1949, 2100)
        Years outside it (``20010``) are refused; None switches the check off.

    Returns
    -------
    DataFrame
        Columns ``region_code`` (when the table gives codes), ``region``,
        ``year``, then one column per indicator in canonical units, sorted by
        region and year. ``attrs`` hold ``units`` ({column: unit}),
        ``conversions`` (list of {column, from_unit, to_unit, factor, year}),
        ``header_map`` ({header as printed: canonical}), ``footnotes``
        (text of removed note rows and of a 备注 column), ``breaks`` (notes
        announcing a statistical break), ``excluded_aggregates``,
        ``skipped_sheets``, ``layout``,
        ``source`` and ``idname`` (``region_code`` if every row has a code,
        else ``region``).

    Raises
    ------
    UnitParseError
        Unknown unit, a unit of the wrong kind, or no unit where one is needed.
    DataError
        No header row, unknown headers (``unknown_headers="raise"``), no year,
        ambiguous or implausible years (outside 1949..2100), conflicting codes;
        an empty, header-only, corrupt or password-protected file (the message
        names the path).
    AdminCodeError
        A 12-digit statistical code below county level (its last six digits
        not zeros). ``320500000000`` and ``320500.0`` are read as 320500.
    NonNumericValueError, DuplicateObservationError
        From :func:`policyeval.data.validate_panel`.

    Warns
    -----
    DroppedObservationsWarning
        When rows under a footnote, or rows without a region, hold numbers
        (they look like data but cannot be placed), or aggregate rows are
        excluded; count given.
    DataQualityWarning
        A footnote, title or 备注 cell announces a statistical break (口径,
        调整, 不可比, 统计范围), quoted; or text missing markers (—, …, NA)
        were read as NaN, counted per column.
    UnitConversionWarning
        A column written entirely in percent (``12.5%``) read as numbers in %.

    Notes
    -----
    Money becomes ``money_unit`` (1 万元 = 1e4 元, 1 亿元 = 1e8 元), area
    ``area_unit`` (1 km² = 100 公顷 = 1500 亩), population ``population_unit``
    (1 万人 = 1e4 人). Counts and ratios keep their published unit.

    Examples
    --------
    A GBK-encoded export with units in the headers, a missing value and a
    footnote (numbers made up):

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "表2-1.csv"
    >>> _ = path.write_text(
    ...     "地　区,地区生产总值（亿元）,行政区域土地面积(平方公里)\n"
    ...     "320102 玄武区,1050.5,75.46\n320104 秦淮区,—,49.11\n注：测试数据,,\n",
    ...     encoding="gbk")
    >>> df = read_yearbook(path, year=2020)
    >>> df
       region_code region  year           gdp  land_area
    0       320102    玄武区  2020  1.050500e+11      75.46
    1       320104    秦淮区  2020           NaN      49.11
    >>> df.attrs["conversions"]
    [{'column': 'gdp', 'from_unit': '亿元', 'to_unit': '元', 'factor': 100000000.0}]
    >>> df.attrs["footnotes"]
    ['[表2-1.csv] 注:测试数据']
    """
    path = Path(path)
    if layout not in ("auto", "table", "sheets", "years_in_columns"):
        raise DataError(f"layout={layout!r} must be 'auto', 'table', 'sheets' or 'years_in_columns'")
    if unknown_headers not in ("raise", "keep", "ignore"):
        raise DataError(f"unknown_headers={unknown_headers!r} must be 'raise', 'keep' or 'ignore'")
    target = dict(CANONICAL_UNITS)
    for kind, arg, value in (("money", "money_unit", money_unit), ("area", "area_unit", area_unit),
                             ("population", "population_unit", population_unit)):
        if parse_unit(value).kind != kind:
            raise UnitParseError(f"{arg}={value!r} is not a {kind} unit")
        target[kind] = parse_unit(value).symbol
    extra: dict[str, HeaderSpec] = {}
    for chinese, spec in (headers or {}).items():
        canonical, kind = (spec, None) if isinstance(spec, str) else tuple(spec)
        extra[normalize_header(chinese)] = make_spec(canonical, kind, f"headers[{chinese!r}]")
    given_units = {(normalize_header(k) if not SNAKE_CASE.match(k) else k): v for k, v in (units or {}).items()}

    grids, skipped = _grids(path, layout, sheet_name, encoding)
    options = dict(indicator=indicator, extra=extra, given_units=given_units, target=target,
                   unknown_headers=unknown_headers, region_column=region_column)
    tables = []
    for label, sheet_year, grid in grids:
        tab = _read_table(
            grid, where=label, year=sheet_year if sheet_year is not None else year,
            layout="table" if layout == "sheets" else layout, **options,
        )
        for conv in tab.conversions:
            if sheet_year is not None:
                conv["year"] = sheet_year
        tables.append(tab)
    return _assemble(tables, path, skipped, layout, grids, keep_aggregates, year_range)


def _grids(path: Path, layout: str, sheet_name, encoding):
    check_file(path)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        if layout == "sheets":
            raise DataError("layout='sheets' needs an Excel workbook, got a CSV file")
        return [(path.name, None, _csv_grid(path, encoding))], []
    if suffix not in (".xlsx", ".xlsm", ".xls"):
        raise ArgumentTypeError(f"cannot read {str(path)!r}: expected .xlsx, .xls or .csv")
    try:
        book = pd.read_excel(path, sheet_name=None, header=None, dtype=object)
    except ImportError:
        raise
    except Exception as err:  # the Excel reader's own error: a corrupt workbook
        raise DataError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}") from err
    if not book or all(sheet.empty for sheet in book.values()):
        raise DataError(f"{str(path)!r}: the workbook has no cells with data")
    by_year = {name: parse_year(name, calendar=True) for name in book}
    year_sheets = [n for n, y in by_year.items() if y is not None]
    if layout == "sheets" or (layout == "auto" and sheet_name is None and year_sheets):
        if not year_sheets:
            raise DataError(f"layout='sheets' but no sheet of {path.name!r} is named like a year: {list(book)}")
        skipped = [n for n in book if by_year[n] is None]
        for name in skipped:
            numbers = book[name].map(lambda v: isinstance(v, (int, float)) and not _blank(v)).to_numpy().any()
            if numbers:
                warnings.warn(
                    f"sheet {name!r} of {path.name!r} is not named like a year and was skipped "
                    "although it holds numbers; read it with sheet_name=",
                    DroppedObservationsWarning, stacklevel=3,
                )
        return [(f"{path.name}[{n}]", by_year[n], book[n]) for n in year_sheets], skipped
    name = list(book)[0] if sheet_name is None else sheet_name
    if isinstance(name, int):
        name = list(book)[name]
    if name not in book:
        raise DataError(f"sheet_name={name!r} is not a sheet of {path.name!r}; sheets: {list(book)}")
    return [(f"{path.name}[{name}]", None, book[name])], []


def _assemble(tables: list[_Table], path: Path, skipped: list, layout: str, grids,
              keep_aggregates: bool = False, year_range=(1949, 2100)) -> pd.DataFrame:
    frames = [t.frame for t in tables if len(t.frame)]
    if not frames:
        raise DataError(f"{str(path)!r}: no data rows found under the header (an empty or header-only table)")
    df = pd.concat(frames, ignore_index=True, sort=False)
    excluded: list[str] = []
    if not keep_aggregates:
        mask, reasons = _aggregate_mask(
            df["region_code"].to_numpy(dtype=object), [df["region"].to_numpy(dtype=object)]
        )
        if mask.any():
            _warn_aggregates(mask, reasons, f"{path.name!r}: ", stacklevel=4)
            excluded = [r for r, m in zip(reasons, mask) if m]
            df = df.loc[~mask].reset_index(drop=True)
            if not len(df):
                raise DataError(f"{str(path)!r}: every data row is a total or sub-row; pass keep_aggregates=True")
    marker_cols = [c for c in df.columns if isinstance(c, str) and c.startswith(_MARKER)]
    parts, n_markers = [], 0
    for c in marker_cols:
        raw = df[c].astype(object)
        mask = raw.notna().to_numpy()
        if mask.any():
            n_markers += int(mask.sum())
            parts.append(_marker_summary(c[len(_MARKER):], raw, mask, _where(df, mask, "region", "year")))
    df = df.drop(columns=marker_cols)
    _warn_markers(parts, n_markers, f"{path.name!r}: ", stacklevel=4)
    missing_year = df["year"].isna().to_numpy()
    if missing_year.any():
        raise DataError(
            f"{path.name!r}: {int(missing_year.sum())} row(s) have no year (e.g. region "
            f"{df.loc[missing_year, 'region'].iloc[0]!r}); pass year=, add a 年份 column, "
            "or name sheets by year"
        )
    measure_cols = [c for c in df.columns if c not in ("region_code", "region", "year")]
    df = df[["region_code", "region", "year", *measure_cols]]
    for col in measure_cols:
        df[col] = to_numeric(df[col].astype(object), col, context=df, idname="region", tname="year")
    has_code = df["region_code"].notna()
    if has_code.all():
        df["region_code"] = df["region_code"].astype("int64")
        idname = "region_code"
    else:
        df = df.drop(columns="region_code") if not has_code.any() else df
        if "region_code" in df:
            df["region_code"] = df["region_code"].astype("Int64")
        idname = "region"
    df["region"] = df["region"].astype(object)
    try:
        out = validate_panel(df, idname, "year", numeric=measure_cols, nonnegative=None,
                             keep_aggregates=True, year_range=year_range)
    except DuplicateObservationError as err:
        hint = "" if idname == "region_code" else (
            " (regions are identified by name because the table has no codes; names such as "
            "鼓楼区 repeat across cities -- add a 代码 column)"
        )
        raise DuplicateObservationError(f"{path.name!r}: {err}{hint}") from None
    except DataError as err:
        raise type(err)(f"{path.name!r}: {err}") from None
    units, conversions, header_map, notes, dropped = {}, [], {}, [], 0
    for t in tables:
        units.update(t.units)
        conversions.extend(t.conversions)
        header_map.update(t.header_map)
        notes.extend(t.footnotes)
        dropped += t.dropped
    if dropped:
        warnings.warn(
            f"{path.name!r}: dropped {dropped} row(s) that hold numbers but sit under a footnote "
            "or have no region name; see attrs['footnotes']",
            DroppedObservationsWarning, stacklevel=3,
        )
    breaks = [b for t in tables for b in t.breaks]
    if breaks:
        words = sorted({w for b in breaks for w in _BREAK.findall(b)})
        warnings.warn(
            f"{path.name!r}: {len(breaks)} note(s) announce a statistical break "
            f"({', '.join(words)}): {'; '.join(repr(b) for b in breaks[:3])}"
            f"{'; ...' if len(breaks) > 3 else ''}. Values on either side of the change may not be "
            "comparable; check the definition before using those years together",
            DataQualityWarning, stacklevel=3,
        )
    percent = [p for t in tables for p in t.percent]
    if percent:
        warnings.warn(
            f"{path.name!r}: column(s) {', '.join(dict.fromkeys(percent))} are written in percent in "
            "every row; read as numbers in percent (12.5% -> 12.5), unit '%' in attrs['units']",
            UnitConversionWarning, stacklevel=3,
        )
    layouts = "sheets" if any(g[1] is not None for g in grids) else tables[0].layout
    out.attrs = {
        "source": str(path),
        "layout": layouts,
        "idname": idname,
        "units": units,
        "conversions": conversions,
        "header_map": header_map,
        "footnotes": notes,
        "skipped_sheets": skipped,
        "ignored_columns": sorted({c for t in tables for c in t.ignored}),
        "excluded_aggregates": excluded,
        "breaks": breaks,
    }
    return out
