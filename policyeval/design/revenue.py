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
    衢州 (https://fx361.cc/page/2018/1130/4551359.shtml). ``share_cap`` is free
    text in the registry ("the three taxes paid in the 3 years before the
    move") and is *not* applied; a warning names the enclaves concerned.
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
into the origin's (the convention of the simulator). Two-way enclaves carry
no flow; enclaves without terms carry none (listed by :func:`sharing_rules`).
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

__all__ = ["attribute_revenue", "sharing_rules", "enclave_transfers", "MONEY_UNITS"]

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
        ``fixed_years``, ``share_cap`` (text, not applied), ``description``,
        ``source_url``, ``source_url_2``.

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
        :math:`s\\,P_{dt}\\,1[0 \\le e < S] + F\\,1[0 \\le e < Y_F]\\,w_d/\\sum w`.
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
                      unit: str = "万元", design=None, start: str = "opening_year") -> pd.DataFrame:
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

    Returns
    -------
    pandas.DataFrame
        A copy of ``panel`` with ``<booked>_out`` (paid to origins),
        ``<booked>_in`` (received from destinations) and
        ``<booked>_attributed`` = booked − out + in.

    Raises
    ------
    ColumnNotFoundError
        ``booked_column`` or a ``park_revenue`` column is missing.
    DesignError
        Share rules apply but neither ``park_revenue`` nor ``park_share`` is
        given; both given; ``park_share`` outside [0, 1]; unknown ``unit``; a
        unit hosts several share-rule enclaves with a column ``park_revenue``.

    Warns
    -----
    PolicyevalWarning
        When a share rule has a cap (``share_cap``) that is not applied, or
        the park's revenue is missing in a year its share rule runs.

    Notes
    -----
    For enclave :math:`k` with start :math:`s_k`, destination units
    :math:`d` (weights :math:`w_d`) and origin units :math:`o` (weights
    :math:`v_o`), event time :math:`e = t - s_k`:

    .. math::

        T_{kdt} = \\sigma_k P_{kdt}\\,1[0 \\le e < S_k]
                  + F_k\\,1[0 \\le e < Y_k]\\,\\frac{w_d}{\\sum_{d'} w_{d'}},\\qquad
        R_{kot} = \\frac{v_o}{\\sum_{o'} v_{o'}}\\sum_d T_{kdt},

    and :math:`A_{it} = B_{it} - \\sum_k T_{kit} + \\sum_k R_{kit}`, with
    :math:`P` the park's revenue, :math:`\\sigma` the share, :math:`S` its
    duration, :math:`F` the fixed return per year and :math:`Y` its duration
    (missing durations: every year from the start).

    Examples
    --------
    >>> import warnings, policyeval as pe
    >>> from policyeval.design import attribute_revenue
    >>> panel = pe.load_simulated_panel()
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     out = attribute_revenue(panel, booked_column="tax_revenue_wan", park_share=0.02)
    >>> row = out[(out.county_code == "330825") & (out.year == 2020)]   # 龙游, fixed 1000.8万元/yr
    >>> float(row["tax_revenue_wan_in"].iloc[0])
    1000.8
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
    mapped = design.assignments[design.assignments["status"] == "mapped"]
    out_w = np.zeros((len(codes), len(years)))
    in_w = np.zeros((len(codes), len(years)))
    need_park, capped, gaps = [], [], []
    share_hosts: dict[str, list[str]] = {}
    for eid, rows in mapped.groupby("enclave_id", sort=True):
        terms = revenue_terms(meta.loc[eid])
        if not np.isnan(terms["share"]):
            cap = meta.loc[eid].get("share_cap")
            if cap is not None and not pd.isna(cap) and str(cap).strip():
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
        if not np.isnan(terms["fixed_wan"]):
            terms = dict(terms, fixed_wan=terms["fixed_wan"] * scale)
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
        np.add.at(out_w, di, paid)
        np.add.at(in_w, oi, received)
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
        warnings.warn(f"share_cap is free text and not applied for {len(capped)} enclave(s) "
                      f"(e.g. {examples(capped)}); the origin's take may be overstated.",
                      PolicyevalWarning, stacklevel=2)
    ri = codes.get_indexer(panel[idname].astype(str))
    ti = panel[tname].astype(int).to_numpy() - years[0]
    out = panel.copy()
    out[f"{booked_column}_out"] = out_w[ri, ti]
    out[f"{booked_column}_in"] = in_w[ri, ti]
    out[f"{booked_column}_attributed"] = booked.to_numpy() - out_w[ri, ti] + in_w[ri, ti]
    return out
