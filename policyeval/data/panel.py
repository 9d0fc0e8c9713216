"""Reading and validating long (unit × year) panels.

:func:`read_panel` loads a long panel from CSV, Parquet, Excel or a
DataFrame; :func:`validate_panel` is the validator behind it, reusable on any
frame. Both return a new frame sorted by ``(idname, tname)`` and never drop a
row silently: bad input raises an error that names the argument, the column
and example offending ids, and the only rows ever dropped (completely empty
rows of a file) are announced with a :class:`DroppedObservationsWarning`.

Missing-value markers
---------------------
Chinese yearbooks and database exports write a missing number as ``—``,
``——``, ``…``, ``...``, ``－``, ``-``, ``／``, ``NA`` or leave the cell blank.
These become NaN -- never zero -- and the count of such text markers is
announced once with a :class:`DataQualityWarning` (a blank cell is not counted).
Any other text in a numeric column (``12a``, ``x``) raises
:class:`NonNumericValueError`. Thousands separators are accepted only in groups
of three digits (``1,234,567.5``; also with the Chinese comma ``，``): ``1,5``
or ``12,34`` is refused, never read as 15 or 1234. Full-width digits are
accepted. A column whose every value is written as a percentage (``12.5%``) is
read in percent (12.5) with a :class:`UnitConversionWarning` and
``attrs["units"][column] = "%"``; a stray ``12%`` among plain numbers raises.

Years, codes and totals
-----------------------
Calendar years must lie in ``year_range`` (1949..2100 by default): ``20010``
or ``199`` among 2010s years are typing errors, refused. Small integer periods
(1..T, all below 1000) are accepted as they are. Unit ids written ``320500``
and ``320500.0`` (codes read as floats) are one unit; 12-digit statistical
codes (统计用区划代码) ``320500000000`` become ``320500``. Rows that are totals
or sub-totals rather than units (全市, 合计, 总计, 市区, 市辖区, 全省,
``其中:`` sub-rows, or a prefecture/province code such as 320500 listed
with its own counties 3205xx) are excluded with one counted
:class:`DroppedObservationsWarning` unless ``keep_aggregates=True``.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from policyeval._validation import examples, require_columns, require_finite, require_frame
from policyeval.data._checks import (
    AGGREGATE_NAMES,
    _aggregate_mask,
    _normalize_admin_codes,
    _warn_aggregates,
    check_file,
)
from policyeval.data.yearbook_headers import REGION_HEADERS, normalize_header
from policyeval.exceptions import (
    PolicyevalError,
    ArgumentTypeError,
    DataError,
    DataFileNotFoundError,
    DataQualityWarning,
    DroppedObservationsWarning,
    DuplicateObservationError,
    NonNumericValueError,
    UnitConversionWarning,
)

__all__ = [
    "read_panel",
    "validate_panel",
    "to_numeric",
    "parse_year",
    "MISSING_TOKENS",
    "AGGREGATE_NAMES",
    "YEAR_RANGE",
    "check_file",
]

#: Text tokens (compared upper-case, after NFKC) read as a missing value.
MISSING_TOKENS = frozenset(
    {"", "NA", "N/A", "N.A.", "N.A", "#N/A", "NAN", "NULL", "NONE", "<NA>", "NAT"}
)
# A cell made only of dashes, dots, ellipses or slashes is the yearbook way of
# writing "no data" (—, ——, …, ..., －, -, ／); after NFKC "…" is "..." and
# "－"/"／" are "-"/"/".
_MISSING_GLYPHS = re.compile(r"^[\-\u2010-\u2015\u2212\u2E3A\u2E3B\.\u00B7\u30FB/~]+$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# Thousands separators group exactly three digits: "1,234,567.5". "1,5" (a
# decimal comma?) or "12,34" is not a number in this form and is refused.
_GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")
_PERCENT = re.compile(r"^([+-]?(\d+(\.\d*)?|\.\d+)|[+-]?\d{1,3}(,\d{3})+(\.\d*)?)(%|‰)$")
_YEAR = re.compile(r"^(-?\d+)(\.0+)?(年度?)?$")
# R and numpy write infinities as Inf / inf (e.g. did2s codes never-treated rel_year = Inf).
_INF = {"INF": np.inf, "+INF": np.inf, "INFINITY": np.inf, "-INF": -np.inf, "-INFINITY": -np.inf}
_INT_ID = re.compile(r"^[1-9]\d*$")
_N_EXAMPLES = 3

_BAD = object()  # sentinel: a value that is neither a number nor a missing marker

#: Calendar years accepted by default (the PRC's statistics start in 1949).
YEAR_RANGE = (1949, 2100)
_FLOAT_ID = re.compile(r"^([1-9]\d*)\.0+$")


def _parse_scalar(value: object) -> float | object:
    if value is None or value is pd.NA or value is pd.NaT:
        return np.nan
    if isinstance(value, (bool, np.bool_)):
        return _BAD
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = unicodedata.normalize("NFKC", str(value))
    text = re.sub(r"\s+", "", text).replace("\u2212", "-")
    if text.upper() in MISSING_TOKENS or _MISSING_GLYPHS.match(text):
        return np.nan
    if "," in text:
        if not _GROUPED.match(text):
            return _BAD
        text = text.replace(",", "")
    if _NUMBER.match(text):
        return float(text)
    if text.upper() in _INF:
        return _INF[text.upper()]
    return _BAD


def _where(df: pd.DataFrame, mask: np.ndarray, idname: str | None, tname: str | None) -> str:
    """Describe the rows under ``mask`` by their ids and years, e.g. '320101 (2010)'."""
    rows = df.loc[mask]
    parts = []
    for i in range(min(len(rows), _N_EXAMPLES)):
        bits = []
        if idname is not None and idname in rows:
            bits.append(f"{idname}={rows[idname].iloc[i]}")
        if tname is not None and tname in rows:
            bits.append(f"{tname}={rows[tname].iloc[i]}")
        parts.append(", ".join(bits) if bits else f"row {rows.index[i]}")
    return "; ".join(parts)


def to_numeric(
    series: pd.Series,
    column: str | None = None,
    *,
    context: pd.DataFrame | None = None,
    idname: str | None = None,
    tname: str | None = None,
) -> pd.Series:
    """Read a column of yearbook numbers as floats.

    Parameters
    ----------
    series : Series
        Numbers, numeric text (``"1,234.5"``, full-width digits) or missing
        markers (see :data:`MISSING_TOKENS`; ``—``, ``…``, ``－``, ``-``,
        ``／`` and blank are missing).
    column : str, optional
        Name used in the error message (defaults to ``series.name``).
    context, idname, tname : optional
        Frame and id/time column names used to show which rows are bad.

    Returns
    -------
    Series of float64, same index.

    Raises
    ------
    NonNumericValueError
        If a value is neither a number nor a missing marker; the message
        names the column, how many values are bad and examples with their ids.

    Examples
    --------
    >>> to_numeric(pd.Series(["1,200", "—", "3.5", "…"])).tolist()
    [1200.0, nan, 3.5, nan]
    """
    column = series.name if column is None else column
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.astype("float64")
    values = series.astype(object)
    parsed, bad = _parse_values(values)
    if bad.any():
        raise _non_numeric(column, values, bad, context, idname, tname)
    return pd.Series(parsed, index=series.index, name=series.name, dtype="float64")


def _non_numeric(column, values, bad, context, idname, tname) -> NonNumericValueError:
    where = ""
    if context is not None:
        where = f" at {_where(context, bad, idname, tname)}"
    shown = values[bad]
    texts = [unicodedata.normalize("NFKC", str(v)) for v in shown]
    hint = ""
    if any("," in t for t in texts):
        grouped = [repr(v) for v, t in zip(shown, texts) if "," in t]
        hint = (f"; {examples(grouped)} use a comma that is not a thousands separator "
                "(groups of 3 digits, as in 1,234,567) -- a decimal comma ('1,5') must be "
                "written 1.5")
    elif any(_PERCENT.match(re.sub(r"\s+", "", t)) for t in texts):
        hint = ("; some values are percentages among plain numbers -- a column is read "
                "as percent only when every value is written with %")
    return NonNumericValueError(
        f"column {column!r} has {int(bad.sum())} non-numeric value(s) "
        f"(e.g. {examples(repr(v) for v in shown)}){where}{hint}; "
        "missing values may be written as —, …, ..., －, -, ／, NA or left blank, "
        "anything else must be a number"
    )


def _markers(values: pd.Series, parsed: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Cells written as a text missing marker (—, …, NA, n.a.) that became NaN; blanks excluded."""
    arr = values.to_numpy(dtype=object)
    out = np.zeros(len(arr), dtype=bool)
    for k in np.flatnonzero(np.isnan(parsed) & ~bad):
        v = arr[k]
        out[k] = isinstance(v, str) and v.strip() != ""
    return out


