"""Revenue-sharing accounting: from revenue booked where the firm sits to revenue attributed to each side.

Chinese statistics book tax where the firm sits (在地统计): an enclave's tax
shows up in the destination's (飞入地) yearbook, never in the origin's (飞出地),
although agreements send part of it, or a fixed return, to the origin
(刘祥 2024, https://fx361.cc/page/2024/1015/24654378.shtml; DOMAIN.md section 3).
:func:`attribute_revenue` applies the registry's structured sharing terms to
booked revenue and returns what each side keeps or receives.

Rules (registry columns; each with the source of the example that uses it)
---------------------------------------------------------------------------
share
    ``share_to_origin`` of the park's own revenue goes to the origin for
    ``share_years`` years from the start (all years when the duration is not
    sourced). Example: the 财预〔2015〕92号 rule for Beijing--Tianjin--Hebei
    relocations, 50:50 for 3 years (http://tfcjtax.com/a/201908/1dinedpfxs825.shtml);
    衢州海创园, where 余杭 returns all (share 1) of the park's fiscal revenue to
    衢州 (https://fx361.cc/page/2018/1130/4551359.shtml). ``share_cap``:
    a numeric cap ("5000万元" in total, "800万元/yr") limits the origin's
    take; a cap that is a rule about firms ("the three taxes paid in the 3
    years before the move") cannot be applied to a park's total and is
    named in a warning -- apply it firm by firm with
    :func:`relocation_tax_sharing`.
fixed return on an investment
    ``fixed_return_rate`` × ``investment_yi`` (亿元 → 万元) per year for
    ``fixed_return_years`` years. Example: 鄞州—衢江 消薄飞地, 1.2亿元 invested
    by 162 village collectives at a fixed 10% a year for 5 years
    (https://www.nbyz.gov.cn/art/2023/2/10/art_1229660399_59197784.html).
fixed amount
    ``fixed_return_amount_wan`` 万元 per year (takes precedence over rate ×
    investment). Example: 镇海—龙游, 1000.8万元 a year
    (https://zj.people.com.cn/n2/2020/0825/c186806-34248750.html).

Fixed returns are booked as a transfer out of the destination's revenue
into the origin's (the convention of the simulator), **except** the fixed
returns of poverty-relief (消薄) enclaves: village collectives (村集体)
invested, and the return is theirs, not the origin county's 一般公共预算收入
(docs/design.md); :func:`attribute_revenue` puts it in its own column
(``<booked>_village``) and leaves both budgets untouched. A return rate
without an investment to apply it to carries no flow (warned). Two-way
enclaves carry no flow; enclaves without terms carry none (listed by
:func:`sharing_rules`).

Agreed is not paid
------------------
Sharing clauses are "较难兑现" in practice and some have produced no actual
case (docs/design.md), so every attributed figure is revenue *under the
agreed terms*, scaled by ``compliance`` (the share of each agreed transfer
actually paid: 1.0 = in full, the default; run 1.0 / 0.5 / 0.0 as
scenarios). The output says which in its ``attribution_basis`` column.

Firm-level rule
---------------
财预〔2015〕92号 (Beijing--Tianjin--Hebei relocations) is a rule about
firms, not parks: :func:`relocation_tax_sharing` applies it to a firm-year
panel (http://tfcjtax.com/a/201908/1dinedpfxs825.shtml).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._validation import examples, require_columns
from policyeval.design.roles import revenue_terms
from policyeval.exceptions import (
    ArgumentTypeError,
    ColumnNotFoundError,
    DesignError,
    PolicyevalWarning,
)

__all__ = ["attribute_revenue", "sharing_rules", "enclave_transfers", "relocation_tax_sharing",
           "MONEY_UNITS", "RULE_92"]

#: Units booked revenue may be in, and the factor that converts 万元 into them.
MONEY_UNITS = {"元": 1e4, "万元": 1.0, "亿元": 1e-4}


def sharing_rules(registry: pd.DataFrame | None = None) -> pd.DataFrame:
    """The structured revenue-sharing terms of each registry enclave.

    Parameters
    ----------
    registry : DataFrame, optional
        As :func:`policyeval.data.load_enclaves` returns; default the shipped one.

    Returns
    -------
    pandas.DataFrame
        One row per enclave: ``enclave_id``, ``name_zh``, ``rule`` (``"share"``,
        ``"fixed"``, ``"share+fixed"``, ``"none"``, ``"two_way (not modelled)"``),
        ``share_to_origin``, ``share_years``, ``fixed_wan_per_year``,
        ``fixed_years``, ``share_cap`` (text as sourced), ``cap_kind``
        (``"none"``, ``"total"``, ``"per_year"``, ``"rule"``; see
        :func:`policyeval.data.registry.parse_share_cap`), ``cap_wan``,
        ``rate_without_base`` (a return rate with nothing to apply it to),
        ``recipient`` (``"origin budget"``, or ``"village collectives"`` for
        消薄 fixed returns), ``description``, ``source_url``, ``source_url_2``.

    Examples
    --------
    >>> from policyeval.design.revenue import sharing_rules
    >>> r = sharing_rules().set_index("enclave_id")
    >>> r.loc["ZJ-LYZH-2019", "rule"], float(r.loc["ZJ-LYZH-2019", "fixed_wan_per_year"])
    ('fixed', 1000.8)
    """
    if registry is None:
        from policyeval.data.registry import load_enclaves

        registry = load_enclaves()
    rows = []
    for _, row in registry.iterrows():
        t = revenue_terms(row)
        has_share, has_fixed = not np.isnan(t["share"]), not np.isnan(t["fixed_wan"])
        if str(row.get("type")) == "two_way":
            rule = "two_way (not modelled)"
        else:
            rule = {(True, True): "share+fixed", (True, False): "share", (False, True): "fixed"}.get(
                (has_share, has_fixed), "none")
        cap = row.get("share_cap")
        rows.append({"enclave_id": str(row["enclave_id"]), "name_zh": row.get("name_zh"), "rule": rule,
                     "share_to_origin": t["share"], "share_years": t["share_years"],
                     "fixed_wan_per_year": t["fixed_wan"], "fixed_years": t["fixed_years"],
                     "share_cap": None if cap is None or pd.isna(cap) else str(cap),
                     "cap_kind": t["cap_kind"], "cap_wan": t["cap_wan"],
                     "rate_without_base": t["rate_without_base"],
                     "recipient": "village collectives (村集体)" if t["village_collective"] and has_fixed
                     else ("origin budget" if has_share or has_fixed else None),
                     "description": t["text"], "source_url": row.get("source_url"),
                     "source_url_2": row.get("source_url_2")})
    return pd.DataFrame(rows)


def enclave_transfers(terms: dict, years: np.ndarray, start: int, park_revenue: np.ndarray,
                      dest_weights: np.ndarray, origin_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transfers of one enclave, per destination unit (paid) and per origin unit (received).

    Parameters
    ----------
    terms : dict
        From :func:`policyeval.design.roles.revenue_terms` (``share``,
        ``share_years``, ``fixed_wan``, ``fixed_years``; NaN = absent).
    years : array of int, shape (T,)
    start : int
        First year of the enclave (event time 0).
    park_revenue : array, shape (n_dest, T)
        The park's own revenue booked in each destination unit, 万元 (NaN = 0).
    dest_weights, origin_weights : array
        Mapping weights of the destination and origin units (1, or 1/k for a
        prefecture spread over k units).

    Returns
    -------
    out_by_dest : array (n_dest, T)
        :math:`s\\,P_{dt}\\,1[0 \\le e < S] + F\\,1[0 \\le e < Y_F]\\,w_d/\\sum w`,
        the share part scaled down, year by year, so that the origin's take
        respects a numeric cap (``terms["cap_kind"]`` ``"total"``: cumulative;
        ``"per_year"``: each year).
    in_by_origin : array (n_orig, T)
        The total paid, split over origin units by weight (the fixed return
        alone when the enclave has no destination unit in the panel).

    Notes
    -----
    The simulator (:mod:`policyeval.data.simulate`) computes its revenue
    flows with this function, so simulated flows and attributed revenue obey
    the same rule.
    """
    e = years - start
    park = np.nan_to_num(np.asarray(park_revenue, dtype=float))
    transfer_by_dest = np.zeros_like(park)
    n_dest = park.shape[0]
    if not np.isnan(terms["share"]) and n_dest:
        on = (e >= 0) & (np.isnan(terms["share_years"]) | (e < terms["share_years"]))
        transfer_by_dest += terms["share"] * park * on
        cap, kind = terms.get("cap_wan", np.nan), terms.get("cap_kind", "none")
        if kind in ("total", "per_year") and np.isfinite(cap):
            yearly = transfer_by_dest.sum(axis=0)
            if kind == "per_year":
                allowed = np.minimum(yearly, cap)
            else:   # cumulative: the origin stops sharing once the cap is reached
                before = np.concatenate([[0.0], np.cumsum(yearly)[:-1]])
                allowed = np.clip(cap - before, 0.0, None)
                allowed = np.minimum(yearly, allowed)
            scale = np.divide(allowed, yearly, out=np.ones_like(yearly), where=yearly > 0)
            transfer_by_dest = transfer_by_dest * scale[None, :]
    fixed = np.zeros(len(years))
    if not np.isnan(terms["fixed_wan"]):
        on = (e >= 0) & (np.isnan(terms["fixed_years"]) | (e < terms["fixed_years"]))
        fixed = terms["fixed_wan"] * on.astype(float)
    if n_dest:
        w_dest = np.asarray(dest_weights, dtype=float)[:, None]
        transfer_by_dest = transfer_by_dest + fixed[None, :] * w_dest / w_dest.sum()
    total = transfer_by_dest.sum(axis=0) if n_dest else fixed
    w_orig = np.asarray(origin_weights, dtype=float)[:, None]
    into = total[None, :] * w_orig / w_orig.sum() if len(w_orig) else np.zeros((0, len(years)))
    return transfer_by_dest, into


