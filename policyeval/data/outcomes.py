"""Real values and the outcomes enclave studies look at.

:func:`deflate` turns nominal money into constant prices of a stated base
year. The outcome builders compute, from a long panel, the quantities the
enclave literature and policy scoreboards use:

=============================  =========================================  ==========
builder                        formula                                    unit
=============================  =========================================  ==========
:func:`gdp_per_mu`             GDP / land (亩)                            万元/亩
:func:`value_added_per_mu`     industrial value added / land (亩)         万元/亩
:func:`tax_per_mu`             tax revenue / land (亩)                    万元/亩
:func:`tax_per_capita`         tax revenue / population                   元/人
:func:`patents_per_10k`        patents / population × 10⁴                 件/万人
:func:`talent_net_inflow`      S_t − (1 + n_t) S_{t−1}                    人
:func:`talent_inflow_rate`     talent_net_inflow / P_{t−1} × 10⁴          人/万人
=============================  =========================================  ==========

亩均增加值 and 亩均税收 follow Zhejiang's 亩均论英雄 reform (浙政发〔2018〕5号),
as stated in DOMAIN.md §2 (formulas: https://chacewang.com/newsdetail/news169062.html).

Every builder returns a Series named after the outcome whose
``attrs["unit"]`` and ``attrs["formula"]`` say what it is. Units of the input
columns come from the arguments or from ``df.attrs["units"]`` (which
:func:`policyeval.data.read_yearbook` fills); a unit that is known nowhere
raises rather than being guessed, because 万元 and 亿元 differ by 10⁴.
A zero or missing denominator gives NaN and a warning, never ``inf``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from policyeval._validation import examples as _examples
from policyeval._validation import require_columns
from policyeval.data.units import MU_PER_KM2, conversion_factor, parse_unit
from policyeval.exceptions import (
    DataError,
    DataQualityWarning,
    PolicyevalWarning,
    UnitParseError,
)

__all__ = [
    "deflate",
    "chain_index",
    "output_per_mu",
    "gdp_per_mu",
    "value_added_per_mu",
    "tax_per_mu",
    "tax_per_capita",
    "patents_per_10k",
    "talent_net_inflow",
    "talent_inflow_rate",
    "MU_PER_KM2",
]


# --------------------------------------------------------------------------- helpers


def _need(df: pd.DataFrame, **columns: str) -> None:
    # one-element lists: a None here is a missing column, not "argument unused"
    require_columns(df, show=None, **{arg: [col] for arg, col in columns.items()})


def _unit(df: pd.DataFrame, column: str, given: str | None, arg: str, kind: str):
    if given is None:
        given = (df.attrs.get("units") or {}).get(column)
    if given is None:
        raise UnitParseError(
            f"the unit of column {column!r} is unknown: pass {arg}= (e.g. "
            f"{ {'money': '万元', 'area': '平方公里', 'population': '人', 'count': '件'}.get(kind, '%')!r}) "
            "or read the data with read_yearbook, which records units in attrs['units']"
        )
    unit = parse_unit(given)
    if unit.kind != kind:
        raise UnitParseError(f"{arg}={unit.symbol!r} for column {column!r} is a {unit.kind} unit, not {kind}")
    return unit


def _rows(df: pd.DataFrame, mask: np.ndarray, idname: str | None, tname: str | None) -> str:
    cols = [c for c in (idname, tname) if c is not None and c in df.columns]
    if not cols:
        return "index " + _examples(df.index[mask])
    sub = df.loc[mask, cols].head(3)
    return "; ".join(", ".join(f"{c}={v}" for c, v in zip(cols, row)) for row in sub.itertuples(index=False))


def _safe_ratio(
    num: pd.Series,
    den: pd.Series,
    df: pd.DataFrame,
    den_col: str,
    idname: str | None,
    tname: str | None,
) -> pd.Series:
    num = pd.to_numeric(num).astype("float64")
    den = pd.to_numeric(den).astype("float64")
    negative = (den < 0).to_numpy()
    if negative.any():
        raise DataError(
            f"column {den_col!r} has {int(negative.sum())} negative value(s) "
            f"(e.g. at {_rows(df, negative, idname, tname)}); a denominator cannot be negative"
        )
    bad = ((den == 0) | den.isna()).to_numpy() & num.notna().to_numpy()
    if bad.any():
        warnings.warn(
            f"column {den_col!r} is zero or missing in {int(bad.sum())} row(s) with a numerator "
            f"(e.g. at {_rows(df, bad, idname, tname)}); the ratio is NaN there",
            PolicyevalWarning,
            stacklevel=3,
        )
    return num / den.where(den != 0)


def _finish(values: pd.Series, name: str, unit: str, formula: str) -> pd.Series:
    out = values.rename(name)
    out.attrs = {"unit": unit, "formula": formula}
    return out


# --------------------------------------------------------------------------- deflation


def deflate(
    df: pd.DataFrame,
    columns: str | Sequence[str],
    price_index: pd.Series | Mapping[int, float] | str,
    base_year: int,
    *,
    tname: str = "year",
    idname: str | None = None,
    index_type: str | None = None,
    suffix: str | None = None,
) -> pd.DataFrame:
    """Convert nominal money to constant prices of ``base_year``.

    Parameters
    ----------
    df : DataFrame
        Long panel with a year column.
    columns : str or sequence of str
        Nominal money columns to deflate.
    price_index : Series, mapping or str
        A price index by year (Series indexed by year or ``{year: value}``,
        e.g. a provincial GDP deflator), or the name of a column of ``df``
        holding a unit-specific index (then ``idname`` is required).
    base_year : int
        Year whose prices the result is expressed in.
    tname : str, default "year"
    idname : str, optional
        Unit column; required when ``price_index`` is a column.
    index_type : {"level", "chain"}, optional
        ``"level"``: an index on any fixed base (2010 = 100, 1978 = 100, or
        1). ``"chain"``: yearbook 上年=100 indices (each year relative to the
        previous one); they are chained into a level index first, which
        needs consecutive years (:func:`chain_index` does the same
        conversion on its own). Default: ``"level"``, with a warning when the
        index looks like a chain index (see Warns); pass ``"level"``
        explicitly for a fixed-base index to silence it.
    suffix : str, optional
        Suffix of the new columns; default ``f"_real_{base_year}"``.

    Returns
    -------
    DataFrame
        A copy with one new column per deflated column (the nominal columns
        are kept). ``attrs["deflated"]`` lists
        ``{column, new_column, base_year, index_type, price_index}`` and
        ``attrs["units"]`` gives each new column the unit of its source.

    Raises
    ------
    ColumnNotFoundError
        A column is absent.
    DataError
        The index lacks a year present in ``df`` or the base year, holds a
        non-positive value, or a chain index skips a year.

    Warns
    -----
    DataQualityWarning
        ``index_type`` not given and the index looks like a previous-year =
        100 chain index: at least three years, every value between 85 and 125
        and none equal to 100. A fixed-base index equals 100 in its base year
        and drifts away from it; a chain index hovers just above 100 every
        year. Read as a level, a chain index removes almost no inflation.

    Notes
    -----
    With a level index :math:`P_t`,

    .. math:: y^{real}_{it} = y^{nominal}_{it} \\, P_{b} / P_{t},

    where :math:`b` is ``base_year``. A chain index :math:`c_t` (previous
    year = 100) gives :math:`P_t = \\prod_{s=t_0+1}^{t} c_s/100` with
    :math:`P_{t_0} = 1`; the choice of :math:`t_0` cancels in
    :math:`P_b/P_t`.

    Examples
    --------
    >>> panel = pd.DataFrame({"year": [2010, 2011], "gdp": [100.0, 110.0]})
    >>> deflate(panel, "gdp", pd.Series({2010: 100.0, 2011: 110.0}), base_year=2010)["gdp_real_2010"].tolist()
    [100.0, 100.0]
    """
    cols = [columns] if isinstance(columns, str) else list(columns)
    _need(df, tname=tname, **{f"columns[{k}]": c for k, c in enumerate(cols)})
    if index_type not in (None, "level", "chain"):
        raise DataError(f"index_type={index_type!r} must be 'level' or 'chain'")
    guessed = index_type is None
    index_type = "level" if guessed else index_type
    suffix = f"_real_{base_year}" if suffix is None else suffix
    years = pd.to_numeric(df[tname]).astype("int64")

    if isinstance(price_index, str):
        if idname is None:
            raise DataError(
                f"price_index={price_index!r} is a column, so idname= is needed to find each "
                f"unit's base-year ({base_year}) value"
            )
        _need(df, price_index=price_index, idname=idname)
        if guessed:
            _warn_if_chained(pd.to_numeric(df[price_index]).to_numpy(dtype=float), years.to_numpy(),
                             f"price_index={price_index!r}")
        ratio = _column_index_ratio(df, price_index, idname, years, base_year, index_type)
        label = price_index
    else:
        series = pd.Series(price_index, dtype="float64")
        try:
            series.index = series.index.astype("int64")
        except (TypeError, ValueError):
            raise DataError("price_index must be indexed by integer years") from None
        series = series.sort_index()
        _check_index(series.to_numpy(), "price_index", series.index.to_numpy())
        if guessed:
            _warn_if_chained(series.to_numpy(), series.index.to_numpy(), "price_index")
        if index_type == "chain":
            series = _chain(series, "price_index")
        needed = sorted(set(years.unique()) | {base_year})
        missing = [y for y in needed if y not in series.index or pd.isna(series.get(y))]
        if missing:
            raise DataError(
                f"price_index has no value for year(s) {_examples(missing, 5)} "
                f"(needed for {tname}={tname!r} and base_year={base_year})"
            )
        ratio = pd.Series(series[base_year] / series.reindex(years).to_numpy(), index=df.index)
        label = str(series.name) if series.name is not None else "series"

    out = df.copy()
    out.attrs = dict(df.attrs)
    units = dict(out.attrs.get("units") or {})
    record = list(out.attrs.get("deflated") or [])
    for col in cols:
        new = f"{col}{suffix}"
        out[new] = pd.to_numeric(out[col]).astype("float64") * ratio.to_numpy()
        if col in units:
            units[new] = units[col]
        record.append(
            {"column": col, "new_column": new, "base_year": int(base_year),
             "index_type": index_type, "price_index": label}
        )
    out.attrs["units"] = units
    out.attrs["deflated"] = record
    return out


def _warn_if_chained(values: np.ndarray, years: np.ndarray, arg: str) -> None:
    """Warn when a price index read as a level looks like a previous-year = 100 chain index."""
    ok = np.isfinite(values)
    values, years = values[ok], np.asarray(years)[ok]
    if len(np.unique(years)) < 3 or not ((values >= 85) & (values <= 125)).all():
        return
    if np.isclose(values, 100.0, rtol=0, atol=1e-9).any():
        return  # a fixed-base index equals 100 in its base year
    by_year = pd.Series(values).groupby(years).mean()
    first, last = int(by_year.index[0]), int(by_year.index[-1])
    as_level = by_year.iloc[-1] / by_year.iloc[0] - 1
    as_chain = (by_year.iloc[1:] / 100.0).prod() - 1
    warnings.warn(
        f"{arg} looks like a previous-year = 100 chain index (上年=100), not a fixed-base index: "
        f"all {ok.sum()} values lie between {values.min():g} and {values.max():g} and none is 100. "
        f"Read as a level it says prices changed {as_level:+.1%} from {first} to {last}; chained, "
        f"{as_chain:+.1%}. Pass index_type='chain' (or convert it with chain_index()), or "
        "index_type='level' if it really is a fixed-base index",
        DataQualityWarning,
        stacklevel=3,
    )


def chain_index(index: pd.Series | Mapping[int, float], base_year: int | None = None) -> pd.Series:
    """Turn a previous-year = 100 chain index (上年=100) into a fixed-base index.

    Parameters
    ----------
    index : Series or mapping
        Chain index by consecutive year, e.g. ``{2011: 105.4, 2012: 102.6}``:
        each value is the year's price level relative to the previous year's,
        times 100.
    base_year : int, optional
        Year set to 100 in the result; default the first year.

    Returns
    -------
    Series
        Fixed-base index (``base_year`` = 100) by year, named
        ``f"index_{base_year}=100"``; the first year's chain value is not
        used (it links to a year outside the series).

    Raises
    ------
    DataError
        Years not consecutive, a missing or non-positive value, or
        ``base_year`` outside the years.

    Notes
    -----
    :math:`P_t = 100 \\prod_{s=t_0+1}^{t} c_s/100 \\big/ \\prod_{s=t_0+1}^{b} c_s/100`,
    with :math:`t_0` the first year and :math:`b` the base year.

    Examples
    --------
    >>> chain_index({2010: 103.3, 2011: 105.0, 2012: 102.0}).round(2).tolist()
    [100.0, 105.0, 107.1]
    """
    series = pd.Series(index, dtype="float64")
    try:
        series.index = series.index.astype("int64")
    except (TypeError, ValueError):
        raise DataError("index must be indexed by integer years") from None
    series = series.sort_index()
    _check_index(series.to_numpy(), "index", series.index.to_numpy())
    level = _chain(series, "index")
    base = int(level.index[0]) if base_year is None else int(base_year)
    if base not in level.index:
        raise DataError(
            f"base_year={base_year} is not one of the index's years "
            f"({int(level.index[0])}..{int(level.index[-1])})"
        )
    return (100.0 * level / level[base]).rename(f"index_{base}=100")


def _check_index(values: np.ndarray, arg: str, where) -> None:
    bad = ~(values > 0) & ~np.isnan(values)
    if bad.any():
        raise DataError(
            f"{arg} must be positive; found {_examples(values[bad])} (e.g. at {_examples(np.asarray(where)[bad])})"
        )


def _chain(series: pd.Series, arg: str) -> pd.Series:
    years = series.index.to_numpy()
    gaps = years[1:][np.diff(years) != 1]
    if len(gaps):
        raise DataError(
            f"{arg} is a chain index (previous year = 100) but skips the year(s) before "
            f"{_examples(gaps)}; chaining needs consecutive years"
        )
    if series.isna().any():
        raise DataError(f"{arg} is a chain index with missing values in {_examples(series.index[series.isna()])}")
    level = (series / 100.0).cumprod()
    return level / level.iloc[0]


def _column_index_ratio(df, col, idname, years, base_year, index_type) -> pd.Series:
    values = pd.to_numeric(df[col]).astype("float64")
    _check_index(values.to_numpy(), f"price_index={col!r}", df[idname].to_numpy())
    work = pd.DataFrame({"id": df[idname].to_numpy(), "t": years.to_numpy(), "p": values.to_numpy()},
                        index=df.index)
    if index_type == "chain":
        parts = []
        for _, g in work.sort_values("t").groupby("id", sort=False):
            chained = _chain(pd.Series(g["p"].to_numpy(), index=g["t"].to_numpy()), f"price_index={col!r}")
            parts.append(pd.Series(chained.to_numpy(), index=g.index))
        work["p"] = pd.concat(parts)
    base = work.loc[work["t"] == base_year].set_index("id")["p"]
    lacking = sorted(set(work["id"]) - set(base.dropna().index), key=str)
    if lacking:
        raise DataError(
            f"price_index={col!r} has no {base_year} value for {len(lacking)} unit(s) of "
            f"idname={idname!r} (e.g. {_examples(lacking)}); every unit needs its base-year index"
        )
    return work["id"].map(base) / work["p"]


# --------------------------------------------------------------------------- output per land unit


def output_per_mu(
    df: pd.DataFrame,
    output: str,
    land: str,
    *,
    output_unit: str | None = None,
    land_unit: str | None = None,
    money_unit: str = "万元",
    name: str | None = None,
    idname: str | None = None,
    tname: str | None = "year",
) -> pd.Series:
    """Money per 亩 of land (亩均产出): ``output / land_in_mu``.

    Parameters
    ----------
    df : DataFrame
    output, land : str
        Money column and land-area column.
    output_unit, land_unit : str, optional
        Units of those columns; default ``df.attrs["units"]``.
    money_unit : str, default "万元"
        Money unit of the result (亩均 figures are published in 万元/亩).
    name : str, optional
        Name of the returned Series (default ``f"{output}_per_mu"``).
    idname, tname : str, optional
        Used to name offending rows in warnings and errors.

    Returns
    -------
    Series
        In ``money_unit``/亩; ``attrs["unit"]`` and ``attrs["formula"]`` set.

    Raises
    ------
    UnitParseError
        A unit is unknown or of the wrong kind.
    DataError
        Negative land area.

    Warns
    -----
    PolicyevalWarning
        Zero or missing land where output is present (the result is NaN).

    Notes
    -----
    .. math:: \\text{output per 亩}_{it} = Y_{it} / (A_{it} \\cdot k),

    with :math:`k` = 亩 per unit of :math:`A` (1500 for km², 15 for 公顷),
    since 1 亩 = 666.67 m² (DOMAIN.md §2).
    """
    _need(df, output=output, land=land)
    out_u = _unit(df, output, output_unit, "output_unit", "money")
    land_u = _unit(df, land, land_unit, "land_unit", "area")
    if parse_unit(money_unit).kind != "money":
        raise UnitParseError(f"money_unit={money_unit!r} is not a money unit")
    num = pd.to_numeric(df[output]) * conversion_factor(out_u, money_unit)
    den = pd.to_numeric(df[land]) * conversion_factor(land_u, "亩")
    ratio = _safe_ratio(num, den, df, land, idname, tname)
    unit = f"{parse_unit(money_unit).symbol}/亩"
    return _finish(ratio, name or f"{output}_per_mu", unit, f"{output} / {land} [亩]")


def gdp_per_mu(df: pd.DataFrame, gdp: str = "gdp", land: str = "land_area", **kwargs) -> pd.Series:
    """亩均GDP: GDP divided by land area in 亩, in 万元/亩 by default.

    Formula: :math:`GDP_{it} / A_{it}^{亩}`. The default land is the
    administrative area (``land_area``); pass ``land="built_up_area"`` or
    ``land="industrial_land_area"`` for a denser measure -- which one is a
    research choice, so state it. Other keywords as :func:`output_per_mu`.

    Examples
    --------
    >>> panel = pd.DataFrame({"gdp": [3.0e9], "land_area": [2.0]})
    >>> float(gdp_per_mu(panel, gdp_unit="元", land_unit="平方公里").iloc[0])  # 3e5 万元 / 3000 亩
    100.0
    """
    return output_per_mu(
        df, gdp, land, output_unit=kwargs.pop("gdp_unit", kwargs.pop("output_unit", None)),
        name=kwargs.pop("name", "gdp_per_mu"), **kwargs,
    )


def value_added_per_mu(
    df: pd.DataFrame,
    value_added: str = "industrial_value_added",
    land: str = "industrial_land_area",
    **kwargs,
) -> pd.Series:
    """亩均增加值: industrial value added ÷ land area (亩), in 万元/亩 by default.

    Formula (浙政发〔2018〕5号, via DOMAIN.md §2): :math:`VA_{it} / A_{it}^{亩}`,
    with :math:`A` the industrial land the firms use. Keywords as
    :func:`output_per_mu` (``value_added_unit`` is accepted for ``output_unit``).
    """
    return output_per_mu(
        df, value_added, land,
        output_unit=kwargs.pop("value_added_unit", kwargs.pop("output_unit", None)),
        name=kwargs.pop("name", "value_added_per_mu"), **kwargs,
    )


def tax_per_mu(
    df: pd.DataFrame, tax: str = "tax_revenue", land: str = "industrial_land_area", **kwargs
) -> pd.Series:
    """亩均税收: tax revenue ÷ land area (亩), in 万元/亩 by default.

    Formula (浙政发〔2018〕5号, via DOMAIN.md §2): :math:`T_{it} / A_{it}^{亩}`.
    The reform scores assessed tax of firms on their industrial land; with
    county data use the tax and land of the same scope. Keywords as
    :func:`output_per_mu` (``tax_unit`` is accepted for ``output_unit``).
    """
    return output_per_mu(
        df, tax, land, output_unit=kwargs.pop("tax_unit", kwargs.pop("output_unit", None)),
        name=kwargs.pop("name", "tax_per_mu"), **kwargs,
    )


# --------------------------------------------------------------------------- per-capita measures


def tax_per_capita(
    df: pd.DataFrame,
    tax: str = "tax_revenue",
    population: str = "registered_population",
    *,
    tax_unit: str | None = None,
    population_unit: str | None = None,
    money_unit: str = "元",
    idname: str | None = None,
    tname: str | None = "year",
) -> pd.Series:
    """Tax revenue per person, in 元/人 by default.

    Formula: :math:`T_{it} / P_{it}` with :math:`P` in persons. Use
    ``population="resident_population"`` (常住人口) where the yearbook has it;
    户籍人口 overstates per-capita tax in places with net out-migration.

    Returns
    -------
    Series named ``tax_per_capita``, unit ``f"{money_unit}/人"``.
    """
    _need(df, tax=tax, population=population)
    tu = _unit(df, tax, tax_unit, "tax_unit", "money")
    pu = _unit(df, population, population_unit, "population_unit", "population")
    num = pd.to_numeric(df[tax]) * conversion_factor(tu, money_unit)
    den = pd.to_numeric(df[population]) * conversion_factor(pu, "人")
    ratio = _safe_ratio(num, den, df, population, idname, tname)
    return _finish(ratio, "tax_per_capita", f"{parse_unit(money_unit).symbol}/人", f"{tax} / {population} [人]")


def patents_per_10k(
    df: pd.DataFrame,
    patents: str = "patents_granted",
    population: str = "resident_population",
    *,
    population_unit: str | None = None,
    idname: str | None = None,
    tname: str | None = "year",
) -> pd.Series:
    """Patents per 10,000 residents (件/万人).

    Formula: :math:`10^4 \\cdot N_{it} / P_{it}`, :math:`P` in persons.

    Returns
    -------
    Series named ``patents_per_10k``, unit ``件/万人``.
    """
    _need(df, patents=patents, population=population)
    pu = _unit(df, population, population_unit, "population_unit", "population")
    den = pd.to_numeric(df[population]) * conversion_factor(pu, "人")
    ratio = _safe_ratio(pd.to_numeric(df[patents]), den, df, population, idname, tname) * 1e4
    return _finish(ratio, "patents_per_10k", "件/万人", f"1e4 * {patents} / {population} [人]")


# --------------------------------------------------------------------------- talent inflow


def talent_net_inflow(
    df: pd.DataFrame,
    stock: str,
    idname: str,
    tname: str = "year",
    *,
    natural_growth: str | float | None = None,
    natural_growth_unit: str | None = None,
    stock_unit: str | None = None,
) -> pd.Series:
    """Net inflow of skilled workers, from the stock (residual method), in persons.

    Parameters
    ----------
    df : DataFrame
        Long panel, one row per (unit, year).
    stock : str
        Stock of skilled workers :math:`S_{it}` at year end (e.g.
        ``professional_technical_staff``, ``college_educated_population``,
        ``talent_stock``).
    idname, tname : str
        Unit and year columns.
    natural_growth : str or float, optional
        Natural growth rate :math:`n_{it}` of the stock -- the change it would
        have without migration (new local graduates minus retirements and
        deaths). A column name (e.g. ``natural_growth_rate``, 人口自然增长率,
        whose unit, usually ‰, comes from ``natural_growth_unit`` or
        ``df.attrs["units"]``) or a constant rate as a fraction (0.005 =
        0.5 %/year). Default 0: the measure is then the plain change in the
        stock.
    natural_growth_unit : str, optional
        ``"‰"`` or ``"%"`` for a natural-growth column.
    stock_unit : str, optional
        Unit of ``stock`` (default ``df.attrs["units"]``; 人 if unknown is
        NOT assumed -- it raises).

    Returns
    -------
    Series named ``talent_net_inflow`` in persons (人), aligned with ``df``.
    NaN in each unit's first year and wherever year :math:`t-1` is absent.

    Notes
    -----
    .. math:: NI_{it} = S_{it} - (1 + n_{it})\\, S_{i,t-1}
              = \\Delta S_{it} - n_{it} S_{i,t-1}

    i.e. the change in the stock not explained by its natural growth. Using
    the population's 人口自然增长率 as :math:`n` assumes the skilled stock
    would grow like the population without migration; a positive value is a
    net inflow. Year :math:`t-1` must be the previous calendar year: across a
    gap the change is not attributed to year :math:`t` (NaN, with a warning).

    Examples
    --------
    >>> panel = pd.DataFrame({"id": [1, 1], "year": [2010, 2011], "s": [1000.0, 1100.0]})
    >>> talent_net_inflow(panel, "s", "id", stock_unit="人", natural_growth=0.05).tolist()
    [nan, 50.0]
    """
    _need(df, stock=stock, idname=idname, tname=tname)
    su = _unit(df, stock, stock_unit, "stock_unit", "population")
    s = pd.to_numeric(df[stock]).astype("float64") * conversion_factor(su, "人")
    if isinstance(natural_growth, str):
        _need(df, natural_growth=natural_growth)
        nu = _unit(df, natural_growth, natural_growth_unit, "natural_growth_unit", "ratio")
        n = pd.to_numeric(df[natural_growth]).astype("float64") * nu.factor
    else:
        n = pd.Series(0.0 if natural_growth is None else float(natural_growth), index=df.index)
    prev = _lag(df, s, idname, tname)
    inflow = s - (1.0 + n) * prev
    return _finish(
        inflow, "talent_net_inflow", "人",
        f"{stock}_t - (1 + n_t) * {stock}_(t-1), n = {natural_growth if natural_growth is not None else 0}",
    )


def talent_inflow_rate(
    df: pd.DataFrame,
    stock: str,
    population: str,
    idname: str,
    tname: str = "year",
    *,
    natural_growth: str | float | None = None,
    natural_growth_unit: str | None = None,
    stock_unit: str | None = None,
    population_unit: str | None = None,
) -> pd.Series:
    """Net skilled inflow per 10,000 residents of the previous year (人/万人).

    Formula: :math:`10^4 \\cdot NI_{it} / P_{i,t-1}` with :math:`NI` from
    :func:`talent_net_inflow` and :math:`P` the population at the end of
    year :math:`t-1` (the people the inflow joins). Arguments as
    :func:`talent_net_inflow`; ``population`` and ``population_unit`` name the
    population column.

    Returns
    -------
    Series named ``talent_inflow_rate``, unit ``人/万人``.
    """
    _need(df, population=population, idname=idname, tname=tname)
    inflow = talent_net_inflow(
        df, stock, idname, tname, natural_growth=natural_growth,
        natural_growth_unit=natural_growth_unit, stock_unit=stock_unit,
    )
    pu = _unit(df, population, population_unit, "population_unit", "population")
    pop = pd.to_numeric(df[population]).astype("float64") * conversion_factor(pu, "人")
    prev_pop = _lag(df, pop, idname, tname, warn=False)
    rate = _safe_ratio(inflow, prev_pop, df, f"{population} (previous year)", idname, tname) * 1e4
    return _finish(rate, "talent_inflow_rate", "人/万人", f"1e4 * talent_net_inflow / {population}_(t-1)")


def _lag(df: pd.DataFrame, values: pd.Series, idname: str, tname: str, warn: bool = True) -> pd.Series:
    """Value of the same unit in calendar year t-1 (NaN if that row is absent)."""
    years = pd.to_numeric(df[tname]).astype("int64")
    key = pd.MultiIndex.from_arrays([df[idname].to_numpy(), years.to_numpy()])
    if key.has_duplicates:
        raise DataError(
            f"duplicate (idname={idname!r}, tname={tname!r}) rows, e.g. "
            f"{_examples(key[key.duplicated()])}; validate the panel with validate_panel first"
        )
    lookup = pd.Series(values.to_numpy(), index=key)
    prev_key = pd.MultiIndex.from_arrays([df[idname].to_numpy(), years.to_numpy() - 1])
    prev = pd.Series(lookup.reindex(prev_key).to_numpy(), index=df.index)
    if warn:
        first = years == years.groupby(df[idname].to_numpy()).transform("min")
        gap = (prev.isna() & ~pd.Series(prev_key.isin(key), index=df.index) & ~first).to_numpy()
        if gap.any():
            warnings.warn(
                f"{int(gap.sum())} row(s) have no row for the previous year (a gap in {tname!r}, "
                f"e.g. {_rows(df, gap, idname, tname)}); the inflow there is NaN",
                PolicyevalWarning,
                stacklevel=3,
            )
    return prev
