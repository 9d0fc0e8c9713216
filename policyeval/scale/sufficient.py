r"""Estimators from sufficient statistics: the backend-neutral half of :mod:`policyeval.scale`.

A firm-level panel with tens of millions of firm-years does not fit in
pandas, but the estimators in policyeval need only small summaries of it.
This module states, once, *which* summaries and *how* the estimates follow
from them; an :class:`Engine` (DuckDB in :mod:`~policyeval.scale.duckdb_backend`,
Dask in :mod:`~policyeval.scale.dask_backend`) computes the summaries where
the data live and hands back numpy arrays of size ``O(T^2 + k^2)``.

Two-way fixed effects (balanced panels)
---------------------------------------
With unit effects :math:`\alpha_i` and period effects :math:`\lambda_t` on a
balanced panel, the within transform is
:math:`\tilde z_{it} = z_{it} - \bar z_{i\cdot} - \bar z_{\cdot t} + \bar z`.
Writing :math:`u_{it} = z_{it} - \bar z_{\cdot t}` (deviation from the period
mean, a ``T``-row table joined to every row) gives
:math:`\tilde z_{it} = u_{it} - \bar u_{i\cdot}`, hence

.. math::

    \tilde Z'\tilde Z = \sum_{it} u_{it}u_{it}' - \sum_i U_i U_i' / T_i,
    \qquad U_i = \sum_t u_{it}.

Pass 1 returns both sums (one streaming scan, one ``GROUP BY unit``) and
gives :math:`\hat\beta`. With residual :math:`r_{it} = u^y_{it} - u^{x\prime}_{it}\hat\beta`,
unit ``i``'s score is :math:`s_i = \sum_t \tilde x_{it}\tilde e_{it} =
\sum_t u^x_{it} r_{it} - U^x_i R_i / T_i`; pass 2 sums the scores by cluster
(a unit or a coarser level constant within unit) and returns
:math:`\sum_g S_g S_g'`, the meat of the clustered sandwich. The
small-sample conventions are those of
:mod:`policyeval.inference.covariance` (fixest by default).

Unbalanced panels and sampling weights (TWFE, event study)
----------------------------------------------------------
Firms enter and exit, so the period effects no longer equal period means.
After unit demeaning they solve a ``T x T`` system whose matrix and
right-hand side depend on the units only through sums over units that share
a period *pattern* (which periods they are observed in): one ``GROUP BY
unit`` computes each unit's pattern as a bitmask (``T <= 62``), one ``GROUP
BY mask`` (few rows) the sums; see :func:`two_way_effects`. The period
effects :math:`\Gamma` (a pseudo-inverse solution: the system is singular by
one, because the unit effects absorb a constant) then play the role of the
period means above: :math:`v_{it} = z_{it} - \Gamma_t` and
:math:`\tilde z_{it} = v_{it} - \bar v_i`. Weights constant within unit
(sampling weights of firms) enter every sum; weights varying within unit
raise a :class:`~policyeval.exceptions.DataError`.

Clustering in one or two dimensions, each constant within unit or not: the
scores are summed per unit when every cluster column is constant within unit,
else each row's score :math:`w_{it}\tilde x_{it}\tilde e_{it}` needs its
unit's means joined back; every cluster dimension and their intersection
come from one ``GROUPING SETS`` aggregate, combined as
:math:`M_a + M_b - M_{ab}` with the small-sample factors of
:func:`policyeval.inference.covariance.sandwich_covariance`.

Callaway–Sant'Anna (balanced panels)
------------------------------------
Every ATT(g,t) is a difference of cohort means of :math:`Y_t - Y_b`, so the
cohort x period sums :math:`S_{ct} = \sum_{G_i = c} Y_{it}` and cohort sizes
:math:`n_c` give all estimates. The influence function of each ATT(g,t) is
:math:`\psi_{ik} = f_i' D_{c(i),k}` with :math:`f_i = (Y_{i1},\dots,Y_{iT},1,1)`
and coefficients that depend only on the cohort, so

.. math::

    \sum_i \psi_i\psi_i' = \sum_c D_c' M_c D_c, \qquad M_c = \sum_{G_i=c} f_i f_i',

a ``(T+2) x (T+2)`` matrix per cohort; clustered variances need
:math:`\sum_{i \in (\text{cluster}, c)} f_i` per (cluster, cohort) pair.
Aggregations (simple, group, calendar, dynamic) are linear maps of the
ATT(g,t) plus cohort-share terms that are again of the form
:math:`f_i' D_c`, so :class:`SufficientCohortInfluence` answers everything
:class:`~policyeval.results.staggered.GroupTimeResult` asks, without
per-unit data. A multiplier bootstrap needs one draw per cluster: it works
with a ``cluster`` column (the per-cluster sums are kept) and raises
otherwise.

With time-invariant covariates and ``method="reg"`` the same holds with the
richer features :math:`f_i = (\tilde x_i \otimes Y_i, \tilde x_i \otimes \tilde x_i)`,
:math:`\tilde x = (1, x)`: see :func:`_cs_regression`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import pandas as pd

from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    DataError,
    DroppedObservationsWarning,
    EstimationError,
    EstimationWarning,
)
from policyeval.estimators.group_time import (
    cells_from_cohort_sums,
    check_cohort_sizes,
    control_cohorts,
    group_time_cells,
    treated_cohorts,
)
from policyeval.inference.covariance import resolve_ssc
from policyeval.inference.influence import CohortCoefficients, InfluenceFunction

__all__ = [
    "Engine",
    "Feature",
    "PanelFacts",
    "PanelSpec",
    "SufficientCohortInfluence",
    "callaway_santanna_from_engine",
    "event_study_from_engine",
    "twfe_from_engine",
]


# ---------------------------------------------------------------------------
# what the engines compute
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Feature:
    """A per-row regressor, described once and translated by each engine.

    ``kind`` is ``"col"`` (a numeric column ``arg``), ``"treated"``
    (:math:`1[g_i > 0, t \\ge g_i]`) or ``"event"`` (an event-time dummy:
    ``arg = (k, op)`` with ``op`` ``"eq"``, ``"le"`` or ``"ge"`` for
    :math:`e = k`, :math:`e \\le k` (lower bin), :math:`e \\ge k` (upper bin),
    :math:`e_{it} = t - g_i` on treated units).
    """

    kind: str
    arg: object = None


@dataclass(frozen=True)
class PanelSpec:
    """Column names and the period range the engines need to build features."""

    yname: str
    tname: str
    idname: str
    gname: str | None = None
    treatment: str | None = None
    covariates: tuple[str, ...] = ()
    cluster: str | None = None
    last_period: int | None = None      # cohorts after it are never treated in the sample
    weights: str | None = None          # sampling weights, constant within unit
    clusters: tuple[str, ...] = ()      # TWFE / event study: every clustering dimension
    require_balanced: bool = True       # False: unbalanced panels are estimated (TWFE, event study)


@dataclass
class PanelFacts:
    """The checks every estimator needs, computed in one pass by the engine."""

    n_rows: int
    n_units: int
    periods: np.ndarray
    n_clusters: int = 0
    cohorts: pd.Series | None = None            # units per (late-recoded) cohort, 0 = never
    always_treated: int = 0                     # units treated in every period (treatment column)
    n_late: int = 0                             # units first treated after the last period
    notes: list[str] = field(default_factory=list)
    n_unbalanced: int = 0                       # units not observed in every period
    always_g: int | None = None                 # gname: treated units first seen at or after g
    # per clustering dimension of spec.clusters: units in which it varies, distinct values
    # (exact when it is constant within unit)
    cluster_unit_var: tuple[int, ...] = ()
    cluster_levels: tuple[int, ...] = ()

    @property
    def balanced(self) -> bool:
        return self.n_unbalanced == 0


class Engine(Protocol):
    """What a backend provides: checks and a handful of aggregations.

    Every method returns small numpy/pandas objects; the data stay where they
    are. Errors about the data (missing file, changed schema, duplicate
    key, unbalanced panel, ...) are raised by :meth:`facts`.
    """

    name: str

    def facts(self, spec: PanelSpec) -> PanelFacts:
        """Validate the panel (columns, integer periods, one row per unit and period,
        balance, timing constant within unit, cluster constant within unit,
        0/1 absorbing treatment, no missing values) and count units and clusters."""

    def time_means(self, spec: PanelSpec, features: Sequence[Feature]) -> np.ndarray:
        """``T x (p+1)`` period means of the features and of ``yname`` (last column)."""

    def within_gram(self, spec, features, means) -> tuple[np.ndarray, np.ndarray]:
        """``(sum_it u u', sum_i U_i U_i'/T_i)`` for ``u`` = (features, y) minus period means."""

    def score_gram(self, spec, features, means, beta) -> np.ndarray:
        """``sum_g S_g S_g'`` of the cluster sums of unit scores (see module notes)."""

    def cohort_moments(self, spec, periods, drop_before):
        """``(cohort values, n_c, S (C x T), Q (C x T x T))`` of per-unit outcome paths
        over ``periods``, leaving out units with ``0 < g <= drop_before``."""

    def cluster_cohort_sums(self, spec, periods, drop_before):
        """``(cluster code, cohort value, count, sums (pairs x T))`` per (cluster, cohort)."""


