"""A simulated county panel of Jiangsu and Zhejiang with enclave treatments -- SIMULATED DATA.

Real county panels with fiscal revenue, land, patents and talent are licensed
(docs/domain.md section 6), so policyeval ships a seeded simulator and one
output of it. Every row it produces carries ``is_simulated = True`` and every
table ``DataFrame.attrs["simulated"] = True``, so tables, figures and CSV files
made from it say SIMULATED (:func:`is_simulated`). The units are the real
county-level units (names and GB/T 2260 codes, vintage 2019) of Jiangsu (32)
and Zhejiang (33), plus both sides of the registry's cross-province and
two-way enclaves (:func:`default_counties`: 北京 大兴区, 天津 滨海新区, 赤峰's
twelve units, 广州 黄埔区, 深圳's nine districts, 汕尾 海丰县); their outcomes
are draws calibrated to published provincial figures (the extra units: assumed
magnitudes), not anyone's yearbook. Treatments are the real enclaves of
:func:`policyeval.data.load_enclaves`, and the true effect of each one is
known: :func:`simulate_enclave_panel` returns it beside the panel.

Calibration and what is assumed is listed in
:mod:`policyeval.data._simulate_calibration` (provincial GDP, budget revenue,
industry share, talent stock, resident population, a poor county's ratios,
the 亩均 gradient, the Suzhou--Suqian park) and below for the effect sizes;
:func:`calibration_table` puts simulated and published values side by side
(docs/calibration.md).

The bundled output (:func:`load_simulated_panel`) is
``policyeval/data/simulated_enclave_{panel,truth,roles}.csv.gz`` (gzipped CSV,
stored once, inside the package), written by ``scripts/make_simulated_panel.py``
with :data:`BUNDLED_PARAMETERS`; the panel's first column is ``is_simulated``.
Rerun the script when the simulator, the registry or the county list changes
(``tests/test_simulate.py`` fails until you do).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

from policyeval.data import _simulate_calibration as cal
from policyeval.data.simulated_label import SIMULATED_COLUMN, is_simulated, mark_simulated
from policyeval.data._simulate_truth import truth_table
from policyeval.design.revenue import enclave_transfers
from policyeval.design.roles import (
    MIN_LOCATABLE_KM2,
    assign_roles,
    check_enclaves,
    registry_area_mu,
    revenue_terms,
    unlocatable_destinations,
)
from policyeval.exceptions import (
    AdminCodeError,
    ArgumentTypeError,
    ColumnNotFoundError,
    DataError,
    DuplicateObservationError,
    LocationUnknownWarning,
    PolicyevalWarning,
)

__all__ = [
    "simulate_enclave_panel",
    "load_simulated_panel",
    "default_effects",
    "SimulatedPanel",
    "LocationUnknownWarning",
    "is_simulated",
    "calibration_table",
    "calibration_markdown",
    "default_counties",
    "BUNDLED_PARAMETERS",
    "ENCLAVE_TYPES",
    "OUTCOMES",
]

ENCLAVE_TYPES = (
    "forward", "reverse_science", "poverty_relief", "eco_compensation", "two_way",
    "special_cooperation_zone", "counterpart_assistance", "enterprise_led",
)  # fmt: skip
OUTCOMES = tuple(cal.OUTCOMES)
FLOW_COLUMNS = ("shared_revenue_in_wan", "shared_revenue_out_wan")

#: Arguments of the bundled output (``scripts/make_simulated_panel.py``).
BUNDLED_PARAMETERS = {"seed": 20240601, "years": range(2000, 2024), "spillover": 0.0,
                      "revenue_sharing": True, "missing": True, "effects": True}  # fmt: skip
_BUNDLED_FILES = {
    "panel": "simulated_enclave_panel.csv.gz",
    "truth": "simulated_enclave_truth.csv.gz",
    "roles": "simulated_enclave_roles.csv.gz",
}
_COUNTY_COLUMNS = ("code", "name", "prefecture_code", "province_code")
_HETEROGENEITY_SD = 0.3
# Destination types whose effect is sized by the park's area (a park on the host's land);
# reverse/science enclaves (an office floor) and two-way centres keep the profile size.
_AREA_TYPES = ("forward", "special_cooperation_zone", "counterpart_assistance", "enterprise_led",
               "eco_compensation", "poverty_relief")  # fmt: skip
# Share of a registry area that is built up and producing at full size (assumption): a special
# cooperation zone's area is a whole jurisdiction (深汕 468 km2 incl. mountains and farmland).
_DEVELOPED_SHARE = {"special_cooperation_zone": 0.05}
# A destination coded at prefecture level is located only when the park is at least this large
# (km2); the rule is shared with the design layer (policyeval.design.roles.unlocatable_destinations).
_MIN_LOCATABLE_KM2 = MIN_LOCATABLE_KM2


# Long-run log effects by (role, profile); outcome order as OUTCOMES:
# gdp, industrial VA, industrial land, tax, budget revenue, population, talent, patents.
# Host of a forward park: +14% GDP at full size. Anchors: Alder, Shao & Zilibotti
# (2016) find ~+20% prefecture GDP for a state-level SEZ -- an upper bound for one
# park; 苏宿 made ~2.2% of Suqian prefecture GDP on 0.16% of its land by 2021
# (docs/domain.md s4), several times that share of the urban districts that host it.
# These plateaus size reverse, two-way and origin effects, and forward-type parks of
# unknown area; a forward-type park with a registry area is sized by its area instead
# (_effect_scale: park GDP per 亩 calibrated to 苏宿, relative to the host's GDP).
# Land reacts first and most (the park is land), revenue follows. Reverse/science
# enclaves raise the origin's talent and patents (热带地理 2025 finds enclaves raise
# county innovation in JS+ZJ) -- sizes are assumptions.
_PROFILES = {
    ("destination", "forward"): (.14, .22, .25, .20, .18, .02, .04, .08),
    ("origin", "forward"): (.01, -.03, -.02, -.01, .0, .0, .01, .02),
    ("destination", "reverse_science"): (.005, .0, .0, .005, .005, .0, .02, .03),
    ("origin", "reverse_science"): (.03, .04, .02, .03, .03, .005, .08, .20),
    ("destination", "poverty_relief"): (.02, .03, .04, .03, .02, .0, .0, .0),
    ("origin", "poverty_relief"): (.005, .0, .0, .0, .0, .0, .0, .0),
    ("destination", "eco_compensation"): (.04, .06, .07, .05, .04, .005, .01, .02),
    ("origin", "eco_compensation"): (.01, .0, -.01, .01, .02, .0, .01, .01),
    ("destination", "two_way"): (.03, .03, .02, .03, .03, .005, .04, .08),
    ("origin", "two_way"): (.03, .03, .02, .03, .03, .005, .04, .08),
}
# Forward-type variants scale the forward profile: a special cooperation zone is
# far larger (深汕 468 km²); counterpart-assistance and enterprise-led parks smaller.
_FORWARD_SCALE = {"forward": 1.0, "special_cooperation_zone": 1.3,
                  "counterpart_assistance": 0.7, "enterprise_led": 0.8}  # fmt: skip
# Years to reach 1 - 1/e of the long-run effect; land is converted first.
_RAMP = (4.0, 4.0, 2.0, 5.0, 5.0, 6.0, 5.0, 4.0)


def default_effects() -> pd.DataFrame:
    """The true effects injected by default, one row per (outcome, role, type).

    Returns
    -------
    pandas.DataFrame
        Columns ``outcome`` (a level column of the panel), ``role``
        (``"origin"``/``"destination"``), ``enclave_type``, ``plateau`` (the
        long-run effect on the log outcome of one enclave on one unit of
        weight 1) and ``ramp_years``. Pass a modified copy as ``effects=`` to
        :func:`simulate_enclave_panel`.

    Notes
    -----
    Event-time path of one enclave on one unit, event time
    :math:`e = t - s` (:math:`s` the start year):

    .. math:: \\tau_k(e) = w\\, m\\, \\theta_k\\,
              \\bigl(1 - e^{-(e+1)/\\rho_k}\\bigr)\\,\\mathbf 1[e \\ge 0]

    with :math:`\\theta_k` the plateau, :math:`\\rho_k` the ramp, :math:`w`
    the role weight (1, or 1/k for a prefecture code spread over k units) and
    :math:`m` a unit-enclave draw, log-normal with mean 1 and log-sd 0.3.
    Sizes are assumptions anchored as described in the module source.

    Examples
    --------
    >>> from policyeval.data.simulate import default_effects
    >>> eff = default_effects()
    >>> float(eff.query("outcome == 'gdp_wan' and role == 'destination' "
    ...                 "and enclave_type == 'forward'")["plateau"].iloc[0])
    0.14
    """
    rows = []
    for etype in ENCLAVE_TYPES:
        for role in ("origin", "destination"):
            profile = "forward" if etype in _FORWARD_SCALE else etype
            scale = _FORWARD_SCALE.get(etype, 1.0)
            for k, outcome in enumerate(OUTCOMES):
                rows.append((outcome, role, etype, round(scale * _PROFILES[(role, profile)][k], 6), _RAMP[k]))
    return pd.DataFrame(rows, columns=["outcome", "role", "enclave_type", "plateau", "ramp_years"])


@dataclass(frozen=True)
class SimulatedPanel:
    """What :func:`simulate_enclave_panel` returns. Unpacks as ``panel, truth``.

    Attributes
    ----------
    panel : DataFrame
        The simulated long panel, one row per (county, year) present.
    truth : DataFrame
        The injected average treatment effects (see
        :func:`simulate_enclave_panel`, Returns).
    roles : DataFrame
        One row per (enclave, role, panel unit) simulated and one per
        (enclave, role) skipped or left unlocated (``status`` "simulated",
        "skipped", "location_unknown"), with ``is_simulated``, the reason,
        the prefecture-code mapping and ``location``, the weight, the start
        year and its source, the registry ``area_mu``, the drawn effect
        multiplier, ``effect_basis`` / ``effect_scale`` / ``park_gdp_wan`` /
        ``park_gdp_share`` (how the effect was sized) and the revenue-sharing
        terms used.
    parameters : dict
        The arguments that produced it.
    """

    panel: pd.DataFrame
    truth: pd.DataFrame
    roles: pd.DataFrame
    parameters: dict = field(default_factory=dict)

    @property
    def skipped(self) -> pd.DataFrame:
        """The registry (enclave, role) pairs that treat no panel unit, and why."""
        return self.roles[self.roles["status"] != "simulated"].reset_index(drop=True)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.panel, self.truth))


def _check_years(years: Iterable[int]) -> np.ndarray:
    if isinstance(years, (str, bytes)) or not isinstance(years, Iterable):
        raise ArgumentTypeError(f"years must be an iterable of integers such as range(2000, 2024), "
                                f"got {type(years).__name__}.")
    values = list(years)
    bad = [v for v in values if isinstance(v, bool) or not isinstance(v, (int, np.integer))]
    if bad:
        raise ArgumentTypeError(f"years must contain integers; got {bad[:3]!r}.")
    lo, hi = cal.CALIBRATED_YEARS[0], cal.CALIBRATED_YEARS[-1]
    arr = np.array(sorted(set(int(v) for v in values)), dtype=int)
    if arr.size == 0:
        raise DataError("years is empty; pass e.g. range(2000, 2024).")
    outside = arr[(arr < lo) | (arr > hi)]
    if outside.size:
        raise DataError(f"years {outside[:3].tolist()} lie outside the calibrated range {lo}-{hi}.")
    if len(arr) != len(values):
        raise DataError("years contains duplicates.")
    return arr


def _check_counties(counties: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(counties, pd.DataFrame):
        raise ArgumentTypeError(f"counties must be a DataFrame, got {type(counties).__name__}.")
    missing = [c for c in _COUNTY_COLUMNS if c not in counties.columns]
    if missing:
        raise ColumnNotFoundError(
            f"counties lacks column(s) {missing}; expected the columns of "
            "policyeval.data.admin_codes.list_counties()."
        )
    out = counties.copy().reset_index(drop=True)
    for col in ("code", "prefecture_code", "province_code"):
        out[col] = out[col].astype("string").str.strip()
    bad = out.loc[~out["code"].fillna("").str.fullmatch(r"\d{6}"), "code"]
    if len(bad):
        raise AdminCodeError(f"counties: column 'code' has {len(bad)} value(s) that are not 6-digit "
                             f"codes (e.g. {', '.join(map(str, bad[:3]))}).")
    dup = out.loc[out["code"].duplicated(), "code"].unique()
    if len(dup):
        raise DuplicateObservationError(f"counties: column 'code' repeats {len(dup)} code(s) "
                                        f"(e.g. {', '.join(map(str, dup[:3]))}).")
    # list_counties gives "320000"; accept "32" too and store the 6-digit form.
    out["province_code"] = out["province_code"].str[:2] + "0000"
    extra = out["code"].isin(list(cal.EXTRA_UNITS))
    other = out.loc[~out["province_code"].str[:2].isin(list(cal.PROVINCES)) & ~extra, "code"]
    if len(other):
        raise DataError(f"counties: column 'province_code' is outside the calibrated provinces "
                        f"{list(cal.PROVINCES)} for {len(other)} unit(s) (e.g. {', '.join(other[:3])}); "
                        f"outside them only the units of policyeval.data._simulate_calibration.EXTRA_UNITS "
                        f"can be simulated.")
    names = {**cal.PROVINCES, **cal.EXTRA_PROVINCES}
    for col, default in (("prefecture_name", pd.NA), ("province_name", None), ("level", pd.NA)):
        if col not in out.columns:
            out[col] = [names[p[:2]] for p in out["province_code"]] if default is None else default
    # Municipalities (北京, 天津) have no prefecture in the code list: use the 市辖区 code.
    for i in np.flatnonzero(extra.to_numpy() & out["prefecture_code"].isna().to_numpy()):
        pref_code, pref_name = cal.EXTRA_UNITS[out.at[i, "code"]][:2]
        out.at[i, "prefecture_code"], out.at[i, "prefecture_name"] = pref_code, pref_name
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def _check_effects(effects: pd.DataFrame | None) -> pd.DataFrame:
    if effects is None:
        return default_effects()
    need = ("outcome", "role", "enclave_type", "plateau", "ramp_years")
    missing = [c for c in need if c not in effects.columns]
    if missing:
        raise ColumnNotFoundError(f"effects lacks column(s) {missing}; start from default_effects().")
    bad = sorted(set(effects["outcome"]) - set(OUTCOMES))
    if bad:
        raise DataError(f"effects: column 'outcome' has unknown outcome(s) {bad[:3]}; "
                        f"known: {list(OUTCOMES)}.")
    if (effects["ramp_years"] <= 0).any():
        raise DataError("effects: column 'ramp_years' must be positive.")
    key = ["outcome", "role", "enclave_type"]
    dup = effects.loc[effects.duplicated(key), key]
    if len(dup):
        example = ", ".join("/".join(map(str, r)) for r in dup.head(3).itertuples(index=False))
        raise DuplicateObservationError(f"effects repeats {len(dup)} (outcome, role, enclave_type) "
                                        f"row(s) (e.g. {example}).")
    return effects.loc[:, list(need)].copy()


def _event_paths(roles: pd.DataFrame, effects: pd.DataFrame, years: np.ndarray) -> dict[str, np.ndarray]:
    """Per role row and outcome, the (n_rows, n_years) log effect path."""
    lookup = {(o, r, t): (float(th), float(rp)) for o, r, t, th, rp in effects.itertuples(index=False)}
    e = years[None, :] - roles["start_year"].to_numpy(dtype=float)[:, None]
    scale = roles["effect_scale"].to_numpy(dtype=float)[:, None]
    keys = list(zip(roles["role"], roles["enclave_type"]))
    out = {}
    for outcome in OUTCOMES:
        # A missing (outcome, role, type) row means no effect.
        pairs = np.array([lookup.get((outcome, r, t), (0.0, 1.0)) for r, t in keys]).reshape(-1, 2)
        theta, ramp = pairs[:, :1], pairs[:, 1:]
        out[outcome] = np.where(e >= 0, scale * theta * -np.expm1(-(e + 1) / ramp), 0.0)
    return out


def _first_year(roles: pd.DataFrame, codes: pd.Index, role: str | None) -> tuple[pd.Series, pd.Series, pd.Series]:
    """First start year per unit (0 = never), the type(s) and enclave id(s) starting then."""
    sub = roles if role is None else roles[roles["role"] == role]
    first = sub.groupby("county_code")["start_year"].min()
    at_first = sub[sub["start_year"].to_numpy() == first.reindex(sub["county_code"]).to_numpy()]
    types = at_first.groupby("county_code")["enclave_type"].agg(
        lambda s: s.iloc[0] if s.nunique() == 1 else "multiple")
    ids = at_first.groupby("county_code")["enclave_id"].agg(lambda s: ";".join(sorted(set(s))))
    return (first.reindex(codes).fillna(0).astype(int), types.reindex(codes), ids.reindex(codes))


def simulate_enclave_panel(
    seed: int = BUNDLED_PARAMETERS["seed"],
    years: Iterable[int] = range(2000, 2024),
    *,
    counties: pd.DataFrame | None = None,
    enclaves: pd.DataFrame | None = None,
    effects: bool = True,
    effect_sizes: pd.DataFrame | None = None,
    spillover: float = 0.0,
    revenue_sharing: bool = True,
    missing: bool = True,
) -> SimulatedPanel:
    """Simulate a Jiangsu--Zhejiang county panel treated by the real enclave registry.

    SIMULATED DATA: the units are real county-level units; every outcome is a
    random draw calibrated to provincial aggregates. The result says so in
    its ``is_simulated`` column.

    Parameters
    ----------
    seed : int, default 20240601
        Seed of the four independent random streams (unit draws, outcome noise,
        missingness, effect heterogeneity). Same seed, same panel; switching
        ``effects``, ``spillover``, ``revenue_sharing`` or ``missing`` leaves
        every other draw unchanged, so two runs differ by exactly the effect.
    years : iterable of int, default range(2000, 2024)
        Years to return, within 2000--2023. The full range is always drawn,
        so a sub-range returns the same numbers for the years it keeps --
        treatment timing included: ``first_treat`` may then lie after the
        last year returned (or before the first).
    counties : DataFrame, optional
        Panel units with columns ``code``, ``name``, ``prefecture_code``,
        ``province_code`` (and optionally ``prefecture_name``,
        ``province_name``, ``level``). Default:
        :func:`default_counties` (Jiangsu and Zhejiang, vintage 2019, and the
        25 extra units outside them).
    enclaves : DataFrame, optional
        An enclave registry. Default: :func:`policyeval.data.load_enclaves`.
    effects : bool, default True
        False gives the no-enclave counterfactual: same units, same noise,
        same treatment columns, no effect, no spillover, no revenue flow.
    effect_sizes : DataFrame, optional
        Effect table in the layout of :func:`default_effects` (missing rows
        mean no effect).
    spillover : float, default 0.0
        Fraction of every enclave's log effect on its unit that also reaches
        each other unit of the same prefecture (neighbours = same prefecture).
        0 keeps never-treated units clean controls.
    revenue_sharing : bool, default True
        Model the flows to origins from the registry's terms (see Notes).
    missing : bool, default True
        Blank some items and start a few units' coverage late (rows absent),
        as in real yearbooks. False gives a balanced, complete panel.

    Returns
    -------
    SimulatedPanel
        ``panel, truth = simulate_enclave_panel(...)`` unpacks the two tables;
        ``.roles`` and ``.skipped`` tell which unit each enclave treats and
        which enclaves could not be simulated, and why.

        ``panel`` columns: ``is_simulated`` (True), ``county_code``,
        ``county_name``, ``prefecture_code``, ``prefecture_name``,
        ``province_code``, ``province``, ``year``; treatment timing
        ``first_treat`` (first year in any role, 0 = never, as R ``did``),
        ``first_treat_destination``, ``first_treat_origin``,
        ``first_exposed_neighbour`` (first start year of an enclave on another
        unit of the prefecture, 0 = none), ``enclave_type`` /
        ``enclave_type_destination`` / ``enclave_type_origin`` (type of the
        first treatment, ``"multiple"`` if several types start that year),
        ``first_enclave_id``, ``is_destination`` / ``is_origin`` (ever),
        ``post`` / ``post_destination`` / ``post_origin`` (0/1),
        ``n_enclaves`` (enclaves started by that year, any role); outcomes in
        levels ``gdp_wan`` (万元), ``industrial_va_wan`` (万元),
        ``industrial_land_mu`` (built-up industrial land, 亩),
        ``tax_revenue_wan`` (万元), ``budget_revenue_wan`` (一般公共预算收入, 万元),
        ``population_10k`` (year-end resident population, 万人),
        ``talent_stock`` (persons), ``patents_granted`` (count), their logs
        ``log_gdp`` ... ``log1p_patents_granted`` (log(1 + patents)); and the
        modelled transfers ``shared_revenue_in_wan`` / ``shared_revenue_out_wan``
        (万元, never in a yearbook: 在地统计 books revenue where the firm sits).

        ``truth`` columns: ``is_simulated``, ``aggregation``
        (``"type_cohort_event"``, ``"cohort_event"``, ``"event"``, ``"type"``,
        ``"overall"``), ``outcome``, ``log_outcome``, ``role``
        (``"destination"``, ``"origin"``, ``"any"``, ``"neighbour"``),
        ``enclave_type``, ``cohort``, ``event_time``, ``n_obs``, ``n_units``,
        ``att`` (level units) and ``att_log`` (on ``log_outcome``).

    Raises
    ------
    ArgumentTypeError
        ``years`` not integers, ``counties`` not a DataFrame, ``spillover``
        not a number.
    DataError
        ``years`` empty or outside 2000--2023, a unit outside Jiangsu and
        Zhejiang that is not one of the extra units, ``spillover`` outside
        [0, 1], unknown outcomes in ``effect_sizes``.

    Warns
    -----
    LocationUnknownWarning
        With the count and example ids, when destinations coded at
        prefecture level are left unlocated (see Notes, Treatment).
    ColumnNotFoundError, AdminCodeError, DuplicateObservationError, RegistryError
        Malformed ``counties``, ``enclaves`` or ``effect_sizes``.

    Notes
    -----
    **Outcomes without enclaves.** For unit :math:`i` in province :math:`p`,
    :math:`\\log Y^{GDP}_{it}(0) = \\log G_i + \\log I_p(t) + b_i (t - 2023)
    + \\varepsilon_{it}` with :math:`G_i` the 2023 level (province GDP split by
    prefecture weight and a log-normal unit share), :math:`I_p` the
    provincial nominal index, :math:`b_i \\sim N(0, 0.012^2)` a unit trend and
    :math:`\\varepsilon` AR(1). Other outcomes are provincial ratio paths times
    unit deviations and noise; patents are Poisson by inverse CDF.
    Trends are drawn independently of treatment, so parallel trends hold in
    expectation.

    **Calibration** (sources in :mod:`policyeval.data._simulate_calibration`).
    Without enclaves the provincial sums equal, exactly, 2023 GDP of 12.82万亿元
    (Jiangsu, 2024 government work report) and 82553亿元 (Zhejiang 2023
    statistical communiqué), Jiangsu 2023 budget revenue 9930亿元 (7.75% of
    GDP), Zhejiang's 2023 resident population 6627万 and Jiangsu's talent
    stock of 1560万; Zhejiang prefectures get their 2013 GDP shares. That
    puts a typical Jiangsu county at a few hundred 亿元 of GDP in the 2010s
    (bundled draw, 2015: median ≈ 620亿 in Jiangsu, ≈ 360亿 in Zhejiang, from
    under 100亿 to ≈ 2500亿; which county is large is random within its
    prefecture),
    and a 丽水 county like 缙云 near its published 2023 scale (GDP 320亿元,
    budget revenue 23.5亿元, tax 70% of it). Growth paths between anchors,
    亩均 value added, talent and patent intensities are assumptions.
    Effect sizes: a forward-type park (forward, special cooperation zone,
    counterpart assistance, enterprise-led, eco-compensation, poverty relief)
    whose registry area :math:`A` (亩) is known raises its host's log GDP by
    :math:`\\theta = \\log(1 + w A d P \\kappa_o / Y_i(0))` at full size, with
    :math:`P` the GDP per 亩 of a mature park run by a 苏南 operator,
    calibrated so that 苏宿 (20,400 亩) produces 2.2% of Suqian prefecture's
    no-enclave GDP in 2021 (docs/domain.md section 4), :math:`\\kappa_o` the
    operator's 亩均 tier relative to Suzhou's, :math:`d` the developed share
    (0.05 for a special cooperation zone: 深汕's 468 km² is a whole
    jurisdiction; else 1) and :math:`w` the unit's share; other outcomes keep
    the proportions of :func:`default_effects` and no heterogeneity draw is
    added. Without an area, the plateaus of :func:`default_effects` apply: a
    forward park raises its host's GDP by 14% at full size, below the ≈20% of
    a whole state-level SEZ (Alder, Shao & Zilibotti 2016). The roles table
    records ``effect_basis`` ("area" or "profile"), ``effect_scale``,
    ``park_gdp_wan`` and ``park_gdp_share`` (of the host's 2021 GDP);
    :func:`calibration_table` compares the result with the published facts.

    **Treatment.** Each registry enclave treats its origin and destination
    from ``opening_year`` (``agreement_year`` when the opening is unknown;
    recorded in ``roles.start_source``). An origin coded at prefecture level
    (ending in "00") is the city as a whole and is spread over its urban
    districts (市辖区 units; all its units if it has none) with weight 1/k
    each. A destination is where the park's land is: coded at prefecture
    level, its location within the prefecture is unknown. A park of at least
    1 km² is spread like an origin (an assumption, said so in
    ``roles.location``; its total size does not depend on k); a smaller park
    or one of unknown area (an office building) is not spread at all: one
    roles row with ``status = "location_unknown"``, no effect, and a counted
    :class:`LocationUnknownWarning`. Roles outside the simulated units,
    province-level codes, codes of another vintage, unknown years and
    openings after 2023 are skipped and listed in ``.skipped``. Effects of all enclaves on a unit add on the log scale:
    :math:`\\log Y_{it}(1) = \\log Y_{it}(0) + \\sum_r \\tau_{k,r}(t - s_r)
    + \\lambda \\sum_{r \\in N(i)} \\tau_{k,r}(t - s_r)` with :math:`N(i)`
    the enclave roles on other units of :math:`i`'s prefecture and
    :math:`\\lambda` = ``spillover`` (see :func:`default_effects`).

    **Revenue flows.** An origin receives ``share_to_origin`` times the
    extra tax its park adds to the destination,
    :math:`Y^{tax}(0)(e^{\\tau^{tax}} - 1)`, for ``share_years`` years, plus
    ``fixed_return_amount_wan`` (or ``fixed_return_rate`` ×
    ``investment_yi``) per year for ``fixed_return_years`` years; unknown
    durations run to the panel's end. No terms known, no flow (listed in
    ``roles.revenue_terms``). Two-way enclaves carry no flow.

    **Truth.** For a role group :math:`G` (units whose ``first_treat_<role>``
    is :math:`g`) and event time :math:`e`,
    :math:`ATT = |S|^{-1}\\sum_{(i,t)\\in S} (Y_{it}(1) - Y_{it}(0))` over the
    observed (non-missing) unit-years :math:`S` of the group at :math:`t = g + e`.
    It is the *total* injected effect -- a destination that is also an origin
    carries both -- which is what a DiD on that ``first_treat_<role>`` with
    controls never treated in any role (``first_treat == 0``) targets; with
    ``spillover > 0`` also drop exposed controls (``first_exposed_neighbour``). ``"overall"`` and ``"type"`` average over
    all observed post-treatment unit-years (:math:`e \\ge 0`); ``"neighbour"``
    rows are never-treated units exposed through their prefecture. Units
    treated before 2000 (an enclave opened in 1995) are always treated in the
    panel; R ``did`` drops them, so drop their cohort before comparing.

    References
    ----------
    Alder, S., Shao, L. and Zilibotti, F. (2016). Economic reforms and
    industrial policy in a panel of Chinese cities. *Journal of Economic
    Growth* 21(4), 305--349.

    Examples
    --------
    A short run (2015--2023) without missing values; it unpacks as
    ``panel, truth``:

    >>> from policyeval.data.simulate import simulate_enclave_panel
    >>> panel, truth = simulate_enclave_panel(seed=1, years=range(2015, 2024), missing=False)
    >>> bool(panel["is_simulated"].all()), int(panel["year"].nunique())
    (True, 9)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ArgumentTypeError(f"seed must be an integer, got {type(seed).__name__}.")
    out_years = _check_years(years)
    if isinstance(spillover, bool) or not isinstance(spillover, (int, float, np.floating, np.integer)):
        raise ArgumentTypeError(f"spillover must be a number in [0, 1], got {type(spillover).__name__}.")
    if not 0.0 <= float(spillover) <= 1.0:
        raise DataError(f"spillover must lie in [0, 1], got {spillover}.")
    if counties is None:
        counties = default_counties()
    units = _check_counties(counties)
    if enclaves is None:
        from policyeval.data.registry import load_enclaves

        enclaves = load_enclaves()
    if not isinstance(enclaves, pd.DataFrame):
        raise ArgumentTypeError(f"enclaves must be a DataFrame such as load_enclaves() returns, "
                                f"got {type(enclaves).__name__}.")
    check_enclaves(enclaves, ENCLAVE_TYPES)
    eff_table = _check_effects(effect_sizes)

    full_years = np.array(cal.CALIBRATED_YEARS)
    # A fifth stream for the units outside Jiangsu/Zhejiang: the first four are those of
    # earlier versions, so the calibrated provinces' draws do not depend on the extra units.
    s_units, s_noise, s_missing, s_effects, s_extra = (
        np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(5))
    core = units["province_code"].str[:2].isin(list(cal.PROVINCES)).to_numpy()
    base, present, item_missing = _baseline(units, core, s_units, s_noise, s_missing, s_extra, missing)

    # Timing does not depend on the years returned: a sub-range keeps the later cohorts.
    roles = _locate(assign_roles(enclaves, units, last_year=int(full_years[-1])), enclaves)
    sim = roles["status"].to_numpy() == "simulated"
    multipliers = np.exp(s_effects.normal(-_HETEROGENEITY_SD**2 / 2, _HETEROGENEITY_SD, size=int(sim.sum())))
    roles["effect_multiplier"] = np.nan
    roles.loc[sim, "effect_multiplier"] = multipliers
    code_index = pd.Index(units["code"])
    roles = _effect_scale(roles, eff_table, units, base["gdp_wan"], code_index, full_years, enclaves)
    active = roles[roles["status"] == "simulated"].reset_index(drop=True)

    unit_of_row = code_index.get_indexer(active["county_code"])
    paths = _event_paths(active, eff_table, full_years)
    tau = {k: np.zeros((len(units), len(full_years))) for k in OUTCOMES}
    if effects:
        pref = units["prefecture_code"].to_numpy()
        for k in OUTCOMES:
            np.add.at(tau[k], unit_of_row, paths[k])
            if spillover > 0:
                for r, i in enumerate(unit_of_row):
                    neighbours = (pref == pref[i]) & (np.arange(len(units)) != i)
                    tau[k][neighbours] += float(spillover) * paths[k][r]

    y0 = {k: base[k] for k in OUTCOMES if k != "patents_granted"}
    y1 = {k: y0[k] * np.exp(tau[k]) for k in y0}
    y0["patents_granted"] = cal.patents_from_lambda(base["patents_lambda"], base["patents_u"])
    y1["patents_granted"] = cal.patents_from_lambda(base["patents_lambda"] * np.exp(tau["patents_granted"]),
                                                    base["patents_u"])
    flows_in, flows_out = _revenue_flows(active, unit_of_row, paths, y0["tax_revenue_wan"], enclaves,
                                         full_years, len(units), enabled=effects and revenue_sharing)
    y1[FLOW_COLUMNS[0]], y1[FLOW_COLUMNS[1]] = flows_in, flows_out
    y0[FLOW_COLUMNS[0]] = np.zeros_like(flows_in)
    y0[FLOW_COLUMNS[1]] = np.zeros_like(flows_out)
    for k, mask in item_missing.items():
        y1[k] = np.where(mask, np.nan, y1[k])
        y0[k] = np.where(mask, np.nan, y0[k])

    timing = _timing_columns(units, active, code_index)
    keep_year = np.isin(full_years, out_years)
    panel = _assemble(units, timing, active, unit_of_row, full_years, keep_year, present, y1)
    truth = truth_table(panel, _assemble(units, timing, active, unit_of_row, full_years, keep_year,
                                         present, y0), outcomes=cal.OUTCOMES, flows=FLOW_COLUMNS)
    params = {"seed": int(seed), "years": out_years.tolist(), "effects": bool(effects),
              "spillover": float(spillover), "revenue_sharing": bool(revenue_sharing),
              "missing": bool(missing), "effect_sizes": "default" if effect_sizes is None else "custom",
              "n_units": len(units), "n_enclaves": int(enclaves.shape[0])}  # fmt: skip
    roles.insert(0, SIMULATED_COLUMN, True)
    for table in (panel, truth, roles):
        mark_simulated(table)
    return SimulatedPanel(panel=panel, truth=truth, roles=roles, parameters=params)


