r"""Two-way fixed-effects regressions: the static TWFE DiD and the event study.

Both regress the outcome on treatment terms with unit and period effects
absorbed exactly (:func:`policyeval.estimators._fixed_effects.absorb_unit_time`)
and report cluster-robust standard errors with R ``fixest``'s small-sample
conventions by default (:mod:`policyeval.inference.covariance`). Tests check
them against fixest's published output, OLS with explicit dummies and
linearmodels' ``PanelOLS``.

With heterogeneous effects under staggered adoption the static coefficient is
a weighted average of 2×2 comparisons with possibly negative weights
(Goodman-Bacon 2021); use :class:`policyeval.SunAbraham` or
:class:`policyeval.CallawaySantAnna` for the event-time effects themselves.
"""

from __future__ import annotations

import copy
import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval.estimators._fixed_effects import (
    FEFit,
    FEPanel,
    examples,
    balanced_dummy_fit_applies,
    fit_balanced_dummies,
    influence_columns,
    fit_fe_ols,
    prepare_fe_panel,
    parse_fe,
    subset_panel,
)
from policyeval.estimators._inputs import unit_row_starts
from policyeval.estimators._two_way import fit_two_way, two_way_applies
from policyeval._out_of_core import out_of_core
from policyeval._validation import column_list
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DroppedObservationsWarning,
    EstimationError,
    EstimationWarning,
    TreatmentTimingError,
)
from policyeval.inference.covariance import SmallSampleCorrection, resolve_ssc
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.results.base import HEADLINE, EstimationResult, check_level
from policyeval.results.provenance import records_provenance
from policyeval.results.regression import RegressionResult

__all__ = ["TWFE", "EventStudy", "RegressionResult"]


def _describe_vcov(fit: FEFit, clusters: list[str], ssc: SmallSampleCorrection) -> str:
    if fit.cov.kind in ("HC2", "CR2"):
        df = np.asarray(fit.cov.df_resid, dtype=float)
        where = (f"clustered by {clusters[0]} ({fit.cov.n_clusters[0]} clusters)"
                 if fit.cov.kind == "CR2" else "one observation per cluster")
        return (
            f"Standard errors: {fit.cov.kind} (Bell & McCaffrey bias-reduced), {where}; the hat "
            "matrix includes every fixed effect; no further small-sample factor. t distribution "
            "with Bell-McCaffrey / Satterthwaite degrees of freedom per coefficient "
            f"(from {np.nanmin(df):.2f} to {np.nanmax(df):.2f})."
        )
    if fit.cov.kind == "cluster":
        sizes = ", ".join(f"{c}: {g}" for c, g in zip(clusters, fit.cov.n_clusters))
        kind = f"clustered ({sizes})"
    else:
        kind = {"hetero": "heteroskedasticity-robust (HC1)", "iid": "classical (iid)"}[fit.cov.kind]
    return (
        f"Standard errors: {kind}; small-sample correction adj={ssc.adj}, "
        f"fixef_k={ssc.fixef_k!r}, cluster_adj={ssc.cluster_adj}, cluster_df={ssc.cluster_df!r} "
        f"(K={fit.cov.n_params}); t distribution with {fit.cov.df_resid} df."
    )


def _result(
    fit: FEFit,
    terms: Sequence,
    *,
    estimator: str,
    spec: dict,
    index_name: str,
    panel: FEPanel,
    ssc: SmallSampleCorrection,
    extra: dict,
    result_class=RegressionResult,
    term_aliases: dict | None = None,
) -> EstimationResult:
    params = fit.params.loc[list(terms)]
    notes = list(panel.notes) + [_describe_vcov(fit, spec["cluster_columns"], ssc)]
    df = fit.cov.df_resid
    if np.ndim(df):
        df = np.asarray(df)[[fit.params.index.get_loc(t) for t in terms]]
    return result_class(
        params,
        pd.Series(np.sqrt(np.diag(fit.vcov.loc[list(terms), list(terms)])), index=params.index),
        nobs=fit.nobs,
        n_units=fit.n_units,
        spec=spec,
        estimator=estimator,
        vcov=fit.vcov.loc[list(terms), list(terms)],
        influence=influence_columns(fit.influence, [fit.params.index.get_loc(t) for t in terms]),
        df_resid=df,
        index_name=index_name,
        level=spec.get("level", 0.95),
        term_aliases=term_aliases,
        extra={
            "vcov_type": fit.cov.kind,
            "df_all": fit.cov.df_resid,
            "n_clusters": fit.cov.n_clusters,
            "n_params_ssc": fit.cov.n_params,
            "ssc": ssc,
            "full_params": fit.params,
            "full_vcov": fit.vcov,
            "notes": notes,
            **extra,
        },
    )