def examples(values, k: int = 3) -> str:
    """``'a, b, c'`` from the first ``k`` values (for error messages)."""
    vals = list(dict.fromkeys(np.asarray(values).tolist()))
    return ", ".join(str(v) for v in vals[:k]) + (", ..." if len(vals) > k else "")


# ---------------------------------------------------------------------------
# TWFE and event study
# ---------------------------------------------------------------------------
def _n_params(n_slopes: int, n_units: int, n_periods: int, vcov: str, ssc, unit_nested: bool = True,
              time_nested: bool = False) -> int:
    """fixest's K: every fixed effect counted, minus those nested in a cluster dimension.

    The unit effect is nested in a cluster column constant within unit, the period
    effect in one constant within period (``tname`` itself); "nested" gives
    K = k + T when clustered by unit or a coarser level.
    """
    corr = resolve_ssc(ssc)
    if corr.fixef_k == "none":
        return n_slopes
    full = n_slopes + n_units + n_periods - 1
    if corr.fixef_k == "nested" and vcov == "cluster":
        return full - (n_units - 1) * unit_nested - (n_periods - 1) * time_nested
    return full


def _solve_within(names, xx, xy):
    diag = np.diag(xx)
    absorbed = diag <= 1e-20 * max(1.0, float(np.abs(diag).max(initial=0.0)))
    if absorbed.any():
        raise EstimationError(
            f"{int(absorbed.sum())} regressor(s) are absorbed by the unit and period fixed "
            f"effects (no variation left): {examples(np.asarray(names, dtype=object)[absorbed], 8)}")
    norms = np.sqrt(diag)
    corr = xx / np.outer(norms, norms)
    if np.linalg.matrix_rank(corr, tol=1e-10) < len(names):
        raise EstimationError("the regressors are collinear given the unit and period fixed effects; "
                              f"cannot separate the terms {examples(np.asarray(names, dtype=object), 8)}")
    bread = np.linalg.inv(xx)
    return bread, bread @ xy


#: most periods an unbalanced panel may have out of core (a unit's pattern is a 64-bit mask)
MAX_PATTERN_PERIODS = 62


