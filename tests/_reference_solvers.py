"""Reference optimisers whose answers are certified before a test trusts them.

A reference computed by an iterative solver can stop early and still report success (scipy
1.17's SLSQP stopped at the uniform start on Prop 99 and said so). So every reference here is
computed by an exact method (cvxpy with an interior-point QP solver) and then *certified*: for a
convex problem over the simplex, the Frank–Wolfe duality gap ``g·w − min_i g_i`` (``g`` the
gradient at ``w``) bounds ``f(w) − f*`` from above. A gap above tolerance fails the test as
"reference did not converge", never as a failure of policyeval.
"""

from __future__ import annotations

import numpy as np
import pytest


class ReferenceNotConverged(AssertionError):
    """The reference solver's own optimality certificate failed."""


def simplex_gap(grad: np.ndarray, w: np.ndarray) -> float:
    """Frank–Wolfe duality gap at ``w`` on the unit simplex (>= f(w) - f* for convex f)."""
    return float(grad @ w - grad.min())


def certify_simplex(grad: np.ndarray, w: np.ndarray, fun: float, *, rtol: float = 1e-7) -> None:
    """Fail loudly unless ``w`` is feasible and optimal to ``rtol`` relative to ``max(1, fun)``."""
    if w.min() < -1e-9 or abs(w.sum() - 1) > 1e-9:
        raise ReferenceNotConverged(f"reference did not converge: infeasible w (min {w.min():.2e}, "
                                    f"sum {w.sum():.12f})")
    gap = simplex_gap(grad, w)
    if gap > rtol * max(1.0, abs(fun)):
        raise ReferenceNotConverged(f"reference did not converge: duality gap {gap:.3e} at "
                                    f"objective {fun:.6g}")


def simplex_qp(A: np.ndarray, b: np.ndarray, ridge: float = 0.0) -> np.ndarray:
    """argmin_w ||A w - b||^2 + ridge ||w||^2 over the unit simplex, solved exactly and certified."""
    cp = pytest.importorskip("cvxpy")
    n = A.shape[1]
    w = cp.Variable(n)
    objective = cp.sum_squares(A @ w - b) + ridge * cp.sum_squares(w)
    problem = cp.Problem(cp.Minimize(objective), [w >= 0, cp.sum(w) == 1])
    problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    if problem.status != cp.OPTIMAL:
        raise ReferenceNotConverged(f"reference did not converge: cvxpy status {problem.status}")
    x = np.clip(np.asarray(w.value, dtype=float), 0.0, None)
    x /= x.sum()
    fun = float(np.sum((A @ x - b) ** 2) + ridge * x @ x)
    certify_simplex(2 * A.T @ (A @ x - b) + 2 * ridge * x, x, fun)
    return x
