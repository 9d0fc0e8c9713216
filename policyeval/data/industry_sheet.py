"""Reading census / yearbook county × industry sheets into the long table of :mod:`policyeval.assess`.

Economic-census and yearbook tables of employment (从业人员) or output by
industry are wide: one row per county, one column per industry, headed by a
GB/T 4754-2017 section letter (``"C"``), a letter and its name
(``"C 制造业"``), the Chinese section name alone (``"制造业"``), or a
two-digit division (``"13 农副食品加工业"``), with the unit in the header
(``"制造业(万人)"``), on a ``单位：人`` line above the table, or given by the
caller. One sheet per year (sheets named ``2018`` / ``2018年``), a 年份
column, or ``year=`` for a single table.

:func:`read_industry_sheet` reuses the yearbook machinery of
:mod:`policyeval.data.yearbook` (header row search, region cells such as
``"331126 庆元县"``, thousands separators ``"12,345"``, missing markers
``—``/``…``, footnotes) and of :mod:`policyeval.data._checks` (totals rows
合计, 总计, 全市, 市辖区 and prefecture codes listed above their counties are
excluded with one counted warning), and returns one row per county ×
industry × year, the input of :func:`policyeval.assess.industry_fit` and
:func:`policyeval.assess.partner_scores`.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.data._checks import _aggregate_mask, _warn_aggregates
from policyeval.data.panel import _markers, _marker_summary, _parse_values, _warn_markers, parse_year
from policyeval.data.units import conversion_factor, parse_unit, split_header
from policyeval.data.yearbook import (
    _FOOTNOTE,
    _blank,
    _find_header,
    _grids,
    _parse_code,
    _parse_region,
    _six_digit,
    _table_unit,
    _text,
)
from policyeval.data.yearbook_headers import CODE_HEADERS, REGION_HEADERS, YEAR_HEADERS, normalize_header
from policyeval.exceptions import (
    DataError,
    DataQualityWarning,
    DuplicateObservationError,
    NonNumericValueError,
    UnitParseError,
)

__all__ = ["read_industry_sheet", "industry_code", "gbt4754_sections"]

#: Headers of a column that totals the industries of its row (checked, then left out).
TOTAL_HEADERS = frozenset(normalize_header(h) for h in (
    "合计", "总计", "全部", "总数", "小计", "全部行业", "行业合计", "从业人员合计", "从业人员总数",
    "从业人员", "年末从业人员", "total", "all"))
_PUNCT = re.compile(r"[、,，.．·\-—_/()（）\s]")
_SECTION = re.compile(r"^([A-T])(?![A-Za-z])[.．:：、\s]*(.*)$")
_DIVISION = re.compile(r"^(\d{2})(?!\d)[.．:：、\s]*(.*)$")


def gbt4754_sections() -> pd.DataFrame:
    """The 20 sections (门类 A--T) of GB/T 4754-2017 with Chinese and English names.

    Returns
    -------
    pandas.DataFrame
        Columns ``code``, ``name_zh``, ``name_en``, ``source_url`` (where the
        Chinese name was read; the English names are descriptive translations).

    Examples
    --------
    >>> from policyeval.assess import gbt4754_sections
    >>> s = gbt4754_sections().set_index("code")
    >>> len(s), s.loc["C", "name_zh"], s.loc["I", "name_zh"]
    (20, '制造业', '信息传输、软件和信息技术服务业')
    """
    path = resources.files("policyeval.data").joinpath("gbt4754_sections.csv")
    with resources.as_file(path) as p:
        return pd.read_csv(p, dtype=str)


def _key(name: str) -> str:
    return _PUNCT.sub("", unicodedata.normalize("NFKC", str(name)))


def _section_names() -> dict[str, str]:
    table = gbt4754_sections()
    return {_key(n): c for c, n in zip(table["code"], table["name_zh"])}


def industry_code(header, *, codes="gbt4754") -> str | None:
    """The GB/T 4754-2017 code a sheet header names, or None if it names none.

    Parameters
    ----------
    header : str
        A column header without or with its unit: ``"C"``, ``"C 制造业"``,
        ``"制造业"``, ``"农林牧渔业"`` (punctuation is ignored),
        ``"13 农副食品加工业"``, ``"制造业(人)"``.
    codes : "gbt4754" or None
        ``None`` returns the header itself (without its unit), any label.

    Returns
    -------
    str or None
        A section letter ``"A"``--``"T"`` or a two-digit division ``"01"``--``"97"``.

    Raises
    ------
    DataError
        If the header's letter and name name two different sections
        (``"C 金融业"``).

    Examples
    --------
    >>> from policyeval.data.industry_sheet import industry_code
    >>> [industry_code(h) for h in ("C", "C 制造业", "农、林、牧、渔业", "13 农副食品加工业(人)", "合计")]
    ['C', 'C', 'A', '13', None]
    """
    name, _ = split_header(header)
    name = unicodedata.normalize("NFKC", name).strip()
    if codes is None:
        return name or None
    names = _section_names()
    match = _SECTION.match(name)
    if match:
        letter, rest = match.groups()
        if not _key(rest):
            return letter
        named = names.get(_key(rest))
        if named is not None and named != letter:
            raise DataError(f"industry header {str(header)!r}: letter {letter} and name {rest!r} "
                            f"(section {named}) name different GB/T 4754 sections")
        return named
    match = _DIVISION.match(name)
    if match and 1 <= int(match.group(1)) <= 97:
        return match.group(1)
    return names.get(_key(name))


def _column_roles(header: list[str], region_column, codes, where):
    region_keys = {normalize_header(region_column)} if region_column else REGION_HEADERS
    roles: dict[int, tuple] = {}
    unknown: list[str] = []
    for j, h in enumerate(header):
        if not h:
            continue
        k = normalize_header(h)
        if k in region_keys and not any(r[0] == "region" for r in roles.values()):
            roles[j] = ("region",)
        elif k in CODE_HEADERS:
            roles[j] = ("code",)
        elif k in YEAR_HEADERS:
            roles[j] = ("year",)
        elif normalize_header(split_header(h)[0]) in TOTAL_HEADERS:
            roles[j] = ("total", split_header(h)[1], h)
        else:
            code = industry_code(h, codes=codes)
            if code is None:
                unknown.append(h)
            else:
                roles[j] = ("ind", code, split_header(h)[1], h)
    if not any(r[0] in ("region", "code") for r in roles.values()):
        raise DataError(f"{where}: no region or code column in header {header}")
    if unknown:
        raise DataError(
            f"{where}: {len(unknown)} column header(s) name no GB/T 4754-2017 section or division "
            f"(e.g. {examples(repr(u) for u in unknown)}); expected a letter A-T, a section name "
            "such as 制造业, or a two-digit division such as 13; pass codes=None to keep any "
            "header as an industry label")
    inds = [r for r in roles.values() if r[0] == "ind"]
    if not inds:
        raise DataError(f"{where}: no industry column in header {header}")
    seen: dict[str, str] = {}
    for r in inds:
        if r[1] in seen:
            raise DuplicateObservationError(f"{where}: headers {seen[r[1]]!r} and {r[3]!r} both "
                                            f"name industry {r[1]}; keep one column")
        seen[r[1]] = r[3]
    return roles


def _one_grid(grid, where, sheet_year, year, region_column, codes, unit, target):
    hrow = _find_header(grid, region_column, where)
    header = [_text(v) for v in grid.iloc[hrow]]
    roles = _column_roles(header, region_column, codes, where)
    table_unit = _table_unit(grid, hrow)
    measured = {j: r for j, r in roles.items() if r[0] in ("ind", "total")}
    conversions = {}
    factors = {}
    for j, r in measured.items():
        stated = r[1] if r[0] == "total" else r[2]
        src = stated or table_unit or (parse_unit(unit) if unit is not None else None)
        if src is None:
            raise UnitParseError(
                f"{where}: no unit for column {r[-1]!r}; census sheets mix 人 and 万人 (and output "
                "in 万元 or 亿元), so state it in the header, on a '单位：' line, or pass unit='人'")
        if src.kind != target.kind:
            raise UnitParseError(f"{where}: column {r[-1]!r} is in {src.symbol} ({src.kind}), "
                                 f"which cannot be converted to target_unit={target.symbol!r}")
        factors[j] = conversion_factor(src, target)
        if factors[j] != 1.0:
            conversions[src.symbol] = factors[j]

    id_cols = [j for j, r in roles.items() if r[0] in ("region", "code")]
    rows, footnotes = [], []
    in_notes = False
    for i in range(hrow + 1, len(grid)):
        row = grid.iloc[i]
        if all(_blank(v) for v in row):
            continue
        first = next(_text(v) for v in row if not _blank(v))
        in_notes = in_notes or bool(_FOOTNOTE.match(first))
        if in_notes or all(_blank(row.iat[j]) for j in id_cols):
            footnotes.append(f"[{where}] " + " ".join(_text(v) for v in row if not _blank(v)))
            continue
        rec = {"region_code": None, "region": None, "year": sheet_year if sheet_year is not None else year}
        for j, r in roles.items():
            cell = row.iat[j]
            if r[0] == "region":
                code, name = _parse_region(cell)
                rec["region"] = name
                if code is not None:
                    rec["region_code"] = _six_digit(code, name, where)
            elif r[0] == "code":
                rec["region_code"] = _six_digit(_parse_code(cell, where), rec["region"], where)
            elif r[0] == "year":
                y = parse_year(_text(cell), calendar=True)
                if y is None:
                    raise DataError(f"{where}: year cell {str(cell)!r} is not a year")
                rec["year"] = y
            else:
                rec[j] = cell
        rows.append(rec)
    if not rows:
        raise DataError(f"{where}: no data rows under the header")
    frame = pd.DataFrame.from_records(rows)
    markers, n_markers = [], 0
    values = {}
    for j, r in measured.items():
        raw = frame[j].astype(object)
        parsed, bad = _parse_values(raw)
        if bad.any():
            label = frame["region"].fillna(frame["region_code"].astype(str))
            raise NonNumericValueError(
                f"{where}: column {r[-1]!r} has {int(bad.sum())} cell(s) that are not numbers "
                f"(e.g. {examples(f'{v!r} at {c}' for v, c in zip(raw[bad], label[bad]))}); "
                "missing values may be written —, …, NA or left blank")
        mark = _markers(raw, parsed, bad)
        if mark.any():
            n_markers += int(mark.sum())
            markers.append(_marker_summary(r[-1], raw, mark, examples(frame.loc[mark, "region"])))
        values[j] = parsed * factors[j]
    return frame, roles, values, footnotes, conversions, (markers, n_markers)


def read_industry_sheet(path, *, year: int | None = None, sheet_name=None, unit: str | None = None,
                        target_unit: str = "人", yname: str = "employment", codes="gbt4754",
                        fill_missing: float | None = None, keep_aggregates: bool = False,
                        region_column: str | None = None, encoding: str | None = None,
                        total_tolerance: float = 0.01) -> pd.DataFrame:
    """Read a county × industry sheet (Excel or CSV) into a long county × industry × year table.

    Parameters
    ----------
    path : str or Path
        ``.xlsx``/``.xls`` workbook (one sheet per year named ``2018`` /
        ``2018年``, or one table) or ``.csv`` (UTF-8, BOM or GBK).
    year : int, optional
        Year of a single table without a 年份 column or year-named sheets.
    sheet_name : str or int, optional
        Read this sheet only (default: every year-named sheet, else the first).
    unit : str, optional
        Unit of the values when the sheet states none (``"人"``, ``"万人"``, ``"万元"``).
    target_unit : str, default "人"
        Unit of the result (same kind as the sheet's: persons for employment,
        e.g. ``"万元"`` for output).
    yname : str, default "employment"
        Name of the value column.
    codes : "gbt4754" or None
        ``"gbt4754"``: every industry header must name a GB/T 4754-2017
        section (letter, letter + name, or the Chinese name) or a two-digit
        division; ``None`` keeps any header as the industry label.
    fill_missing : float, optional
        Value for empty and marker cells (—, …); default None keeps them as
        NaN, which :func:`~policyeval.assess.industry_fit` refuses. Pass 0
        where the sheet leaves an industry blank because the county has none.
    keep_aggregates : bool, default False
        Keep totals rows (合计, 总计, 全市, 市辖区, ``苏州市区``, a prefecture
        code above its counties); by default they are excluded with one
        counted warning.
    region_column : str, optional
        Header of the region column if it is not a usual one.
    encoding : str, optional
        CSV encoding; detected when omitted.
    total_tolerance : float, default 0.01
        Relative gap allowed between a 合计 column and the sum of the
        industries of its row before a warning.

    Returns
    -------
    pandas.DataFrame
        Columns ``county_code`` (6-digit GB/T 2260 code as text, or the
        region name when the sheet gives no codes), ``county_name``,
        ``industry``, ``year``, ``yname`` in ``target_unit``; one row per
        county, industry and year, sorted. ``attrs``: ``source``, ``unit``,
        ``conversions`` ({from unit: factor}), ``header_map`` ({header:
        code}), ``excluded_aggregates``, ``footnotes``, ``skipped_sheets``,
        ``total_mismatches``, ``missing_cells``.

    Raises
    ------
    DataError
        A header naming no GB/T 4754 industry (with ``codes="gbt4754"``),
        negative values, no year, no region column, an unreadable file.
    DuplicateObservationError
        Two columns for one industry, or a county twice in one year.
    UnitParseError
        No unit stated or given, or a unit that cannot be converted to ``target_unit``.
    NonNumericValueError
        A cell that is neither a number nor a missing marker.

    Warns
    -----
    DroppedObservationsWarning
        Totals rows excluded (count and examples).
    DataQualityWarning
        Empty or marker cells (counted; filled with ``fill_missing`` if
        given); an industry absent from some years' sheets (counted); a
        合计 column that differs from the sum of its row's industries.

    Examples
    --------
    A made-up CSV with section names, a thousands separator, a blank cell
    and a totals row:

    >>> import pathlib, tempfile
    >>> from policyeval.data.industry_sheet import read_industry_sheet
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "从业人员.csv"
    >>> _ = path.write_text(
    ...     "单位：人,,,\\n地区,农、林、牧、渔业,C 制造业,合计\\n"
    ...     "331126 庆元县,\\"5,200\\",8100,13300\\n331127 景宁畲族自治县,3000,,3000\\n"
    ...     "合计,8200,8100,16300\\n", encoding="utf-8")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     df = read_industry_sheet(path, year=2018, fill_missing=0)
    >>> [type(w.message).__name__ for w in caught]      # the 合计 row; the blank cell
    ['DroppedObservationsWarning', 'DataQualityWarning']
    >>> df
      county_code county_name industry  year  employment
    0      331126         庆元县        A  2018      5200.0
    1      331126         庆元县        C  2018      8100.0
    2      331127     景宁畲族自治县        A  2018      3000.0
    3      331127     景宁畲族自治县        C  2018         0.0
    """
    path = Path(path)
    target = parse_unit(target_unit)
    grids, skipped = _grids(path, "auto", sheet_name, encoding)
    wides, frames, footnotes, conversions, header_map = [], [], [], {}, {}
    marker_parts, n_markers = [], 0
    mismatches: dict[int, str] = {}
    offset = 0
    for label, sheet_year, grid in grids:
        frame, roles, values, notes, conv, (parts, nm) = _one_grid(
            grid, label, sheet_year, year, region_column, codes, unit, target)
        frame["rid"] = np.arange(offset, offset + len(frame))
        offset += len(frame)
        footnotes += notes
        conversions.update(conv)
        marker_parts += parts
        n_markers += nm
        inds = {j: r for j, r in roles.items() if r[0] == "ind"}
        header_map.update({r[3]: r[1] for r in inds.values()})
        total = next((j for j, r in roles.items() if r[0] == "total"), None)
        if total is not None:
            summed = np.nansum(np.column_stack([values[j] for j in inds]), axis=1)
            t = values[total]
            gap = np.isfinite(t) & (np.abs(summed - t) > total_tolerance * np.maximum(np.abs(t), 1.0))
            names = frame["region"].fillna(frame["region_code"].astype(str))
            mismatches.update({rid: f"{r} ({label}: industries {s:g}, 合计 {v:g})"
                               for rid, r, s, v in zip(frame["rid"][gap], names[gap], summed[gap], t[gap])})
        wides.append(frame[["rid", "region_code", "region", "year"]])
        frames += [pd.DataFrame({"rid": frame["rid"], "region_code": frame["region_code"],
                                 "region": frame["region"], "year": frame["year"], "industry": r[1],
                                 "value": values[j]}) for j, r in inds.items()]
    wide = pd.concat(wides, ignore_index=True)
    df = pd.concat(frames, ignore_index=True)
    if wide["year"].isna().any():
        raise DataError(f"{path.name!r}: {int(wide['year'].isna().sum())} row(s) have no year "
                        f"(e.g. region {wide.loc[wide['year'].isna(), 'region'].iloc[0]!r}); pass "
                        "year=, add a 年份 column, or name the sheets by year")
    df["year"] = df["year"].astype(int)

    excluded: list[str] = []
    if not keep_aggregates:
        mask, reasons = _aggregate_mask(wide["region_code"].to_numpy(dtype=object),
                                        [wide["region"].to_numpy(dtype=object)])
        if mask.any():
            _warn_aggregates(mask, reasons, f"{path.name!r}: ", stacklevel=3)
            excluded = [r for r, m in zip(reasons, mask) if m]
            gone = set(wide.loc[mask, "rid"])
            mismatches = {k: v for k, v in mismatches.items() if k not in gone}
            df = df.loc[~df["rid"].isin(gone)].reset_index(drop=True)
            if df.empty:
                raise DataError(f"{path.name!r}: every row is a total; pass keep_aggregates=True")
    mismatches = list(mismatches.values())
    if mismatches:
        warnings.warn(
            f"{path.name!r}: the 合计 column differs from the sum of the industries by more than "
            f"{total_tolerance:.0%} in {len(mismatches)} row(s) (e.g. {examples(mismatches)}); "
            "an industry column may be missing or a sub-row (其中) counted twice; the 合计 column "
            "is not used", DataQualityWarning, stacklevel=2)

    has_code = df["region_code"].notna()
    if has_code.all():
        df["county_code"] = df["region_code"].astype("int64").astype(str)
    elif not has_code.any():
        df["county_code"] = df["region"].astype(str)
    else:
        raise DataError(f"{path.name!r}: {int((~has_code).sum())} value(s) have no region code "
                        f"while others have one (e.g. {examples(df.loc[~has_code, 'region'])}); "
                        "give every county its 6-digit code or none")
    df["county_name"] = df["region"]

    missing = df["value"].isna().to_numpy()
    if missing.any():
        blanks = int(missing.sum()) - n_markers
        what = "filled with " + repr(fill_missing) if fill_missing is not None else \
            "kept as NaN (industry_fit refuses them: fill with fill_missing=0 where blank means none)"
        warnings.warn(
            f"{path.name!r}: {int(missing.sum())} industry cell(s) are empty or missing-value "
            f"markers ({blanks} blank, {n_markers} marked{': ' + '; '.join(marker_parts) if marker_parts else ''}; "
            f"e.g. {examples(f'{c}/{i}/{y}' for c, i, y in df.loc[missing, ['county_code', 'industry', 'year']].itertuples(index=False))}); "
            f"{what}", DataQualityWarning, stacklevel=2)
        if fill_missing is not None:
            df.loc[missing, "value"] = float(fill_missing)
    negative = df["value"] < 0
    if negative.any():
        raise DataError(
            f"{path.name!r}: {int(negative.sum())} negative {yname} value(s) (e.g. "
            f"{examples(f'{c}/{i}/{y} = {v:g}' for c, i, y, v in df.loc[negative, ['county_code', 'industry', 'year', 'value']].itertuples(index=False))}); "
            "employment and output cannot be negative")
    dup = df.duplicated(["county_code", "industry", "year"], keep=False)
    if dup.any():
        raise DuplicateObservationError(
            f"{path.name!r}: {int(df[dup].duplicated(['county_code', 'industry', 'year']).sum())} "
            f"duplicate county × industry × year cells (e.g. "
            f"{examples(f'{c}/{i}/{y}' for c, i, y in df.loc[dup, ['county_code', 'industry', 'year']].itertuples(index=False))}); "
            "a county listed twice in one year's sheet")
    present = df.groupby("year")["industry"].agg(set)
    every = set(df["industry"])
    gaps = {int(t): sorted(every - s) for t, s in present.items() if every - s}
    if gaps:
        inds = sorted(set().union(*gaps.values()))
        warnings.warn(
            f"{path.name!r}: {len(inds)} industries (e.g. {examples(inds)}) are absent from "
            f"{len(gaps)} of {len(present)} years (e.g. {examples(f'{t}: {v}' for t, v in gaps.items())}); "
            "industry_fit counts them as 0 there, which changes shares and growth rates; check "
            "whether the sheet of that year merged or renamed them", DataQualityWarning, stacklevel=2)
    out = (df.rename(columns={"value": yname})[["county_code", "county_name", "industry", "year", yname]]
           .sort_values(["county_code", "year", "industry"], kind="stable").reset_index(drop=True))
    out.attrs = {"source": str(path), "unit": target.symbol, "conversions": conversions,
                 "header_map": header_map, "excluded_aggregates": excluded, "footnotes": footnotes,
                 "skipped_sheets": skipped, "total_mismatches": mismatches,
                 "missing_cells": int(missing.sum())}
    return out
