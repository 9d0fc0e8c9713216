"""Results of the regression-based event-study estimators.

One room for the results whose numbers come out of a (fixed-effects) regression or an
imputation regression, and whose terms are a static effect or effects by event time / cell:

- :class:`RegressionResult`: :class:`~policyeval.estimators.TWFE` and
  :class:`~policyeval.estimators.EventStudy`;
- :class:`SunAbrahamResult`: :class:`~policyeval.estimators.SunAbraham`;
- :class:`ImputationResult`: :class:`~policyeval.estimators.ImputationDiD`;
- :class:`TwoStageResult`: :class:`~policyeval.estimators.TwoStageDiD`;
- :class:`ExtendedTWFEResult`: :class:`~policyeval.estimators.ExtendedTWFE`;
- :class:`LocalProjectionsResult`: :class:`~policyeval.estimators.LocalProjectionsDiD`.

The estimators build these objects; nothing here fits anything (the results layer sits below
the estimators, see docs/architecture.md). Re-weighting already estimated cells
(:meth:`SunAbrahamResult.aggregate`, :meth:`ExtendedTWFEResult.aggregate`) is arithmetic on
stored numbers, so it lives here.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from policyeval._validation import require_option
from policyeval.exceptions import EstimationError, PolicyevalFutureWarning
from policyeval.inference.covariance import linear_combination
from policyeval.results.base import EstimationResult, Summary
from policyeval.results.staggered import GroupTimeResult

__all__ = [
    "RegressionResult",
    "SunAbrahamResult",
    "ImputationResult",
    "TwoStageResult",
    "ExtendedTWFEResult",
    "LocalProjectionsResult",
    "aggregate_cells",
    "combine_influence",
    "EXTENDED_TWFE_KINDS",
]

#: the aggregations of :meth:`ExtendedTWFEResult.aggregate`
EXTENDED_TWFE_KINDS = ("simple", "dynamic", "group", "calendar")

#: Sun-Abraham aggregation names before 0.2 -> Callaway-Sant'Anna's names
_OLD_KINDS = {"att": "simple", "period": "dynamic", "cohort": "group"}


def aggregate_cells(beta, vcov, weight, keys, mask):
    """Weighted averages of the cells selected by ``mask``, one per distinct ``keys`` value.

    Returns the estimates, their covariance, the sorted labels and the weight matrix ``W``
    (rows: labels, columns: cells; each row's weights are ``weight`` normalised within it).
    :meth:`SunAbrahamResult.aggregate` and :class:`~policyeval.estimators.SunAbraham` use it.

    Examples
    --------
    Two event times, the first from two cohort cells of sizes 1 and 3:

    >>> import numpy as np
    >>> from policyeval.results.regression import aggregate_cells
    >>> est, cov, labels, W = aggregate_cells(np.array([1.0, 2.0, 5.0]), np.eye(3),
    ...                                       np.array([1.0, 3.0, 2.0]), np.array([0, 0, 1]),
    ...                                       np.ones(3, bool))
    >>> labels, est.round(2).tolist()
    ([0, 1], [1.75, 5.0])
    """
    labels = list(dict.fromkeys(keys[mask].tolist()))
    labels.sort()
    W = np.zeros((len(labels), len(beta)))
    for row, key in enumerate(labels):
        sel = mask & (keys == key)
        W[row, sel] = weight[sel] / weight[sel].sum()
    est, cov = linear_combination(W, beta, vcov)
    return est, cov, labels, W


def combine_influence(influence, weights: np.ndarray):
    """Influence function of ``theta @ weights`` (``k x m``) from an ``N x k`` array or an
    :class:`~policyeval.inference.influence.InfluenceFunction` (kept in its own form).

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.inference.influence import DenseInfluence
    >>> psi = np.array([[1.0, 3.0], [-1.0, -3.0]])
    >>> w = np.array([[0.5], [0.5]])
    >>> combine_influence(psi, w).ravel().tolist()
    [2.0, -2.0]
    >>> dense = DenseInfluence(psi, cohort=np.zeros(2), weights=np.ones(2))
    >>> combine_influence(dense, w).to_dense().ravel().tolist()
    [2.0, -2.0]
    """
    if isinstance(influence, np.ndarray):
        return influence @ weights
    return influence.combine(weights)


class RegressionResult(EstimationResult):
    r"""Result of a fixed-effects regression: the shared contract plus the fit facts.

    Adds the standard-error type to the summary header; everything else is
    :class:`~policyeval.results.base.EstimationResult`. ``influence`` holds
    the per-unit influence function :math:`\psi_i = N (\tilde X'\tilde X)^{-1}
    \sum_t \tilde x_{it}\tilde e_{it}`, so ``influence.vcov()`` is the
    unit-clustered covariance without small-sample correction (for bootstraps
    and aggregation without refitting); ``vcov`` is the corrected one. It is a
    :class:`~policyeval.inference.influence.DenseInfluence`, or, for the
    balanced, unweighted, unit-clustered event-time fits (TWFE with ``gname``,
    :class:`~policyeval.estimators.EventStudy`,
    :class:`~policyeval.estimators.SunAbraham`), a
    :class:`~policyeval.inference.influence.CohortInfluence` over the ``N x T``
    residual matrix with per-cohort coefficients (``to_dense()`` gives the
    ``N x k`` array). ``extra`` keeps the full coefficient vector and covariance
    (``full_params``, ``full_vcov``), the covariance type, the number of
    clusters and the :class:`~policyeval.inference.covariance.SmallSampleCorrection`.
    """

    def _summary_facts(self) -> list[tuple[str, str]]:
        facts = super()._summary_facts()
        facts.append(("Std. errors", str(self.extra.get("vcov_type", ""))))
        if self.extra.get("n_clusters"):
            facts.append(("Clusters", ", ".join(str(g) for g in self.extra["n_clusters"])))
        fe = self.spec.get("fe") or [self.spec["idname"], self.spec["tname"]]
        facts.append(("Fixed effects", " + ".join(fe)))
        return facts


class SunAbrahamResult(RegressionResult):
    """Event-time effects of :class:`~policyeval.estimators.SunAbraham`, with the cohort-level effects kept.

    ``params`` are indexed by event time. :attr:`cohort_effects` holds every
    :math:`CATT_{g,e}` with its standard error and the number of
    observations behind it; :meth:`aggregate` re-weights them (``"simple"``,
    ``"dynamic"``, ``"group"``: the names of
    :meth:`policyeval.results.staggered.GroupTimeResult.aggregate`) without refitting.
    """

    @property
    def cohort_effects(self) -> pd.DataFrame:
        """One row per cohort × event time: estimate, std_error and weight (cell size)."""
        cells = self.extra["cells"]
        se = np.sqrt(np.diag(self.extra["cell_vcov"]))
        return cells.assign(estimate=self.extra["cell_params"], std_error=se)

    def aggregate(self, kind: str = "simple") -> RegressionResult:
        r"""Aggregate the cohort-specific effects.

        Parameters
        ----------
        kind : {"simple", "dynamic", "group"}
            The names of Callaway-Sant'Anna's aggregations:
            ``"simple"``: one overall effect ``"ATT"`` over all
            post-treatment cells (:math:`e \ge 0`); ``"dynamic"``: one per
            event time (the ``params`` of this result); ``"group"``: one per
            cohort over its post-treatment cells. The names used before 0.2
            (``"att"``, ``"period"``, ``"cohort"``) still work for one
            release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.

        Returns
        -------
        RegressionResult

        Notes
        -----
        Each aggregate is :math:`\sum_{(g,e)\in S} \omega_{g,e}\,
        \widehat{CATT}_{g,e}` with :math:`\omega_{g,e} = n_{g,e}/\sum_S n`,
        :math:`n_{g,e}` the number of observations (sum of weights) in the
        cell, as in ``fixest::aggregate``; its variance is
        :math:`\omega' \hat V \omega`.
        """
        if kind in _OLD_KINDS:
            warnings.warn(f"kind={kind!r} is now called {_OLD_KINDS[kind]!r} (the name of the "
                          "Callaway-Sant'Anna aggregation); the old name stops working in the next "
                          "release", PolicyevalFutureWarning, stacklevel=2)
            kind = _OLD_KINDS[kind]
        cells = self.extra["cells"]
        post = cells["event_time"].to_numpy() >= 0
        if kind == "dynamic":
            keys, mask = cells["event_time"].to_numpy(), np.ones(len(cells), bool)
            index_name = "event_time"
        elif kind == "group":
            keys, mask, index_name = cells["cohort"].to_numpy(), post, "group"
        elif kind == "simple":
            keys, mask, index_name = np.zeros(len(cells), dtype=int), post, "term"
        else:
            require_option(kind, "kind", ("simple", "dynamic", "group"))
        if not mask.any():
            raise EstimationError("no post-treatment cohort effects to aggregate")
        params, vcov, labels, W = aggregate_cells(
            self.extra["cell_params"], self.extra["cell_vcov"], cells["weight"].to_numpy(),
            keys, mask,
        )
        if kind == "simple":
            labels = ["ATT"]
        index = pd.Index(labels, name=index_name)
        return RegressionResult(
            pd.Series(params, index=index),
            pd.Series(np.sqrt(np.diag(vcov)), index=index),
            nobs=self.nobs,
            n_units=self.n_units,
            spec={**self.spec, "aggregation": kind},
            estimator=f"Sun & Abraham ({kind})",
            vcov=pd.DataFrame(vcov, index=index, columns=index),
            influence=combine_influence(self.extra["cell_influence"], W.T),
            df_resid=self.df_resid,
            index_name=index_name,
            level=self.level,
            extra={k: v for k, v in self.extra.items() if k in ("vcov_type", "n_clusters", "ssc",
                                                                  "notes")}
            | ({"reference_period": self.extra["reference_period"]} if kind == "dynamic" else {}),
        )


class ImputationResult(EstimationResult):
    """Result of :class:`~policyeval.estimators.ImputationDiD`.

    Besides the shared contract it holds

    - ``overall``: the average effect over all treated observations
      (``t >= g``) with its standard error, also when ``params`` holds event
      times;
    - ``pretrend_test``: BJS Test 1 (``None`` unless ``pretrends`` was set):
      the lead coefficients, their covariance (cluster-robust, or classical
      with ``pretrend_vcov="iid"``; key ``vcov_type``) and the joint Wald
      statistic with chi-square and F p-values;
    - ``effects``: one row per treated observation with ``y``, the imputed
      ``y0_hat`` and ``tau = y - y0_hat``.

    ``influence`` has one row per cluster and one column per imputation term
    (``extra["influence_terms"]``; a
    :class:`~policyeval.inference.influence.DenseInfluence`), scaled so that
    ``influence.vcov()`` (``psi.T @ psi / n_clusters**2`` with
    ``psi = influence.to_dense()``) is their covariance. Lead
    coefficients of the pre-trend test come from a separate regression;
    their covariance with the imputation terms is not estimated (``nan`` in
    ``vcov``).
    """

    overall: pd.Series
    pretrend_test: dict[str, Any] | None
    effects: pd.DataFrame

    def _summary_notes(self) -> list[str]:
        notes = super()._summary_notes()
        ov = self.overall
        notes.append(f"Overall ATT (t >= g): {ov['estimate']:.4f} (s.e. {ov['std_error']:.4f}).")
        pt = self.pretrend_test
        if pt is not None:
            notes.append(
                f"Pre-trend test (BJS Test 1), leads {pt['leads']}: Wald chi2({pt['df']}) = "
                f"{pt['statistic']:.3f}, p = {pt['p_value']:.4f}; F({pt['df']}, {pt['df_denom']}) = "
                f"{pt['f_statistic']:.3f}, p = {pt['f_p_value']:.4f}."
            )
        return notes




class TwoStageResult(EstimationResult):
    """Result of :class:`~policyeval.estimators.TwoStageDiD`.

    ``params`` holds the static effect (term ``"ATT"``; ``"treated"`` before 0.2, still answered for one release) or one effect
    per event time (index ``event_time``; negative event times are
    pre-treatment placebo coefficients: the mean first-stage residual of
    treated-to-be units, zero under parallel trends). ``influence`` (a
    :class:`~policyeval.inference.influence.DenseInfluence`) has one row per
    cluster, scaled so that ``influence.vcov()`` is ``vcov``. ``extra["first_stage"]`` keeps the
    first-stage coefficients (fixed-effect levels and covariates) and
    ``extra["residualized"]`` the outcome net of them for every row.
    """

    def _summary_facts(self) -> list[tuple[str, str]]:
        facts = super()._summary_facts()
        facts.append(("First-stage FE", " + ".join(self.spec["fe"])))
        facts.append(("Clusters", f"{self.extra['n_clusters']:,}"))
        return facts


class ExtendedTWFEResult(EstimationResult):
    """Cohort × period effects of :class:`~policyeval.estimators.ExtendedTWFE` and their aggregations.

    ``params`` are the ATT(g,t), indexed by ``(group, time)``; ``cells`` adds
    the event time, the post-treatment flag and the number of treated
    observations (the aggregation weights). :meth:`aggregate` averages them
    without refitting. ``vcov`` is the cells' covariance matrix (the
    regression's, or its delta-method image for Poisson).

    ``influence`` is a :class:`~policyeval.inference.influence.DenseInfluence`
    with one row per cluster (``vcov="cluster"``/``"CR2"``) or per observation
    (``"hetero"``/``"HC2"``/``"iid"``): the rows' sums of the regression scores
    :math:`(\tilde X'\tilde X)^{-1}\tilde x_{it}\tilde e_{it}` mapped to the
    cells (through the Poisson delta method for ``family="poisson"``). As for
    every result, it carries no small-sample correction: ``influence.vcov()``
    is the CR0 / HC0 covariance, which equals ``vcov`` for ``vcov="cluster"``
    (CR1) and ``"hetero"`` (HC1) with ``ssc="none"`` and is smaller than it by
    the small-sample factor otherwise. CR2 and HC2 rescale each cluster's
    residuals by its own bias-reduction matrix and ``"iid"`` is model-based, so
    no score rows reproduce them: ``influence.vcov()`` is the CR0 / HC0
    covariance there too. Aggregations carry the
    influence function of their weighted averages.
    """

    def __init__(self, cells: pd.DataFrame, vcov: np.ndarray, *, df_resid, level, contrast_df,
                 **kwargs) -> None:
        idx = pd.MultiIndex.from_frame(cells[["group", "time"]])
        super().__init__(
            pd.Series(cells["estimate"].to_numpy(), index=idx),
            pd.Series(np.sqrt(np.diag(vcov)), index=idx),
            vcov=pd.DataFrame(vcov, index=idx, columns=idx), df_resid=df_resid,
            index_name=["group", "time"], level=level, **kwargs)
        self.cells = cells.reset_index(drop=True)
        self._contrast_df = contrast_df or {}

    @property
    def ATT(self) -> float:
        """The overall effect: every post-treatment cell weighted by its treated observations."""
        return float(self.aggregate("simple").params["ATT"])

    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """One row per cell: group, time, event_time, post, estimate, ..., n_treated."""
        ci = self.conf_int(level)
        out = self.cells[["group", "time", "event_time", "post"]].copy()
        out["estimate"] = self.params.to_numpy()
        out["std_error"] = self.std_errors.to_numpy()
        out["statistic"] = self.tstats.to_numpy()
        out["p_value"] = self.pvalues.to_numpy()
        out["conf_low"] = ci["conf_low"].to_numpy()
        out["conf_high"] = ci["conf_high"].to_numpy()
        out["n_treated"] = self.cells["n_treated"].to_numpy()
        return out

    def summary(self, level: float | None = None):
        """Text / HTML / LaTeX summary of the cell effects."""
        level = self._level(level)
        table = self.to_frame(level).set_index(["group", "time"])
        return Summary(title=f"{self.estimator} results",
                       facts=self._summary_facts() + [("Confidence level", f"{level:.0%}")],
                       table=table, notes=self._summary_notes())

    # the cells have GroupTimeResult's layout (group, time, post): draw them the same way
    plot = GroupTimeResult.plot

    def _weights(self, kind: str) -> tuple[list, np.ndarray, str]:
        c = self.cells
        post = c["post"].to_numpy(bool)
        n = c["n_treated"].to_numpy(float)
        if kind == "simple":
            keys, col, name = ["ATT"], None, "term"
            masks = [post]
        else:
            col, name = {"dynamic": ("event_time", "event_time"), "group": ("group", "group"),
                         "calendar": ("time", "time")}[kind]
            use = np.ones(len(c), bool) if kind == "dynamic" else post
            keys = sorted(c.loc[use, col].unique().tolist())
            masks = [use & (c[col].to_numpy() == k) for k in keys]
        W = np.zeros((len(keys), len(c)))
        for i, m in enumerate(masks):
            W[i, m] = n[m] / n[m].sum()
        return keys, W, name

    def aggregate(self, kind: str = "simple", level: float | None = None) -> EstimationResult:
        r"""Average the cell effects (R ``etwfe::emfx(type=...)``; Stata ``estat``).

        Parameters
        ----------
        kind : {"simple", "dynamic", "group", "calendar"}
            ``simple``: one overall ATT over every post-treatment cell (term
            ``"ATT"``); ``dynamic``: by event time :math:`e = t - g` (with
            ``control_group="never_treated"`` the pre-treatment placebo cells too;
            ``etwfe``'s ``type = "event"``, also accepted as ``"event"``);
            ``group``: by cohort; ``calendar``: by period.
        level : float, optional
            Confidence level; default the fit's.

        Returns
        -------
        EstimationResult

        Notes
        -----
        Each aggregate is :math:`\sum_{(g,t)} w_{gt}\,ATT(g,t)` with
        :math:`w_{gt} = N_{gt} / \sum N_{gt}` over the cells it averages
        (:math:`N_{gt}` treated observations); its variance is
        :math:`w'Vw` with the weights held fixed, as ``etwfe``/``jwdid`` do.
        """
        kind = "dynamic" if kind == "event" else kind
        require_option(kind, "kind", EXTENDED_TWFE_KINDS)
        keys, W, name = self._weights(kind)
        if not keys:
            raise EstimationError(f"kind={kind!r}: no cell to aggregate")
        V = self.vcov.to_numpy()
        est = W @ self.params.to_numpy()
        cov = W @ V @ W.T
        df = self.df_resid
        if np.ndim(df):
            df = np.asarray(self._contrast_df.get(kind, np.full(len(keys), np.nan)))
        index = pd.Index(keys, name=name)
        res = EstimationResult(
            pd.Series(est, index=index), pd.Series(np.sqrt(np.diag(cov)), index=index),
            nobs=self.nobs, n_units=self.n_units, spec={**self.spec, "aggregation": kind},
            estimator=f"{self.estimator}, {kind} aggregation",
            vcov=pd.DataFrame(cov, index=index, columns=index), df_resid=df, index_name=name,
            influence=None if self.influence is None else self.influence.combine(W.T),
            extra={"weights": pd.DataFrame(W, index=index, columns=self.params.index),
                   "notes": list(self.extra.get("notes", []))})
        res.level = self.level if level is None else level
        return res


class LocalProjectionsResult(EstimationResult):
    """Per-horizon LP-DiD effects, with the pooled estimates in :attr:`pooled`.

    ``params`` is indexed by ``event_time`` (the pre-treatment placebos
    :math:`-K, \\dots, -2`, then :math:`0, \\dots, H`; :math:`-1` is the
    reference and zero by construction). ``df_resid`` holds one value per
    horizon (each is its own regression, so there is no joint covariance:
    ``vcov`` is diagonal). ``horizons`` gives, per horizon, the number of
    observations, of treated (newly treated) and clean-control observations
    and of clusters. ``pooled`` is an
    :class:`~policyeval.results.base.EstimationResult` with terms ``"ATT"``
    (post window) and ``"pre"`` (pre window placebo).

    ``influence`` (here and in ``pooled``) is a
    :class:`~policyeval.inference.influence.DenseInfluence` with one row per
    cluster (``vcov="cluster"``/``"CR2"``; the units by default) or per
    (unit, period) observation (``"hetero"``/``"HC2"``/``"iid"``), shared by all
    horizons: column :math:`h` holds the row sums of horizon :math:`h`'s scores
    :math:`[(\tilde X'\tilde X)^{-1}\tilde x\tilde e]_{\text{treated}}`
    (zero for rows outside its sample). As for every result, it carries no
    small-sample correction: ``influence.std_errors()`` is the CR0 / HC0
    standard error, equal to ``std_errors`` for ``vcov="cluster"`` (CR1) and
    ``"hetero"`` (HC1) with ``ssc="none"``, and ``influence.vcov()`` adds the
    covariances across horizons that the diagonal ``vcov`` leaves out. CR2 and
    HC2 rescale each cluster's residuals by its own bias-reduction matrix and
    ``"iid"`` is model-based, so no score rows reproduce them; the influence
    function is the CR0 / HC0 one there too.
    """

    @property
    def ATT(self) -> float:
        """The pooled post-treatment effect."""
        return float(self.pooled.params["ATT"])

    def _summary_facts(self) -> list[tuple[str, str]]:
        facts = super()._summary_facts()
        facts.append(("Pooled ATT", f"{self.ATT:.4f} ({self.pooled.std_errors['ATT']:.4f})"))
        facts.append(("Weighting", "equal (reweighted)" if self.spec["reweight"]
                      else "variance (regression)"))
        return facts