def two_way_effects(engine: Engine, spec: PanelSpec, features: Sequence[Feature], periods) -> tuple:
    r"""Within Gram matrix and period effects of an unbalanced and/or weighted panel.

    With unit weights :math:`w_i` (1 without ``weights``), unit :math:`i`'s
    0/1 period pattern :math:`p_i` and :math:`T_i = \sum_t p_{it}`, the period
    effects left after unit demeaning solve :math:`A\Gamma = B` with

    .. math::

        A = \mathrm{diag}\Big(\sum_i w_i p_i\Big) - \sum_i \frac{w_i}{T_i} p_i p_i',
        \qquad B = \sum_{it} w_i z_{it} d_t' - \sum_i \frac{w_i}{T_i} p_i Z_i',

    :math:`Z_i = \sum_t z_{it}`; both depend on the units only through sums per
    pattern, so the engine groups the units by their pattern (a bitmask, few
    distinct values). :math:`A` is singular (the unit effects absorb a constant;
    more if the panel is disconnected) and :math:`\Gamma = A^+B` is one solution:
    every solution gives the same projection. The within Gram matrix is
    :math:`\tilde Z'W\tilde Z = Z'WM_UZ - B'A^+B` and
    :math:`\tilde z_{it} = v_{it} - \bar v_{i}` with :math:`v_{it} = z_{it} - \Gamma_t`.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray, int)
        ``G`` (P x P), ``Gamma`` (T x P) and the rank deficit of ``A``.
    """
    T = len(periods)
    if T > MAX_PATTERN_PERIODS:
        raise DataError(f"tname={spec.tname!r} has {T} periods; out of core, unbalanced or weighted panels "
                        f"take at most {MAX_PATTERN_PERIODS} (each unit's period pattern is a 64-bit mask). "
                        "Balance the panel without weights, or use the in-memory path")
    wt, zt, zz, masks, cm, rm, uu = engine.pattern_moments(spec, features, periods)
    pat = ((masks[:, None] >> np.arange(T)) & 1).astype(float)
    A = np.diag(wt) - pat.T @ (cm[:, None] * pat)
    B = zt - pat.T @ rm
    vals, vecs = np.linalg.eigh((A + A.T) / 2)
    keep = vals > 1e-10 * max(float(vals.max(initial=0.0)), 1e-300)
    gamma = (vecs[:, keep] / vals[keep]) @ (vecs[:, keep].T @ B)
    G = zz - uu - B.T @ gamma
    return (G + G.T) / 2, gamma, int(T - keep.sum())


def _fix_psd(V):
    vals, vecs = np.linalg.eigh((V + V.T) / 2)
    if vals.min() >= 0:
        return V
    return (vecs * np.clip(vals, 0, None)) @ vecs.T


def fit_within(engine: Engine, spec: PanelSpec, features: Sequence[Feature], names: Sequence,
               *, vcov: str, ssc, facts: PanelFacts) -> dict:
    """Coefficients and covariance of the two-way within regression from sufficient statistics.

    Balanced unweighted panels use period means (:meth:`Engine.time_means`);
    unbalanced or weighted ones the pattern sums of :func:`two_way_effects`.
    ``spec.clusters`` lists the clustering dimensions (one or two; each may vary
    within unit). Returns a dict with ``params`` (Series), ``vcov`` (DataFrame),
    ``df_resid``, ``n_params`` (the K of the small-sample correction),
    ``n_clusters`` and ``notes``.
    """
    if vcov not in ("cluster", "iid"):
        raise ArgumentValueError(f"vcov={vcov!r}: the out-of-core path offers 'cluster' and 'iid' "
                         "(heteroskedasticity-robust needs every row's score; use vcov='cluster')")
    corr = resolve_ssc(ssc)
    k = len(features)
    notes = []
    simple = facts.balanced and spec.weights is None
    if simple:
        means = engine.time_means(spec, features)
        row_gram, unit_gram = engine.within_gram(spec, features, means)
        G = row_gram - unit_gram                       # Z~'Z~ with Z = (X, y)
        effects = means
    else:
        G, effects, deficit = two_way_effects(engine, spec, features, facts.periods)
        if deficit > 1:
            notes.append(f"The panel is disconnected: the period effects are identified up to {deficit} "
                         "constants (a pseudo-inverse picks one solution; the slopes do not depend on it).")
    xx, xy, yy = G[:k, :k], G[:k, k], G[k, k]
    bread, beta = _solve_within(names, xx, xy)
    n = facts.n_rows
    dims = list(spec.clusters) if vcov == "cluster" else []
    in_unit = [c == spec.idname or v == 0 for c, v in zip(spec.clusters, facts.cluster_unit_var)]
    in_time = [c == spec.tname or (not u and engine.constant_within_period(spec, c))
               for c, u in zip(dims, in_unit)]
    K = _n_params(k, facts.n_units, len(facts.periods), vcov, corr, unit_nested=any(in_unit),
                  time_nested=any(in_time))
    if n <= K:
        raise EstimationError(f"the model has {K} parameters for {n} observations; no degrees of "
                              "freedom are left for the standard errors")
    if vcov == "iid":
        ssr = yy - 2 * beta @ xy + beta @ xx @ beta
        V = ssr / (n - K if corr.adj else n) * bread
        df_resid, n_clusters = n - K, ()
    else:
        levels = [facts.n_units if c == spec.idname else lv for c, lv in zip(dims, facts.cluster_levels)]
        if simple and len(dims) == 1 and in_unit[0]:
            meat = engine.score_gram(replace(spec, cluster=dims[0]), features, means, beta)
            parts = [((0,), meat, levels[0])]
        else:
            parts = engine.cluster_meats(spec, features, facts.periods, effects, beta, dims, in_unit)
        for sub, _, n_groups in parts:
            if len(sub) == 1 and not in_unit[sub[0]]:
                levels[sub[0]] = n_groups
        g_min = min(levels)
        if g_min < 2:
            raise EstimationError(f"clustered standard errors need at least 2 clusters; found {g_min}")
        meat = np.zeros((k, k))
        for sub, part, n_groups in parts:
            g = g_min if corr.cluster_df == "min" else (levels[sub[0]] if len(sub) == 1 else n_groups)
            g_adj = g / (g - 1) if corr.cluster_adj and g > 1 else 1.0
            meat += (-1) ** (len(sub) + 1) * g_adj * part
        adj = (n - 1) / (n - K) if corr.adj else 1.0
        V = adj * (bread @ meat @ bread)
        if len(dims) > 1:
            V = _fix_psd(V)
        df_resid, n_clusters = g_min - 1, tuple(levels)
    return {"params": pd.Series(beta, index=list(names)),
            "vcov": pd.DataFrame(V, index=list(names), columns=list(names)),
            "df_resid": int(df_resid), "n_params": int(K), "n_clusters": n_clusters, "notes": notes}


