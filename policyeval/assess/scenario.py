"""Scenario arithmetic for a planned enclave: what the park would add to each side, with ranges.

A planner's scenario is arithmetic on a few uncertain numbers: land (亩 or
km²; 1 km² = 1500 亩), output or tax per 亩 per year (亩均, the yardstick of
Zhejiang's 亩均论英雄 reform), years to full production, the sharing rule
between the origin (飞出地) and the host (飞入地), and the two populations.
:func:`enclave_scenario` draws every uncertain input (a fixed number, a
``(low, high)`` range or a scipy distribution) with a seeded generator and
reports quantiles of the projected output, revenue and per-head figures of
both sides, year by year: a range, not one number.

Units are in the argument names: areas ``_mu`` / ``_km2``; money ``_wan``
(万元, 1e4 yuan) per year; per-head results ``_yuan``; populations in persons.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.exceptions import ArgumentTypeError, DataError, UnitConversionWarning

__all__ = ["enclave_scenario", "ScenarioResult", "sharing_from_registry", "MU_PER_KM2", "RULE_92"]

#: 亩 per km² (1 亩 = 666.67 m²).
MU_PER_KM2 = 1500.0

#: 财预〔2015〕92号 (Beijing--Tianjin--Hebei relocations): local shares of the
#: three taxes split 50:50 for 3 years after the firm reaches production
#: (http://tfcjtax.com/a/201908/1dinedpfxs825.shtml). The cap on the origin's
#: take (the taxes paid in the 3 years before the move) is not modelled.
RULE_92 = {"revenue_share_to_origin": 0.5, "revenue_share_years": 3}

_QUANTITIES = {
    "park": ("output_wan", "revenue_wan"),
    "origin": ("output_wan", "revenue_wan", "added_output_per_head_yuan",
               "added_revenue_per_head_yuan", "output_per_head_yuan"),
    "host": ("output_wan", "revenue_wan", "added_output_per_head_yuan",
             "added_revenue_per_head_yuan", "output_per_head_yuan"),
}


def _draw(value, name: str, n: int, rng: np.random.Generator, *, lower: float | None = 0.0,
          upper: float | None = None) -> np.ndarray:
    """``n`` draws of one input: a number, a ``(low, high)`` uniform range, or a distribution."""
    if hasattr(value, "rvs"):
        out = np.asarray(value.rvs(size=n, random_state=rng), dtype=float)
    elif isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ArgumentTypeError(f"{name}={value!r}: a range must be (low, high)")
        low, high = (float(v) for v in value)
        if not low <= high:
            raise DataError(f"{name}={value!r}: low must not exceed high")
        out = rng.uniform(low, high, size=n)
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        out = np.full(n, float(value))
    else:
        raise ArgumentTypeError(
            f"{name} must be a number, a (low, high) range or a scipy.stats distribution, "
            f"got {type(value).__name__}")
    bad = ~np.isfinite(out)
    if lower is not None:
        bad |= out < lower
    if upper is not None:
        bad |= out > upper
    if bad.any():
        span = f"[{lower}, {upper if upper is not None else 'inf'})"
        raise DataError(f"{name}: {int(bad.sum())} of {n} draws outside {span} "
                        f"(e.g. {examples(np.round(out[bad], 6))})")
    return out


def sharing_from_registry(enclave_id: str, registry: pd.DataFrame | None = None) -> dict:
    """The sharing terms of a registry enclave, as keyword arguments of :func:`enclave_scenario`.

    Parameters
    ----------
    enclave_id : str
        An ``enclave_id`` of the registry (:func:`policyeval.load_enclaves`).
    registry : DataFrame, optional
        Default: the shipped registry.

    Returns
    -------
    dict
        ``revenue_share_to_origin``, ``revenue_share_years``, ``fixed_return_wan``,
        ``fixed_return_years`` (absent terms as 0 / None). The registry's terms
        are on revenue; output (GDP) stays where the park sits unless you
        pass ``output_share_to_origin``.

    Raises
    ------
    DataError
        If ``enclave_id`` is not in the registry.

    Examples
    --------
    >>> from policyeval.assess import sharing_from_registry
    >>> sharing_from_registry("ZJ-LYZH-2019")["fixed_return_wan"]   # 镇海—龙游: 1000.8万元 a year
    1000.8
    """
    from policyeval.design.revenue import sharing_rules

    rules = sharing_rules(registry).set_index("enclave_id")
    if enclave_id not in rules.index:
        raise DataError(f"enclave_id={enclave_id!r} is not in the registry "
                        f"(e.g. {examples(rules.index)})")
    r = rules.loc[enclave_id]

    def num(v):
        return None if v is None or pd.isna(v) else float(v)

    return {"revenue_share_to_origin": num(r["share_to_origin"]) or 0.0,
            "revenue_share_years": num(r["share_years"]),
            "fixed_return_wan": num(r["fixed_wan_per_year"]) or 0.0,
            "fixed_return_years": num(r["fixed_years"])}


@dataclass
class ScenarioResult:
    """Draws and quantiles of a planned enclave's projected effects.

    Attributes
    ----------
    years : numpy.ndarray
        The projection years.
    draws : dict
        ``(side, quantity) -> array (n_draws, n_years)``; sides ``park``,
        ``origin``, ``host``.
    inputs : pandas.DataFrame
        One column per drawn input, one row per draw (to see what drove a result).
    level : tuple of float
        Quantiles reported by :meth:`to_frame`.
    """

    years: np.ndarray
    draws: dict
    inputs: pd.DataFrame
    level: tuple = (0.05, 0.5, 0.95)

    def to_frame(self, quantiles=None) -> pd.DataFrame:
        """Quantiles by side, quantity and year (long format).

        Returns
        -------
        pandas.DataFrame
            Columns ``side``, ``quantity``, ``year``, ``mean``, one ``q<pct>``
            column per quantile (``q5``, ``q50``, ``q95`` by default).
        """
        qs = tuple(self.level if quantiles is None else quantiles)
        rows = []
        for (side, qty), x in self.draws.items():
            qv = np.quantile(x, qs, axis=0)
            for t, year in enumerate(self.years):
                row = {"side": side, "quantity": qty, "year": int(year), "mean": float(x[:, t].mean())}
                row.update({f"q{100 * q:g}": float(qv[k, t]) for k, q in enumerate(qs)})
                rows.append(row)
        return pd.DataFrame(rows)

    def probability(self, side: str, quantity: str, threshold: float) -> pd.Series:
        """Share of draws in which ``quantity`` of ``side`` reaches ``threshold``, by year.

        Examples
        --------
        >>> res = enclave_scenario(area_mu=100, output_per_mu_wan=(100, 300), years=[2020],
        ...                        origin_population=10_000, host_population=10_000,
        ...                        n_draws=2000, random_state=1)
        >>> float(res.probability("park", "output_wan", 20_000).iloc[0])   # P(U(1e4, 3e4) >= 2e4)
        0.499
        """
        if (side, quantity) not in self.draws:
            raise DataError(f"no quantity {quantity!r} for side {side!r}; available: "
                            f"{examples((f'{s}/{q}' for s, q in self.draws), None)}")
        x = self.draws[(side, quantity)]
        return pd.Series((x >= threshold).mean(axis=0), index=pd.Index(self.years, name="year"),
                         name=f"P({side} {quantity} >= {threshold:g})")

    def __repr__(self) -> str:
        n = next(iter(self.draws.values())).shape[0]
        return (f"ScenarioResult({n} draws, years {int(self.years[0])}-{int(self.years[-1])}, "
                f"sides park/origin/host)")


def _population(value, name, n, rng):
    draws = _draw(value, name, n, rng, lower=None)
    if (draws <= 0).any():
        raise DataError(f"{name} must be positive (persons), got e.g. {examples(draws[draws <= 0])}")
    if (draws < 1000).any():
        warnings.warn(f"{name} is below 1000 persons (e.g. {examples(draws[draws < 1000])}); "
                      "populations are in persons, not 万人 (19.98万人 is 199800).",
                      UnitConversionWarning, stacklevel=3)
    return draws


def enclave_scenario(*, area_mu=None, area_km2=None, output_per_mu_wan, years, start_year=None,
                     ramp_years=0, tax_per_mu_wan=None, tax_rate=None,
                     output_share_to_origin=0.0, revenue_share_to_origin=0.0,
                     revenue_share_years=None, fixed_return_wan=0.0, fixed_return_years=None,
                     origin_population, host_population, origin_base_output_wan=0.0,
                     host_base_output_wan=0.0, base_year=None, base_growth=0.0,
                     n_draws: int = 2000, level=(0.05, 0.5, 0.95),
                     random_state=None) -> ScenarioResult:
    """Project a planned enclave's output, revenue and per-head figures for both sides.

    Every numeric input may be a number, a ``(low, high)`` range (drawn
    uniformly) or a frozen ``scipy.stats`` distribution; the draws are
    independent and seeded by ``random_state``.

    Parameters
    ----------
    area_mu, area_km2 : number, range or distribution
        Land of the park; give exactly one (1 km² = 1500 亩).
    output_per_mu_wan : number, range or distribution
        Output (value added / GDP) per 亩 per year at full production, 万元.
    years : sequence of int
        Projection years.
    start_year : int, optional
        First year of production (default: the first of ``years``).
    ramp_years : number, range or distribution, default 0
        Years to full production: in year ``start_year + e`` the park
        produces ``min(1, (e + 1) / ramp_years)`` of its full output (0: full
        from the start).
    tax_per_mu_wan : number, range or distribution, optional
        Tax (revenue) per 亩 per year at full production, 万元 (亩均税收).
    tax_rate : number, range or distribution, optional
        Revenue as a share of output, if ``tax_per_mu_wan`` is not given.
        Without either, revenue is not projected (zero).
    output_share_to_origin : number, range or distribution in [0, 1], default 0
        Share of the park's output credited to the origin's GDP (an
        eco-compensation enclave's output counted for the origin); 0 is the
        statistical default (在地统计: GDP is booked where the firm sits).
    revenue_share_to_origin : number, range or distribution in [0, 1], default 0
        Share of the park's revenue sent to the origin, for
        ``revenue_share_years`` years from ``start_year`` (None: every year).
        :data:`RULE_92` and :func:`sharing_from_registry` give sourced terms.
    fixed_return_wan : number, range or distribution, default 0
        A fixed yearly payment to the origin (万元), for
        ``fixed_return_years`` years (None: every year), paid out of the
        host's revenue.
    origin_population, host_population : number, range or distribution
        Persons (not 万人); a value below 1000 warns.
    origin_base_output_wan, host_base_output_wan : number, range or distribution, default 0
        Each side's own output (GDP) in ``base_year``, 万元, growing at
        ``base_growth`` a year; used for ``output_per_head_yuan``.
    base_year : int, optional
        Year of the base outputs (default: the first of ``years``).
    base_growth : number, range or distribution, default 0
        Yearly growth rate of both base outputs (0.05 = 5%).
    n_draws : int, default 2000
    level : tuple of float, default (0.05, 0.5, 0.95)
        Quantiles that :meth:`ScenarioResult.to_frame` reports.
    random_state : int or numpy.random.Generator, optional

    Returns
    -------
    ScenarioResult
        Quantities by side: ``park`` (``output_wan``, ``revenue_wan``);
        ``origin`` and ``host`` (``output_wan`` and ``revenue_wan`` the side
        gets from the park, ``added_output_per_head_yuan``,
        ``added_revenue_per_head_yuan`` and ``output_per_head_yuan`` = base
        output plus credited output, per head).

    Raises
    ------
    ArgumentTypeError
        If an input is not a number, range or distribution.
    DataError
        If both or neither area is given, a range is reversed, a draw is
        negative (or a share outside [0, 1]), or ``years`` is empty.

    Notes
    -----
    With area :math:`A` (亩), ramp factor :math:`r_t`, output per 亩 :math:`y`,
    shares :math:`s_Y` (output) and :math:`s_R` (revenue, on in
    :math:`\\mathbb{1}^R_t`), fixed return :math:`F` (on in
    :math:`\\mathbb{1}^F_t`):

    .. math::
        Y_t = A\\,y\\,r_t, \\quad R_t = A\\,\\tau\\,r_t \\text{ or } \\rho\\,Y_t, \\quad
        T_t = s_R R_t \\mathbb{1}^R_t + F \\mathbb{1}^F_t,

    the origin gets :math:`s_Y Y_t` of output and :math:`T_t` of revenue,
    the host :math:`(1 - s_Y) Y_t` and :math:`R_t - T_t` (negative if a fixed
    return exceeds the park's revenue). Per head: × 1e4 / population.

    Examples
    --------
    A 2 km² park at 200--300万元 of output per 亩 (an illustrative range),
    full output after a 3-year ramp, all output credited to the origin:

    >>> from policyeval.assess import enclave_scenario
    >>> res = enclave_scenario(area_km2=2, output_per_mu_wan=(200, 300), ramp_years=3,
    ...                        years=range(2020, 2024), output_share_to_origin=1.0,
    ...                        origin_population=200_000, host_population=1_000_000,
    ...                        random_state=0)
    >>> t = res.to_frame()
    >>> park = t[(t.side == "park") & (t.quantity == "output_wan")]
    >>> print((park.set_index("year")[["q5", "q50", "q95"]] / 1e4).round(1))  # 亿元 # doctest: +NORMALIZE_WHITESPACE
            q5   q50   q95
    year
    2020  20.4  25.0  29.5
    2021  40.9  49.9  59.0
    2022  61.3  74.9  88.5
    2023  61.3  74.9  88.5
    """
    if (area_mu is None) == (area_km2 is None):
        raise DataError("give exactly one of area_mu (亩) and area_km2 (km²; 1 km² = 1500 亩)")
    years = np.asarray(list(years), dtype=int)
    if years.size == 0:
        raise DataError("years is empty; give the projection years, e.g. range(2020, 2031)")
    if not isinstance(n_draws, (int, np.integer)) or n_draws < 1:
        raise ArgumentTypeError(f"n_draws must be a positive integer, got {n_draws!r}")
    level = tuple(float(q) for q in np.atleast_1d(level))
    if not all(0 <= q <= 1 for q in level):
        raise DataError(f"level={level!r}: quantiles must lie in [0, 1]")
    rng = np.random.default_rng(random_state)
    n = int(n_draws)
    start = int(years[0] if start_year is None else start_year)
    base_year = int(years[0] if base_year is None else base_year)

    d = {}
    d["area_mu"] = (_draw(area_mu, "area_mu", n, rng) if area_mu is not None
                    else _draw(area_km2, "area_km2", n, rng) * MU_PER_KM2)
    d["output_per_mu_wan"] = _draw(output_per_mu_wan, "output_per_mu_wan", n, rng)
    d["ramp_years"] = _draw(ramp_years, "ramp_years", n, rng)
    if tax_per_mu_wan is not None and tax_rate is not None:
        raise DataError("give at most one of tax_per_mu_wan and tax_rate")
    if tax_per_mu_wan is not None:
        d["tax_per_mu_wan"] = _draw(tax_per_mu_wan, "tax_per_mu_wan", n, rng)
    elif tax_rate is not None:
        d["tax_rate"] = _draw(tax_rate, "tax_rate", n, rng, upper=1.0)
    d["output_share_to_origin"] = _draw(output_share_to_origin, "output_share_to_origin", n, rng,
                                        upper=1.0)
    d["revenue_share_to_origin"] = _draw(revenue_share_to_origin, "revenue_share_to_origin", n,
                                         rng, upper=1.0)
    d["fixed_return_wan"] = _draw(fixed_return_wan, "fixed_return_wan", n, rng)
    d["origin_population"] = _population(origin_population, "origin_population", n, rng)
    d["host_population"] = _population(host_population, "host_population", n, rng)
    d["origin_base_output_wan"] = _draw(origin_base_output_wan, "origin_base_output_wan", n, rng)
    d["host_base_output_wan"] = _draw(host_base_output_wan, "host_base_output_wan", n, rng)
    d["base_growth"] = _draw(base_growth, "base_growth", n, rng, lower=-1.0)

    e = (years - start)[None, :].astype(float)  # event time, (1, T)
    ramp = d["ramp_years"][:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(ramp > 0, np.minimum(1.0, (e + 1) / ramp), 1.0)
    factor = np.where(e >= 0, factor, 0.0)

    output = d["area_mu"][:, None] * d["output_per_mu_wan"][:, None] * factor
    if "tax_per_mu_wan" in d:
        revenue = d["area_mu"][:, None] * d["tax_per_mu_wan"][:, None] * factor
    elif "tax_rate" in d:
        revenue = d["tax_rate"][:, None] * output
    else:
        revenue = np.zeros_like(output)

    def window(length):
        on = e >= 0
        return on & (e < length) if length is not None else on

    transfer = (d["revenue_share_to_origin"][:, None] * revenue * window(revenue_share_years)
                + d["fixed_return_wan"][:, None] * window(fixed_return_years))
    credited = d["output_share_to_origin"][:, None] * output
    growth = (1 + d["base_growth"][:, None]) ** (years[None, :] - base_year)

    draws = {("park", "output_wan"): output, ("park", "revenue_wan"): revenue}
    for side, out, rev in (("origin", credited, transfer), ("host", output - credited, revenue - transfer)):
        pop = d[f"{side}_population"][:, None]
        base = d[f"{side}_base_output_wan"][:, None] * growth
        draws[(side, "output_wan")] = out
        draws[(side, "revenue_wan")] = rev
        draws[(side, "added_output_per_head_yuan")] = out * 1e4 / pop
        draws[(side, "added_revenue_per_head_yuan")] = rev * 1e4 / pop
        draws[(side, "output_per_head_yuan")] = (base + out) * 1e4 / pop
    return ScenarioResult(years=years, draws=draws, inputs=pd.DataFrame(d), level=level)