def attribute_revenue(panel: pd.DataFrame, registry: pd.DataFrame | None = None,
                      booked_column: str = "tax_revenue_wan", *, park_revenue=None,
                      park_share: float | None = None, idname: str = "county_code", tname: str = "year",
                      unit: str = "万元", design=None, start: str = "opening_year",
                      compliance=1.0) -> pd.DataFrame:
    """Turn revenue booked where the firm sits (在地统计) into revenue attributed to each side.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel with ``idname``, ``tname`` and ``booked_column``.
    registry : DataFrame, optional
        Registry with the sharing terms; default the shipped one.
    booked_column : str, default "tax_revenue_wan"
        Revenue as booked in the yearbook, in ``unit``.
    park_revenue : str or DataFrame, optional
        The enclave park's own revenue, needed by share rules. A column name
        of ``panel`` holding, on destination rows, the revenue of the park
        the unit hosts (the unit must host at most one share-rule enclave);
        or a DataFrame with columns ``enclave_id``, ``tname`` and
        ``park_revenue`` (the park's total, spread over its destination
        units by mapping weight).
    park_share : float, optional
        Assumption used instead of ``park_revenue``: the park's revenue is
        this fraction of the destination unit's booked revenue, for each
        share-rule enclave it hosts. Say in your paper that it is an
        assumption.
    idname, tname : str
        Unit and period columns.
    unit : {"元", "万元", "亿元"}, default "万元"
        Unit of ``booked_column`` (fixed returns are converted from 万元).
    design : EnclaveDesign, optional
        A design for this panel (reuses its unit mapping); default built
        with :func:`policyeval.design.enclave_design`.
    start : {"opening_year", "agreement_year"}
        Start column when the design is built here.
    compliance : float or dict, default 1.0
        Share of each agreed transfer actually paid, in [0, 1]: one number
        for every enclave, or ``{enclave_id: share}`` (enclaves not listed:
        1.0). Agreements are often not honoured in full (docs/design.md): run
        scenarios such as 1.0, 0.5 and 0.0.

    Returns
    -------
    pandas.DataFrame
        A copy of ``panel`` with ``<booked>_out`` (paid to origins' budgets),
        ``<booked>_in`` (received by origins' budgets),
        ``<booked>_attributed`` = booked − out + in, ``<booked>_village``
        (fixed returns of 消薄 enclaves, income of the origin's village
        collectives 村集体, *not* in any budget column) and
        ``attribution_basis`` (text: "under the agreed terms" and the
        compliance used). All in ``unit``.

    Raises
    ------
    ColumnNotFoundError
        ``booked_column`` or a ``park_revenue`` column is missing.
    DesignError
        Share rules apply but neither ``park_revenue`` nor ``park_share`` is
        given; both given; ``park_share`` or ``compliance`` outside [0, 1];
        unknown ``unit``; a unit hosts several share-rule enclaves with a
        column ``park_revenue``.

    Warns
    -----
    PolicyevalWarning
        When a share rule's cap (``share_cap``) is a rule about firms that
        cannot be applied to a park total, an enclave has a
        ``fixed_return_rate`` but no investment (or amount) to apply it to,
        or the park's revenue is missing in a year its share rule runs.

    Notes
    -----
    For enclave :math:`k` with start :math:`s_k`, destination units
    :math:`d` (weights :math:`w_d`) and origin units :math:`o` (weights
    :math:`v_o`), event time :math:`e = t - s_k`:

    .. math::

        T_{kdt} = \\sigma_k P_{kdt}\\,1[0 \\le e < S_k]
                  + F_k\\,1[0 \\le e < Y_k]\\,\\frac{w_d}{\\sum_{d'} w_{d'}},\\qquad
        R_{kot} = \\frac{v_o}{\\sum_{o'} v_{o'}}\\sum_d T_{kdt},

    and :math:`A_{it} = B_{it} - c\\sum_k T_{kit} + c\\sum_k R_{kit}`, with
    :math:`P` the park's revenue, :math:`\\sigma` the share, :math:`S` its
    duration, :math:`F` the fixed return per year and :math:`Y` its duration
    (missing durations: every year from the start), :math:`c` the
    compliance. A numeric ``share_cap`` bounds :math:`\\sum_d T_{kdt}`'s share
    part (cumulatively or per year). For 消薄 enclaves :math:`F` is not in
    :math:`T` but in ``<booked>_village``: :math:`V_{kot} = c F
    1[0 \\le e < Y] v_o / \\sum v`.

    Examples
    --------
    >>> import warnings, policyeval as pe
    >>> from policyeval.design import attribute_revenue
    >>> panel = pe.load_simulated_panel()
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     out = attribute_revenue(panel, booked_column="tax_revenue_wan", park_share=0.02)
    >>> row = out[(out.county_code == "330825") & (out.year == 2020)]   # 龙游, 消薄: 1000.8万元/yr
    >>> float(row["tax_revenue_wan_village"].iloc[0]), float(row["tax_revenue_wan_in"].iloc[0])
    (1000.8, 0.0)
    """
    from policyeval.design.enclave import EnclaveDesign, enclave_design

    if not isinstance(panel, pd.DataFrame):
        raise ArgumentTypeError(f"panel must be a DataFrame, got {type(panel).__name__}.")
    require_columns(panel, where="panel", booked_column=[booked_column], idname=[idname], tname=[tname])
    if unit not in MONEY_UNITS:
        raise DesignError(f"unit={unit!r} must be one of {list(MONEY_UNITS)}.")
    if park_revenue is not None and park_share is not None:
        raise DesignError("give park_revenue or park_share, not both.")
    if park_share is not None and not (isinstance(park_share, (int, float)) and 0 <= park_share <= 1):
        raise DesignError(f"park_share={park_share!r} must be a fraction in [0, 1].")
    paid_share = _check_compliance(compliance)
    if registry is None:
        from policyeval.data.registry import load_enclaves

        registry = load_enclaves()
    if design is None:
        design = enclave_design(panel, registry, idname=idname, tname=tname, start=start)
    elif not isinstance(design, EnclaveDesign):
        raise ArgumentTypeError(f"design must be an EnclaveDesign, got {type(design).__name__}.")
    scale = MONEY_UNITS[unit]
    codes = pd.Index(sorted(panel[idname].astype(str).unique()))
    years = np.arange(int(panel[tname].min()), int(panel[tname].max()) + 1)
    key = pd.MultiIndex.from_arrays([panel[idname].astype(str), panel[tname].astype(int)])
    booked = pd.Series(pd.to_numeric(panel[booked_column], errors="coerce").to_numpy(dtype=float), index=key)
    booked_wide = booked.unstack().reindex(index=codes, columns=years).to_numpy()
    meta = registry.set_index(registry["enclave_id"].astype(str))
    # a host coded at prefecture level pays as a whole, also when the park's place in it is unknown
    a = design.assignments
    mapped = a[(a["status"] == "mapped") | ((a["status"] == "location_unknown") & a["start_year"].notna())]
    out_w = np.zeros((len(codes), len(years)))
    in_w = np.zeros((len(codes), len(years)))
    village_w = np.zeros((len(codes), len(years)))
    need_park, capped, gaps, no_base = [], [], [], []
    share_hosts: dict[str, list[str]] = {}
    for eid, rows in mapped.groupby("enclave_id", sort=True):
        terms = revenue_terms(meta.loc[eid])
        if terms["rate_without_base"] and str(meta.loc[eid].get("type")) != "two_way":
            no_base.append(eid)
        if not np.isnan(terms["share"]):
            if terms["cap_kind"] == "rule":
                capped.append(eid)
            for c in rows.loc[rows["role"] == "destination", "county_code"]:
                share_hosts.setdefault(c, []).append(eid)
    if isinstance(park_revenue, str):
        require_columns(panel, where="panel", park_revenue=[park_revenue])
        multi = {c: e for c, e in share_hosts.items() if len(e) > 1}
        if multi:
            ex = examples(f"{c} ({'+'.join(e)})" for c, e in multi.items())
            raise DesignError(f"park_revenue={park_revenue!r} is one column, but {len(multi)} unit(s) host "
                              f"several share-rule enclaves (e.g. {ex}); pass a DataFrame with columns "
                              f"enclave_id, {tname}, park_revenue.")
        park_col = pd.Series(pd.to_numeric(panel[park_revenue], errors="coerce").to_numpy(dtype=float),
                             index=key).unstack().reindex(index=codes, columns=years).to_numpy()
    elif isinstance(park_revenue, pd.DataFrame):
        missing = [c for c in ("enclave_id", tname, "park_revenue") if c not in park_revenue.columns]
        if missing:
            raise ColumnNotFoundError(f"park_revenue lacks column(s) {missing}; expected enclave_id, "
                                      f"{tname}, park_revenue.")
        park_tab = park_revenue.assign(enclave_id=park_revenue["enclave_id"].astype(str)) \
            .set_index(["enclave_id", tname])["park_revenue"].astype(float)
    elif park_revenue is not None:
        raise ArgumentTypeError(f"park_revenue must be a column name or a DataFrame, got "
                                f"{type(park_revenue).__name__}.")
    pos = {c: i for i, c in enumerate(codes)}
    for eid, rows in mapped.groupby("enclave_id", sort=True):
        terms = revenue_terms(meta.loc[eid])
        terms = dict(terms, fixed_wan=terms["fixed_wan"] * scale, cap_wan=terms["cap_wan"] * scale)
        c = paid_share(eid)
        village = None
        if terms["village_collective"] and not np.isnan(terms["fixed_wan"]):
            # 消薄: the fixed return is the village collectives' income, not a budget transfer
            village = dict(terms, share=np.nan)
            terms = dict(terms, fixed_wan=np.nan)
        start_year = int(rows["start_year"].iloc[0])
        dest = rows[rows["role"] == "destination"]
        orig = rows[rows["role"] == "origin"]
        di = np.array([pos[c] for c in dest["county_code"]], dtype=int)
        oi = np.array([pos[c] for c in orig["county_code"]], dtype=int)
        park = np.zeros((len(di), len(years)))
        if not np.isnan(terms["share"]) and len(di):
            if park_share is not None:
                park = park_share * booked_wide[di]
            elif isinstance(park_revenue, str):
                park = park_col[di]
            elif isinstance(park_revenue, pd.DataFrame):
                total = park_tab.reindex(pd.MultiIndex.from_product([[eid], years])).to_numpy(dtype=float)
                w = dest["weight"].to_numpy()[:, None]
                park = total[None, :] * w / w.sum()
            else:
                need_park.append(eid)
                continue
            e = years - start_year
            active = (e >= 0) & (np.isnan(terms["share_years"]) | (e < terms["share_years"]))
            missing = np.isnan(park) & active[None, :]
            if missing.any():
                gaps.append(f"{eid} ({int(missing.sum())})")
        paid, received = enclave_transfers(terms, years, start_year, park, dest["weight"].to_numpy(),
                                           orig["weight"].to_numpy())
        np.add.at(out_w, di, c * paid)
        np.add.at(in_w, oi, c * received)
        if village is not None:
            _, to_villages = enclave_transfers(village, years, start_year, np.zeros((0, len(years))),
                                               np.zeros(0), orig["weight"].to_numpy())
            np.add.at(village_w, oi, c * to_villages)
    if need_park:
        raise DesignError(f"share rules apply to {len(need_park)} enclave(s) (e.g. {examples(need_park)}) "
                          "but neither park_revenue (the park's own revenue) nor park_share (an assumed "
                          "share of booked revenue) is given.")
    if gaps:
        warnings.warn(f"park revenue is missing in years a share rule runs for {len(gaps)} enclave(s) "
                      f"(e.g. {examples(gaps)} destination unit-years); no share is transferred in "
                      "those years, so the origins' attributed revenue is understated there.",
                      PolicyevalWarning, stacklevel=2)
    if capped:
        warnings.warn(f"share_cap is a rule about firms, not an amount, for {len(capped)} enclave(s) "
                      f"(e.g. {examples(capped)}): not applied to the park's total, so the origin's take may "
                      "be overstated; apply it firm by firm with relocation_tax_sharing.",
                      PolicyevalWarning, stacklevel=2)
    if no_base:
        warnings.warn(f"fixed_return_rate is given but neither investment_yi nor fixed_return_amount_wan for "
                      f"{len(no_base)} enclave(s) (e.g. {examples(no_base)}): no base to apply the rate to, so no "
                      "fixed return is modelled for them.", PolicyevalWarning, stacklevel=2)
    ri = codes.get_indexer(panel[idname].astype(str))
    ti = panel[tname].astype(int).to_numpy() - years[0]
    out = panel.copy()
    out[f"{booked_column}_out"] = out_w[ri, ti]
    out[f"{booked_column}_in"] = in_w[ri, ti]
    out[f"{booked_column}_attributed"] = booked.to_numpy() - out_w[ri, ti] + in_w[ri, ti]
    out[f"{booked_column}_village"] = village_w[ri, ti]
    out["attribution_basis"] = _basis_label(compliance)
    return out


