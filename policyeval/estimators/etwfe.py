r"""Extended two-way fixed effects (Wooldridge 2021, 2023; R ``etwfe``, Stata ``jwdid``).

One regression with a separate coefficient for every treated cohort × period
cell replaces the single TWFE coefficient, so heterogeneous effects no longer
contaminate each other; the cell effects are then averaged (overall, by event
time, by cohort, by calendar period) with the number of treated observations
as weights, and their standard errors follow by the delta method from the
regression's covariance matrix.

``family="linear"`` absorbs unit and period effects and shares the fixed-effect
machinery (and every ``vcov``: CR1, CR2 with Bell-McCaffrey df, HC1, HC2, iid)
with :class:`policyeval.TWFE`. ``family="poisson"`` is Wooldridge's (2023)
pooled Poisson quasi-likelihood with cohort and period effects, for counts such
as patents or firm entries; its cell effects are reported on the outcome's
scale (the average treated outcome minus its counterfactual).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import examples, require_option
from policyeval.estimators._fixed_effects import fit_fe_ols, prepare_fe_panel, subset_panel
from policyeval.estimators._regression_influence import regression_score_rows
from policyeval.estimators.twfe import _check_vcov_args, _vcov_kind
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DroppedObservationsWarning,
    EstimationError,
    PolicyevalFutureWarning,
    SolverError,
)
from policyeval.inference.covariance import count_parameters, resolve_ssc, sandwich_covariance
from policyeval.inference.influence import DenseInfluence
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.results.regression import EXTENDED_TWFE_KINDS as _KINDS
from policyeval.results.regression import ExtendedTWFEResult

__all__ = ["ExtendedTWFE", "ExtendedTWFEResult"]

_CONTROL = ("not_yet_treated", "never_treated")
#: spellings before 0.2 (etwfe's cgroup / jwdid's option) -> the package's vocabulary
_OLD_CONTROL = {"notyet": "not_yet_treated", "never": "never_treated"}
_FAMILY = ("linear", "poisson")


class ExtendedTWFE:
    r"""Extended TWFE: one coefficient per treated cohort × period (Wooldridge 2021).

    Parameters
    ----------
    control_group : {"not_yet_treated", "never_treated"}
        ``"not_yet_treated"`` (default; ``etwfe``/``jwdid``'s default) gives a
        coefficient to every post-treatment cell :math:`t \ge g`, so
        not-yet-treated and never-treated observations are the controls.
        ``"never_treated"`` also gives one to every pre-treatment cell except
        :math:`t = g-1` (``jwdid ..., never``; ``etwfe(cgroup="never")``):
        only never-treated units are controls, the post-treatment cells
        equal Callaway & Sant'Anna's ATT(g,t) with never-treated controls,
        and the pre-treatment cells are placebo tests against :math:`g-1`.
        The spellings before 0.2, ``"notyet"`` and ``"never"`` (``etwfe``'s
        ``cgroup``), still work for one release with a
        :class:`~policyeval.exceptions.PolicyevalFutureWarning`.
    family : {"linear", "poisson"}
        Linear regression with unit and period effects, or Poisson
        quasi-maximum likelihood with cohort and period effects
        (Wooldridge 2023) for non-negative outcomes such as counts.
    fe : {"unit", "cohort"}
        Linear model: absorb unit and period effects (``"unit"``, default;
        ``jwdid``'s ``ivar()``, ``etwfe(ivar = ...)``) or cohort and period
        effects, the Mundlak form (``"cohort"``; ``etwfe``'s default). The
        cell effects coincide in a balanced panel; the small-sample factor
        of the standard errors differs (unit effects nested in the clusters
        are not counted). The Poisson model always uses cohort effects.
    vcov, cluster, ssc
        As in :class:`policyeval.TWFE` (``cluster`` keyword-only; default: clustered by unit with
        fixest's small-sample factors, which equal Stata ``reghdfe``'s and
        so ``jwdid``'s). ``family="poisson"`` takes ``"cluster"``/``"CR1"``,
        ``"hetero"``/``"HC1"`` or ``"iid"``.
    level : float
        Confidence level kept with the result.

    Notes
    -----
    With cohorts :math:`g` (first treated period) and cells
    :math:`(g, t) \in \mathcal C`, the linear model is

    .. math:: y_{it} = \alpha_i + \lambda_t + \sum_{(g,t')\in\mathcal C}
              \tau_{gt'}\,1[G_i = g,\ t = t'] + \varepsilon_{it},

    and :math:`\hat\tau_{gt}` estimates :math:`ATT(g,t)` under no
    anticipation and parallel trends in the untreated outcome (for all
    cohorts and periods with ``"not_yet_treated"``; between each cohort and the
    never treated with ``"never_treated"``). Unit effects equal the Mundlak form
    (cohort dummies) in a balanced panel without covariates. The Poisson
    model is :math:`E[y_{it}] = \exp(\mu_{G_i} + \lambda_t + \sum \tau_{gt'}
    1[\cdot])`, assuming parallel trends in the *ratio* of untreated means;
    its ATT(g,t) is :math:`\bar{\hat\mu}_{gt} - \bar{\hat\mu}_{gt}e^{-\tau_{gt}}`,
    the cell's mean fitted outcome minus the one with :math:`\tau_{gt}=0`.

    Units treated in every observed period are dropped with a
    :class:`~policyeval.exceptions.DroppedObservationsWarning` (they have no
    untreated period). Without never-treated units, ``"not_yet_treated"`` uses the
    last cohort as the control and drops the periods from its treatment on
    (with a warning), as ``etwfe`` does.

    References
    ----------
    Wooldridge, J. M. (2021). Two-way fixed effects, the two-way Mundlak
    regression, and difference-in-differences estimators. SSRN 3906345.

    Wooldridge, J. M. (2023). Simple approaches to nonlinear
    difference-in-differences with panel data. *The Econometrics Journal*,
    26(3), C31-C66.

    McDermott, G. (2023). etwfe: Extended two-way fixed effects. R package.

    Rios-Avila, F. (2022). JWDID: Stata module to estimate
    difference-in-difference models using Mundlak approach.

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe, warnings
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame([(i, t) for i in range(150) for t in range(2010, 2018)],
    ...                   columns=["county", "year"])
    >>> df["g"] = df["county"].map(lambda i: [0, 2013, 2015][i % 3])
    >>> treated = (df["g"] > 0) & (df["year"] >= df["g"])
    >>> df["y"] = (rng.normal(size=150)[df["county"]] + 0.2 * (df["year"] - 2010)
    ...            + np.where(treated, 1.0 + 0.5 * (df["year"] - df["g"]), 0)
    ...            + rng.normal(0, 0.3, len(df)))
    >>> res = pe.ExtendedTWFE().fit(df, "y", "year", "county", "g")
    >>> ev = res.aggregate("dynamic")
    >>> [round(float(v), 1) for v in ev.params.loc[[0, 1, 2]]]
    [1.0, 1.5, 2.0]
    >>> round(res.ATT, 2) == round(float(res.aggregate("simple").params["ATT"]), 2)
    True
    """

    def __init__(self, control_group: str = "not_yet_treated", family: str = "linear",
                 fe: str = "unit", vcov: str = "cluster", *, cluster: str | None = None,
                 ssc="fixest", level: float = 0.95) -> None:
        if control_group in _OLD_CONTROL:
            warnings.warn(f"ExtendedTWFE(control_group={control_group!r}) is now "
                          f"control_group={_OLD_CONTROL[control_group]!r}; the old value stops "
                          "working in the next release", PolicyevalFutureWarning, stacklevel=2)
            control_group = _OLD_CONTROL[control_group]
        self.control_group = control_group
        self.family = family
        self.fe = fe
        self.vcov = vcov
        self.cluster = cluster
        self.ssc = ssc
        self.level = level
        self._check()

    def _check(self) -> None:
        require_option(self.control_group, "control_group", _CONTROL)
        require_option(self.family, "family", _FAMILY)
        require_option(self.fe, "fe", ("unit", "cohort"))
        _check_vcov_args(self.vcov, self.cluster, self.ssc)
        if self.cluster is not None and not isinstance(self.cluster, str):
            raise ArgumentValueError(f"cluster={self.cluster!r}: ExtendedTWFE clusters one way; "
                                     "give one column name")
        if self.family == "poisson" and _vcov_kind(self.vcov) in ("HC2", "CR2"):
            raise ArgumentValueError(f"vcov={self.vcov!r} is for linear models; with "
                                     "family='poisson' use 'cluster', 'hetero' or 'iid'")
        if not 0 < self.level < 1:
            raise ArgumentValueError(f"level={self.level!r} must lie strictly between 0 and 1")

    @renamed_arguments(df="data")
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str,
            gname: str, covariates: str | list[str] | None = None) -> ExtendedTWFEResult:
        r"""Estimate the cohort × period effects.

        Parameters
        ----------
        data : pandas.DataFrame
            Long panel, one row per unit and period (``df=`` before 0.2).
        yname, tname, idname : str
            Outcome, integer period and unit columns.
        gname : str
            First treated period (0 or missing: never treated).
        covariates : str or list of str, optional
            Controls :math:`x` (time-invariant or not), entered as in
            ``etwfe``/``jwdid``: :math:`x`, cohort × :math:`x` and period ×
            :math:`x` as controls, and every cell × :math:`(x - \bar x_g)`
            (demeaned within the cohort), so each cell effect may vary with
            :math:`x`; the ATT(g,t) is the cell's average effect,
            :math:`\tau_{gt} + \gamma_{gt}'(\bar x_{gt} - \bar x_g)`. Terms
            absorbed by unit effects (time-invariant :math:`x`) are left out.

        Returns
        -------
        ExtendedTWFEResult

        Raises
        ------
        ColumnNotFoundError, DataError, TreatmentTimingError
            Bad columns or timing (as :class:`policyeval.TWFE`); a negative
            outcome with ``family="poisson"``.
        EstimationError
            No treated cohort; ``control_group="never_treated"`` without never-treated
            units; a Poisson cell whose outcomes are all zero.
        """
        self._check()
        kind = _vcov_kind(self.vcov)
        if self.family == "poisson" and kind not in ("cluster", "hetero", "iid"):
            raise ArgumentValueError(f"vcov={self.vcov!r} is not available for Poisson")
        panel, covs = prepare_fe_panel(data, yname=yname, tname=tname, idname=idname, gname=gname,
                                       covariates=covariates, cluster=self.cluster, vcov=kind,
                                       estimator="ExtendedTWFE")
        notes = list(panel.notes)
        panel = self._restrict(panel, idname, notes)
        t = panel.periods[panel.time]
        g = panel.cohort
        cohorts = np.unique(g[g > 0])
        if cohorts.size == 0:
            raise EstimationError(f"gname={gname!r}: no unit is treated within the sample")
        warn_few_treated(panel.unit, panel.cohort, estimator="ExtendedTWFE",
                         argument=f"gname={gname!r}", stacklevel=4)
        cells = []
        for gg in cohorts:
            for tt in np.unique(t[g == gg]):
                if tt >= gg or (self.control_group == "never_treated" and tt != gg - 1):
                    cells.append((int(gg), int(tt)))
        X = np.column_stack([(g == gg) & (t == tt) for gg, tt in cells]).astype(float)
        table = pd.DataFrame(cells, columns=["group", "time"])
        table["event_time"] = table["time"] - table["group"]
        table["post"] = table["event_time"] >= 0
        table["n_treated"] = X.sum(axis=0).astype(int)
        design = _covariate_design(panel, X, cells, covs, self.family == "linear"
                                   and self.fe == "unit")
        spec = {"yname": yname, "tname": tname, "idname": idname, "gname": gname,
                "covariates": covs,
                "fe": [idname, tname] if self.family == "linear" and self.fe == "unit"
                else [gname, tname],
                "control_group": self.control_group, "family": self.family, "vcov": self.vcov,
                "cluster": self.cluster or idname, "ssc": self.ssc, "method": self.family}
        if self.family == "linear":
            est, V, df_resid, contrast_df, cov_note, influence = self._linear(
                panel, design, table, kind)
        else:
            if (panel.y < 0).any():
                bad = panel.y < 0
                raise DataError(f"family='poisson' needs a non-negative yname={yname!r}; found "
                                f"{int(bad.sum())} negative values (units "
                                f"{examples(panel.frame.loc[bad, idname])})")
            est, V, coefs, cov_note, influence = _poisson(panel, design, table, kind, self.ssc)
            df_resid, contrast_df = None, None
            notes.append("Poisson cell coefficients (log scale): "
                         + ", ".join(f"({a}, {b}): {c:.4f}" for (a, b), c in
                                     zip(cells[:6], coefs)) + (" ..." if len(cells) > 6 else ""))
            spec["poisson_coefficients"] = coefs.tolist()
        table["estimate"] = est
        notes.append(cov_note)
        return ExtendedTWFEResult(
            table, V, df_resid=df_resid, level=self.level, contrast_df=contrast_df,
            nobs=len(panel.y), n_units=panel.n_units, spec=spec, influence=influence,
            estimator=f"Extended TWFE ({self.family}, {self.control_group} controls)",
            extra={"notes": notes, "n_cohorts": int(cohorts.size)})

    # ------------------------------------------------------------------
    def _restrict(self, panel, idname, notes):
        t = panel.periods[panel.time]
        always = (panel.cohort > 0) & (panel.cohort <= panel.periods.min())
        if always.any():
            ids = panel.frame.loc[always, idname]
            warnings.warn(
                f"dropped {int(always.sum())} rows of {ids.nunique()} units treated in every "
                f"observed period (e.g. {examples(ids)}); they have no untreated period to "
                "compare with", DroppedObservationsWarning, stacklevel=4)
            panel = subset_panel(panel, ~always)
            t = panel.periods[panel.time]
        if (panel.cohort == 0).any():
            return panel
        if self.control_group == "never_treated":
            raise EstimationError(
                "control_group='never_treated' needs never-treated units and there are none; use "
                "control_group='not_yet_treated'")
        last = panel.cohort.max()
        late = t >= last
        warnings.warn(
            f"no never-treated units: the last cohort ({last}) serves as the control group and "
            f"the {int(late.sum())} rows from period {last} on are dropped",
            DroppedObservationsWarning, stacklevel=4)
        notes.append(f"No never-treated units: cohort {last} is the control group; periods "
                     f">= {last} dropped.")
        panel = subset_panel(panel, ~late)
        panel.cohort = np.where(panel.cohort == last, 0, panel.cohort)
        return panel

    def _linear(self, panel, design, table, kind):
        if self.fe == "cohort":
            panel.fe_codes = [pd.factorize(panel.cohort, sort=True)[0].astype(np.intp),
                              panel.time]
            panel.fe_labels = ["cohort", "period"]
        J = design.cell_map
        tmp = ExtendedTWFEResult(table.assign(estimate=0.0), np.eye(len(table)), df_resid=None,
                                 level=self.level, contrast_df=None, nobs=0, n_units=0, spec={},
                                 estimator="")
        contrasts, blocks = None, {}
        if kind in ("HC2", "CR2"):
            mats, start = [J], len(J)
            blocks["cells"] = (0, len(J))
            for k in _KINDS:
                keys, W, _ = tmp._weights(k)
                blocks[k] = (start, len(keys))
                start += len(keys)
                mats.append(W @ J)
            contrasts = np.vstack(mats).T
        fit = fit_fe_ols(panel, design.X, design.names, vcov=kind, ssc=self.ssc,
                         contrasts=contrasts)
        beta, Vb = fit.params.to_numpy(), fit.vcov.to_numpy()
        contrast_df = None
        if contrasts is not None:
            contrast_df = {k: fit.contrast_df[s:s + n] for k, (s, n) in blocks.items()}
            df = contrast_df.pop("cells")
            note = (f"Standard errors: {kind} with Bell-McCaffrey df (cells: {np.nanmin(df):.2f} "
                    f"to {np.nanmax(df):.2f}).")
        else:
            df = fit.cov.df_resid
            note = (f"Standard errors: {kind} ({', '.join(map(str, fit.cov.n_clusters))} "
                    f"clusters), small-sample convention {self.ssc!r}, K = {fit.cov.n_params}; "
                    f"t with {df} df. Aggregations by the delta method with fixed weights.")
        rows = regression_score_rows(panel, design.X, fit, kind)
        return J @ beta, J @ Vb @ J.T, df, contrast_df, note, _influence(rows.values @ J.T)


class _Design:
    """Regressors of the cell model: cells, cells x demeaned covariates, and controls."""

    def __init__(self, X, names, cell_map, cell_columns):
        self.X, self.names, self.cell_map, self.cell_columns = X, names, cell_map, cell_columns


def _covariate_design(panel, X, cells, covs, unit_effects) -> _Design:
    k = X.shape[1]
    names = [f"cell {a}:{b}" for a, b in cells]
    blocks = [X]
    cell_columns = [[j] for j in range(k)]
    means = []
    if covs:
        cohort_code = pd.factorize(panel.cohort, sort=True)[0]
        for c in covs:
            x = panel.frame[c].to_numpy(dtype=float)
            x_dm = x - (np.bincount(cohort_code, x) / np.bincount(cohort_code))[cohort_code]
            start = sum(b.shape[1] for b in blocks)
            blocks.append(X * x_dm[:, None])
            names += [f"cell {a}:{b} x {c}" for a, b in cells]
            for j in range(k):
                cell_columns[j].append(start + j)
            means.append((X * x_dm[:, None]).sum(axis=0) / X.sum(axis=0))
        for c in covs:
            x = panel.frame[c].to_numpy(dtype=float)
            unit_mean = np.bincount(panel.unit, x) / np.bincount(panel.unit)
            invariant = np.allclose(x, unit_mean[panel.unit], rtol=0, atol=1e-12 * (
                1 + np.abs(x).max()))
            ctrl, ctrl_names = [], []
            if not (unit_effects and invariant):
                ctrl.append(x)
                ctrl_names.append(c)
                for g in np.unique(panel.cohort):
                    if g != 0:
                        ctrl.append(x * (panel.cohort == g))
                        ctrl_names.append(f"cohort {g} x {c}")
            for j in range(1, len(panel.periods)):
                ctrl.append(x * (panel.time == j))
                ctrl_names.append(f"period {panel.periods[j]} x {c}")
            blocks.append(np.column_stack(ctrl))
            names += ctrl_names
    Xall = np.column_stack(blocks)
    J = np.zeros((k, Xall.shape[1]))
    for j in range(k):
        J[j, j] = 1.0
        for m, col in enumerate(cell_columns[j][1:]):
            J[j, col] = means[m][j]
    return _Design(Xall, names, J, cell_columns)


def _poisson(panel, design, table, kind, ssc):
    """Pooled Poisson QMLE with cohort and period dummies; ATT(g,t) on the outcome scale."""
    y = panel.y
    X = design.X
    k_cells = len(design.cell_columns)
    cohort_codes = pd.factorize(panel.cohort, sort=True)[0]
    C = np.eye(cohort_codes.max() + 1)[cohort_codes]
    T = np.eye(len(panel.periods))[panel.time][:, 1:]
    Z = np.column_stack([C, T, X])
    offset = C.shape[1] + T.shape[1]
    zero = [(a, b) for j, (a, b) in enumerate(zip(table["group"], table["time"]))
            if y[X[:, j] != 0].sum() == 0]
    if zero:
        raise EstimationError(f"family='poisson': every outcome is 0 in cells (group, time) "
                              f"{examples(zero)}; their effects are not finite")
    beta = np.zeros(Z.shape[1])
    beta[: C.shape[1]] = np.log(np.maximum(
        np.bincount(cohort_codes, y) / np.bincount(cohort_codes), 1e-8))
    dev_old = np.inf
    for _ in range(200):
        eta = Z @ beta
        mu = np.exp(eta)
        score = Z.T @ (y - mu)
        info = Z.T @ (Z * mu[:, None])
        step = np.linalg.solve(info, score)
        s = 1.0
        while True:
            new = beta + s * step
            mu_new = np.exp(Z @ new)
            dev = 2 * np.sum(np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / mu_new), 0)
                             - (y - mu_new))
            if dev <= dev_old + 1e-12 * abs(dev_old) or s < 1e-8:
                break
            s /= 2
        beta = new
        if abs(dev_old - dev) <= 1e-12 * (abs(dev) + 1):
            break
        dev_old = dev
    else:
        raise SolverError("family='poisson': the Poisson fit did not converge in 200 iterations")
    mu = np.exp(Z @ beta)
    bread = np.linalg.inv(Z.T @ (Z * mu[:, None]))
    resid = y - mu
    K = count_parameters(Z.shape[1])
    corr = resolve_ssc(ssc)
    cov = sandwich_covariance(Z, resid, kind=kind, clusters=panel.clusters, n_params=K,
                              ssc=corr, bread=bread)
    if kind == "iid":
        # the Poisson variance function: V = B (sum mu x x') B = B
        Vb = bread
    else:
        Vb = cov.vcov
    # ATT(g,t) = mean over the cell of mu - mu0, mu0 without the cell's terms;
    # gradient mean(mu z - mu0 z0)
    tau = beta[offset:offset + k_cells]
    att = np.empty(k_cells)
    J = np.zeros((k_cells, Z.shape[1]))
    for j in range(k_cells):
        rows = X[:, j] != 0
        cols = [offset + c for c in design.cell_columns[j]]
        Zr = Z[rows]
        Z0 = Zr.copy()
        Z0[:, cols] = 0.0
        m1 = mu[rows]
        m0 = np.exp(Z0 @ beta)
        att[j] = (m1 - m0).mean()
        J[j] = (Zr * m1[:, None]).mean(axis=0) - (Z0 * m0[:, None]).mean(axis=0)
    V = J @ Vb @ J.T
    rows = (Z * resid[:, None]) @ bread @ J.T
    n_cl = None
    if kind == "cluster":
        codes, keys = pd.factorize(pd.Series(np.asarray(panel.clusters[0], dtype=object)),
                                   sort=True)
        summed = np.zeros((len(keys), rows.shape[1]))
        np.add.at(summed, codes, rows)
        rows, n_cl = summed, len(keys)
    influence = _influence(rows)
    note = (f"Poisson QMLE with cohort and period effects; standard errors {kind}"
            + (f" ({cov.n_clusters[0]} clusters, G/(G-1) and (n-1)/(n-K) factors)"
               if kind == "cluster" else "")
            + "; ATT(g,t) on the outcome scale by the delta method; normal reference.")
    return att, V, tau, note, influence


def _influence(rows: np.ndarray) -> DenseInfluence:
    """Rows (clusters or observations) of B x e scores, scaled so ``vcov()`` is CR0 / HC0."""
    n = rows.shape[0]
    return DenseInfluence(n * rows, cohort=np.zeros(n, dtype=np.intp),
                          weights=np.ones(n))