def _spec(est, **kwargs) -> dict:
    cl = est.cluster
    kind = _vcov_kind(est.vcov)
    cluster_columns = ([cl] if isinstance(cl, str) else list(cl or [kwargs["idname"]])) \
        if kind in ("cluster", "CR2") else []
    fe = parse_fe(getattr(est, "fe", None), kwargs["idname"], kwargs["tname"])
    return {
        **kwargs,
        "fe": None if fe is None else ["^".join(t) for t in fe],
        "vcov": est.vcov,
        "cluster": ", ".join(cluster_columns) if cluster_columns else None,
        "cluster_columns": cluster_columns,
        "ssc": est.ssc,
        "level": getattr(est, "level", 0.95),
    }


#: accepted spellings of ``vcov`` -> the covariance kind computed
_VCOV_NAMES = {"iid": "iid", "hetero": "hetero", "hc1": "hetero", "hc2": "HC2",
               "cluster": "cluster", "cr1": "cluster", "cr2": "CR2"}


def _vcov_kind(vcov) -> str:
    if not isinstance(vcov, str) or vcov.lower() not in _VCOV_NAMES:
        raise ArgumentValueError(
            f"vcov={vcov!r} must be one of 'iid', 'HC1' (= 'hetero'), 'HC2', 'CR1' (= 'cluster'), "
            "'CR2'")
    return _VCOV_NAMES[vcov.lower()]


def _check_vcov_args(vcov: str, cluster, ssc="fixest", fe=None) -> None:
    """Checked in ``__init__`` and again in ``fit()`` (an attribute may change in between)."""
    kind = _vcov_kind(vcov)
    if cluster is not None and kind not in ("cluster", "CR2"):
        raise ArgumentValueError(f"cluster={cluster!r} was given but vcov={vcov!r}; use "
                                 "vcov='CR1' (= 'cluster') or 'CR2'")
    if cluster is not None:
        cols = column_list(cluster, "cluster", strict=True)
        if kind == "CR2" and len(cols) != 1:
            raise ArgumentValueError(
                f"vcov='CR2' takes one cluster column; got cluster={cluster!r} (two-way "
                "clustering is available with vcov='CR1')")
    resolve_ssc(ssc)
    parse_fe(fe, "idname", "tname")


def _out_of_core_options(est) -> None:
    if est.fe is not None or _vcov_kind(est.vcov) in ("HC2", "CR2"):
        raise ArgumentValueError(
            f"fe={est.fe!r}, vcov={est.vcov!r}: the out-of-core path (Parquet, DuckDB, Dask "
            "input) absorbs unit + period effects with vcov 'iid', 'HC1' or 'CR1' only; pass a "
            "pandas DataFrame")


def _with_kind(est):
    """The estimator with ``vcov`` spelled as the out-of-core layer expects ('HC1' -> 'hetero')."""
    kind = _vcov_kind(est.vcov)
    if kind == est.vcov:
        return est
    est = copy.copy(est)
    est.vcov = kind
    return est


def _event_options(reference, window) -> tuple[list[int], tuple[int, int] | None]:
    """``reference`` as a list and ``window`` as a pair of ints, or an error naming them."""
    refs = [reference] if np.ndim(reference) == 0 else list(reference)
    try:
        ok = bool(refs) and all(float(r).is_integer() for r in refs)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ArgumentValueError(f"reference={reference!r} must be an integer event time or a "
                                 "sequence of them")
    if window is not None:
        try:
            ok = len(window) == 2 and all(float(w).is_integer() for w in window) \
                and window[0] < window[1]
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ArgumentValueError(f"window={window!r} must be two integers (first, last) with "
                                     "first < last")
        outside = [r for r in refs if not window[0] <= r <= window[1]]
        if outside:
            raise ArgumentValueError(f"reference={reference!r} lies outside window={window!r}")
        window = (int(window[0]), int(window[1]))
    return [int(r) for r in refs], window


def _unit_cohorts(panel: FEPanel) -> np.ndarray:
    """Per unit code: its cohort (``panel.cohort`` is constant within units)."""
    out = np.empty(panel.n_units, dtype=float)
    out[panel.unit] = panel.cohort
    return out


