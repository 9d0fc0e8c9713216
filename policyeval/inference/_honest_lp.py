r"""Numerical core of the Rambachan & Roth (2023) sensitivity analysis.

Everything here works on plain arrays in HonestDiD's layout: ``betahat`` holds
the ``n_pre`` pre-period coefficients (earliest first, the reference period
omitted) followed by the ``n_post`` post-period coefficients, and ``sigma`` is
their covariance. The bias vector :math:`\delta` has the same layout and the
reference period is normalised to :math:`\delta_0 = 0`.

Three tools live here:

* the restriction sets as polyhedra :math:`\{\delta: A\delta \le d\}`
  (second differences for :math:`\Delta^{SD}(M)`, first differences for each
  piece :math:`\Delta^{RM}_{s,\pm}(\bar M)` of the relative-magnitudes union);
* the conditional and conditional-least-favourable hybrid moment-inequality
  tests of Andrews, Roth & Pakes (ARP), inverted over a grid of
  :math:`\bar\theta`;
* the fixed-length confidence interval (FLCI) of Armstrong & Kolesár for
  :math:`\Delta^{SD}(M)`.

The ARP tests are computed from the vertices of the dual polytope
:math:`P = \{\gamma \ge 0: \gamma'\tilde\sigma = 1, \gamma'X = 0\}`: the LP
statistic is :math:`\hat\eta = \max_{\gamma \in V(P)} \gamma' y`, and the
truncation points of the conditional test follow in closed form from the other
vertices. Enumerating the vertices once per polyhedron makes the test on a
thousand grid points (and the least-favourable critical value on a thousand
simulated draws) a few matrix products instead of tens of thousands of LPs.
When the polytope has too many candidate bases the code falls back to
:func:`scipy.optimize.linprog` (HiGHS) point by point.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from policyeval.exceptions import SolverError

__all__ = [
    "arp_accept_grid",
    "flci_sd",
    "fold_normal_quantile",
    "identified_set",
    "lp_eta",
    "rm_constraints",
    "sd_constraints",
]

_MAX_BASES = 200_000  # beyond this many candidate bases, solve LPs point by point


# --- restriction sets -------------------------------------------------------
def _first_difference_matrix(n_pre: int, n_post: int) -> np.ndarray:
    """Rows ``delta_{t+1} - delta_t`` over the extended vector (reference included)."""
    n = n_pre + n_post
    D = np.zeros((n, n + 1))
    for r in range(n):
        D[r, r], D[r, r + 1] = -1.0, 1.0
    return D


def sd_constraints(n_pre: int, n_post: int, M: float) -> tuple[np.ndarray, np.ndarray]:
    r""":math:`\Delta^{SD}(M)` as ``A delta <= d``.

    Second differences :math:`(\delta_{t+1}-\delta_t)-(\delta_t-\delta_{t-1})`
    over the extended vector with :math:`\delta_0 = 0`, bounded by ``M`` in
    absolute value; the reference column is then dropped.
    """
    n = n_pre + n_post
    S = np.zeros((n - 1, n + 1))
    for r in range(n - 1):
        S[r, r:r + 3] = (1.0, -2.0, 1.0)
    S = np.delete(S, n_pre, axis=1)
    A = np.vstack([S, -S])
    return A, np.full(A.shape[0], float(M))


def rm_constraints(n_pre: int, n_post: int, mbar: float, s: int,
                   positive: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""One piece :math:`\Delta^{RM}_{s,\pm}(\bar M)` of the relative-magnitudes set.

    The first difference ending at pre-period ``s`` (``s`` in
    ``-(n_pre-1), ..., 0``; ``s = 0`` is :math:`\delta_0 - \delta_{-1}`) is
    the largest pre-period move, with sign ``+`` if ``positive``. Every other
    pre-period first difference is bounded by it in absolute value, every
    post-period one by ``mbar`` times it.

    Returns
    -------
    A, d : the polyhedron ``A delta <= d`` (``d = 0``)
    post_rows : boolean mask of the rows that involve post-period
        coefficients (the moments HonestDiD's ``postPeriodMomentsOnly`` keeps).
    """
    D = _first_difference_matrix(n_pre, n_post)
    pick = D[n_pre - 1 + s]
    if not positive:
        pick = -pick
    scale = np.r_[np.ones(n_pre), np.full(n_post, float(mbar))]
    bound = scale[:, None] * pick[None, :]
    A = np.vstack([D - bound, -D - bound])
    A = A[np.einsum("ij,ij->i", A, A) > 1e-10]
    A = np.delete(A, n_pre, axis=1)
    post_rows = np.any(np.abs(A[:, n_pre:]) > 0, axis=1)
    return A, np.zeros(A.shape[0]), post_rows


