"""Two-group, two-period DiD with covariates: outcome regression, IPW and doubly robust.

These are the panel estimators of Sant'Anna & Zhao (2020) as used by R
``did`` for one ATT(g,t): ``reg_did_panel`` (outcome regression, Heckman,
Ichimura & Todd 1997), ``std_ipw_did_panel`` (normalised IPW, Abadie 2005),
``drdid_panel`` (doubly robust with a logit propensity score and OLS outcome
model, the estimator behind R ``did``'s ``est_method="dr"``) and, as an
option, ``drdid_imp_panel`` ("dr_imp": the "improved" locally efficient
doubly robust estimator whose propensity score is fitted by inverse
probability tilting, Graham, Pinto & Egel 2012, so that the nuisance
estimation has no first-order effect). Each returns the ATT and its influence function on the
rows it was given, normalised as in the ``DRDID`` package (weights rescaled
to mean one, ``inf`` such that ``var = mean(inf**2) / n``).

Written from the formulas in Sant'Anna & Zhao (2020), Sections 2-3 and
Appendix, not from any package's code.
"""

from __future__ import annotations

import numpy as np

from policyeval._validation import require_option
from policyeval.exceptions import EstimationError
from policyeval.inference.influence import tall_matmul

__all__ = ["att_panel", "wls", "logit", "ipt_pscore", "check_design", "overlap_note"]

_PS_MAX = 1 - 1e-6


def check_design(X: np.ndarray, names: list[str], where: str) -> None:
    """Raise a clear error when the covariate design is rank deficient."""
    if X.shape[0] < X.shape[1]:
        raise EstimationError(
            f"{where}: {X.shape[0]} units for {X.shape[1]} parameters (intercept + covariates "
            f"{names}); the cohort is too small for these covariates.")
    scale = np.maximum(np.abs(X).max(axis=0), 1e-300)
    Xs = X / scale
    # The eigenvalues of Xs'Xs are the squared singular values; with a ratio above 1e-6
    # (condition number below 1e3, error of the Gram far smaller) the design is nowhere near
    # the 1e-10 threshold below, and the SVD of the tall matrix is not needed.
    ev = np.linalg.eigvalsh(np.einsum("ij,ik->jk", Xs, Xs))
    if ev[0] > ev[-1] * 1e-6:
        return
    s = np.linalg.svd(Xs, compute_uv=False)
    if s[-1] <= s[0] * 1e-10:
        # find which covariate is (nearly) a combination of the others
        culprits = []
        for j in range(1, X.shape[1]):
            others = np.delete(X, j, axis=1)
            beta, *_ = np.linalg.lstsq(others, X[:, j], rcond=None)
            if np.allclose(others @ beta, X[:, j], atol=1e-9 * max(1.0, np.abs(X[:, j]).max())):
                culprits.append(names[j - 1])
        raise EstimationError(
            f"{where}: covariates are collinear (with each other or the intercept): "
            f"{culprits or names}; drop one of them.")


def wls(X, y, w):
    """Weighted least squares coefficients and ``(X'WX)^{-1}``."""
    xtwx = (X * w[:, None]).T @ X
    try:
        inv = np.linalg.inv(xtwx)
    except np.linalg.LinAlgError as err:  # pragma: no cover - guarded by check_design
        raise EstimationError("singular covariate design") from err
    return inv @ ((X * w[:, None]).T @ y), inv


def _sigmoid(z):
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _culprit(X, D, names, beta=None) -> tuple[str, str]:
    """The covariate that separates the cohort from its controls, and how (for messages).

    A covariate whose treated and control ranges do not overlap separates on its
    own; otherwise the one with the largest standardised logit coefficient
    :math:`|\\beta_j|\\,sd(x_j)` is the likeliest cause.
    """
    names = list(names or [f"x{j}" for j in range(1, X.shape[1])])
    t, c = D == 1, D == 0
    for j in range(1, X.shape[1]):
        xt, xc = X[t, j], X[c, j]
        if xt.size and xc.size and (xt.min() > xc.max() or xt.max() < xc.min()):
            return names[j - 1], (f"its values for the cohort [{xt.min():.4g}, {xt.max():.4g}] and "
                                  f"for the controls [{xc.min():.4g}, {xc.max():.4g}] do not overlap")
    if beta is not None and X.shape[1] > 1 and np.all(np.isfinite(beta)):
        z = np.abs(beta[1:]) * X[:, 1:].std(axis=0)
        j = int(np.argmax(z))
        return names[j], f"standardised logit coefficient {z[j]:.3g}"
    return (names[0] if names else "intercept"), "no single covariate separates on its own"