def _sorted_distinct(v: np.ndarray) -> np.ndarray:
    """``np.unique`` of integer event times (a short range) by counting, no sort of the rows."""
    if v.size == 0:
        return v
    lo = int(v.min())
    return np.flatnonzero(np.bincount(v - lo) > 0) + lo


def _first_treated_period(panel: FEPanel, d: np.ndarray) -> np.ndarray:
    """Per unit code: the first period with ``d == 1``, ``inf`` if there is none."""
    on = d == 1
    first = np.full(panel.n_units, len(panel.periods), dtype=np.intp)
    np.minimum.at(first, panel.unit[on], panel.time[on])
    out = np.full(panel.n_units, np.inf)
    seen = first < len(panel.periods)
    out[seen] = panel.periods[first[seen]]
    return out


def _cohort_timing(panel: FEPanel):
    """From each unit's first treated period (``panel.cohort``, 0 never):
    ``(treated_from, (always, first_treated))``.

    ``treated_from``: the period code from which the unit is treated (``T`` never);
    ``always``: True for a unit treated in every period it is observed; ``first_treated``: its first
    observed period with :math:`d = 1` (``inf`` if none), as :func:`_first_treated_period`.
    """
    N, T = panel.n_units, len(panel.periods)
    starts = getattr(panel, "unit_starts", None)
    if starts is None:
        starts = unit_row_starts(panel.unit, N)
    if starts is not None:
        g = panel.cohort[starts[:-1]]
    else:
        g = np.zeros(N, dtype=panel.cohort.dtype)
        g[panel.unit] = panel.cohort
    treated_from = np.where(g > 0, np.searchsorted(panel.periods, g), T)
    balanced = len(panel.unit) == N * T
    if balanced:
        first_seen = np.zeros(N, dtype=np.intp)
        first_on = treated_from
    elif starts is not None:
        first_seen = np.minimum.reduceat(panel.time, starts[:-1])
        on = panel.time >= treated_from[panel.unit]
        first_on = np.minimum.reduceat(np.where(on, panel.time, T), starts[:-1])
    else:
        first_seen = np.full(N, T, dtype=np.intp)
        np.minimum.at(first_seen, panel.unit, panel.time)
        on = panel.time >= treated_from[panel.unit]
        first_on = np.full(N, T, dtype=np.intp)
        np.minimum.at(first_on, panel.unit[on], panel.time[on])
    first_treated = np.full(N, np.inf)
    seen = first_on < T
    first_treated[seen] = panel.periods[first_on[seen]]
    return treated_from, (treated_from <= first_seen, first_treated)


def _warn_always_treated(panel: FEPanel, d: np.ndarray | None, idname: str,
                         always: np.ndarray | None = None) -> None:
    """Warn about units treated in every period they are observed: from the 0/1 rows ``d``,
    or from ``always`` (a mask per unit code, as :func:`_cohort_timing` gives)."""
    if always is None:
        # d is 0/1: a unit is treated in every period it is observed when it has no row below 1
        always = np.bincount(panel.unit, weights=d < 1, minlength=panel.n_units) == 0
    if always.any():
        if panel.unit_starts is not None:
            # units are numbered in order of first appearance: their first rows' ids show
            # the same examples as the rows of those units would
            ids = panel.frame[idname].to_numpy()[panel.unit_starts[:-1][always]]
        else:
            ids = panel.frame[idname].to_numpy()[always[panel.unit]]
        always = np.flatnonzero(always)
        warnings.warn(
            f"{always.size} units are treated in every period they are observed (e.g. "
            f"{examples(ids)}); their treatment is absorbed by the unit effects and they only "
            "act as already-treated controls, which biases TWFE under heterogeneous effects",
            EstimationWarning,
            stacklevel=3,
        )


