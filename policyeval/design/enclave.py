"""Treatment timing by role: from the enclave registry and a panel to estimation samples.

Every enclave treats two jurisdictions: its origin (飞出地, the one that runs
it) and its destination (飞入地, the one whose land it sits on). A unit can be
origin of one enclave and destination of another, host several enclaves,
and sit next to a treated unit without being treated itself.
:func:`enclave_design` records all of it per unit; :meth:`EnclaveDesign.sample`
builds the panel for one role with a clean comparison group: units treated
in the other role and neighbours exposed to spillovers are taken out of the
controls (with a :class:`~policyeval.exceptions.DroppedObservationsWarning`),
so a DiD does not compare treated units with other treated ones by mistake.

Enclaves without a sourced start date (neither ``opening_year`` nor
``agreement_year``) still treat their participants: those units are
"treated, timing unknown". They get no first-treatment year (no DiD can use
them as treated) and are kept out of every control group; one warning at
:func:`enclave_design` counts them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from policyeval._validation import examples, require_columns
from policyeval.design.roles import MIN_LOCATABLE_KM2, ROLES, assign_roles, check_enclaves, unlocatable_destinations
from policyeval.exceptions import (
    AdminCodeError,
    ArgumentTypeError,
    ColumnNotFoundError,
    DesignError,
    DroppedObservationsWarning,
    DuplicateObservationError,
    LocationUnknownWarning,
    PolicyevalWarning,
)

__all__ = ["enclave_design", "EnclaveDesign", "NEIGHBOUR_MODES"]

#: How neighbours are defined.
NEIGHBOUR_MODES = (None, "same_prefecture", "adjacent", "rings")


@dataclass
class EnclaveDesign:
    """Treatment timing by role for one panel (returned by :func:`enclave_design`).

    Attributes
    ----------
    panel : DataFrame
        The panel the design was built for (not copied).
    idname, tname : str
        Unit and period columns of ``panel``.
    roles : tuple of str
        Roles the design treats (``"origin"``, ``"destination"``).
    timing : DataFrame
        One row per panel unit (column ``idname``): ``first_treat_origin``,
        ``first_treat_destination``, ``first_treat_any`` (first year treated
        in that role, 0 = never, as R ``did``), ``n_enclaves_origin``,
        ``n_enclaves_destination``, ``n_enclaves`` (distinct enclaves),
        ``area_km2_origin``, ``area_km2_destination`` (registry area times the
        mapping weight, summed: an intensity measure; NaN where no area is
        sourced), ``role_label`` (``"origin"``, ``"destination"``,
        ``"origin+destination"`` or ``""``), ``enclave_ids``,
        ``first_exposed`` (first year a *different* unit within the
        neighbourhood is treated, 0 = never), ``exposure_ring`` and
        ``nearest_treated_km`` (rings only); ``timing_unknown_origin``,
        ``timing_unknown_destination``, ``timing_unknown`` (bool: the unit
        takes part, in that role / in any role, in an enclave without a
        sourced start date), ``undated_enclave_ids`` and
        ``exposed_timing_unknown`` (bool: a *different* unit in the
        neighbourhood takes part in an undated enclave); ``location_unknown``
        (bool: the unit lies in a prefecture that hosts an enclave whose
        location within it is unknown, see :attr:`location_unknown`).
    assignments : DataFrame
        One row per (enclave, role, panel unit) mapped and one per (enclave,
        role) skipped, from :func:`policyeval.design.roles.assign_roles`;
        ``status`` is ``"mapped"``, ``"timing_unknown"`` (mapped, but the
        enclave has no sourced start date), ``"location_unknown"`` (a
        destination coded at prefecture level whose park is smaller than
        1 km2 or of unknown size: one row per unit of the prefecture, none of
        them treated by it) or ``"skipped"``.
    exposure : DataFrame
        Long table of neighbour exposure: ``idname``, ``ring``,
        ``first_exposed``, ``n_sources`` (treated units in that ring),
        ``nearest_km``; empty without neighbours.
    neighbours : str or None
        ``None``, ``"same_prefecture"``, ``"adjacent"`` or ``"rings"``.
    rings_km : tuple of float or None
        Ring edges in km (rings only).
    start : str
        Registry column dating treatment.
    notes : list of str
        How units in several roles and other special cases were handled.
    """

    panel: pd.DataFrame
    idname: str
    tname: str
    roles: tuple
    timing: pd.DataFrame
    assignments: pd.DataFrame
    exposure: pd.DataFrame
    neighbours: str | None
    rings_km: tuple | None
    start: str
    notes: list = field(default_factory=list)

    @property
    def skipped(self) -> pd.DataFrame:
        """Registry (enclave, role) pairs that treat no unit of the panel, with the reason."""
        return self.assignments[self.assignments["status"] == "skipped"].reset_index(drop=True)

    @property
    def timing_unknown(self) -> pd.DataFrame:
        """Units treated by an enclave without a sourced start date ("treated, timing unknown").

        One row per (unit, enclave, role): ``idname``, ``county_name``,
        ``enclave_id``, ``role``, ``dated_treatment`` (the unit's first dated
        treatment in any role, 0 = none) and ``handling``. These units are
        never controls (:meth:`sample`, :meth:`spillover_sample`).
        """
        a = self.assignments[self.assignments["status"] == "timing_unknown"]
        ft = self.timing.set_index(self.idname)["first_treat_any"]
        out = pd.DataFrame({self.idname: a["county_code"].to_numpy(), "county_name": a["county_name"].to_numpy(),
                            "enclave_id": a["enclave_id"].to_numpy(), "role": a["role"].to_numpy()})
        out["dated_treatment"] = out[self.idname].map(ft).fillna(0).astype(int).to_numpy()
        out["handling"] = np.where(
            out["dated_treatment"] > 0,
            "treated from its dated enclave; the undated one may add to its effect; never a control",
            "treated, timing unknown: in no treated cohort and never a control")
        return out.reset_index(drop=True)

    @property
    def location_unknown(self) -> pd.DataFrame:
        """Destinations coded at prefecture level that cannot be located within the prefecture.

        A prefecture code says only that the park is somewhere in the
        prefecture. A park of at least 1 km2 is spread over the prefecture's
        units (weight ``1/k`` each); a smaller one (an office building, an
        incubator floor) or one of unknown size treats none of them: spreading
        it would dilute a small effect over ten districts. Its prefecture's
        units may still host it, so they are never controls (:meth:`sample`,
        :meth:`spillover_sample`). One row per (enclave, unit of the prefecture).
        """
        a = self.assignments[self.assignments["status"] == "location_unknown"]
        return a[["enclave_id", "registry_code", "county_code", "county_name", "reason"]] \
            .rename(columns={"county_code": self.idname}).reset_index(drop=True)

    @property
    def multi_role(self) -> pd.DataFrame:
        """Units treated as origin of one enclave and destination of another (or of the same
        two-way enclave), with both timings and how :meth:`sample` handles them."""
        t = self.timing
        both = t[(t["first_treat_origin"] > 0) & (t["first_treat_destination"] > 0)].copy()
        both["handling"] = (
            "treated in sample(role=r) from first_treat_r; its effect includes the other role's "
            "(drop_multi_role=True removes it); never a control")
        return both[[self.idname, "first_treat_origin", "first_treat_destination", "enclave_ids",
                     "handling"]].reset_index(drop=True)

    @property
    def rings(self) -> list[str]:
        """Labels of the neighbourhood rings, innermost first."""
        return _ring_labels(self.neighbours, self.rings_km)

    def __repr__(self) -> str:
        t = self.timing
        return (f"<EnclaveDesign: {len(t)} units; origins {int((t.first_treat_origin > 0).sum())}, "
                f"destinations {int((t.first_treat_destination > 0).sum())}, in both roles "
                f"{len(self.multi_role)}, exposed neighbours "
                f"{int(((t.first_treat_any == 0) & (t.first_exposed > 0)).sum())} "
                f"({self.neighbours}); {len(self.skipped)} registry roles skipped>")

    def plot(self, ax=None, max_units: int | None = None, max_labels: int = 40):
        """Treatment-timing chart: one row per treated unit, its start year in each role.

        Origins (飞出地) are circles, destinations (飞入地) squares, the treated
        span a grey bar; units are ordered by first treatment. Every treated
        unit is drawn (60, 200 or more); the y labels are thinned to at most
        ``max_labels`` (every k-th unit, said in the axis label) so they stay
        legible.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        max_units : int, optional
            Draw only the first ``max_units`` treated units (the earliest);
            the title then says how many of how many. Default: all.
        max_labels : int, default 40
            At most this many unit labels on the y axis.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import math

        import matplotlib.pyplot as plt

        from policyeval.plots.fonts import apply_cjk_font

        treated = self.timing[self.timing["first_treat_any"] > 0].sort_values(
            ["first_treat_any", self.idname], kind="stable")
        t = treated if max_units is None else treated.head(max_units)
        names = self.assignments.dropna(subset=["county_code"]).drop_duplicates("county_code") \
            .set_index("county_code")["county_name"]
        years = pd.to_numeric(self.panel[self.tname])
        lo, hi = int(years.min()), int(years.max())
        n = len(t)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, min(12.0, max(3.0, 0.22 * n + 1))))
        y = np.arange(n)[::-1]
        size = 6.0 if n <= 60 else max(2.0, 6.0 * 60 / n)
        for yy, (_, r) in zip(y, t.iterrows()):
            ax.hlines(yy, max(r["first_treat_any"], lo), hi, color="0.8",
                      linewidth=3 if n <= 60 else max(0.8, 180 / n))
        for role, marker, colour in (("origin", "o", "C0"), ("destination", "s", "C1")):
            sel = t[f"first_treat_{role}"].to_numpy() > 0
            ax.plot(t[f"first_treat_{role}"].to_numpy()[sel], y[sel], marker, color=colour, linestyle="none",
                    markersize=size,
                    label={"origin": "飞出地 origin", "destination": "飞入地 destination"}[role])
        step = max(1, math.ceil(n / max_labels))
        shown = np.arange(0, n, step)
        ax.set_yticks(y[shown])
        ax.set_yticklabels([f"{names.get(c, '')} {c}".strip() for c in t[self.idname].to_numpy()[shown]],
                           fontsize="small" if n <= 30 else "x-small")
        if step > 1:
            ax.set_ylabel(f"1 in {step} of {n} units labelled")
        ax.axvline(lo - 0.5, color="0.5", linestyle=":", linewidth=1)
        ax.set_xlabel("首次处理年份 first treatment year")
        ax.set_title("处理时点 Treatment timing by role"
                     + (f" (first {n} of {len(treated)} treated units)" if n < len(treated) else ""))
        ax.legend(frameon=False, fontsize="small", loc="lower right")
        apply_cjk_font(ax)
        return ax

    # ------------------------------------------------------------------
    def _treat_column(self, role: str) -> str:
        if role == "any":
            return "first_treat_any"
        if role not in ROLES:
            raise DesignError(f"role={role!r} is not one of {list(ROLES) + ['any']}.")
        if role not in self.roles:
            raise DesignError(f"role={role!r} is not in this design's roles {list(self.roles)}; "
                              f"build the design with roles including it.")
        return f"first_treat_{role}"

    def sample(self, role: str = "destination", *, exclude_other_roles: bool = True,
               exclude_neighbours: bool = True, drop_multi_role: bool = False,
               types=None, gname: str = "gname") -> pd.DataFrame:
        """The panel for estimating the effect on one role, with a clean comparison group.

        Parameters
        ----------
        role : {"origin", "destination", "any"}
            Whose treatment dates go into ``gname``.
        exclude_other_roles : bool, default True
            Drop units never treated in ``role`` but treated in another role:
            they are treated, not clean controls. Participants of enclaves
            without a sourced start date (``timing.timing_unknown``) are
            dropped from the controls whatever this option says.
        exclude_neighbours : bool, default True
            Drop units never treated in ``role`` (nor, with
            ``exclude_other_roles``, in any role) whose neighbourhood is
            treated (``first_exposed > 0``): spillovers would contaminate the
            comparison (Butts 2021).
        drop_multi_role : bool, default False
            Also drop units treated in ``role`` that are treated in the other
            role too (their effect mixes both).
        types : sequence of str, optional
            Enclave types (:data:`policyeval.data.registry.ENCLAVE_TYPES`)
            whose treatment is studied, e.g. ``("forward",)``. ``gname`` is
            then the first start of such an enclave in ``role``; units treated
            in ``role`` only by other types, or by another type *before* the
            selected one, are dropped (they are neither clean controls nor
            cleanly timed), with the reason in the warning.
        gname : str, default "gname"
            Name of the first-treatment column added (0 = never treated).

        Returns
        -------
        pandas.DataFrame
            A copy of the kept rows of the panel plus ``gname``.

        Raises
        ------
        DesignError
            Unknown role, or ``gname`` already a column of the panel.

        Warns
        -----
        DroppedObservationsWarning
            Stating how many rows and units were dropped and why.
        """
        col = self._treat_column(role)
        if not isinstance(gname, str) or not gname:
            raise ArgumentTypeError(f"gname must be a non-empty string, got {gname!r}.")
        if gname in self.panel.columns:
            raise DesignError(f"gname={gname!r} is already a column of the panel; pick another name.")
        t = self.timing.set_index(self.idname)
        g = t[col]
        reasons: dict[str, pd.Index] = {}
        drop = pd.Series(False, index=t.index)
        if types is not None:
            g, g_other = self._type_timing(role, types)
            only_other = (g == 0) & (g_other > 0)
            earlier = (g > 0) & (g_other > 0) & (g_other < g)
            reasons[f"unit(s) treated as {role} only by other enclave types"] = t.index[only_other]
            reasons[f"unit(s) treated as {role} by another enclave type before a selected one"] = t.index[earlier]
            drop |= only_other | earlier
        untreated = g == 0
        if exclude_other_roles and role != "any":
            other = untreated & ~drop & (t["first_treat_any"] > 0)
            reasons["unit(s) treated only in another role"] = t.index[other]
            drop |= other
        # enclaves without a start date still treat: never controls, whatever the options
        undated = untreated & ~drop & t["timing_unknown"]
        reasons["unit(s) treated, timing unknown (enclave without a sourced start date)"] = t.index[undated]
        drop |= undated
        unlocated = untreated & ~drop & t["location_unknown"]
        reasons["unit(s) of a prefecture hosting an enclave whose location in it is unknown"] = t.index[unlocated]
        drop |= unlocated
        if exclude_neighbours and self.neighbours is not None:
            base = untreated & ~drop
            exposed = base & (t["first_exposed"] > 0)
            reasons[f"never-treated neighbour(s) exposed to spillovers ({self.neighbours})"] = t.index[exposed]
            unknown = base & (t["exposure_ring"] == "unknown")
            reasons["never-treated unit(s) whose exposure is unknown (no county point)"] = t.index[unknown]
            near_undated = base & ~exposed & ~unknown & t["exposed_timing_unknown"]
            reasons["never-treated neighbour(s) of an enclave without a start date"] = t.index[near_undated]
            drop |= exposed | unknown | near_undated
        if drop_multi_role and role != "any":
            both = ~drop & (t["first_treat_origin"] > 0) & (t["first_treat_destination"] > 0)
            reasons["unit(s) treated in both roles (drop_multi_role=True)"] = t.index[both]
            drop |= both
        where = f"sample(role={role!r}" + (f", types={list(types) if not isinstance(types, str) else [types]})"
                                           if types is not None else ")")
        return _apply_sample(self.panel, self.idname, g, drop, reasons, gname, where)

    def _type_timing(self, role: str, types) -> tuple[pd.Series, pd.Series]:
        """First start per unit in ``role`` among enclaves of ``types``, and among the other types."""
        from policyeval.data.registry import ENCLAVE_TYPES

        types = (types,) if isinstance(types, str) else tuple(types)
        unknown = [x for x in types if x not in ENCLAVE_TYPES]
        if unknown or not types:
            raise DesignError(f"types contains unknown enclave type(s) {unknown}; known: {list(ENCLAVE_TYPES)}.")
        a = self.assignments[self.assignments["status"] == "mapped"]
        if role != "any":
            a = a[a["role"] == role]
        sel = a["enclave_type"].astype(str).isin(types)
        index = self.timing[self.idname]
        first = [a[m].groupby("county_code")["start_year"].min().reindex(index).fillna(0).astype(int)
                 for m in (sel, ~sel)]
        if (first[0] == 0).all():
            raise DesignError(f"no unit is treated as {role} by an enclave of types {list(types)} in this design.")
        return first[0], first[1]

    def spillover_sample(self, ring: str, *, gname: str = "gname") -> pd.DataFrame:
        """The panel for the spillover effect on units of one ring (Butts 2021).

        Units never treated in any role whose *first* exposure comes from a
        treated unit in ``ring`` are "treated by spillover" from that year;
        controls are units never treated and never exposed in any ring.
        Treated units and units first exposed in another ring are dropped
        (with a warning).

        Parameters
        ----------
        ring : str
            One of :attr:`rings`.
        gname : str, default "gname"
            Name of the exposure-date column added.

        Returns
        -------
        pandas.DataFrame

        Raises
        ------
        DesignError
            If the design has no neighbours or ``ring`` is unknown.
        """
        if self.neighbours is None:
            raise DesignError("this design has no neighbours; build it with neighbours= or rings_km=.")
        if ring not in self.rings:
            raise DesignError(f"ring={ring!r} is not one of {self.rings}.")
        if gname in self.panel.columns:
            raise DesignError(f"gname={gname!r} is already a column of the panel; pick another name.")
        t = self.timing.set_index(self.idname)
        treated = (t["first_treat_any"] > 0) | t["timing_unknown"] | t["location_unknown"]
        in_ring = ~treated & (t["first_exposed"] > 0) & (t["exposure_ring"] == ring)
        other_ring = ~treated & ~in_ring & ((t["exposure_ring"] != "") | t["exposed_timing_unknown"])
        g = t["first_exposed"].where(in_ring, 0).astype(int)
        reasons = {"unit(s) treated in a role (dated, timing unknown or location unknown)": t.index[treated],
                   "unit(s) first exposed in another ring, near an undated enclave, or with exposure "
                   "unknown": t.index[other_ring]}
        return _apply_sample(self.panel, self.idname, g, treated | other_ring, reasons, gname,
                             f"spillover_sample(ring={ring!r})")


