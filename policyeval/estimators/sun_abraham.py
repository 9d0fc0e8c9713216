r"""Sun & Abraham (2021) interaction-weighted event study.

A two-way fixed-effects regression saturated in cohort × relative-period
interactions estimates every cohort-specific effect :math:`CATT_{g,e}`
against a clean control cohort (never treated, or the last treated cohort);
the event-time effects are their averages weighted by cohort shares. The
covariance of the aggregates follows by the delta method (exact here since
the map is linear) from the cluster-robust covariance of the regression,
which matches R ``fixest::sunab()`` and ``aggregate.fixest``.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval.estimators._fixed_effects import (
    examples,
    balanced_dummy_fit_applies,
    fit_balanced_dummies,
    influence_columns,
    fit_fe_ols,
    prepare_fe_panel,
    subset_panel,
)
from policyeval.estimators.twfe import (
    _check_vcov_args,
    _vcov_kind,
    _covariate_table,
    _event_options,
    _describe_vcov,
    _unit_cohorts,
    _spec,
)
from policyeval._validation import require_option
from policyeval.results.base import check_level
from policyeval.results.provenance import records_provenance
from policyeval.results.regression import SunAbrahamResult
from policyeval.results.regression import aggregate_cells as _aggregate
from policyeval.results.regression import combine_influence as _combine
from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    DroppedObservationsWarning,
    EstimationError,
    PolicyevalFutureWarning,
)
from policyeval.inference.covariance import (
    SmallSampleCorrection,
    resolve_ssc,
)
from policyeval.inference.treated_counts import warn_few_treated

__all__ = ["SunAbraham", "SunAbrahamResult"]


#: SunAbraham.fit(control_cohort=...) values before 0.2 -> control_group values
_OLD_CONTROL = {"never": "never_treated", "last": "last_treated"}


def _control_group(value) -> str:
    if value in _OLD_CONTROL:
        warnings.warn(f"control_group={value!r} is now {_OLD_CONTROL[value]!r}; the old value stops "
                      "working in the next release", PolicyevalFutureWarning, stacklevel=3)
        return _OLD_CONTROL[value]
    if not isinstance(value, str):
        raise ArgumentTypeError(
            f"control_group={value!r} must be 'never_treated' or 'last_treated' (control_group is "
            "the first argument of every staggered estimator; pass reference= by name)")
    require_option(value, "control_group", ("never_treated", "last_treated"))
    return value


def _no_bias_reduced(vcov) -> None:
    if _vcov_kind(vcov) in ("HC2", "CR2"):
        raise ArgumentValueError(
            f"vcov={vcov!r}: SunAbraham reports aggregated cells, whose Bell-McCaffrey df are "
            "not computed here; use ExtendedTWFE(control_group='never_treated', vcov='CR2'), the same "
            "saturated regression, whose aggregations carry their own df")


class SunAbraham:
    r"""Interaction-weighted event-study estimator of Sun & Abraham (2021).

    Parameters
    ----------
    control_group : {"never_treated", "last_treated"}
        The clean controls: never-treated units, or the last-treated cohort
        (see Notes). Called ``control_cohort`` with values ``"never"`` /
        ``"last"`` and given to ``fit`` before 0.2; both still work for one
        release, with a :class:`~policyeval.exceptions.PolicyevalFutureWarning`.
    reference : int or sequence of int
        Relative period(s) left out for every cohort (default -1).
    vcov : {"cluster", "CR1", "hetero", "HC1", "iid"}
        Covariance type (default clustered); see :class:`policyeval.TWFE`.
        For CR2/HC2 use :class:`policyeval.ExtendedTWFE`.
    cluster : str or list of str, optional
        Cluster column(s); default the unit.
    ssc : {"fixest", "full", "none"} or SmallSampleCorrection
        Small-sample convention (see :class:`policyeval.TWFE`); the default
        reproduces ``fixest``.
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Notes
    -----
    With cohorts :math:`g \in \mathcal G` (first treated period), control
    cohort :math:`C` and relative period :math:`e = t - g`, the regression

    .. math::

        y_{it} = \alpha_i + \lambda_t
            + \sum_{g \notin C} \sum_{e \notin R} \delta_{g,e}\,
              1[g_i = g]\,1[t - g_i = e] + X_{it}'\gamma + \varepsilon_{it}

    estimates :math:`\delta_{g,e} = CATT_{g,e}` (relative to the reference
    periods :math:`R`). The interaction-weighted estimator of the effect
    :math:`e` periods after treatment is

    .. math::

        \hat\nu_e = \sum_g \widehat{\Pr}(g_i = g \mid e)\, \hat\delta_{g,e},

    with the shares estimated by the cell sizes in the sample (as
    ``fixest::sunab`` does; the paper's variance also accounts for the
    estimated shares, fixest's and ours treat them as fixed).

    ``control_group="never_treated"`` uses never-treated units as controls and drops
    units treated in every observed period (always treated);
    ``control_group="last_treated"`` uses the last-treated cohort as the control and
    keeps only periods before it is treated (never-treated units, if any,
    stay in as controls).

    References
    ----------
    Sun, L. and Abraham, S. (2021). Estimating dynamic treatment effects in
    event studies with heterogeneous treatment effects. *Journal of
    Econometrics*, 225(2), 175-199.

    Examples
    --------
    Enclave destinations of the SIMULATED bundled panel (warnings name the
    rows with a missing outcome and the always-treated units left out):

    >>> import policyeval as pe
    >>> panel = pe.load_simulated_panel()
    >>> res = pe.SunAbraham().fit(panel, "log_gdp", "year", "county_code",
    ...                           "first_treat_destination")
    >>> att = res.aggregate("simple")
    >>> round(float(att.params.iloc[0]), 4), round(float(att.std_errors.iloc[0]), 4)
    (0.1008, 0.0148)
    """

    def __init__(
        self,
        control_group: str = "never_treated",
        reference: int | Sequence[int] = -1,
        vcov: str = "cluster",
        *,
        cluster: str | Sequence[str] | None = None,
        ssc: str | SmallSampleCorrection = "fixest",
        level: float = 0.95,
    ) -> None:
        self.control_group = _control_group(control_group)
        refs, _ = _event_options(reference, None)
        _check_vcov_args(vcov, cluster, ssc)
        _no_bias_reduced(vcov)
        self.level = check_level(level)
        self.reference = refs
        self.vcov = vcov
        self.cluster = cluster
        self.ssc = ssc

    @renamed_arguments(df="data")
    @records_provenance
    def fit(
        self,
        data: pd.DataFrame,
        yname: str,
        tname: str,
        idname: str,
        gname: str,
        control_cohort: str | None = None,
        covariates: str | Sequence[str] | None = None,
        weights: str | None = None,
    ) -> SunAbrahamResult:
        """Estimate the cohort × relative-period effects and their event-time averages.

        Parameters
        ----------
        data : pandas.DataFrame
            Long panel.
        yname, tname, idname : str
            Outcome, integer period and unit columns.
        gname : str
            First treated period; 0 or missing for never treated.
        control_cohort : {"never", "last"}, optional
            Deprecated: pass ``control_group`` to the constructor
            (``"never_treated"`` / ``"last_treated"``), as for every staggered
            estimator. Still accepted for one release, with a warning.
        covariates : str or list of str, optional
            Time-varying controls (``result.extra["covariates"]``).
        weights : str, optional
            Regression weights; they also weight the cohort shares.

        Returns
        -------
        SunAbrahamResult
            ``params`` indexed by event time; ``extra["reference_period"]``.

        Raises
        ------
        EstimationError
            If there is no never-treated unit with ``control_group="never_treated"``,
            fewer than two treated cohorts with ``"last_treated"``, or the
            interactions are collinear.
        TreatmentTimingError
            If ``gname`` varies within a unit.
        """
        df = data
        if control_cohort is not None:
            require_option(control_cohort, "control_cohort", ("never", "last"))
            warnings.warn(
                f"SunAbraham.fit(control_cohort={control_cohort!r}) is now SunAbraham(control_group="
                f"{_OLD_CONTROL[control_cohort]!r}), as for every staggered estimator; the old "
                "argument stops working in the next release", PolicyevalFutureWarning, stacklevel=2)
            control_group = _OLD_CONTROL[control_cohort]
        else:
            control_group = _control_group(self.control_group)
        _check_vcov_args(self.vcov, self.cluster, self.ssc)
        _no_bias_reduced(self.vcov)
        self.reference, _ = _event_options(self.reference, None)
        panel, covs = prepare_fe_panel(
            df, yname=yname, tname=tname, idname=idname, gname=gname, covariates=covariates,
            weights=weights, cluster=self.cluster, vcov=_vcov_kind(self.vcov), estimator="SunAbraham",
        )
        kind = _vcov_kind(self.vcov)
        unit_cohort = _unit_cohorts(panel)
        # one cohort per unit (checked): the same counts as from the rows, without a row pass
        warn_few_treated(None, cohort=unit_cohort, estimator="SunAbraham",
                         argument=f"gname={gname!r}")
        always = (unit_cohort > 0) & (unit_cohort <= panel.periods[0])
        if (control_group == "never_treated" and not always.any()
                and balanced_dummy_fit_applies(panel, kind, len(covs))):
            # balanced, nothing dropped: the cells and their dummies are a cohorts x periods
            # table, fitted from sums (no row-sized array; the dense path is the reference)
            fit, cells = self._fit_cohort_table(panel, unit_cohort, gname)
        else:
            panel, fit, cells = self._fit_rows(panel, covs, kind, control_group, gname, idname)

        beta = fit.params.to_numpy()[: len(cells)]
        V = fit.vcov.to_numpy()[: len(cells), : len(cells)]
        keys = cells["event_time"].to_numpy()
        est, cov, labels, W = _aggregate(beta, V, cells["weight"].to_numpy(), keys,
                                         np.ones(len(cells), bool))
        cell_influence = influence_columns(fit.influence, np.arange(len(cells)))
        index = pd.Index([int(k) for k in labels], name="event_time")
        spec = _spec(self, yname=yname, tname=tname, idname=idname, gname=gname,
                     covariates=covs, weights=weights, reference=self.reference,
                     control_group=control_group)
        ssc = resolve_ssc(self.ssc)
        return SunAbrahamResult(
            pd.Series(est, index=index),
            pd.Series(np.sqrt(np.diag(cov)), index=index),
            nobs=fit.nobs,
            n_units=fit.n_units,
            spec=spec,
            estimator="Sun & Abraham (2021)",
            vcov=pd.DataFrame(cov, index=index, columns=index),
            influence=_combine(cell_influence, W.T),
            df_resid=fit.cov.df_resid,
            index_name="event_time",
            level=self.level,
            extra={
                "reference_period": self.reference[0],
                "references": list(self.reference),
                "cells": cells,
                "cell_params": beta,
                "cell_vcov": V,
                "cell_influence": cell_influence,
                "covariates": _covariate_table(fit, covs),
                "vcov_type": fit.cov.kind,
                "n_clusters": fit.cov.n_clusters,
                "ssc": ssc,
                "notes": list(panel.notes) + [_describe_vcov(fit, spec["cluster_columns"], ssc)],
            },
        )

    def _fit_cohort_table(self, panel, unit_cohort: np.ndarray, gname: str):
        """The cells of a balanced panel with nothing dropped: every unit of cohort ``g``
        has every relative period ``t - g``, so the cells are (cohort, period) pairs."""
        unit_group, cohorts = pd.factorize(unit_cohort)
        if not (cohorts == 0).any():
            raise EstimationError(
                f"gname={gname!r}: no never-treated unit (gname 0 or missing, or first treated "
                "after the last period); use control_group='last_treated'"
            )
        n_g = np.bincount(unit_group, minlength=len(cohorts)).astype(float)
        codes = cohorts.astype(panel.cohort.dtype)
        e = panel.periods[None, :] - codes[:, None]                 # groups x periods
        cell = (codes > 0)[:, None] & ~np.isin(e, self.reference)
        order = np.argsort(codes, kind="stable")                     # cells by cohort, then e
        g_idx, t_idx = np.nonzero(cell[order])
        g_idx = order[g_idx]
        if not len(g_idx):
            raise EstimationError("no cohort × relative-period cell left to estimate")
        cells = pd.DataFrame({"cohort": codes[g_idx], "event_time": e[g_idx, t_idx],
                              "weight": n_g[g_idx] * 1.0})
        table = np.full(cell.shape, -1, dtype=np.intp)
        table[g_idx, t_idx] = np.arange(len(g_idx))
        names = [f"{g}:{k}" for g, k in pd.MultiIndex.from_frame(cells[["cohort", "event_time"]])]
        fit = fit_balanced_dummies(panel, None, names, ssc=self.ssc, groups=(unit_group, table))
        return fit, cells

    def _fit_rows(self, panel, covs, kind, control_group, gname, idname):
        """The cells from the rows (unbalanced, weighted, covariates, dropped units or periods)."""
        t = panel.periods[panel.time]
        e = t - panel.cohort
        treated = panel.cohort > 0

        # units treated from their first observed period carry no pre-period: no clean comparison
        # (a unit is always treated when none of its rows is untreated or before its start)
        before = np.bincount(panel.unit, weights=~treated | (e < 0), minlength=panel.n_units)
        always = (before == 0)[panel.unit]
        if always.any():
            warnings.warn(
                f"dropped {int(always.sum())} rows of {len(np.unique(panel.unit[always]))} units "
                f"treated in every period they are observed (always treated, e.g. "
                f"{examples(panel.frame.loc[always, idname])}); they have no pre-treatment period",
                DroppedObservationsWarning,
                stacklevel=3,
            )
        drop = always
        control = ~treated
        if control_group == "last_treated":
            cohorts = np.unique(panel.cohort[treated & ~always])
            if cohorts.size < 2:
                raise EstimationError(
                    "control_group='last_treated' needs at least two treated cohorts; found "
                    f"{examples(cohorts)}"
                )
            last = cohorts.max()
            late = t >= last
            if (late & ~drop).any():
                warnings.warn(
                    f"dropped {int((late & ~drop).sum())} rows from period {last} on, when the "
                    f"last cohort (control_group='last_treated', gname={last}) is treated",
                    DroppedObservationsWarning,
                    stacklevel=3,
                )
            drop = drop | late
            control = control | (panel.cohort == last)
        elif not (control & ~drop).any():
            raise EstimationError(
                f"gname={gname!r}: no never-treated unit (gname 0 or missing, or first treated "
                "after the last period); use control_group='last_treated'"
            )
        if drop.any():
            panel = subset_panel(panel, ~drop)
            e, control = e[~drop], control[~drop]
        treated_rows = ~control

        treated_rows &= ~np.isin(e, self.reference)
        cells = (
            pd.DataFrame({"cohort": panel.cohort[treated_rows], "event_time": e[treated_rows],
                          "weight": 1.0 if panel.weights is None else panel.weights[treated_rows]})
            .groupby(["cohort", "event_time"], as_index=False)["weight"].sum()
        )
        if cells.empty:
            raise EstimationError("no cohort × relative-period cell left to estimate")
        cell_id = pd.MultiIndex.from_frame(cells[["cohort", "event_time"]])
        span = int(e.max() - e.min()) + 1
        cell_key = (cells["cohort"].to_numpy() * span + cells["event_time"].to_numpy() - e.min())
        hit = np.flatnonzero(treated_rows)  # controls and reference periods get no dummy
        row_cell = np.searchsorted(cell_key, panel.cohort[hit] * span + e[hit] - e.min())
        names = [f"{g}:{k}" for g, k in cell_id] + covs
        if balanced_dummy_fit_applies(panel, kind, len(covs)):
            # balanced, unweighted, unit-clustered: the cell dummies' fit from period, cohort
            # and cell sums, no rows x cells matrix (the dense path is the tests' reference)
            col = np.full(len(panel.y), -1, dtype=np.intp)
            col[hit] = row_cell
            fit = fit_balanced_dummies(panel, col, names, ssc=self.ssc)
        else:
            X = np.zeros((len(panel.y), len(cells) + len(covs)))
            X[hit, row_cell] = 1.0
            for j, c in enumerate(covs):
                X[:, len(cells) + j] = panel.frame[c].to_numpy(dtype=float)
            fit = fit_fe_ols(panel, X, names, vcov=kind, ssc=self.ssc)

        return panel, fit, cells