class TWFE:
    r"""Static two-way fixed-effects difference-in-differences.

    Parameters
    ----------
    vcov : {"cluster", "CR1", "CR2", "hetero", "HC1", "HC2", "iid"}
        Covariance type. Default: clustered (``"cluster"`` = ``"CR1"``,
        with fixest's small-sample factors). ``"CR2"`` is the Bell-McCaffrey
        bias-reduced cluster-robust matrix with Satterthwaite degrees of
        freedom per coefficient (R ``clubSandwich``), the small-cluster
        correction to use with a dozen prefectures; ``"HC2"`` its
        heteroskedasticity-only version (Imbens & Kolesár 2016);
        ``"hetero"`` = ``"HC1"``; ``"iid"`` classical. ``ssc`` does not
        apply to HC2/CR2, whose hat matrix includes every fixed effect. With
        ``weights``, HC2/CR2 take the weights as inverse-variance weights
        (see :func:`policyeval.inference.covariance.bias_reduced_covariance`).
    cluster : str or list of str, optional
        Cluster column(s); two names give two-way clustering (``"CR1"``
        only). Default: the unit (``idname``), as fixest does with unit
        fixed effects.
    ssc : {"fixest", "full", "none"} or SmallSampleCorrection
        Small-sample convention. ``"fixest"`` (default) reproduces R fixest's
        ``ssc(adj=TRUE, fixef.K="nested", cluster.adj=TRUE)``: fixed effects
        nested in a cluster variable are not counted in :math:`K`, so a panel
        clustered by unit uses :math:`K = K_x + T`. ``"full"`` counts every
        unit and period effect (Stata ``areg`` / OLS with dummies /
        linearmodels ``PanelOLS(...).fit(cov_type="clustered", debiased=True,
        group_debias=True)``); ``"none"`` applies no correction.
    allow_switching_off : bool
        Accept a ``treatment`` column that goes from 1 back to 0 within a
        unit (default: raise, since staggered-adoption DiD assumes an
        absorbing treatment).
    fe : list of str or tuple, optional
        The absorbed effects. Default: unit + period (``idname``, ``tname``).
        Each item is a column or an interaction, written ``"region^year"``
        or ``("region", "year")``: ``fe=["year"]`` (period effects only),
        ``fe=["county_code", "province^year"]`` (unit effects and
        province-specific year effects). Absorption is exact (no
        iteration); the effects other than the one with most levels may
        have up to 3,000 levels in all. :math:`K` in the small-sample
        factor counts :math:`\sum_f L_f - (F-1)` levels, as fixest does
        by default. Pandas input only.
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Notes
    -----
    The model is

    .. math::

        y_{it} = \alpha_i + \lambda_t + \beta D_{it} + X_{it}'\gamma + \varepsilon_{it},

    with :math:`D_{it} = 1[t \ge g_i]` when built from ``gname``. The unit
    and period effects are removed exactly by the Frisch–Waugh–Lovell
    theorem (no dummies are built), then :math:`(\beta, \gamma)` solve
    least squares on the transformed data. With unit and period effects,
    no weights and standard errors clustered by unit (the default), the
    fit is computed from unit and period sums and per-unit cross moments
    a block of units at a time, balanced or unbalanced, without iterating
    (:mod:`policyeval.estimators._two_way`).

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in
    treatment timing. *Journal of Econometrics*, 225(2), 254-277.

    Bergé, L. R fixest, vignette "On standard-errors".

    Examples
    --------
    Enclave destinations of the SIMULATED bundled panel, standard errors
    clustered by county:

    >>> import policyeval as pe
    >>> panel = pe.load_simulated_panel()
    >>> res = pe.TWFE(cluster="county_code").fit(panel, yname="log_gdp", tname="year",
    ...                                          idname="county_code", gname="first_treat_destination")
    >>> round(float(res.params.iloc[0]), 4), round(float(res.std_errors.iloc[0]), 4)
    (0.0949, 0.0316)

    Province-by-year effects and CR2 standard errors with a dozen clusters
    (SIMULATED data):

    >>> import numpy as np, pandas as pd, warnings
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame([(c, c // 10, t) for c in range(120) for t in range(2010, 2018)],
    ...                   columns=["county", "prefecture", "year"])
    >>> df["D"] = ((df["county"] % 10 < 4) & (df["year"] >= 2014)).astype(int)
    >>> df["y"] = (rng.normal(size=120)[df["county"]] + rng.normal(size=(12, 8))[
    ...     df["prefecture"], df["year"] - 2010] + 1.0 * df["D"] + rng.normal(0, .3, len(df)))
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")   # 12 clusters: the few-clusters warning
    ...     res = pe.TWFE(vcov="CR2", cluster="prefecture",
    ...                   fe=["county", "prefecture^year"]).fit(
    ...         df, "y", "year", "county", treatment="D")
    >>> round(float(res.params["D"]), 2), round(float(res.df_resid[0]), 1)
    (0.94, 11.0)

    (In this balanced design the Bell-McCaffrey df equal :math:`G - 1 = 11`;
    with unequal clusters or few treated ones they fall below.)
    """

    def __init__(
        self,
        vcov: str = "cluster",
        *,
        cluster: str | Sequence[str] | None = None,
        ssc: str | SmallSampleCorrection = "fixest",
        allow_switching_off: bool = False,
        fe: Sequence[str | tuple[str, ...]] | None = None,
        level: float = 0.95,
    ) -> None:
        _check_vcov_args(vcov, cluster, ssc, fe)
        self.level = check_level(level)
        self.vcov = vcov
        self.cluster = cluster
        self.ssc = ssc
        self.allow_switching_off = allow_switching_off
        self.fe = fe

    @renamed_arguments(df="data")
    @records_provenance
    def fit(
        self,
        data: pd.DataFrame,
        yname: str,
        tname: str,
        idname: str,
        treatment: str | None = None,
        gname: str | None = None,
        covariates: str | Sequence[str] | None = None,
        weights: str | None = None,
    ) -> RegressionResult:
        """Estimate the TWFE coefficient.

        Parameters
        ----------
        data : pandas.DataFrame, path, duckdb relation or dask DataFrame
            Long panel, one row per unit and period. Anything but a pandas
            DataFrame (a Parquet file/folder, a DuckDB relation, a Dask
            DataFrame) is estimated out of core by :func:`policyeval.scale.fit_twfe`
            (balanced panels; same numbers).
        yname, tname, idname : str
            Outcome, integer period and unit columns.
        treatment : str, optional
            A 0/1 treatment column :math:`D_{it}`. Give exactly one of
            ``treatment`` and ``gname``.
        gname : str, optional
            First treated period, 0 or missing for never treated;
            :math:`D_{it} = 1[t \\ge g_i]`.
        covariates : str or list of str, optional
            Time-varying controls.
        weights : str, optional
            Regression weights.

        Returns
        -------
        RegressionResult
            ``params`` indexed by term: the treatment effect ``"ATT"``, then
            the covariates. (Before 0.2 the effect was named after the
            ``treatment`` column, or ``"treated"``; those names still work for
            one release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.)

        Raises
        ------
        TreatmentTimingError
            If ``gname`` varies within a unit, or ``treatment`` switches off
            (unless ``allow_switching_off``).
        ColumnNotFoundError, DataError, EstimationError
            For missing columns, non-integer periods, a non-binary treatment,
            or a treatment absorbed by the fixed effects; infinite values,
            non-positive weights, dates as periods, one period, a constant
            outcome, a 0/1 ``gname``, one cluster.

        Warns
        -----
        EstimationWarning
            Fewer than 30 clusters: the message gives the count and points to
            :func:`~policyeval.inference.wild_bootstrap.wild_cluster_bootstrap`.
        """
        df = data
        _check_vcov_args(self.vcov, self.cluster, self.ssc, self.fe)
        kind = _vcov_kind(self.vcov)
        if (treatment is None) == (gname is None):
            raise ArgumentValueError("give exactly one of treatment= (a 0/1 column) and gname= "
                                    "(first treated period)")
        if not isinstance(df, pd.DataFrame):
            # a Parquet path, a DuckDB relation or a Dask DataFrame: out of core, same numbers
            _out_of_core_options(self)
            return out_of_core("TWFE")(df, yname, tname, idname, treatment=treatment, gname=gname,
                                       covariates=covariates, weights=weights,
                                       estimator=_with_kind(self))
        panel, covs = prepare_fe_panel(
            df, yname=yname, tname=tname, idname=idname, gname=gname,
            regressors=[treatment] if treatment else [], covariates=covariates,
            weights=weights, cluster=self.cluster, vcov=kind, estimator="TWFE",
            fe=parse_fe(self.fe, idname, tname),
        )
        fast = two_way_applies(panel, kind)
        treated_from = None
        if treatment is not None:
            d = panel.frame[treatment].to_numpy(dtype=float)
            if not np.isin(d, (0.0, 1.0)).all():
                bad = ~np.isin(d, (0.0, 1.0))
                raise DataError(
                    f"treatment={treatment!r} must be 0/1; found {examples(d[bad])} for units "
                    f"{examples(panel.frame.loc[bad, idname])}"
                )
            if not self.allow_switching_off:
                _check_absorbing(panel, d, treatment, idname)
            old = treatment
        elif fast:
            # d = 1[t >= g] from each unit's cohort: no rows-sized treatment column
            d = None
            treated_from, first_treated = _cohort_timing(panel)
            old = "treated"
        else:
            t = panel.periods[panel.time]
            d = ((panel.cohort > 0) & (t >= panel.cohort)).astype(float)
            old = "treated"
        term = HEADLINE
        if HEADLINE in covs:
            raise ArgumentValueError(f"covariates={covs!r}: a covariate may not be called {HEADLINE!r}, "
                                     "the name of the treatment effect; rename the column")
        if d is None:
            _warn_always_treated(panel, None, idname, always=first_treated[0])
            first_treated = first_treated[1]
        else:
            _warn_always_treated(panel, d, idname)
            # each unit's first period with d = 1 (inf if none), counted per unit: the same
            # counts as warn_few_treated(panel.unit, treatment=d, time=...) without a row pass
            first_treated = _first_treated_period(panel, d)
        warn_few_treated(None, cohort=first_treated, estimator="TWFE",
                         argument=f"treatment={treatment!r}" if treatment else f"gname={gname!r}")
        names = [term, *covs]
        cov_columns = [panel.frame[c].to_numpy(dtype=float) for c in covs]
        if fast:
            # unit + period effects, CR1 by unit: from sufficient statistics a block of units
            # at a time (fit_fe_ols on the rows is the reference in the tests)
            fit = fit_two_way(panel, cov_columns if d is None else [d, *cov_columns], names,
                              ssc=self.ssc, treated_from=treated_from)
        elif treatment is None and balanced_dummy_fit_applies(panel, kind, len(covs)):
            # d = 1[t >= g] is a 0/1 function of cohort and period: from sums, as EventStudy
            fit = fit_balanced_dummies(panel, np.where(d == 1, 0, -1), names, ssc=self.ssc)
        else:
            X = np.column_stack([d, *cov_columns])
            fit = fit_fe_ols(panel, X, names, vcov=kind, ssc=self.ssc)
        spec = _spec(self, model="twfe", yname=yname, tname=tname, idname=idname, treatment=treatment,
                     gname=gname, covariates=covs, weights=weights)
        return _result(fit, names, estimator="TWFE", spec=spec, index_name="term", panel=panel,
                       ssc=resolve_ssc(self.ssc), extra={"treatment": term},
                       term_aliases={old: HEADLINE} if old != HEADLINE else None)