def _regression_result(fit, terms, *, estimator, spec, index_name, facts, ssc, extra,
                       term_aliases=None):
    from policyeval.estimators.twfe import RegressionResult

    params = fit["params"].loc[list(terms)]
    V = fit["vcov"].loc[list(terms), list(terms)]
    corr = resolve_ssc(ssc)
    kind = "clustered" if spec["vcov"] == "cluster" else "classical (iid)"
    if fit["n_clusters"]:
        kind += " (" + ", ".join(f"{c}: {g}" for c, g in zip(spec["cluster_columns"], fit["n_clusters"])) + ")"
    notes = list(facts.notes) + list(fit.get("notes", [])) + [(
        f"Standard errors: {kind}; small-sample correction adj={corr.adj}, fixef_k={corr.fixef_k!r}, "
        f"cluster_adj={corr.cluster_adj} (K={fit['n_params']}); t distribution with "
        f"{fit['df_resid']} df. Computed out of core from sufficient statistics "
        f"(backend: {spec['backend']}).")]
    return RegressionResult(
        params, pd.Series(np.sqrt(np.diag(V)), index=params.index), nobs=facts.n_rows,
        n_units=facts.n_units, spec=spec, estimator=estimator, vcov=V, influence=None,
        df_resid=fit["df_resid"], index_name=index_name, level=spec.get("level", 0.95),
        term_aliases=term_aliases,
        extra={"vcov_type": spec["vcov"], "n_clusters": fit["n_clusters"],
               "n_params_ssc": fit["n_params"], "ssc": corr, "full_params": fit["params"],
               "full_vcov": fit["vcov"], "notes": notes, "backend": spec["backend"], **extra})


def _spec_dict(est, backend, **kwargs) -> dict:
    cluster = est.cluster if est.vcov == "cluster" else None
    if est.vcov == "cluster":
        cols = [cluster] if isinstance(cluster, str) else list(cluster or [kwargs["idname"]])
        if len(cols) > 2:
            raise ArgumentValueError(f"cluster={cluster!r}: the out-of-core path clusters in one or two "
                                     "dimensions")
    else:
        cols = []
    return {**kwargs, "vcov": est.vcov, "cluster": ", ".join(cols) if cols else None,
            "cluster_columns": cols, "ssc": est.ssc, "backend": backend,
            "level": getattr(est, "level", 0.95)}


def _covariates(covariates) -> tuple[str, ...]:
    if covariates is None:
        return ()
    if isinstance(covariates, str):
        return (covariates,)
    if isinstance(covariates, (list, tuple)) and all(isinstance(c, str) for c in covariates):
        return tuple(covariates)
    raise ArgumentTypeError(f"covariates must be a column name or a list of column names, got {covariates!r}")


def _no_weights(weights, what="Callaway-Sant'Anna"):
    if weights is not None:
        raise ArgumentValueError(f"weights={weights!r}: sampling weights are not supported out of core for "
                                 f"{what}; use the in-memory path (a pandas DataFrame)")


def _weights(weights):
    if weights is not None and not isinstance(weights, str):
        raise ArgumentTypeError(f"weights must be a column name, got {weights!r}")
    return weights


def twfe_from_engine(engine: Engine, estimator, *, yname, tname, idname, treatment=None,
                     gname=None, covariates=None, weights=None):
    """:class:`policyeval.TWFE` on an engine; see :func:`policyeval.scale.fit_twfe`."""
    if (treatment is None) == (gname is None):
        raise ArgumentValueError("give exactly one of treatment= (a 0/1 column) and gname= (first treated period)")
    weights = _weights(weights)
    covs = _covariates(covariates)
    spec_d = _spec_dict(estimator, engine.name, model="twfe", yname=yname, tname=tname, idname=idname,
                        treatment=treatment, gname=gname, covariates=list(covs), weights=weights)
    spec = PanelSpec(yname, tname, idname, gname, treatment, covs, None, weights=weights,
                     clusters=tuple(spec_d["cluster_columns"]), require_balanced=False)
    facts = engine.facts(spec)
    spec = replace(spec, last_period=int(facts.periods.max()))
    _warn_always(facts, gname, idname)
    old = treatment if treatment is not None else "treated"
    term = "ATT"
    features = [Feature("col", treatment) if treatment else Feature("treated")]
    features += [Feature("col", c) for c in covs]
    names = [term, *covs]
    fit = fit_within(engine, spec, features, names, vcov=estimator.vcov, ssc=estimator.ssc, facts=facts)
    return _regression_result(fit, names, estimator="TWFE", spec=spec_d, index_name="term",
                              facts=facts, ssc=estimator.ssc, extra={"treatment": term},
                              term_aliases={old: term})


def _warn_always(facts: PanelFacts, gname, idname):
    n_always = facts.always_treated
    if gname is not None and facts.always_g is not None:
        n_always = facts.always_g          # treated in every period the unit is observed
    elif gname is not None and facts.cohorts is not None:
        first = facts.periods.min()
        c = facts.cohorts
        n_always = int(c[(c.index > 0) & (c.index <= first)].sum())
    if n_always:
        warnings.warn(
            f"{n_always} units are treated in every period they are observed; their treatment is "
            "absorbed by the unit effects and they only act as already-treated controls, which "
            "biases TWFE under heterogeneous effects", EstimationWarning, stacklevel=4)


