"""Imputation difference-in-differences (Borusyak, Jaravel & Spiess 2024).

Fit unit and period fixed effects (plus covariates) on the untreated
observations only, impute the untreated potential outcome of every treated
observation, and average the imputed effects over the target (all treated
observations, or each event time). Standard errors follow BJS Theorem 3
with the cohort × event-time averaging of didimputation; the pre-trend test
is BJS Test 1.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import linalg, sparse, stats

from policyeval._deprecation import renamed_arguments
from policyeval._validation import check_clusters, column_list, examples, varies_within
from policyeval.estimators._did_inputs import StaggeredPanel, prepare_panel
from policyeval.exceptions import ArgumentTypeError, EstimationError, EstimationWarning
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.results.base import check_level, check_untreated_control
from policyeval.results.provenance import records_provenance
from policyeval.results.regression import ImputationResult

__all__ = ["ImputationDiD", "ImputationResult"]


# --------------------------------------------------------------------------
# Weighted least squares with unit and period fixed effects
# --------------------------------------------------------------------------
class _TwoWayLS:
    """Normal equations of ``y ~ unit FE + period FE + X`` with weights.

    The unit block is diagonal, so it is eliminated exactly (Schur
    complement): only a (T - 1 + K)-square system is factorised, whatever
    the number of units. The same factorisation solves any right-hand side
    ``Z'a``, which gives both the coefficients and BJS's weights
    ``v = -W Z (Z'WZ)^{-1} Z_1' w_1``.
    """

    def __init__(self, u, s, X, w, n_units, n_periods, names):
        self.N, self.T, self.K = n_units, n_periods, X.shape[1]
        self.u, self.s, self.X, self.w = u, s, X, w
        self.names = names  # names of the non-unit columns (period dummies, X)
        N, T = n_units, n_periods
        self.A = np.bincount(u, w, N)
        Bt = np.bincount(u * T + s, w, N * T).reshape(N, T)[:, 1:]
        Bx = np.column_stack([np.bincount(u, w * X[:, k], N) for k in range(self.K)]) if self.K else np.empty((N, 0))
        self.B = np.hstack([Bt, Bx])
        Ctt = np.diag(np.bincount(s, w, T)[1:])
        Ctx = (np.column_stack([np.bincount(s, w * X[:, k], T)[1:] for k in range(self.K)])
               if self.K else np.empty((T - 1, 0)))
        Cxx = X.T @ (w[:, None] * X)
        C = np.block([[Ctt, Ctx], [Ctx.T, Cxx]])
        S = C - self.B.T @ (self.B / self.A[:, None])
        self.S = (S + S.T) / 2
        self._check_rank()
        self._chol = linalg.cho_factor(self.S) if self.S.size else None

    def _check_rank(self) -> None:
        if not self.S.size:
            return
        d = np.sqrt(np.clip(np.diag(self.S), 0, None))
        dead = d <= 1e-12 * max(1.0, d.max(initial=0.0))
        if dead.any():
            names = [self.names[i] for i in np.flatnonzero(dead)]
            raise EstimationError(
                f"no variation left in {', '.join(names)} after removing unit fixed effects on the untreated "
                "observations; drop these covariates (or periods)"
            )
        Sn = self.S / np.outer(d, d)
        vals, vecs = np.linalg.eigh(Sn)
        if vals[0] < 1e-10:
            load = np.abs(vecs[:, 0])
            names = [self.names[i] for i in np.flatnonzero(load > 0.05)]
            raise EstimationError(
                "the first-stage model on the untreated observations is not identified: "
                f"{', '.join(names)} are collinear with each other or with the fixed effects; "
                "drop one of the covariates or check that untreated units connect all periods"
            )

    def rhs(self, u, s, X, W):
        """``Z'W`` for rows (u, s, X) and weight columns ``W`` (n × H)."""
        N, T = self.N, self.T
        aD = np.column_stack([np.bincount(u, W[:, h], N) for h in range(W.shape[1])])
        at = np.column_stack([np.bincount(s, W[:, h], T)[1:] for h in range(W.shape[1])])
        return aD, np.vstack([at, X.T @ W])

    def solve(self, aD, aR):
        if self._chol is None:
            bR = np.zeros((0, aD.shape[1]))
        else:
            bR = linalg.cho_solve(self._chol, aR - self.B.T @ (aD / self.A[:, None]))
        bD = (aD - self.B @ bR) / self.A[:, None]
        return bD, bR

    def fitted(self, bD, bR, u, s, X):
        """``Z b`` on rows (u, s, X); ``b`` may have several columns."""
        bt = np.vstack([np.zeros((1, bR.shape[1])), bR[: self.T - 1]])
        return bD[u] + bt[s] + X @ bR[self.T - 1:]

    def fit(self, y):
        aD, aR = self.rhs(self.u, self.s, self.X, (self.w * y)[:, None])
        bD, bR = self.solve(aD, aR)
        resid = y - self.fitted(bD, bR, self.u, self.s, self.X)[:, 0]
        return bD[:, 0], bR[:, 0], resid

    def within_regressors(self):
        """Non-unit regressors minus their weighted unit means (FWL)."""
        T = self.T
        R = np.zeros((len(self.u), T - 1 + self.K))
        rows = np.flatnonzero(self.s > 0)
        R[rows, self.s[rows] - 1] = 1.0
        R[:, T - 1:] = self.X
        return R - (self.B / self.A[:, None])[self.u]


def _cluster_sums(codes, M, n):
    M = np.asarray(M).reshape(len(codes), -1)
    return np.column_stack([np.bincount(codes, M[:, j], n) for j in range(M.shape[1])])


# --------------------------------------------------------------------------
# Estimator
# --------------------------------------------------------------------------
class ImputationDiD:
    r"""Imputation estimator of Borusyak, Jaravel & Spiess (2024).

    Parameters
    ----------
    control_group : {"not_yet_treated"}
        The comparison observations: every untreated observation, of
        never-treated units and of not-yet-treated ones (the only choice of
        this estimator: its first stage uses all of them; the argument is
        here so that every staggered estimator takes ``control_group`` first,
        with Callaway-Sant'Anna's values).
    horizons : None, True, or iterable of int
        ``None`` reports the overall average effect (term ``"ATT"``; called
        ``"overall"`` before 0.2, a name that still works for one release);
        an iterable reports one average per event time :math:`e = t - g`;
        ``True`` uses every event time with a treated observation
        (``e >= -anticipation``).
    pretrends : None, int or iterable of negative int
        Leads for BJS Test 1. An int ``K`` uses leads ``-1, ..., -K``
        (shifted by ``anticipation``); the lead coefficients are added to
        ``params`` and the joint test is ``result.pretrend_test``.
    cluster : str, optional
        Column to cluster on; default the unit id. Clusters should hold whole
        units (a warning is issued when one unit spans several clusters).
    anticipation : int
        Number of periods before ``g`` in which units may already react.
        Those observations leave the untreated sample; their imputed effects
        are reported as event times ``-anticipation, ..., -1`` when asked
        for, and stay out of the overall average.
    pretrend_vcov : {"cluster", "iid"}
        Covariance of the lead coefficients in the pre-trend test:
        cluster-robust (default, as BJS recommend) or classical OLS
        ``"iid"`` (what R didimputation's README prints, via fixest).
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Notes
    -----
    Let :math:`\Omega_0` be the untreated observations (never treated, and
    not-yet-treated with :math:`t < g - \delta`) and :math:`\Omega_1` the
    treated ones. The first stage fits, by (weighted) least squares on
    :math:`\Omega_0`,

    .. math:: Y_{it} = \alpha_i + \beta_t + X_{it}'\gamma + \varepsilon_{it},

    and imputes :math:`\hat Y_{it}(0) = \hat\alpha_i + \hat\beta_t +
    X_{it}'\hat\gamma` on :math:`\Omega_1`, giving
    :math:`\hat\tau_{it} = Y_{it} - \hat Y_{it}(0)`. A target with weights
    :math:`w_{it}` (summing to one over :math:`\Omega_1`; proportional to the
    sampling weights within the target) is estimated by
    :math:`\hat\tau_w = \sum_{\Omega_1} w_{it}\hat\tau_{it}`. It is linear
    in :math:`Y`: :math:`\hat\tau_w = \sum_{it} v_{it} Y_{it}` with
    :math:`v_{it} = w_{it}` on :math:`\Omega_1` and
    :math:`v_0 = -W_0 Z_0 (Z_0'W_0Z_0)^{-1} Z_1' w_1` on :math:`\Omega_0`.
    Without covariates and weights this is the efficient estimator of BJS
    (Theorem 2) under homoskedastic, serially uncorrelated errors.

    The variance is BJS Theorem 3's conservative clustered estimator

    .. math:: \hat V = \sum_c \Big(\sum_{it \in c} v_{it}\tilde\varepsilon_{it}\Big)^2,

    with :math:`\tilde\varepsilon_{it}` the first-stage residual on
    :math:`\Omega_0` and :math:`\hat\tau_{it} - \bar\tau_{g,e}` on
    :math:`\Omega_1`, where :math:`\bar\tau_{g,e} = \sum v^2\hat\tau /
    \sum v^2` over the treated observations of cohort :math:`g` at event
    time :math:`e` (as in R didimputation; BJS's leave-one-out refinement is
    not applied). Confidence intervals use the normal distribution.

    On a balanced panel without covariates or weights (clusters holding
    whole units) the same numbers come from cohort × period cell means: the
    period effects solve a :math:`T`-dimensional system, a unit's effect is
    its untreated mean net of the mean period effect over its untreated
    periods, and :math:`v_{it}` is constant within a cohort × period cell,
    so the fit makes a few passes over the outcomes and no regression over
    the rows.

    BJS Test 1 regresses :math:`Y` on the fixed effects, the covariates and
    lead dummies :math:`1[t - g = k]` on :math:`\Omega_0`; lead coefficients
    get a cluster-robust covariance with the small-sample factor
    :math:`\frac{G}{G-1}\frac{n-1}{n-p}` (``p`` counting the period
    effects, covariates and leads: the unit effects are nested in the unit
    clusters, fixest's ``fixef.K = "nested"``). The joint Wald statistic
    :math:`\hat b'\hat V^{-1}\hat b` is referred to :math:`\chi^2_K` and
    :math:`F(K, G-1)` (as Stata's ``test`` after clustered ``reghdfe``).
    With ``pretrend_vcov="iid"`` the covariance is
    :math:`s^2 (\tilde R'W\tilde R)^{-1}` with :math:`s^2` the weighted
    residual sum of squares over ``n`` minus all parameters, unit effects
    included.

    References
    ----------
    Borusyak, K., Jaravel, X. and Spiess, J. (2024). Revisiting event-study
    designs: robust and efficient estimation. Review of Economic Studies
    91(6), 3253-3285.

    Butts, K. didimputation (R package), https://github.com/kylebutts/didimputation

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame([(i, t) for i in range(60) for t in range(2000, 2010)],
    ...                   columns=["unit", "year"])
    >>> df["g"] = df["unit"].map(lambda i: [0, 2004, 2007][i % 3])
    >>> df["y"] = (df["unit"] % 7 + 0.1 * (df["year"] - 2000) + rng.normal(0, 0.2, len(df))
    ...            + 2.0 * ((df["g"] > 0) & (df["year"] >= df["g"])))
    >>> res = pe.ImputationDiD().fit(df, yname="y", tname="year", idname="unit", gname="g")
    >>> round(float(res.params["ATT"]), 1)
    2.0
    """

    def __init__(self, control_group: str = "not_yet_treated",
                 horizons: bool | Iterable[int] | None = None,
                 pretrends: int | Iterable[int] | None = None, *,
                 cluster: str | None = None, anticipation: int = 0,
                 pretrend_vcov: str = "cluster", level: float = 0.95) -> None:
        self.control_group = check_untreated_control(control_group, "ImputationDiD")
        self.level = check_level(level)
        self.horizons = horizons
        self.pretrends = pretrends
        self.cluster = cluster
        self.anticipation = anticipation
        self.pretrend_vcov = pretrend_vcov

    # ---------------------------------------------------------------
    def _check_options(self):
        if self.pretrend_vcov not in ("cluster", "iid"):
            raise ArgumentTypeError(f"pretrend_vcov={self.pretrend_vcov!r} must be 'cluster' or 'iid'")
        delta = self.anticipation
        if isinstance(delta, bool) or not isinstance(delta, (int, np.integer)) or delta < 0:
            raise ArgumentTypeError(f"anticipation={delta!r} must be a non-negative integer")
        hz = self.horizons
        if hz is None or hz is True:
            horizons = hz
        elif hz is False or isinstance(hz, (str, bytes)):
            raise ArgumentTypeError(f"horizons={hz!r} must be None, True or an iterable of ints")
        else:
            try:
                horizons = [int(h) for h in (hz if isinstance(hz, Iterable) else [hz])]
            except (TypeError, ValueError):
                raise ArgumentTypeError(f"horizons={hz!r} must be None, True or an iterable of ints") from None
            if not horizons:
                raise ArgumentTypeError("horizons is empty")
            horizons = sorted(set(horizons))
            if horizons[0] < -delta:
                raise EstimationError(
                    f"horizons={horizons} asks for event time {horizons[0]} < -anticipation={-delta}: "
                    "those observations are untreated and used to fit the model; test them with pretrends"
                )
        pt = self.pretrends
        if pt is None:
            leads = None
        elif isinstance(pt, (bool, np.bool_)):
            raise ArgumentTypeError(f"pretrends={pt!r} must be None, a positive int or negative ints")
        elif isinstance(pt, (int, np.integer)):
            if pt < 1:
                raise ArgumentTypeError(f"pretrends={pt!r} must be a positive number of leads")
            leads = [-delta - k for k in range(int(pt), 0, -1)]
        else:
            leads = sorted({int(k) for k in pt})
            if not leads or leads[-1] >= -delta:
                raise ArgumentTypeError(
                    f"pretrends={pt!r} must list event times below -anticipation={-delta} (e.g. -3, -2, -1)"
                )
        return delta, horizons, leads

    @renamed_arguments(df="data")
    @records_provenance
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str | None = None,
            covariates: Sequence[str] | str | None = None, weights: str | None = None,
            dname: str | None = None) -> ImputationResult:
        """Estimate average treatment effects by imputation.

        Parameters
        ----------
        data : pandas.DataFrame
            Long panel (balanced or not), one row per unit and period.
        yname, tname, idname : str
            Outcome, integer period and unit id columns.
        gname : str
            First treated period per unit; 0, missing or ``inf`` for never
            treated (R ``did`` convention).
        covariates : list of str, optional
            Time-varying covariates of the untreated-outcome model.
        weights : str, optional
            Sampling weights: used in the first stage and to weight the
            treated observations within each target.
        dname : str, optional
            Instead of ``gname``: an absorbing 0/1 treatment indicator.

        Returns
        -------
        ImputationResult

        Raises
        ------
        ColumnNotFoundError, TreatmentTimingError, DuplicateObservationError
            Bad columns, timing varying within a unit or switching off,
            duplicated unit-periods.
        EstimationError
            A targeted treated observation cannot be imputed (its unit or
            period has no untreated observation), a requested horizon or
            lead has no observation, or covariates are collinear.
        """
        df = data
        delta, horizons, leads = self._check_options()
        panel = prepare_panel(df, yname=yname, tname=tname, idname=idname, gname=gname, dname=dname,
                              covariates=covariates, weights=weights, cluster=self.cluster)
        check_clusters(panel.n_clusters, self.cluster if self.cluster is not None
                       else f"cluster=idname={idname!r} (the default)", estimator="ImputationDiD")
        # one row per unit (the panel is sorted by unit): the same counts without a pass over every row
        first = np.flatnonzero(np.r_[True, panel.unit_code[1:] != panel.unit_code[:-1]])
        warn_few_treated(panel.unit_code[first], panel.g[first], estimator="ImputationDiD",
                         last_period=panel.t.max(),
                         argument=f"gname={gname!r}" if gname is not None else f"dname={dname!r}")
        if self.cluster is not None:
            same_unit = np.diff(panel.unit_code) == 0
            split = same_unit & (np.diff(panel.cluster_code) != 0)
            if split.any():
                ids = panel.unit_labels[panel.unit_code[1:][split]]
                warnings.warn(varies_within(
                    "cluster", self.cluster, idname, ids,
                    "BJS standard errors assume every unit lies in one cluster, so they ignore "
                    "correlation within those units"), EstimationWarning, stacklevel=2)
        covs = column_list(covariates, "covariates")
        spec = dict(yname=yname, tname=tname, idname=idname, gname=gname, dname=dname, covariates=covs,
                    weights=weights, cluster=self.cluster or idname, horizons=horizons,
                    pretrends=leads, anticipation=delta, pretrend_vcov=self.pretrend_vcov,
                    level=check_level(self.level),
                    control_group=check_untreated_control(self.control_group, "ImputationDiD"))
        return _estimate(panel, spec, delta, horizons, leads)


