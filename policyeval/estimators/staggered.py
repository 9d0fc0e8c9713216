"""Callaway & Sant'Anna (2021) difference-in-differences with staggered adoption.

The estimator computes every group-time average treatment effect

.. math::

    ATT(g,t) = E[Y_t(g) - Y_t(\\infty) \\mid G = g]

by a 2x2 comparison of cohort ``g`` with a control group between period
``t`` and a base period, then aggregates them (see
:meth:`policyeval.results.staggered.GroupTimeResult.aggregate`).

Speed. A balanced panel stored in unit blocks (the usual layout) becomes the
wide ``n_units x n_periods`` outcome matrix by a reshape, and its checks run
on per-unit values. Without covariates every estimator (``reg``, ``ipw``,
``dr``) reduces to a difference of weighted cohort means of outcome changes,
so all ATT(g,t) come from one table of cohort x period sums, computed in one
blocked pass over the outcomes together with the per-cohort moments the
variance needs (:func:`~policyeval.inference.influence.cohort_feature_moments`),
and the influence function is kept implicitly
(:class:`~policyeval.inference.influence.CohortInfluence`): a million-unit
panel needs the wide outcome matrix and a few kilobytes more. With
covariates, the cells that share a cohort, its controls and the base-period
covariates (all of a cohort's cells when the covariates are time-invariant
and the controls never treated) share one propensity score and one outcome
regression design; their influence functions are one dense block per batch
on the rows of the cohort and its controls.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._out_of_core import out_of_core
from policyeval._validation import check_clusters, check_draws, column_list, require_option
from policyeval._deprecation import renamed_arguments, warn_renamed
from policyeval.results.provenance import records_provenance
from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    EstimationError,
    EstimationWarning,
    PolicyevalFutureWarning,
)
from policyeval.estimators._staggered_cov import att_panel_batch, att_rc, check_design
from policyeval.estimators._staggered_data import StaggeredData, prepare
from policyeval.estimators.group_time import (
    cells_from_cohort_sums,
    check_cohort_sizes,
    control_cohorts,
    group_time_cells,
    treated_cohorts,
)
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.inference.influence import BlockInfluence, CohortInfluence, cohort_feature_moments
from policyeval.results.staggered import AggregateResult, GroupTimeResult

__all__ = ["CallawaySantAnna", "GroupTimeResult", "AggregateResult"]

_CONTROL = ("never_treated", "not_yet_treated")
_METHODS = ("dr", "ipw", "reg", "dr_imp")
_BASE = ("varying", "universal")


class _no_raw_linalg:
    """Turn a :class:`numpy.linalg.LinAlgError` from a cell's nuisance models into an
    :class:`EstimationError` naming the cell and the covariates."""

    def __init__(self, where: str, covs: list) -> None:
        self.where, self.covs = where, covs

    def __enter__(self):
        return self

    def __exit__(self, kind, err, tb):
        if kind is not None and issubclass(kind, np.linalg.LinAlgError):
            raise EstimationError(
                f"{self.where}: the outcome regression / propensity score design on covariates "
                f"{self.covs} is singular ({err}); a covariate is (nearly) constant or collinear "
                "among these units. Drop it or merge cohorts.") from err
        return False


def _outcome_changes(Y: np.ndarray, rows: np.ndarray, ts, bs, block: int = 4096) -> np.ndarray:
    """``Y[rows][:, ts] - Y[rows][:, bs]`` in blocks of rows: one output array, small temporaries."""
    ts, bs = np.asarray(ts), np.asarray(bs)
    out = np.empty((len(rows), len(ts)))
    for start in range(0, len(rows), block):
        Yb = Y[rows[start:start + block]]
        np.subtract(Yb[:, ts], Yb[:, bs], out=out[start:start + block])
    return out


def _warn_overlap(notes: list, n_fits: int, method: str) -> None:
    """One warning for all propensity-score fits with poor overlap (first three shown)."""
    if not notes:
        return
    shown = " | ".join(notes[:3]) + (" | ..." if len(notes) > 3 else "")
    warnings.warn(
        f"poor overlap in {len(notes)} of {n_fits} propensity-score fits (method={method!r}); "
        f"the ATT(g,t) there rest on few, heavily weighted controls: {shown}. Check the "
        "covariate balance, restrict to common support, or compare with method='reg'.",
        EstimationWarning, stacklevel=4)


class CallawaySantAnna:
    """Group-time ATTs for staggered adoption (Callaway & Sant'Anna 2021).

    Parameters
    ----------
    control_group : {"never_treated", "not_yet_treated"}
        Comparison units: those never treated in the data, or also those not
        yet treated (first treated after ``max(t, base) + anticipation``).
    method : {"dr", "ipw", "reg", "dr_imp"}
        ``dr``: doubly robust of Sant'Anna & Zhao (2020) with a logit
        propensity score and a linear outcome model for the controls
        (``DRDID::drdid_panel``, which R ``did``'s ``est_method="dr"`` calls);
        ``ipw``: normalised inverse probability weighting
        (``std_ipw_did_panel``); ``reg``: outcome regression
        (``reg_did_panel``); ``dr_imp``: the "improved" locally efficient
        doubly robust estimator with an inverse-probability-tilting
        propensity score (``drdid_imp_panel``). Without covariates all
        coincide.
    base_period : {"varying", "universal"}
        ``varying``: pre-treatment ATT(g,t) compare ``t`` with ``t-1``;
        ``universal``: every ATT(g,t) uses period ``g - anticipation - 1``
        (which then appears with ATT = 0).
    anticipation : int
        Number of periods before ``g`` in which units may already react.
    cluster : str, optional
        Cluster column for standard errors (a unit or a coarser level,
        constant within unit). Default: the unit.
    panel : bool
        ``True``: panel data (one row per unit and period). ``False``:
        repeated cross-sections (``idname`` optional).
    allow_unbalanced_panel : bool
        With ``panel=True``, keep units not observed in every period and
        estimate as repeated cross-sections, clustered by unit. Default:
        drop them with a :class:`~policyeval.exceptions.DroppedObservationsWarning`
        (R ``did`` balances the panel too).
    n_bootstrap : int
        0 (default) for analytic influence-function standard errors; else
        the number of multiplier-bootstrap draws, which also gives uniform
        confidence bands.
    multiplier : {"rademacher", "mammen"}
        Distribution of the bootstrap multipliers (called ``bootstrap_weights``
        before 0.2; ``weights`` means sampling weights only).
    random_state : int, optional
        Seed of the bootstrap.
    level : float
        Confidence level of every interval and of the uniform band.
    trim_level : float
        Controls with propensity score above this get zero weight (ipw, dr).
    progress : bool
        Progress bar during the bootstrap.

    Notes
    -----
    For cohort :math:`g`, period :math:`t` and base period :math:`b`, with
    :math:`C` the comparison units and unit weights :math:`w_i`, without
    covariates

    .. math::

        \\widehat{ATT}(g,t) = \\frac{\\sum_{G_i=g} w_i (Y_{it}-Y_{ib})}{\\sum_{G_i=g} w_i}
        - \\frac{\\sum_{i\\in C} w_i (Y_{it}-Y_{ib})}{\\sum_{i\\in C} w_i},

    with influence function :math:`\\psi_i = n w_i(\\Delta Y_i - \\mu_g)/W_g`
    for the cohort and :math:`-n w_i(\\Delta Y_i - \\mu_C)/W_C` for controls;
    :math:`\\widehat{se} = \\sqrt{\\sum_c (\\sum_{i\\in c}\\psi_i)^2}/n` over
    clusters :math:`c` (units by default). With covariates (taken at the
    base period, as R ``did``) the 2x2 estimators of Sant'Anna & Zhao (2020)
    are used per cell. Differences from R ``did`` 2.x: with
    ``control_group="never_treated"`` and no never-treated units this raises
    instead of recoding the last cohort as never treated.

    What is dropped, never silently (each with a
    :class:`~policyeval.exceptions.DroppedObservationsWarning` giving the
    count and the reason): rows with a missing outcome, covariate or weight;
    units treated in every period (``gname <= first period + anticipation``,
    as R ``did``); with ``panel=True``, units not observed in every period
    (unless ``allow_unbalanced_panel=True``); with ``not_yet_treated`` and no
    never-treated unit, the periods from the last cohort's treatment on (that
    cohort then serves only as a control). Units first treated after the last
    period are used as never treated (an
    :class:`~policyeval.exceptions.EstimationWarning` says how many).

    With repeated cross-sections (``panel=False``, or an unbalanced panel
    kept with ``allow_unbalanced_panel=True``) the cross-section estimators
    ``reg_did_rc``, ``std_ipw_did_rc`` and ``drdid_rc`` are used, with
    covariates taken from each observation.

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences
    with multiple time periods. Journal of Econometrics 225(2), 200-230.
    Sant'Anna, P. H. C. and Zhao, J. (2020). Doubly robust
    difference-in-differences estimators. Journal of Econometrics 219(1),
    101-122.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> import policyeval as pe
    >>> rng = np.random.default_rng(0)
    >>> n, years = 300, np.arange(2001, 2007)
    >>> g = rng.choice([0, 2003, 2005], n)
    >>> df = pd.DataFrame({"county_code": np.repeat(np.arange(n), len(years)),
    ...                    "year": np.tile(years, n), "first_treat": np.repeat(g, len(years))})
    >>> df["y"] = rng.normal(size=len(df)) + ((df.first_treat > 0) & (df.year >= df.first_treat))
    >>> res = pe.CallawaySantAnna().fit(df, yname="y", tname="year",
    ...                                 idname="county_code", gname="first_treat")
    >>> res.att_gt[["group", "time", "estimate", "std_error"]].shape
    (10, 4)
    >>> agg = res.aggregate("dynamic")          # event study; true effect is 1 after treatment
    >>> bool(abs(agg.overall["estimate"] - 1) < 3 * agg.overall["std_error"])
    True
    """

    @renamed_arguments(bootstrap_weights="multiplier")
    def __init__(self, control_group: str = "never_treated", method: str = "dr",
                 base_period: str = "varying", anticipation: int = 0, *,
                 cluster: str | None = None, panel: bool = True,
                 allow_unbalanced_panel: bool = False, n_bootstrap: int = 0,
                 multiplier: str = "rademacher", random_state=None, level: float = 0.95,
                 trim_level: float = 0.995, progress: bool = True) -> None:
        self.control_group = control_group
        self.method = method
        self.base_period = base_period
        self.anticipation = anticipation
        self.cluster = cluster
        self.n_bootstrap = n_bootstrap
        self.multiplier = multiplier
        self.level = level
        self.trim_level = trim_level
        self._check_options(warn=False)
        self.anticipation = int(anticipation)
        self.n_bootstrap = int(n_bootstrap)
        self.panel = bool(panel)
        self.allow_unbalanced_panel = bool(allow_unbalanced_panel)
        self.random_state = random_state
        self.progress = progress

    def _check_options(self, warn: bool = True) -> None:
        """Validate the options; run by ``__init__`` and again by ``fit()``."""
        require_option(self.control_group, "control_group", _CONTROL)
        require_option(self.method, "method", _METHODS)
        require_option(self.base_period, "base_period", _BASE)
        a = self.anticipation
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or a < 0:
            raise ArgumentTypeError(f"anticipation={a!r} must be a non-negative integer")
        check_draws(self.n_bootstrap, "n_bootstrap", allow_zero=True, warn=warn, stacklevel=4)
        require_option(self.multiplier, "multiplier", ("rademacher", "mammen"))
        if isinstance(self.level, bool) or not isinstance(self.level, (int, float)) \
                or not 0 < self.level < 1:
            raise ArgumentValueError(f"level={self.level!r} must lie strictly between 0 and 1")
        tl = self.trim_level
        if isinstance(tl, bool) or not isinstance(tl, (int, float)) or not 0.5 < tl <= 1:
            raise ArgumentValueError(f"trim_level={tl!r} must lie in (0.5, 1]")

    @property
    def bootstrap_weights(self) -> str:
        """Old name of :attr:`multiplier` (before 0.2); warns."""
        warn_renamed("CallawaySantAnna", "bootstrap_weights", "multiplier")
        return self.multiplier

    @bootstrap_weights.setter
    def bootstrap_weights(self, value: str) -> None:
        warn_renamed("CallawaySantAnna", "bootstrap_weights", "multiplier")
        self.multiplier = value

    def __repr__(self) -> str:
        return (f"CallawaySantAnna(control_group={self.control_group!r}, method={self.method!r}, "
                f"base_period={self.base_period!r}, anticipation={self.anticipation})")

    # ------------------------------------------------------------------
    @records_provenance
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str | None = None,
            gname: str | None = None, covariates=None, weights: str | None = None,
            cluster: str | None = None) -> GroupTimeResult:
        """Estimate every ATT(g,t).

        Parameters
        ----------
        data : pandas.DataFrame, path, DuckDB relation or Dask DataFrame
            Long data: one row per unit and period (panel) or per observation.
            Anything but a pandas DataFrame (a Parquet/CSV file or folder, a
            DuckDB relation, a Dask DataFrame) is estimated out of core from
            sufficient statistics by :func:`policyeval.scale.fit_callaway_santanna`
            (balanced panels; ``method="reg"`` with time-invariant covariates,
            or no covariates), giving the same numbers as the in-memory path.
        yname, tname, idname, gname : str
            Outcome, integer time period, unit id, and first treated period
            (0 or missing for never treated) columns.
        covariates : list of str, optional
            Covariate columns; their base-period values enter each cell.
        weights : str, optional
            Sampling-weight column (constant within unit for panels).
        cluster : str, optional
            Deprecated: pass ``cluster`` to the constructor, as for every
            estimator (``CallawaySantAnna(cluster="prov")``). Still accepted
            for one release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.

        Returns
        -------
        GroupTimeResult

        Raises
        ------
        ColumnNotFoundError
            A named column is not in ``data``.
        TreatmentTimingError
            ``gname`` varies within a unit (including treatment switching off).
        DataError
            Non-integer or missing time, duplicated (unit, period), weights
            or clusters varying within unit, ...
        EstimationError
            No never-treated units with ``control_group="never_treated"``,
            a cohort too small for the covariates, collinear covariates, a
            constant outcome, one cluster, or a propensity score without a
            maximum likelihood estimate (a covariate separating a cohort from
            its controls; the message names the cohort and the covariate).
        DataError
            Also: infinite outcomes, covariates or weights (e.g. ``1e309``),
            negative or all-zero weights, dates as periods, a single period.
        TreatmentTimingError
            Also: a ``gname`` that is a 0/1 indicator.
        ArgumentValueError
            An option changed after construction to an invalid value.

        Warns
        -----
        EstimationWarning
            Fewer than 30 clusters (see
            :data:`policyeval._validation.MIN_CLUSTERS`); poor overlap of a
            propensity score (treated units beyond ``trim_level``, trimmed
            controls, one control carrying much of the weight), once per fit.
        """
        self._check_options(warn=False)   # the bootstrap itself warns about few draws
        if cluster is not None:
            warnings.warn(
                "CallawaySantAnna.fit(cluster=...) is now CallawaySantAnna(cluster=...), as for "
                "every estimator; the fit argument stops working in the next release",
                PolicyevalFutureWarning, stacklevel=2)
            if self.cluster is not None and self.cluster != cluster:
                raise ArgumentValueError(
                    f"cluster={cluster!r} in fit() contradicts CallawaySantAnna(cluster="
                    f"{self.cluster!r}); pass it to the constructor only")
        else:
            cluster = self.cluster
        if gname is None:
            raise ArgumentTypeError("gname is required: the column with the first treated period")
        if self.panel and idname is None:
            raise ArgumentTypeError("idname is required with panel=True")
        if not isinstance(data, pd.DataFrame):
            return out_of_core("CallawaySantAnna")(data, yname, tname, idname, gname, covariates, weights,
                                                   cluster, estimator=self)
        covs = column_list(covariates, "covariates")
        d = prepare(data, yname=yname, tname=tname, idname=idname, gname=gname, covariates=covs,
                    weights=weights, cluster=cluster, panel=self.panel,
                    allow_unbalanced_panel=self.allow_unbalanced_panel,
                    control_group=self.control_group, anticipation=self.anticipation)
        check_clusters(d.n_clusters, cluster if cluster is not None else
                       (f"cluster=idname={idname!r} (the default)" if idname is not None
                        else "cluster=None (each observation its own cluster)"),
                       estimator="CallawaySantAnna")
        # units (balanced panel), else the clusters the standard errors use (unit if unbalanced)
        warn_few_treated(None if d.panel else d.cluster, d.group, estimator="CallawaySantAnna",
                         argument=f"gname={gname!r}")
        if covs and not d.panel and self.method == "dr_imp":
            raise EstimationError("method='dr_imp' is for panel data; with repeated cross-sections use "
                                  "method='dr', 'ipw' or 'reg'")
        cohort_values = np.unique(d.group)                  # sorted, inf (never treated) last
        cohort = np.searchsorted(cohort_values, d.group)
        glist = treated_cohorts(cohort_values)              # without never treated, the last is a control
        if len(glist) == 0:
            raise EstimationError(f"gname={gname!r}: no treated cohort left to estimate")
        cells = self._cells(d.periods, glist)
        # per cohort: units (panel) or the fewest observations in any one period (cross-sections)
        sizes = (np.bincount(cohort, minlength=len(cohort_values)) if d.panel else
                 np.bincount(cohort * len(d.periods) + d.period_code,
                             minlength=len(cohort_values) * len(d.periods))
                 .reshape(len(cohort_values), -1).min(axis=1))
        if covs:
            self._check_cohort_sizes(cohort_values, sizes, covs, gname)
        if d.panel and not covs:
            est, infl, n_t, n_c = self._panel_means(d, cohort, cohort_values, cells)
            code_cohort = np.arange(len(cohort_values))
        elif d.panel:
            est, infl, n_t, n_c = self._panel_covariates(d, cohort, cohort_values, cells, covs)
            code_cohort = np.arange(len(cohort_values))
        elif covs:
            est, infl, n_t, n_c = self._cross_section_covariates(d, cohort, cohort_values, cells, covs)
            code_cohort = np.arange(len(cohort_values))
        else:
            est, infl, n_t, n_c, code_cohort = self._cross_section_means(d, cohort, cohort_values, cells)
        n_rows = len(d.group)
        shares = np.bincount(cohort, weights=d.weights, minlength=len(cohort_values)) / n_rows
        table = pd.DataFrame({
            "group": [c[0] for c in cells], "time": [d.periods[c[1]] for c in cells],
            "base_period": [d.periods[c[2]] for c in cells], "post": [c[3] for c in cells],
            "estimate": est, "n_treated": n_t, "n_control": n_c})
        table["group"] = table["group"].astype(float)
        if np.all(np.mod(table["group"], 1) == 0):
            table["group"] = table["group"].astype(np.int64)
        if np.isnan(est).any():
            bad = table.loc[np.isnan(est), ["group", "time"]].astype(str).agg("/".join, axis=1)
            warnings.warn(f"ATT(g,t) could not be estimated (no treated or no control units) for "
                          f"{len(bad)} cells (e.g. {', '.join(bad[:3])}).", EstimationWarning, stacklevel=2)
        spec = {"yname": yname, "tname": tname, "idname": idname, "gname": gname, "covariates": covs,
                "weights": weights, "cluster": cluster, "control_group": self.control_group,
                "method": self.method, "base_period": self.base_period,
                "anticipation": self.anticipation, "panel": d.panel,
                "first_period": float(d.periods[0]), "periods": d.periods.tolist(),
                "n_bootstrap": self.n_bootstrap, "multiplier": self.multiplier,
                "random_state": self.random_state, "progress": self.progress}
        result = GroupTimeResult(table, infl, group_shares=shares, cohort_of_code=code_cohort,
                                 cohort_values=cohort_values, nobs=d.nobs, n_units=d.n_units, spec=spec,
                                 level=self.level, notes=d.notes,
                                 unit_ids=d.ids if d.panel else None)
        if self.n_bootstrap:
            result = result.bootstrap(self.n_bootstrap, multiplier=self.multiplier,
                                      random_state=self.random_state, progress=self.progress)
        return result

    # ------------------------------------------------------------------
    # The cell arithmetic is plain functions (policyeval.estimators.group_time), shared with the
    # out-of-core path; these methods pass this estimator's options to them.
    def _cells(self, periods, glist):
        """(g, t index, base index, post) for every ATT(g,t), in R did's order."""
        return group_time_cells(periods, glist, base_period=self.base_period, anticipation=self.anticipation)

    def _controls(self, cohort_values, g, periods, ti, b):
        return control_cohorts(cohort_values, g, periods, ti, b, control_group=self.control_group,
                               anticipation=self.anticipation)

    def _check_cohort_sizes(self, cohort_values, sizes, covs, gname):
        check_cohort_sizes(cohort_values, sizes, covs, gname, stacklevel=4)

    def _panel_means(self, d: StaggeredData, cohort, cohort_values, cells):
        """All ATT(g,t) from cohort x period sums; influence function kept implicitly."""
        Y, w = d.outcomes, d.weights
        n, T = Y.shape
        C = len(cohort_values)
        # one blocked pass over Y: per-cohort feature moments (the variance needs them), whose
        # last row holds every cohort x period weighted sum, weight total and unit count
        Q = cohort_feature_moments(Y, w, cohort, C)
        S, W = Q[:, :T, T + 1].copy(), Q[:, T, T + 1].copy()
        counts = np.rint(Q[:, T + 1, T + 1]).astype(np.int64)
        est, coef, n_t, n_c = self._cells_from_cohort_sums(cells, cohort_values, d.periods,
                                                           counts, W, S, n)
        infl = CohortInfluence(Y, w, cohort, coef, cluster=d.cluster, n_clusters=d.n_clusters,
                               moments=Q if d.cluster is None else None)
        return est, infl, n_t, n_c

    def _cells_from_cohort_sums(self, cells, cohort_values, periods, counts, W, S, n):
        """Every ATT(g,t) from cohort-period sums: :func:`~policyeval.estimators.group_time.cells_from_cohort_sums`."""
        return cells_from_cohort_sums(cells, cohort_values, periods, counts, W, S, n,
                                      control_group=self.control_group, anticipation=self.anticipation)

    def _panel_covariates(self, d: StaggeredData, cohort, cohort_values, cells, covs):
        """2x2 estimators (reg / ipw / dr) per cell, batched over cells that share nuisances.

        Cells with the same cohort, the same control units and the same
        base-period covariates (all of a cohort's cells when the covariates
        are time-invariant and the controls never treated) share the
        propensity score and the regression design, so these are fitted once
        and all their outcome changes are handled as one matrix. The
        influence function is stored as one dense block per batch, on the
        rows of the cohort and its controls only.
        """
        Y, w = d.outcomes, d.weights
        n = Y.shape[0]
        Xall = d.covariates
        time_invariant = bool(np.all(Xall == Xall[:, :, :1]))
        order = np.argsort(cohort, kind="stable")
        bounds = np.searchsorted(cohort[order], np.arange(len(cohort_values) + 1))
        rows_of = [order[bounds[c]:bounds[c + 1]] for c in range(len(cohort_values))]
        k = len(cells)
        est = np.full(k, np.nan)
        n_t = np.zeros(k, dtype=np.int64)
        n_c = np.zeros(k, dtype=np.int64)
        batches: dict = {}
        for j, (g, ti, b, _) in enumerate(cells):
            cg = int(np.searchsorted(cohort_values, g))
            ctrl = np.flatnonzero(self._controls(cohort_values, g, d.periods, ti, b))
            n_t[j] = len(rows_of[cg])
            n_c[j] = sum(len(rows_of[c]) for c in ctrl)
            if ti == b:
                est[j] = 0.0
            elif n_t[j] and n_c[j]:
                batches.setdefault((cg, tuple(ctrl), None if time_invariant else b), []).append(j)
        blocks = []
        overlap: list[str] = []
        for (cg, ctrl, _), js in batches.items():
            # sorted runs: the stable sort merges them in one pass
            rows = np.sort(np.concatenate([rows_of[cg], *[rows_of[c] for c in ctrl]]), kind="stable")
            D = (cohort[rows] == cg).astype(float)
            b0 = cells[js[0]][2]
            X = np.column_stack([np.ones(len(rows)), Xall[:, rows, b0].T])
            g = cells[js[0]][0]
            base = "" if time_invariant else f" at base period {d.periods[b0]}"
            check_design(X[D == 0], covs, f"controls of cohort {g:g}{base}")
            check_design(X, covs, f"cohort {g:g} and its controls{base}")
            ts = [cells[j][1] for j in js]
            bs = [cells[j][2] for j in js]
            DY = _outcome_changes(Y, rows, ts, bs)
            where = (f"cohort {g:g} vs its {int((D == 0).sum())} controls{base} (ATT(g,t) for "
                     f"t = {', '.join(str(d.periods[t]) for t in ts[:4])}{', ...' if len(ts) > 4 else ''})")
            with _no_raw_linalg(where, covs):
                att, inf = att_panel_batch(DY, D, X, w[rows], self.method, self.trim_level,
                                           where=where, names=covs, notes=overlap)
            inf *= n / len(rows)
            est[js] = att
            blocks.append((rows, np.asarray(js), inf))
        _warn_overlap(overlap, len(batches), self.method)
        infl = BlockInfluence(n, k, blocks, cohort, w, cluster=d.cluster, n_clusters=d.n_clusters)
        return est, infl, n_t, n_c

    def _cross_section_covariates(self, d: StaggeredData, cohort, cohort_values, cells, covs):
        """Repeated cross-sections with covariates: one 2x2 estimator per cell on its observations."""
        y, w, tcode = d.outcomes[:, 0], d.weights, d.period_code
        n = len(y)
        C, T = len(cohort_values), len(d.periods)
        code = cohort * T + tcode
        order = np.argsort(code, kind="stable")
        bounds = np.searchsorted(code[order], np.arange(C * T + 1))
        rows_of = [order[bounds[c]:bounds[c + 1]] for c in range(C * T)]
        k = len(cells)
        est = np.full(k, np.nan)
        n_t = np.zeros(k, dtype=np.int64)
        n_c = np.zeros(k, dtype=np.int64)
        blocks = []
        overlap: list[str] = []
        n_fits = 0
        for j, (g, ti, b, _) in enumerate(cells):
            cg = int(np.searchsorted(cohort_values, g))
            ctrl = np.flatnonzero(self._controls(cohort_values, g, d.periods, ti, b))
            periods = [ti] if ti == b else [ti, b]
            treated = np.concatenate([rows_of[cg * T + p] for p in periods])
            controls = np.concatenate([rows_of[c * T + p] for c in ctrl for p in periods] or [np.empty(0, int)])
            n_t[j], n_c[j] = len(treated), len(controls)
            if ti == b:
                est[j] = 0.0
                continue
            cells_present = [len(rows_of[c * T + p]) for c in (cg,) for p in periods]
            ctrl_present = [sum(len(rows_of[c * T + p]) for c in ctrl) for p in periods]
            if min(cells_present + ctrl_present) == 0:
                continue
            rows = np.sort(np.concatenate([treated, controls]))
            D = (cohort[rows] == cg).astype(float)
            post = (tcode[rows] == ti).astype(float)
            X = np.column_stack([np.ones(len(rows)), d.covariates[rows]])
            for p in (0.0, 1.0):
                label = d.periods[ti] if p else d.periods[b]
                check_design(X[(D == 0) & (post == p)], covs, f"controls of cohort {g:g} in period {label}")
                if self.method == "dr":
                    check_design(X[(D == 1) & (post == p)], covs, f"cohort {g:g} in period {label}")
            where = f"ATT(g={g:g}, t={d.periods[ti]}) (base period {d.periods[b]})"
            with _no_raw_linalg(where, covs):
                att, inf = att_rc(y[rows], post, D, X, w[rows], self.method, self.trim_level,
                                  where=where, names=covs, notes=overlap)
            n_fits += 1
            est[j] = att
            blocks.append((rows, np.array([j]), (inf * (n / len(rows)))[:, None]))
        _warn_overlap(overlap, n_fits, self.method)
        infl = BlockInfluence(n, k, blocks, cohort, w, cluster=d.cluster, n_clusters=d.n_clusters)
        return est, infl, n_t, n_c

    def _cross_section_means(self, d: StaggeredData, cohort, cohort_values, cells):
        """Repeated cross-sections: four cell means per ATT(g,t), influence kept implicitly.

        The influence-function "cohort" of a row is (cohort, period), so a
        row's coefficient depends on both.
        """
        y, w, tcode = d.outcomes, d.weights, d.period_code
        n = len(y)
        C, T = len(cohort_values), len(d.periods)
        code = cohort * T + tcode
        W = np.bincount(code, weights=w, minlength=C * T).reshape(C, T)
        S = np.bincount(code, weights=w * y[:, 0], minlength=C * T).reshape(C, T)
        counts = np.bincount(code, minlength=C * T).reshape(C, T)
        k = len(cells)
        coef = np.zeros((C * T, 3, k))
        est = np.full(k, np.nan)
        n_t = np.zeros(k, dtype=np.int64)
        n_c = np.zeros(k, dtype=np.int64)
        for j, (g, ti, b, _) in enumerate(cells):
            cg = int(np.searchsorted(cohort_values, g))
            ctrl = self._controls(cohort_values, g, d.periods, ti, b)
            n_t[j] = counts[cg, [ti, b]].sum() if ti != b else counts[cg, ti]
            n_c[j] = counts[ctrl][:, [ti, b]].sum() if ti != b else counts[ctrl, ti].sum()
            if ti == b:
                est[j] = 0.0
                continue
            parts = []
            for members, tau, sign in ((np.array([cg]), ti, 1.0), (np.array([cg]), b, -1.0),
                                       (np.flatnonzero(ctrl), ti, -1.0), (np.flatnonzero(ctrl), b, 1.0)):
                wsum = W[members, tau].sum()
                parts.append((members, tau, sign, wsum, S[members, tau].sum() / wsum if wsum > 0 else np.nan))
            if any(p[3] <= 0 for p in parts):
                continue
            est[j] = sum(sign * mu for _, _, sign, _, mu in parts)
            for members, tau, sign, wsum, mu in parts:
                codes = members * T + tau
                coef[codes, 0, j] += sign * n / wsum
                coef[codes, 1, j] -= sign * n * mu / wsum
        infl = CohortInfluence(y, w, code, coef, cluster=d.cluster, n_clusters=d.n_clusters)
        code_cohort = np.repeat(np.arange(C), T)
        return est, infl, n_t, n_c, code_cohort