def identified_set(A: np.ndarray, d: np.ndarray, beta: np.ndarray, n_pre: int,
                   l_vec: np.ndarray) -> tuple[float, float]:
    r"""Identified set of :math:`\theta = l'\tau_{post}` when :math:`\delta \in \{A\delta\le d\}`.

    With the population coefficients ``beta``, :math:`\delta_{pre}=\beta_{pre}`
    and :math:`\theta = l'\beta_{post} - l'\delta_{post}`; the bounds solve
    two LPs over :math:`\delta_{post}`. Returns ``(nan, nan)`` if the
    pre-period coefficients are incompatible with the restriction.
    """
    n_post = len(l_vec)
    A_pre, A_post = A[:, :n_pre], A[:, n_pre:]
    rhs = d - A_pre @ beta[:n_pre]
    point = float(l_vec @ beta[n_pre:])
    out = []
    for sign in (1.0, -1.0):
        res = optimize.linprog(sign * l_vec, A_ub=A_post, b_ub=rhs,
                               bounds=[(None, None)] * n_post, method="highs")
        if res.status == 3:
            out.append(-sign * np.inf)
        elif res.status != 0:
            return float("nan"), float("nan")
        else:
            out.append(sign * res.fun)
    lo_delta, hi_delta = out
    return point - hi_delta, point - lo_delta


# --- the ARP moment-inequality tests ----------------------------------------
def lp_eta(y: np.ndarray, X: np.ndarray, sd: np.ndarray) -> tuple[float, np.ndarray]:
    r"""Solve :math:`\min_{\eta,\gamma}\eta` s.t. :math:`y - X\gamma \le \eta\,sd` with HiGHS.

    Returns the optimum and the dual vector (Lagrange multipliers, >= 0).
    This is the slow, obvious computation the vertex method is checked
    against.
    """
    m, k = X.shape
    c = np.r_[1.0, np.zeros(k)]
    A_ub = -np.column_stack([sd, X])
    res = optimize.linprog(c, A_ub=A_ub, b_ub=-y, bounds=[(None, None)] * (k + 1),
                           method="highs")
    if res.status == 3:
        return -np.inf, np.zeros(m)
    if res.status != 0:
        raise SolverError(f"ARP linear program failed: {res.message}")
    return float(res.fun), -np.asarray(res.ineqlin.marginals)


def _dual_vertices(X: np.ndarray, sd: np.ndarray) -> np.ndarray | None:
    r"""Vertices of :math:`\{\gamma\ge0: \gamma'sd = 1, \gamma'X = 0\}` (rows), or None if too many."""
    m = len(sd)
    W = np.column_stack([sd, X])
    # drop nuisance directions that are linear combinations of others
    if X.shape[1]:
        _, r, piv = _qr_pivot(X)
        rank = int(np.sum(np.abs(np.diag(r)) > 1e-10 * max(1.0, np.abs(r).max())))
        W = np.column_stack([sd, X[:, piv[:rank]]])
    r_dim = W.shape[1]
    if r_dim > m:
        return np.zeros((0, m))
    if math.comb(m, r_dim) > _MAX_BASES:
        return None
    bases = np.array(list(itertools.combinations(range(m), r_dim)), dtype=int)
    WB = W[bases]                                   # (nb, r, r) rows = moments in basis
    e1 = np.zeros(r_dim)
    e1[0] = 1.0
    # gamma_B solves WB' gamma_B = e1
    WBt = np.transpose(WB, (0, 2, 1))
    det = np.linalg.det(WBt)
    scale = np.prod(np.linalg.norm(WB, axis=2), axis=1)
    ok = np.abs(det) > 1e-10 * np.maximum(scale, 1e-300)
    if not ok.any():
        return np.zeros((0, m))
    gB = np.linalg.solve(WBt[ok], np.broadcast_to(e1, (ok.sum(), r_dim))[..., None])[..., 0]
    feasible = np.all(gB >= -1e-10, axis=1)
    if not feasible.any():
        return np.zeros((0, m))
    V = np.zeros((int(feasible.sum()), m))
    rows = np.arange(V.shape[0])[:, None]
    V[rows, bases[ok][feasible]] = np.clip(gB[feasible], 0.0, None)
    V = np.unique(np.round(V, 12), axis=0)
    return V


