r"""Callaway–Sant'Anna with a propensity score, out of core: ``method="ipw"`` and ``"dr"``.

The propensity score of a cohort against its controls is a logit in the
(time-invariant) covariates, fitted by Newton–Raphson: every step needs
:math:`X'WX` and :math:`X'(D-p)` of each comparison, i.e. one pass over the
units, not over the rows. The engine therefore writes a per-unit table once
(``id, g, x, Y_1..Y_T``, a ``GROUP BY unit`` — the only pass over the rows) to
a temporary Parquet file, and everything below streams it in batches, with
memory bounded by the batch size:

1. cohort sums of :math:`\tilde x\tilde x'` and :math:`\tilde x Y'`
   (:math:`\tilde x = (1, x)`): the outcome regressions of the controls;
2. Newton passes, all comparisons at once, until each converges (the same
   start, steps and stopping rule as :func:`policyeval.estimators._staggered_cov.logit`);
3. sums weighted by the control odds :math:`o_i = \hat p_i/(1-\hat p_i)` (trimmed
   at ``trim_level``): :math:`\hat\eta_c`, and the propensity-score correction of
   the influence function;
4. the influence function itself, unit by unit, reduced to
   :math:`\sum_i \phi_i\phi_i'` (or cluster sums of :math:`\phi_i`) with
   :math:`\phi_i = (\psi_i, 1\{G_i = c\}_c)`: every aggregation is a linear
   map of :math:`\phi`, so :class:`GramInfluence` answers all that
   :class:`~policyeval.results.staggered.GroupTimeResult` asks.

Per ATT(g,t) (weights 1; :math:`R_i = \Delta Y_i - \tilde x_i'\beta`, :math:`\beta`
the controls' OLS for DR and 0 for IPW; :math:`n_1` treated units,
:math:`S_o = \sum_{C} o_i`, :math:`M = \sum_C o_i\tilde x_i(R_i - \hat\eta_c)`,
:math:`H` the logit Hessian, :math:`a_1 = (X_C'X_C)^{-1}\sum_{D=1}\tilde x`,
:math:`a_3 = (X_C'X_C)^{-1}\sum_C o\tilde x`), as ``DRDID::drdid_panel`` and
``std_ipw_did_panel`` in the normalisation of
:func:`~policyeval.estimators._staggered_cov.att_panel_batch`:

.. math::

    \psi_i/n = \begin{cases}
      (R_i - \hat\eta_t)/n_1 - (1-\hat p_i)\tilde x_i'H^{-1}M/S_o & D_i = 1\\
      -[\tilde x_i'a_1 R_i]/n_1 - [o_i(R_i-\hat\eta_c) + \hat p_i\tilde x_i'H^{-1}M\cdot(-1)
        - \tilde x_i'a_3R_i]/S_o & D_i = 0
    \end{cases}

(the bracketed :math:`a_1, a_3` terms for DR only).
"""

from __future__ import annotations

import shutil
import tempfile
import warnings

import numpy as np
from scipy import sparse

from policyeval.estimators.group_time import (
    check_cohort_sizes,
    control_cohorts,
    group_time_cells,
    treated_cohorts,
)
from policyeval.exceptions import DataError, EstimationError, EstimationWarning
from policyeval.inference.influence import InfluenceFunction

__all__ = ["GramInfluence", "cs_propensity"]

_PS_MAX = 1 - 1e-6          # as policyeval.estimators._staggered_cov
BATCH_ROWS = 65_536        # units per batch: the last pass holds BATCH_ROWS x (cells + cohorts)


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