def _marker_summary(column: str, values: pd.Series, mask: np.ndarray, where: str) -> str:
    counts = pd.Series(values.to_numpy(dtype=object)[mask]).map(lambda v: str(v).strip()).value_counts()
    forms = ", ".join(f"{v!r} x{n}" for v, n in counts.head(4).items())
    return f"column {column!r}: {int(mask.sum())} ({forms}{', ...' if len(counts) > 4 else ''}; e.g. at {where})"


def _warn_markers(parts: list[str], total: int, source: str, stacklevel: int) -> None:
    if total:
        warnings.warn(
            f"{source}read {total} cell(s) written as a missing-value marker (—, …, --, NA, "
            f"n.a.) as NaN: {'; '.join(parts)}. In some yearbooks '…' means 'less than the "
            "smallest unit shown', not 'unknown' -- check the table's 符号说明",
            DataQualityWarning, stacklevel=stacklevel,
        )


def _percent_values(values: pd.Series) -> tuple[np.ndarray, str] | None:
    """If every non-missing value is written 'x%' (or every one 'x‰'), the numbers and the sign."""
    arr = values.to_numpy(dtype=object)
    out = np.full(len(arr), np.nan)
    sign = None
    for k, v in enumerate(arr):
        if not isinstance(v, str):
            if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                continue
            return None
        text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", v))
        match = _PERCENT.match(text)
        if match is None:
            if np.isnan(_as_float(_parse_scalar(text))) and _parse_scalar(text) is not _BAD:
                continue  # a missing marker
            return None
        if sign is not None and match.group(6) != sign:
            return None
        sign = match.group(6)
        out[k] = float(match.group(1).replace(",", ""))
    return (out, sign) if sign is not None else None