def _qr_pivot(X: np.ndarray):
    from scipy.linalg import qr

    return qr(X, mode="economic", pivoting=True)


def fold_normal_quantile(p: float, mean, simulated: bool = False) -> np.ndarray:
    r"""``p``-quantile of :math:`|N(\mu, 1)|`, vectorised over ``mean``.

    ``simulated=True`` reproduces HonestDiD's ``.qfoldednormal``: the
    empirical quantile (R type 7) of :math:`|Z + \mu|` over :math:`10^6`
    draws of R's ``set.seed(0); rnorm()``. The exact quantile is the default;
    the two differ by Monte Carlo error (about 0.1%).
    """
    mean = np.abs(np.asarray(mean, dtype=float))
    if not simulated:
        return stats.foldnorm.ppf(p, mean)
    draws = _r_fold_draws()
    return np.array([np.quantile(np.abs(draws + m), p) for m in np.atleast_1d(mean)]).reshape(
        mean.shape)


# --- R's random stream (for digit-exact comparisons with HonestDiD) --------
_R_FOLD_CACHE: dict[str, np.ndarray] = {}


def r_uniforms(seed: int, n: int) -> np.ndarray:
    """``set.seed(seed); runif(n)`` of R's default Mersenne-Twister generator.

    R scrambles the seed with the linear congruential map ``69069 s + 1``
    (50 times, then once per word of the 624-word state); the state is then
    used by the standard MT19937, whose 32-bit outputs R scales by
    :math:`2^{-32}`.
    """
    s = int(seed) & 0xFFFFFFFF
    for _ in range(50):
        s = (69069 * s + 1) & 0xFFFFFFFF
    key = np.empty(625, dtype=np.uint32)
    for j in range(625):
        s = (69069 * s + 1) & 0xFFFFFFFF
        key[j] = s
    gen = np.random.MT19937(0)
    state = gen.state
    state["state"] = {"key": key[1:], "pos": 624}   # key[0] is R's position slot
    gen.state = state
    u = gen.random_raw(n).astype(np.float64) * 2.3283064365386963e-10
    tiny = 0.5 * 2.328306437080797e-10
    u[u <= 0] = tiny
    u[1 - u <= 0] = 1 - tiny
    return u


def r_rnorm(seed: int, n: int) -> np.ndarray:
    """``set.seed(seed); rnorm(n)`` (R's default inversion method, two uniforms per draw)."""
    u = r_uniforms(seed, 2 * n).reshape(n, 2)
    big = 134217728.0  # 2**27
    return special.ndtri((np.floor(big * u[:, 0]) + u[:, 1]) / big)


def _r_fold_draws() -> np.ndarray:
    if "draws" not in _R_FOLD_CACHE:
        _R_FOLD_CACHE["draws"] = r_rnorm(0, 10**6)
    return _R_FOLD_CACHE["draws"]


