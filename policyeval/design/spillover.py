"""Direct effects and spillovers to neighbours, ring by ring (Butts 2021).

An enclave can raise (or drain) output next door. If those neighbours serve
as controls, the DiD compares the treated with partly treated units and the
direct effect is biased (towards zero when spillovers are positive).
Butts (2021) splits the comparison: the direct effect uses controls outside
every ring; each ring's spillover effect treats the never-treated units in
that ring as "treated by spillover" from their first exposure and compares
them with the same never-exposed controls.
"""

from __future__ import annotations

import warnings

import pandas as pd

from policyeval._validation import require_columns
from policyeval.design.enclave import EnclaveDesign
from policyeval.design.sides import default_estimator
from policyeval.exceptions import ArgumentTypeError, DesignError, DroppedObservationsWarning
from policyeval.results.base import EstimationResult

__all__ = ["ring_spillovers", "SpilloverResult"]

_GNAME = "_design_g"


class SpilloverResult(EstimationResult):
    """Direct and ring-spillover effects (one overall ATT each) and their event studies.

    Attributes
    ----------
    params, std_errors : pandas.Series
        Indexed by ``effect``: ``"direct"``, ``"direct_naive"`` (neighbours
        kept as controls, for comparison) and one ``"spillover <ring>"`` per ring.
    results : dict
        ``effect -> AggregateResult`` (event studies, overall in ``.overall``).
    samples : pandas.DataFrame
        Per effect: units treated (by the enclave or by spillover), units used
        as controls.
    """

    def __init__(self, params, std_errors, *, results, samples, **kwargs):
        super().__init__(params, std_errors, **kwargs)
        self.results = results
        self.samples = samples

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """One row per effect, with inference and sample sizes."""
        out = super().to_frame(level)
        return out.merge(self.samples, on="effect", how="left")


def _fit(estimator, data, design, yname, aggregate, min_e, max_e):
    gt = estimator.fit(data, yname=yname, tname=design.tname, idname=design.idname, gname=_GNAME)
    return gt.aggregate(aggregate, min_e=min_e, max_e=max_e)


def _sizes(data, design) -> tuple[int, int]:
    g = data.groupby(design.idname)[_GNAME].first()
    return int((g > 0).sum()), int((g == 0).sum())