def _estimate(panel: StaggeredPanel, spec, delta, horizons, leads) -> ImputationResult:
    parts = _balanced_parts(panel, spec, delta, horizons) if _USE_BALANCED_PATH else None
    if parts is None:
        parts = _general_parts(panel, spec, delta, horizons)
    pretrend = None
    if leads is not None:
        pretrend = _pretrend_test(panel, spec, *parts.pop("pretrend_inputs")(), leads,
                                  parts["names_R"], spec["pretrend_vcov"])
    return _assemble(panel, spec, parts, leads, pretrend)


# switched off by the tests that compare the balanced path with the general one
_USE_BALANCED_PATH = True


def _target_names(horizons, avail):
    """Resolved horizons and the term names; ``None`` horizons when some are missing."""
    if horizons is True:
        horizons = list(avail)
    names: list[Any] = ["ATT"]
    if horizons is not None:
        missing = [h for h in horizons if h not in avail]
        if missing:
            raise EstimationError(
                f"horizons {missing} have no treated observation; available event times: "
                f"{avail[0]}..{avail[-1]}"
            )
        names += list(horizons)
    return horizons, names


def _general_parts(panel: StaggeredPanel, spec, delta, horizons) -> dict:
    """Every design: the first stage and BJS's weights from row-level sums."""
    idname, tname = spec["idname"], spec["tname"]
    e = panel.t - panel.g  # nan for never treated
    treated = np.isfinite(e) & (e >= -delta)
    untreated = ~treated
    if not untreated.any():
        raise EstimationError("no untreated observation: every unit is treated in every period")
    if not treated.any():
        raise EstimationError(f"no treated observation: gname is never reached within {tname!r}")

    # --- targets: for each reported term, treated rows and their weights --
    t1_all = np.flatnonzero(treated)
    e1_all = e[t1_all]
    horizons, names = _target_names(horizons, sorted(int(h) for h in np.unique(e1_all)))
    selections = [e1_all >= 0]
    if horizons is not None:
        selections += [e1_all == h for h in horizons]
    targeted = np.logical_or.reduce(selections)

    # --- encode the untreated sample --------------------------------------
    # zero-weight rows carry no information on the fixed effects (and get v = 0)
    fit0 = untreated & (panel.w > 0)
    u_all, t_all = panel.unit_code, panel.t
    units0 = np.unique(u_all[fit0])
    periods0 = np.unique(t_all[fit0])
    u_map = np.full(panel.n_units, -1)
    u_map[units0] = np.arange(len(units0))
    p_idx = np.searchsorted(periods0, t_all)
    p_ok = (p_idx < len(periods0)) & (periods0[np.minimum(p_idx, len(periods0) - 1)] == t_all)
    s_all = np.where(p_ok, p_idx, -1)
    uc = u_map[u_all]

    bad_unit = uc[t1_all] < 0
    bad_period = s_all[t1_all] < 0
    if (targeted & bad_unit).any():
        ids = panel.unit_labels[u_all[t1_all][targeted & bad_unit]]
        n_ids = len(pd.unique(ids))
        raise EstimationError(
            f"cannot impute Y(0): {n_ids} units (e.g. {examples(ids)}) of idname={idname!r} have no untreated "
            "observation (treated in every period observed), so their unit effect is not identified; "
            "drop these units or choose horizons that exclude them"
        )
    if (targeted & bad_period).any():
        per = np.unique(t_all[t1_all][targeted & bad_period])
        raise EstimationError(
            f"cannot impute Y(0): {len(per)} periods (e.g. {examples(per.tolist(), 5)}) of tname={tname!r} have no "
            "untreated observation (every unit observed then is already treated), so their period "
            "effect is not identified; restrict the sample to earlier periods or choose horizons "
            "that exclude them"
        )
    # treated rows outside every target and not imputable play no role
    keep1 = ~(bad_unit | bad_period)
    t1_idx, e1 = t1_all[keep1], e1_all[keep1]
    remap = np.cumsum(keep1) - 1
    targets = []
    for name, sel in zip(names, selections):
        rows = remap[np.flatnonzero(sel)]  # every targeted row is imputable (checked above)
        wt = panel.w[t1_idx[rows]]
        if wt.sum() <= 0:
            raise EstimationError(f"target {name!r} has zero total weight (weights={spec['weights']!r})")
        targets.append((rows, wt / wt.sum()))

    i0 = np.flatnonzero(fit0)
    X = panel.X
    cov_names = [f"covariate {c!r}" for c in spec["covariates"]]
    names_R = [f"{tname}={p}" for p in periods0[1:]] + cov_names
    ls = _TwoWayLS(uc[i0], s_all[i0], X[i0], panel.w[i0], len(units0), len(periods0), names_R)
    bD, bR, resid0 = ls.fit(panel.y[i0])

    # --- imputation --------------------------------------------------------
    u1, s1, X1 = uc[t1_idx], s_all[t1_idx], X[t1_idx]
    y0_hat = ls.fitted(bD[:, None], bR[:, None], u1, s1, X1)[:, 0]
    tau = panel.y[t1_idx] - y0_hat
    est = np.array([wt @ tau[rows] for rows, wt in targets])

    # --- BJS Theorem 3 variance -------------------------------------------
    H, G, T0 = len(targets), panel.n_clusters, len(periods0)
    aD = np.column_stack([np.bincount(u1[r], wt, ls.N) for r, wt in targets])
    at = np.column_stack([np.bincount(s1[r], wt, T0)[1:] for r, wt in targets])
    ax = np.column_stack([X1[r].T @ wt for r, wt in targets]) if ls.K else np.empty((0, H))
    vD, vR = ls.solve(aD, np.vstack([at, ax]))
    # untreated part: sum_c sum_i v_i e_i with v_i = -w_i z_i'b, collected by
    # (cluster, unit), (cluster, period) and covariates so no n0 x H array is built
    u0, s0, cl0 = uc[i0], s_all[i0], panel.cluster_code[i0]
    q = panel.w[i0] * resid0
    M_cu = sparse.csr_matrix((q, (cl0, u0)), shape=(G, ls.N))
    M_cs = np.bincount(cl0 * T0 + s0, q, G * T0).reshape(G, T0)
    vt = np.vstack([np.zeros((1, H)), vR[: T0 - 1]])
    psi = -(M_cu @ vD + M_cs @ vt)
    if ls.K:
        psi -= _cluster_sums(cl0, X[i0] * q[:, None], G) @ vR[T0 - 1:]
    # treated part: tau minus its v^2-weighted mean in the cohort x event-time cell
    g1 = panel.g[t1_idx]
    gi = (g1 - g1.min()).astype(np.int64)
    ei = (e1 - e1.min()).astype(np.int64)
    cell = np.unique(gi * (ei.max() + 1) + ei, return_inverse=True)[1].ravel()
    n_cell = int(cell.max()) + 1
    cl1 = panel.cluster_code[t1_idx]
    for h, (rows, wt) in enumerate(targets):
        c, v2 = cell[rows], wt ** 2
        den = np.bincount(c, v2, n_cell)
        num = np.bincount(c, v2 * tau[rows], n_cell)
        tbar = np.divide(num, den, out=np.zeros(n_cell), where=den > 0)
        psi[:, h] += np.bincount(cl1[rows], wt * (tau[rows] - tbar[c]), G)

    return dict(
        horizons=horizons, names=names, est=est, psi=psi, names_R=names_R,
        effects={idname: panel.unit_labels[u_all[t1_idx]], tname: panel.t[t1_idx],
                 "g": panel.g[t1_idx].astype(np.int64), "event_time": e1.astype(np.int64),
                 "y": panel.y[t1_idx], "y0_hat": y0_hat, "tau": tau},
        n_treated=int(treated.sum()), n_skipped=int((~keep1).sum()),
        unit_effects=pd.Series(bD, index=panel.unit_labels[units0]),
        period_effects=pd.Series(np.r_[0.0, bR[: len(periods0) - 1]], index=periods0),
        coefficients=bR[len(periods0) - 1:],
        pretrend_inputs=lambda: (i0, uc, s_all, periods0, e),
    )