def default_counties() -> pd.DataFrame:
    """The simulator's default units: Jiangsu and Zhejiang (vintage 2019) and the extra units.

    Returns
    -------
    pandas.DataFrame
        ``list_counties(("32", "33"), vintage=2019)`` followed by the units of
        :data:`policyeval.data._simulate_calibration.EXTRA_UNITS` (both sides of
        the registry's cross-province and two-way enclaves: 大兴区, 滨海新区,
        赤峰's twelve units, 黄埔区, 深圳's nine districts, 海丰县), sorted by code.
    """
    from policyeval.data.admin_codes import list_counties

    core = list_counties(provinces=tuple(cal.PROVINCES), vintage=2019)
    other = list_counties(provinces=tuple(cal.EXTRA_PROVINCES), vintage=2019)
    other = other[other["code"].isin(list(cal.EXTRA_UNITS))]
    missing = sorted(set(cal.EXTRA_UNITS) - set(other["code"]))
    if missing:  # the bundled code list and EXTRA_UNITS disagree: a packaging error
        raise AdminCodeError(f"EXTRA_UNITS code(s) {missing[:3]} are not county-level units of vintage 2019.")
    out = pd.concat([core, other], ignore_index=True).sort_values("code", kind="stable").reset_index(drop=True)
    # Municipalities (北京, 天津) have no prefecture in the code list: use the 市辖区 code.
    for i in np.flatnonzero(out["prefecture_code"].isna().to_numpy()):
        out.at[i, "prefecture_code"], out.at[i, "prefecture_name"] = cal.EXTRA_UNITS[out.at[i, "code"]][:2]
    return out