def _sym_sqrt(sigma: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(sigma)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def _truncnorm_quantile(p: float, lo: float, hi: float) -> float:
    if not lo < hi:
        return lo
    return float(stats.truncnorm.ppf(p, lo, hi))


@dataclass
class _Moments:
    """``y(theta) = y0 - a * theta`` and its design for one polyhedron."""

    y0: np.ndarray
    a: np.ndarray
    X: np.ndarray
    sigma: np.ndarray


def _moments(betahat, sigma, A, d, n_pre, l_vec, rows) -> _Moments:
    n_post = len(l_vec)
    Gamma = _construct_gamma(l_vec)
    AGinv = A[:, n_pre:n_pre + n_post] @ np.linalg.inv(Gamma)
    y0 = A @ betahat - d
    SY = A @ sigma @ A.T
    return _Moments(y0[rows], AGinv[rows, 0], AGinv[rows, 1:], SY[np.ix_(rows, rows)])


def _construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    r"""An invertible matrix whose first row is :math:`l'`.

    The other rows are unit vectors chosen greedily so the matrix stays
    invertible; :math:`\tau = \Gamma^{-1}(\theta, \tilde\gamma)` then
    separates the parameter of interest from the nuisance directions.
    """
    n = len(l_vec)
    rows = [np.asarray(l_vec, dtype=float)]
    for j in range(n):
        e = np.zeros(n)
        e[j] = 1.0
        cand = np.vstack(rows + [e])
        if np.linalg.matrix_rank(cand) == len(rows) + 1:
            rows.append(e)
        if len(rows) == n:
            break
    return np.vstack(rows)


def _lf_critical_value(V, X, sd, sigma, kappa, sims, seed) -> float:
    """(1-kappa) quantile of the LP statistic under mean zero (ARP section 6.2).

    The draws are ``Z @ sigma^(1/2)`` with ``Z`` filled row by row from R's
    ``set.seed(seed); rnorm()`` stream and the symmetric square root, which
    is what HonestDiD's ``mvtnorm::rmvnorm(method = "eigen")`` draws; with
    the same seed the critical value is the same as R's.
    """
    z = r_rnorm(seed, sims * len(sd)).reshape(sims, len(sd))
    xi = z @ _sym_sqrt(sigma)
    if V is not None:
        eta = (xi @ V.T).max(axis=1) if len(V) else np.full(sims, -np.inf)
    else:
        eta = np.array([lp_eta(x, X, sd)[0] for x in xi])
    return float(np.quantile(eta, 1 - kappa))


def _conditional_reject(eta, gamma, V, y, sigma, alpha, kappa, hybrid, lf_cv) -> bool:
    """ARP conditional (or LF-hybrid) test given the LP optimum and its dual vertex."""
    if hybrid == "LF":
        if eta > lf_cv:
            return True
        size = (alpha - kappa) / (1 - kappa)
    else:
        size = alpha
    s2 = float(gamma @ sigma @ gamma)
    if s2 < 1e-20:
        return eta > 0
    sigma_b = math.sqrt(s2)
    b = sigma @ gamma / s2
    s = y - b * eta
    gs = float(gamma @ s)
    vb = V @ b
    vs = V @ s
    lo = np.less(vb, 1 - 1e-12)
    hi = np.greater(vb, 1 + 1e-12)
    vlo = np.max((vs[lo] - gs) / (1 - vb[lo])) if lo.any() else -np.inf
    vup = np.min((vs[hi] - gs) / (1 - vb[hi])) if hi.any() else np.inf
    if hybrid == "LF":
        vup = min(vup, lf_cv)
    zlo, zup, stat = vlo / sigma_b, vup / sigma_b, eta / sigma_b
    if not (zlo - 1e-10 <= stat <= zup + 1e-10):
        return False
    cval = max(0.0, _truncnorm_quantile(1 - size, zlo, zup))
    return stat > cval


def _conditional_reject_many(Y, V, sigma, alpha, kappa, hybrid, lf_cv) -> np.ndarray:
    r""":func:`_conditional_reject` for every row of ``Y`` at once (same formulas).

    For the optimal vertex :math:`g` of each row, with
    :math:`b = \Sigma g / g'\Sigma g` and :math:`s = y - b\,\hat\eta`, vertex
    :math:`v` stays dominated for :math:`c` with
    :math:`c\,(1 - v'b) \ge v's`, which gives the truncation points.
    """
    vals = Y @ V.T                                   # (n_grid, n_vertices)
    rows = np.arange(len(Y))
    best = vals.argmax(axis=1)
    eta = vals[rows, best]
    VSV = V @ sigma @ V.T
    s2 = np.diag(VSV)[best]
    safe = s2 > 1e-20
    s2s = np.where(safe, s2, 1.0)
    VB = VSV[:, best].T / s2s[:, None]               # v'b for every vertex v, per row
    VS = vals - VB * eta[:, None]                    # v's
    lo_mask = VB < 1 - 1e-12
    hi_mask = VB > 1 + 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = VS / (1 - VB)
    vlo = np.where(lo_mask, ratio, -np.inf).max(axis=1)
    vup = np.where(hi_mask, ratio, np.inf).min(axis=1)
    if hybrid == "LF":
        vup = np.minimum(vup, lf_cv)
        size = (alpha - kappa) / (1 - kappa)
    else:
        size = alpha
    sb = np.sqrt(s2s)
    zlo, zup, stat = vlo / sb, vup / sb, eta / sb
    inside = (zlo - 1e-10 <= stat) & (stat <= zup + 1e-10)
    cval = np.zeros(len(Y))
    ok = inside & safe & (zlo < zup)
    if ok.any():
        cval[ok] = stats.truncnorm.ppf(1 - size, zlo[ok], zup[ok])
    flat = inside & safe & ~(zlo < zup)
    cval[flat] = zlo[flat]
    reject = inside & (stat > np.maximum(cval, 0.0))
    reject = np.where(safe, reject, eta > 0)
    if hybrid == "LF":
        reject |= eta > lf_cv
    return reject


def arp_accept_grid(betahat: np.ndarray, sigma: np.ndarray, A: np.ndarray, d: np.ndarray,
                    n_pre: int, l_vec: np.ndarray, grid: np.ndarray, *, alpha: float,
                    hybrid: str = "LF", kappa: float | None = None, rows=None,
                    sims: int = 1000, seed: int = 0) -> np.ndarray:
    r"""Accept (True) / reject at each :math:`\bar\theta` in ``grid`` for one polyhedron.

    Tests :math:`H_0: \theta = \bar\theta,\ \delta \in \{A\delta \le d\}` by
    the moment inequalities
    :math:`E[A\hat\beta - d - A_{post}\Gamma^{-1}(\bar\theta,\tilde\gamma)] \le 0`
    with nuisance :math:`\tilde\gamma`. ``hybrid`` is ``"LF"`` (conditional
    least-favourable hybrid, first-stage size ``kappa``) or ``"ARP"``
    (purely conditional).
    """
    kappa = alpha / 10 if kappa is None else kappa
    rows = np.ones(A.shape[0], dtype=bool) if rows is None else np.asarray(rows)
    mom = _moments(betahat, sigma, A, d, n_pre, l_vec, rows)
    sd = np.sqrt(np.diag(mom.sigma))
    keep = sd > 1e-12
    if not keep.all():
        # moments with no sampling variance: a known inequality on theta alone
        det_ok = np.ones(len(grid), dtype=bool)
        for j in np.flatnonzero(~keep):
            if np.allclose(mom.X[j], 0):
                det_ok &= mom.y0[j] - mom.a[j] * grid <= 1e-10
        mom = _Moments(mom.y0[keep], mom.a[keep], mom.X[keep], mom.sigma[np.ix_(keep, keep)])
        sd = sd[keep]
    else:
        det_ok = np.ones(len(grid), dtype=bool)
    if len(sd) == 0:
        return det_ok
    V = _dual_vertices(mom.X, sd)
    lf_cv = (_lf_critical_value(V, mom.X, sd, mom.sigma, kappa, sims, seed)
             if hybrid == "LF" else np.inf)
    accept = np.zeros(len(grid), dtype=bool)
    Y = mom.y0[None, :] - grid[:, None] * mom.a[None, :]
    if V is not None:
        if len(V) == 0:  # LP unbounded below: the moments can always be met
            return det_ok
        accept = ~_conditional_reject_many(Y, V, mom.sigma, alpha, kappa, hybrid, lf_cv)
    else:
        W = np.column_stack([sd, mom.X])
        for i in range(len(grid)):
            eta, gamma = lp_eta(Y[i], mom.X, sd)
            accept[i] = not _conditional_reject_lp(eta, gamma, W, Y[i], mom.sigma,
                                                   alpha, kappa, hybrid, lf_cv)
    return accept & det_ok


def _dual_value(c, s, b, W):
    """max over the dual polytope of gamma'(s + b c), and the maximiser."""
    e1 = np.zeros(W.shape[1])
    e1[0] = 1.0
    res = optimize.linprog(-(s + b * c), A_eq=W.T, b_eq=e1, bounds=[(0, None)] * len(s),
                           method="highs")
    return -float(res.fun), res.x


def _truncation_lp(s, b, W, side):
    """vlo (side=-1) or vup (side=+1) by Newton steps on the convex dual value function.

    The dual value v(c) is convex and piecewise linear and touches the line
    ``c`` (the value of the conditioning vertex, whose ``gamma's = 0``) on
    ``[vlo, vup]``; from a point outside, the active vertex's line meets the
    line ``c`` closer to the interval, and finitely many steps reach it.
    """
    c = side * 1e6
    for _ in range(200):
        val, g = _dual_value(c, s, b, W)
        if abs(val - c) <= 1e-9 * max(1.0, abs(c)):
            return side * np.inf if abs(c) >= 1e6 else c
        gb, gs = float(g @ b), float(g @ s)
        if abs(1 - gb) < 1e-14:
            return side * np.inf
        c_new = gs / (1 - gb)
        if abs(c_new - c) <= 1e-12 * max(1.0, abs(c)):
            return c_new
        c = c_new
    return c


def _conditional_reject_lp(eta, gamma, W, y, sigma, alpha, kappa, hybrid, lf_cv) -> bool:
    """As :func:`_conditional_reject`, with truncation points found by LPs."""
    if hybrid == "LF" and eta > lf_cv:
        return True
    size = (alpha - kappa) / (1 - kappa) if hybrid == "LF" else alpha
    s2 = float(gamma @ sigma @ gamma)
    if s2 < 1e-20:
        return eta > 0
    b = sigma @ gamma / s2
    s = y - b * eta
    vlo, vup = _truncation_lp(s, b, W, -1), _truncation_lp(s, b, W, 1)
    if hybrid == "LF":
        vup = min(vup, lf_cv)
    sigma_b = math.sqrt(s2)
    zlo, zup, stat = vlo / sigma_b, vup / sigma_b, eta / sigma_b
    if not (zlo - 1e-8 <= stat <= zup + 1e-8):
        return False
    return stat > max(0.0, _truncnorm_quantile(1 - size, zlo, zup))


# --- FLCI for Delta^SD -------------------------------------------------------
@dataclass
class FLCIResult:
    lower: float
    upper: float
    estimate: float
    half_length: float
    weights: np.ndarray  # v with estimate = v' betahat
    max_bias: float
    sd: float


def flci_sd(betahat: np.ndarray, sigma: np.ndarray, n_pre: int, l_vec: np.ndarray,
            M: float, alpha: float, simulated_quantile: bool = False) -> FLCIResult:
    r"""Optimal fixed-length confidence interval for :math:`\theta` under :math:`\Delta^{SD}(M)`.

    The affine estimator :math:`v'\hat\beta` with :math:`v_{post} = l` has
    worst-case bias :math:`M\lVert u\rVert_1`, where :math:`u` is the unique
    solution of :math:`S'u = v` and :math:`S` is the second-difference
    matrix (finite only if :math:`v` annihilates linear trends). The interval
    is :math:`v'\hat\beta \pm \sigma_v\,cv_{\alpha}(\bar b/\sigma_v)` with
    :math:`cv_\alpha(t)` the :math:`1-\alpha` quantile of :math:`|N(t,1)|`;
    ``v`` minimises its half-length (Armstrong & Kolesár 2018; Rambachan &
    Roth 2023, section 4.1). Writing :math:`u = u_0 + Nz` (the solutions with
    :math:`v_{post} = l`) and bounding :math:`|u| \le t`, the half-length
    :math:`s(z)\,cv_\alpha(M\sum t / s(z))` is jointly convex in
    :math:`(z, t)`, so it is minimised directly (SLSQP with exact gradients,
    started from the minimum-bias and the minimum-variance estimators).
    """
    n_post = len(l_vec)
    n = n_pre + n_post
    A, _ = sd_constraints(n_pre, n_post, 1.0)
    S = A[: n - 1]                      # (n-1) x n, full row rank
    # v = S'u; post block of S'u must equal l  ->  u = u0 + N z
    St_post = S.T[n_pre:]               # n_post x (n-1)
    u0 = np.linalg.lstsq(St_post, l_vec, rcond=None)[0]
    N = _null_space(St_post)            # (n-1) x (n_pre-1)
    Q = S @ sigma @ S.T
    z_dim = N.shape[1]

    def unpack(z):
        u = u0 + N @ z
        return u, S.T @ u

    def sd_of(z):
        u, _ = unpack(z)
        return math.sqrt(max(float(u @ Q @ u), 0.0))

    # minimum-variance estimator (closed form)
    if z_dim:
        z_min = -np.linalg.lstsq(N.T @ Q @ N, N.T @ Q @ u0, rcond=None)[0]
    else:
        z_min = np.zeros(0)

    def result(z, bias_unit):
        _, v = unpack(z)
        s = sd_of(z)
        bias = M * bias_unit
        half = (float(fold_normal_quantile(1 - alpha, bias / s, simulated_quantile) * s)
                if s > 0 else bias)
        est = float(v @ betahat)
        return FLCIResult(est - half, est + half, est, half, v, bias, s)

    if M == 0 or z_dim == 0:
        u, _ = unpack(z_min)
        res = result(z_min, float(np.abs(u).sum()))
        if M == 0:
            res.half_length = float(fold_normal_quantile(1 - alpha, 0.0, simulated_quantile)
                                    * res.sd)
            res.lower, res.upper = res.estimate - res.half_length, res.estimate + res.half_length
        return res

    # minimum-bias estimator (LP  min ||u0 + N z||_1): a starting point
    m = n - 1
    c = np.r_[np.zeros(z_dim), np.ones(m)]
    A_ub = np.block([[N, -np.eye(m)], [-N, -np.eye(m)]])
    b_ub = np.r_[-u0, u0]
    lp_res = optimize.linprog(c, A_ub=A_ub, b_ub=b_ub,
                              bounds=[(None, None)] * z_dim + [(0, None)] * m, method="highs")
    z_bias = lp_res.x[:z_dim]
    NQ = N.T @ Q
    p = 1 - alpha

    # half-length g(z, t) = s(z) cv(M sum(t) / s(z)) with t >= |u|: the
    # perspective of the convex cv, composed with the convex, norm-like s(z),
    # is jointly convex, so one smooth constrained solve finds the optimum.
    def objective(x):
        z, t = x[:z_dim], x[z_dim:]
        u = u0 + N @ z
        sd = math.sqrt(max(float(u @ Q @ u), 1e-300))
        r = M * t.sum() / sd
        cv, slope = _fold_cv(r, p)
        grad_z = (NQ @ u) / sd * (cv - r * slope)
        grad_t = np.full(m, M * slope)
        return sd * cv, np.r_[grad_z, grad_t]

    cons = [{"type": "ineq",
             "fun": lambda x: np.r_[x[z_dim:] - (u0 + N @ x[:z_dim]),
                                    x[z_dim:] + (u0 + N @ x[:z_dim])],
             "jac": lambda x: np.block([[-N, np.eye(m)], [N, np.eye(m)]])}]
    best = None
    for z_start in (z_bias, z_min):
        x0 = np.r_[z_start, np.abs(u0 + N @ z_start) + 1e-12]
        sol = optimize.minimize(objective, x0, jac=True, constraints=cons, method="SLSQP",
                                options={"ftol": 1e-15, "maxiter": 1000})
        z = sol.x[:z_dim]
        u, _ = unpack(z)
        val = sd_of(z) * float(_fold_cv(M * np.abs(u).sum() / sd_of(z), p)[0])
        if best is None or val < best[0]:
            best = (val, z)
    z = best[1]
    u, _ = unpack(z)
    return result(z, float(np.abs(u).sum()))


def _fold_cv(r: float, p: float) -> tuple[float, float]:
    """``p``-quantile ``c`` of :math:`|N(r,1)|` by Newton's method, and ``dc/dr``."""
    r = abs(float(r))
    c = max(float(special.ndtri((1 + p) / 2)), r + float(special.ndtri(p)))
    for _ in range(50):
        f = special.ndtr(c - r) - special.ndtr(-c - r) - p
        d = stats.norm.pdf(c - r) + stats.norm.pdf(-c - r)
        step = f / d
        c -= step
        if abs(step) < 1e-14 * max(1.0, c):
            break
    a, b = stats.norm.pdf(c - r), stats.norm.pdf(-c - r)
    return c, (a - b) / (a + b)


def _null_space(A: np.ndarray) -> np.ndarray:
    _, s, vt = np.linalg.svd(A)
    rank = int(np.sum(s > 1e-10 * max(1.0, s.max() if s.size else 1.0)))
    return vt[rank:].T
