"""From the enclave registry to the county-level units of a panel.

Maps every (enclave, role) of the registry onto the county-level units of a
panel, or records why it cannot be (never silently). One implementation
serves both :func:`policyeval.design.enclave_design` and the simulator
(:mod:`policyeval.data.simulate` imports it from here).

Mapping rules
-------------
- a county-level code present among the units treats that unit (weight 1);
- a prefecture code (``xxxx00``) is spread over the prefecture's urban
  districts (市辖区), or over all its units when it has none, with weight
  ``1/k`` each, so an enclave's total size does not depend on how precisely
  the registry codes it;
- skipped, with the reason recorded: no code, a code outside the units'
  provinces, a province-level code, a start after the last year, a
  county-level code that is not a unit (another code vintage);
- an enclave with neither ``opening_year`` nor ``agreement_year`` is skipped
  by the simulator (it cannot date an effect) but mapped with status
  ``"timing_unknown"`` by :func:`policyeval.design.enclave_design`
  (``undated="map"``): its participants are treated at an unknown date, so
  they must never serve as controls;
- a *destination* coded at prefecture level whose park is smaller than
  :data:`MIN_LOCATABLE_KM2` or of unknown size (an office building, an
  incubator floor) is not spread: "location within the prefecture unknown"
  (:func:`unlocatable_destinations`). The simulator gives it no effect; the
  design treats no unit with it and keeps the prefecture's units out of the
  controls. Origins coded at prefecture level are the city as a whole and
  stay spread.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.exceptions import ColumnNotFoundError, DesignError, RegistryError

__all__ = ["ROLES", "ROLE_COLUMNS", "MIN_LOCATABLE_KM2", "revenue_terms", "check_enclaves", "assign_roles",
           "registry_area_mu", "unlocatable_destinations"]

#: A destination coded at prefecture level is spread over the prefecture's units only when
#: the park has at least this area (km2): a land-using park its urban districts share.
MIN_LOCATABLE_KM2 = 1.0

ROLES = ("origin", "destination")
#: Registry year columns a treatment can start from.
START_COLUMNS = ("opening_year", "agreement_year")

ENCLAVE_COLUMNS = ("enclave_id", "name_zh", "type", "origin_code", "origin_name",
                   "destination_code", "destination_name", "agreement_year", "opening_year")  # fmt: skip
TERM_COLUMNS = ("share_to_origin", "share_years", "fixed_return_rate", "fixed_return_years",
                "fixed_return_amount_wan", "investment_yi")  # fmt: skip

ROLE_COLUMNS = (
    "enclave_id", "enclave_name", "enclave_type", "role", "registry_code", "registry_name",
    "county_code", "county_name", "prefecture_code", "mapping", "weight", "start_year",
    "start_source", "status", "reason", "revenue_terms",
)  # fmt: skip


def _is_district(level: object, name: object) -> bool:
    """A 市辖区 unit: by the ``level`` column when it says so, else by the name."""
    if isinstance(level, str) and level.strip():
        lv = level.strip().lower()
        return lv in {"district", "市辖区", "区"} or lv.endswith("district")
    return isinstance(name, str) and name.endswith("区")


def _num(value: object) -> float:
    return float(value) if value is not None and not pd.isna(value) else np.nan


def revenue_terms(row: pd.Series) -> dict[str, float | str]:
    """Structured sharing terms of one registry row, and a description of what is used.

    A share of the park's tax needs ``share_to_origin``; a fixed return needs
    ``fixed_return_amount_wan`` or ``fixed_return_rate`` × ``investment_yi``.
    Missing durations mean "every simulated year from opening" (said so).
    ``share_cap`` is parsed by :func:`policyeval.data.registry.parse_share_cap`:
    a numeric cap (``cap_kind`` ``"total"`` or ``"per_year"``, ``cap_wan``)
    limits the origin's take from the share rule; a cap that is a rule about
    firms (``cap_kind = "rule"``) is not applied here. ``rate_without_base``
    is True when a ``fixed_return_rate`` is sourced but neither
    ``investment_yi`` nor ``fixed_return_amount_wan`` gives it a base.
    ``village_collective`` is True for poverty-relief (消薄) enclaves, whose
    fixed returns go to the origin's village collectives (村集体).
    """
    from policyeval.data.registry import parse_share_cap

    share = _num(row.get("share_to_origin"))
    share_years = _num(row.get("share_years"))
    amount = _num(row.get("fixed_return_amount_wan"))
    rate = _num(row.get("fixed_return_rate"))
    rate_without_base = bool(np.isnan(amount) and not np.isnan(rate) and np.isnan(_num(row.get("investment_yi"))))
    if np.isnan(amount):
        amount = rate * _num(row.get("investment_yi")) * 1e4
    cap = parse_share_cap(row.get("share_cap"))
    fixed_years = _num(row.get("fixed_return_years"))
    parts = []
    if not np.isnan(share):
        span = f"{share_years:.0f} years" if not np.isnan(share_years) else "all years (duration unknown)"
        parts.append(f"share {share:g} of the park's tax to the origin for {span}")
    if not np.isnan(amount):
        span = f"{fixed_years:.0f} years" if not np.isnan(fixed_years) else "all years (duration unknown)"
        parts.append(f"fixed return {amount:g} 万元/yr for {span}")
    if row.get("type") == "two_way":
        parts = ["two-way enclave: flows not modelled"]
        share = amount = np.nan
    if cap["kind"] in ("total", "per_year") and not np.isnan(share):
        parts.append(f"origin's take capped at {cap['amount_wan']:g} 万元"
                     + (" per year" if cap["kind"] == "per_year" else " in total"))
    return {
        "share": share, "share_years": share_years, "fixed_wan": amount, "fixed_years": fixed_years,
        "cap_kind": cap["kind"], "cap_wan": cap["amount_wan"], "cap_text": cap["text"],
        "rate_without_base": rate_without_base, "village_collective": row.get("type") == "poverty_relief",
        "text": "; ".join(parts) if parts else "no terms known: no flow modelled",
    }  # fmt: skip


def check_enclaves(enclaves: pd.DataFrame, allowed_types: tuple[str, ...]) -> None:
    """Raise if ``enclaves`` lacks registry columns, repeats ids or has unknown types."""
    missing = [c for c in ENCLAVE_COLUMNS if c not in enclaves.columns]
    if missing:
        raise ColumnNotFoundError(
            f"enclaves lacks column(s) {missing}; pass a registry as returned by "
            "policyeval.data.load_enclaves()."
        )
    ids = enclaves["enclave_id"].astype("string")
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise RegistryError(
            f"enclaves: column 'enclave_id' repeats {len(dup)} id(s) (e.g. {examples(dup)})."
        )
    types = enclaves["type"].astype("string")
    bad = enclaves.loc[types.notna() & ~types.isin(allowed_types), "enclave_id"]
    if types.isna().any() or len(bad):
        bad = pd.concat([bad, enclaves.loc[types.isna(), "enclave_id"]])
        raise RegistryError(
            f"enclaves: column 'type' is not one of {list(allowed_types)} for {len(bad)} enclave(s) "
            f"(e.g. {examples(bad)})."
        )


def assign_roles(enclaves: pd.DataFrame, units: pd.DataFrame, last_year: int, *,
                 start: str = "opening_year", undated: str = "skip") -> pd.DataFrame:
    """One row per (enclave, role, panel unit) simulated, plus one per (enclave, role) skipped.

    Parameters
    ----------
    enclaves : DataFrame
        Registry rows (checked by :func:`check_enclaves`).
    units : DataFrame
        Panel units with ``code``, ``name``, ``prefecture_code``,
        ``province_code`` and optionally ``level``.
    last_year : int
        Last year of the panel; enclaves starting later are skipped (recorded).
    start : {"opening_year", "agreement_year"}, default "opening_year"
        Registry column that dates the start of treatment; when it is empty
        the other one is used and ``start_source`` says so.
    undated : {"skip", "map"}, default "skip"
        Enclaves with neither year: ``"skip"`` records one skipped row per
        role (the simulator cannot date an effect); ``"map"`` maps them onto
        the units like any other enclave, with ``status = "timing_unknown"``
        and no ``start_year`` (a design keeps those units out of every
        control group).

    Returns
    -------
    DataFrame with :data:`ROLE_COLUMNS`; ``status`` is ``"simulated"``,
    ``"skipped"`` or (``undated="map"``) ``"timing_unknown"``, and ``reason`` says why a row was skipped or how it was
    mapped. ``weight`` is 1 for a county-level code and 1/k when a prefecture
    code is spread over k units.
    """
    from policyeval.data.registry import enclave_roles  # the registry owns the two-way rule

    if start not in START_COLUMNS:
        raise DesignError(f"start={start!r} must be one of {START_COLUMNS}")
    if undated not in ("skip", "map"):
        raise DesignError(f"undated={undated!r} must be 'skip' or 'map'.")

    long = enclave_roles(enclaves)
    meta = enclaves.set_index(enclaves["enclave_id"].astype(str))
    codes = set(units["code"])
    provinces = sorted(set(units["province_code"].str[:2]))
    level = units["level"] if "level" in units.columns else pd.Series(pd.NA, index=units.index)
    district = np.array([_is_district(lv, nm) for lv, nm in zip(level, units["name"])], dtype=bool)
    by_code = units.set_index("code")
    rows: list[dict] = []
    for rec in long.itertuples(index=False):
        eid = str(rec.enclave_id)
        src = meta.loc[eid]
        terms = revenue_terms(src)
        base = {
            "enclave_id": eid, "enclave_name": str(src["name_zh"]), "enclave_type": str(rec.type),
            "role": rec.role, "registry_code": None if pd.isna(rec.code) else str(rec.code),
            "registry_name": None if pd.isna(rec.name) else str(rec.name),
            "county_code": None, "county_name": None, "prefecture_code": None, "mapping": None,
            "weight": np.nan, "start_year": pd.NA, "start_source": None, "status": "skipped",
            "reason": None, "revenue_terms": terms["text"] if rec.role == "origin" else None,
        }  # fmt: skip
        first, other = start, START_COLUMNS[1 - START_COLUMNS.index(start)]
        if not pd.isna(getattr(rec, first)):
            base["start_year"], base["start_source"] = int(getattr(rec, first)), first
        elif not pd.isna(getattr(rec, other)):
            base["start_year"], base["start_source"] = int(getattr(rec, other)), f"{other} (no {first})"
        code = base["registry_code"]
        if code is None:
            rows.append({**base, "reason": "no administrative code in the registry"})
            continue
        if code[:2] not in provinces:
            rows.append({**base, "reason": f"outside the simulated provinces {provinces} "
                                           f"(province {code[:2]}0000): no panel unit"})
            continue
        status = "simulated"
        if base["start_source"] is None:
            if undated == "skip":
                rows.append({**base, "reason": "neither opening_year nor agreement_year is known"})
                continue
            status = "timing_unknown"
        elif base["start_year"] > last_year:
            rows.append({**base, "reason": f"starts in {base['start_year']}, after the last simulated "
                                           f"year {last_year}"})
            continue
        if code in codes:
            targets, mapping = [code], "county-level code"
        elif code.endswith("0000"):
            rows.append({**base, "reason": "province-level code: no county-level unit to treat"})
            continue
        elif code.endswith("00"):
            in_pref = (units["prefecture_code"] == code).to_numpy()
            targets = list(units.loc[in_pref & district, "code"])
            mapping = f"prefecture {code} -> its {len(targets)} urban district(s) (市辖区)"
            if not targets:
                targets = list(units.loc[in_pref, "code"])
                mapping = f"prefecture {code} -> all its {len(targets)} unit(s) (no 市辖区 unit)"
            if not targets:
                rows.append({**base, "reason": f"prefecture {code} has no unit in the panel"})
                continue
        else:
            rows.append({**base, "reason": "code is not a county-level unit of the panel's code "
                                           "vintage (harmonise the registry code first)"})
            continue
        if status == "timing_unknown":
            mapping_reason = ("treated, timing unknown: neither opening_year nor agreement_year is "
                              f"sourced; {mapping}")
        else:
            mapping_reason = mapping
        for tgt in sorted(targets):
            rows.append({
                **base, "county_code": tgt, "county_name": str(by_code.at[tgt, "name"]),
                "prefecture_code": str(by_code.at[tgt, "prefecture_code"]), "mapping": mapping,
                "weight": 1.0 / len(targets), "status": status, "reason": mapping_reason,
            })  # fmt: skip
    out = pd.DataFrame(rows, columns=list(ROLE_COLUMNS))
    out["start_year"] = out["start_year"].astype("Int64")
    out["weight"] = out["weight"].astype(float)
    return out.reset_index(drop=True)


def registry_area_mu(enclaves: pd.DataFrame) -> pd.Series:
    """Registry area in 亩 by enclave id (``area_mu``, else ``area_km2`` x 1500; NaN = unknown)."""
    ids = enclaves["enclave_id"].astype(str)
    nan = pd.Series(np.nan, index=enclaves.index)
    mu = pd.to_numeric(enclaves.get("area_mu", nan), errors="coerce").astype(float)
    km2 = pd.to_numeric(enclaves.get("area_km2", nan), errors="coerce").astype(float)
    return pd.Series(mu.fillna(km2 * 1500.0).to_numpy(dtype=float), index=ids)


def unlocatable_destinations(assignments: pd.DataFrame, enclaves: pd.DataFrame,
                             placed_status: str) -> pd.Series:
    """Rows of :func:`assign_roles` output that place a destination it cannot locate.

    A destination is where the park's land is. A prefecture code only says the
    park is somewhere in the prefecture: a park of at least
    :data:`MIN_LOCATABLE_KM2` is spread over the prefecture's units (an
    assumption, stated in ``mapping``); a smaller one or one of unknown area is
    "location within the prefecture unknown".

    Parameters
    ----------
    assignments : DataFrame
        Output of :func:`assign_roles`.
    enclaves : DataFrame
        The registry rows it was built from.
    placed_status : str
        The status of placed rows (``"simulated"`` or ``"mapped"``).

    Returns
    -------
    pandas.Series of bool
        Aligned with ``assignments``.
    """
    area = assignments["enclave_id"].astype(str).map(registry_area_mu(enclaves)).astype(float)
    prefecture = assignments["mapping"].fillna("").str.startswith("prefecture")
    placed = (assignments["status"] == placed_status) & (assignments["role"] == "destination")
    return placed & prefecture & ~(area >= MIN_LOCATABLE_KM2 * 1500.0)