def logit(X, D, w, tol=1e-12, max_iter=100, *, where: str = "", names=None):
    """Weighted logit by Newton-Raphson; returns fitted probabilities, ``(X'WX)^{-1}`` and beta.

    Hand-written rather than ``statsmodels`` for speed: Callaway-Sant'Anna fits
    one propensity score per cohort (per cell with time-varying covariates or
    not-yet-treated controls), thousands on a large panel, and statsmodels'
    model set-up costs more than these few Newton steps on a small design; it
    also needs GLM with ``var_weights`` for sampling weights. The result is
    tested against ``statsmodels`` Logit / GLM on hard cases (near-separation,
    a rare treatment, nearly collinear covariates: tests/test_safety_nuisance.py).

    Newton's method converges in a handful of steps when the MLE exists; when a
    covariate (quasi-)separates the cohort from its controls the MLE does not
    exist, the coefficients run off to infinity and the Hessian becomes
    singular. Both are caught and raised as an :class:`EstimationError` naming
    ``where`` (the cohort / cell) and the covariate, never as a raw
    :class:`numpy.linalg.LinAlgError`.

    Raises
    ------
    EstimationError
        If the Hessian is singular or Newton's method does not converge in
        ``max_iter`` steps (separation).
    """
    beta = np.zeros(X.shape[1])
    p1 = np.average(D, weights=w)
    if not 0 < p1 < 1:
        raise EstimationError(f"{where}: the propensity score needs both treated and control "
                              "units with positive weight")
    beta[0] = np.log(p1 / (1 - p1))
    converged = False
    for _ in range(max_iter):
        p = _sigmoid(X @ beta)
        h = (X * (w * p * (1 - p))[:, None]).T @ X
        try:
            step = np.linalg.solve(h, X.T @ (w * (D - p)))
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        beta += step
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(beta))):
            converged = True
            break
    p = _sigmoid(X @ beta)
    h = (X * (w * p * (1 - p))[:, None]).T @ X
    hinv = None
    if converged:
        try:
            hinv = np.linalg.inv(h)
        except np.linalg.LinAlgError:
            converged = False
    if not converged:
        name, why = _culprit(X, D, names, beta)
        raise EstimationError(
            f"{where}: the propensity score (logit of the cohort on {list(names or [])}) has no "
            f"maximum likelihood estimate: covariate {name!r} (nearly) separates the cohort "
            f"from its controls ({why}), so some treated units have no comparable control. "
            f"Drop or coarsen {name!r}, restrict the sample to common support, or use "
            "method='reg'."
        )
    return p, hinv, beta


#: Largest share of the total control weight one control unit may carry before the
#: overlap diagnostic speaks up (and more than 5 times its equal share 1/n_c). With one
#: control carrying over a tenth of the weight the counterfactual trend rests on a
#: handful of units; Imbens & Rubin (2015, ch. 14) and Crump, Hotz, Imbens & Mitnik
#: (2009) recommend inspecting such weights and trimming to common support.
MAX_WEIGHT_SHARE = 0.10


