"""Results of the synthetic-control estimators: weights, paths and placebo inference.

- :class:`SyntheticControlResult`: :class:`~policyeval.estimators.SyntheticControl`;
- :class:`SyntheticDiDResult`: :class:`~policyeval.estimators.SyntheticDiD`.

Both carry donor weights and the treated and synthetic paths rather than a regression table.
:class:`SyntheticControlResult` keeps the estimator's problem object (data block and options):
its placebo methods ask that object for a refit (:meth:`SyntheticControlResult.in_time_placebo`)
and for the conformal test's outcome model, so this module, a layer below the estimators,
imports none of them (docs/architecture.md).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._deprecation import legacy_plot_kind
from policyeval._validation import p_value_text, require_option
from policyeval.exceptions import DesignError
from policyeval.inference import placebo as _placebo
from policyeval.results.base import EstimationResult, with_term_aliases

__all__ = ["SyntheticControlResult", "SyntheticDiDResult"]


class SyntheticControlResult(EstimationResult):
    """Result of :class:`~policyeval.estimators.SyntheticControl`.

    ``params`` holds ``ATT`` (mean post-period gap; ``att`` before 0.2, still answered for
    one release); ``std_errors`` are NaN
    (synthetic control has no sampling-based standard error) and ``pvalues``
    is the in-space permutation p-value when placebos were run.

    Attributes
    ----------
    weights : pandas.Series
        Donor weights.
    predictor_weights : pandas.Series
        Diagonal of :math:`V` (sums to one).
    predictor_balance : pandas.DataFrame
        Treated, synthetic and donor-average predictor values.
    paths : pandas.DataFrame
        ``treated``, ``synthetic``, ``gap`` and ``post`` by period.
    rmspe_pre, rmspe_post : float
    placebos : pandas.DataFrame or None
        In-space placebo table (pre/post RMSPE and their ratio per unit).
    placebo_gaps : pandas.DataFrame or None
        Gap path of every unit (periods × units).
    permutation_pvalue : float
    """

    def __init__(self, problem, fit, spec, data, placebo_table, placebo_gaps, pvalue):
        block = problem.block
        treated = block.n_control
        gap = block.Y[treated] - fit["synthetic"]
        n_pre = block.n_pre
        super().__init__(
            params=pd.Series({"ATT": gap[n_pre:].mean()}),
            std_errors=pd.Series({"ATT": np.nan}), term_aliases={"att": "ATT"},
            nobs=block.nobs, n_units=len(block.units), spec=spec,
            estimator="Synthetic control", index_name="term", level=spec.get("level", 0.95),
            extra={"notes": ["Std. errors are not defined for synthetic control; p_value is the "
                             "in-space permutation p-value (post/pre RMSPE ratio rank)."]})
        self._problem, self._data = problem, data
        self.weights = pd.Series(fit["w"], index=block.donors, name="weight")
        self.predictor_weights = pd.Series(fit["v"], index=[s[0] for s in problem.specs], name="v")
        window = tuple(range(n_pre // 2, n_pre)) if spec["v_method"] == "cv" else tuple(range(n_pre))
        raw = problem.predictors(window)[0]
        self.predictor_balance = pd.DataFrame({
            "treated": raw[:, treated], "synthetic": raw[:, : block.n_control] @ fit["w"],
            "donor_mean": raw[:, : block.n_control].mean(axis=1)}, index=self.predictor_weights.index)
        self.paths = pd.DataFrame({"treated": block.Y[treated], "synthetic": fit["synthetic"],
                                   "gap": gap, "post": np.arange(len(gap)) >= n_pre},
                                  index=pd.Index(block.periods, name=spec["tname"]))
        self.rmspe_pre = _placebo.rmspe(gap[:n_pre])
        self.rmspe_post = _placebo.rmspe(gap[n_pre:])
        self.placebos = placebo_table
        self.placebo_gaps = placebo_gaps
        self.permutation_pvalue = pvalue

    @property
    def pvalues(self) -> pd.Series:
        """In-space permutation p-value of the treated unit's post/pre RMSPE ratio."""
        return with_term_aliases(pd.Series({"ATT": self.permutation_pvalue}), self.term_aliases,
                                 self.estimator)

    def _summary_facts(self):
        facts = super()._summary_facts()
        facts += [("Treated unit", str(self.spec["treated_units"][0])),
                  ("Treatment from", str(self.spec["treat_time"])),
                  ("Donors (w > 0)", f"{int((self.weights > 1e-6).sum())}/{len(self.weights)}"),
                  ("Pre RMSPE", f"{self.rmspe_pre:.4g}")]
        if self.placebos is not None and np.isfinite(self.permutation_pvalue):
            # the in-space p-value ranks the treated unit among J + 1 units: its step is 1/(J+1)
            facts.append(("Permutation p", p_value_text(self.permutation_pvalue, len(self.placebos),
                                                        enumerated=True)))
        return facts

    def in_time_placebo(self, placebo_time) -> "SyntheticControlResult":
        """Refit with treatment moved back to ``placebo_time``, using pre-treatment data only.

        The gaps between ``placebo_time`` and the real treatment date should be
        close to zero if the synthetic control is credible (ADH 2015).
        """
        s = self.spec
        periods = self._problem.block.periods
        if placebo_time not in periods[1: self._problem.block.n_pre]:
            raise DesignError(
                f"placebo_time={placebo_time!r} must be a pre-treatment period after the first "
                f"({periods[1]}..{periods[self._problem.block.n_pre - 1]})")
        df = self._data[self._data[s["tname"]] < s["treat_time"]]
        return self._problem.refit(df, s, placebo_time)

    def leave_one_out(self) -> pd.DataFrame:
        """Synthetic path after dropping each donor with positive weight (one column per donor)."""
        block = self._problem.block
        out = _placebo.leave_one_out(block.n_control, list(range(block.n_control)),
                                     self.weights.to_numpy(), block.donors, self._problem.paths)
        out.index = pd.Index(block.periods, name=self.spec["tname"])
        return out

    def conformal_inference(self, level: float = 0.9, permutation: str = "moving_block",
                            q: float = 1.0, grid: np.ndarray | None = None,
                            n_permutations: int = 1000, random_state=None,
                            confidence_sets: bool = True) -> pd.DataFrame:
        r"""Conformal p-values and confidence sets per post period (CWZ 2021).

        Uses canonical synthetic control on the outcomes (simplex weights,
        :math:`V = I`, no intercept) as the counterfactual model; see
        :func:`policyeval.inference.placebo.conformal_pvalue`.

        Returns
        -------
        pandas.DataFrame
            One row per post period: ``estimate`` (gap), ``p_value`` of
            :math:`H_0: \alpha_t = 0`, ``conf_low``/``conf_high`` (level
            ``level``). ``.attrs["joint_p_value"]`` tests no effect in every
            post period jointly. ``confidence_sets=False`` skips the (costlier)
            grid inversion and leaves the bounds NaN.
        """
        block = self._problem.block
        outcome_model = self._problem.outcome_model
        y, Y0 = block.Y[block.n_control], block.Y[: block.n_control]
        table = _placebo.conformal_confidence_set(y, Y0, block.n_pre, outcome_model, level=level,
                                                  grid=grid, permutation=permutation, q=q,
                                                  n_permutations=n_permutations,
                                                  random_state=random_state,
                                                  confidence_sets=confidence_sets)
        post = block.periods[block.n_pre:]
        table.insert(0, "estimate", y[block.n_pre:] - outcome_model(y, Y0, block.n_pre)[block.n_pre:])
        table.index = pd.Index(post, name=self.spec["tname"])
        table.attrs["joint_p_value"] = _placebo.conformal_pvalue(
            y, Y0, block.n_pre, 0.0, outcome_model, permutation, q, n_permutations, random_state)
        return table

    def plot(self, ax=None, label: str | None = None, kind: str = "paths", **kwargs):
        """Plot ``"paths"`` (treated vs synthetic) or ``"gaps"`` (with placebo gaps if run).

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        label : str, optional
            Title of the plot.
        kind : {"paths", "gaps"}
            What to draw. (Before 0.2 ``kind`` was the first argument;
            ``plot("gaps")`` still works for one release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.)

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        ax, label, kind = legacy_plot_kind(ax, label, kind)
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        x = self.paths.index
        if kind == "paths":
            ax.plot(x, self.paths["treated"], color="C0", label=str(self.spec["treated_units"][0]))
            ax.plot(x, self.paths["synthetic"], color="C1", linestyle="--", label="synthetic")
            ax.set_ylabel(self.spec["yname"])
        elif kind == "gaps":
            if self.placebo_gaps is not None:
                for col in self.placebo_gaps.columns:
                    if col != self.spec["treated_units"][0]:
                        ax.plot(x, self.placebo_gaps[col], color="0.8", linewidth=0.8)
            ax.plot(x, self.paths["gap"], color="C0", label="gap (treated − synthetic)")
            ax.axhline(0, color="0.3", linewidth=0.8)
            ax.set_ylabel("gap")
        else:
            require_option(kind, "kind", ("paths", "gaps"))
        ax.axvline(self.spec["treat_time"], color="0.5", linestyle=":")
        ax.set_xlabel(self.spec["tname"])
        if label is not None:
            ax.set_title(label)
        ax.legend(frameon=False)
        return ax


class SyntheticDiDResult(EstimationResult):
    """Result of :class:`~policyeval.estimators.SyntheticDiD`.

    Attributes
    ----------
    unit_weights : pandas.Series
        :math:`\\hat\\omega` over control units.
    time_weights : pandas.Series
        :math:`\\hat\\lambda` over pre-treatment periods.
    paths : pandas.DataFrame
        ``treated`` (mean of treated units), ``synthetic`` (the
        :math:`\\hat\\omega`-weighted controls shifted by the
        :math:`\\hat\\lambda`-weighted pre-period difference) and ``gap``.
    effects : pandas.Series
        Per-period gaps in the post period; their mean is ``params["ATT"]``.
    replications : ndarray or None
        Placebo / bootstrap / jackknife estimates behind the standard error.
    noise_level, zeta_omega : float
        :math:`\\hat\\sigma` and the unit-weight regularisation.
    """

    def __init__(self, block, tau, se, omega, lam, opts, spec, reps):
        names = {"sdid": "Synthetic DiD", "sc": "Synthetic control (synthdid)", "did": "DiD (synthdid)",
                 "difp": "De-meaned synthetic control (DIFP)"}
        super().__init__(params=pd.Series({"ATT": tau}), std_errors=pd.Series({"ATT": se}),
                         term_aliases={"att": "ATT"},
                         nobs=block.nobs, n_units=len(block.units), spec=spec,
                         estimator=names[spec["method"]], level=spec.get("level", 0.95))
        Y, N0, T0 = block.Y, block.n_control, block.n_pre
        self.unit_weights = pd.Series(omega, index=block.donors, name="omega")
        self.time_weights = pd.Series(lam, index=block.periods[:T0], name="lambda")
        treated = Y[N0:].mean(axis=0)
        synth = omega @ Y[:N0]
        synth = synth + (lam @ treated[:T0] - lam @ synth[:T0])
        self.paths = pd.DataFrame({"treated": treated, "synthetic": synth, "gap": treated - synth},
                                  index=pd.Index(block.periods, name=spec["tname"]))
        self.effects = self.paths["gap"].iloc[T0:]
        self.replications = reps
        self.noise_level = opts["noise_level"]
        self.zeta_omega = opts["zeta_omega"]
        self.n_treated = Y.shape[0] - N0
        self.n_control = N0

    def _summary_facts(self):
        facts = super()._summary_facts()

        def eff(w):  # effective number of controls, 1 / sum(w^2), as synthdid prints it
            ss = float(np.sum(np.asarray(w) ** 2))
            return 1.0 / ss if ss > 0 else np.nan

        facts += [("Treated / controls", f"{self.n_treated} / {self.n_control}"),
                  ("Treatment from", str(self.spec["treat_time"])),
                  ("SE method", str(self.spec["se_method"])),
                  ("Effective N0", f"{eff(self.unit_weights):.1f}")]
        return facts

    def plot(self, ax=None, label: str | None = None, **kwargs):
        """Treated vs synthetic trajectories with the time weights shaded at the bottom.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        label : str, optional
            Title of the plot.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        x = self.paths.index
        ax.plot(x, self.paths["treated"], color="C0", label="treated")
        ax.plot(x, self.paths["synthetic"], color="C1", linestyle="--", label="synthetic control")
        lo = float(np.nanmin(self.paths[["treated", "synthetic"]].to_numpy()))
        hi = float(np.nanmax(self.paths[["treated", "synthetic"]].to_numpy()))
        ax.bar(self.time_weights.index, self.time_weights.to_numpy() * 0.2 * (hi - lo),
               bottom=lo - 0.25 * (hi - lo), color="C1", alpha=0.4, label="time weights (scaled)")
        ax.axvline(self.spec["treat_time"], color="0.5", linestyle=":")
        ax.set_xlabel(self.spec["tname"])
        ax.set_ylabel(self.spec["yname"])
        if label is not None:
            ax.set_title(label)
        ax.legend(frameon=False)
        return ax