def _baseline(units, core, s_units, s_noise, s_missing, s_extra, missing):
    """Counterfactual outcomes of all units: calibrated provinces, then the extra units."""
    n, t = len(units), len(cal.CALIBRATED_YEARS)
    core_units = units[core].reset_index(drop=True)
    base_core = cal.baseline_outcomes(core_units, cal.draw_unit_effects(core_units, s_units), s_noise)
    present_core, missing_core = cal.draw_missingness(len(core_units), s_missing, missing)
    base = {k: np.empty((n, t)) for k in base_core}
    present = np.ones((n, t), dtype=bool)
    item_missing = {k: np.zeros((n, t), dtype=bool) for k in missing_core}
    for k, v in base_core.items():
        base[k][core] = v
    present[core] = present_core
    for k, v in missing_core.items():
        item_missing[k][core] = v
    if (~core).any():
        # Extra units: complete series (no yearbook gaps drawn for them).
        for k, v in cal.extra_baseline(units[~core].reset_index(drop=True), s_extra).items():
            base[k][~core] = v
    return base, present, item_missing


def _locate(roles: pd.DataFrame, enclaves: pd.DataFrame) -> pd.DataFrame:
    """Mark destinations coded at prefecture level whose park is too small to spread.

    A destination is where the park's land is. A prefecture code says the park
    is somewhere in the prefecture: a land-using park of at least
    ``_MIN_LOCATABLE_KM2`` is spread over the prefecture's urban districts (an
    assumption, said so in ``location``); a smaller one (an office building) or
    one of unknown area is "location within the prefecture unknown": one row
    with ``status = "location_unknown"``, no effect, and a counted
    :class:`LocationUnknownWarning`. Origins coded at prefecture level are the
    city as a whole (its government runs the park) and stay spread.
    """
    area = registry_area_mu(enclaves)
    roles = roles.copy()
    roles["area_mu"] = roles["enclave_id"].map(area).astype(float)
    roles["location"] = None
    prefecture = roles["mapping"].fillna("").str.startswith("prefecture") & (roles["status"] == "simulated")
    roles["location"] = np.where(roles["status"] == "simulated", "county-level code", None)
    roles.loc[prefecture, "location"] = "prefecture code: spread over its units (city as a whole)"
    dest = prefecture & (roles["role"] == "destination")
    unknown = unlocatable_destinations(roles, enclaves, placed_status="simulated")
    roles.loc[dest & ~unknown, "location"] = ("prefecture code: location within the prefecture unknown; "
                                              "park of >= 1 km2 spread over its units (assumption)")
    if not unknown.any():
        return roles
    roles["_pos"] = np.arange(len(roles))  # keep assign_roles' order; a collapsed group sits at its first row
    keep = roles[~unknown]
    lost = roles[unknown].groupby(["enclave_id", "role"], sort=False, as_index=False).first()
    lost["county_code"] = lost["county_name"] = np.nan
    lost["weight"] = np.nan
    lost["status"] = "location_unknown"
    lost["location"] = "unknown"
    lost["reason"] = [
        f"{reg} is a prefecture code and the park's area is "
        f"{'unknown' if np.isnan(a) else f'{a / 1500:.3g} km2'} (< {_MIN_LOCATABLE_KM2:g} km2 needed to "
        f"spread it): location within the prefecture unknown, no effect simulated"
        for reg, a in zip(lost["registry_code"], lost["area_mu"])
    ]
    import warnings

    ids = ", ".join(lost["enclave_id"].astype(str).head(3))
    warnings.warn(f"{len(lost)} enclave destination(s) coded at prefecture level with an unknown or small "
                  f"(< {_MIN_LOCATABLE_KM2:g} km2) park are not spread over the prefecture's units "
                  f"(location within the prefecture unknown; no effect simulated; e.g. {ids}); "
                  "see roles[roles.status == 'location_unknown'].", LocationUnknownWarning, stacklevel=3)
    out = pd.concat([keep, lost[roles.columns]]).sort_values("_pos", kind="stable").drop(columns="_pos")
    out["start_year"] = out["start_year"].astype("Int64")
    return out.reset_index(drop=True)


