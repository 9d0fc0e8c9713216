"""A simulated county × industry employment panel whose enclave effects depend on fit and distance -- SIMULATED DATA.

The ex-ante scores of :mod:`policyeval.assess` (industry fit, partner
distance) can only be checked against realised effects where the realised
effects are known, so this module simulates them, on the **same units and the
same real enclave treatments** as the bundled county panel
(:func:`policyeval.data.load_simulated_panel`): the 216 county-level units,
years 2000--2023, and the registry enclaves that the bundled roles table
(``load_simulated_panel("roles")``) locates on a destination unit.

The dependence is **stated and simulated**, not an empirical finding:

.. math::
    \\log E_{cit} = \\mu_{ci} + \\gamma_i (t - 2000) + \\eta_{it} + \\varepsilon_{cit}
    + \\tau_{ci}\\,\\min\\{1, (t - g_c + 1)/R\\}\\,1[t \\ge g_c]

with :math:`\\mu_{ci} = a_i + b_i u_c + s_c + \\nu_{ci}` (industry level,
loading on the county's urbanness :math:`u_c` -- its standardised log GDP per
head in 2000 in the bundled panel --, size :math:`s_c` from its population,
a county-industry draw :math:`\\nu_{ci}`), and for a destination county
:math:`c` of an enclave starting in :math:`g_c` (its first one):

.. math::
    \\tau_{ci} = \\alpha + \\beta_{\\text{fit}}\\, z(\\omega^*_{ci})
    - \\beta_{\\text{dist}}\\, z(\\log d_c) + e_{ci}

where :math:`\\omega^*_{ci}` is the relatedness density (Hidalgo et al.
2007) of industry :math:`i` in county :math:`c` computed on the noise-free
structure :math:`\\exp(\\mu)` (the county's *true* fit, which an analyst sees
only through noisy yearbook numbers), :math:`d_c` the great-circle distance
(km) between the registry's origin point and the destination unit (real
distances, shipped county points), :math:`z` standardises over the treated
cells, and :math:`e_{ci} \\sim N(0, \\sigma_e^2)`. Origins and all other
units get no effect: they are clean controls. Parameters are in
:data:`INDUSTRY_DEPENDENCE`; every number of the panel is a draw.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from policyeval._validation import examples
from policyeval.data.simulated_label import mark_simulated
from policyeval.exceptions import ArgumentTypeError, DataError

__all__ = ["simulate_industry_panel", "SimulatedIndustryPanel", "INDUSTRY_DEPENDENCE",
           "SIM_INDUSTRIES"]

#: GB/T 4754-2017 sections simulated: (level, loading on urbanness, yearly trend).
SIM_INDUSTRIES = {"A": (8.5, -1.2, -0.03), "B": (5.5, -0.6, -0.04), "C": (9.8, 0.2, 0.01),
                  "D": (6.0, 0.0, 0.01), "E": (8.2, 0.1, 0.02), "F": (8.6, 0.5, 0.02),
                  "G": (7.2, 0.4, 0.02), "I": (5.8, 1.5, 0.07), "J": (6.2, 1.1, 0.04),
                  "M": (5.6, 1.3, 0.05)}

#: The simulated dependence of an enclave's effect on fit and distance (log points of employment).
INDUSTRY_DEPENDENCE = {
    "alpha": 0.10,        # mean long-run effect on a destination industry (+10.5%)
    "beta_fit": 0.06,     # per sd of true relatedness density
    "beta_distance": 0.04,  # per sd of log distance to the origin (farther: smaller)
    "sd_effect": 0.03,    # idiosyncratic part of each cell's effect
    "ramp_years": 4,      # years to full effect
    "sd_local": 0.45,     # county-industry structure nu_ci
    "sd_noise": 0.05,     # yearly noise of log employment
    "sd_year": 0.02,      # industry-year shocks eta_it
    "min_pre_years": 3,   # destinations need this many untreated years in the panel
}


@dataclass
class SimulatedIndustryPanel:
    """What :func:`simulate_industry_panel` returns (``panel, truth = result`` unpacks).

    Attributes
    ----------
    panel : DataFrame
        One row per county, industry and year -- SIMULATED.
    truth : DataFrame
        One row per treated destination county and industry: the true effect and its parts.
    skipped : DataFrame
        Destination units not simulated as treated, with the reason.
    parameters : dict
        The dependence used (:data:`INDUSTRY_DEPENDENCE` with overrides) and the seed.
    """

    panel: pd.DataFrame
    truth: pd.DataFrame
    skipped: pd.DataFrame
    parameters: dict = field(default_factory=dict)

    def __iter__(self):
        return iter((self.panel, self.truth))


def _true_density(x: np.ndarray) -> np.ndarray:
    from policyeval.assess.industry import _density, _lq, _proximity

    m = (_lq(x) >= 1.0).astype(float)
    return _density(m, _proximity(m))


def _treatments(roles: pd.DataFrame, registry: pd.DataFrame, units: pd.Index, first_year: int,
                min_pre: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First simulated destination enclave of each unit, its origin point and distance."""
    from policyeval.design.geo import county_centroids, haversine_km

    dest = roles[(roles["role"] == "destination") & (roles["status"] == "simulated")
                 & roles["county_code"].isin(units)].copy()
    dest = dest.sort_values(["county_code", "start_year", "enclave_id"], kind="stable")
    first = dest.drop_duplicates("county_code").set_index("enclave_id", drop=False)
    reg = registry.set_index("enclave_id")
    first["origin_code"] = reg.loc[first["enclave_id"], "origin_code"].astype(str).to_numpy()
    first["origin_name"] = reg.loc[first["enclave_id"], "origin_name"].to_numpy()
    origins = roles[(roles["role"] == "origin") & (roles["status"] == "simulated")]
    primary = {}
    for eid, rows in origins.groupby("enclave_id"):
        rows = rows[~rows["county_code"].isin(dest.loc[dest["enclave_id"] == eid, "county_code"])]
        if len(rows):
            primary[eid] = rows.sort_values(["weight", "county_code"], ascending=[False, True],
                                            kind="stable")["county_code"].iloc[0]
    first["origin_unit"] = first["enclave_id"].map(primary)
    pts_d = county_centroids(first["county_code"].tolist())
    pts_o = county_centroids(first["origin_code"].tolist())
    first["distance_km"] = haversine_km(pts_o["lat"].to_numpy(), pts_o["lon"].to_numpy(),
                                        pts_d["lat"].to_numpy(), pts_d["lon"].to_numpy())
    first = first.reset_index(drop=True)
    reasons = pd.Series("", index=first.index, dtype=object)
    early = first["start_year"].astype(int) < first_year + min_pre
    reasons[early] = [f"starts {int(y)}: fewer than {min_pre} untreated years from {first_year}"
                      for y in first.loc[early, "start_year"]]
    nodist = ~np.isfinite(first["distance_km"])
    reasons[nodist & (reasons == "")] = "no point for the origin or destination code"
    keep = reasons == ""
    cols = ["enclave_id", "enclave_name", "enclave_type", "county_code", "county_name",
            "start_year", "origin_code", "origin_name", "origin_unit", "distance_km"]
    skipped = first.loc[~keep, cols].assign(reason=reasons[~keep]).reset_index(drop=True)
    return first.loc[keep, cols].reset_index(drop=True), skipped