def event_study_from_engine(engine: Engine, estimator, *, yname, tname, idname, gname,
                            covariates=None, weights=None):
    """:class:`policyeval.EventStudy` on an engine; see :func:`policyeval.scale.fit_event_study`."""
    weights = _weights(weights)
    covs = _covariates(covariates)
    spec_d = _spec_dict(estimator, engine.name, model="event_study", yname=yname, tname=tname,
                        idname=idname, gname=gname, covariates=list(covs), weights=weights,
                        reference=estimator.reference,
                        window=estimator.window, bin_endpoints=estimator.bin_endpoints)
    spec = PanelSpec(yname, tname, idname, gname, None, covs, None, weights=weights,
                     clusters=tuple(spec_d["cluster_columns"]), require_balanced=False)
    facts = engine.facts(spec)
    spec = replace(spec, last_period=int(facts.periods.max()))
    cohorts = np.asarray([g for g in facts.cohorts.index if g > 0], dtype=np.int64)
    if len(cohorts) == 0:
        raise EstimationError(f"gname={gname!r}: no unit is treated within the sample")
    if facts.balanced:
        # every treated unit is observed at every period, so the event times present are all t - g
        e_all = np.unique((facts.periods[None, :] - cohorts[:, None]).ravel())
    else:
        e_all = engine.event_times(spec)
    binned, ops = {}, {}
    if estimator.window is not None:
        lo, hi = estimator.window
        if (e_all.min() < lo or e_all.max() > hi) and not estimator.bin_endpoints:
            raise DataError(
                f"bin_endpoints=False would drop the rows of treated units outside window="
                f"{estimator.window}; the out-of-core path drops no rows. Use bin_endpoints=True or a "
                f"window covering event times {int(e_all.min())}..{int(e_all.max())}")
        if e_all.min() < lo:
            binned[lo], ops[lo] = f"<= {lo}", "le"
        if e_all.max() > hi:
            binned[hi], ops[hi] = f">= {hi}", "ge"
        e_all = np.unique(np.clip(e_all, lo, hi))
    if not np.isin(estimator.reference, e_all).any():
        raise EstimationError(
            f"reference={estimator.reference} is not observed for any treated unit (observed event "
            f"times: {examples(e_all, 12)}); choose another reference")
    terms = [int(k) for k in e_all if k not in estimator.reference]
    features = [Feature("event", (k, ops.get(k, "eq"))) for k in terms] + [Feature("col", c) for c in covs]
    fit = fit_within(engine, spec, features, [*terms, *covs], vcov=estimator.vcov, ssc=estimator.ssc,
                     facts=facts)
    covtab = pd.DataFrame({"estimate": fit["params"].loc[list(covs)],
                           "std_error": np.sqrt(np.diag(fit["vcov"].loc[list(covs), list(covs)]))
                           if covs else []}, index=list(covs))
    extra = {"reference_period": estimator.reference[0], "references": list(estimator.reference),
             "binned": binned, "covariates": covtab}
    res = _regression_result(fit, terms, estimator="Event study (TWFE)", spec=spec_d,
                             index_name="event_time", facts=facts, ssc=estimator.ssc, extra=extra)
    if binned:
        res.extra["notes"].insert(0, "Endpoint bins: " + "; ".join(
            f"{k} pools event times {v}" for k, v in binned.items()))
    return res


# ---------------------------------------------------------------------------
# Callaway–Sant'Anna
# ---------------------------------------------------------------------------
class SufficientCohortInfluence(CohortCoefficients, InfluenceFunction):
    """Influence function :math:`\\psi_{ik} = f_i' D_{c(i),k}` known only through cohort moments.

    The same representation as
    :class:`~policyeval.inference.influence.CohortInfluence`, but instead of
    the per-unit outcomes it keeps what the variance needs: per cohort the
    second-moment matrix :math:`M_c = \\sum_{G_i=c} f_i f_i'` and, for a
    clustered variance, the feature sums of each (cluster, cohort) pair.

    Parameters
    ----------
    n : int
        Number of units.
    coef : numpy.ndarray
        ``n_cohorts x (T+2) x k`` coefficients.
    moments : numpy.ndarray
        ``n_cohorts x (T+2) x (T+2)``.
    pairs : tuple, optional
        ``(pair_cluster, pair_cohort, F)`` with ``F`` the ``pairs x (T+2)``
        feature sums; ``None`` when each unit is its own cluster.
    n_clusters : int, optional
        Number of clusters (with ``pairs``).
    """

    def __init__(self, n, coef, moments, pairs=None, n_clusters=None):
        self.n = int(n)
        self.coef = np.asarray(coef, dtype=float)
        self.n_cohorts, self.n_features, self.n_terms = self.coef.shape
        self.moments = moments
        self.pairs = pairs
        self.cluster = None if pairs is None else pairs[0]
        self.n_clusters = self.n if pairs is None else int(n_clusters)

    def _like(self, coef):
        return SufficientCohortInfluence(self.n, coef, self.moments, self.pairs, self.n_clusters)

    def cluster_sums(self) -> np.ndarray:
        if self.pairs is None:
            raise EstimationError("per-unit influence values are not kept out of core (each unit is its "
                                  "own cluster); pass cluster=<column> for cluster sums")
        pc, pk, f = self.pairs
        out = np.zeros((self.n_clusters, self.n_terms))
        np.add.at(out, pc, np.einsum("pf,pfk->pk", f, self.coef[pk]))
        return out

    def gram(self):
        if self.pairs is not None:
            s = self.cluster_sums()
            return s.T @ s
        return np.einsum("cfk,cfg,cgl->kl", self.coef, self.moments, self.coef)

    def gram_diagonal(self):
        if self.pairs is not None:
            return super().gram_diagonal()
        return np.einsum("cfk,cfg,cgk->k", self.coef, self.moments, self.coef)

    def __add__(self, other):
        if not isinstance(other, SufficientCohortInfluence):
            return NotImplemented
        return self._like(self.coef + other.coef)

    def to_dense(self):
        raise EstimationError("the out-of-core Callaway-Sant'Anna result keeps cohort moments, not "
                              "per-unit influence values; use vcov()/std_errors(), or refit in memory")

    def multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        s = self.cluster_sums()          # raises without clusters: one draw per unit is not possible
        out = np.zeros((n_draws, self.n_terms))
        for start in range(0, n_draws, chunk):
            m = min(chunk, n_draws - start)
            out[start:start + m] = draws_fn(m, s.shape[0]) @ s
            if progress is not None:
                progress.update(m)
        return out


