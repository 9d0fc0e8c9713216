r"""Least squares with unit and period effects from sufficient statistics, in blocks of units.

The static TWFE regression :math:`y_{it} = \alpha_i + \lambda_t + x_{it}'\beta + e_{it}`
clustered by unit, computed without any rows-sized temporary: the rows are read as a
units x periods grid, a block of units at a time (a view of the columns when the rows
are sorted by unit and period and the panel is balanced; a small scatter per block
otherwise), in two passes.

1. Unit sums :math:`s_i`, period sums :math:`m_t`, the counts, and on an unbalanced
   panel :math:`\sum_i a_ia_i'/n_i` and :math:`\sum_i a_is_i'/n_i` (:math:`a_i` the
   0/1 periods of unit :math:`i`). The period effects of every column then solve the
   exact :math:`T\times T` system of the Frisch--Waugh--Lovell theorem,
   :math:`(D'M_UD)\,\Gamma = D'M_UZ` with
   :math:`D'M_UD = \operatorname{diag}(n_t) - \sum_i a_ia_i'/n_i` and
   :math:`D'M_UZ = m - \sum_i a_is_i'/n_i` (no iteration, balanced or not), and the
   unit effects are :math:`\mu_i = (s_i - a_i'\Gamma)/n_i`.
2. Each block's demeaned columns :math:`\tilde z_{it} = z_{it} - \Gamma_t - \mu_i` (the
   same numbers as demeaning the rows explicitly, so no moment is formed from raw sums
   of squares) give each unit's cross moments :math:`H_i = \sum_t \tilde x_{it}\tilde
   x_{it}'` and :math:`g_i = \sum_t \tilde x_{it}\tilde y_{it}`; then
   :math:`\hat\beta = (\sum_i H_i)^{-1}\sum_i g_i` and unit :math:`i`'s score sum is
   :math:`g_i - H_i\hat\beta`.

:func:`~policyeval.estimators._fixed_effects.fit_fe_ols` (explicit demeaning of every
row) is the reference in the tests.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import scipy.linalg

from policyeval.estimators._fixed_effects import FEFit, FEPanel, check_regressors
from policyeval.estimators._inputs import unit_row_starts
from policyeval.inference.covariance import one_way_cluster_covariance, resolve_ssc

__all__ = ["two_way_applies", "fit_two_way"]

#: units x periods cells per block: about 1 MB per float column, so a block's
#: temporaries stay in cache and are reused instead of touching fresh memory
BLOCK_CELLS = 1 << 17

#: the grid may hold at most this many cells per row of data (sparser panels use the
#: row-wise path of fit_fe_ols)
MAX_FILL = 4


def two_way_applies(panel: FEPanel, vcov: str) -> bool:
    """True when :func:`fit_two_way` computes the fit: unit + period effects, no weights,
    CR1 clustered by unit, and a grid no sparser than :data:`MAX_FILL` cells a row."""
    n = len(panel.y)
    return (panel.fe_codes is None and panel.weights is None and vcov == "cluster"
            and panel.cluster_is_unit
            and panel.n_units * len(panel.periods) <= MAX_FILL * n)


class _Grid:
    """The rows of a long panel as a units x periods grid, read a block of units at a time."""

    def __init__(self, unit: np.ndarray, time: np.ndarray, n_units: int, n_times: int,
                 starts: np.ndarray | None):
        N, T = n_units, n_times
        self.N, self.T, self.unit, self.time = N, T, unit, time
        self.balanced = len(unit) == N * T           # the caller refused repeated pairs
        self.starts = starts
        self.mode = "scatter"
        if starts is not None:
            self.mode = "rows"
            if self.balanced and bool((time.reshape(N, T) == np.arange(T)).all()):
                self.mode = "view"                    # row i * T + t is (unit i, period t)
        self.block = max(1, BLOCK_CELLS // T)
        self._wide: dict[int, np.ndarray] = {}
        self._lin = None
        if self.mode == "scatter":                    # rows in any order: one grid per column
            self._lin = unit.astype(np.int64) * T + time
            if not self.balanced:
                self._mask = np.zeros(N * T, dtype=bool)
                self._mask[self._lin] = True

    def blocks(self):
        """``(u0, u1, place, mask)``: units ``u0:u1``, a function giving a column's block
        (``(u1 - u0) x T``, zero where a unit lacks a period) and the 0/1 mask of the
        observed cells (``None`` on a balanced panel)."""
        T = self.T
        for u0 in range(0, self.N, self.block):
            u1 = min(self.N, u0 + self.block)
            k = u1 - u0
            if self.mode == "view":
                yield u0, u1, (lambda z, a=u0 * T, b=u1 * T: z[a:b].reshape(-1, T)), None
            elif self.mode == "scatter":
                mask = None if self.balanced else self._mask[u0 * T:u1 * T].reshape(k, T)
                yield u0, u1, (lambda z, a=u0 * T, b=u1 * T: self._scattered(z)[a:b]
                               .reshape(-1, T)), mask
            else:
                r0, r1 = int(self.starts[u0]), int(self.starts[u1])
                lin = (self.unit[r0:r1] - u0) * T + self.time[r0:r1]
                mask = None
                if not self.balanced:
                    mask = np.zeros(k * T, dtype=bool)
                    mask[lin] = True
                    mask = mask.reshape(k, T)

                def place(z, lin=lin, r0=r0, r1=r1, k=k):
                    out = np.zeros(k * T)
                    out[lin] = z[r0:r1]
                    return out.reshape(k, T)
                yield u0, u1, place, mask

    def _scattered(self, z: np.ndarray) -> np.ndarray:
        key = id(z)
        if key not in self._wide:
            out = np.zeros(self.N * self.T)
            out[self._lin] = z
            self._wide[key] = out
        return self._wide[key]


def fit_two_way(panel: FEPanel, columns: Sequence, names: Sequence, *, ssc,
                treated_from: np.ndarray | None = None) -> FEFit:
    r"""OLS of ``panel.y`` on regressors with unit and period effects, CR1 by unit.

    Parameters
    ----------
    panel : FEPanel
        A :func:`two_way_applies` panel.
    columns : sequence of numpy.ndarray
        The regressors, one float array per row each (after ``treated_from``'s, if given).
    names : sequence
        Names of all regressors (``treated_from``'s first).
    ssc : str or SmallSampleCorrection
    treated_from : numpy.ndarray, optional
        Per unit code, the period code from which the unit is treated (``T`` for never):
        the first regressor is then :math:`1[t \ge` ``treated_from[i]``:math:`]`, built a
        block at a time instead of from a rows-sized column.

    Returns
    -------
    FEFit
        As :func:`~policyeval.estimators._fixed_effects.fit_fe_ols` returns, with
        ``residuals=None`` (not formed).
    """
    names = list(names)
    unit, time = panel.unit, panel.time
    N, T, n = panel.n_units, len(panel.periods), len(panel.y)
    starts = getattr(panel, "unit_starts", None)
    if starts is None:
        starts = unit_row_starts(unit, N)
    grid = _Grid(unit, time, N, T, starts)
    cols = [np.ascontiguousarray(panel.y, dtype=float)] + [
        np.ascontiguousarray(c, dtype=float) for c in columns]
    p1 = 1 + len(names)                                # y, then the regressors
    periods_idx = np.arange(T)

    def block_columns(u0, u1, place, mask):
        out = [place(cols[0])]
        if treated_from is not None:
            d = periods_idx >= treated_from[u0:u1, None]
            if mask is not None:
                d &= mask
            out.append(d)
        out.extend(place(c) for c in cols[1:])
        return out

    # pass 1: unit and period sums, counts, and the unbalanced terms of the T x T system
    S = np.empty((N, p1))
    m = np.zeros((T, p1))
    ZZ = np.zeros(p1)                                  # raw sums of squares: the absorbed check
    n_i = np.full(N, float(T)) if grid.balanced else np.empty(N)
    n_t = np.full(T, float(N)) if grid.balanced else np.zeros(T)
    AA = np.zeros((T, T))
    AS = np.zeros((T, p1))
    for u0, u1, place, mask in grid.blocks():
        Zb = block_columns(u0, u1, place, mask)
        for j, z in enumerate(Zb):
            S[u0:u1, j] = z.sum(axis=1)
            m[:, j] += z.sum(axis=0)
            if j:
                ZZ[j] += np.count_nonzero(z) if z.dtype == bool else float(np.vdot(z, z))
        if mask is not None:
            A = mask.astype(float)
            ni = A.sum(axis=1)
            n_i[u0:u1] = ni
            n_t += A.sum(axis=0)
            W = A / ni[:, None]
            AA += W.T @ A
            AS += W.T @ S[u0:u1]
    if grid.balanced:
        AA[:] = N / T
        AS[:] = S.sum(axis=0) / T
    C = np.diag(n_t) - AA
    B = m - AS
    gamma = np.zeros((T, p1))
    try:
        gamma[1:] = scipy.linalg.solve(C[1:, 1:], B[1:], assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        # disconnected panels: any solution of the normal equations projects the same
        gamma[1:] = np.linalg.lstsq(C[1:, 1:], B[1:], rcond=None)[0]

    # pass 2: demeaned blocks -> each unit's cross moments with the regressors
    p = p1 - 1
    pairs = [(j, l) for j in range(1, p1) for l in range(j, p1)]
    H = np.empty((N, len(pairs)))
    g = np.empty((N, p))
    for u0, u1, place, mask in grid.blocks():
        Zb = block_columns(u0, u1, place, mask)
        if mask is None:
            mu = (S[u0:u1] - gamma.sum(axis=0)) / T
        else:
            mu = (S[u0:u1] - mask.astype(float) @ gamma) / n_i[u0:u1, None]
        tilde = []
        for j, z in enumerate(Zb):
            zt = np.subtract(z, gamma[:, j], dtype=float)
            zt -= mu[:, j, None]
            if mask is not None:
                zt *= mask
            tilde.append(zt)
        for j in range(1, p1):
            g[u0:u1, j - 1] = np.einsum("ij,ij->i", tilde[j], tilde[0])
        for q, (j, l) in enumerate(pairs):
            H[u0:u1, q] = np.einsum("ij,ij->i", tilde[j], tilde[l])
    XtX = np.empty((p, p))
    for q, (j, l) in enumerate(pairs):
        XtX[j - 1, l - 1] = XtX[l - 1, j - 1] = H[:, q].sum()
    Xty = g.sum(axis=0)

    # the checks of fit_fe_ols, on the same quantities
    scale = np.sqrt(ZZ[1:] / n)
    scale[scale == 0] = 1.0
    check_regressors(XtX, names, n, scale)
    bread = np.linalg.inv(XtX)
    beta = bread @ Xty
    # score sums g_i - H_i beta
    scores = g.copy()
    for q, (j, l) in enumerate(pairs):
        scores[:, j - 1] -= H[:, q] * beta[l - 1]
        if l != j:
            scores[:, l - 1] -= H[:, q] * beta[j - 1]
    corr = resolve_ssc(ssc)
    # K as count_coded_parameters counts it: the unit effect is nested in the unit
    # clusters; the period effect is nested in them only if each period has one row
    # (the (unit, period) pairs are unique)
    k = p
    if corr.fixef_k != "none":
        k = p + N + T - 1
        if corr.fixef_k == "nested":
            k -= N - 1
            if bool((n_t == 1).all()):
                k -= T - 1
    cov = one_way_cluster_covariance(scores, n, k, corr, bread)
    return FEFit(
        params=pd.Series(beta, index=names),
        vcov=pd.DataFrame(cov.vcov, index=names, columns=names),
        cov=cov,
        residuals=None,
        nobs=n,
        n_units=N,
        influence=scores @ (N * bread),
    )