def simulate_industry_panel(seed: int = 20240601, *, dependence: dict | None = None,
                            industries: dict | None = None) -> SimulatedIndustryPanel:
    """Simulate county × industry employment on the bundled panel's units and enclaves -- SIMULATED.

    Parameters
    ----------
    seed : int, default 20240601 (the bundled panel's seed)
        Seed of every draw; same seed, same panel.
    dependence : dict, optional
        Overrides of :data:`INDUSTRY_DEPENDENCE` (e.g. ``{"beta_fit": 0}``
        for effects that do not depend on fit).
    industries : dict, optional
        Section -> (level, loading on urbanness, yearly trend); default
        :data:`SIM_INDUSTRIES` (ten GB/T 4754 sections).

    Returns
    -------
    SimulatedIndustryPanel
        ``panel`` columns: ``is_simulated`` (True), ``county_code``,
        ``county_name``, ``prefecture_code``, ``industry``, ``year``,
        ``employment`` (persons), ``log_employment``, ``first_treat`` (start
        year of the unit's first destination enclave, 0 = none), ``enclave_id``;
        ``truth`` columns: ``is_simulated``, ``enclave_id``, ``enclave_name``,
        ``enclave_type``, ``county_code``, ``county_name``, ``industry``,
        ``start_year``, ``origin_code``, ``origin_name``, ``origin_unit``
        (the origin's main unit in the panel, if any), ``distance_km``,
        ``true_density``, ``fit_part``, ``distance_part``, ``idiosyncratic``,
        ``tau`` (long-run log effect = ``alpha`` + the three parts),
        ``att_log`` (the true mean effect over the unit's treated years in
        the panel, ramp included: what a DiD estimator targets).

    Raises
    ------
    DataError
        Unknown keys in ``dependence``, negative standard deviations.
    ArgumentTypeError
        A non-integer seed.

    Examples
    --------
    >>> from policyeval.assess.simulate_industry import simulate_industry_panel
    >>> panel, truth = simulate_industry_panel()
    >>> panel["county_code"].nunique(), panel["industry"].nunique(), panel["year"].agg(["min", "max"]).tolist()
    (216, 10, [2000, 2023])
    >>> bool(panel["is_simulated"].all()), truth["county_code"].nunique()
    (True, 25)
    """
    from policyeval.data.registry import load_enclaves
    from policyeval.data.simulate import load_simulated_panel

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentTypeError(f"seed={seed!r} must be an integer")
    params = dict(INDUSTRY_DEPENDENCE)
    unknown = sorted(set(dependence or {}) - set(params))
    if unknown:
        raise DataError(f"dependence has unknown keys (e.g. {examples(unknown)}); known: "
                        f"{examples(params, None)}")
    params.update(dependence or {})
    negative = [k for k in params if k.startswith("sd_") and params[k] < 0]
    if negative:
        raise DataError(f"dependence: standard deviations must be >= 0 (e.g. {examples(negative)})")
    inds = dict(SIM_INDUSTRIES if industries is None else industries)
    rng = np.random.default_rng(seed)

    base = load_simulated_panel()
    years = np.arange(int(base["year"].min()), int(base["year"].max()) + 1)
    units = (base.sort_values("year").groupby("county_code", sort=True)
             .agg(county_name=("county_name", "first"), prefecture_code=("prefecture_code", "first"),
                  gdp=("gdp_wan", "first"), pop=("population_10k", "first")))
    urban = np.log(units["gdp"] / units["pop"])
    urban = ((urban - urban.mean()) / urban.std()).to_numpy()
    size = np.log(units["pop"]).to_numpy()
    size = size - size.mean()
    n, k, T = len(units), len(inds), len(years)
    level = np.array([v[0] for v in inds.values()])
    load = np.array([v[1] for v in inds.values()])
    trend = np.array([v[2] for v in inds.values()])
    nu = rng.normal(0.0, params["sd_local"], (n, k))
    mu = level[None, :] + load[None, :] * urban[:, None] + size[:, None] + nu
    dens = _true_density(np.exp(mu))

    roles = load_simulated_panel("roles")
    treat, skipped = _treatments(roles, load_enclaves(), units.index, int(years[0]),
                                 int(params["min_pre_years"]))
    pos = {c: r for r, c in enumerate(units.index)}
    rows = treat["county_code"].map(pos).to_numpy()
    logd = np.log(treat["distance_km"].to_numpy())
    zd = (logd - logd.mean()) / logd.std() if len(logd) > 1 and logd.std() > 0 else np.zeros_like(logd)
    td = dens[rows]
    zf = (td - td.mean()) / td.std() if td.std() > 0 else np.zeros_like(td)
    idio = rng.normal(0.0, params["sd_effect"], td.shape)
    fit_part = params["beta_fit"] * zf
    dist_part = -params["beta_distance"] * zd[:, None] * np.ones((1, k))
    tau_cells = params["alpha"] + fit_part + dist_part + idio

    tau = np.zeros((n, k))
    g = np.zeros(n, dtype=int)
    tau[rows] = tau_cells
    g[rows] = treat["start_year"].astype(int).to_numpy()
    event = years[None, :] - g[:, None]
    ramp = np.where((g[:, None] > 0) & (event >= 0),
                    np.minimum(1.0, (event + 1) / float(params["ramp_years"])), 0.0)  # n × T
    eta = rng.normal(0.0, params["sd_year"], (k, T))
    eps = rng.normal(0.0, params["sd_noise"], (n, k, T))
    logy = (mu[:, :, None] + trend[None, :, None] * (years - years[0])[None, None, :]
            + eta[None, :, :] + eps + tau[:, :, None] * ramp[:, None, :])
    emp = np.round(np.exp(logy))
    eid = pd.Series(treat["enclave_id"].to_numpy(), index=treat["county_code"])
    panel = pd.DataFrame({
        "is_simulated": True,
        "county_code": np.repeat(units.index.to_numpy(), k * T),
        "county_name": np.repeat(units["county_name"].to_numpy(), k * T),
        "prefecture_code": np.repeat(units["prefecture_code"].to_numpy(), k * T),
        "industry": np.tile(np.repeat(list(inds), T), n),
        "year": np.tile(years, n * k),
        "employment": emp.ravel(),
    })
    panel["log_employment"] = np.log(panel["employment"])
    panel["first_treat"] = np.repeat(g, k * T)
    panel["enclave_id"] = panel["county_code"].map(eid)

    mean_ramp = np.array([ramp[r][ramp[r] > 0].mean() for r in rows]) if len(rows) else np.array([])
    truth = treat.loc[np.repeat(np.arange(len(treat)), k)].reset_index(drop=True)
    truth.insert(5, "industry", np.tile(list(inds), len(treat)))
    truth["true_density"] = td.ravel()
    truth["fit_part"] = fit_part.ravel()
    truth["distance_part"] = dist_part.ravel()
    truth["idiosyncratic"] = idio.ravel()
    truth["tau"] = tau_cells.ravel()
    truth["att_log"] = (tau_cells * mean_ramp[:, None]).ravel()
    truth.insert(0, "is_simulated", True)
    params = {**params, "seed": int(seed), "industries": inds}
    return SimulatedIndustryPanel(mark_simulated(panel), mark_simulated(truth),
                                  mark_simulated(skipped), params)