def park_gdp_per_mu(units: pd.DataFrame, gdp0: np.ndarray, years: np.ndarray) -> tuple[float, str]:
    """GDP per 亩 (万元) of a mature park run by a 苏南 operator, in the calibration year.

    Calibrated so that a 20,400-亩 park produces 2.2% of Suqian prefecture's
    counterfactual GDP in 2021 (:data:`~policyeval.data._simulate_calibration.SUSU_TARGET`);
    a panel without Suqian uses the bundled value
    (:data:`~policyeval.data._simulate_calibration.PARK_GDP_PER_MU_FALLBACK`).
    Returns the value and how it was obtained.
    """
    t = cal.SUSU_TARGET
    rows = (units["prefecture_code"] == t["prefecture"]).to_numpy()
    col = int(np.flatnonzero(years == t["year"])[0])
    if rows.any():
        return float(t["gdp_share"] * gdp0[rows, col].sum() / t["area_mu"]), "calibrated to 苏宿 (2.2% of Suqian GDP)"
    return float(cal.PARK_GDP_PER_MU_FALLBACK), "fallback value (panel without Suqian)"


def _effect_scale(roles, eff_table, units, gdp0, code_index, years, enclaves) -> pd.DataFrame:
    r"""Per role row, the factor on the profile plateau: weight x multiplier, or the park's size.

    A destination of an area-sized type with a known area gets
    :math:`\theta^{GDP} = \log(1 + w A d P\, \kappa_o / Y_i(0))` in 2021: park area
    :math:`A` (亩), developed share :math:`d`, park GDP per 亩 :math:`P` of a
    苏南 operator, the operator's 亩均 tier relative to 苏南 :math:`\kappa_o`
    and the host's counterfactual GDP :math:`Y_i(0)`; its other outcomes keep
    the profile's proportions and no multiplier is drawn on top (the area is
    the heterogeneity).
    """
    roles = roles.copy()
    roles["effect_basis"] = np.where(roles["status"] == "simulated", "profile", None)
    roles["effect_scale"] = roles["weight"] * roles["effect_multiplier"]
    roles["park_gdp_share"] = np.nan
    roles["park_gdp_wan"] = np.nan
    sim = roles["status"] == "simulated"
    if not sim.any():
        return roles
    p_mu, _ = park_gdp_per_mu(units, gdp0, years)
    col = int(np.flatnonzero(years == cal.SUSU_TARGET["year"])[0])
    lookup = {(o, r, t): float(th) for o, r, t, th, _ in eff_table.itertuples(index=False)}
    meta = enclaves.set_index(enclaves["enclave_id"].astype(str))
    suzhou = cal.mu_tier([cal.SUSU_TARGET["origin_prefecture"]])[0]
    for i in np.flatnonzero((sim & (roles["role"] == "destination")
                             & roles["enclave_type"].isin(_AREA_TYPES) & roles["area_mu"].notna()).to_numpy()):
        row = roles.iloc[i]
        theta_profile = lookup.get(("gdp_wan", "destination", row["enclave_type"]), 0.0)
        if theta_profile <= 0:  # a custom table without a GDP effect: keep the profile
            continue
        origin = meta.at[row["enclave_id"], "origin_code"]
        kappa = cal.mu_tier([str(origin)])[0] / suzhou if isinstance(origin, str) else 1.0
        developed = _DEVELOPED_SHARE.get(row["enclave_type"], 1.0)
        park = row["weight"] * row["area_mu"] * developed * p_mu * kappa
        share = park / gdp0[code_index.get_loc(row["county_code"]), col]
        roles.iloc[i, roles.columns.get_loc("park_gdp_share")] = share
        roles.iloc[i, roles.columns.get_loc("park_gdp_wan")] = park
        roles.iloc[i, roles.columns.get_loc("effect_scale")] = np.log1p(share) / theta_profile
        roles.iloc[i, roles.columns.get_loc("effect_basis")] = "area"
    return roles


