"""Seeded simulated staggered panels for the regression-estimator tests (simulated data)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_staggered(
    n_units: int = 240,
    years=range(2001, 2011),
    cohorts=(2004, 2006, 2008, 0),
    effect=lambda g, e: 2.0 * (e >= 0),
    beta_x: float = 0.5,
    drop_share: float = 0.0,
    noise: float = 1.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Long panel: y = a_i + l_t + beta_x * x + effect(g, t - g) 1[t >= g] + noise.

    ``effect(g, e)`` is the true effect of cohort ``g`` at event time ``e``
    (it is only applied to treated cohorts at ``e >= 0``); ``first_treat`` is
    0 for never treated. ``drop_share`` removes that share of rows at random
    (unbalanced panel). The true effect is kept in column ``tau``.
    """
    rng = np.random.default_rng(seed)
    years = np.asarray(list(years))
    unit = np.repeat(np.arange(n_units), len(years))
    year = np.tile(years, n_units)
    g_unit = np.asarray(cohorts)[np.arange(n_units) % len(cohorts)]
    g = g_unit[unit]
    alpha = rng.normal(0, 2, n_units)[unit]
    lam = np.cumsum(rng.normal(0.3, 0.5, len(years)))[np.searchsorted(years, year)]
    x = rng.normal(size=len(unit)) + 0.1 * (year - years[0])
    e = year - g
    treated = (g > 0) & (e >= 0)
    tau = np.where(treated, np.vectorize(effect, otypes=[float])(g, e), 0.0)
    y = alpha + lam + beta_x * x + tau + rng.normal(0, noise, len(unit))
    df = pd.DataFrame({
        "county": 320000 + unit, "year": year, "first_treat": g, "x": x, "y": y, "tau": tau,
        "D": treated.astype(int), "province": 32 + (unit % 6),
        "w": rng.uniform(0.5, 2.0, n_units)[unit],
    })
    if drop_share:
        df = df.loc[rng.uniform(size=len(df)) >= drop_share]
    return df.reset_index(drop=True)
