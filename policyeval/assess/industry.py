"""Which industries fit a county: location quotients, RCA, relatedness density, shift-share.

Input is a long table, one row per county × industry × year with a
non-negative size (employment or output), as census and yearbook sheets give
it. A (county, industry, year) without a row counts as zero. The counties in
the table are the reference economy ("national" below): shares, growth
rates and the industry space are computed over them.

- **Location quotient** (Balassa's revealed comparative advantage on
  employment or output), :math:`LQ_{ci} = (X_{ci}/X_c)/(X_i/X)`;
  :math:`M_{ci} = 1[LQ_{ci} \\ge 1]` marks the county's specialisations.
- **Proximity** of two industries (Hidalgo, Klinger, Barabási & Hausmann
  2007, Science 317(5837): 482--487): the smaller of the two conditional
  probabilities that a county specialised in one is specialised in the other,
  :math:`\\phi_{ij} = \\sum_c M_{ci}M_{cj} / \\max(k_i, k_j)` with ubiquity
  :math:`k_i = \\sum_c M_{ci}`.
- **Relatedness density** of industry :math:`i` for county :math:`c`: the
  proximity-weighted share of :math:`i`'s neighbours in which :math:`c` is
  specialised, :math:`\\omega_{ci} = \\sum_{j \\ne i} M_{cj}\\phi_{ij} /
  \\sum_{j \\ne i}\\phi_{ij}` (the industry itself is left out, so a county's
  present specialisation does not count as evidence for itself).
- **Shift-share** of the change between two years into national growth,
  industry mix and the local (competitive) effect.

Industry codes are GB/T 4754-2017 sections (门类 A--T, shipped with their
Chinese names: :func:`gbt4754_sections`) or two-digit divisions (大类 01--97);
``codes=None`` accepts any labels.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._validation import (
    examples,
    integer_periods,
    numeric_column,
    require_columns,
    require_frame,
)
from policyeval.data.industry_sheet import gbt4754_sections
from policyeval.exceptions import (
    ArgumentTypeError,
    DataError,
    DuplicateObservationError,
    DataQualityWarning,
)

__all__ = ["gbt4754_sections", "industry_matrix", "location_quotients", "rca", "proximity",
           "relatedness_density", "shift_share", "industry_fit", "example_industry_panel"]

_COLS = {"idname": "county_code", "industry": "industry", "tname": "year", "yname": "employment"}


def _check_codes(labels: pd.Series, codes, industry: str) -> None:
    if codes is None:
        return
    if isinstance(codes, str):
        if codes != "gbt4754":
            raise ArgumentTypeError(f"codes={codes!r}: use 'gbt4754', None, or a list of codes")
        sections = set(gbt4754_sections()["code"])
        valid = {*sections, *(f"{k:02d}" for k in range(1, 98))}
        hint = "GB/T 4754-2017 sections A-T or divisions 01-97"
    else:
        valid = {str(c) for c in codes}
        hint = "the codes given"
    unknown = sorted(set(labels) - valid)
    if unknown:
        raise DataError(
            f"industry={industry!r} has {len(unknown)} unknown industry codes "
            f"(e.g. {examples(unknown)}); expected {hint}; pass codes=None to accept any labels")


def _validate(df, idname, industry, tname, yname, codes) -> pd.DataFrame:
    """The panel as a clean long frame (str ids and codes, int years, float values)."""
    require_frame(df, "df")
    require_columns(df, where="df", strict=True, idname=idname, industry=industry, tname=tname,
                    yname=yname)
    values = numeric_column(df, yname, "yname", idname)
    data = pd.DataFrame({"id": df[idname].astype(str).to_numpy(),
                         "ind": df[industry].astype(str).str.strip().to_numpy(),
                         "t": numeric_column(df, tname, "tname", idname), "x": values})

    def key(rows):
        return (f"{a}/{b}/{int(c) if np.isfinite(c) else c}"
                for a, b, c in data.loc[rows, ["id", "ind", "t"]].itertuples(index=False))

    missing = data["x"].isna() | data["t"].isna()
    if missing.any():
        raise DataError(f"{int(missing.sum())} rows have a missing {yname!r} or {tname!r} "
                        f"(e.g. {idname}/{industry}/{tname} = {examples(key(missing))}); "
                        "fill them (0 if no activity) or drop them before the call")
    data["t"] = integer_periods(data["t"], "tname", tname, data["id"]).astype(int)
    negative = data["x"] < 0
    if negative.any():
        raise DataError(f"yname={yname!r} has {int(negative.sum())} negative values "
                        f"(e.g. {idname}/{industry}/{tname} = {examples(key(negative))}); "
                        "employment and output cannot be negative")
    dup = data.duplicated(["id", "ind", "t"], keep=False)
    if dup.any():
        raise DuplicateObservationError(
            f"{int(data[dup].duplicated(['id', 'ind', 't']).sum())} duplicate "
            f"({idname}, {industry}, {tname}) keys (e.g. {examples(key(dup))}); "
            "one row per county, industry and year")
    _check_codes(data["ind"], codes, industry)
    present = data.groupby("t")["ind"].agg(set)
    every = set(data["ind"])
    gaps = {t: sorted(every - inds) for t, inds in present.items() if every - inds}
    if gaps:
        inds = sorted(set().union(*gaps.values()))
        warnings.warn(
            f"{len(inds)} industries (e.g. {examples(inds)}) have no row in {len(gaps)} of "
            f"{len(present)} years (e.g. {examples(gaps)}); they count as 0 there, which "
            "changes shares and growth rates; check the source sheet",
            DataQualityWarning, stacklevel=3)
    return data


def _matrix(data: pd.DataFrame, year: int, argument: str = "year", *,
            shares: bool = True) -> pd.DataFrame:
    one = data[data["t"] == year]
    if one.empty:
        raise DataError(f"{argument}={year!r} is not in the data (years: "
                        f"{examples(sorted(data['t'].unique()), None)})")
    x = one.pivot(index="id", columns="ind", values="x").fillna(0.0)
    x = x.reindex(columns=sorted(data["ind"].unique()), fill_value=0.0)
    x.index.name, x.columns.name = "county", "industry"
    empty = x.index[x.sum(axis=1) == 0]
    if shares and len(empty):
        raise DataError(f"{len(empty)} counties have a zero total in {year} (e.g. "
                        f"{examples(empty)}); shares are undefined for them")
    return x


def _lq(x: np.ndarray) -> np.ndarray:
    share_c = x / x.sum(axis=1, keepdims=True)
    share_n = x.sum(axis=0) / x.sum()
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(share_n > 0, share_c / share_n, 0.0)


def _proximity(m: np.ndarray) -> np.ndarray:
    co = m.T @ m
    k = np.diag(co)
    denom = np.maximum(k[:, None], k[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denom > 0, co / denom, 0.0)


def _density(m: np.ndarray, phi: np.ndarray) -> np.ndarray:
    off = phi - np.diag(np.diag(phi))
    total = off.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (m @ off) / total, 0.0)


def _frame(values, like: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(values, index=like.index, columns=like.columns)


def industry_matrix(df: pd.DataFrame, year: int, *, idname: str = "county_code",
                    industry: str = "industry", tname: str = "year", yname: str = "employment",
                    codes="gbt4754") -> pd.DataFrame:
    """County × industry matrix of one year (missing cells 0), after validating the panel.

    Parameters
    ----------
    df : pandas.DataFrame
        Long table, one row per county, industry and year.
    year : int
    idname, industry, tname, yname : str
        Columns: county id, industry code, year, size (employment or output, ≥ 0).
    codes : "gbt4754", list or None
        Valid industry codes: GB/T 4754-2017 sections A--T or divisions
        01--97 (default), your own list, or None for any label.

    Returns
    -------
    pandas.DataFrame
        Counties (str ids) as rows, industries as columns, float values.

    Raises
    ------
    ColumnNotFoundError
        If a named column is missing.
    DataError
        Missing or negative values, unknown industry codes, a year not in
        the data, a county with zero total.
    DuplicateObservationError
        If a (county, industry, year) appears twice.

    Warns
    -----
    DataQualityWarning
        If an industry has no row at all in some years (counted, with examples).

    Examples
    --------
    >>> from policyeval.assess import example_industry_panel, industry_matrix
    >>> panel = example_industry_panel(random_state=0)        # simulated
    >>> industry_matrix(panel, 2020).shape
    (18, 10)
    """
    return _matrix(_validate(df, idname, industry, tname, yname, codes), year)


def location_quotients(df: pd.DataFrame, year: int, **columns) -> pd.DataFrame:
    """Location quotients :math:`LQ_{ci} = (X_{ci}/X_c)/(X_i/X)` of one year.

    Parameters
    ----------
    df, year, **columns
        As :func:`industry_matrix` (``idname``, ``industry``, ``tname``,
        ``yname``, ``codes``).

    Returns
    -------
    pandas.DataFrame
        Counties × industries; an industry no county has gets 0.

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.assess import location_quotients
    >>> toy = pd.DataFrame({"county_code": ["a", "a", "b", "b"], "industry": ["A", "C"] * 2,
    ...                     "year": 2020, "employment": [30.0, 10.0, 10.0, 50.0]})  # made-up
    >>> location_quotients(toy, 2020).round(3).loc["a"].tolist()   # (30/40)/(40/100), (10/40)/(60/100)
    [1.875, 0.417]
    """
    x = industry_matrix(df, year, **columns)
    return _frame(_lq(x.to_numpy()), x)


def rca(df: pd.DataFrame, year: int, *, threshold: float = 1.0, **columns) -> pd.DataFrame:
    """Revealed comparative advantage as 0/1: :math:`M_{ci} = 1[LQ_{ci} \\ge` ``threshold`` :math:`]`.

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.assess import rca
    >>> toy = pd.DataFrame({"county_code": ["a", "a", "b", "b"], "industry": ["A", "C"] * 2,
    ...                     "year": 2020, "employment": [30.0, 10.0, 10.0, 50.0]})  # made-up
    >>> rca(toy, 2020).to_dict("index")
    {'a': {'A': 1, 'C': 0}, 'b': {'A': 0, 'C': 1}}
    """
    lq = location_quotients(df, year, **columns)
    return (lq >= threshold).astype(int)


def proximity(df: pd.DataFrame, year: int, *, threshold: float = 1.0, **columns) -> pd.DataFrame:
    """Industry-space proximity :math:`\\phi_{ij}` (Hidalgo et al. 2007) from co-location.

    Returns
    -------
    pandas.DataFrame
        Industries × industries, symmetric, in [0, 1]; the diagonal is 1 for
        an industry some county is specialised in, 0 otherwise.

    Notes
    -----
    .. math:: \\phi_{ij} = \\min\\{P(M_i = 1 \\mid M_j = 1), P(M_j = 1 \\mid M_i = 1)\\}
              = \\frac{\\sum_c M_{ci} M_{cj}}{\\max(k_i, k_j)}

    References
    ----------
    Hidalgo, C. A., Klinger, B., Barabási, A.-L. & Hausmann, R. (2007). The
    product space conditions the development of nations. Science 317(5837), 482--487.

    Examples
    --------
    >>> from policyeval.assess import example_industry_panel, proximity
    >>> phi = proximity(example_industry_panel(random_state=0), 2020)   # simulated
    >>> bool((phi.to_numpy() == phi.to_numpy().T).all()), float(phi.to_numpy().max()) <= 1
    (True, True)
    """
    m = rca(df, year, threshold=threshold, **columns)
    return pd.DataFrame(_proximity(m.to_numpy(dtype=float)), index=m.columns, columns=m.columns)


def relatedness_density(df: pd.DataFrame, year: int, *, threshold: float = 1.0,
                        **columns) -> pd.DataFrame:
    """Relatedness density :math:`\\omega_{ci}` of every industry for every county.

    Returns
    -------
    pandas.DataFrame
        Counties × industries in [0, 1]: 1 if the county is specialised in
        every industry related to :math:`i`, 0 if in none (or :math:`i` has
        no related industry).

    Notes
    -----
    .. math:: \\omega_{ci} = \\frac{\\sum_{j \\ne i} M_{cj}\\,\\phi_{ij}}{\\sum_{j \\ne i} \\phi_{ij}}

    Examples
    --------
    >>> from policyeval.assess import example_industry_panel, relatedness_density
    >>> dens = relatedness_density(example_industry_panel(random_state=0), 2020)  # simulated
    >>> dens.shape, bool(((dens >= 0) & (dens <= 1)).all().all())
    ((18, 10), True)
    """
    m = rca(df, year, threshold=threshold, **columns)
    mm = m.to_numpy(dtype=float)
    return _frame(_density(mm, _proximity(mm)), m)


def shift_share(df: pd.DataFrame, base_year: int, year: int, *, idname: str = "county_code",
                industry: str = "industry", tname: str = "year", yname: str = "employment",
                codes="gbt4754") -> pd.DataFrame:
    """Shift-share decomposition of each county-industry change between two years.

    Parameters
    ----------
    df : pandas.DataFrame
    base_year, year : int
        The two years compared.
    idname, industry, tname, yname, codes
        As :func:`industry_matrix`.

    Returns
    -------
    pandas.DataFrame
        One row per county and industry: ``county``, ``industry``, ``base``,
        ``value``, ``change``, ``national_share``, ``industry_mix``,
        ``competitive`` (the three add up to ``change``), and the growth
        rates ``national_growth``, ``industry_growth``.

    Raises
    ------
    DataError
        If an industry has a zero national total in ``base_year`` (its
        growth rate is undefined), plus the checks of :func:`industry_matrix`.

    Notes
    -----
    With national growth :math:`g = X^1/X^0 - 1` and industry growth
    :math:`g_i = X_i^1/X_i^0 - 1`:

    .. math::
        \\Delta X_{ci} = \\underbrace{X^0_{ci}\\,g}_{\\text{national share}}
        + \\underbrace{X^0_{ci}(g_i - g)}_{\\text{industry mix}}
        + \\underbrace{\\Delta X_{ci} - X^0_{ci}\\,g_i}_{\\text{competitive}}

    (the competitive term is :math:`X^0_{ci}(g_{ci} - g_i)` where the local
    growth :math:`g_{ci}` is defined, and the whole change where
    :math:`X^0_{ci} = 0`).

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.assess import shift_share
    >>> toy = pd.DataFrame({"county_code": ["a", "a", "b", "b"] * 2,
    ...                     "industry": ["A", "C"] * 4, "year": [2015] * 4 + [2020] * 4,
    ...                     "employment": [10.0, 10, 10, 10, 10, 20, 10, 30]})  # made-up
    >>> ss = shift_share(toy, 2015, 2020).set_index(["county", "industry"])
    >>> ss.loc[("a", "C"), ["change", "national_share", "industry_mix", "competitive"]].tolist()
    [10.0, 7.5, 7.5, -5.0]
    """
    data = _validate(df, idname, industry, tname, yname, codes)
    x0 = _matrix(data, base_year, "base_year", shares=False)  # a county may start from nothing
    x1 = _matrix(data, year, "year", shares=False)
    counties = x0.index.union(x1.index)
    x0 = x0.reindex(counties, fill_value=0.0)
    x1 = x1.reindex(counties, fill_value=0.0)
    tot0 = x0.sum(axis=0)
    dead = tot0.index[tot0 == 0]
    if len(dead):
        raise DataError(f"{len(dead)} industries (e.g. {examples(dead)}) have a zero total in "
                        f"base_year={base_year}; their growth rate is undefined")
    g = x1.to_numpy().sum() / x0.to_numpy().sum() - 1
    gi = (x1.sum(axis=0) / tot0 - 1).to_numpy()
    a0, a1 = x0.to_numpy(), x1.to_numpy()
    national = a0 * g
    mix = a0 * (gi[None, :] - g)
    change = a1 - a0
    out = pd.DataFrame({
        "county": np.repeat(counties.to_numpy(), len(x0.columns)),
        "industry": np.tile(x0.columns.to_numpy(), len(counties)),
        "base": a0.ravel(), "value": a1.ravel(), "change": change.ravel(),
        "national_share": national.ravel(), "industry_mix": mix.ravel(),
        "competitive": (change - national - mix).ravel(),
        "national_growth": g, "industry_growth": np.tile(gi, len(counties)),
    })
    return out


def _standardise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    sd = x.std()
    return (x - x.mean()) / sd if sd > 0 else np.zeros_like(x)


def _weighted_score(table: pd.DataFrame, weights: dict, argument: str = "weights") -> pd.DataFrame:
    """Add ``z_<k>``, ``contrib_<k>`` = weight × z and ``score`` = their sum, for each weighted k."""
    unknown = [k for k in weights if k not in table.columns]
    if unknown:
        raise DataError(f"{argument} names unknown components (e.g. {examples(unknown)}); "
                        f"available: {examples(table.columns, None)}")
    score = np.zeros(len(table))
    for k, w in weights.items():
        if not isinstance(w, (int, float, np.integer, np.floating)) or not np.isfinite(w):
            raise ArgumentTypeError(f"{argument}[{k!r}]={w!r} must be a finite number")
        z = _standardise(table[k].to_numpy())
        table[f"z_{k}"] = z
        table[f"contrib_{k}"] = w * z
        score += w * z
    table["score"] = score
    return table


def industry_fit(df: pd.DataFrame, county, year: int, *, base_year: int | None = None,
                 weights: dict | None = None, threshold: float = 1.0,
                 idname: str = "county_code", industry: str = "industry", tname: str = "year",
                 yname: str = "employment", codes="gbt4754") -> pd.DataFrame:
    """Rank industries by how well they fit ``county``, with every part of the score shown.

    Parameters
    ----------
    df : pandas.DataFrame
        Long county × industry × year table (see :func:`industry_matrix`).
    county : str or int
        The county assessed (its id in ``idname``).
    year : int
        Year of the structure (LQ, RCA, density).
    base_year : int, optional
        If given, the shift-share between ``base_year`` and ``year`` adds the
        industry's national growth and the county's competitive effect.
    weights : dict, optional
        Component -> weight of its standardised (z-score across industries)
        value. Default ``{"density": 1, "lq": 1}`` plus
        ``"industry_growth": 1`` when ``base_year`` is given. Any numeric
        column of the returned table may be weighted.
    threshold : float, default 1.0
        LQ at which a county counts as specialised (RCA).
    idname, industry, tname, yname, codes
        As :func:`industry_matrix`.

    Returns
    -------
    pandas.DataFrame
        One row per industry, best first: ``rank``, ``industry``, ``name_zh``
        (GB/T 4754 sections), ``value``, ``share``, ``lq``, ``rca``,
        ``density``, with ``base_year`` also ``industry_growth`` and
        ``competitive_share`` (competitive effect / base value of the
        county, or NaN where the base is 0); then ``z_<k>``,
        ``contrib_<k>`` and ``score`` = sum of contributions.

    Raises
    ------
    DataError
        If ``county`` is not in the data in ``year`` or a weight names an
        unknown component; plus the checks of :func:`industry_matrix`.

    Notes
    -----
    :math:`\\text{score}_i = \\sum_k w_k z_{ik}`, :math:`z_{ik}` the component
    standardised across industries (mean 0, sd 1; 0 where it does not vary).
    A high density says the county already does many related things (the
    "fit" of Hidalgo et al. 2007); a high LQ says it already specialises;
    national growth says the industry is expanding. The weights are a
    judgement, so the parts are returned with the score.

    Examples
    --------
    >>> from policyeval.assess import example_industry_panel, industry_fit
    >>> panel = example_industry_panel(random_state=0)           # simulated
    >>> fit = industry_fit(panel, "331126", 2020, base_year=2015)   # 庆元县
    >>> fit.columns[:8].tolist()
    ['rank', 'industry', 'name_zh', 'value', 'share', 'lq', 'rca', 'density']
    >>> bool(abs(fit["score"] - fit.filter(like="contrib_").sum(axis=1)).max() < 1e-12)
    True
    """
    data = _validate(df, idname, industry, tname, yname, codes)
    x = _matrix(data, year)
    key = str(county)
    if key not in x.index:
        raise DataError(f"county={county!r} is not in idname={idname!r} in {year} "
                        f"(e.g. {examples(x.index)})")
    arr = x.to_numpy()
    lq = _lq(arr)
    m = (lq >= threshold).astype(float)
    dens = _density(m, _proximity(m))
    r = x.index.get_loc(key)
    table = pd.DataFrame({"industry": x.columns, "value": arr[r], "share": arr[r] / arr[r].sum(),
                          "lq": lq[r], "rca": m[r].astype(int), "density": dens[r]})
    names = gbt4754_sections().set_index("code")["name_zh"]
    table.insert(1, "name_zh", table["industry"].map(names))
    default = {"density": 1.0, "lq": 1.0}
    if base_year is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)  # warned once above
            ss = shift_share(df, base_year, year, idname=idname, industry=industry, tname=tname,
                             yname=yname, codes=codes)
        ss = ss[ss["county"] == key].set_index("industry")
        table["industry_growth"] = table["industry"].map(ss["industry_growth"]).to_numpy()
        base = table["industry"].map(ss["base"]).to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            table["competitive_share"] = np.where(
                base > 0, table["industry"].map(ss["competitive"]).to_numpy() / base, np.nan)
        default["industry_growth"] = 1.0
    table = _weighted_score(table, default if weights is None else dict(weights))
    table = table.sort_values(["score", "industry"], ascending=[False, True], kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def example_industry_panel(random_state=0, years=(2015, 2020)) -> pd.DataFrame:
    """A **simulated** county × industry × year employment table for examples and tests.

    Eighteen real Zhejiang county codes (the nine of 丽水 and partners in
    杭州, 宁波, 嘉兴, 衢州, 金华) and ten GB/T 4754 sections; employment
    is drawn from a seeded log-linear model with a county "urbanness" that
    favours services (I, J, M) and a mountain tilt that favours A and C. The
    numbers are simulated, not statistics of these counties.

    Parameters
    ----------
    random_state : int or numpy.random.Generator, default 0
    years : sequence of int, default (2015, 2020)

    Returns
    -------
    pandas.DataFrame
        Columns ``county_code``, ``county_name``, ``industry``, ``year``,
        ``employment`` (persons), ``simulated`` (always True).

    Examples
    --------
    >>> from policyeval.assess import example_industry_panel
    >>> p = example_industry_panel(random_state=0)
    >>> len(p), bool(p["simulated"].all())
    (360, True)
    """
    rng = np.random.default_rng(random_state)
    counties = {
        "331102": ("莲都区", 0.5), "331121": ("青田县", 0.2), "331122": ("缙云县", 0.2),
        "331123": ("遂昌县", 0.0), "331124": ("松阳县", 0.0), "331125": ("云和县", 0.1),
        "331126": ("庆元县", 0.0), "331127": ("景宁畲族自治县", 0.0), "331181": ("龙泉市", 0.1),
        "330106": ("西湖区", 1.0), "330108": ("滨江区", 1.0), "330109": ("萧山区", 0.8),
        "330110": ("余杭区", 0.9), "330211": ("镇海区", 0.7), "330212": ("鄞州区", 0.8),
        "330421": ("嘉善县", 0.6), "330803": ("衢江区", 0.2), "330782": ("义乌市", 0.7),
    }
    # industry: (level, loading on urbanness, trend per year)
    industries = {"A": (8.5, -2.0, -0.03), "B": (5.0, -1.0, -0.04), "C": (9.5, 0.3, 0.01),
                  "D": (6.0, 0.0, 0.01), "E": (8.0, 0.2, 0.02), "F": (8.5, 0.8, 0.02),
                  "G": (7.0, 0.6, 0.02), "I": (5.5, 2.5, 0.08), "J": (6.0, 1.8, 0.04),
                  "M": (5.5, 2.2, 0.06)}
    size = {c: rng.normal(0.0, 0.4) for c in counties}
    local = {(c, i): rng.normal(0.0, 0.35) for c in counties for i in industries}
    rows = []
    for year in years:
        for c, (name, urban) in counties.items():
            for i, (level, load, trend) in industries.items():
                mu = level + load * urban + size[c] + local[(c, i)] + trend * (year - years[0])
                emp = float(np.round(np.exp(mu + rng.normal(0.0, 0.05))))
                rows.append((c, name, i, int(year), emp))
    out = pd.DataFrame(rows, columns=["county_code", "county_name", "industry", "year", "employment"])
    out["simulated"] = True
    return out