def _revenue_flows(active, unit_of_row, paths, tax0, enclaves, years, n_units, enabled):
    inflow = np.zeros((n_units, len(years)))
    outflow = np.zeros((n_units, len(years)))
    if not enabled or active.empty:
        return inflow, outflow
    meta = enclaves.set_index(enclaves["enclave_id"].astype(str))
    for eid, rows in active.groupby("enclave_id", sort=True):
        terms = revenue_terms(meta.loc[eid])
        start = int(rows["start_year"].iloc[0])
        origins = rows.index[rows["role"] == "origin"]
        dests = rows.index[rows["role"] == "destination"]
        # The park's extra tax, per destination unit: tax0 (e^tau - 1) of this enclave alone.
        park_tax = np.vstack([tax0[unit_of_row[r]] * np.expm1(paths["tax_revenue_wan"][r]) for r in dests]) \
            if len(dests) else np.zeros((0, len(years)))
        # the same rule policyeval.design.attribute_revenue applies to booked revenue
        paid, received = enclave_transfers(terms, years, start, park_tax, active.loc[dests, "weight"].to_numpy(),
                                           active.loc[origins, "weight"].to_numpy())
        if len(dests):
            np.add.at(outflow, unit_of_row[dests], paid)
        if len(origins):
            np.add.at(inflow, unit_of_row[origins], received)
    return inflow, outflow