def _as_float(value) -> float:
    return np.nan if value is _BAD else float(value)


def _parse_values(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    arr = values.to_numpy(dtype=object)
    out = np.full(len(arr), np.nan)
    bad = np.zeros(len(arr), dtype=bool)
    if not len(arr):
        return out, bad
    # Fast path: plain numbers and numeric text; only what pandas cannot read
    # (markers, "1,234", full-width digits, junk) goes through _parse_scalar.
    # Booleans would become 1/0 there, so a column holding any takes the slow path.
    if not any(isinstance(v, (bool, np.bool_)) for v in arr):
        fast = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce")
        out = np.array(fast.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")
    todo = np.flatnonzero(np.isnan(out))
    lookup: dict = {}
    for k in todo:
        v = arr[k]
        try:
            r = lookup[v]
        except (KeyError, TypeError):
            r = _parse_scalar(v)
            try:
                lookup[v] = r
            except TypeError:
                pass
        if r is _BAD:
            bad[k] = True
        else:
            out[k] = r
    return out, bad


def parse_year(value: object, *, calendar: bool = False) -> int | None:
    """Read one year (or integer period) label; None when it is not unambiguous.

    Accepts ``2010``, ``2010.0``, ``"2010"``, ``"2010年"``, ``"2010年度"``,
    full-width ``"２０１０"``, and integer periods such as ``3``. Rejects
    ``2010.5``, ``"2010/11"``, ``"2010-2011"``, ``"FY2010"``.

    Parameters
    ----------
    value : object
    calendar : bool, default False
        Accept only calendar years 1900-2100 (used for sheet names and
        column headers, where ``"1"`` is not a year).

    Examples
    --------
    >>> parse_year("2015年"), parse_year(2010.0), parse_year("2010/11")
    (2015, 2010, None)
    >>> parse_year("3"), parse_year("3", calendar=True)
    (3, None)
    """
    year = _parse_year(value)
    if calendar and year is not None and not 1900 <= year <= 2100:
        return None
    return year


def _parse_year(value: object) -> int | None:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return int(value) if np.isfinite(value) and float(value).is_integer() else None
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(value)))
    match = _YEAR.match(text)
    return int(match.group(1)) if match else None