def _check_compliance(compliance):
    """``enclave_id -> share actually paid``; raises on values outside [0, 1]."""
    def ok(v):
        return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and 0 <= v <= 1

    if isinstance(compliance, dict):
        bad = [f"{k}={v!r}" for k, v in compliance.items() if not ok(v)]
        if bad:
            raise DesignError(f"compliance must map enclave ids to shares in [0, 1]; got {examples(bad)}.")
        return lambda eid: float(compliance.get(eid, 1.0))
    if not ok(compliance):
        raise DesignError(f"compliance={compliance!r} must be the share of agreed transfers actually paid, in "
                          "[0, 1] (or a dict enclave_id -> share).")
    return lambda eid: float(compliance)


def _basis_label(compliance) -> str:
    if isinstance(compliance, dict):
        shown = ", ".join(f"{k} {v:g}" for k, v in compliance.items())
        return f"under the agreed terms; share actually paid by enclave: {shown} (others 1)"
    if compliance == 1:
        return "under the agreed terms, paid in full (compliance 1)"
    return f"under the agreed terms, {compliance:.0%} of each agreed transfer paid (compliance {compliance:g})"


#: Parameters of 财预〔2015〕92号 (京津冀协同发展产业转移对接企业税收收入分享办法),
#: http://tfcjtax.com/a/201908/1dinedpfxs825.shtml: firms whose 三税 (local shares of VAT,
#: corporate income tax and business tax) averaged >= 2000万元 a year in the 3 years before a
#: government-led move; 50:50 for 3 years from full production; the origin's take capped at
#: the 三税 of those 3 years; 2 more years if the cap is not reached.
RULE_92 = {"threshold_wan": 2000.0, "origin_share": 0.5, "years": 3, "pre_years": 3, "extension_years": 2}