def callaway_santanna_from_engine(engine: Engine, estimator, *, yname, tname, idname, gname,
                                  covariates=None, weights=None, cluster=None):
    """:class:`policyeval.CallawaySantAnna` (balanced panel; no covariates or ``method="reg"``) on an engine."""
    from policyeval.results.staggered import GroupTimeResult

    covs = _covariates(covariates)
    if covs and estimator.method not in ("reg", "ipw", "dr"):
        raise ArgumentValueError(f"covariates={list(covs)!r} with method={estimator.method!r}: out of core, "
                                 "covariates are supported with method='reg', 'ipw' or 'dr'; 'dr_imp' "
                                 "(inverse probability tilting) needs the in-memory path")
    _no_weights(weights)
    if not estimator.panel:
        raise ArgumentValueError("panel=False (repeated cross-sections) is not supported out of core")
    if idname is None or gname is None:
        raise ArgumentTypeError("idname and gname are required")
    if cluster == idname:
        cluster = None
    spec = PanelSpec(yname, tname, idname, gname, None, covs, cluster, require_balanced=False)
    facts = engine.facts(spec)
    if facts.n_unbalanced and getattr(estimator, "allow_unbalanced_panel", False):
        raise ArgumentValueError(
            f"allow_unbalanced_panel=True: {facts.n_unbalanced} units of idname={idname!r} are not observed in "
            "every period, and the repeated cross-section estimators this option selects are not available "
            "out of core; leave allow_unbalanced_panel=False (units not observed in every period are then "
            "dropped with a warning, as in memory) or use the in-memory path")
    periods = facts.periods
    t_first, t_last = periods[0], periods[-1]
    spec = PanelSpec(yname, tname, idname, gname, None, covs, cluster, int(t_last))
    coh = facts.cohorts
    notes: list[str] = []
    n_late = facts.n_late
    if n_late:
        notes.append(f"{n_late} units first treated after the last period ({t_last}) are used as never treated.")
        warnings.warn(f"{n_late} units have gname={gname!r} after the last period {t_last}; they are "
                      "never treated within the data and are used as such.", EstimationWarning, stacklevel=3)
    anticipation = estimator.anticipation
    always = coh[(coh.index > 0) & (coh.index <= t_first + anticipation)]
    if len(always):
        warnings.warn(
            f"Dropped {int(always.sum())} units (cohorts {examples(always.index)}; "
            f"{int(always.sum()) * len(periods)} rows) treated in every period: gname={gname!r} <= first "
            f"period {t_first} + anticipation {anticipation}, so they have no untreated period to compare.",
            DroppedObservationsWarning, stacklevel=3)
    kept = coh[~coh.index.isin(always.index)]
    keep_periods = periods
    if not (kept.index == 0).any():
        if estimator.control_group == "never_treated":
            raise EstimationError(
                f"control_group='never_treated' but no unit is never treated (gname={gname!r} is 0 "
                "or missing for none of them); use control_group='not_yet_treated'.")
        cutoff = kept.index.max() - anticipation
        if (periods >= cutoff).any():
            warnings.warn(
                f"Dropped {int(kept.sum()) * int((periods >= cutoff).sum())} rows in periods >= {cutoff:g}: "
                "there are no never-treated units, so once the last cohort is treated nobody is left to "
                "compare with (the last cohort serves only as a control).",
                DroppedObservationsWarning, stacklevel=3)
            keep_periods = periods[periods < cutoff]
    if len(keep_periods) < 2:
        raise EstimationError(f"tname={tname!r} has fewer than two periods left; DiD needs two")
    drop_before = int(t_first + anticipation)
    if facts.n_unbalanced:
        n_gone, rows_gone, ids = engine.partial_units(spec, keep_periods, drop_before)
        if n_gone:
            warnings.warn(
                f"Dropped {n_gone} units (e.g. {examples(ids)}; {rows_gone} rows) not observed in all "
                f"{len(keep_periods)} periods: panel=True uses a balanced panel (as R did). Pass "
                "allow_unbalanced_panel=True to keep them (in memory only: estimated as repeated "
                "cross-sections, clustered by unit).", DroppedObservationsWarning, stacklevel=3)
            notes.append(f"{n_gone} units not observed in all {len(keep_periods)} periods were dropped "
                         "(balanced panel).")
            engine = engine.complete_units(spec, keep_periods)
    if covs and estimator.method in ("ipw", "dr"):
        from policyeval.scale.propensity import cs_propensity

        kept_values = np.sort(np.where(kept.index == 0, np.inf, kept.index).astype(float))
        cells, est, n_t, n_c, counts, infl, kept_values = cs_propensity(engine, estimator, spec, keep_periods, drop_before,
                                                           kept_values, notes)
        if np.isnan(est).any():
            warnings.warn(f"ATT(g,t) could not be estimated (no treated or no control units) for "
                          f"{int(np.isnan(est).sum())} cells.", EstimationWarning, stacklevel=3)
        return _cs_result(estimator, engine, spec, cells, keep_periods, kept_values, counts, est, n_t, n_c,
                          infl, notes)
    if covs:
        return _cs_regression(engine, estimator, spec, facts, keep_periods, drop_before, notes)
    gvals, counts, S, Q = engine.cohort_moments(spec, keep_periods, drop_before)
    cohort_values = np.where(gvals == 0, np.inf, gvals).astype(float)
    order = np.argsort(cohort_values)
    cohort_values, counts, S, Q = cohort_values[order], counts[order], S[order], Q[order]
    T = len(keep_periods)
    C = len(cohort_values)
    n = int(counts.sum())
    glist = treated_cohorts(cohort_values)
    if len(glist) == 0:
        raise EstimationError(f"gname={gname!r}: no treated cohort left to estimate")
    options = {"control_group": estimator.control_group, "anticipation": estimator.anticipation}
    cells = group_time_cells(keep_periods, glist, base_period=estimator.base_period,
                             anticipation=estimator.anticipation)
    W = counts.astype(float)
    est, coef, n_t, n_c = cells_from_cohort_sums(cells, cohort_values, keep_periods, counts, W, S, n,
                                                 **options)
    # f = (y_1..y_T, w, 1) with w = 1: the last two features coincide
    M = np.zeros((C, T + 2, T + 2))
    M[:, :T, :T] = Q
    for col in (T, T + 1):
        M[:, :T, col] = S
        M[:, col, :T] = S
    M[:, T:, T:] = counts[:, None, None]
    pairs, n_clusters = None, None
    if cluster is not None:
        pc, pg, pn, psum = engine.cluster_cohort_sums(spec, keep_periods, drop_before)
        pk = np.searchsorted(cohort_values, np.where(pg == 0, np.inf, pg).astype(float))
        F = np.column_stack([psum, pn, pn]).astype(float)
        n_clusters = int(pc.max()) + 1
        pairs = (pc, pk, F)
    infl = SufficientCohortInfluence(n, coef, M, pairs, n_clusters)
    table = pd.DataFrame({
        "group": [c[0] for c in cells], "time": [keep_periods[c[1]] for c in cells],
        "base_period": [keep_periods[c[2]] for c in cells], "post": [c[3] for c in cells],
        "estimate": est, "n_treated": n_t, "n_control": n_c})
    table["group"] = table["group"].astype(float)
    if np.all(np.mod(table["group"], 1) == 0):
        table["group"] = table["group"].astype(np.int64)
    if np.isnan(est).any():
        warnings.warn(f"ATT(g,t) could not be estimated (no treated or no control units) for "
                      f"{int(np.isnan(est).sum())} cells.", EstimationWarning, stacklevel=3)
    shares = counts / n
    spec_d = {"yname": yname, "tname": tname, "idname": idname, "gname": gname, "covariates": [],
              "weights": None, "cluster": cluster, "control_group": estimator.control_group,
              "method": estimator.method, "base_period": estimator.base_period,
              "anticipation": anticipation, "panel": True, "first_period": float(keep_periods[0]),
              "periods": keep_periods.tolist(), "n_bootstrap": estimator.n_bootstrap,
              "multiplier": estimator.multiplier, "random_state": estimator.random_state,
              "progress": estimator.progress, "backend": engine.name}
    notes.append(f"Computed out of core from cohort sufficient statistics (backend: {engine.name}).")
    result = GroupTimeResult(table, infl, group_shares=shares, cohort_of_code=np.arange(C),
                             cohort_values=cohort_values, nobs=n * T, n_units=n, spec=spec_d,
                             level=estimator.level, notes=notes)
    if estimator.n_bootstrap:
        if cluster is None:
            raise EstimationError("n_bootstrap > 0 out of core needs cluster=<column> (one multiplier per "
                                  "cluster); with unit-level clusters use analytic standard errors")
        result = result.bootstrap(estimator.n_bootstrap, multiplier=estimator.multiplier,
                                  random_state=estimator.random_state, progress=estimator.progress)
    return result


