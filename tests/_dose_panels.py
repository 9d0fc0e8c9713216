"""Seeded SIMULATED panels with a known dose response, shared by the continuous-dose tests and
tests/reference/make_contdid_peer.py."""

from __future__ import annotations

import numpy as np
import pandas as pd


def effect(d):
    """The true dose response of the two-period panel: ATT(d) = ATE(d) = 2d + d^2 (strong PT)."""
    d = np.asarray(d, dtype=float)
    return 2.0 * d + d ** 2


def two_period_dose_panel(n: int = 2000, share_treated: float = 0.5, noise: float = 0.5,
                          seed: int = 7) -> pd.DataFrame:
    """Units observed in 2010 and 2011; treated units (first treated 2011) draw a dose
    U(0.1, 1); the common trend is 0.5 and the effect ``effect(dose)`` (same for every unit,
    so parallel trends and strong parallel trends both hold)."""
    rng = np.random.default_rng(seed)
    treated = rng.random(n) < share_treated
    dose = np.where(treated, rng.uniform(0.1, 1.0, n), 0.0)
    alpha = rng.normal(0, 1, n) + 0.8 * dose  # levels may depend on the dose (DiD removes them)
    y0 = alpha + rng.normal(0, noise, n)
    y1 = alpha + 0.5 + effect(dose) * treated + rng.normal(0, noise, n)
    return pd.DataFrame({
        "unit": np.repeat(np.arange(n), 2), "year": np.tile([2010, 2011], n),
        "g": np.repeat(np.where(treated, 2011, 0), 2), "dose": np.repeat(dose, 2),
        "y": np.column_stack([y0, y1]).ravel(),
    })
