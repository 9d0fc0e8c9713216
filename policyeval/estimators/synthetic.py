"""Synthetic control (ADH 2010) and synthetic difference-in-differences (Arkhangelsky et al. 2021).

Both estimators take a long panel and a common-adoption treatment and return
a result on the shared :class:`~policyeval.results.base.EstimationResult`
contract, extended with the weights, the treated and synthetic paths, the
placebo machinery of :mod:`policyeval.inference.placebo` and a plot.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from policyeval._deprecation import renamed_arguments
from policyeval._validation import require_option
from policyeval.estimators._simplex import frank_wolfe_weights, simplex_lstsq, sparsify
from policyeval.estimators._synthetic_panel import Block, prepare_block
from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    ColumnNotFoundError,
    DataError,
    DesignError,
    EstimationError,
    EstimationWarning,
    PolicyevalFutureWarning,
)
from policyeval.inference import placebo as _placebo
from policyeval.inference.treated_counts import warn_placebo_resolution
from policyeval.results.base import check_level
from policyeval.results.provenance import records_provenance
from policyeval.results.synthetic import SyntheticControlResult, SyntheticDiDResult

__all__ = ["SyntheticControl", "SyntheticControlResult", "SyntheticDiD", "SyntheticDiDResult"]

_V_METHODS = ("nested", "cv", "equal")


# ---------------------------------------------------------------------------
# Synthetic control
# ---------------------------------------------------------------------------
class _SCProblem:
    """Data and options of one synthetic-control fit, reusable for placebos."""

    def __init__(self, block: Block, specs: list, tables: dict, v_method: str, standardize: bool):
        self.block, self.specs, self.tables = block, specs, tables
        self.v_method, self.standardize = v_method, standardize
        self.Y = block.Y
        self.n_pre = block.n_pre
        self._cache: dict = {}

    def predictors(self, window: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(raw, scaled) predictor matrices, shape (k, n_units), for a pre-period window."""
        if window not in self._cache:
            rows = []
            for _, col, periods in self.specs:
                cols = list(periods) if periods is not None else [self.block.periods[t] for t in window]
                rows.append(self.tables[col][cols].mean(axis=1, skipna=True).to_numpy(dtype=float))
            raw = np.vstack(rows)
            if np.isnan(raw).any():
                k, u = np.argwhere(np.isnan(raw))[0]
                raise DataError(
                    f"predictor {self.specs[k][0]!r} is missing in every period of its window for "
                    f"unit {self.block.units[u]}; drop the unit or change the predictor window"
                )
            sd = raw.std(axis=1, ddof=1) if self.standardize else np.ones(raw.shape[0])
            sd[~(sd > 0)] = 1.0
            self._cache[window] = (raw, raw / sd[:, None])
        return self._cache[window]

    @staticmethod
    def weights(X: np.ndarray, i: int, donors: list, v: np.ndarray) -> np.ndarray:
        s = np.sqrt(v)
        return simplex_lstsq(s[:, None] * X[:, donors], s * X[:, i])

    def choose_v(self, X: np.ndarray, i: int, donors: list, loss_periods: np.ndarray) -> np.ndarray:
        k = X.shape[0]
        equal = np.full(k, 1.0 / k)
        if self.v_method == "equal" or k == 1:
            return equal
        Z = self.Y[:, loss_periods]

        def loss(theta):
            v = np.exp(theta - theta.max())
            w = self.weights(X, i, donors, v / v.sum())
            r = Z[i] - w @ Z[donors]
            return float(r @ r) / r.size

        theta0 = np.zeros(k)
        simplex = np.vstack([theta0, theta0 + 2.0 * np.eye(k)])
        res = minimize(loss, theta0, method="Nelder-Mead",
                       options={"initial_simplex": simplex, "maxfev": 150 * k + 300,
                                "xatol": 1e-3, "fatol": 1e-10})
        theta = res.x if res.fun < loss(theta0) else theta0
        v = np.exp(theta - theta.max())
        return v / v.sum()

    def fit(self, i: int, donors: list) -> dict:
        """Weights and synthetic path of unit ``i`` from ``donors``."""
        n_pre = self.n_pre
        if self.v_method == "cv":
            n_train = n_pre // 2
            X_train = self.predictors(tuple(range(n_train)))[1]
            v = self.choose_v(X_train, i, donors, np.arange(n_train, n_pre))
            X = self.predictors(tuple(range(n_train, n_pre)))[1]
        else:
            X = self.predictors(tuple(range(n_pre)))[1]
            v = self.choose_v(X, i, donors, np.arange(n_pre))
        w = self.weights(X, i, donors, v)
        return {"w": w, "v": v, "synthetic": w @ self.Y[donors]}

    def paths(self, i: int, donors: list):
        return self.Y[i], self.fit(i, donors)["synthetic"]

    # the two services SyntheticControlResult (policyeval.results.synthetic, a layer below the
    # estimators) asks of the problem it keeps: the conformal test's model and a refit
    def outcome_model(self, y: np.ndarray, Y_donors: np.ndarray, n_fit: int) -> np.ndarray:
        """Canonical SC on outcomes only (:func:`_outcome_sc`)."""
        return _outcome_sc(y, Y_donors, n_fit)

    def refit(self, data: pd.DataFrame, spec: dict, treat_time):
        """Fit :class:`SyntheticControl` again: the options in ``spec``, ``data``, ``treat_time``."""
        s = spec
        est = SyntheticControl(predictors=s["predictors"], v_method=s["v_method"],
                               standardize=s["standardize"], placebos=False)
        return est.fit(data, s["yname"], s["tname"], s["idname"], treated_units=s["treated_units"],
                       treat_time=treat_time, donors=s["donors"])