def _timing_columns(units: pd.DataFrame, active: pd.DataFrame, codes: pd.Index) -> pd.DataFrame:
    ft_d, ty_d, _ = _first_year(active, codes, "destination")
    ft_o, ty_o, _ = _first_year(active, codes, "origin")
    ft, ty, ids = _first_year(active, codes, None)
    pref = units.set_index("code")["prefecture_code"]
    row_pref = active["prefecture_code"].to_numpy(dtype=object)
    row_code = active["county_code"].to_numpy(dtype=object)
    row_start = active["start_year"].to_numpy(dtype=float)
    exposed = []
    for code in codes:
        others = row_start[(row_pref == pref[code]) & (row_code != code)]
        exposed.append(int(others.min()) if others.size else 0)
    return pd.DataFrame({
        "first_treat": ft.to_numpy(), "first_treat_destination": ft_d.to_numpy(),
        "first_treat_origin": ft_o.to_numpy(), "first_exposed_neighbour": exposed,
        "enclave_type": ty.to_numpy(dtype=object), "enclave_type_destination": ty_d.to_numpy(dtype=object),
        "enclave_type_origin": ty_o.to_numpy(dtype=object), "first_enclave_id": ids.to_numpy(dtype=object),
    }, index=codes)  # fmt: skip


def _assemble(units, timing, active, unit_of_row, years, keep_year, present, values) -> pd.DataFrame:
    n, t = present.shape
    idx_unit = np.repeat(np.arange(n), t)
    idx_year = np.tile(np.arange(t), n)
    rows = present.ravel() & np.tile(keep_year, n)
    iu, iy = idx_unit[rows], idx_year[rows]
    year = years[iy]
    tim = timing.iloc[iu].reset_index(drop=True)
    df = pd.DataFrame({
        "is_simulated": True,
        "county_code": units["code"].to_numpy()[iu],
        "county_name": units["name"].to_numpy()[iu],
        "prefecture_code": units["prefecture_code"].to_numpy()[iu],
        "prefecture_name": units["prefecture_name"].to_numpy()[iu],
        "province_code": units["province_code"].to_numpy()[iu],
        "province": units["province_name"].to_numpy()[iu],
        "year": year.astype(int),
    })
    for col in timing.columns:
        df[col] = tim[col].to_numpy()
    df["is_destination"] = df["first_treat_destination"] > 0
    df["is_origin"] = df["first_treat_origin"] > 0
    for suffix, col in (("", "first_treat"), ("_destination", "first_treat_destination"),
                        ("_origin", "first_treat_origin")):
        df["post" + suffix] = ((df[col] > 0) & (df["year"] >= df[col])).astype("int8")
    started = np.zeros((n, t), dtype=int)
    for (_, rows_e) in active.groupby("enclave_id"):
        start = int(rows_e["start_year"].iloc[0])
        for i in set(unit_of_row[rows_e.index]):
            started[i] += (years >= start)
    df["n_enclaves"] = started[iu, iy]
    for k, (_, log_col, how) in cal.OUTCOMES.items():
        df[k] = values[k][iu, iy]
    for k, (_, log_col, how) in cal.OUTCOMES.items():
        with np.errstate(divide="ignore", invalid="ignore"):
            df[log_col] = np.log1p(df[k]) if how == "log1p" else np.log(df[k])
    for k in FLOW_COLUMNS:
        df[k] = values[k][iu, iy]
    return df