class GramInfluence(InfluenceFunction):
    r"""Influence function known through :math:`\sum_i\phi_i\phi_i'` (or cluster sums of :math:`\phi_i`).

    Term ``j`` is :math:`L_{\cdot j}'\phi_i`, with :math:`\phi_i` the per-unit
    influence values of the ATT(g,t) followed by the unit's cohort indicators
    (unit weights are 1 out of core).

    Parameters
    ----------
    n : int
        Units.
    base_gram : numpy.ndarray
        :math:`\sum_i \phi_i\phi_i'`.
    n_cells : int
        Leading entries of :math:`\phi` that are ATT(g,t) influence values.
    cluster_sums : numpy.ndarray, optional
        ``G x len(phi)`` sums per cluster (rows in sorted label order).
    L : numpy.ndarray, optional
        ``len(phi) x m``; default: the ATT(g,t) themselves.
    """

    def __init__(self, n, base_gram, n_cells, cluster_sums=None, L=None):
        self.n = int(n)
        self.base_gram = base_gram
        self.n_cells = int(n_cells)
        self.base_sums = cluster_sums
        p = base_gram.shape[0]
        if L is None:
            L = np.eye(p)[:, :n_cells]
        self.L = np.asarray(L, dtype=float)
        self.n_terms = self.L.shape[1]
        self.cluster = None if cluster_sums is None else np.arange(cluster_sums.shape[0])
        self.n_clusters = self.n if cluster_sums is None else int(cluster_sums.shape[0])

    def _like(self, L):
        return GramInfluence(self.n, self.base_gram, self.n_cells, self.base_sums, L)

    def gram(self):
        if self.base_sums is not None:
            s = self.cluster_sums()
            return s.T @ s
        return self.L.T @ self.base_gram @ self.L

    def gram_diagonal(self):
        if self.base_sums is not None:
            return super().gram_diagonal()
        return np.einsum("pk,pq,qk->k", self.L, self.base_gram, self.L)

    def cluster_sums(self):
        if self.base_sums is None:
            raise EstimationError("per-unit influence values are not kept out of core (each unit is its "
                                  "own cluster); pass cluster=<column> for cluster sums")
        return self.base_sums @ self.L

    def combine(self, weights, cohort_coef=None):
        weights = np.asarray(weights, dtype=float).reshape(self.n_terms, -1)
        L = self.L @ weights
        if cohort_coef is not None:
            L[self.n_cells:] += np.atleast_2d(cohort_coef)       # w_i c_{c(i)} with w_i = 1
        return self._like(L)

    def cohort_terms(self, coef_w, coef_1):
        coef = np.atleast_2d(coef_w) + np.atleast_2d(coef_1)
        L = np.zeros((self.base_gram.shape[0], coef.shape[1]))
        L[self.n_cells:] = coef
        return self._like(L)

    def __add__(self, other):
        if not isinstance(other, GramInfluence):
            return NotImplemented
        return self._like(self.L + other.L)

    def to_dense(self):
        raise EstimationError("the out-of-core Callaway-Sant'Anna result keeps influence sums, not "
                              "per-unit influence values; use vcov()/std_errors(), or refit in memory")

    def multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        s = self.cluster_sums()
        out = np.zeros((n_draws, self.n_terms))
        for start in range(0, n_draws, chunk):
            m = min(chunk, n_draws - start)
            out[start:start + m] = draws_fn(m, s.shape[0]) @ s
            if progress is not None:
                progress.update(m)
        return out


class _Units:
    """Batches of the per-unit table: cohort code, x~ (with the intercept), outcome paths."""

    def __init__(self, path, covs, T, cohort_values, cluster):
        import pyarrow.dataset as ds

        self.data = ds.dataset(path, format="parquet")
        self.q = len(covs) + 1
        self.T = T
        self.cohort_values = cohort_values
        self.cluster = cluster

    def __iter__(self):
        return self.batches(outcomes=True)

    def batches(self, outcomes=True):
        q, T = self.q, self.T
        cols = ["id", "g", *(f"xmin{j}" for j in range(1, q)), *(f"x{j}" for j in range(1, q)),
                *(f"y{s}" for s in range(T) if outcomes)] + (["cl"] if self.cluster else [])
        for batch in self.data.to_batches(columns=cols, batch_size=BATCH_ROWS):
            if batch.num_rows == 0:
                continue
            f = batch.to_pandas()
            g = f["g"].to_numpy(dtype=float)
            code = np.searchsorted(self.cohort_values, np.where(g == 0, np.inf, g))
            X = np.ones((len(f), q))
            for j in range(1, q):
                X[:, j] = f[f"x{j}"].to_numpy(dtype=float)
            xvar = np.zeros(len(f), dtype=bool)
            for j in range(1, q):
                xvar |= f[f"xmin{j}"].to_numpy(dtype=float) != X[:, j]
            Y = f[[f"y{s}" for s in range(T)]].to_numpy(dtype=float) if outcomes else None
            yield {"id": f["id"].to_numpy(), "code": code, "X": X, "Y": Y, "xvar": xvar,
                   "cl": f["cl"].to_numpy() if self.cluster else None}