def _apply_sample(panel, idname, g, drop, reasons, gname, where) -> pd.DataFrame:
    unit = panel[idname].astype(str)
    keep_units = g.index[~drop.to_numpy()]
    rows = unit.isin(keep_units).to_numpy()
    n_drop = int((~rows).sum())
    if n_drop:
        parts = [f"{len(ix)} {why} (e.g. {examples(ix)})" for why, ix in reasons.items() if len(ix)]
        warnings.warn(f"{where}: dropped {n_drop} rows of {int(drop.sum())} units from the comparison "
                      f"group: " + "; ".join(parts) + ".", DroppedObservationsWarning, stacklevel=3)
    out = panel.loc[rows].copy()
    out[gname] = g.reindex(unit[rows]).to_numpy().astype(int)
    return out.reset_index(drop=True)


def _ring_labels(neighbours, rings_km) -> list[str]:
    if neighbours is None:
        return []
    if neighbours != "rings":
        return [neighbours]
    edges = list(rings_km)
    return [f"{_fmt(a)}-{_fmt(b)}km" for a, b in zip(edges[:-1], edges[1:])]


def _fmt(x: float) -> str:
    return f"{x:g}"


def _check_rings(rings_km) -> tuple[float, ...]:
    if isinstance(rings_km, (str, bytes)) or not hasattr(rings_km, "__iter__"):
        raise ArgumentTypeError(f"rings_km must be a sequence of distances in km such as (0, 50, 100), "
                                f"got {rings_km!r}.")
    try:
        edges = tuple(float(x) for x in rings_km)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"rings_km must contain numbers (km), got {rings_km!r}.") from None
    if len(edges) < 2:
        raise DesignError(f"rings_km={rings_km!r} needs at least two edges (inner, outer), e.g. (0, 50).")
    if not all(np.isfinite(edges)) or edges[0] < 0 or any(b <= a for a, b in zip(edges[:-1], edges[1:])):
        raise DesignError(f"rings_km={rings_km!r} must be strictly increasing, finite, non-negative "
                          "distances in km, e.g. (0, 50, 100).")
    return edges