def relocation_tax_sharing(firms: pd.DataFrame, *, idname: str = "firm_id", tname: str = "year",
                           tax_columns=("vat_local", "cit_local"), move_year: str = "move_year",
                           full_production_year: str = "full_production_year",
                           government_led: str | None = None, extension: bool = True,
                           compliance: float = 1.0, unit: str = "万元") -> pd.DataFrame:
    """财预〔2015〕92号 applied firm by firm: the origin's share of a relocated firm's taxes.

    The rule (http://tfcjtax.com/a/201908/1dinedpfxs825.shtml): firms moved
    under government leadership whose 三税 -- the *local shares* of VAT,
    corporate income tax and business tax -- averaged at least 2000万元 a
    year in the 3 years before the move qualify; the 三税 they pay in the 3
    years after completing the registration change **and reaching full
    production** (达产) are split 50:50 between the destination (迁入地) and
    the origin (迁出地); the origin stops sharing once its take reaches the
    三税 the firm paid in the 3 years before the move; if 3 years do not
    reach that cap, sharing runs 2 more years (then it ends). Market-driven
    moves do not qualify.

    Parameters
    ----------
    firms : pandas.DataFrame
        Firm-year panel (e.g. a firm panel of :mod:`policyeval.scale`, with
        tax columns added), one row per (``idname``, ``tname``), including
        the 3 years before the move.
    idname, tname : str
        Firm and year columns.
    tax_columns : sequence of str
        Columns holding the local shares of the 三税, in ``unit`` (summed;
        missing = not paid that year, except in the pre-move years, see
        Warns).
    move_year : str
        Column: year of the registration change (迁移); missing = the firm
        did not move (never shares).
    full_production_year : str
        Column: year the firm reached full production (达产) at the
        destination; sharing counts from it. Missing for a mover: not yet in
        full production, nothing shared.
    government_led : str, optional
        Boolean column: True for government-led moves; others do not qualify.
        Default: every mover is treated as government-led (say so).
    extension : bool, default True
        Apply the 2-year extension when the cap is not reached in 3 years.
    compliance : float, default 1.0
        Share of the agreed transfer actually paid, in [0, 1].
    unit : {"元", "万元", "亿元"}, default "万元"
        Unit of the tax columns (the 2000万元 threshold is converted).

    Returns
    -------
    pandas.DataFrame
        A copy of ``firms`` with ``three_taxes`` (sum of ``tax_columns``),
        ``pre_move_taxes`` (三税 of the 3 years before the move, the cap),
        ``qualifies_92`` (bool), ``share_phase`` (``"first 3 years"``,
        ``"extension"`` or ``""``), ``to_origin_agreed`` (the origin's take
        under the agreed terms), ``to_origin_paid`` (times ``compliance``)
        and ``destination_keeps`` (``three_taxes - to_origin_paid``), in
        ``unit``.

    Raises
    ------
    ColumnNotFoundError
        A named column is missing.
    DuplicateObservationError
        A (firm, year) appears twice.
    DesignError
        ``compliance`` outside [0, 1], unknown ``unit``, ``move_year`` or
        ``full_production_year`` varying within a firm, or full production
        before the move.

    Warns
    -----
    PolicyevalWarning
        Movers whose 3 pre-move years are not all in ``firms`` (their
        qualification and cap are unknown: they share nothing), with count
        and examples.

    Notes
    -----
    For qualifying firm :math:`i` with move year :math:`m`, full-production
    year :math:`f`, 三税 :math:`x_{it}`, cap :math:`C_i = \\sum_{t=m-3}^{m-1}
    x_{it}` (qualifies when :math:`C_i / 3 \\ge 2000` 万元) and sharing years
    :math:`f \\le t < f + 3` (:math:`+2` if
    :math:`\\sum_{t<f+3} 0.5\\,x_{it} < C_i`):
    :math:`O_{it} = \\min\\bigl(0.5\\,x_{it},\\ C_i - \\sum_{s<t} O_{is}\\bigr)`.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"firm_id": 1, "year": range(2013, 2023),
    ...                   "vat_local": [2500.0] * 3 + [0.0, 1000.0] + [3000.0] * 5, "cit_local": 0.0,
    ...                   "move_year": 2016, "full_production_year": 2018})
    >>> out = relocation_tax_sharing(f)
    >>> out.set_index("year")["to_origin_agreed"].loc[2018:2022].tolist()
    [1500.0, 1500.0, 1500.0, 1500.0, 1500.0]
    """
    require_columns(firms, where="firms", idname=[idname], tname=[tname], tax_columns=list(tax_columns),
                    move_year=[move_year], full_production_year=[full_production_year],
                    **({"government_led": [government_led]} if government_led is not None else {}))
    if unit not in MONEY_UNITS:
        raise DesignError(f"unit={unit!r} must be one of {list(MONEY_UNITS)}.")
    c = _check_compliance(compliance)("")
    from policyeval.exceptions import DuplicateObservationError

    dup = firms.duplicated([idname, tname])
    if dup.any():
        raise DuplicateObservationError(
            f"firms has {int(dup.sum())} duplicated (idname={idname!r}, tname={tname!r}) row(s) (e.g. "
            f"{examples(firms.loc[dup, idname])}); one row per firm and year is required.")
    out = firms.copy()
    year = pd.to_numeric(out[tname], errors="coerce").astype(float)
    out["three_taxes"] = out[list(tax_columns)].apply(pd.to_numeric, errors="coerce").sum(axis=1, min_count=1)
    for col in (move_year, full_production_year):
        varying = out.groupby(idname)[col].nunique(dropna=False)
        if (varying > 1).any():
            raise DesignError(f"{col}={col!r} varies within idname={idname!r} for {int((varying > 1).sum())} "
                              f"firm(s) (e.g. {examples(varying.index[varying > 1])}); it must be constant per firm.")
    m = pd.to_numeric(out[move_year], errors="coerce").astype(float)
    f = pd.to_numeric(out[full_production_year], errors="coerce").astype(float)
    early = m.notna() & f.notna() & (f < m)
    if early.any():
        raise DesignError(f"full_production_year={full_production_year!r} is before move_year={move_year!r} for "
                          f"{out.loc[early, idname].nunique()} firm(s) (e.g. {examples(out.loc[early, idname])}).")
    pre = m.notna() & (year >= m - RULE_92["pre_years"]) & (year < m)
    pre_tax = out["three_taxes"].where(pre)
    firm = out[idname]
    n_pre = pre_tax.notna().groupby(firm).sum()
    cap = pre_tax.groupby(firm).sum(min_count=1)
    movers = m.groupby(firm).first().notna()
    incomplete = movers & (n_pre.reindex(movers.index).fillna(0) < RULE_92["pre_years"])
    if incomplete.any():
        warnings.warn(f"{int(incomplete.sum())} moved firm(s) lack some of the {RULE_92['pre_years']} years before "
                      f"the move (e.g. {examples(incomplete.index[incomplete])}): their qualification under "
                      "财预〔2015〕92号 and their cap are unknown, so nothing is shared for them.",
                      PolicyevalWarning, stacklevel=2)
    threshold = RULE_92["threshold_wan"] * MONEY_UNITS[unit]
    qualifies = movers & ~incomplete & (cap.reindex(movers.index) / RULE_92["pre_years"] >= threshold)
    if government_led is not None:
        qualifies &= out.groupby(idname)[government_led].first().astype(bool).reindex(movers.index)
    out["pre_move_taxes"] = firm.map(cap.where(movers & ~incomplete)).astype(float)
    out["qualifies_92"] = firm.map(qualifies).fillna(False).astype(bool)
    out["share_phase"] = ""
    agreed = np.zeros(len(out))
    order = np.lexsort((year.to_numpy(), pd.factorize(firm)[0]))
    x = out["three_taxes"].fillna(0.0).to_numpy()
    yr, fp, ok = year.to_numpy(), f.to_numpy(), out["qualifies_92"].to_numpy()
    capv = out["pre_move_taxes"].to_numpy()
    phase = out["share_phase"].to_numpy(dtype=object)
    share, base_years, ext = RULE_92["origin_share"], RULE_92["years"], RULE_92["extension_years"]
    ids = firm.to_numpy()[order]
    for i0, i1 in _runs(ids):
        rows = order[i0:i1]
        if not ok[rows[0]] or np.isnan(fp[rows[0]]):
            continue
        e = yr[rows] - fp[rows[0]]
        taken = 0.0
        first = (e >= 0) & (e < base_years)
        for r, in_first in zip(rows, first):
            if in_first:
                take = min(share * x[r], capv[r] - taken)
                agreed[r], taken = take, taken + take
                phase[r] = "first 3 years"
        if extension and taken < capv[rows[0]] - 1e-12:
            for r, ee in zip(rows, e):
                if base_years <= ee < base_years + ext:
                    take = min(share * x[r], capv[r] - taken)
                    agreed[r], taken = take, taken + take
                    phase[r] = "extension"
    out["share_phase"] = phase
    out["to_origin_agreed"] = agreed
    out["to_origin_paid"] = c * agreed
    out["destination_keeps"] = out["three_taxes"] - out["to_origin_paid"]
    return out


def _runs(sorted_ids):
    """(start, stop) of each run of equal values in a sorted array."""
    if len(sorted_ids) == 0:
        return []
    change = np.flatnonzero(sorted_ids[1:] != sorted_ids[:-1]) + 1
    starts = np.concatenate([[0], change])
    stops = np.concatenate([change, [len(sorted_ids)]])
    return list(zip(starts, stops))