def _balanced_parts(panel: StaggeredPanel, spec, delta, horizons) -> dict | None:
    """Balanced panel without covariates or weights: everything from cohort x period cells.

    Units of one cohort share their untreated periods (a prefix of the
    periods), so the period effects of the first stage are those of the
    cell-mean regression ``Ybar_ct ~ cohort + period`` weighted by cohort
    size (the same Schur complement as the unit-level fit), a unit's effect
    is its untreated mean minus the mean period effect over its untreated
    periods, and BJS's weights ``v_it`` on untreated rows are constant within
    a cohort x period cell. Each unit's influence is then linear in its row
    of outcomes, ``psi_i = Y_i K_c + k_c``, so one matrix product over the
    ``units x periods`` outcome array gives all of them. Returns ``None``
    (the general path decides) when the design is not of this kind or
    when anything is off the simple path (not imputable rows, missing
    horizons, empty targets): the general path raises or handles those.
    """
    if spec["covariates"] or spec["weights"] is not None:
        return None
    N, n = panel.n_units, panel.nobs
    if N < 2 or n % N:
        return None
    T = n // N
    periods = panel.t[:T]
    if T < 2 or np.any(np.diff(periods) <= 0):
        return None
    # sorted by unit then period with unique unit-periods: balanced iff every unit has these periods
    if not (panel.t.reshape(N, T) == periods).all():
        return None
    if spec["cluster"] != spec["idname"]:
        cc = panel.cluster_code.reshape(N, T)
        if not (cc == cc[:, :1]).all():  # a unit split across clusters
            return None
        cl_unit = cc[:, 0]
    else:
        cl_unit = None
    g_unit = panel.g[::T]
    g_key = np.where(np.isnan(g_unit), np.inf, g_unit)
    coh, g_vals = pd.factorize(g_key, sort=True)
    g_vals = np.asarray(g_vals, dtype=float)
    C = len(g_vals)
    N_c = np.bincount(coh, minlength=C).astype(float)
    # untreated periods of cohort c: t < g - delta, the first n_c periods
    n_c = np.searchsorted(periods, g_vals - delta, side="left")
    if n_c.min() < 1 or np.all(n_c == T):
        return None  # a unit with no untreated period, or no treated observation
    untreated_cell = np.arange(T)[None, :] < n_c[:, None]          # C x T
    if not untreated_cell.any(axis=0).all():
        return None  # a period with no untreated observation
    e_cell = periods[None, :] - g_vals[:, None]                      # -inf for the never treated
    treated_cell = ~untreated_cell
    avail = sorted({int(x) for x in e_cell[treated_cell]})
    if horizons is not None and horizons is not True and any(h not in avail for h in horizons):
        return None
    horizons, names = _target_names(horizons, avail)
    sels = [treated_cell & (e_cell >= 0)]
    if horizons is not None:
        sels += [treated_cell & (e_cell == h) for h in horizons]
    counts = np.array([(N_c[:, None] * s).sum() for s in sels])
    if counts.min() <= 0:
        return None
    H = len(sels)
    Wc = np.stack([s / k for s, k in zip(sels, counts)])            # H x C x T, per-row target weights

    # --- cell sums, one pass over the outcome (units x periods) -----------
    Y = panel.y.reshape(N, T)
    cell_sum = np.empty((C, T))
    for j in range(T):
        cell_sum[:, j] = np.bincount(coh, Y[:, j], C)
    Ybar = cell_sum / N_c[:, None]

    # --- first stage on the untreated cells (cohort "units", weight N_c) ---
    tname = spec["tname"]
    names_R = [f"{tname}={p}" for p in periods[1:]]
    cu, cs = np.nonzero(untreated_cell)
    ls = _TwoWayLS(cu, cs, np.empty((len(cu), 0)), N_c[cu], C, T, names_R)
    _, bR, _ = ls.fit(Ybar[cu, cs])
    bt = np.r_[0.0, bR]
    mb = np.array([bt[:k].mean() for k in n_c])                      # mean period effect, untreated periods
    Ybar0 = np.array([Ybar[c, :k].mean() for c, k in enumerate(n_c)])  # untreated mean per cohort
    abar = Ybar0 - mb                                                # cohort mean unit effect
    tau_cell = Ybar - abar[:, None] - bt[None, :]
    est = np.array([(N_c[:, None] * W * tau_cell).sum() for W in Wc])

    # --- BJS weights on the untreated cells: v_ct = -(bD_c + bt_t) ---------
    Sw = Wc.sum(axis=2)                                              # H x C
    aD = (N_c[None, :] * Sw).T                                      # C x H (cohort totals)
    at = np.stack([(N_c[:, None] * W).sum(axis=0)[1:] for W in Wc], axis=1)
    vD, vR = ls.solve(aD, at)
    v = -(vD.T[:, :, None] + np.vstack([np.zeros((1, H)), vR]).T[:, None, :])  # H x C x T
    v = np.where(untreated_cell[None], v, 0.0)
    Sv = v.sum(axis=2)
    # psi_i = sum_t K_ct y_it + k_c (untreated residuals weighted by v, treated
    # effects minus their cell mean weighted by the target weights)
    K = np.where(untreated_cell[None], v - ((Sv + Sw) / n_c)[:, :, None], Wc)   # H x C x T
    k0 = (Sv * mb - (v * bt).sum(axis=2) - (Wc * Ybar).sum(axis=2) + Sw * Ybar0)  # H x C

    # unit untreated means and the influence, one (units x periods) @ (periods x C) product each
    prefix = untreated_cell.T / n_c                                   # T x C
    rows = np.arange(N)
    ybar0 = (Y @ prefix)[rows, coh]
    psi_unit = np.empty((N, H))
    for h in range(H):
        psi_unit[:, h] = (Y @ K[h].T)[rows, coh] + k0[h][coh]
    if cl_unit is None:
        psi = psi_unit
    else:
        G = panel.n_clusters
        psi = np.column_stack([np.bincount(cl_unit, psi_unit[:, h], G) for h in range(H)])

    # --- imputed effects of every treated row, in row order ------------------
    # a unit's treated rows are its last T - n_c periods: repeat per-unit values, mask per-period ones
    a_unit = ybar0 - mb[coh]
    m_unit = (T - n_c)[coh]
    tr = np.arange(T)[None, :] >= n_c[coh][:, None]                  # units x periods, bool
    y1 = Y[tr]
    t1 = np.broadcast_to(periods, (N, T))[tr]
    g1 = np.repeat(g_unit, m_unit).astype(np.int64)
    y0_hat = np.repeat(a_unit, m_unit)
    y0_hat += np.broadcast_to(bt, (N, T))[tr]
    del tr

    def pretrend_inputs():
        e = panel.t - panel.g
        i0 = np.flatnonzero(~(np.isfinite(e) & (e >= -delta)))
        return i0, panel.unit_code, np.tile(np.arange(T), N), periods, e

    n_treated = int((N_c * (T - n_c)).sum())
    return dict(
        horizons=horizons, names=names, est=est, psi=psi, names_R=names_R,
        effects={spec["idname"]: np.repeat(panel.unit_labels, m_unit), tname: t1,
                 "g": g1, "event_time": t1 - g1,
                 "y": y1, "y0_hat": y0_hat, "tau": y1 - y0_hat},
        n_treated=n_treated, n_skipped=0,
        unit_effects=pd.Series(a_unit, index=panel.unit_labels),
        period_effects=pd.Series(bt, index=periods),
        coefficients=np.empty(0),
        pretrend_inputs=pretrend_inputs,
    )


