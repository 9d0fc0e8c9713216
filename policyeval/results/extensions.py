"""Results of the DiD designs beyond one binary, absorbing treatment.

- :class:`ContinuousDiDResult`: :class:`~policyeval.estimators.ContinuousDiD` (a continuous
  dose: ATT(d), ACRT(d) and their averages);
- :class:`TripleDiDResult`: :class:`~policyeval.estimators.TripleDiD` (a third difference
  across eligible and ineligible units);
- :class:`SwitchingDiDResult`: :class:`~policyeval.estimators.SwitchingDiD` (treatments
  switching on and off).

The three estimators extend the design rather than the estimation method, are computed from
the same balanced unit panel of differenced outcomes (``policyeval.estimators._unit_panel``)
and report a headline effect with an event-study frame beside it, so their results share a
room.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._deprecation import legacy_plot_kind
from policyeval._validation import require_option
from policyeval.results.base import EstimationResult

__all__ = ["ContinuousDiDResult", "TripleDiDResult", "SwitchingDiDResult"]


class ContinuousDiDResult(EstimationResult):
    """Result of :class:`~policyeval.estimators.ContinuousDiD`.

    ``params`` holds ``ATT`` (:math:`ATT^o`, needs parallel trends) and ``ACRT``
    (:math:`ACRT^o`, causal only under strong parallel trends).

    Attributes
    ----------
    dose_response : pandas.DataFrame
        One row per dose of the grid: ``dose``, ``att`` (:math:`ATT(d)`), ``att_se``,
        ``att_low``, ``att_high``, ``acrt`` (:math:`ACRT(d)`), ``acrt_se``, ``acrt_low``,
        ``acrt_high`` (pointwise intervals at ``level``).
    cells : pandas.DataFrame
        Every (cohort, period) comparison: binarized ``ATT`` with ``ATT_se``, ``ACRT``
        (post-periods), group sizes.
    event_study : pandas.DataFrame
        Binarized ATT by event time (negative: pre-trend checks against period g - 1).
    level : float
    """

    def __init__(self, *, params, std_errors, vcov, nobs, n_units, spec, dose_response, cells,
                 event_study, influence, n_treated, n_never, n_clusters):
        super().__init__(params=params, std_errors=std_errors, nobs=nobs, n_units=n_units,
                         spec=spec, estimator="Continuous-dose DiD (CGBS 2024)", vcov=vcov,
                         influence=influence, index_name="term", level=spec["level"],
                         extra={"notes": [
                             "ATT = E[ATT(D|D) | D > 0] needs parallel trends; ACRT is the "
                             "average causal response only under strong parallel trends "
                             "(no selection on gains)."]})
        self.dose_response = dose_response
        self.cells = cells
        self.event_study = event_study
        self.n_treated = n_treated
        self.n_never = n_never
        self.n_clusters = n_clusters

    def _summary_facts(self):
        facts = super()._summary_facts()
        facts += [("Treated / never", f"{self.n_treated} / {self.n_never}"),
                  ("Dose", str(self.spec["dname"])),
                  ("Clusters", "units" if self.n_clusters is None else str(self.n_clusters))]
        return facts

    def plot(self, ax=None, label: str | None = None, kind: str = "att", **kwargs):
        """Plot ``"att"`` (:math:`ATT(d)`), ``"acrt"`` (:math:`ACRT(d)`) or ``"event"``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        label : str, optional
            Title of the plot.
        kind : {"att", "acrt", "event"}
            What to draw. (Before 0.2 ``kind`` was the first argument; ``plot("acrt")``
            still works for one release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.)

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        ax, label, kind = legacy_plot_kind(ax, label, kind)
        require_option(kind, "kind", ("att", "acrt", "event"))
        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        if label is not None:
            ax.set_title(label)
        if kind == "event":
            es = self.event_study
            z = float(np.abs(self.dose_response["att_high"] - self.dose_response["att"]).iloc[0]
                      / self.dose_response["att_se"].iloc[0]) if len(self.dose_response) else 1.96
            ax.errorbar(es["event_time"], es["estimate"], yerr=z * es["std_error"], fmt="o",
                        color="C0", capsize=3)
            ax.axhline(0, color="0.3", linewidth=0.8)
            ax.set_xlabel("periods since treatment")
            ax.set_ylabel("binarized ATT")
            return ax
        dr = self.dose_response
        ax.plot(dr["dose"], dr[kind], color="C0", label=kind.upper() + "(d)")
        ax.fill_between(dr["dose"], dr[f"{kind}_low"], dr[f"{kind}_high"], color="C0", alpha=0.2,
                        label=f"{self.level:.0%} pointwise")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_xlabel(f"dose ({self.spec['dname']})")
        ax.set_ylabel(kind.upper())
        ax.legend(frameon=False)
        return ax