def _years(df: pd.DataFrame, idname: str, tname: str, year_range=YEAR_RANGE) -> pd.Series:
    years = _parse_years(df, idname, tname)
    if year_range is not None:
        _check_year_range(years, df, idname, tname, year_range)
    return years


def _check_year_range(years: pd.Series, df: pd.DataFrame, idname: str, tname: str, year_range) -> None:
    """Refuse implausible calendar years (20010, 199 among 2010s years).

    A column whose values are all below 1000 in absolute value holds integer
    periods (1..T, as in simulated and textbook panels) and is not checked.
    """
    lo, hi = year_range
    values = years.to_numpy()
    if not len(values) or np.abs(values).max() < 1000:
        return
    bad = (values < lo) | (values > hi)
    if bad.any():
        raise DataError(
            f"tname={tname!r} has {int(bad.sum())} implausible year(s) "
            f"(e.g. {examples(values[bad])} at {idname}={examples(df.loc[bad, idname])}); "
            f"calendar years must lie in {lo}..{hi} -- a typing error such as 20010 for 2010? "
            f"If these years are real, pass year_range=(first, last)"
        )


def _parse_years(df: pd.DataFrame, idname: str, tname: str) -> pd.Series:
    raw = df[tname]
    missing = raw.isna().to_numpy()
    if missing.any():
        raise DataError(
            f"tname={tname!r} is missing in {int(missing.sum())} row(s) "
            f"(e.g. {idname}={examples(df.loc[missing, idname])}); every row needs a year"
        )
    if pd.api.types.is_integer_dtype(raw):
        return raw.astype("int64")
    values = raw.astype(object).to_numpy()
    distinct = {v: parse_year(v) for v in pd.unique(values)}
    parsed = [distinct[v] for v in values]
    bad = np.array([p is None for p in parsed])
    if bad.any():
        raise DataError(
            f"tname={tname!r} has {int(bad.sum())} value(s) that are not integer years "
            f"(e.g. {examples(repr(v) for v in values[bad])} at "
            f"{idname}={examples(df.loc[bad, idname])}); write years as 2010 or '2010年' "
            "-- ranges like '2010/11' and fractional years are ambiguous"
        )
    return pd.Series(parsed, index=df.index, name=tname, dtype="int64")


def _tidy_label(value: object) -> str:
    # NFKC folds full-width forms; yearbooks pad Chinese names ("南　京　市"), so
    # spaces between CJK characters go, while "New Hampshire" keeps its space.
    text = unicodedata.normalize("NFKC", str(value)).strip()
    text = re.sub(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])", "", text)
    return re.sub(r"\s+", " ", text)


def _ids(df: pd.DataFrame, idname: str, tname: str) -> tuple[pd.Series, dict]:
    """The id column tidied, and ``{id: forms}`` for ids that were written in more than one form."""
    ids = df[idname]
    missing = ids.isna().to_numpy()
    if ids.dtype == object or pd.api.types.is_string_dtype(ids):
        missing = missing | ids.astype(object).map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(bool)
    if missing.any():
        raise DataError(
            f"idname={idname!r} is missing in {int(missing.sum())} row(s) "
            f"(e.g. rows with {tname}={examples(df.loc[missing, tname])}); every row needs a unit id"
        )
    aliases: dict = {}
    if pd.api.types.is_integer_dtype(ids):
        out = ids
    elif pd.api.types.is_float_dtype(ids):
        if not np.all(np.mod(ids.to_numpy(), 1) == 0):
            return ids, aliases
        out = ids.astype("int64")  # Excel stores codes as floats
    elif ids.dtype == object or pd.api.types.is_string_dtype(ids):
        text = ids.astype(object).map(
            lambda v: str(int(v)) if isinstance(v, float) and v.is_integer() else _tidy_label(v)
        )
        # Codes read as floats somewhere upstream ("320500.0") are the code 320500.
        folded = text.map(lambda s: _FLOAT_ID.sub(r"\1", s))
        # Integer-like codes become int64 (GB/T 2260 codes never start with 0);
        # ids with a leading zero (stock codes like '000001') stay text.
        if not folded.map(lambda s: bool(_INT_ID.match(s))).all():
            return text.astype(ids.dtype), aliases
        changed = (folded != text).to_numpy()
        if changed.any():
            forms = pd.DataFrame({"id": folded.to_numpy(), "raw": text.to_numpy()}).drop_duplicates()
            for key, group in forms.groupby("id", sort=False):
                if len(group) > 1:
                    aliases[int(key)] = sorted(group["raw"], key=len)
        out = folded.astype("int64")
    else:
        return ids, aliases
    return _normalize_admin_codes(out, idname, aliases), aliases


