"""Checks shared by the loaders: totals rows, administrative-code forms, unreadable files.

:func:`policyeval.data.read_panel` and :func:`policyeval.data.read_yearbook`
both refuse or announce the same things, with the same words:

- rows that are totals or sub-rows rather than units (全市, 合计, 市区, 其中:
  rows, a prefecture code 320500 listed with its own counties 3205xx);
- 12-digit statistical codes (统计用区划代码): ``320500000000`` is 320500, a
  township code such as ``320505001000`` is not a county;
- files that are empty, corrupt or password-protected, named by path before a
  parser fails on them with a message that does not.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.exceptions import AdminCodeError, DataError, DataFileNotFoundError, DroppedObservationsWarning

__all__ = ["AGGREGATE_NAMES", "check_file"]

#: Region names that denote a total or sub-total of other rows, not a unit.
AGGREGATE_NAMES = frozenset(
    {"全市", "全省", "全区", "全县", "全国", "合计", "总计", "小计", "共计", "市区", "市辖区",
     "全市合计"}
)
# "苏州市区" / "南京市辖区" / "全省合计" are totals; a one-character prefix
# ("沙市区", "新市区") is a real district, so a prefecture name needs two or more.
_AGGREGATE_PATTERN = re.compile(r"^(其中|#|＃)|合计$|总计$|小计$|市辖区$|^.{2,}市区$|^全(省|市|区|县)")
# First two digits of GB/T 2260 codes (provinces, HK, Macao, Taiwan).
_PROVINCES = frozenset(
    [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46,
     50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82]
)


def _admin_like(values: np.ndarray) -> bool:
    """All ids are 6- or 12-digit numbers starting with a GB/T 2260 province code."""
    if not len(values):
        return False
    six = (values >= 100000) & (values <= 999999)
    twelve = (values >= 10**11) & (values <= 10**12 - 1)
    prefix = np.where(six, values // 10**4, values // 10**10)
    return bool((six | twelve).all() and np.isin(prefix, list(_PROVINCES)).all())


def _normalize_admin_codes(ids: pd.Series, idname: str, aliases: dict) -> pd.Series:
    """12-digit statistical codes ending in six zeros become their 6-digit GB/T 2260 code.

    Applied only when every id looks like an administrative code. A 12-digit
    code below county level (township, village) mixed with county-level codes
    is refused: its 6-digit form would merge it into its county.
    """
    values = ids.to_numpy(dtype="int64")
    long = values >= 10**11
    if not long.any() or not _admin_like(values):
        return ids
    tail_zero = long & (values % 10**6 == 0)
    below = long & ~tail_zero
    if below.any() and (~below).any():
        shown = examples(f"{v} (6-digit form {v // 10**6})" for v in values[below])
        raise AdminCodeError(
            f"idname={idname!r} mixes 12-digit statistical codes below county level with "
            f"county-level codes: {int(below.sum())} row(s), e.g. {shown}; their last six digits "
            "are not zeros, so cutting them to 6 digits would merge a township into its county. "
            "Keep one level per panel"
        )
    if below.any():
        return ids  # a township/village panel on 12-digit codes: nothing to normalise
    short = np.where(long, values // 10**6, values)
    written_short = set(short[~long].tolist())
    for v in np.unique(values[long]):
        key = int(v // 10**6)
        if key in written_short or key in aliases:
            aliases.setdefault(key, [str(key)])
            aliases[key] = sorted(set(aliases[key]) | {str(int(v))}, key=len)
    return pd.Series(short, index=ids.index, name=ids.name, dtype="int64")


def _aggregate_mask(codes: np.ndarray | None, names: Sequence[np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """Rows that are totals or sub-rows, and why (one reason per row, '' if not).

    By name: :data:`AGGREGATE_NAMES`, names ending in 合计/总计/小计/市辖区,
    ``<prefecture>市区`` (two or more characters before 市区, so the real
    districts 沙市区 and 新市区 stay) and ``其中:``/``#`` sub-rows. By code: a
    6-digit code ending in 00 (prefecture XXYY00 or province XX0000) when a
    code it contains (XXYYzz, XXyyzz) is also in the data.
    """
    n = len(codes) if codes is not None else (len(names[0]) if names else 0)
    reasons = np.full(n, "", dtype=object)
    # Decide once per distinct value: panels repeat each name and code every year.
    for column in names:
        labels, uniques = pd.factorize(pd.Series(column, dtype=object), use_na_sentinel=True)
        verdict = np.array([_aggregate_name(v) for v in uniques] + [""], dtype=object)
        found = verdict[labels]  # label -1 (missing) picks the trailing ""
        reasons = np.where(reasons == "", found, reasons)
    if codes is not None:
        codes = np.asarray(codes)
        has = np.ones(n, dtype=bool) if codes.dtype.kind in "iu" else pd.notna(codes.astype(object))
        if has.any() and _admin_like(codes[has].astype("int64")):
            values = np.zeros(n, dtype="int64")
            values[has] = codes[has].astype("int64")
            present = set(values[has].tolist())
            prefectures: dict[int, int] = {}
            provinces: dict[int, int] = {}
            for c in sorted(present):
                if c % 100:
                    prefectures.setdefault(c // 100, c)
                if c % 10**4:
                    provinces.setdefault(c // 10**4, c)
            verdict = {}
            for v in present:
                if v % 10**4 == 0 and v // 10**4 in provinces:
                    verdict[v] = f"{v} (province code; the data also hold {provinces[v // 10**4]})"
                elif v % 100 == 0 and v // 100 in prefectures:
                    verdict[v] = f"{v} (prefecture code; the data also hold its county {prefectures[v // 100]})"
            if verdict:
                found = pd.Series(values).map(verdict).fillna("").to_numpy(dtype=object)
                reasons = np.where((reasons == "") & has, found, reasons)
    reasons = reasons.tolist()
    return np.array([bool(r) for r in reasons], dtype=bool), reasons


def _aggregate_name(value) -> str:
    if not isinstance(value, str):
        return ""
    name = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))
    return name if name in AGGREGATE_NAMES or _AGGREGATE_PATTERN.search(name) else ""


def _warn_aggregates(mask: np.ndarray, reasons: list[str], source: str, stacklevel: int) -> None:
    shown = examples(r for r, m in zip(reasons, mask) if m)
    warnings.warn(
        f"{source}excluded {int(mask.sum())} aggregate row(s) -- totals, sub-totals or "
        f"其中 sub-rows, not units (e.g. {shown}); counting them as units would double-count "
        "their members. Pass keep_aggregates=True to keep them",
        DroppedObservationsWarning, stacklevel=stacklevel,
    )


_ZIP = b"PK\x03\x04"
_OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


def check_file(path: str | Path) -> None:
    """Refuse a missing, empty, encrypted or corrupt data file before a parser sees it.

    An ``.xlsx``/``.xlsm`` workbook is a zip archive (it starts with ``PK``);
    one that starts with the OLE2 signature ``D0 CF 11 E0 A1 B1 1A E1`` is a
    password-protected (encrypted) workbook -- Excel wraps those in OLE2 --
    or an old ``.xls`` renamed. Anything else is corrupt.

    Raises
    ------
    DataFileNotFoundError
        The path does not exist.
    DataError
        An empty (0-byte) file, an encrypted workbook, or a workbook that is not
        one; the message names the path.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileNotFoundError(f"no such file: {str(path)!r}")
    if path.is_dir():
        raise DataError(f"{str(path)!r} is a folder, not a data file")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{str(path)!r} is empty (0 bytes)")
    suffix = path.suffix.lower()
    with open(path, "rb") as fh:
        head = fh.read(8)
    if suffix in (".xlsx", ".xlsm"):
        if head.startswith(_OLE2):
            raise DataError(
                f"{str(path)!r} is an OLE2 compound file, not a zip-based {suffix} workbook: it is "
                "password-protected (encrypted), or an old .xls renamed. Save a copy without a "
                "password (or with the .xls extension) and read that"
            )
        if not head.startswith(_ZIP):
            raise DataError(
                f"{str(path)!r} is not a valid {suffix} workbook (it does not start with the zip "
                f"signature PK; first bytes {head[:4].hex(' ')}): the file is corrupt or not Excel"
            )
    elif suffix == ".xls" and not (head.startswith(_OLE2) or head.startswith(_ZIP)):
        raise DataError(
            f"{str(path)!r} is not a valid .xls workbook (first bytes {head[:4].hex(' ')}): "
            "the file is corrupt or not Excel (an HTML table saved as .xls? open and re-save it)"
        )