def _assemble(panel: StaggeredPanel, spec, parts: dict, leads, pretrend) -> ImputationResult:
    idname, tname = spec["idname"], spec["tname"]
    horizons, names, est, psi = parts["horizons"], parts["names"], parts["est"], parts["psi"]
    G = panel.n_clusters
    vcov_post = psi.T @ psi
    se = np.sqrt(np.diag(vcov_post))
    post_cols = [0] if horizons is None else list(range(1, len(names)))
    post_terms = [names[c] for c in post_cols]
    terms: list[Any] = list(leads) if leads is not None else []
    params = list(pretrend["coefficients"]) if pretrend else []
    ses = list(np.sqrt(np.diag(pretrend["vcov"]))) if pretrend else []
    terms += post_terms
    params += list(est[post_cols])
    ses += list(se[post_cols])
    index = pd.Index(terms, dtype=object if horizons is None else None,
                     name="term" if horizons is None else "event_time")
    k = len(terms)
    V = np.full((k, k), np.nan)
    m = len(leads) if leads is not None else 0
    if pretrend:
        V[:m, :m] = pretrend["vcov"]
    V[m:, m:] = vcov_post[np.ix_(post_cols, post_cols)]

    # the columns are fresh arrays: no copy into consolidated blocks
    effects = pd.DataFrame(parts["effects"], copy=False)
    notes = []
    n_skipped = parts["n_skipped"]
    if n_skipped:
        notes.append(f"{n_skipped} treated observations outside every target could not be imputed "
                     "(no untreated observation in their unit or period); they do not enter any estimate.")
    res = ImputationResult(
        pd.Series(params, index=index, dtype=float),
        pd.Series(ses, index=index, dtype=float),
        nobs=panel.nobs,
        n_units=panel.n_units,
        spec=spec,
        estimator="Imputation DiD (Borusyak-Jaravel-Spiess)",
        vcov=pd.DataFrame(V, index=index, columns=index),
        influence=psi[:, post_cols] * G,
        df_resid=None,
        index_name="term" if horizons is None else "event_time",
        level=spec.get("level", 0.95),
        term_aliases={"overall": "ATT"} if horizons is None else None,
        extra={
            "influence_terms": post_terms,
            "n_clusters": G,
            "n_treated_obs": parts["n_treated"],
            "n_untreated_obs": panel.nobs - parts["n_treated"],
            "first_stage": {"unit_effects": parts["unit_effects"],
                            "period_effects": parts["period_effects"],
                            "coefficients": pd.Series(parts["coefficients"], index=spec["covariates"],
                                                      dtype=float)},
            "notes": notes,
        },
    )
    res.overall = pd.Series({"estimate": float(est[0]), "std_error": float(se[0])})
    res.pretrend_test = pretrend
    res.effects = effects
    return res