def _cs_result(estimator, engine, spec, cells, keep_periods, cohort_values, counts, est, n_t, n_c, infl, notes):
    from policyeval.results.staggered import GroupTimeResult

    table = pd.DataFrame({
        "group": [c[0] for c in cells], "time": [keep_periods[c[1]] for c in cells],
        "base_period": [keep_periods[c[2]] for c in cells], "post": [c[3] for c in cells],
        "estimate": est, "n_treated": n_t, "n_control": n_c})
    table["group"] = table["group"].astype(float)
    if np.all(np.mod(table["group"], 1) == 0):
        table["group"] = table["group"].astype(np.int64)
    n = int(counts.sum())
    spec_d = {"yname": spec.yname, "tname": spec.tname, "idname": spec.idname, "gname": spec.gname,
              "covariates": list(spec.covariates), "weights": None, "cluster": spec.cluster,
              "control_group": estimator.control_group, "method": estimator.method,
              "base_period": estimator.base_period, "anticipation": estimator.anticipation, "panel": True,
              "first_period": float(keep_periods[0]), "periods": keep_periods.tolist(),
              "n_bootstrap": estimator.n_bootstrap, "multiplier": estimator.multiplier,
              "random_state": estimator.random_state, "progress": estimator.progress, "backend": engine.name}
    notes = [*notes, f"Computed out of core from cohort sufficient statistics (backend: {engine.name})."]
    result = GroupTimeResult(table, infl, group_shares=counts / n, cohort_of_code=np.arange(len(counts)),
                             cohort_values=cohort_values, nobs=n * len(keep_periods), n_units=n,
                             spec=spec_d, level=estimator.level, notes=notes)
    if estimator.n_bootstrap:
        if spec.cluster is None:
            raise EstimationError("n_bootstrap > 0 out of core needs cluster=<column> (one multiplier per "
                                  "cluster); with unit-level clusters use analytic standard errors")
        result = result.bootstrap(estimator.n_bootstrap, multiplier=estimator.multiplier,
                                  random_state=estimator.random_state, progress=estimator.progress)
    return result