def _default_nonnegative(df: pd.DataFrame) -> list[str]:
    units = df.attrs.get("units", {}) if isinstance(df.attrs.get("units"), dict) else {}
    area_units = {"平方公里", "公顷", "亩", "万亩", "平方米", "万平方米"}
    out = []
    for col in df.columns:
        name = str(col).lower()
        if "land" in name or "area" in name or "面积" in name or units.get(col) in area_units:
            out.append(col)
    return out


def validate_panel(
    df: pd.DataFrame,
    idname: str,
    tname: str,
    *,
    columns: Sequence[str] | None = None,
    numeric: Sequence[str] | None = None,
    nonnegative: Sequence[str] | None = None,
    year_range: tuple[int, int] | None = YEAR_RANGE,
    keep_aggregates: bool = False,
    allow_infinite: Sequence[str] = (),
) -> pd.DataFrame:
    """Validate a long panel and return a clean copy sorted by (idname, tname).

    Parameters
    ----------
    df : DataFrame
        One row per (unit, year).
    idname : str
        Column identifying units (e.g. ``"county_code"``). Integer-like text
        ids (``"320101"``) become int64; ids with leading zeros stay text.
    tname : str
        Column holding the year. Integers, integral floats, ``"2010"``,
        ``"2010年"`` are read as int64 years.
    columns : sequence of str, optional
        Keep only these columns (besides ``idname`` and ``tname``).
    numeric : sequence of str, optional
        Columns that must be numeric; they are returned as float64. By
        default every other text column whose non-missing entries are at
        least half numbers is parsed (so a stray ``"12a"`` raises rather than
        turning the column to text) into float64, or into int64 when every
        value is a whole number and none is missing, as ``pandas.read_csv``
        would; columns that are already numeric keep their dtype; text
        ``True``/``False`` columns become bool; other text (region names)
        is left as it is.
    nonnegative : sequence of str, optional
        Columns that may not be negative. Default: columns whose name
        contains ``land``, ``area`` or ``面积`` or whose unit in
        ``df.attrs["units"]`` is an area unit.
    year_range : (int, int) or None, default (1949, 2100)
        Calendar years outside this range are refused (``20010``, ``199``
        next to 2010s years). Not applied when every period is below 1000
        (integer periods 1..T). None switches the check off.
    keep_aggregates : bool, default False
        Keep rows that are totals or sub-rows (全市, 合计, 总计, 市区, 市辖区,
        全省, ``其中:`` rows in ``idname`` or a region-name column; a
        prefecture or province code listed with its own counties). By default
        they are excluded with one :class:`DroppedObservationsWarning` giving
        their count and examples.
    allow_infinite : sequence of str, default ()
        Numeric columns that may hold ``inf`` / ``-inf`` (e.g. a first-treated
        period coded ``Inf`` for never treated, as R ``did`` allows). In every
        other numeric column an infinite value, including a number too large
        for a float such as ``1e309``, raises :class:`DataError` naming the
        column and the units (the same rule the estimators apply).

    Returns
    -------
    DataFrame
        A new frame, index reset, sorted by ``(idname, tname)``; ``attrs``
        are kept.

    Raises
    ------
    ColumnNotFoundError
        If ``idname``, ``tname`` or a requested column is absent.
    DataError
        Missing ids or years, years that are not integers, negative values
        in a ``nonnegative`` column, infinite values outside ``allow_infinite``.
    DuplicateObservationError
        If a (unit, year) pair occurs more than once.
    NonNumericValueError
        If a numeric column holds text that is not a missing marker.
    ArgumentTypeError
        If ``df`` is not a DataFrame.
    AdminCodeError
        12-digit codes below county level mixed with county-level codes.

    Warns
    -----
    DroppedObservationsWarning
        Aggregate rows excluded (count and examples).
    DataQualityWarning
        Text missing markers (—, …, NA, n.a.) read as NaN (count per column).
    UnitConversionWarning
        A column written entirely in percent (``12.5%``) read as numbers in %.

    Examples
    --------
    >>> raw = pd.DataFrame({"code": ["320102", "320101"], "year": ["2010年", "2010"],
    ...                     "gdp": ["1,200", "—"]})
    >>> validate_panel(raw, idname="code", tname="year")
         code  year     gdp
    0  320101  2010     NaN
    1  320102  2010  1200.0
    """
    require_frame(df)
    if idname == tname:
        raise DataError(f"idname and tname must differ (both are {idname!r})")
    require_columns(df, show=None, idname=idname, tname=tname)
    if columns is not None:
        require_columns(df, show=None, columns=list(columns))
        keep = [idname, tname] + [c for c in columns if c not in (idname, tname)]
        df = df.loc[:, keep]
    attrs = dict(df.attrs)
    out = df.copy()
    out.index = pd.RangeIndex(len(out))
    out[idname], aliases = _ids(out, idname, tname)
    out[tname] = _years(out, idname, tname, year_range)
    if not keep_aggregates:
        out = _drop_aggregates(out, idname, stacklevel=3)

    others = [c for c in out.columns if c not in (idname, tname)]
    if numeric is not None:
        require_columns(out, show=None, numeric=list(numeric))
    marker_parts, n_markers, percent_cols = [], 0, []
    units = dict(attrs.get("units") or {})
    for col in others if numeric is None else list(numeric):
        series = out[col]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            if numeric is not None:
                out[col] = series.astype("float64")
            continue  # already numbers: keep the caller's dtype (int first_treat stays int)
        if numeric is None and pd.api.types.is_bool_dtype(series):
            continue
        values = series.astype(object)
        percent = _percent_values(values)
        if percent is not None:
            out[col], sign = percent
            shown = (repr(v) for v in values.dropna()
                     if _PERCENT.match(re.sub(r"\s+", "", unicodedata.normalize("NFKC", str(v)))))
            percent_cols.append(f"{col!r} (e.g. {examples(shown)})")
            units[col] = sign
            continue
        parsed, bad = _parse_values(values)
        n_numbers = int((~np.isnan(parsed)).sum())
        if numeric is None and not (n_numbers > 0 and n_numbers >= int(bad.sum())):
            out[col] = _clean_text(series, missing=np.isnan(parsed) & ~bad)
            continue
        if bad.any():
            raise _non_numeric(col, values, bad, out, idname, tname)
        marked = _markers(values, parsed, bad)
        if marked.any():
            n_markers += int(marked.sum())
            marker_parts.append(_marker_summary(col, values, marked, _where(out, marked, idname, tname)))
        whole = numeric is None and np.isfinite(parsed).all() and (np.abs(parsed) < 2**53).all()
        if whole and (parsed == np.round(parsed)).all():
            out[col] = parsed.astype("int64")  # as read_csv would: codes, cohorts, 0/1 dummies
        else:
            out[col] = parsed
    if percent_cols:
        attrs["units"] = units
        warnings.warn(
            f"column(s) {', '.join(percent_cols)} are written in percent in every row; read as "
            "numbers in percent (12.5% -> 12.5, ‰ likewise), recorded in attrs['units']",
            UnitConversionWarning, stacklevel=2,
        )
    _warn_markers(marker_parts, n_markers, "", stacklevel=3)

    dup = out.duplicated([idname, tname], keep=False).to_numpy()
    if dup.any():
        pairs = out.loc[dup, [idname, tname]].drop_duplicates()
        shown = examples(f"({i}, {t})" for i, t in pairs.itertuples(index=False))
        forms = [f"{i} written as {' and '.join(repr(f) for f in aliases[i])}"
                 for i in pairs[idname] if i in aliases]
        hint = (f"; the ids were written in two forms that are one code ({examples(forms)}), "
                "so the file holds the same unit twice" if forms else "")
        raise DuplicateObservationError(
            f"{int(dup.sum())} rows share {len(pairs)} (idname={idname!r}, tname={tname!r}) "
            f"pair(s), e.g. {shown}{hint}; each unit may appear once per year"
        )

    check = _default_nonnegative(out) if nonnegative is None else list(nonnegative)
    for col in check:
        require_columns(out, show=None, nonnegative=[col])
        if col in (idname, tname) or not pd.api.types.is_numeric_dtype(out[col]):
            continue
        neg = (out[col] < 0).to_numpy()
        if neg.any():
            raise DataError(
                f"column {col!r} has {int(neg.sum())} negative value(s) "
                f"(e.g. {examples(out.loc[neg, col])} at {_where(out, neg, idname, tname)}); "
                "an area cannot be negative"
            )

    require_columns(out, show=None, allow_infinite=list(allow_infinite))
    ids = out[idname].to_numpy()
    for col in others:
        if col not in allow_infinite and pd.api.types.is_float_dtype(out[col]):
            require_finite(out[col].to_numpy(), "column", col, ids)

    out = out.sort_values([idname, tname], kind="stable").reset_index(drop=True)
    out.attrs = attrs
    return out


