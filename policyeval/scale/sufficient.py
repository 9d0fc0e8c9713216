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

Callaway–Sant'Anna
------------------
Every ATT(g,t) is a difference of cohort means: see :mod:`policyeval.scale.cohort_sums`,
which builds it, its influence function and its aggregations from cohort x period sums
and per-cohort moments.
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
    EstimationError,
    EstimationWarning,
)
from policyeval.inference.covariance import resolve_ssc
from policyeval.inference.treated_counts import TreatedCounts, warn_if_few_treated
from policyeval._validation import check_clusters

__all__ = [
    "Engine",
    "Feature",
    "PanelFacts",
    "PanelSpec",
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
    warn_design(facts, "TWFE", gname=gname, **_cluster_check(spec, facts))
    old = treatment if treatment is not None else "treated"
    term = "ATT"
    features = [Feature("col", treatment) if treatment else Feature("treated")]
    features += [Feature("col", c) for c in covs]
    names = [term, *covs]
    fit = fit_within(engine, spec, features, names, vcov=estimator.vcov, ssc=estimator.ssc, facts=facts)
    return _regression_result(fit, names, estimator="TWFE", spec=spec_d, index_name="term",
                              facts=facts, ssc=estimator.ssc, extra={"treatment": term},
                              term_aliases={old: term})


def warn_design(facts: PanelFacts, estimator: str, *, gname=None, cluster_label=None,
                cluster_levels=None) -> None:
    """The in-memory estimators' warnings on what the data cannot support, from the engine's facts.

    One cluster raises and fewer than 30 warn (:func:`policyeval._validation.check_clusters`,
    on the smallest clustering dimension); fewer than 10 treated units warn with the cohort
    counts (:func:`policyeval.inference.treated_counts.warn_if_few_treated`).
    """
    if cluster_label is not None:
        levels = cluster_levels or (facts.n_clusters,)
        check_clusters(int(min(levels)), cluster_label, estimator=estimator, stacklevel=5)
    if gname is not None and facts.cohorts is not None:
        treated = facts.cohorts[facts.cohorts.index > 0]
        counts = TreatedCounts(int(treated.sum()), treated, int(facts.n_units))
        warn_if_few_treated(counts, estimator=estimator, argument=f"gname={gname!r}", stacklevel=5)


def _cluster_check(spec: PanelSpec, facts: PanelFacts) -> dict:
    """The cluster arguments of :func:`warn_design` for a regression spec."""
    # the counts are exact for one column constant within unit; otherwise fit_within counts the
    # levels itself (and refuses one), and the few-clusters warning is not given
    if len(spec.clusters) != 1 or (facts.cluster_unit_var and facts.cluster_unit_var[0]):
        return {}
    return {"cluster_label": spec.clusters[0], "cluster_levels": facts.cluster_levels or None}


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
    warn_design(facts, "EventStudy", gname=gname, **_cluster_check(spec, facts))
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
