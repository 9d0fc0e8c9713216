r"""Few treated units: count them, warn, and route to inference that stays valid.

Analytic cluster-robust standard errors (and the delta-method / influence-function
standard errors of the staggered estimators) treat the treated units' idiosyncratic
shocks as if they averaged out. With one or a few treated units they do not: the
estimated variance misses the treated units' own noise and the test of a true null
rejects far more often than its nominal level. With one treated county among 60 and
no true effect, Callaway–Sant'Anna, TWFE and the imputation estimator reject at the
5% level in most simulations (``docs/montecarlo_few_treated.md``; Conley & Taber 2011;
MacKinnon & Webb 2017, 2018, 2020). The wild cluster bootstrap does not rescue the
one-treated case either: the restricted bootstrap almost never rejects.

This module lives in :mod:`policyeval.inference` because the question it answers is
one of inference (which p-value can be trusted for these counts). The counting and the
warnings, which the estimators call down into from ``fit()``, live beneath the
estimators in :mod:`policyeval.inference.treated_counts` (re-exported here); the routing
below sits above them, since it fits estimators:

* :func:`warn_few_treated` counts treated units per cohort and in total and issues a
  :class:`~policyeval.exceptions.FewTreatedWarning` below :data:`MIN_TREATED_UNITS`;
  every staggered / regression estimator calls it from ``fit()``.
* :func:`warn_placebo_resolution` warns when a synthetic-control placebo p-value
  cannot reach 0.05 (its resolution is :math:`1/(J+1)`), and when synthetic DiD is
  asked for a bootstrap or jackknife standard error with few treated units.
* :func:`few_treated_inference` is the one call to the valid alternatives. It does
  not re-implement them: it hands the estimator and data to
  :func:`~policyeval.inference.randomization.randomization_inference`,
  :class:`~policyeval.SyntheticControl` (in-space placebos over all units, plus
  conformal inference), :class:`~policyeval.SyntheticDiD` (placebo standard error)
  or :func:`~policyeval.inference.wild_bootstrap.wild_cluster_bootstrap`, and
  returns their p-value in one :class:`FewTreatedInference` object.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from policyeval.inference import distributions as stats   # scipy.stats is slow to import
from policyeval._validation import examples, require_columns, require_frame
from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    DesignError,
    FewTreatedWarning,
)
from policyeval.inference.treated_counts import (  # re-exported: this module's public names
    MIN_PLACEBO_UNITS,
    MIN_TREATED_UNITS,
    TreatedCounts,
    count_treated,
    warn_few_treated,
    warn_placebo_resolution,
)
from policyeval.results.base import Summary

def _fmt(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else f"{value:g}"


__all__ = [
    "MIN_TREATED_UNITS",
    "MIN_PLACEBO_UNITS",
    "TreatedCounts",
    "FewTreatedInference",
    "count_treated",
    "warn_few_treated",
    "warn_placebo_resolution",
    "few_treated_inference",
]

_METHODS = ("randomization", "synthetic_control", "synthetic_did", "wild_bootstrap")


# --------------------------------------------------------------------------- routing
@dataclass
class FewTreatedInference:
    """Outcome of :func:`few_treated_inference`.

    Attributes
    ----------
    method : str
        ``"randomization"``, ``"synthetic_control"``, ``"synthetic_did"`` or
        ``"wild_bootstrap"``.
    estimate : float
        The estimate tested (the statistic on the observed assignment).
    p_value : float
        Two-sided p-value of no effect.
    resolution : float
        Smallest p-value the method can return with these data (``nan`` for
        the normal-theory SDID placebo test).
    counts : TreatedCounts
        Treated units in total and per cohort.
    detail : object
        The underlying result (:class:`RandomizationResult`,
        :class:`SyntheticControlResult`, :class:`SyntheticDiDResult` or
        :class:`WildBootstrapResult`) for plots and further inference.
    notes : list of str
        Validity conditions of the method.
    """

    method: str
    estimate: float
    p_value: float
    resolution: float
    counts: TreatedCounts
    detail: Any = field(repr=False)
    notes: list = field(default_factory=list)

    @property
    def statistic(self) -> float:
        """The estimate tested (same as :attr:`estimate`)."""
        return self.estimate

    def to_frame(self) -> pd.DataFrame:
        """One row: method, estimate, p_value, resolution, n_treated, n_units."""
        return pd.DataFrame([{
            "method": self.method, "estimate": self.estimate, "p_value": self.p_value,
            "resolution": self.resolution, "n_treated": self.counts.total,
            "n_units": self.counts.n_units,
        }])

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary."""
        table = self.to_frame().set_index("method")[["estimate", "p_value", "resolution"]]
        facts = [("Treated units", f"{self.counts.total} of {self.counts.n_units}"),
                 ("By cohort", self.counts.describe())]
        return Summary(title="Inference with few treated units", facts=facts, table=table,
                       notes=list(self.notes))

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def _common_adoption(data: pd.DataFrame, fit_kwargs: dict) -> tuple[list, Any, list]:
    """Treated units, their common first treated period and the never-treated donors."""
    idname, tname = fit_kwargs.get("idname"), fit_kwargs.get("tname")
    gname, treatment = fit_kwargs.get("gname"), fit_kwargs.get("treatment")
    if fit_kwargs.get("treated_units") is not None:
        treated = list(fit_kwargs["treated_units"])
        return treated, fit_kwargs.get("treat_time"), None
    require_columns(data, idname=idname, tname=tname)
    if gname is not None:
        require_columns(data, gname=gname)
        per_unit = data.groupby(idname, sort=True)[gname].first().astype(float)
        last = float(pd.to_numeric(data[tname]).max())
        is_treated = np.isfinite(per_unit) & (per_unit != 0) & (per_unit <= last)
        cohorts = per_unit[is_treated]
        source = f"gname={gname!r}"
    elif treatment is not None:
        require_columns(data, treatment=treatment)
        on = data[data[treatment] == 1]
        cohorts = on.groupby(idname, sort=True)[tname].min()
        is_treated = pd.Series(data[idname].drop_duplicates().isin(cohorts.index).to_numpy(),
                               index=data[idname].drop_duplicates().to_numpy())
        source = f"treatment={treatment!r}"
    else:
        raise ArgumentTypeError("give gname=, treatment= or treated_units= among the fit "
                                "arguments")
    if cohorts.empty:
        raise DesignError(f"{source}: no unit is treated within the sample")
    if cohorts.nunique() > 1:
        vals = cohorts.value_counts().sort_index()
        raise DesignError(
            f"{source}: synthetic control / synthetic DiD need one common adoption period; "
            f"the treated units adopt in {len(vals)} periods "
            f"({', '.join(f'{_fmt(g)}: {n}' for g, n in vals.items())}); use "
            "method='randomization', or fit each cohort separately with its never-treated "
            "donors")
    donors = is_treated.index[~is_treated.to_numpy()].tolist()
    return cohorts.index.tolist(), cohorts.iloc[0], donors