def _name_columns(df: pd.DataFrame, idname: str) -> list[str]:
    """Columns holding region names: ``idname`` if text, 地区/region-like headers, ``*_name``."""
    cols = []
    for col in df.columns:
        if not isinstance(col, str):
            continue
        text = df[col].dtype == object or pd.api.types.is_string_dtype(df[col])
        if text and (col == idname or normalize_header(col) in REGION_HEADERS or col.endswith("name")):
            cols.append(col)
    return cols


def _drop_aggregates(df: pd.DataFrame, idname: str, stacklevel: int, source: str = "") -> pd.DataFrame:
    ids = df[idname]
    codes = ids.to_numpy(dtype="int64") if pd.api.types.is_integer_dtype(ids) else None
    names = [df[c].astype(object).to_numpy() for c in _name_columns(df, idname)]
    mask, reasons = _aggregate_mask(codes, names)
    if not mask.any():
        return df
    _warn_aggregates(mask, reasons, source, stacklevel + 1)
    return df.loc[~mask].reset_index(drop=True)


def _clean_text(series: pd.Series, missing: np.ndarray) -> pd.Series:
    """A text column: missing markers (blank, —, NA) become NaN; True/False text becomes bool."""
    if missing.any():
        dtype = series.dtype
        series = series.astype(object).where(~missing, np.nan)
        if pd.api.types.is_string_dtype(dtype):
            series = series.astype(dtype)
    text = series.dropna().astype(str).str.strip().str.lower()
    if text.empty or not text.isin(["true", "false"]).all():
        return series
    flags = series.astype(object).map(
        lambda v: v if not isinstance(v, str) else v.strip().lower() == "true"
    )
    return flags.astype(bool) if not missing.any() else flags.astype("boolean")