def _units_frame(codes: pd.Index, panel: pd.DataFrame, idname: str, name_column: str | None,
                 vintage: int) -> pd.DataFrame:
    units = pd.DataFrame({"code": codes.astype(str)})
    units["prefecture_code"] = units["code"].str[:4] + "00"
    units["province_code"] = units["code"].str[:2] + "0000"
    level = pd.Series(pd.NA, index=units.index, dtype=object)
    names = pd.Series("", index=units.index, dtype=object)
    try:
        from policyeval.data.admin_codes import list_counties

        ref = list_counties(tuple(sorted(set(units["code"].str[:2]))), vintage=vintage)
        ref = ref.set_index("code")
        level = units["code"].map(ref["level"]).astype(object)
        names = units["code"].map(ref["name"]).fillna("").astype(object)
    except AdminCodeError:  # provinces or vintage outside the code tables: levels from names
        pass
    if name_column is not None:
        given = panel.groupby(panel[idname].astype(str))[name_column].first()
        names = units["code"].map(given).fillna(names).astype(object)
    units["name"] = names.astype(str)
    units["level"] = level
    return units


def enclave_design(panel: pd.DataFrame, registry: pd.DataFrame | None = None, *,
                   idname: str = "county_code", tname: str = "year",
                   roles=("origin", "destination"), neighbours: str | None = None,
                   rings_km=None, start: str = "opening_year", adjacency: pd.DataFrame | None = None,
                   centroids: pd.DataFrame | None = None, name_column: str | None = "county_name",
                   vintage: int = 2019, on_missing: str = "raise") -> EnclaveDesign:
    """Build treatment timing by role (origin 飞出地 / destination 飞入地) for a panel.

    Parameters
    ----------
    panel : pandas.DataFrame
        Long panel with 6-digit GB/T 2260 unit codes in ``idname`` and integer
        periods in ``tname``. Codes should be of one vintage (harmonise first
        with :func:`policyeval.data.harmonize_codes`).
    registry : DataFrame, optional
        Registry as :func:`policyeval.data.load_enclaves` returns; default the
        shipped one.
    idname, tname : str
        Unit and period columns.
    roles : sequence of {"origin", "destination"}
        Roles that count as treatment (and as sources of neighbour exposure).
    neighbours : {None, "same_prefecture", "adjacent", "rings"}, optional
        How neighbours of treated units are found. ``"same_prefecture"``: the
        other units of the prefecture (the proxy the simulator uses);
        ``"adjacent"``: pairs in ``adjacency``; ``"rings"``: great-circle
        distance bands ``rings_km`` between county points
        (:func:`policyeval.design.geo.county_centroids`). Passing
        ``rings_km`` alone implies ``"rings"``.
    rings_km : sequence of float, optional
        Ring edges in km, strictly increasing, e.g. ``(0, 50, 100)`` gives
        rings [0, 50] and (50, 100].
    start : {"opening_year", "agreement_year"}, default "opening_year"
        Registry column that dates treatment (the other is used when empty;
        ``assignments.start_source`` records which).
    adjacency : DataFrame, optional
        Columns ``code`` and ``neighbour_code`` (made symmetric); required
        with ``neighbours="adjacent"``.
    centroids : DataFrame, optional
        Your own unit points (``code``, ``lon``, ``lat``) for rings.
    name_column : str or None, default "county_name"
        Panel column with unit names (used to spot 市辖区 districts when a
        prefecture code is spread over its units); ignored if absent.
    vintage : int, default 2019
        Code vintage used to look up unit levels (district / county).
    on_missing : {"raise", "skip"}, default "raise"
        What to do with a county-level registry code inside the panel's
        provinces that is not a unit of the panel (usually a code of another
        vintage): raise, or skip it with the reason recorded.

    Returns
    -------
    EnclaveDesign

    Raises
    ------
    ColumnNotFoundError
        ``idname`` or ``tname`` not in ``panel``.
    DuplicateObservationError
        Two rows share a (unit, period).
    DesignError
        Unknown role, neighbour mode or start column; rings not increasing;
        ``adjacency`` missing for ``"adjacent"``; a registry code absent from
        the panel (``on_missing="raise"``); no registry role maps onto the panel.

    Notes
    -----
    For unit :math:`i` and role :math:`r`,
    :math:`G_i^r = \\min\\{s_e : i \\text{ is in role } r \\text{ of enclave } e\\}`
    (0 if none), :math:`G_i^{any} = \\min_r G_i^r`, and with neighbourhood
    :math:`N_k(i)` (ring :math:`k`), the exposure date is
    :math:`E_i = \\min_k \\min\\{G_j^{any} : j \\in N_k(i), j \\ne i, G_j^{any} > 0\\}`.
    A prefecture code is spread over the prefecture's 市辖区 units (weight
    :math:`1/k`) by :func:`policyeval.design.roles.assign_roles`, the same
    rule the simulator uses. Intensity: :math:`A_i^r = \\sum_e w_{ie} a_e`
    with :math:`a_e` the registry area. Enclaves starting after the panel's
    last period are skipped (recorded): within the panel they never treat.

    References
    ----------
    Butts, K. (2021). Difference-in-differences estimation with spatial
    spillovers. arXiv:2105.03737.

    Examples
    --------
    >>> import warnings, policyeval as pe
    >>> from policyeval.design import enclave_design
    >>> panel = pe.load_simulated_panel()
    >>> d = enclave_design(panel, neighbours="same_prefecture")
    >>> t = d.timing.set_index("county_code")
    >>> int(t.loc["321282", "first_treat_destination"])   # 靖江市 hosts 江阴—靖江 (2003)
    2003
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     s = d.sample("destination")
    >>> int(s.loc[s.county_code == "321282", "gname"].iloc[0])
    2003
    """
    if not isinstance(panel, pd.DataFrame):
        raise ArgumentTypeError(f"panel must be a DataFrame, got {type(panel).__name__}.")
    require_columns(panel, where="panel", idname=[idname], tname=[tname])
    if isinstance(roles, str):
        roles = (roles,)
    roles = tuple(roles)
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise DesignError(f"roles contains unknown role(s) {unknown}; use 'origin' and/or 'destination'.")
    if rings_km is not None and neighbours is None:
        neighbours = "rings"
    if neighbours not in NEIGHBOUR_MODES:
        raise DesignError(f"neighbours={neighbours!r} must be one of {list(NEIGHBOUR_MODES)}.")
    edges = _check_rings(rings_km) if neighbours == "rings" else None
    if neighbours == "rings" and rings_km is None:
        raise DesignError("neighbours='rings' needs rings_km, e.g. rings_km=(0, 50, 100).")
    if neighbours == "adjacent" and adjacency is None:
        raise DesignError("neighbours='adjacent' needs adjacency= (columns code, neighbour_code): no open "
                          "county adjacency table ships with policyeval; use 'same_prefecture' as a proxy "
                          "or rings_km.")
    if on_missing not in ("raise", "skip"):
        raise DesignError(f"on_missing={on_missing!r} must be 'raise' or 'skip'.")
    if start not in ("opening_year", "agreement_year"):
        raise DesignError(f"start={start!r} must be 'opening_year' or 'agreement_year'.")
    codes = panel[idname].astype(str).str.strip()
    bad = codes[~codes.str.fullmatch(r"\d{6}")].unique()
    if len(bad):
        raise DesignError(f"idname={idname!r} has {len(bad)} value(s) that are not 6-digit GB/T 2260 codes "
                          f"(e.g. {examples(bad)}).")
    years = pd.to_numeric(panel[tname], errors="coerce")
    if years.isna().any() or not np.allclose(years, np.round(years)):
        raise DesignError(f"tname={tname!r} must hold integer periods (years).")
    dup = pd.DataFrame({"u": codes, "t": years}).duplicated()
    if dup.any():
        ex = [f"{u}/{int(t)}" for u, t in zip(codes[dup], years[dup])]
        raise DuplicateObservationError(
            f"panel has {int(dup.sum())} duplicated (idname={idname!r}, tname={tname!r}) row(s) "
            f"(e.g. {examples(ex)}); one row per unit and period is required.")
    if registry is None:
        from policyeval.data.registry import load_enclaves

        registry = load_enclaves()
    from policyeval.data.registry import ENCLAVE_TYPES

    check_enclaves(registry, ENCLAVE_TYPES)
    unit_index = pd.Index(sorted(codes.unique()))
    units = _units_frame(unit_index, panel, idname,
                         name_column if name_column in panel.columns else None, vintage)
    assignments = assign_roles(registry, units, last_year=int(years.max()), start=start, undated="map")
    assignments = assignments[assignments["role"].isin(roles)].reset_index(drop=True)
    assignments["status"] = assignments["status"].replace({"simulated": "mapped"})
    # assign_roles words its reasons for the simulator; here the units are the panel's
    assignments["reason"] = (assignments["reason"].str.replace("simulated provinces", "panel's provinces")
                             .str.replace("last simulated year", "last panel year"))
    absent = assignments["reason"].fillna("").str.startswith("code is not a county-level unit")
    if absent.any() and on_missing == "raise":
        rows = assignments[absent]
        ex = [f"{e} {r} {c}" for e, r, c in zip(rows["enclave_id"], rows["role"], rows["registry_code"])]
        raise DesignError(
            f"registry code(s) absent from panel column idname={idname!r} for {len(rows)} (enclave, role) "
            f"pair(s) (e.g. {examples(ex)}); harmonise codes to the panel's vintage "
            "(policyeval.data.harmonize_codes) or pass on_missing='skip'.")
    unlocated = unlocatable_destinations(assignments, registry, placed_status="mapped") | \
        unlocatable_destinations(assignments, registry, placed_status="timing_unknown")
    if unlocated.any():
        area = assignments.loc[unlocated, "enclave_id"].map(
            lambda e: registry.set_index(registry["enclave_id"].astype(str)).get("area_km2", pd.Series(dtype=float))
            .get(str(e), np.nan))
        assignments.loc[unlocated, "status"] = "location_unknown"
        assignments.loc[unlocated, "reason"] = [
            f"{reg} is a prefecture code and the park's area is "
            f"{'unknown' if pd.isna(a) else f'{float(a):.3g} km2'} (< {MIN_LOCATABLE_KM2:g} km2 needed to spread "
            "it): location within the prefecture unknown; treats no unit, the prefecture's units are never controls"
            for reg, a in zip(assignments.loc[unlocated, "registry_code"], area)]
    mapped = assignments[assignments["status"] == "mapped"]
    if mapped.empty:
        raise DesignError(f"no registry role maps onto a unit of the panel ({len(assignments)} roles "
                          "skipped; see the reasons with on_missing='skip' and design.skipped).")
    undated = assignments[assignments["status"] == "timing_unknown"]
    timing = _timing(units, mapped, registry, idname, undated)
    exposure, near_undated = _exposure(timing, units, neighbours, edges, adjacency, centroids, idname)
    timing = timing.merge(_first_exposure(exposure, timing, idname), on=idname, how="left")
    timing["first_exposed"] = timing["first_exposed"].fillna(0).astype(int)
    timing["exposed_timing_unknown"] = near_undated
    lost = assignments[assignments["status"] == "location_unknown"]
    timing["location_unknown"] = timing[idname].isin(lost["county_code"])
    if len(undated):
        _warn_timing_unknown(undated, timing, idname)
    if len(lost):
        ids = examples(lost["enclave_id"].drop_duplicates())
        warnings.warn(
            f"{lost['enclave_id'].nunique()} enclave destination(s) coded at prefecture level with a park smaller "
            f"than {MIN_LOCATABLE_KM2:g} km2 or of unknown size (e.g. {ids}) are not spread over the prefecture's "
            f"units: location within the prefecture unknown. They treat no unit, and the "
            f"{int(timing['location_unknown'].sum())} unit(s) of those prefectures are kept out of every control "
            "group (see design.location_unknown).", LocationUnknownWarning, stacklevel=2)
    notes = [
        ("Units in both roles are treated in each role from that role's first date and are never "
         "controls; see design.multi_role."),
        f"Treatment starts at registry column {start!r} (the other year column when it is empty).",
    ]
    if len(lost):
        notes.append(f"{lost['enclave_id'].nunique()} destination(s) coded at prefecture level cannot be located "
                     "(park < 1 km2 or of unknown size): no unit treated by them; their prefecture's units are "
                     "never controls; see design.location_unknown.")
    if len(undated):
        notes.append(f"{int(timing['timing_unknown'].sum())} unit(s) take part in an enclave without a "
                     "sourced start date: treated, timing unknown, never controls; see design.timing_unknown.")
    if neighbours is not None:
        notes.append(f"Neighbours: {neighbours}"
                     + (f", rings {_ring_labels(neighbours, edges)} between cpca county points"
                        if neighbours == "rings" else "")
                     + "; exposure date = first treatment of another unit in the neighbourhood.")
    early = timing[(timing["first_treat_any"] > 0) & (timing["first_treat_any"] <= years.min())]
    if len(early):
        notes.append(f"{len(early)} unit(s) treated at or before the first period {int(years.min())} "
                     f"(e.g. {examples(early[idname])}): no pre-period, DiD estimators drop them.")
    return EnclaveDesign(panel=panel, idname=idname, tname=tname, roles=roles, timing=timing,
                         assignments=assignments, exposure=exposure, neighbours=neighbours,
                         rings_km=edges, start=start, notes=notes)


