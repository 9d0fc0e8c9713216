"""Coefficient and event-study plots."""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval.data.simulated_label import SIMULATED_LABEL, resolve_simulated

__all__ = ["plot_estimates", "label_simulated"]


def label_simulated(ax, simulated: bool = True):
    """Add the SIMULATED subtitle to ``ax``'s title (idempotent) and return ``ax``.

    Every figure policyeval draws from simulated data calls this, so the
    words "SIMULATED DATA" travel with the picture (a second title line).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Axes whose title gets the subtitle.
    simulated : bool, default True
        False leaves the axes as they are.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if simulated:
        title = ax.get_title()
        if SIMULATED_LABEL not in title:
            ax.set_title(f"{title}\n{SIMULATED_LABEL}" if title else SIMULATED_LABEL)
    return ax


def plot_estimates(result, ax=None, level: float = 0.95, uniform: bool | None = None,
                   title: str | None = None, xlabel: str | None = None,
                   ylabel: str = "Estimate", color: str = "C0", simulated: bool | None = None):
    """Plot estimates with pointwise (and, when available, uniform) bands.

    Numeric terms (event times, cohorts, years) are drawn on a numeric axis
    with the reference period, if the result records one in
    ``result.extra["reference_period"]``, marked by a hollow point at zero
    and a dotted vertical line. Other terms are drawn as a coefficient plot.

    Parameters
    ----------
    result : EstimationResult
        Any policyeval result.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    level : float
        Coverage of the pointwise intervals.
    uniform : bool, optional
        Draw the simultaneous band; default: whenever the result has one.
    title, xlabel, ylabel : str, optional
        Labels.
    color : str
        Matplotlib colour of points and bands.
    simulated : bool, optional
        Add "SIMULATED DATA (not real statistics)" as a subtitle. Default
        (None): when the result comes from simulated data -- it records
        ``extra["simulated"]`` or ``spec["simulated"]``, or holds the design /
        panel it was fitted on (see
        :func:`policyeval.data.simulated_label.is_simulated`). ``False`` for
        a simulated result is refused.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    DataError
        ``simulated=False`` for a result made from simulated data.
    """
    simulated = resolve_simulated(simulated, result)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    frame = result.to_frame(level)
    term = frame.columns[0]
    x = pd.to_numeric(frame[term], errors="coerce")
    numeric = bool(x.notna().all())
    xs = x.to_numpy(dtype=float) if numeric else np.arange(len(frame), dtype=float)
    est = frame["estimate"].to_numpy()
    show_uniform = ("uniform_low" in frame) if uniform is None else uniform
    if show_uniform and "uniform_low" in frame:
        ax.fill_between(xs, frame["uniform_low"], frame["uniform_high"], color=color,
                        alpha=0.15, step=None, label="uniform band", linewidth=0)
    ax.errorbar(xs, est, yerr=[est - frame["conf_low"], frame["conf_high"] - est], fmt="o",
                color=color, capsize=3, label=f"estimate, {level:.0%} CI")
    ax.axhline(0, color="0.3", linewidth=0.8)
    ref = result.extra.get("reference_period")
    if numeric and ref is not None:
        ax.axvline(ref, color="0.5", linestyle=":", linewidth=1)
        ax.plot([ref], [0], marker="o", markerfacecolor="white", color=color,
                label=f"reference period ({ref})")
    if not numeric:
        ax.set_xticks(xs)
        ax.set_xticklabels(frame[term].astype(str), rotation=45, ha="right")
    ax.set_xlabel(xlabel or str(term))
    ax.set_ylabel(ylabel)
    ax.set_title(title or result.estimator)
    label_simulated(ax, simulated)
    ax.legend(frameon=False, fontsize="small")
    return ax