def calibration_table(panel: pd.DataFrame | None = None, roles: pd.DataFrame | None = None) -> pd.DataFrame:
    """Simulated values beside the published figures they are calibrated to.

    Parameters
    ----------
    panel, roles : DataFrame, optional
        Tables of one simulation (``result.panel``, ``result.roles``); default:
        the bundled ones (:func:`load_simulated_panel`).

    Returns
    -------
    pandas.DataFrame
        One row per calibration target: ``quantity``, ``simulated`` (from the
        tables, with effects), ``published``, ``unit``, ``source`` and ``note``.
        ``is_simulated`` is True (the ``simulated`` column is a draw).
        docs/calibration.md shows it for the bundled panel.

    Examples
    --------
    >>> from policyeval.data.simulate import calibration_table
    >>> tab = calibration_table()
    >>> float(tab.set_index("quantity").loc["Suzhou-Suqian park area", "simulated"])
    20400.0
    """
    panel = load_simulated_panel("panel") if panel is None else panel
    roles = load_simulated_panel("roles") if roles is None else roles
    t = cal.SUSU_TARGET
    domain = "docs/domain.md s4"
    ce = "http://district.ce.cn/newarea/roll/202101/08/t20210108_36202526.shtml"
    report = "2024 Jiangsu government work report (https://hkcd.com/hkcdweb/content/2024/01/23/content_8620069.html)"
    zj = "Zhejiang 2023 communique (http://zjzd.stats.gov.cn/zwgk/xxgkml/tjxx/tjgb/202403/t20240304_110816.html)"
    year = panel["year"]
    prov = panel.groupby(["province_code", "year"])[["gdp_wan", "budget_revenue_wan", "population_10k"]].sum()

    def total(code, col, y, scale):
        return float(prov.loc[(code, y), col] / scale) if (code, y) in prov.index else np.nan

    susu = roles[(roles["enclave_id"] == t["enclave_id"]) & (roles["role"] == "destination")]
    park = float(susu["park_gdp_wan"].sum()) if "park_gdp_wan" in susu and len(susu) else np.nan
    area = float(susu["area_mu"].iloc[0]) if len(susu) else np.nan
    suqian = panel[(panel["prefecture_code"] == t["prefecture"]) & (year == t["year"])]["gdp_wan"].sum()
    per_mu = park / t["area_mu"]
    sip_2020 = t["sip_gdp_yi"] * 1e4 / (t["sip_area_km2"] * 1500.0)
    js_growth = float(cal.growth_index("32", np.array([t["year"]]))[0] / cal.growth_index("32", np.array([t["sip_year"]]))[0])
    per_mu_panel = panel["industrial_va_wan"] / panel["industrial_land_mu"]
    tier = pd.Series(cal.mu_tier(panel["prefecture_code"].to_numpy()), index=panel.index)
    js21 = (panel["province_code"] == "320000") & (year == t["year"])
    gradient = float(per_mu_panel[js21 & (tier == 1.3)].median() / per_mu_panel[js21 & (tier == 0.7)].median())
    jinyun = panel[(panel["county_code"] == "331122") & (year == 2023)]["gdp_wan"]
    rows = [
        ("Jiangsu GDP 2023", total("320000", "gdp_wan", 2023, 1e4), 128_200.0, "亿元", report,
         "the no-enclave, gap-free draw matches exactly; the panel adds enclave effects and yearbook gaps"),
        ("Zhejiang GDP 2023", total("330000", "gdp_wan", 2023, 1e4), 82_553.0, "亿元", zj, "as above"),
        ("Jiangsu general budget revenue 2023", total("320000", "budget_revenue_wan", 2023, 1e4), 9_930.0,
         "亿元", report, "as above"),
        ("Zhejiang resident population 2023", total("330000", "population_10k", 2023, 1.0), 6_627.0, "万人",
         zj, "as above"),
        ("缙云县 GDP 2023 (scale of a poor county)", float(jinyun.iloc[0] / 1e4) if len(jinyun) else np.nan,
         319.73, "亿元", "2023年缙云县统计公报 (see policyeval/data/_simulate_calibration.py)",
         "unit draw: same order of magnitude, not matched"),
        ("Suzhou-Suqian park area", area, t["area_mu"], "亩", ce, "13.6 km2 x 1500 亩/km2; registry area"),
        ("Suzhou-Suqian park GDP / Suqian GDP, 2021", park / suqian if suqian else np.nan, t["gdp_share"], "share",
         f"王曙光 & 梁爽 (2023), {domain}",
         "calibrated: 2.2% of Suqian's no-enclave GDP; the simulated actual GDP includes the enclaves"),
        ("Suzhou-Suqian park GDP per 亩 / SIP's, 2021", per_mu / (sip_2020 * js_growth), t["sip_ratio"], "ratio",
         f"王曙光 & 梁爽 (2023); SIP 278 km2, GDP 2020 2907亿元, {domain}",
         "not a free target: follows from the 2.2% share (SIP's 2020 GDP per 亩 grown with Jiangsu's path)"),
        ("Suzhou-Suqian park share of Suqian's land", np.nan, t["land_share"], "share", f"王曙光 & 梁爽 (2023), {domain}",
         "not simulated: the panel has industrial land, not total land area"),
        ("亩均 industrial VA, 苏南 / 苏北 median, 2021", gradient, np.nan, "ratio", "direction only (苏南 > 苏北)",
         "tier sizes 1.3 / 0.7 are assumptions"),
    ]
    out = pd.DataFrame(rows, columns=["quantity", "simulated", "published", "unit", "source", "note"])
    out.insert(0, SIMULATED_COLUMN, True)
    return mark_simulated(out)