def overlap_note(ps, D, w, trim_level, *, where: str = "", names=None, X=None, beta=None):
    """A one-line overlap diagnostic of a propensity-score fit, or ``None`` if overlap is fine.

    Reports the treated units with a score at or above ``trim_level`` (no
    comparable control), the controls trimmed for the same reason (they get
    zero weight, which drops them from the comparison), and the largest
    normalised control weight :math:`\\max_i w_i \\hat p_i/(1-\\hat p_i)` over
    their sum (see :data:`MAX_WEIGHT_SHARE`).
    """
    t, c = D == 1, D == 0
    n_c = int(c.sum())
    odds = np.where(c & (ps < trim_level), w * ps / (1 - ps), 0.0)
    share = float(odds.max() / odds.sum()) if odds.sum() > 0 else 1.0
    hi_t = int((t & (ps >= trim_level)).sum())
    hi_c = int((c & (ps >= trim_level)).sum())
    heavy = n_c > 0 and share > max(MAX_WEIGHT_SHARE, 5.0 / n_c)
    if not (hi_t or hi_c or heavy):
        return None
    parts = []
    if hi_t:
        parts.append(f"{hi_t} of {int(t.sum())} treated units have a propensity score >= "
                     f"{trim_level:g} (no comparable control)")
    if hi_c:
        parts.append(f"{hi_c} of {n_c} controls trimmed (score >= {trim_level:g}, weight set to 0)")
    parts.append(f"largest control weight {share:.0%} of the total over {n_c} controls")
    culprit = ""
    if X is not None and X.shape[1] > 1:
        name, _ = _culprit(X, D, names, beta)
        culprit = f"; covariate driving the score: {name!r}"
    return f"{where}: " + "; ".join(parts) + culprit


def ipt_pscore(X, D, w, tol=1e-12, max_iter=200, *, where: str = "", names=None):
    """Propensity score by inverse probability tilting (Graham, Pinto & Egel 2012).

    Minimises the strictly convex loss
    :math:`-\\bar{w}[D x'\\gamma - (1-D)\\exp(x'\\gamma)]`, whose first-order
    condition makes the odds-weighted controls reproduce the treated
    covariate totals exactly. Newton's method with step halving, started
    from the logit fit (as ``DRDID::pscore.cal``); the minimiser is unique,
    so the start only affects speed.
    """
    _, _, gamma = logit(X, D, w, where=where, names=names)
    ctrl = D == 0

    def loss(g):
        idx = X @ g
        with np.errstate(over="ignore"):
            return -np.mean(w * np.where(D == 1, idx, -np.exp(np.where(ctrl, idx, 0.0))))

    cur = loss(gamma)
    for _ in range(max_iter):
        with np.errstate(over="ignore"):
            e = np.where(ctrl, np.exp(X @ gamma), 0.0)
        grad = -((w * (D - e)) @ X) / len(D)
        hess = (X * (w * e)[:, None]).T @ X / len(D)
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError as err:
            name, why = _culprit(X, D, names, gamma)
            raise EstimationError(
                f"{where}: the inverse-probability-tilting propensity score (method='dr_imp') "
                f"has a singular Hessian; covariate {name!r} ({why}) leaves the controls "
                "without overlap. Drop or coarsen it, or use method='reg'.") from err
        t = 1.0
        while True:
            new = gamma - t * step
            val = loss(new)
            if val <= cur + 1e-14 * abs(cur) or t < 1e-10:
                break
            t /= 2
        gamma, done = new, np.max(np.abs(t * step)) < tol * (1 + np.max(np.abs(new)))
        cur = val
        if done:
            break
    return _sigmoid(X @ gamma)