def read_table(
    path: str | Path, *, sheet_name: str | int = 0, encoding: str | None = None
) -> pd.DataFrame:
    """Read a CSV / Excel / Parquet file with every cell kept as written.

    CSV files are tried as UTF-8, UTF-8 with BOM, then GBK (GB18030) unless
    ``encoding`` is given. Cells are read as text (CSV) or as stored (Excel),
    so codes keep leading zeros and ``"—"`` reaches the validator.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".xls", ".parquet", ".pq"):
        if not path.exists():
            raise DataFileNotFoundError(f"no such file: {str(path)!r}")
        raise ArgumentTypeError(
            f"cannot read {str(path)!r}: expected a .csv, .tsv, .txt, .xlsx, .xls or .parquet file"
        )
    check_file(path)
    try:
        if suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            df = pd.read_csv(
                path, dtype=str, keep_default_na=False, sep=sep, encoding=detect_encoding(path, encoding)
            )
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            df = pd.read_excel(path, sheet_name=sheet_name, dtype=object)
        else:
            df = pd.read_parquet(path)
    except (PolicyevalError, ImportError, KeyError):
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{str(path)!r} holds no table (no header line; only blank lines)") from None
    except Exception as err:  # a parser's own error: corrupt file
        raise DataError(f"cannot read {str(path)!r}: {type(err).__name__}: {err}") from err
    if not len(df.columns):
        raise DataError(f"{str(path)!r} holds no columns")
    if not len(df):
        raise DataError(
            f"{str(path)!r} has a header ({examples((repr(c) for c in df.columns), 6)}) but no data rows"
        )
    return df


def detect_encoding(path: str | Path, encoding: str | None = None) -> str:
    """Return ``encoding`` or the first of utf-8, utf-8-sig, gb18030 that decodes the file.

    GB18030 is a superset of GBK/GB2312, so GBK exports decode with it.
    """
    if encoding is not None:
        return encoding
    raw = Path(path).read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    for candidate in ("utf-8", "gb18030"):
        try:
            raw.decode(candidate)
        except UnicodeDecodeError:
            continue
        return candidate
    raise DataError(
        f"cannot decode {str(path)!r} as UTF-8 or GBK/GB18030; pass encoding= explicitly"
    )


def read_panel(
    path_or_frame: str | Path | pd.DataFrame,
    idname: str,
    tname: str,
    columns: Sequence[str] | None = None,
    *,
    numeric: Sequence[str] | None = None,
    nonnegative: Sequence[str] | None = None,
    sheet_name: str | int = 0,
    encoding: str | None = None,
    year_range: tuple[int, int] | None = YEAR_RANGE,
    keep_aggregates: bool = False,
    allow_infinite: Sequence[str] = (),
) -> pd.DataFrame:
    """Load a long panel (one row per unit and year) and validate it.

    Parameters
    ----------
    path_or_frame : str, Path or DataFrame
        A ``.csv`` (UTF-8, UTF-8-BOM or GBK), ``.parquet``, ``.xlsx`` file
        or a DataFrame (not modified).
    idname, tname : str
        Unit-id and year columns.
    columns : sequence of str, optional
        Columns to keep besides ``idname`` and ``tname`` (default: all).
    numeric, nonnegative : sequence of str, optional
        See :func:`validate_panel`.
    allow_infinite : sequence of str, default ()
        Columns that may hold ``inf`` (see :func:`validate_panel`); an infinite
        value (or an overflow such as ``1e309``) anywhere else raises
        :class:`DataError` naming the column and the units.
    sheet_name : str or int, default 0
        Excel sheet to read.
    encoding : str, optional
        CSV encoding; detected when omitted.
    year_range, keep_aggregates : optional
        See :func:`validate_panel`: implausible calendar years are refused,
        total rows (全市, 合计, a prefecture code above its counties) excluded
        with a counted warning unless ``keep_aggregates=True``.

    Returns
    -------
    DataFrame
        Validated, sorted by ``(idname, tname)``, index reset; years int64,
        numeric columns float64 with yearbook missing markers as NaN.

    Raises
    ------
    ColumnNotFoundError, DuplicateObservationError, NonNumericValueError, DataError
        See :func:`validate_panel`.
    DataFileNotFoundError
        If the path does not exist.
    DataError
        An empty, header-only, corrupt or password-protected file (the message
        names the path).
    ArgumentTypeError
        For an unsupported file type.

    Warns
    -----
    DroppedObservationsWarning
        When completely empty rows of a file are dropped, or aggregate rows
        excluded (count given).
    DataQualityWarning, UnitConversionWarning
        See :func:`validate_panel`.

    Examples
    --------
    >>> raw = pd.DataFrame({"county_code": [320102, 320101], "year": [2010, 2010],
    ...                     "gdp": [1.5e10, 9.0e9]})
    >>> read_panel(raw, idname="county_code", tname="year")["county_code"].tolist()
    [320101, 320102]
    """
    if isinstance(path_or_frame, pd.DataFrame):
        df = path_or_frame
    elif isinstance(path_or_frame, (str, Path)):
        df = read_table(path_or_frame, sheet_name=sheet_name, encoding=encoding)
        df = _drop_empty_rows(df, source=str(path_or_frame))
    else:
        raise ArgumentTypeError(
            "path_or_frame must be a file path or a DataFrame, "
            f"got {type(path_or_frame).__name__}"
        )
    return validate_panel(
        df, idname, tname, columns=columns, numeric=numeric, nonnegative=nonnegative,
        year_range=year_range, keep_aggregates=keep_aggregates,
        allow_infinite=allow_infinite,
    )


def _drop_empty_rows(df: pd.DataFrame, source: str) -> pd.DataFrame:
    empty = np.ones(len(df), dtype=bool) if len(df.columns) else np.zeros(len(df), dtype=bool)
    for col in df.columns:
        s = df[col]
        blank = s.isna().to_numpy()
        if s.dtype == object or pd.api.types.is_string_dtype(s):
            blank = blank | s.astype(str).str.strip().eq("").to_numpy()
        empty &= blank
    if empty.any():
        warnings.warn(
            f"dropped {int(empty.sum())} completely empty row(s) of {source!r}",
            DroppedObservationsWarning,
            stacklevel=3,
        )
        df = df.loc[~empty]
    return df
