r"""Callaway–Sant'Anna from sufficient statistics: the out-of-core half of :mod:`policyeval.scale`.

The engines of :mod:`policyeval.scale.sufficient` (DuckDB, Dask) compute cohort x period
sums and per-cohort moments where the data live; this module turns them into the ATT(g,t),
their influence function and every aggregation.

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

The propensity-score estimators (``method="ipw"`` and ``"dr"``) need per-unit values and
live in :mod:`policyeval.scale.propensity`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
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
from policyeval.inference.influence import CohortCoefficients, InfluenceFunction
from policyeval.scale.sufficient import (
    Engine,
    PanelSpec,
    _covariates,
    _no_weights,
    examples,
    warn_design,
)

__all__ = ["SufficientCohortInfluence", "callaway_santanna_from_engine"]


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
    warn_design(facts, "CallawaySantAnna", gname=gname,
                cluster_label=cluster)
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