def _warn_timing_unknown(undated: pd.DataFrame, timing: pd.DataFrame, idname: str) -> None:
    """One counted warning listing the participants of undated enclaves."""
    first = undated.drop_duplicates("county_code")
    dated = timing.set_index(idname)["first_treat_any"]
    only = first[first["county_code"].map(dated).fillna(0).to_numpy() == 0]
    shown = [f"{c} {n} ({e} {r})" for c, n, e, r in
             zip(first["county_code"], first["county_name"], first["enclave_id"], first["role"])]
    warnings.warn(
        f"{len(first)} unit(s) take part in {undated['enclave_id'].nunique()} enclave(s) without a sourced "
        f"start date (neither opening_year nor agreement_year), e.g. {examples(shown, 5)}: treated, timing "
        f"unknown; {len(only)} of them have no dated treatment and sit in no treated cohort. All are kept out "
        "of every control group (see design.timing_unknown).", PolicyevalWarning, stacklevel=3)


def _timing(units: pd.DataFrame, mapped: pd.DataFrame, registry: pd.DataFrame, idname: str,
            undated: pd.DataFrame | None = None) -> pd.DataFrame:
    area = registry.set_index(registry["enclave_id"].astype(str))["area_km2"] \
        if "area_km2" in registry.columns else pd.Series(dtype=float)
    m = mapped.assign(area=mapped["enclave_id"].map(pd.to_numeric(area, errors="coerce").astype(float))
                      * mapped["weight"], start_year=mapped["start_year"].astype(int))
    out = pd.DataFrame({idname: units["code"].to_numpy()}).set_index(idname)
    for role in ROLES:
        sub = m[m["role"] == role].groupby("county_code")
        out[f"first_treat_{role}"] = sub["start_year"].min().reindex(out.index).fillna(0).astype(int)
        out[f"n_enclaves_{role}"] = sub["enclave_id"].nunique().reindex(out.index).fillna(0).astype(int)
        out[f"area_km2_{role}"] = sub["area"].sum(min_count=1).reindex(out.index).astype(float)
    ft = out[["first_treat_origin", "first_treat_destination"]].replace(0, np.nan)
    out["first_treat_any"] = ft.min(axis=1).fillna(0).astype(int)
    out["n_enclaves"] = m.groupby("county_code")["enclave_id"].nunique().reindex(out.index).fillna(0).astype(int)
    o, d = out["first_treat_origin"] > 0, out["first_treat_destination"] > 0
    out["role_label"] = np.select([o & d, o, d], ["origin+destination", "origin", "destination"], "")
    out["enclave_ids"] = m.groupby("county_code")["enclave_id"].agg(lambda s: ";".join(sorted(set(s)))) \
        .reindex(out.index).fillna("")
    u = undated if undated is not None else mapped.iloc[:0]
    for role in ROLES:
        out[f"timing_unknown_{role}"] = out.index.isin(u.loc[u["role"] == role, "county_code"])
    out["timing_unknown"] = out["timing_unknown_origin"] | out["timing_unknown_destination"]
    out["undated_enclave_ids"] = u.groupby("county_code")["enclave_id"] \
        .agg(lambda s: ";".join(sorted(set(s)))).reindex(out.index).fillna("")
    return out.reset_index()