def att_panel(dy, D, X, w, method: str, trim_level: float = 0.995):
    """ATT and influence function of one 2x2 panel comparison.

    Parameters
    ----------
    dy : numpy.ndarray
        Outcome change :math:`Y_t - Y_b` per unit.
    D : numpy.ndarray
        1 for the treated cohort, 0 for controls.
    X : numpy.ndarray
        Covariates at the base period, with a leading column of ones.
    w : numpy.ndarray
        Sampling weights.
    method : {"reg", "ipw", "dr", "dr_imp"}
    trim_level : float
        Controls with a propensity score above this are given zero weight
        (ipw, dr), as ``DRDID``.

    Returns
    -------
    att : float
    inf : numpy.ndarray
        Influence function, ``var(att) = mean(inf**2) / len(dy)``.
    """
    n = len(dy)
    w = w / w.mean()
    if method == "reg":
        ctrl = D == 0
        beta, _ = wls(X[ctrl], dy[ctrl], w[ctrl])
        out = X @ beta
        w_t = w * D
        eta_t = np.mean(w_t * dy) / np.mean(w_t)
        eta_c = np.mean(w_t * out) / np.mean(w_t)
        w_ols = w * (1 - D)
        xpx_inv = np.linalg.inv((X * w_ols[:, None]).T @ X / n)
        lin_ols = ((w_ols * (dy - out))[:, None] * X) @ xpx_inv
        inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
        m1 = np.mean(w_t[:, None] * X, axis=0)
        inf_c = (w_t * out - w_t * eta_c + lin_ols @ m1) / np.mean(w_t)
        return eta_t - eta_c, inf_t - inf_c
    if method == "ipw":
        ps, hinv, _ = logit(X, D, w)
        ps = np.minimum(ps, _PS_MAX)
        trim = np.where(D == 0, ps < trim_level, True)
        w_t = trim * w * D
        w_c = trim * w * ps * (1 - D) / (1 - ps)
        eta_t = np.mean(w_t * dy) / np.mean(w_t)
        eta_c = np.mean(w_c * dy) / np.mean(w_c)
        lin_ps = ((w * (D - ps))[:, None] * X) @ (hinv * n)
        m2 = np.mean((w_c * (dy - eta_c))[:, None] * X, axis=0)
        inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
        inf_c = (w_c * dy - w_c * eta_c + lin_ps @ m2) / np.mean(w_c)
        return eta_t - eta_c, inf_t - inf_c
    if method == "dr":
        ps, hinv, _ = logit(X, D, w)
        ps = np.minimum(ps, _PS_MAX)
        trim = np.where(D == 0, ps < trim_level, True)
        ctrl = D == 0
        beta, _ = wls(X[ctrl], dy[ctrl], w[ctrl])
        resid = dy - X @ beta
        w_t = trim * w * D
        w_c = trim * w * ps * (1 - D) / (1 - ps)
        eta_t = np.mean(w_t * resid) / np.mean(w_t)
        eta_c = np.mean(w_c * resid) / np.mean(w_c)
        w_ols = w * (1 - D)
        xpx_inv = np.linalg.inv((X * w_ols[:, None]).T @ X / n)
        lin_ols = ((w_ols * resid)[:, None] * X) @ xpx_inv
        lin_ps = ((w * (D - ps))[:, None] * X) @ (hinv * n)
        inf_t = (w_t * resid - w_t * eta_t - lin_ols @ np.mean(w_t[:, None] * X, axis=0)) / np.mean(w_t)
        m2 = np.mean((w_c * (resid - eta_c))[:, None] * X, axis=0)
        m3 = np.mean(w_c[:, None] * X, axis=0)
        inf_c = (w_c * resid - w_c * eta_c + lin_ps @ m2 - lin_ols @ m3) / np.mean(w_c)
        return eta_t - eta_c, inf_t - inf_c
    if method == "dr_imp":
        ps = np.minimum(ipt_pscore(X, D, w), _PS_MAX)
        trim = np.where(D == 0, ps < trim_level, True)
        ctrl = D == 0
        odds = ps / (1 - ps)
        beta, _ = wls(X[ctrl], dy[ctrl], (w * odds)[ctrl])
        resid = dy - X @ beta
        w_t = trim * w * D
        w_c = trim * w * odds * (1 - D)
        eta_t = np.mean(w_t * resid) / np.mean(w_t)
        eta_c = np.mean(w_c * resid) / np.mean(w_c)
        inf = (w_t * resid - w_t * eta_t) / np.mean(w_t) - (w_c * resid - w_c * eta_c) / np.mean(w_c)
        return eta_t - eta_c, inf
    require_option(method, "method", ("dr", "dr_imp", "ipw", "reg"))


def _xb(X, B):
    """``X @ B`` for a tall ``X`` with few columns.

    A BLAS product with an inner dimension of 2 or 3 is dominated by thread
    start-up (and crawls on a busy machine); p fused multiply-adds are not.
    """
    if X.shape[1] > 8:
        return X @ B
    out = X[:, :1] * B[0]
    for j in range(1, X.shape[1]):
        out += X[:, j:j + 1] * B[j]
    return out