def _pretrend_test(panel, spec, i0, uc, s_all, periods0, e, leads, names_R, vcov_type):
    e0 = e[i0]
    L = np.column_stack([(e0 == k).astype(float) for k in leads])
    empty = [k for k, c in zip(leads, L.sum(axis=0)) if c == 0]
    if empty:
        avail = sorted(int(x) for x in np.unique(e0[np.isfinite(e0)]))
        raise EstimationError(f"pretrends: leads {empty} have no untreated observation; "
                              f"available leads: {avail}")
    Xe = np.hstack([panel.X[i0], L])
    w0 = panel.w[i0]
    ls = _TwoWayLS(uc[i0], s_all[i0], Xe, w0, int(uc[i0].max()) + 1, len(periods0),
                   names_R + [f"lead {k}" for k in leads])
    _, b, resid = ls.fit(panel.y[i0])
    Rw = ls.within_regressors()
    G = int(np.unique(panel.cluster_code[i0]).size)
    cl = pd.factorize(panel.cluster_code[i0])[0]
    scores = _cluster_sums(cl, Rw * (w0 * resid)[:, None], G)
    Sinv = linalg.cho_solve(ls._chol, np.eye(ls.S.shape[0]))
    n, p = len(i0), ls.S.shape[0]
    if vcov_type == "iid":
        # every unit effect is a parameter here: n - (units + periods - 1 + covariates + leads)
        V = Sinv * float(np.sum(w0 * resid**2)) / (n - ls.N - p)
    else:
        adj = G / (G - 1) * (n - 1) / (n - p)
        V = adj * Sinv @ (scores.T @ scores) @ Sinv
    m = len(leads)
    bl, Vl = b[-m:], V[-m:, -m:]
    wald = float(bl @ np.linalg.solve(Vl, bl))
    return {
        "leads": list(leads),
        "coefficients": pd.Series(bl, index=leads),
        "vcov": Vl,
        "statistic": wald,
        "df": m,
        "p_value": float(stats.chi2.sf(wald, m)),
        "f_statistic": wald / m,
        "df_denom": G - 1,
        "f_p_value": float(stats.f.sf(wald / m, m, G - 1)),
        "n_clusters": G,
        "vcov_type": vcov_type,
    }