def _check_absorbing(panel: FEPanel, d: np.ndarray, treatment: str, idname: str) -> None:
    order = np.lexsort((panel.time, panel.unit))
    u, dd = panel.unit[order], d[order]
    off = (u[1:] == u[:-1]) & (dd[1:] < dd[:-1])
    if off.any():
        units = np.unique(u[1:][off])
        ids = panel.frame[idname].to_numpy()[order][1:][off]
        raise TreatmentTimingError(
            f"treatment={treatment!r} switches off (1 then 0) within idname={idname!r} for "
            f"{units.size} units (e.g. {examples(ids)}); staggered DiD needs an absorbing "
            "treatment. Pass TWFE(allow_switching_off=True) to estimate the regression anyway."
        )


class EventStudy:
    r"""Two-way fixed-effects event study with binned endpoints.

    Parameters
    ----------
    reference : int or sequence of int
        Event time(s) omitted as the baseline (default -1, the period before
        treatment). When no unit stays untreated through the sample, the
        fully dynamic specification is not identified (event time is linear
        in unit and period, and the last periods have no untreated unit):
        bin the endpoints and/or omit more periods, e.g. ``(-1, -5)``. An
        :class:`~policyeval.exceptions.EstimationError` names the terms that
        cannot be separated.
    window : (int, int) or None
        First and last event time with its own coefficient. ``None`` uses
        every observed event time.
    bin_endpoints : bool
        If True (default), event times before/after the window are pooled
        into the first/last bin (so the endpoint coefficients average over
        :math:`e \le` first and :math:`e \ge` last). If False, the rows of
        treated units outside the window are dropped with a
        :class:`~policyeval.exceptions.DroppedObservationsWarning`.
    vcov, cluster, ssc, fe, level
        As in :class:`TWFE`; with ``"CR2"``/``"HC2"`` each event-time
        coefficient has its own Bell-McCaffrey degrees of freedom
        (``result.df_resid`` is then an array).

    Notes
    -----
    With :math:`e_{it} = t - g_i` and window :math:`[a, b]`,

    .. math::

        y_{it} = \alpha_i + \lambda_t
            + \sum_{k \in [a,b] \setminus R} \beta_k
              1[\min(\max(e_{it}, a), b) = k]
            + X_{it}'\gamma + \varepsilon_{it},

    where :math:`R` is the set of reference periods. Never-treated units
    have every dummy equal to zero. Under heterogeneous effects across
    cohorts the :math:`\beta_k` are contaminated by other periods' effects
    (Sun & Abraham 2021); see :class:`policyeval.SunAbraham`.

    References
    ----------
    Sun, L. and Abraham, S. (2021). Estimating dynamic treatment effects in
    event studies with heterogeneous treatment effects. *Journal of
    Econometrics*, 225(2), 175-199.

    Schmidheiny, K. and Siegloch, S. (2023). On event studies and
    distributed-lags in two-way fixed effects models: identification,
    equivalence, and generalization. *Journal of Applied Econometrics*,
    38(5), 695-713.

    Examples
    --------
    Enclave destinations of the SIMULATED bundled panel, four years either
    side of the start (reference period -1):

    >>> import policyeval as pe
    >>> panel = pe.load_simulated_panel()
    >>> res = pe.EventStudy(window=(-4, 4)).fit(panel, "log_gdp", "year", "county_code",
    ...                                         "first_treat_destination")
    >>> res.params.round(4).head(3)
    -4   -0.0037
    -3   -0.0007
    -2   -0.0053
    dtype: float64
    >>> ax = res.plot()
    """

    def __init__(
        self,
        reference: int | Sequence[int] = -1,
        window: tuple[int, int] | None = (-5, 5),
        bin_endpoints: bool = True,
        vcov: str = "cluster",
        *,
        cluster: str | Sequence[str] | None = None,
        ssc: str | SmallSampleCorrection = "fixest",
        fe: Sequence[str | tuple[str, ...]] | None = None,
        level: float = 0.95,
    ) -> None:
        refs, window = _event_options(reference, window)
        _check_vcov_args(vcov, cluster, ssc, fe)
        self.level = check_level(level)
        self.reference = refs
        self.window = window
        self.bin_endpoints = bin_endpoints
        self.vcov = vcov
        self.cluster = cluster
        self.ssc = ssc
        self.fe = fe

    @renamed_arguments(df="data")
    @records_provenance
    def fit(
        self,
        data: pd.DataFrame,
        yname: str,
        tname: str,
        idname: str,
        gname: str,
        covariates: str | Sequence[str] | None = None,
        weights: str | None = None,
    ) -> RegressionResult:
        """Estimate the event-study coefficients.

        Parameters
        ----------
        data : pandas.DataFrame, path, duckdb relation or dask DataFrame
            Long panel; non-pandas data go to
            :func:`policyeval.scale.fit_event_study` (out of core).
        yname, tname, idname : str
            Outcome, integer period and unit columns.
        gname : str
            First treated period; 0 or missing for never treated.
        covariates : str or list of str, optional
            Time-varying controls (their coefficients are in
            ``result.extra["covariates"]``).
        weights : str, optional
            Regression weights.

        Returns
        -------
        RegressionResult
            ``params`` indexed by event time (the reference omitted);
            ``extra["reference_period"]`` is the (first) reference and
            ``extra["binned"]`` maps endpoint bins to their labels.

        Raises
        ------
        TreatmentTimingError
            If ``gname`` varies within a unit.
        EstimationError
            If no treated unit is observed at a reference period, or the
            event-time dummies are collinear with the fixed effects.
        """
        df = data
        _check_vcov_args(self.vcov, self.cluster, self.ssc, self.fe)
        kind = _vcov_kind(self.vcov)
        self.reference, self.window = _event_options(self.reference, self.window)
        if not isinstance(df, pd.DataFrame):
            _out_of_core_options(self)
            return out_of_core("EventStudy")(df, yname, tname, idname, gname, covariates=covariates,
                                             weights=weights, estimator=_with_kind(self))
        panel, covs = prepare_fe_panel(
            df, yname=yname, tname=tname, idname=idname, gname=gname,
            covariates=covariates, weights=weights, cluster=self.cluster,
            vcov=kind, estimator="EventStudy", fe=parse_fe(self.fe, idname, tname),
        )
        unit_cohort = _unit_cohorts(panel)
        if not (unit_cohort > 0).any():
            raise EstimationError(f"gname={gname!r}: no unit is treated within the sample")
        # one cohort per unit (checked): the same counts as from the rows, without a row pass
        warn_few_treated(None, cohort=unit_cohort, estimator="EventStudy",
                         argument=f"gname={gname!r}")
        if balanced_dummy_fit_applies(panel, kind, len(covs)) and (
                self.window is None or self.bin_endpoints):
            # balanced: every treated unit has every event time of its cohort, so event
            # times, bins and dummies are a cohorts x periods table (no row-sized array)
            fit, terms, binned = self._fit_cohort_table(panel, unit_cohort)
        else:
            fit, terms, binned = self._fit_rows(panel, covs, kind, idname)
        spec = _spec(self, model="event_study", yname=yname, tname=tname, idname=idname, gname=gname,
                     covariates=covs, weights=weights, reference=self.reference,
                     window=self.window, bin_endpoints=self.bin_endpoints)
        extra = {
            "reference_period": self.reference[0],
            "references": list(self.reference),
            "binned": binned,
            "covariates": _covariate_table(fit, covs),
        }
        res = _result(fit, terms, estimator="Event study (TWFE)", spec=spec,
                      index_name="event_time", panel=panel, ssc=resolve_ssc(self.ssc),
                      extra=extra)
        if binned:
            res.extra["notes"].insert(0, "Endpoint bins: " + "; ".join(
                f"{k} pools event times {v}" for k, v in binned.items()))
        return res

    def _terms(self, e_treated: np.ndarray) -> list[int]:
        observed = _sorted_distinct(e_treated)
        if not np.isin(self.reference, observed).any():
            raise EstimationError(
                f"reference={self.reference} is not observed for any treated unit (observed "
                f"event times: {examples(observed, 12)}); choose another reference"
            )
        return [int(k) for k in observed if k not in self.reference]

    def _fit_cohort_table(self, panel: FEPanel, unit_cohort: np.ndarray):
        """:meth:`fit` on a balanced panel: event times from each cohort's row of periods."""
        unit_group, cohorts = pd.factorize(unit_cohort)
        treated = (cohorts > 0)[:, None]
        e = np.where(treated, panel.periods[None, :] - cohorts[:, None], 0).astype(np.int64)
        binned = {}
        if self.window is not None:                  # bin_endpoints: nothing is dropped
            lo, hi = self.window
            if (treated & (e < lo)).any():
                binned[lo] = f"<= {lo}"
            if (treated & (e > hi)).any():
                binned[hi] = f">= {hi}"
            e = np.clip(e, lo, hi)
        terms = self._terms(e[np.broadcast_to(treated, e.shape)])
        lut = np.full(int(e.max() - e.min()) + 1, -1, dtype=np.intp)
        lut[np.asarray(terms) - e.min()] = np.arange(len(terms))
        table = np.where(treated, lut[e - e.min()], -1)
        fit = fit_balanced_dummies(panel, None, terms, ssc=self.ssc, groups=(unit_group, table))
        return fit, terms, binned

    def _fit_rows(self, panel: FEPanel, covs: list[str], kind: str, idname: str):
        """:meth:`fit` from row-level event times (unbalanced, weighted, covariates, ...)."""
        treated = panel.cohort > 0
        e = np.where(treated, panel.periods[panel.time] - panel.cohort, 0)
        binned = {}
        if self.window is not None:
            lo, hi = self.window
            out = treated & ((e < lo) | (e > hi))
            if self.bin_endpoints:
                if (treated & (e < lo)).any():
                    binned[lo] = f"<= {lo}"
                if (treated & (e > hi)).any():
                    binned[hi] = f">= {hi}"
                e = np.clip(e, lo, hi)
            elif out.any():
                warnings.warn(
                    f"dropped {int(out.sum())} rows of treated units with event time outside "
                    f"window={self.window} (bin_endpoints=False; units "
                    f"{examples(panel.frame.loc[out, idname])})",
                    DroppedObservationsWarning,
                    stacklevel=3,
                )
                panel, e, treated = subset_panel(panel, ~out), e[~out], treated[~out]
        terms = self._terms(e[treated])
        if balanced_dummy_fit_applies(panel, kind, len(covs)):
            # balanced, unweighted, unit-clustered: from unit, period and cohort sums, no
            # rows x terms matrix (fit_fe_ols on the dense dummies is the reference in tests)
            lut = np.full(int(e.max() - e.min()) + 1, -1, dtype=np.intp)
            lut[np.asarray(terms) - e.min()] = np.arange(len(terms))
            col = np.where(treated, lut[e - e.min()], -1)
            fit = fit_balanced_dummies(panel, col, terms, ssc=self.ssc)
        else:
            X = np.column_stack(
                [(treated & (e == k)).astype(float) for k in terms]
                + [panel.frame[c].to_numpy(dtype=float) for c in covs]
            )
            fit = fit_fe_ols(panel, X, [*terms, *covs], vcov=kind, ssc=self.ssc)
        return fit, terms, binned


def _covariate_table(fit: FEFit, covs: list[str]) -> pd.DataFrame:
    se = np.sqrt(np.diag(fit.vcov.loc[covs, covs])) if covs else []
    return pd.DataFrame({"estimate": fit.params.loc[covs], "std_error": se}, index=covs)
