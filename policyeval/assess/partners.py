"""Which partner to fly to (or from): a transparent, decomposed ranking of candidate counties.

The advice in the field is concrete: choose partners near rather than far
(宜近不宜远), with strong spatial links and complementary industries, not
blindly the biggest city. :func:`partner_scores` turns that into components
one can inspect, for a focal county and a list of candidates:

``distance_km``
    great-circle distance between the shipped county points
    (:func:`policyeval.design.geo.county_centroids`);
``complementarity``
    mean industry-space proximity (Hidalgo et al. 2007) between the focal
    county's and the candidate's specialisations, same-industry pairs left
    out: high when the two do *related but different* things;
``overlap``
    Jaccard share of specialisations they have in common (shown, not weighted
    by default);
``io_linkage``
    with a user's input--output matrix :math:`A` (rows supply columns),
    :math:`s_o^\\top A s_d + s_d^\\top A s_o` for the two counties' industry shares;
``size_gap``, ``income_gap``
    :math:`\\log(\\text{destination}/\\text{origin})` of population and of
    income (e.g. GDP per head), where the user gives them.

The score is :math:`\\sum_k w_k z_k` over standardised components (z-scores
across candidates) with the weights as an argument; each ``contrib_<k>`` is
returned beside it. :func:`plot_partner_scores` draws the decomposition,
:func:`plot_partner_map` the candidates on a longitude/latitude map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.assess.industry import (
    _lq,
    _matrix,
    _proximity,
    _validate,
    _weighted_score,
)
from policyeval.design.geo import county_centroids, haversine_km
from policyeval.exceptions import ArgumentTypeError, DataError, DesignError

__all__ = ["partner_scores", "plot_partner_scores", "plot_partner_map"]


def _by_county(values, argument: str, needed: list[str]) -> np.ndarray:
    if isinstance(values, dict):
        values = pd.Series(values)
    if not isinstance(values, pd.Series):
        raise ArgumentTypeError(f"{argument} must be a pandas Series or dict keyed by county id, "
                                f"got {type(values).__name__}")
    values = pd.Series(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float),
                       index=values.index.astype(str))
    missing = [c for c in needed if c not in values.index or not np.isfinite(values.get(c))]
    if missing:
        raise DataError(f"{argument} has no value for {len(missing)} counties "
                        f"(e.g. {examples(missing)})")
    out = values.loc[needed].to_numpy()
    if (out <= 0).any():
        bad = [c for c, v in zip(needed, out) if v <= 0]
        raise DataError(f"{argument} must be positive (gaps are log ratios); "
                        f"not for {examples(bad)}")
    return out


def partner_scores(df: pd.DataFrame, county, candidates=None, *, year: int, role: str = "origin",
                   weights: dict | None = None, population=None, income=None,
                   io_matrix: pd.DataFrame | None = None, threshold: float = 1.0,
                   centroids: pd.DataFrame | None = None, idname: str = "county_code",
                   industry: str = "industry", tname: str = "year", yname: str = "employment",
                   codes="gbt4754") -> pd.DataFrame:
    """Rank candidate partner counties for an enclave of ``county``, with each component's part.

    Parameters
    ----------
    df : pandas.DataFrame
        Long county × industry × year table (see
        :func:`policyeval.assess.industry_matrix`); it is also the reference
        economy of the industry space.
    county : str or int
        The focal county (6-digit GB/T 2260 code).
    candidates : sequence, optional
        Candidate partners; default every other county of ``df`` in ``year``.
    year : int
    role : {"origin", "destination"}, default "origin"
        The focal county's role: ``"origin"`` ranks destinations (飞入地) for
        it, ``"destination"`` ranks origins (飞出地). It sets the direction of
        the gaps (always destination over origin).
    weights : dict, optional
        Component -> weight. Default ``{"distance_km": -1, "complementarity": 1}``
        plus ``"io_linkage": 1`` with ``io_matrix``. The gaps carry no weight
        unless you give one (a forward enclave may want ``income_gap: -1``, a
        science enclave ``+1``).
    population, income : pandas.Series or dict, optional
        Keyed by county id, positive (persons; e.g. GDP per head in 元),
        for ``size_gap`` and ``income_gap``.
    io_matrix : pandas.DataFrame, optional
        Industries × industries, non-negative, rows supplying columns (e.g.
        direct-requirement coefficients), covering every industry of ``df``.
    threshold : float, default 1.0
        LQ at which a county counts as specialised.
    centroids : pandas.DataFrame, optional
        Own points (``code``, ``lon``, ``lat``) instead of the shipped ones.
    idname, industry, tname, yname, codes
        As :func:`policyeval.assess.industry_matrix`.

    Returns
    -------
    pandas.DataFrame
        One row per candidate, best first: ``rank``, ``candidate``, ``name``,
        ``origin``, ``destination``, ``lon``, ``lat``, the raw components,
        ``z_<k>``, ``contrib_<k>`` (= weight × z) and ``score``.

    Raises
    ------
    DesignError
        If ``candidates`` contains ``county`` itself, or a candidate twice.
    DataError
        If a county is not in ``df`` in ``year``, has no point, lacks a
        population / income value, or the IO matrix misses industries or
        has negative entries; weights naming unknown components.

    Notes
    -----
    Complementarity of focal :math:`o` and candidate :math:`d`, with RCA
    vectors :math:`M_o, M_d` and proximity :math:`\\phi` with a zero diagonal:

    .. math:: C_{od} = \\frac{M_o^\\top \\phi\\, M_d}{|M_o|\\,|M_d|}

    (0 if either has no specialisation). The score is relative to the
    candidate list: adding a candidate changes every z-score.

    Examples
    --------
    Partners for 庆元县 (331126) among the counties of a simulated panel:

    >>> from policyeval.assess import example_industry_panel, partner_scores
    >>> panel = example_industry_panel(random_state=0)     # simulated employment
    >>> tab = partner_scores(panel, "331126", year=2020)
    >>> tab["name"].head(3).tolist()
    ['云和县', '松阳县', '景宁畲族自治县']
    >>> bool(abs(tab["score"] - tab["contrib_distance_km"] - tab["contrib_complementarity"]).max() < 1e-12)
    True
    """
    if role not in ("origin", "destination"):
        raise ArgumentTypeError(f"role={role!r} must be 'origin' or 'destination'")
    data = _validate(df, idname, industry, tname, yname, codes)
    x = _matrix(data, year)
    focal = str(county)
    if focal not in x.index:
        raise DataError(f"county={county!r} is not in idname={idname!r} in {year} "
                        f"(e.g. {examples(x.index)})")
    if candidates is None:
        cands = [c for c in x.index if c != focal]
    else:
        cands = [str(c) for c in candidates]
        if focal in cands:
            raise DesignError(f"candidates contains the county itself ({focal}); an enclave "
                              "joins two different counties")
        dup = pd.Index(cands)[pd.Index(cands).duplicated()]
        if len(dup):
            raise DesignError(f"candidates lists {len(dup)} counties twice (e.g. {examples(dup)})")
        absent = [c for c in cands if c not in x.index]
        if absent:
            raise DataError(f"{len(absent)} candidates are not in idname={idname!r} in {year} "
                            f"(e.g. {examples(absent)})")
    if not cands:
        raise DataError("no candidate partners: give candidates or a table with other counties")

    arr = x.to_numpy()
    m = (_lq(arr) >= threshold).astype(float)
    phi = _proximity(m)
    phi_off = phi - np.diag(np.diag(phi))
    pos = {c: k for k, c in enumerate(x.index)}
    mo = m[pos[focal]]
    md = m[[pos[c] for c in cands]]
    denom = mo.sum() * md.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        comp = np.where(denom > 0, (md @ phi_off @ mo) / denom, 0.0)
        union = np.maximum(mo[None, :], md).sum(axis=1)
        overlap = np.where(union > 0, (mo[None, :] * md).sum(axis=1) / union, 0.0)

    points = county_centroids([focal, *cands], centroids=centroids)
    nopoint = points.loc[points["lat"].isna() | points["lon"].isna(), "code"]
    if len(nopoint):
        raise DataError(f"{len(nopoint)} counties have no point in the centroids table "
                        f"(e.g. {examples(nopoint)}); pass centroids= with code, lon, lat")
    lat, lon = points["lat"].to_numpy(), points["lon"].to_numpy()
    dist = haversine_km(lat[0], lon[0], lat[1:], lon[1:])

    origin = np.array([focal] * len(cands) if role == "origin" else cands, dtype=object)
    dest = np.array(cands if role == "origin" else [focal] * len(cands), dtype=object)
    table = pd.DataFrame({"candidate": cands, "name": points["name"].to_numpy()[1:],
                          "origin": origin, "destination": dest, "lon": lon[1:], "lat": lat[1:],
                          "distance_km": dist, "complementarity": comp, "overlap": overlap})
    default = {"distance_km": -1.0, "complementarity": 1.0}
    if io_matrix is not None:
        if not isinstance(io_matrix, pd.DataFrame):
            raise ArgumentTypeError(f"io_matrix must be a DataFrame, got {type(io_matrix).__name__}")
        io = io_matrix.copy()
        io.index, io.columns = io.index.astype(str), io.columns.astype(str)
        lacking = [i for i in x.columns if i not in io.index or i not in io.columns]
        if lacking:
            raise DataError(f"io_matrix lacks {len(lacking)} industries of the data as rows or "
                            f"columns (e.g. {examples(lacking)})")
        a = io.loc[list(x.columns), list(x.columns)].to_numpy(dtype=float)
        if not np.isfinite(a).all() or (a < 0).any():
            raise DataError("io_matrix must hold finite non-negative coefficients")
        shares = arr / arr.sum(axis=1, keepdims=True)
        so, sd = shares[pos[focal]], shares[[pos[c] for c in cands]]
        table["io_linkage"] = sd @ a.T @ so + sd @ a @ so
        default["io_linkage"] = 1.0
    for argument, values, column in (("population", population, "size_gap"),
                                     ("income", income, "income_gap")):
        if values is not None:
            v = _by_county(values, argument, [focal, *cands])
            ratio = v[1:] / v[0] if role == "origin" else v[0] / v[1:]
            table[column] = np.log(ratio)
    table = _weighted_score(table, default if weights is None else dict(weights))
    table = table.sort_values(["score", "candidate"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def plot_partner_scores(table: pd.DataFrame, *, top: int = 10, ax=None, title: str | None = None):
    """Horizontal bars of each candidate's score, split into its components' contributions.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`partner_scores` returns (``name``, ``contrib_<k>``, ``score``).
    top : int, default 10
        How many of the best candidates to draw.
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from policyeval.assess import example_industry_panel, partner_scores, plot_partner_scores
    >>> tab = partner_scores(example_industry_panel(random_state=0), "331126", year=2020)  # simulated
    >>> ax = plot_partner_scores(tab, top=5)
    >>> [t.get_text() for t in ax.get_yticklabels()][-1]      # best at the top
    '云和县'
    """
    import matplotlib.pyplot as plt

    from policyeval.plots.fonts import use_cjk_font

    parts = [c for c in table.columns if c.startswith("contrib_")]
    if not parts or "score" not in table.columns:
        raise DataError("table has no contrib_* / score columns; pass what partner_scores returns")
    use_cjk_font()
    rows = table.head(top).iloc[::-1]  # best at the top
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.2))
    y = np.arange(len(rows))
    left_pos, left_neg = np.zeros(len(rows)), np.zeros(len(rows))
    for part in parts:
        v = rows[part].to_numpy()
        left = np.where(v >= 0, left_pos, left_neg)
        ax.barh(y, v, left=left, label=part.removeprefix("contrib_"))
        left_pos += np.where(v >= 0, v, 0)
        left_neg += np.where(v < 0, v, 0)
    ax.scatter(rows["score"], y, color="black", zorder=3, label="score")
    labels = rows["name"].fillna(rows["candidate"]) if "name" in rows else rows["candidate"]
    ax.set_yticks(y, labels.astype(str).tolist())
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_xlabel("weighted z-score contribution")
    ax.legend(loc="lower right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_partner_map(table: pd.DataFrame, *, ax=None, label_top: int = 5, title: str | None = None,
                     centroids: pd.DataFrame | None = None):
    """Candidates at their county points, coloured by score, the focal county as a star.

    A plain longitude/latitude scatter (no boundaries: the boundary data
    package is large and not a dependency); the ``label_top`` best
    candidates are named.

    Parameters
    ----------
    table : pandas.DataFrame
        As :func:`partner_scores` returns (``lon``, ``lat``, ``score``,
        ``name``, ``origin``, ``destination``).
    ax : matplotlib Axes, optional
    label_top : int, default 5
    title : str, optional
    centroids : pandas.DataFrame, optional
        The points used for :func:`partner_scores`, to place the focal county.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from policyeval.assess import example_industry_panel, partner_scores
    >>> from policyeval.assess.partners import plot_partner_map
    >>> tab = partner_scores(example_industry_panel(random_state=0), "331126", year=2020)  # simulated
    >>> ax = plot_partner_map(tab, label_top=3)
    >>> sorted(t.get_text() for t in ax.texts)
    ['云和县', '庆元县', '景宁畲族自治县', '松阳县']
    """
    import matplotlib.pyplot as plt

    from policyeval.plots.fonts import use_cjk_font

    needed = ["lon", "lat", "score", "origin", "destination", "candidate"]
    lacking = [c for c in needed if c not in table.columns]
    if lacking:
        raise DataError(f"table lacks columns {examples(lacking, None)}; pass what "
                        "partner_scores returns")
    use_cjk_font()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    first = table.iloc[0]
    focal = first["origin"] if first["candidate"] != first["origin"] else first["destination"]
    point = county_centroids([focal], centroids=centroids).iloc[0]
    sc = ax.scatter(table["lon"], table["lat"], c=table["score"], cmap="viridis", s=40, zorder=2)
    ax.figure.colorbar(sc, ax=ax, label="score")
    ax.scatter([point["lon"]], [point["lat"]], marker="*", s=220, color="crimson", zorder=3)
    ax.annotate(str(point["name"] or focal), (point["lon"], point["lat"]), xytext=(5, 5),
                textcoords="offset points", color="crimson")
    for _, row in table.head(label_top).iterrows():
        name = row["name"] if "name" in row and isinstance(row["name"], str) else row["candidate"]
        ax.annotate(name, (row["lon"], row["lat"]), xytext=(4, -10), textcoords="offset points",
                    fontsize="small")
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_aspect(1 / np.cos(np.radians(float(table["lat"].mean()))))
    if title:
        ax.set_title(title)
    return ax