def few_treated_inference(estimator, data: pd.DataFrame, *, method: str = "randomization",
                          n_permutations: int = 999, n_bootstrap: int = 9999,
                          n_replications: int = 200, random_state: Any = None,
                          eligible=None, statistic=None, options: dict | None = None,
                          progress: bool = False, **fit_kwargs) -> FewTreatedInference:
    r"""Inference that stays valid with one or a few treated units, in one call.

    Parameters
    ----------
    estimator : object
        The policyeval estimator whose estimate is tested, unfitted (e.g.
        ``pe.TWFE()``, ``pe.CallawaySantAnna()``, ``pe.ImputationDiD()``).
        Used by ``method="randomization"`` (refitted on each re-assignment) and
        ``"wild_bootstrap"`` (TWFE / EventStudy only); the synthetic methods fit
        their own estimator on the same design.
    data : pandas.DataFrame
        The panel.
    method : {"randomization", "synthetic_control", "synthetic_did", "wild_bootstrap"}
        * ``"randomization"`` (default, the recommended route): re-assign the
          adoption timing across units (``eligible``) and refit,
          :func:`~policyeval.inference.randomization.randomization_inference`.
          Exact under the sharp null if adoption is as good as random across the
          eligible units, for any number of treated units; its smallest p-value
          is :math:`1/\binom{N}{N_1}` (enumerated) or :math:`1/(B+1)`.
        * ``"synthetic_control"``: one treated unit, common adoption;
          :class:`~policyeval.SyntheticControl` with ``v_method="equal"`` and
          in-space placebos over all units (``placebo_donors="all"``, the exact
          permutation test); resolution :math:`1/N`. The conformal p-values of
          Chernozhukov, Wüthrich & Zhu (2021) are one more call:
          ``result.detail.conformal_inference()``.
        * ``"synthetic_did"``: common adoption, more donors than treated units;
          :class:`~policyeval.SyntheticDiD` with the placebo standard error
          and a normal p-value.
        * ``"wild_bootstrap"``: restricted wild cluster bootstrap with Webb
          weights (TWFE / EventStudy). Offered for comparison: with one or two
          treated clusters it hardly ever rejects (MacKinnon & Webb 2017).
    n_permutations : int
        Re-assignments for ``"randomization"`` (all distinct ones if fewer).
    n_bootstrap : int
        Bootstrap draws for ``"wild_bootstrap"``.
    n_replications : int
        Placebo replications for ``"synthetic_did"``.
    random_state : int, numpy.random.Generator or None
    eligible : sequence, optional
        Units among which adoption is re-assigned (``"randomization"``).
    statistic : callable, optional
        ``statistic(result) -> float`` for ``"randomization"`` (needed for an
        event study, e.g. ``lambda r: r.params.loc[0]``).
    options : dict, optional
        Extra constructor options of the synthetic estimator (e.g.
        ``{"max_iter": 1000}``) or extra arguments of the wild bootstrap.
    progress : bool
        Show progress bars.
    **fit_kwargs
        The fit arguments (``yname``, ``tname``, ``idname`` and ``gname`` or
        ``treatment``, ...), exactly as given to ``estimator.fit``.

    Returns
    -------
    FewTreatedInference
        ``p_value``, ``estimate``, ``resolution``, the treated ``counts`` and the
        underlying result in ``detail``.

    Raises
    ------
    ValueError
        Unknown ``method``.
    DesignError
        Synthetic methods with staggered adoption, or ``"synthetic_control"``
        with more than one treated unit.
    ArgumentTypeError
        No ``gname``/``treatment``/``treated_units`` among the fit arguments.

    Notes
    -----
    Which method to use (``docs/montecarlo_few_treated.md`` has the size and
    power of each at 1, 2, 5, 10 and 30 treated units):

    * randomization inference holds its size for every count; with one treated
      unit its p-value can reach 0.05 only with at least 20 units;
    * the synthetic-control permutation test needs one treated unit and at least
      20 units; its conformal p-values (moving-block permutations) are multiples of
      :math:`1/T` and cannot fall to 0.05 with fewer than 20 periods; the SDID
      placebo test needs more donors than treated units and assumes the donors'
      errors are exchangeable with the treated units';
    * the wild cluster bootstrap (WCR) with one or two treated units never
      rejected in the Monte Carlo, with or without an effect;
    * the analytic standard errors of the fit need about
      :data:`MIN_TREATED_UNITS` treated units or more.

    References
    ----------
    Conley, T. G. and Taber, C. R. (2011). Inference with "difference in
    differences" with a small number of policy changes. *Review of Economics
    and Statistics*, 93(1), 113-125.

    MacKinnon, J. G. and Webb, M. D. (2020). Randomization inference for
    difference-in-differences with few treated clusters. *Journal of
    Econometrics*, 218(2), 435-450.

    Examples
    --------
    One county given a placebo "enclave" in 2012 in the bundled simulated panel
    (no true effect), TWFE with randomization inference:

    >>> import policyeval as pe
    >>> panel = pe.load_simulated_panel()
    >>> never = panel[panel["first_treat"] == 0].copy()
    >>> never["g"] = (never["county_code"] == never["county_code"].iloc[0]) * 2012
    >>> ri = pe.few_treated_inference(
    ...     pe.TWFE(), never, yname="log_gdp", tname="year", idname="county_code",
    ...     gname="g", n_permutations=199, random_state=1)
    >>> ri.method, ri.counts.total, ri.resolution == 1 / 139
    ('randomization', 1, True)
    >>> 0 < ri.p_value <= 1
    True
    """
    if method not in _METHODS:
        raise ArgumentValueError(f"method={method!r} must be one of {_METHODS}")
    with warnings.catch_warnings():
        # the fits below would repeat the warning that pointed here
        warnings.filterwarnings("ignore", category=FewTreatedWarning)
        return _few_treated_inference(estimator, data, method, n_permutations, n_bootstrap,
                                      n_replications, random_state, eligible, statistic,
                                      options, progress, fit_kwargs)