def _outcome_sc(y: np.ndarray, Y_donors: np.ndarray, n_fit: int) -> np.ndarray:
    """Canonical SC on outcomes only (the estimator of CWZ 2021's conformal test)."""
    w = simplex_lstsq(Y_donors[:, :n_fit].T, y[:n_fit])
    return w @ Y_donors


class SyntheticControl:
    r"""Synthetic control method of Abadie, Diamond & Hainmueller (2010).

    Parameters
    ----------
    predictors : list, optional
        Characteristics to match. Each item is a column name (its mean over
        the pre-treatment window) or a tuple ``(column, periods)`` (its mean
        over the given pre-treatment periods). Default: the outcome in every
        pre-treatment period. Missing predictor values are skipped when
        averaging (as R ``Synth`` does); a unit with no value in a window
        raises.
    v_method : {"nested", "cv", "equal"}
        How the diagonal predictor weights :math:`V` are chosen: ``"nested"``
        minimises the pre-period outcome MSPE over :math:`V` (ADH 2010);
        ``"cv"`` chooses :math:`V` on the first half of the pre-period
        (predictors measured there) to minimise the MSPE in the second half,
        then measures the predictors in the second half (Abadie 2021, Sec.
        3.2; needs explicit ``predictors``; ``(column, periods)`` items keep
        their own periods); ``"equal"`` uses
        :math:`V = I/k`.
    standardize : bool
        Divide each predictor by its standard deviation across units before
        weighting (as R ``Synth`` does).
    placebos : bool
        Run the in-space placebos at fit time (one refit per donor), giving
        the permutation p-value.
    placebo_donors : {"exclude_treated", "all"}
        Donor pool of each placebo: all other donors (ADH 2010, the default)
        or all other units including the treated one (the exact permutation
        test under the sharp null of no effect; see
        ``benchmarks/mc_synthetic_placebo.md`` for the size of each).
    progress : bool
        Show a progress bar over placebo refits.
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Notes
    -----
    Donor weights solve

    .. math:: W^*(V) = \arg\min_{W \in \Delta^{J}} (X_1 - X_0 W)' V (X_1 - X_0 W),

    and the effect in post period :math:`t` is
    :math:`\hat\alpha_{1t} = Y_{1t} - \sum_j w_j^* Y_{jt}`; the reported
    ``att`` is its mean over the post periods. The ``"nested"`` choice of
    :math:`V` minimises :math:`\sum_{t \le T_0} (Y_{1t} - \sum_j w_j^*(V) Y_{jt})^2`
    by Nelder–Mead over :math:`\log V`, started from equal weights
    (deterministic). The in-space permutation p-value ranks the treated
    unit's post/pre RMSPE ratio among all units'.

    References
    ----------
    Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods
    for comparative case studies. *JASA* 105(490), 493–505.
    Abadie, A. (2021). Using synthetic controls. *JEL* 59(2), 391–425.
    Chernozhukov, V., Wüthrich, K. & Zhu, Y. (2021). An exact and robust
    conformal inference method for counterfactual and synthetic controls.
    *JASA* 116(536), 1849–1864.

    Examples
    --------
    宿城区 (321302), host of the Suzhou--Suqian park from 2006, against the
    never-treated Jiangsu counties with a complete log GDP series (SIMULATED
    panel, 2000--2015):

    >>> import policyeval as pe
    >>> panel = pe.load_simulated_panel()
    >>> js = panel[(panel["province"] == "江苏省") & panel["year"].between(2000, 2015)]
    >>> full = js.groupby("county_code")["log_gdp"].transform("count") == 16
    >>> js = js[full & ((js["first_treat"] == 0) | (js["county_code"] == "321302"))]
    >>> res = pe.SyntheticControl(placebos=False).fit(js, "log_gdp", "year", "county_code",
    ...                                               treated_units=["321302"], treat_time=2006)
    >>> round(float(res.params.iloc[0]), 4)
    -0.0348
    >>> res.weights.sort_values().tail(3).round(3)
    321181    0.127
    321102    0.253
    320922    0.620
    Name: weight, dtype: float64
    """

    def __init__(self, predictors: Sequence | None = None, v_method: str = "nested",
                 standardize: bool = True, placebos: bool = True,
                 placebo_donors: str = "exclude_treated", progress: bool = False,
                 level: float = 0.95) -> None:
        self.level = check_level(level)
        self.predictors = predictors
        self.v_method = v_method
        self.standardize = standardize
        self.placebos = placebos
        self.placebo_donors = placebo_donors
        self.progress = progress

    def _specs(self, df: pd.DataFrame, yname: str, block: Block) -> list:
        pre = set(block.periods[: block.n_pre])
        if self.predictors is None:
            return [(f"{yname}[{p}]", yname, [p]) for p in block.periods[: block.n_pre]]
        specs = []
        for item in self.predictors:
            if isinstance(item, str):
                col, periods = item, None
                label = item
            elif isinstance(item, tuple) and len(item) == 2:
                col, periods = item[0], list(np.atleast_1d(item[1]))
                label = f"{col}[{periods[0]}]" if len(periods) == 1 else f"{col}[{periods[0]}..{periods[-1]}]"
                outside = [p for p in periods if p not in pre]
                if outside:
                    raise DesignError(
                        f"predictor {item!r} uses periods outside the pre-treatment period "
                        f"(e.g. {outside[:3]}); treatment starts at {block.treat_time}"
                    )
            else:
                raise ArgumentTypeError(
                    f"predictors items must be a column name or (column, periods); got {item!r}")
            if col not in df.columns:
                raise ColumnNotFoundError(f"predictor column {col!r} is not a column of the data")
            specs.append((label, col, periods))
        return specs

    @renamed_arguments(df="data")
    @records_provenance
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, *,
            treatment: str | None = None, treated_units: Sequence | None = None,
            treat_time: Any = None, donors: Sequence | None = None) -> "SyntheticControlResult":
        """Fit the synthetic control for one treated unit.

        Parameters
        ----------
        data : pandas.DataFrame
            Balanced long panel.
        yname, tname, idname : str
            Outcome, period and unit columns.
        treatment : str, optional
            0/1 column marking treated unit-periods.
        treated_units, treat_time : optional
            Alternative to ``treatment``: the treated unit (a one-element list)
            and the first treated period.
        donors : sequence, optional
            Restrict the donor pool to these units.

        Returns
        -------
        SyntheticControlResult

        Raises
        ------
        EstimationError
            Fewer than 2 donors; more predictors than pre-treatment periods
            with ``v_method`` "nested"/"cv"; more than one treated unit.
        DataError
            Missing outcomes in the donor pool (names donors and periods).
        """
        df = data
        require_option(self.v_method, "v_method", _V_METHODS)
        require_option(self.placebo_donors, "placebo_donors", ("exclude_treated", "all"))
        block = prepare_block(df, yname, tname, idname, treatment=treatment,
                              treated_units=treated_units, treat_time=treat_time, donors=donors,
                              estimator="SyntheticControl")
        if len(block.treated_units) != 1:
            raise EstimationError(
                f"SyntheticControl fits one treated unit; got {len(block.treated_units)} "
                f"(e.g. {block.treated_units[:3]}). Fit each separately or use SyntheticDiD."
            )
        if self.placebos:
            warn_placebo_resolution(len(block.units), estimator="SyntheticControl")
        specs = self._specs(df, yname, block)
        k = len(specs)
        if self.v_method in ("nested", "cv") and k > block.n_pre:
            raise EstimationError(
                f"{k} predictors but only {block.n_pre} pre-treatment periods: the pre-period is "
                f"shorter than the predictors, so v_method={self.v_method!r} cannot pin down V. "
                "Use fewer predictors or v_method='equal'."
            )
        if self.v_method == "cv":
            if self.predictors is None:
                raise EstimationError("v_method='cv' needs explicit predictors= (column names)")
            if block.n_pre < 4:
                raise EstimationError(f"v_method='cv' needs >= 4 pre-treatment periods, got {block.n_pre}")
        cols = {c for _, c, _ in specs}
        sub = df[df[idname].isin(set(block.units))]
        tables = {c: sub.pivot(index=idname, columns=tname, values=c)
                  .apply(pd.to_numeric, errors="coerce").reindex(index=block.units, columns=block.periods)
                  for c in cols}
        problem = _SCProblem(block, specs, tables, self.v_method, self.standardize)
        treated = block.n_control
        donors_idx = list(range(block.n_control))
        out = problem.fit(treated, donors_idx)
        gap = block.Y[treated] - out["synthetic"]
        n_pre = block.n_pre
        pre_rmspe = _placebo.rmspe(gap[:n_pre])
        self._warn_hull(block, problem, pre_rmspe, self.predictors is not None)
        placebo_table = placebo_gaps = None
        pvalue = np.nan
        if self.placebos:
            placebo_table, gaps = _placebo.in_space_placebos(
                block.Y.shape[0], block.units, treated, n_pre, problem.paths, progress=self.progress,
                exclude_treated=self.placebo_donors == "exclude_treated")
            placebo_gaps = pd.DataFrame(gaps.T, index=block.periods, columns=block.units)
            pvalue = _placebo.permutation_pvalue(placebo_table["ratio"].to_numpy(), treated)
        return SyntheticControlResult(
            problem=problem, fit=out, spec={
                "yname": yname, "tname": tname, "idname": idname, "treatment": treatment,
                "treated_units": block.treated_units, "treat_time": block.treat_time,
                "donors": donors, "predictors": self.predictors, "v_method": self.v_method,
                "standardize": self.standardize, "placebo_donors": self.placebo_donors,
                "method": f"sc, V {self.v_method}", "level": self.level},
            data=df, placebo_table=placebo_table, placebo_gaps=placebo_gaps, pvalue=pvalue)

    @staticmethod
    def _warn_hull(block: Block, problem: _SCProblem, pre_rmspe: float, own_predictors: bool) -> None:
        """Warn when the treated unit is plainly outside the donors' convex hull.

        Being the most extreme unit in an odd pre-period happens by chance; the warning fires
        when it happens in at least a quarter of the pre-periods, when the treated unit's
        pre-period mean is outside the donors' range, or when a user-given predictor is.
        """
        Y = block.Y[:, : block.n_pre]
        y1, Y0 = Y[block.n_control], Y[: block.n_control]
        outside = (y1 > Y0.max(axis=0)) | (y1 < Y0.min(axis=0))
        m1, m0 = y1.mean(), Y0.mean(axis=1)
        level_out = m1 > m0.max() or m1 < m0.min()
        preds = []
        if own_predictors:
            raw = problem.predictors(tuple(range(block.n_pre)))[0]
            x1, X0 = raw[:, block.n_control], raw[:, : block.n_control]
            preds = [problem.specs[k][0] for k in np.nonzero((x1 > X0.max(axis=1)) | (x1 < X0.min(axis=1)))[0]]
        if outside.mean() >= 0.25 or level_out or preds:
            periods = [block.periods[t] for t in np.nonzero(outside)[0]]
            sd = float(np.std(y1, ddof=1))
            warnings.warn(
                f"treated unit {block.treated_units[0]} lies outside the donors' convex hull: its "
                f"outcome is above or below every donor in {len(periods)} of {block.n_pre} "
                f"pre-treatment periods (e.g. {', '.join(map(str, periods[:3])) or 'none'})"
                + (f", and predictors {', '.join(preds[:3])} are outside the donors' range" if preds else "")
                + f"; the pre-period fit is RMSPE = {pre_rmspe:.4g} (sd of its pre-period outcome "
                f"{sd:.4g}). The synthetic control cannot reproduce it; consider SyntheticDiD "
                "(allows a level shift) or a different donor pool.",
                EstimationWarning, stacklevel=3)