def calibration_markdown(table: pd.DataFrame | None = None) -> str:
    """:func:`calibration_table` as the Markdown table of docs/calibration.md.

    ``scripts/make_simulated_panel.py`` writes it into the doc between the
    ``calibration-table`` markers; ``tests/test_simulate.py`` checks the two agree.
    """
    table = calibration_table() if table is None else table

    def fmt(v, unit):
        if pd.isna(v):
            return "—"
        if unit == "share":
            return f"{100 * v:.2f}%"
        if unit == "ratio":
            return f"{v:.2f}"
        return f"{v:,.6g}" if abs(v) < 1e6 else f"{v:,.0f}"

    lines = ["| quantity | simulated (SIMULATED draw) | published | unit | source | note |",
             "|---|---|---|---|---|---|"]
    for r in table.itertuples(index=False):
        lines.append(f"| {r.quantity} | {fmt(r.simulated, r.unit)} | {fmt(r.published, r.unit)} | {r.unit} "
                     f"| {r.source} | {r.note} |")
    return "\n".join(lines) + "\n"


def _read_bundled(name: str) -> pd.DataFrame:
    path = resources.files("policyeval.data").joinpath(_BUNDLED_FILES[name])
    # Codes are text ("320102"), never numbers; dtype=str keeps what the simulator returns.
    text_cols = ("county_code", "prefecture_code", "province_code", "registry_code")
    with resources.as_file(path) as p:
        # compression is inferred from the ".gz" suffix
        head = pd.read_csv(p, nrows=0).columns
        return pd.read_csv(p, dtype={c: str for c in text_cols if c in head})


def load_simulated_panel(table: str = "panel") -> pd.DataFrame:
    """Read the bundled seeded output of :func:`simulate_enclave_panel` -- SIMULATED DATA.

    Parameters
    ----------
    table : {"panel", "truth", "roles"}, default "panel"
        Which table: the county-year panel, the injected effects, or the
        enclave-to-unit mapping (including skipped enclaves and why).

    Returns
    -------
    pandas.DataFrame
        Exactly what ``simulate_enclave_panel(**BUNDLED_PARAMETERS)`` returns
        for that table (up to the 10 significant digits the CSV keeps), with
        codes as strings. ``is_simulated`` is True on every row of every
        table, and ``DataFrame.attrs["simulated"]`` is True, so tables,
        figures and CSV files made from it are labelled SIMULATED
        (:func:`is_simulated`).

    Raises
    ------
    DataError
        If ``table`` is not one of the three names.

    Notes
    -----
    The files are ``policyeval/data/simulated_enclave_{panel,truth,roles}.csv.gz``
    (gzipped UTF-8 CSV; the only copy, also in the repository), written by
    ``scripts/make_simulated_panel.py`` with :data:`BUNDLED_PARAMETERS`. To hand
    a table to R or a spreadsheet, write it out:
    ``load_simulated_panel().to_csv("panel.csv", index=False)``.

    Examples
    --------
    >>> from policyeval.data.simulate import load_simulated_panel
    >>> df = load_simulated_panel()
    >>> bool(df["is_simulated"].all())
    True
    """
    if table not in _BUNDLED_FILES:
        raise DataError(f"table={table!r} is not one of {sorted(_BUNDLED_FILES)}.")
    df = mark_simulated(_read_bundled(table))
    if table == "panel":
        return _normalise_panel(df)
    if table == "truth":
        for col in ("cohort", "event_time"):
            df[col] = df[col].astype("Int64")
        return df
    df["start_year"] = df["start_year"].astype("Int64")
    df[SIMULATED_COLUMN] = df[SIMULATED_COLUMN].astype(bool)
    return df


def _normalise_panel(df: pd.DataFrame) -> pd.DataFrame:
    for col in ("post", "post_destination", "post_origin"):
        df[col] = df[col].astype("int8")
    for col in ("is_simulated", "is_destination", "is_origin"):
        df[col] = df[col].astype(bool)
    return df
