"""Weight solvers on the probability simplex, shared by the synthetic estimators.

Two problems recur in synthetic control and synthetic difference-in-differences:

* the constrained least-squares problem of Abadie, Diamond & Hainmueller (2010),
  solved exactly by an active-set method (:func:`simplex_lstsq`);
* the regularised, intercept-adjusted problems of Arkhangelsky et al. (2021),
  solved by Frank–Wolfe with exact line search (:func:`frank_wolfe_weights`) so
  that the iterates, and therefore the estimates, follow the paper's Algorithm 1
  and its reference implementation's stopping rule.

Both are deterministic: no random starts, ties broken by the lowest index.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

__all__ = ["simplex_lstsq", "project_simplex", "frank_wolfe_weights", "sparsify"]


def project_simplex(v: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``v`` onto ``{w >= 0, sum(w) = 1}`` (sort-based)."""
    v = np.asarray(v, dtype=float)
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    k = np.arange(1, v.size + 1)
    rho = np.nonzero(u - css / k > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


def _objective(A, b, w, ridge):
    r = A @ w - b
    return float(r @ r + ridge * (w @ w))


def _kkt_solve(G, c, support):
    """Minimise w'Gw/2 - c'w on ``support`` subject to sum(w) = 1."""
    s = np.asarray(support)
    k = s.size
    K = np.zeros((k + 1, k + 1))
    K[:k, :k] = G[np.ix_(s, s)]
    K[:k, k] = 1.0
    K[k, :k] = 1.0
    rhs = np.append(c[s], 1.0)
    sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
    return sol[:k], sol[k]


def _projected_gradient(A, b, ridge, w0, max_iter=20000, tol=1e-14):
    """Accelerated projected gradient (FISTA); the fallback when active sets cycle."""
    G = 2.0 * (A.T @ A + ridge * np.eye(A.shape[1]))
    L = float(np.linalg.eigvalsh(G)[-1]) or 1.0
    c = 2.0 * (A.T @ b)
    w = y = w0.copy()
    t = 1.0
    for _ in range(max_iter):
        w_new = project_simplex(y - (G @ y - c) / L)
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = w_new + (t - 1.0) / t_new * (w_new - w)
        if np.max(np.abs(w_new - w)) < tol:
            w = w_new
            break
        w, t = w_new, t_new
    return w


def simplex_lstsq(A: np.ndarray, b: np.ndarray, ridge: float = 0.0,
                  tol: float = 1e-10, max_iter: int = 500) -> np.ndarray:
    r"""Least squares with weights on the simplex.

    Solves

    .. math:: \min_w \lVert A w - b \rVert_2^2 + \text{ridge}\,\lVert w\rVert_2^2
              \quad\text{s.t.}\quad w_j \ge 0,\ \textstyle\sum_j w_j = 1.

    Parameters
    ----------
    A : ndarray, shape (m, n)
        Donor characteristics (one column per donor).
    b : ndarray, shape (m,)
        Treated unit's characteristics.
    ridge : float
        Optional ridge penalty.
    tol : float
        Tolerance of the optimality (KKT) check, relative to the gradient scale.
    max_iter : int
        Maximum number of active-set changes.

    Returns
    -------
    ndarray, shape (n,)
        The optimal weights.

    Notes
    -----
    A primal active-set method. The starting support comes from non-negative
    least squares with the adding-up constraint appended as a heavily weighted
    row; on a support the equality-constrained problem is solved through its
    KKT system; the support is then updated (drop the most negative weight, or
    add the donor whose multiplier :math:`\nabla_j f + \mu` is most negative)
    until the KKT conditions hold. If the active set cycles, accelerated
    projected gradient finishes the job. Deterministic.
    """
    A = np.asarray(A, dtype=float)
    b = np.asarray(b, dtype=float)
    n = A.shape[1]
    if n == 1:
        return np.ones(1)
    G = 2.0 * (A.T @ A + ridge * np.eye(n))
    c = 2.0 * (A.T @ b)
    scale = max(np.linalg.norm(A), np.linalg.norm(b), 1.0)
    big = 1e3 * scale
    A_aug = np.vstack([A, np.sqrt(ridge) * np.eye(n)] if ridge > 0 else [A])
    b_aug = np.concatenate([b, np.zeros(n)] if ridge > 0 else [b])
    w0, _ = nnls(np.vstack([A_aug, big * np.ones((1, n))]), np.append(b_aug, big), maxiter=50 * n)
    support = sorted(np.nonzero(w0 > 1e-12 * max(w0.max(), 1.0))[0].tolist()) or [int(np.argmax(w0))]
    gscale = max(np.abs(c).max(), np.abs(G).max(), 1.0)
    seen = set()
    for _ in range(max_iter):
        key = tuple(support)
        if key in seen:
            break
        seen.add(key)
        ws, mu = _kkt_solve(G, c, support)
        if ws.min() <= 0:
            j = int(np.argmin(ws))
            if len(support) == 1:
                break
            support.pop(j)
            continue
        w = np.zeros(n)
        w[support] = ws
        grad = G @ w - c
        mult = grad + mu  # Lagrange multipliers of w_j >= 0; must be >= 0 off support
        mult[support] = 0.0
        j = int(np.argmin(mult))
        if mult[j] >= -tol * gscale:
            return w / w.sum()
        support = sorted(support + [j])
    w = _projected_gradient(A, b, ridge, project_simplex(w0))
    return w / w.sum()


def frank_wolfe_weights(Y: np.ndarray, zeta: float, intercept: bool = True,
                        init: np.ndarray | None = None, min_decrease: float = 1e-3,
                        max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    r"""Regularised simplex weights by Frank–Wolfe (Arkhangelsky et al. 2021, Algorithm 1).

    With :math:`Y = [A \mid b]` of shape ``(m, k + 1)`` solves

    .. math:: \min_{\lambda \in \Delta^{k},\ \lambda_0}
              \zeta^2 m \lVert\lambda\rVert_2^2 + \lVert \lambda_0 + A\lambda - b \rVert_2^2

    (the intercept :math:`\lambda_0` is profiled out by centring the columns of
    ``Y`` when ``intercept`` is true). Frank–Wolfe with exact line search,
    started at ``init`` (uniform by default), stopping after ``max_iter``
    iterations or once the objective
    :math:`\zeta^2\lVert\lambda\rVert^2 + \lVert\cdot\rVert^2/m` falls by less
    than ``min_decrease**2`` in one iteration — the rule of R ``synthdid``, so
    that its estimates are reproduced.

    Parameters
    ----------
    Y : ndarray, shape (m, k + 1)
        Columns are the candidates to weight, followed by the target.
    zeta : float
        Ridge regularisation :math:`\zeta`.
    intercept : bool
        Allow a free intercept.
    init : ndarray, optional
        Starting weights.
    min_decrease : float
        Stopping tolerance (see above).
    max_iter : int
        Maximum number of iterations.

    Returns
    -------
    weights : ndarray, shape (k,)
    values : ndarray
        Objective value after each iteration.
    """
    Y = np.asarray(Y, dtype=float)
    m, k1 = Y.shape
    k = k1 - 1
    if intercept:
        Y = Y - Y.mean(axis=0)
    A, b = Y[:, :k], Y[:, k]
    lam = np.full(k, 1.0 / k) if init is None else np.asarray(init, dtype=float).copy()
    eta = m * zeta**2
    z2 = zeta**2
    threshold = min_decrease**2
    # Work with the Gram matrix. A step moves lam towards one vertex e_i, so r = (A'A + eta I) lam,
    # lam'A'A lam, c'lam and |lam|^2 update in O(k); the gradient is r - c. The quantities are
    # recomputed exactly every 100 iterations so rounding cannot drift.
    G = A.T @ A
    c = A.T @ b
    H = G + eta * np.eye(k)
    bb = float(b @ b)
    diagG = np.diag(G).copy()
    vals = []

    def refresh(lam):
        g = G @ lam
        return g + eta * lam, float(lam @ g), float(c @ lam), float(lam @ lam)

    r, q, cl, ll = refresh(lam)
    for t in range(max_iter):
        half_grad = r - c
        i = int(half_grad.argmin())
        li = float(lam[i])
        gi = float(r[i]) - eta * li  # (A'A lam)_i
        # d = e_i - lam: half_grad.d, |A d|^2 and |d|^2 from the maintained scalars
        hg_d = float(half_grad[i]) - (q + eta * ll - cl)
        dAd = float(diagG[i]) - 2.0 * gi + q
        dd = 1.0 - 2.0 * li + ll
        if dd > 0:
            step = -hg_d / (dAd + eta * dd)
            step = 1.0 if step > 1.0 else (0.0 if step < 0.0 else step)
            one = 1.0 - step
            q = one * one * q + 2.0 * step * one * gi + step * step * float(diagG[i])
            cl = one * cl + step * float(c[i])
            ll = one * one * ll + 2.0 * step * one * li + step * step
            r *= one
            r += step * H[:, i]
            lam *= one
            lam[i] += step
            if t % 100 == 99:
                r, q, cl, ll = refresh(lam)
        vals.append(z2 * ll + (q - 2.0 * cl + bb) / m)
        if t >= 1 and vals[-2] - vals[-1] <= threshold:
            break
    return lam, np.asarray(vals)


def sparsify(v: np.ndarray) -> np.ndarray:
    """Zero weights at most a quarter of the largest, then renormalise (synthdid's rule)."""
    v = np.asarray(v, dtype=float).copy()
    v[v <= v.max() / 4.0] = 0.0
    return v / v.sum()