# ---------------------------------------------------------------------------
# Synthetic difference-in-differences
# ---------------------------------------------------------------------------
_SDID_METHODS = ("sdid", "sc", "did", "difp")
_SE_METHODS = ("placebo", "bootstrap", "jackknife", None)


def _collapse(Y: np.ndarray, N0: int, T0: int) -> np.ndarray:
    """Controls' rows and pre periods kept; treated rows and post periods averaged."""
    Yc = np.empty((N0 + 1, T0 + 1))
    Yc[:N0, :T0] = Y[:N0, :T0]
    Yc[:N0, T0] = Y[:N0, T0:].mean(axis=1)
    Yc[N0, :T0] = Y[N0:, :T0].mean(axis=0)
    Yc[N0, T0] = Y[N0:, T0:].mean()
    return Yc


def _sum_normalize(x: np.ndarray) -> np.ndarray:
    s = x.sum()
    return x / s if s != 0 else np.full(x.size, 1.0 / x.size)


def _sdid_core(Y, N0, T0, opts, omega=None, lam=None):
    """Weights and estimate; ``opts`` holds the regularisation fixed on the full sample."""
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    Yc = _collapse(Y, N0, T0)
    md, it = opts["min_decrease"], opts["max_iter"]

    def solve(M, zeta, intercept, init):
        w, _ = frank_wolfe_weights(M, zeta, intercept, init, md, opts["max_iter_pre_sparsify"])
        if opts["sparsify"]:
            w, _ = frank_wolfe_weights(M, zeta, intercept, sparsify(w), md, it)
        return w

    if opts["update_lambda"]:
        lam = solve(Yc[:N0, :], opts["zeta_lambda"], True, lam)
    if opts["update_omega"]:
        omega = solve(Yc[:, :T0].T, opts["zeta_omega"], opts["omega_intercept"], omega)
    tau = np.r_[-omega, np.full(N1, 1.0 / N1)] @ Y @ np.r_[-lam, np.full(T1, 1.0 / T1)]
    return float(tau), omega, lam