def _cs_regression(engine, estimator, spec, facts, keep_periods, drop_before, notes):
    r"""Outcome-regression DiD (``reg_did_panel``) per ATT(g,t) from per-cohort feature moments.

    With :math:`\tilde x = (1, x)` (time-invariant covariates, ``q`` entries), the
    engine returns per cohort the sums and cross-products of
    :math:`f_i = (\tilde x_i \otimes Y_i, \tilde x_i \otimes \tilde x_i)`. For
    treated units :math:`\psi_i = (n/n_1)(\Delta Y_i - \tilde x_i'\beta - ATT)`; for
    controls :math:`\psi_i = -(n/n_1)(\tilde x_i'a)(\Delta Y_i - \tilde x_i'\beta)` with
    :math:`\beta = (X_0'X_0)^{-1}X_0'\Delta Y_0` and :math:`a = (X_0'X_0)^{-1}\sum_{D=1}\tilde x`:
    both linear in :math:`f_i` with cohort-level coefficients.
    """
    covs = list(spec.covariates)
    gvals, counts, Fs, FF = engine.cohort_feature_moments(spec, keep_periods, drop_before)
    cohort_values = np.where(gvals == 0, np.inf, gvals).astype(float)
    order = np.argsort(cohort_values)
    cohort_values, counts, Fs, FF = cohort_values[order], counts[order], Fs[order], FF[order]
    check_cohort_sizes(cohort_values, counts, covs, spec.gname)
    T, q, C = len(keep_periods), len(covs) + 1, len(cohort_values)
    nf = q * T + q * q
    iy = lambda j, s: j * T + s
    ix = lambda j, m: q * T + j * q + m
    XX = Fs[:, q * T:].reshape(C, q, q)                    # per cohort sum x x'
    XY = Fs[:, :q * T].reshape(C, q, T)                    # per cohort sum x Y_s
    n = int(counts.sum())
    glist = treated_cohorts(cohort_values)
    if len(glist) == 0:
        raise EstimationError(f"gname={spec.gname!r}: no treated cohort left to estimate")
    cells = group_time_cells(keep_periods, glist, base_period=estimator.base_period,
                             anticipation=estimator.anticipation)
    k = len(cells)
    coef = np.zeros((C, nf + 2, k))
    est = np.full(k, np.nan)
    n_t = np.zeros(k, dtype=np.int64)
    n_c = np.zeros(k, dtype=np.int64)
    for j, (g, ti, b, _) in enumerate(cells):
        cg = int(np.searchsorted(cohort_values, g))
        ctrl = control_cohorts(cohort_values, g, keep_periods, ti, b, control_group=estimator.control_group,
                               anticipation=estimator.anticipation)
        n_t[j], n_c[j] = counts[cg], counts[ctrl].sum()
        if ti == b:
            est[j] = 0.0
            continue
        n1 = counts[cg]
        if n1 == 0 or n_c[j] == 0:
            continue
        A0 = XX[ctrl].sum(axis=0)
        scale = np.sqrt(np.maximum(np.diag(A0), 1e-300))
        sv = np.linalg.svd(A0 / np.outer(scale, scale), compute_uv=False)
        if sv[-1] <= sv[0] * 1e-20:
            raise EstimationError(f"controls of cohort {g:g}: covariates are collinear (with each other or "
                                  f"the intercept): {covs}; drop one of them.")
        b0 = XY[ctrl][:, :, ti].sum(axis=0) - XY[ctrl][:, :, b].sum(axis=0)
        beta = np.linalg.solve(A0, b0)
        xbar1 = XX[cg][0] / n1                              # treated mean of x~ (row of x_0 = 1)
        dy1 = (XY[cg][0, ti] - XY[cg][0, b]) / n1
        att = dy1 - xbar1 @ beta
        est[j] = att
        a = np.linalg.solve(A0, XX[cg][0])
        c = n / n1
        # treated: c * (Y_t - Y_b - x'beta - att)
        coef[cg, iy(0, ti), j] += c
        coef[cg, iy(0, b), j] -= c
        for m in range(q):
            coef[cg, ix(0, m), j] -= c * beta[m]
        coef[cg, nf + 1, j] -= c * att
        # controls: -c * (x'a) (Y_t - Y_b - x'beta)
        for jj in range(q):
            coef[ctrl, iy(jj, ti), j] -= c * a[jj]
            coef[ctrl, iy(jj, b), j] += c * a[jj]
            for m in range(q):
                coef[ctrl, ix(jj, m), j] += c * a[jj] * beta[m]
    # moments of (f, w, 1) with w = 1; the constant's sums come from the x_0 x_0 = 1 feature
    M = np.zeros((C, nf + 2, nf + 2))
    M[:, :nf, :nf] = FF
    for col in (nf, nf + 1):
        M[:, :nf, col] = Fs
        M[:, col, :nf] = Fs
    M[:, nf:, nf:] = counts[:, None, None]
    pairs, n_clusters = None, None
    if spec.cluster is not None:
        pc, pg, pn, pF = engine.cluster_cohort_feature_sums(spec, keep_periods, drop_before)
        pk = np.searchsorted(cohort_values, np.where(pg == 0, np.inf, pg).astype(float))
        pairs = (pc, pk, np.column_stack([pF, pn, pn]).astype(float))
        n_clusters = int(pc.max()) + 1
    infl = SufficientCohortInfluence(n, coef, M, pairs, n_clusters)
    if np.isnan(est).any():
        warnings.warn(f"ATT(g,t) could not be estimated (no treated or no control units) for "
                      f"{int(np.isnan(est).sum())} cells.", EstimationWarning, stacklevel=4)
    return _cs_result(estimator, engine, spec, cells, keep_periods, cohort_values, counts, est, n_t, n_c,
                      infl, notes)