def ring_spillovers(design: EnclaveDesign, yname: str, *, role: str = "any", estimator=None,
                    aggregate: str = "dynamic", min_e: int | None = None, max_e: int | None = 5,
                    types=None) -> SpilloverResult:
    """Separate the direct effect of enclaves from spillovers to neighbouring units.

    Parameters
    ----------
    design : EnclaveDesign
        Built with ``neighbours=`` (``"same_prefecture"``, ``"adjacent"``) or
        ``rings_km=``.
    yname : str
        Outcome column.
    role : {"any", "origin", "destination"}, default "any"
        Whose treatment the direct effect is for.
    estimator : CallawaySantAnna, optional
        Default as in :func:`policyeval.design.sides`.
    aggregate : {"dynamic", "simple"}, default "dynamic"
        Aggregation of the ATT(g,t); the overall effect is reported.
    min_e, max_e : int, optional
        Event-time window (dynamic).
    types : sequence of str, optional
        Enclave types whose direct effect is estimated (see
        :meth:`EnclaveDesign.sample`); exposure counts every treated unit.

    Returns
    -------
    SpilloverResult

    Raises
    ------
    DesignError
        The design has no neighbours; unknown ``role`` or ``aggregate``.
    ColumnNotFoundError
        ``yname`` not in the panel.

    Notes
    -----
    With rings :math:`R_1, \\dots, R_K` around treated units and
    :math:`E_i` the first exposure of unit :math:`i` (its ring :math:`k(i)`
    the one that exposed it first; see :func:`enclave_design`):

    - direct: :math:`\\tau = E[Y_t(g) - Y_t(\\infty, \\text{unexposed}) \\mid G = g]`,
      controls never treated and never exposed;
    - spillover on ring :math:`k`:
      :math:`\\delta_k = E[Y_t(\\infty, \\text{exposed at } e) - Y_t(\\infty,
      \\text{unexposed}) \\mid k(i) = k, E_i = e]`, cohorts by exposure date,
      same controls.

    Identification needs parallel trends between each group and the
    never-exposed units, and rings wide enough that units beyond them are
    unaffected (Butts 2021: spillovers vanish beyond a "far-away" distance). A unit exposed first in an outer
    ring and later in an inner one stays in its first ring; its later
    exposure is part of its spillover path. ``direct_naive`` keeps exposed
    neighbours among the controls (what a design without rings does).

    References
    ----------
    Butts, K. (2021). Difference-in-differences estimation with spatial
    spillovers. arXiv:2105.03737.

    Examples
    --------
    >>> import warnings, policyeval as pe
    >>> from policyeval.design import enclave_design, ring_spillovers
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     d = enclave_design(pe.load_simulated_panel(), neighbours="same_prefecture")
    ...     res = ring_spillovers(d, "log_gdp", max_e=3)
    >>> list(res.params.index)
    ['direct', 'direct_naive', 'spillover same_prefecture']
    """
    if not isinstance(design, EnclaveDesign):
        raise ArgumentTypeError(f"design must be an EnclaveDesign, got {type(design).__name__}.")
    if design.neighbours is None:
        raise DesignError("ring_spillovers needs a design with neighbours: build it with "
                          "neighbours='same_prefecture' / 'adjacent' or rings_km=(0, 50, 100).")
    require_columns(design.panel, where="the design's panel", yname=[yname])
    if aggregate not in ("dynamic", "simple"):
        raise DesignError(f"aggregate={aggregate!r} must be 'dynamic' or 'simple'.")
    estimator = default_estimator() if estimator is None else estimator
    results, sample_rows = {}, []
    direct = design.sample(role, exclude_other_roles=True, exclude_neighbours=True, types=types, gname=_GNAME)
    results["direct"] = _fit(estimator, direct, design, yname, aggregate, min_e, max_e)
    sample_rows.append(("direct", *_sizes(direct, design)))
    with warnings.catch_warnings():
        # the naive sample is a comparison on purpose: its dropped rows are the other-role units only
        warnings.simplefilter("ignore", DroppedObservationsWarning)
        naive = design.sample(role, exclude_other_roles=True, exclude_neighbours=False, types=types,
                              gname=_GNAME)
    results["direct_naive"] = _fit(estimator, naive, design, yname, aggregate, min_e, max_e)
    sample_rows.append(("direct_naive", *_sizes(naive, design)))
    for ring in design.rings:
        data = design.spillover_sample(ring, gname=_GNAME)
        n_t, n_c = _sizes(data, design)
        if n_t == 0:
            warnings.warn(f"ring {ring!r}: no never-treated unit is first exposed in it; no estimate.",
                          DroppedObservationsWarning, stacklevel=2)
            continue
        results[f"spillover {ring}"] = _fit(estimator, data, design, yname, aggregate, min_e, max_e)
        sample_rows.append((f"spillover {ring}", n_t, n_c))
    est = pd.Series({k: float(r.overall["estimate"]) for k, r in results.items()})
    se = pd.Series({k: float(r.overall["std_error"]) for k, r in results.items()})
    samples = pd.DataFrame(sample_rows, columns=["effect", "n_treated_units", "n_control_units"])
    spec = {"yname": yname, "tname": design.tname, "idname": design.idname, "role": role,
            "aggregate": aggregate, "min_e": min_e, "max_e": max_e, "neighbours": design.neighbours,
            "rings_km": design.rings_km}
    return SpilloverResult(est, se, results=results, samples=samples, nobs=len(design.panel),
                           n_units=design.panel[design.idname].nunique(), spec=spec,
                           estimator="Ring spillovers (Butts 2021), Callaway-Sant'Anna",
                           index_name="effect",
                           extra={"notes": [f"Overall effects: {aggregate} aggregation, "
                                            + f"window [{min_e}, {max_e}]."]})