class SyntheticDiD:
    r"""Synthetic difference-in-differences (Arkhangelsky et al. 2021), with SC and DiD as special cases.

    Parameters
    ----------
    method : {"sdid", "sc", "did", "difp"}
        ``"sdid"``: regularised unit weights with intercept and time weights;
        ``"sc"``: unit weights without intercept, negligible ridge, no time
        weights (synthetic control in the synthdid framework); ``"did"``:
        uniform weights (the 2×2 difference in means); ``"difp"``: unit
        weights with an intercept (the de-meaned synthetic control of
        Doudchenko & Imbens 2016 and Ferman & Pinto 2021) and uniform time
        weights :math:`\lambda_t = 1/T_0`.
    eta_omega : float, optional
        Ridge strength of the unit weights relative to the noise level,
        :math:`\zeta_\omega = \eta_\omega\hat\sigma`. Default: synthdid's,
        :math:`(N_1 T_1)^{1/4}` for ``"sdid"`` and :math:`10^{-6}` (no
        penalty in effect) for ``"sc"`` and ``"difp"``. Passing
        ``(N1 * T1) ** 0.25`` with ``"sc"`` or ``"difp"`` gives the
        regularised variants ``sc_reg`` and ``difp_reg`` of the synthdid
        paper-results article. Ignored by ``"did"``.
    se_method : {"placebo", "bootstrap", "jackknife", None}
        Algorithms 4, 2 and 3 of the paper. Placebo needs more donors than
        treated units; bootstrap and jackknife need at least 2 treated units.
    n_replications : int
        Placebo / bootstrap replications.
    random_state : int or numpy.random.Generator, optional
        Seed for placebo and bootstrap draws.
    max_iter : int
        Frank–Wolfe iterations after sparsification (synthdid's default 10,000).
    sparsify : bool
        Restart the solver from weights with entries at most a quarter of the
        largest set to zero (synthdid's default behaviour).
    progress : bool
        Show a progress bar over the replications.
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Notes
    -----
    With :math:`N_0` controls, :math:`N_1` treated units adopting at
    :math:`T_0 + 1`, :math:`T_1` post periods:

    .. math::
        \hat\omega = \arg\min_{\omega_0, \omega\in\Delta}
            \sum_{t \le T_0}\Big(\omega_0 + \sum_{i\le N_0}\omega_i Y_{it}
            - \bar Y_{tr,t}\Big)^2 + \zeta^2 T_0 \lVert\omega\rVert^2,
        \qquad \zeta = (N_1 T_1)^{1/4}\,\hat\sigma,

    where :math:`\hat\sigma` is the standard deviation of the first
    differences :math:`Y_{it} - Y_{i,t-1}` of control units in the pre-period;
    :math:`\hat\lambda` solves the analogous problem across control units
    with :math:`\zeta = 10^{-6}\hat\sigma`, and

    .. math::
        \hat\tau = \Big(\bar Y_{tr,post} - \sum_t \hat\lambda_t \bar Y_{tr,t}\Big)
                 - \sum_i \hat\omega_i\Big(\bar Y_{i,post} - \sum_t\hat\lambda_t Y_{it}\Big).

    Both weight problems are solved by Frank–Wolfe with exact line search,
    100 iterations, sparsification, then up to ``max_iter`` iterations, with
    the stopping rule of R ``synthdid`` (objective decrease below
    :math:`(10^{-5}\hat\sigma)^2`). Placebo, bootstrap and jackknife
    replications keep :math:`\zeta` from the full sample and warm-start from
    the full-sample weights; the jackknife keeps the weights fixed (the
    paper's Algorithm 3).

    References
    ----------
    Arkhangelsky, D., Athey, S., Hirshberg, D. A., Imbens, G. W. & Wager, S.
    (2021). Synthetic difference-in-differences. *AER* 111(12), 4088–4118.

    Examples
    --------
    宿城区 (321302) from 2006 against the never-treated Jiangsu counties with a
    complete log GDP series (SIMULATED panel, 2000--2015):

    >>> import policyeval as pe
    >>> panel = pe.load_simulated_panel()
    >>> js = panel[(panel["province"] == "江苏省") & panel["year"].between(2000, 2015)]
    >>> full = js.groupby("county_code")["log_gdp"].transform("count") == 16
    >>> js = js[full & ((js["first_treat"] == 0) | (js["county_code"] == "321302"))]
    >>> js = js.assign(enclave=((js["county_code"] == "321302") & (js["year"] >= 2006)).astype(int))
    >>> res = pe.SyntheticDiD(se_method="placebo", n_replications=50, random_state=1).fit(
    ...     js, "log_gdp", "year", "county_code", treatment="enclave")
    >>> round(float(res.params.iloc[0]), 4), round(float(res.std_errors.iloc[0]), 4)
    (-0.0443, 0.0618)
    """

    def __init__(self, method: str = "sdid", se_method: str | None = "placebo",
                 n_replications: int = 200, random_state=None, max_iter: int = 10_000,
                 sparsify: bool = True, progress: bool = False,
                 eta_omega: float | None = None, level: float = 0.95) -> None:
        self.level = check_level(level)
        self.method = method
        self.eta_omega = eta_omega
        self.se_method = se_method
        self.n_replications = n_replications
        self.random_state = random_state
        self.max_iter = max_iter
        self.sparsify = sparsify
        self.progress = progress

    def _opts(self, Y, N0, T0) -> dict:
        N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
        diffs = np.diff(Y[:N0, :T0], axis=1)
        sigma = float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0
        if self.eta_omega is not None:
            eta_omega = float(self.eta_omega)
        else:
            eta_omega = (N1 * T1) ** 0.25 if self.method == "sdid" else 1e-6
        return {"noise_level": sigma, "zeta_omega": eta_omega * sigma, "zeta_lambda": 1e-6 * sigma,
                "omega_intercept": self.method != "sc", "update_omega": self.method != "did",
                "update_lambda": self.method == "sdid", "min_decrease": 1e-5 * sigma,
                "max_iter": self.max_iter, "max_iter_pre_sparsify": 100, "sparsify": self.sparsify}

    def _initial(self, N0, T0):
        lam = np.zeros(T0) if self.method == "sc" else (
            np.full(T0, 1.0 / T0) if self.method in ("did", "difp") else None)
        omega = np.full(N0, 1.0 / N0) if self.method == "did" else None
        return omega, lam

    @renamed_arguments(df="data")
    @records_provenance
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, *,
            treatment: str | None = None, treated_units: Sequence | None = None,
            treat_time: Any = None, donors: Sequence | None = None) -> "SyntheticDiDResult":
        """Estimate the ATT of a common-adoption design.

        Parameters
        ----------
        data : pandas.DataFrame
            Balanced long panel.
        yname, tname, idname : str
            Outcome, period and unit columns.
        treatment : str, optional
            0/1 column, 1 for treated units from adoption on.
        treated_units, treat_time : optional
            Alternative to ``treatment``.
        donors : sequence, optional
            Restrict the control units.

        Returns
        -------
        SyntheticDiDResult

        Raises
        ------
        EstimationError
            Unknown ``method``/``se_method``; an ``se_method`` the design
            cannot support; fewer than 2 donors.
        TreatmentTimingError
            Treated units adopting at different periods.
        DataError
            Missing outcomes (names units and periods), unbalanced panel.
        """
        df = data
        require_option(self.method, "method", _SDID_METHODS)
        require_option(self.se_method, "se_method", _SE_METHODS)
        if self.eta_omega is not None and not (
                isinstance(self.eta_omega, (int, float)) and np.isfinite(self.eta_omega)
                and self.eta_omega > 0):
            raise ArgumentValueError(
                f"eta_omega={self.eta_omega!r} must be a positive finite number (or None for "
                "the method's default)")
        block = prepare_block(df, yname, tname, idname, treatment=treatment,
                              treated_units=treated_units, treat_time=treat_time, donors=donors,
                              estimator="SyntheticDiD")
        Y, N0, T0 = block.Y, block.n_control, block.n_pre
        N1 = Y.shape[0] - N0
        self._check_se(N0, N1)
        warn_placebo_resolution(N0 + N1, estimator="SyntheticDiD", n_treated=N1, se_method=self.se_method)
        opts = self._opts(Y, N0, T0)
        omega0, lam0 = self._initial(N0, T0)
        tau, omega, lam = _sdid_core(Y, N0, T0, opts, omega0, lam0)
        se, reps = self._standard_error(Y, N0, T0, opts, omega, lam)
        spec = {"yname": yname, "tname": tname, "idname": idname, "treatment": treatment,
                "treated_units": block.treated_units, "treat_time": block.treat_time,
                "method": self.method, "se_method": self.se_method, "eta_omega": self.eta_omega,
                "n_replications": self.n_replications, "random_state": self.random_state,
                "level": self.level}
        return SyntheticDiDResult(block, tau, se, omega, lam, opts, spec, reps)

    def _check_se(self, N0: int, N1: int) -> None:
        if self.se_method == "placebo" and N0 <= N1:
            raise EstimationError(
                f"se_method='placebo' needs more donors than treated units; got {N0} donors and "
                f"{N1} treated")
        if self.se_method in ("bootstrap", "jackknife") and N1 < 2:
            raise EstimationError(
                f"se_method={self.se_method!r} needs at least 2 treated units (got {N1}); with one "
                "treated unit use se_method='placebo' (Arkhangelsky et al. 2021, Sec. 5)")

    def _standard_error(self, Y, N0, T0, opts, omega, lam):
        if self.se_method is None:
            return np.nan, None
        N = Y.shape[0]
        N1 = N - N0
        rng = np.random.default_rng(self.random_state)
        B = self.n_replications
        draws = []
        it = range(B)
        if self.progress and self.se_method != "jackknife":
            from tqdm.auto import tqdm

            it = tqdm(it, desc=f"{self.se_method} replications")
        if self.se_method == "placebo":
            for _ in it:
                perm = rng.permutation(N0)
                n0 = N0 - N1
                draws.append(_sdid_core(Y[perm], n0, T0, opts, _sum_normalize(omega[perm[:n0]]), lam)[0])
        elif self.se_method == "bootstrap":
            while len(draws) < B:
                ind = np.sort(rng.integers(0, N, N))
                n0 = int((ind < N0).sum())
                if n0 == 0 or n0 == N:
                    continue  # a resample without controls or treated units has no estimate
                draws.append(_sdid_core(Y[ind], n0, T0, opts, _sum_normalize(omega[ind[:n0]]), lam)[0])
        else:
            fixed = dict(opts, update_omega=False, update_lambda=False)
            for i in range(N):
                keep = np.delete(np.arange(N), i)
                n0 = N0 - (i < N0)
                draws.append(_sdid_core(Y[keep], n0, T0, fixed,
                                        _sum_normalize(omega[keep[:n0]]), lam)[0])
            u = np.asarray(draws)
            return float(np.sqrt((N - 1) ** 2 / N * np.var(u, ddof=1))), u
        u = np.asarray(draws)
        return float(np.sqrt((B - 1) / B) * np.std(u, ddof=1)), u