def _xtm(X, M):
    """``X.T @ M`` for a tall ``X`` with few columns (see :func:`_xb`)."""
    if X.shape[1] > 8:
        return X.T @ M
    return np.stack([np.einsum("i,ik->k", X[:, j], M) for j in range(X.shape[1])])


def att_panel_batch(DY, D, X, w, method: str, trim_level: float = 0.995, *, where: str = "",
                    names=None, notes: list | None = None):
    """:func:`att_panel` for several outcome changes sharing rows, groups and covariates.

    The propensity score and the regression design depend only on ``(D, X,
    w)``, so they are fitted once and every column of ``DY`` (one per
    ATT(g,t) with the same cohort, controls and base-period covariates) is
    handled with matrix products. Returns ``att`` (``m``) and ``inf``
    (``n x m``), column by column identical to :func:`att_panel`.

    ``where`` (the cohort / cell) and ``names`` (the covariates) go into the
    errors of the propensity score; an overlap diagnostic
    (:func:`overlap_note`) is appended to ``notes`` when overlap is poor.
    """
    n = DY.shape[0]
    w = w / w.mean()
    ctrl = D == 0
    w_ols = w * (1 - D)
    if method == "reg":
        xpx_inv = np.linalg.inv((X * w_ols[:, None]).T @ X / n)
        beta = xpx_inv @ _xtm(X[ctrl] * w[ctrl][:, None], DY[ctrl]) / n
        out = _xb(X, beta)
        w_t = w * D
        sw = w_t.sum()
        eta_t = (w_t @ DY) / sw
        eta_c = (w_t @ out) / sw
        h1 = X @ (xpx_inv @ (X.T @ w_t / n))
        inf_t = w_t[:, None] * (DY - eta_t)
        inf_c = w_t[:, None] * (out - eta_c) + (w_ols * h1)[:, None] * (DY - out)
        return eta_t - eta_c, (inf_t - inf_c) / (sw / n)
    if method in ("ipw", "dr"):
        ps, hinv, gamma = logit(X, D, w, where=where, names=names)
        ps = np.minimum(ps, _PS_MAX)
        if notes is not None:
            note = overlap_note(ps, D, w, trim_level, where=where, names=names, X=X, beta=gamma)
            if note:
                notes.append(note)
        trim = np.where(ctrl, ps < trim_level, True)
        w_t = trim * w * D
        w_c = trim * w * ps * (1 - D) / (1 - ps)
        lin_ps = _xb((w * (D - ps))[:, None] * X, hinv * n)
        if method == "ipw":
            R = DY
        else:
            xpx_inv = np.linalg.inv((X * w_ols[:, None]).T @ X / n)
            beta = xpx_inv @ _xtm(X[ctrl] * w[ctrl][:, None], DY[ctrl]) / n
            R = _xb(X, -beta)           # = -(X beta) exactly, so R below is DY - X beta bit for bit
            R += DY
        swt, swc = w_t.sum(), w_c.sum()
        eta_t = (w_t @ R) / swt
        eta_c = (w_c @ R) / swc
        m2 = (_xtm(X * w_c[:, None], R) - np.outer(X.T @ w_c, eta_c)) / n
        # The influence of every column is a_i R_ij + G_i . H_j (the algebra of
        # inf_t / (swt/n) - inf_c / (swc/n) in att_panel): one n x m array, no
        # further n x m temporaries.
        a = w_t * (n / swt) - w_c * (n / swc)
        if method == "dr":
            h1 = X @ (xpx_inv @ (X.T @ w_t / n))
            h3 = X @ (xpx_inv @ (X.T @ w_c / n))
            a -= w_ols * (h1 * (n / swt) - h3 * (n / swc))
        G = np.column_stack([w_t, w_c, lin_ps])
        H = np.vstack([-eta_t * (n / swt), eta_c * (n / swc), -m2 * (n / swc)])
        if R is DY:
            inf = DY * a[:, None]
        else:
            inf = R
            inf *= a[:, None]
        tall_matmul(G, H, out=inf)
        return eta_t - eta_c, inf
    if method == "dr_imp":
        ps = np.minimum(ipt_pscore(X, D, w, where=where, names=names), _PS_MAX)
        if notes is not None:
            note = overlap_note(ps, D, w, trim_level, where=where, names=names, X=X)
            if note:
                notes.append(note)
        trim = np.where(ctrl, ps < trim_level, True)
        odds = ps / (1 - ps)
        wo = (w * odds)[ctrl]
        beta = np.linalg.solve((X[ctrl] * wo[:, None]).T @ X[ctrl], _xtm(X[ctrl] * wo[:, None], DY[ctrl]))
        R = DY - _xb(X, beta)
        w_t = trim * w * D
        w_c = trim * w * odds * (1 - D)
        swt, swc = w_t.sum(), w_c.sum()
        eta_t = (w_t @ R) / swt
        eta_c = (w_c @ R) / swc
        inf = w_t[:, None] * (R - eta_t) / (swt / n) - w_c[:, None] * (R - eta_c) / (swc / n)
        return eta_t - eta_c, inf
    require_option(method, "method", ("dr", "dr_imp", "ipw", "reg"))