class _EventFramePlot:
    """``plot()`` of a result with an ``event_study`` frame (``event_time``, ``estimate``,
    ``std_error``); subclasses set ``_plot_labels`` (x and y axis labels)."""

    _plot_labels = ("event time", "effect")

    def plot(self, ax=None, label: str | None = None, level: float | None = None, **kwargs):
        """Event-study plot with pointwise intervals.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        label : str, optional
            Title of the plot.
        level : float, optional
            Coverage of the intervals; default the result's ``level``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from policyeval.plots.estimates import plot_event_frame

        xlabel, ylabel = self._plot_labels
        return plot_event_frame(self.event_study, self._level(level), ax, label,
                                xlabel=xlabel, ylabel=ylabel)


class TripleDiDResult(_EventFramePlot, EstimationResult):
    """Result of :class:`~policyeval.estimators.TripleDiD`.

    Attributes
    ----------
    cells : pandas.DataFrame
        One row per (cohort, period): ``ATT`` (the DDD), ``std_error``, ``n_eligible``.
    event_study : pandas.DataFrame
        DDD by event time; negative event times are pre-trend checks.
    level : float
    """

    def __init__(self, *, params, std_errors, vcov, nobs, n_units, spec, cells, event_study,
                 influence, n_eligible_treated, n_clusters):
        super().__init__(params=params, std_errors=std_errors, nobs=nobs, n_units=n_units,
                         spec=spec, estimator="Triple differences (DDD)", vcov=vcov,
                         influence=influence, index_name="term", level=spec["level"],
                         extra={"notes": ["DDD parallel trends: the eligible-ineligible gap in "
                                          "untreated trends is the same in treated and "
                                          "comparison groups."]})
        self.cells = cells
        self.event_study = event_study
        self.n_eligible_treated = n_eligible_treated
        self.n_clusters = n_clusters

    def _summary_facts(self):
        facts = super()._summary_facts()
        facts += [("Eligible treated", str(self.n_eligible_treated)),
                  ("Clusters", "units" if self.n_clusters is None else str(self.n_clusters))]
        return facts

    _plot_labels = ("periods since treatment", "DDD")


class SwitchingDiDResult(_EventFramePlot, EstimationResult):
    """Result of :class:`~policyeval.estimators.SwitchingDiD`.

    ``params``: ``ATT`` (switcher-weighted average of the effects), ``effect_1``, ...,
    ``placebo_1``, ....

    Attributes
    ----------
    event_study : pandas.DataFrame
        ``term``, ``event_time`` (effects positive, placebos negative), ``estimate``,
        ``std_error``, ``n_switchers``.
    by_direction : pandas.DataFrame
        The same for units switching ``"on"`` and ``"off"`` separately.
    n_switchers : tuple
        (switching on, switching off).
    level : float
    """

    def __init__(self, *, params, std_errors, nobs, n_units, spec, event_study, by_direction,
                 n_switchers, influence=None):
        super().__init__(params=params, std_errors=std_errors, nobs=nobs, n_units=n_units,
                         spec=spec, estimator="Switching DiD (dCDH)", index_name="term",
                         influence=influence, level=spec["level"],
                         extra={"notes": ["Effects of the first switch (on: +, off: sign-flipped) "
                                          "against units not yet switched with the same "
                                          "starting treatment.",
                                          "Standard errors: centred per-unit terms; they match R "
                                          "DIDmultiplegtDYN 2.3.3 on its worked example but are "
                                          "5-6% below R's on a 120-group reference panel "
                                          "(tests/reference/dcdh_mixed_single_switch.py): read "
                                          "them as approximate."]})
        self.vcov = pd.DataFrame(np.diag(self.std_errors.to_numpy() ** 2), index=params.index,
                                 columns=params.index)
        self.event_study = event_study
        self.by_direction = by_direction
        self.n_switchers = n_switchers

    def _summary_facts(self):
        return super()._summary_facts() + [
            ("Switchers on/off", f"{self.n_switchers[0]} / {self.n_switchers[1]}")]

    _plot_labels = ("periods since the first switch", "effect of being treated")