def _batches(cells, cohort_values, periods, counts, estimator):
    """Cells grouped by (cohort, controls), as the in-memory estimator batches them."""
    k = len(cells)
    est = np.full(k, np.nan)
    n_t = np.zeros(k, dtype=np.int64)
    n_c = np.zeros(k, dtype=np.int64)
    batches: dict = {}
    for j, (g, ti, b, _) in enumerate(cells):
        cg = int(np.searchsorted(cohort_values, g))
        ctrl = np.flatnonzero(control_cohorts(cohort_values, g, periods, ti, b,
                                              control_group=estimator.control_group,
                                              anticipation=estimator.anticipation))
        n_t[j], n_c[j] = counts[cg], counts[ctrl].sum()
        if ti == b:
            est[j] = 0.0
        elif n_t[j] and n_c[j]:
            batches.setdefault((cg, tuple(ctrl)), []).append(j)
    return est, n_t, n_c, batches


def _check_controls(A, covs, where):
    scale = np.sqrt(np.maximum(np.diag(A), 1e-300))
    sv = np.linalg.svd(A / np.outer(scale, scale), compute_uv=False)
    if sv[-1] <= sv[0] * 1e-20:
        raise EstimationError(f"{where}: covariates are collinear (with each other or the intercept): "
                              f"{covs}; drop one of them.")


def cs_propensity(engine, estimator, spec, keep_periods, drop_before, cohort_values, notes):
    """ATT(g,t) and their :class:`GramInfluence` for ``method="ipw"``/``"dr"`` (see module notes)."""
    covs = list(spec.covariates)
    method = estimator.method
    T, q, C = len(keep_periods), len(covs) + 1, len(cohort_values)
    folder = tempfile.mkdtemp(prefix="policyeval_units_")
    try:
        path = engine.unit_table(spec, keep_periods, drop_before, folder)
        units = _Units(path, covs, T, cohort_values, spec.cluster is not None)
        return _estimate(units, estimator, spec, keep_periods, cohort_values, covs, method, T, q, C, notes)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _estimate(units, estimator, spec, periods, cohort_values, covs, method, T, q, C, notes):
    counts, XX, XY = _cohort_sums(units, covs, spec, q, T, C)
    if (counts == 0).any():
        # every unit of a cohort dropped (not observed in all periods): the cohort does not exist
        cohort_values = cohort_values[counts > 0]
        C = len(cohort_values)
        units.cohort_values = cohort_values
        counts, XX, XY = _cohort_sums(units, covs, spec, q, T, C)
    return _fit(units, estimator, spec, periods, cohort_values, covs, method, T, q, C, counts, XX, XY)


def _cohort_sums(units, covs, spec, q, T, C):
    """Pass 1: units, sum x~x~' and sum x~Y' per cohort (and the time-invariance check)."""
    counts = np.zeros(C, dtype=np.int64)
    XX = np.zeros((C, q, q))
    XY = np.zeros((C, q, T))
    n_var, var_ids = 0, []
    for b in units:
        code, X, Y = b["code"], b["X"], b["Y"]
        counts += np.bincount(code, minlength=C)
        for c in np.unique(code):
            r = code == c
            XX[c] += X[r].T @ X[r]
            XY[c] += X[r].T @ Y[r]
        if b["xvar"].any():
            n_var += int(b["xvar"].sum())
            var_ids.extend(b["id"][b["xvar"]][:3].tolist())
    if n_var:
        raise DataError(f"covariates={covs} vary within idname={spec.idname!r} for {n_var} units (e.g. "
                        f"{', '.join(str(v) for v in sorted(var_ids)[:3])}); out of core, Callaway-Sant'Anna "
                        "takes time-invariant covariates only")
    return counts, XX, XY