def _ols_rep(X, y, wsel, n):
    """OLS fit on the rows with weight ``wsel > 0`` and its asymptotic linear representation."""
    xpx_inv = np.linalg.inv((X * wsel[:, None]).T @ X / n)
    beta = xpx_inv @ ((X * wsel[:, None]).T @ y) / n
    fitted = X @ beta
    return fitted, ((wsel * (y - fitted))[:, None] * X) @ xpx_inv


def att_rc(y, post, D, X, w, method: str, trim_level: float = 0.995, *, where: str = "",
           names=None, notes: list | None = None):
    """ATT and influence function of one 2x2 comparison with repeated cross-sections.

    The repeated cross-section estimators of Sant'Anna & Zhao (2020):
    ``reg_did_rc`` (outcome regressions for the controls in each period),
    ``std_ipw_did_rc`` (normalised IPW) and ``drdid_rc`` (the locally
    efficient doubly robust estimator, with outcome regressions for both
    groups in both periods), as R ``did`` uses them with ``panel=FALSE``.

    Parameters
    ----------
    y : numpy.ndarray
        Outcome of each observation.
    post : numpy.ndarray
        1 for observations in period ``t``, 0 for the base period.
    D, X, w, method, trim_level
        As :func:`att_panel`.
    """
    n = len(y)
    w = w / w.mean()
    pre = 1 - post
    if method == "reg":
        out_pre, rep_pre = _ols_rep(X, y, w * (1 - D) * pre, n)
        out_post, rep_post = _ols_rep(X, y, w * (1 - D) * post, n)
        w_tpre, w_tpost, w_c = w * D * pre, w * D * post, w * D
        eta_tpre = np.mean(w_tpre * y) / np.mean(w_tpre)
        eta_tpost = np.mean(w_tpost * y) / np.mean(w_tpost)
        eta_c = np.mean(w_c * (out_post - out_pre)) / np.mean(w_c)
        inf_t = ((w_tpost * y - w_tpost * eta_tpost) / np.mean(w_tpost)
                 - (w_tpre * y - w_tpre * eta_tpre) / np.mean(w_tpre))
        m1 = np.mean(w_c[:, None] * X, axis=0)
        inf_c = (w_c * (out_post - out_pre) - w_c * eta_c + rep_post @ m1 - rep_pre @ m1) / np.mean(w_c)
        return (eta_tpost - eta_tpre) - eta_c, inf_t - inf_c
    ps, hinv, gamma = logit(X, D, w, where=where, names=names)
    ps = np.minimum(ps, _PS_MAX)
    if notes is not None:
        note = overlap_note(ps, D, w, trim_level, where=where, names=names, X=X, beta=gamma)
        if note:
            notes.append(note)
    trim = np.where(D == 0, ps < trim_level, True)
    lin_ps = ((w * (D - ps))[:, None] * X) @ (hinv * n)
    odds = ps / (1 - ps)
    w_tpre, w_tpost = trim * w * D * pre, trim * w * D * post
    w_cpre, w_cpost = trim * w * odds * (1 - D) * pre, trim * w * odds * (1 - D) * post
    if method == "ipw":
        etas = [np.mean(v * y) / np.mean(v) for v in (w_tpre, w_tpost, w_cpre, w_cpost)]
        infs = [(v * y - v * e) / np.mean(v) for v, e in zip((w_tpre, w_tpost, w_cpre, w_cpost), etas)]
        m2_pre = np.mean((w_cpre * (y - etas[2]))[:, None] * X, axis=0) / np.mean(w_cpre)
        m2_post = np.mean((w_cpost * (y - etas[3]))[:, None] * X, axis=0) / np.mean(w_cpost)
        inf_c = infs[3] - infs[2] + lin_ps @ (m2_post - m2_pre)
        att = (etas[1] - etas[0]) - (etas[3] - etas[2])
        return att, (infs[1] - infs[0]) - inf_c
    if method != "dr":
        require_option(method, "method", ("dr", "ipw", "reg"))
    c_pre, rep_c_pre = _ols_rep(X, y, w * (1 - D) * pre, n)
    c_post, rep_c_post = _ols_rep(X, y, w * (1 - D) * post, n)
    t_pre, rep_t_pre = _ols_rep(X, y, w * D * pre, n)
    t_post, rep_t_post = _ols_rep(X, y, w * D * post, n)
    c_y = post * c_post + pre * c_pre
    w_d, w_dt1, w_dt0 = trim * w * D, trim * w * D * post, trim * w * D * pre

    def part(v, z):
        """Normalised mean and its leading influence term."""
        a = np.mean(v * z) / np.mean(v)
        return a, (v * z - v * a) / np.mean(v)

    a_tpre, i_tpre = part(w_tpre, y - c_y)
    a_tpost, i_tpost = part(w_tpost, y - c_y)
    a_cpre, i_cpre = part(w_cpre, y - c_y)
    a_cpost, i_cpost = part(w_cpost, y - c_y)
    a_dpost, i_dpost = part(w_d, t_post - c_post)
    a_dt1, i_dt1 = part(w_dt1, t_post - c_post)
    a_dpre, i_dpre = part(w_d, t_pre - c_pre)
    a_dt0, i_dt0 = part(w_dt0, t_pre - c_pre)
    att = (a_tpost - a_tpre) - (a_cpost - a_cpre) + (a_dpost - a_dt1) - (a_dpre - a_dt0)
    m1_post = -np.mean((w_tpost * post)[:, None] * X, axis=0) / np.mean(w_tpost)
    m1_pre = -np.mean((w_tpre * pre)[:, None] * X, axis=0) / np.mean(w_tpre)
    inf_treat = i_tpost - i_tpre + rep_c_post @ m1_post + rep_c_pre @ m1_pre
    m2_pre = np.mean((w_cpre * (y - c_y - a_cpre))[:, None] * X, axis=0) / np.mean(w_cpre)
    m2_post = np.mean((w_cpost * (y - c_y - a_cpost))[:, None] * X, axis=0) / np.mean(w_cpost)
    m3_post = -np.mean((w_cpost * post)[:, None] * X, axis=0) / np.mean(w_cpost)
    m3_pre = -np.mean((w_cpre * pre)[:, None] * X, axis=0) / np.mean(w_cpre)
    inf_cont = (i_cpost - i_cpre + lin_ps @ (m2_post - m2_pre)
                + rep_c_post @ m3_post + rep_c_pre @ m3_pre)
    inf_eff = (i_dpost - i_dt1) - (i_dpre - i_dt0)
    mom_post = np.mean((w_d / np.mean(w_d) - w_dt1 / np.mean(w_dt1))[:, None] * X, axis=0)
    mom_pre = np.mean((w_d / np.mean(w_d) - w_dt0 / np.mean(w_dt0))[:, None] * X, axis=0)
    inf_or = (rep_t_post - rep_c_post) @ mom_post - (rep_t_pre - rep_c_pre) @ mom_pre
    return att, inf_treat - inf_cont + inf_eff + inf_or