def _exposure(timing, units, neighbours, edges, adjacency, centroids, idname) -> tuple[pd.DataFrame, np.ndarray]:
    cols = [idname, "ring", "first_exposed", "n_sources", "nearest_km"]
    n = len(timing)
    near_undated = np.zeros(n, dtype=bool)
    if neighbours is None:
        return pd.DataFrame(columns=cols), near_undated
    code = timing[idname].to_numpy(dtype=object)
    g = timing["first_treat_any"].to_numpy()
    src = g > 0
    undated_src = timing["timing_unknown"].to_numpy(dtype=bool)
    rings: list[tuple[str, np.ndarray]] = []   # (label, n x n boolean "j is in i's ring")
    dist = None
    if neighbours == "same_prefecture":
        pref = units.set_index("code").loc[code, "prefecture_code"].to_numpy()
        rings.append(("same_prefecture", pref[:, None] == pref[None, :]))
    elif neighbours == "adjacent":
        if not isinstance(adjacency, pd.DataFrame) or not {"code", "neighbour_code"} <= set(adjacency.columns):
            raise ColumnNotFoundError("adjacency must be a DataFrame with columns 'code' and 'neighbour_code'.")
        pos = {c: i for i, c in enumerate(code)}
        a = np.zeros((n, n), dtype=bool)
        for x, y in zip(adjacency["code"].astype(str), adjacency["neighbour_code"].astype(str)):
            if x in pos and y in pos:
                a[pos[x], pos[y]] = a[pos[y], pos[x]] = True
        rings.append(("adjacent", a))
    else:
        from policyeval.design.geo import county_centroids, distance_matrix

        pts = county_centroids(list(code), centroids=centroids)
        lacking = pts.loc[pts["lat"].isna(), "code"]
        if len(lacking):
            lacking_src = [c for c, gg in zip(code, g) if gg > 0 and c in set(lacking)]
            extra = (f" {len(lacking_src)} of them are treated (e.g. {examples(lacking_src)}) and expose no "
                     "neighbour, so nearby controls may be contaminated." if lacking_src else "")
            warnings.warn(f"no county point for {len(lacking)} unit(s) (e.g. {examples(lacking)}): their "
                          "exposure is unknown, so sample() keeps them out of the controls; pass "
                          f"centroids= to place them.{extra}", PolicyevalWarning, stacklevel=3)
        dist = distance_matrix(pts)
        for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
            inside = (dist <= hi) & ((dist > lo) if k > 0 else (dist >= lo))
            rings.append((f"{_fmt(lo)}-{_fmt(hi)}km", inside))
    off_diag = ~np.eye(n, dtype=bool)
    parts = []
    for label, member in rings:
        near_undated |= (member & off_diag & undated_src[None, :]).any(axis=1)
        m = member & off_diag & src[None, :]
        gm = np.where(m, g[None, :], np.iinfo(np.int64).max)
        first = gm.min(axis=1)
        has = m.any(axis=1)
        near = np.where(m, dist, np.inf).min(axis=1) if dist is not None else np.full(n, np.nan)
        parts.append(pd.DataFrame({idname: code[has], "ring": label, "first_exposed": first[has].astype(int),
                                   "n_sources": m.sum(axis=1)[has], "nearest_km": near[has]}))
    if dist is not None and np.isnan(dist).any():
        # a unit without a point: exposure unknown, recorded as its own "ring"
        unknown = np.isnan(dist).all(axis=1) & (n > 1)
        parts.append(pd.DataFrame({idname: code[unknown], "ring": "unknown", "first_exposed": -1,
                                   "n_sources": 0, "nearest_km": np.nan}))
    parts = [p for p in parts if len(p)]   # pandas warns on concatenating empty frames
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
    return out[cols], near_undated


def _first_exposure(exposure: pd.DataFrame, timing: pd.DataFrame, idname: str) -> pd.DataFrame:
    if exposure.empty:
        return pd.DataFrame({idname: timing[idname], "first_exposed": 0, "exposure_ring": "",
                             "nearest_treated_km": np.nan})
    # innermost ring wins a tie: exposure rows are in ring order
    e = exposure.reset_index(drop=True)
    e = e.assign(_k=e["first_exposed"].where(e["first_exposed"] > 0, np.iinfo(np.int64).max))
    first = e.sort_values([idname, "_k"], kind="stable").groupby(idname).head(1)
    near = e.groupby(idname)["nearest_km"].min()
    out = pd.DataFrame({idname: first[idname].to_numpy(),
                        "first_exposed": first["first_exposed"].clip(lower=0).to_numpy(),
                        "exposure_ring": first["ring"].to_numpy()})
    out["nearest_treated_km"] = out[idname].map(near).to_numpy()
    full = timing[[idname]].merge(out, on=idname, how="left")
    full["exposure_ring"] = full["exposure_ring"].fillna("")
    return full