def _fit(units, estimator, spec, periods, cohort_values, covs, method, T, q, C, counts, XX, XY):
    check_cohort_sizes(cohort_values, counts, covs, spec.gname, stacklevel=6)
    n = int(counts.sum())
    glist = treated_cohorts(cohort_values)
    if len(glist) == 0:
        raise EstimationError(f"gname={spec.gname!r}: no treated cohort left to estimate")
    cells = group_time_cells(periods, glist, base_period=estimator.base_period,
                             anticipation=estimator.anticipation)
    est, n_t, n_c, batches = _batches(cells, cohort_values, periods, counts, estimator)
    keys = list(batches)
    member = np.zeros((len(keys), C), dtype=bool)         # cohort c is in batch b
    for bi, (cg, ctrl) in enumerate(keys):
        member[bi, [cg, *ctrl]] = True
        g = cohort_values[cg]
        A0 = XX[list(ctrl)].sum(axis=0)
        _check_controls(A0, covs, f"controls of cohort {g:g}")
        _check_controls(A0 + XX[cg], covs, f"cohort {g:g} and its controls")
    # pass 2..: Newton steps of every propensity score at once
    gamma = np.zeros((len(keys), q))
    for bi, (cg, ctrl) in enumerate(keys):
        p1 = counts[cg] / (counts[cg] + counts[list(ctrl)].sum())
        gamma[bi, 0] = np.log(p1 / (1 - p1))
    state = np.zeros(len(keys), dtype=np.int8)        # 0 iterating, 1 converged, 2 Hessian final
    hinv = np.zeros((len(keys), q, q))
    steps = np.zeros(len(keys), dtype=np.int64)
    for _ in range(101):
        active = np.flatnonzero(state < 2)
        if not len(active):
            break
        H = np.zeros((len(keys), q, q))
        S = np.zeros((len(keys), q))
        for b in units.batches(outcomes=False):
            code, X = b["code"], b["X"]
            for bi in active:
                r = member[bi, code]
                if not r.any():
                    continue
                Xb = X[r]
                p = _sigmoid(Xb @ gamma[bi])
                D = (code[r] == keys[bi][0]).astype(float)
                H[bi] += (Xb * (p * (1 - p))[:, None]).T @ Xb
                S[bi] += Xb.T @ (D - p)
        for bi in active:
            g = cohort_values[keys[bi][0]]
            where = f"cohort {g:g} vs its {int(counts[list(keys[bi][1])].sum())} controls"
            if state[bi] == 1:
                try:
                    hinv[bi] = np.linalg.inv(H[bi])
                except np.linalg.LinAlgError:
                    _separation(where, covs)
                state[bi] = 2
                continue
            try:
                step = np.linalg.solve(H[bi], S[bi])
            except np.linalg.LinAlgError:
                _separation(where, covs)
            if not np.all(np.isfinite(step)) or steps[bi] >= 100:
                _separation(where, covs)
            gamma[bi] += step
            steps[bi] += 1
            if np.max(np.abs(step)) < 1e-12 * (1 + np.max(np.abs(gamma[bi]))):
                state[bi] = 1
    # pass: sums weighted by the control odds
    trim_level = estimator.trim_level
    SO = np.zeros(len(keys))
    OX = np.zeros((len(keys), q))
    OXX = np.zeros((len(keys), q, q))
    OXY = np.zeros((len(keys), q, T))
    hi_t = np.zeros(len(keys), dtype=np.int64)
    hi_c = np.zeros(len(keys), dtype=np.int64)
    omax = np.zeros(len(keys))
    for b in units:
        code, X, Y = b["code"], b["X"], b["Y"]
        for bi, (cg, _) in enumerate(keys):
            r = member[bi, code] & (code != cg)
            ps = np.minimum(_sigmoid(X[r] @ gamma[bi]), _PS_MAX)
            o = np.where(ps < trim_level, ps / (1 - ps), 0.0)
            SO[bi] += o.sum()
            OX[bi] += X[r].T @ o
            OXX[bi] += (X[r] * o[:, None]).T @ X[r]
            OXY[bi] += (X[r] * o[:, None]).T @ Y[r]
            hi_c[bi] += int((ps >= trim_level).sum())
            omax[bi] = max(omax[bi], float(o.max(initial=0.0)))
            tr = code == cg
            hi_t[bi] += int((np.minimum(_sigmoid(X[tr] @ gamma[bi]), _PS_MAX) >= trim_level).sum())
    # per cell: estimates and the coefficients of the influence function
    k = len(cells)
    plan = []
    overlap = []
    for bi, (cg, ctrl) in enumerate(keys):
        js = batches[(cg, ctrl)]
        ts = np.array([cells[j][1] for j in js])
        bs = np.array([cells[j][2] for j in js])
        ctrl_l = list(ctrl)
        A0 = XX[ctrl_l].sum(axis=0)
        XYc = XY[ctrl_l].sum(axis=0)
        n1 = counts[cg]
        if method == "dr":
            beta = np.linalg.solve(A0, XYc[:, ts] - XYc[:, bs])            # q x J
        else:
            beta = np.zeros((q, len(js)))
        eta_t = (XY[cg][0, ts] - XY[cg][0, bs] - XX[cg][0] @ beta) / n1
        eta_c = (OXY[bi][0, ts] - OXY[bi][0, bs] - OX[bi] @ beta) / SO[bi]
        M = OXY[bi][:, ts] - OXY[bi][:, bs] - OXX[bi] @ beta - np.outer(OX[bi], eta_c)
        est[js] = eta_t - eta_c
        a1 = np.linalg.solve(A0, XX[cg][0]) if method == "dr" else np.zeros(q)
        a3 = np.linalg.solve(A0, OX[bi]) if method == "dr" else np.zeros(q)
        plan.append((bi, np.asarray(js), ts, bs, beta, eta_t, eta_c, hinv[bi] @ M, a1, a3, n1, SO[bi]))
        share = omax[bi] / SO[bi] if SO[bi] > 0 else 1.0
        nct = int(counts[ctrl_l].sum())
        if hi_t[bi] or hi_c[bi] or share > max(0.10, 5.0 / nct):
            overlap.append(f"cohort {cohort_values[cg]:g} vs its {nct} controls: {hi_t[bi]} of {n1} treated "
                           f"units have a propensity score >= {trim_level:g}; {hi_c[bi]} controls trimmed; "
                           f"largest control weight {share:.0%} of the total")
    if overlap:
        warnings.warn(f"poor overlap in {len(overlap)} of {len(keys)} propensity-score fits (method={method!r}); "
                      f"the ATT(g,t) there rest on few, heavily weighted controls: {' | '.join(overlap[:3])}. "
                      "Check the covariate balance, restrict to common support, or compare with method='reg'.",
                      EstimationWarning, stacklevel=6)
    # last pass: phi = (psi, cohort indicators), reduced to its Gram matrix or cluster sums
    P = k + C
    gram = np.zeros((P, P))
    sums: dict = {}
    for b in units:
        code, X, Y = b["code"], b["X"], b["Y"]
        clustered = b["cl"] is not None
        if clustered:
            labels, inv = np.unique(b["cl"], return_inverse=True)
            part = np.zeros((len(labels), P))
            ind = sparse.csr_matrix((np.ones(len(inv)), (inv, np.arange(len(inv)))), shape=(len(labels), len(inv)))
            part[:, k:] = ind @ np.eye(C)[code]
        else:
            phi = np.zeros((len(code), P))
            phi[np.arange(len(code)), k + code] = 1.0
        for bi, js, ts, bs, beta, eta_t, eta_c, hM, a1, a3, n1, so in plan:
            cg = keys[bi][0]
            rows = np.flatnonzero(member[bi, code])
            D = code[rows] == cg
            Xb = X[rows]
            Yr = Y[rows]
            R = Yr[:, ts] - Yr[:, bs] - Xb @ beta
            ps = np.minimum(_sigmoid(Xb @ gamma[bi]), _PS_MAX)
            corr = (Xb @ hM) * np.where(D, 1 - ps, -ps)[:, None]       # (D - p) x' H^-1 M
            psi = np.empty_like(R)
            t, c = np.flatnonzero(D), np.flatnonzero(~D)
            psi[t] = (R[t] - eta_t) * (n / n1) - corr[t] * (n / so)
            o = np.where(ps[c] < trim_level, ps[c] / (1 - ps[c]), 0.0)
            # controls: -(x'a1) R / n1 - [o (R - eta_c) + corr - (x'a3) R] / S_o
            u = -(Xb[c] @ a1) * (n / n1) + (Xb[c] @ a3 - o) * (n / so)
            psi[c] = R[c] * u[:, None] + (np.outer(o, eta_c) - corr[c]) * (n / so)
            if clustered:
                sub = sparse.csr_matrix((np.ones(len(rows)), (inv[rows], np.arange(len(rows)))),
                                        shape=(len(labels), len(rows)))
                part[:, js] += sub @ psi
            else:
                phi[np.ix_(rows, js)] = psi
        if not clustered:
            gram += phi.T @ phi
        else:
            for lab, row in zip(labels.tolist(), part):
                if lab in sums:
                    sums[lab] += row
                else:
                    sums[lab] = row
    if sums:
        S = np.array([sums[c] for c in sorted(sums)])
        infl = GramInfluence(n, S.T @ S, k, cluster_sums=S)
    else:
        infl = GramInfluence(n, gram, k)
    return cells, est, n_t, n_c, counts, infl, cohort_values


def _separation(where, covs):
    raise EstimationError(
        f"{where}: the propensity score (logit of the cohort on {covs}) has no maximum likelihood "
        "estimate: a covariate (nearly) separates the cohort from its controls, so some treated units "
        "have no comparable control. Drop or coarsen it, restrict the sample to common support, or use "
        "method='reg'.")