def _few_treated_inference(estimator, data, method, n_permutations, n_bootstrap,
                           n_replications, random_state, eligible, statistic, options,
                           progress, fit_kwargs) -> FewTreatedInference:
    require_frame(data)
    options = dict(options or {})
    idname, tname = fit_kwargs.get("idname"), fit_kwargs.get("tname")
    require_columns(data, idname=idname, tname=tname)
    counts = _counts_from_kwargs(data, fit_kwargs)

    if method == "randomization":
        from policyeval.inference.randomization import randomization_inference

        ri = randomization_inference(estimator, data, statistic=statistic,
                                     n_permutations=n_permutations, random_state=random_state,
                                     progress=progress, eligible=eligible, **fit_kwargs)
        res = 1.0 / ri.n_permutations if ri.enumerated else 1.0 / (ri.n_permutations + 1)
        return FewTreatedInference(
            method, ri.observed, ri.p_value, res, counts, ri,
            notes=["Randomization inference: adoption re-assigned across "
                   f"{ri.n_eligible} units ({ri.n_permutations} re-assignments"
                   + (", all" if ri.enumerated else "") + "); exact under the sharp null if "
                   "adoption is as good as random across them."])

    if method == "wild_bootstrap":
        from policyeval.inference.wild_bootstrap import wild_cluster_bootstrap

        kw = dict(options)
        if "weights" in kw:     # the multiplier law's name before 0.2
            from policyeval._deprecation import warn_renamed

            warn_renamed("few_treated_inference(options=...)", "weights", "multiplier")
            kw["multiplier"] = kw.pop("weights")
        kw.setdefault("multiplier", "webb")
        wb = wild_cluster_bootstrap(estimator, data=data, n_bootstrap=n_bootstrap,
                                    random_state=random_state, progress=progress,
                                    **kw, **fit_kwargs)
        return FewTreatedInference(
            method, wb.estimate, wb.p_value, 1.0 / wb.n_bootstrap, counts, wb,
            notes=[f"Wild cluster bootstrap ({wb.method}, {wb.multiplier}), {wb.n_clusters} "
                   "clusters; unreliable with one or two treated clusters (MacKinnon & Webb "
                   "2017)."])

    from policyeval.estimators.synthetic import SyntheticControl, SyntheticDiD

    treated, treat_time, donors = _common_adoption(data, fit_kwargs)
    yname = fit_kwargs.get("yname")
    design = dict(yname=yname, tname=tname, idname=idname, treated_units=treated,
                  treat_time=treat_time)
    sample = data if donors is None else data[data[idname].isin(set(treated) | set(donors))]
    if method == "synthetic_control":
        if len(treated) != 1:
            raise DesignError(
                f"method='synthetic_control' tests one treated unit; there are {len(treated)} "
                f"(e.g. {examples(treated)}); use method='randomization' or 'synthetic_did'")
        sc_opts = {"v_method": "equal", "placebo_donors": "all", "progress": progress, **options}
        sc = SyntheticControl(**sc_opts).fit(sample, **design)
        n = sc.placebos.shape[0] if sc.placebos is not None else np.nan
        return FewTreatedInference(
            method, float(sc.params["ATT"]), float(sc.permutation_pvalue), 1.0 / n, counts, sc,
            notes=[f"In-space placebo permutation test over {n} units (post/pre RMSPE ratio); "
                   "conformal p-values: result.detail.conformal_inference() (moving-block "
                   "p-values are multiples of 1/T for T periods)."])
    sd_opts = {"se_method": "placebo", "n_replications": n_replications,
               "random_state": random_state, "progress": progress, **options}
    sd = SyntheticDiD(**sd_opts).fit(sample, **design)
    est, se = float(sd.params["ATT"]), float(sd.std_errors["ATT"])
    p = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan
    return FewTreatedInference(
        method, est, p, np.nan, counts, sd,
        notes=[f"Synthetic DiD, placebo standard error from {sd_opts['n_replications']} "
               f"re-assignments among {sd.n_control} donors; normal p-value."])


def _counts_from_kwargs(data: pd.DataFrame, fit_kwargs: dict) -> TreatedCounts:
    idname, tname = fit_kwargs["idname"], fit_kwargs["tname"]
    units = data[idname].to_numpy()
    if fit_kwargs.get("gname") is not None:
        require_columns(data, gname=fit_kwargs["gname"])
        g = pd.to_numeric(data[fit_kwargs["gname"]], errors="coerce").to_numpy(dtype=float)
        return count_treated(units, g, last_period=float(pd.to_numeric(data[tname]).max()))
    if fit_kwargs.get("treatment") is not None:
        require_columns(data, treatment=fit_kwargs["treatment"])
        return count_treated(units, treatment=data[fit_kwargs["treatment"]].to_numpy(),
                             time=data[tname].to_numpy())
    if fit_kwargs.get("treated_units") is not None:
        treated = set(fit_kwargs["treated_units"])
        t0 = float(fit_kwargs.get("treat_time", np.nan))
        g = np.where(pd.Series(units).isin(treated).to_numpy(), t0, np.inf)
        return count_treated(units, g)
    raise ArgumentTypeError("few_treated_inference permutes adoption timing: give gname=, "
                            "treatment= (with tname=) or treated_units= among the fit arguments")
