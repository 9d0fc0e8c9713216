"""Coefficient and event-study plots: one result, or several overlaid."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from policyeval.data.simulated_label import SIMULATED_LABEL, resolve_simulated
from policyeval.exceptions import ArgumentTypeError, ArgumentValueError

__all__ = ["plot_estimates", "plot_event_frame", "label_simulated"]

# Index names whose terms are event times (e = t - g): pre-treatment when negative.
_EVENT_TIME = {"event_time", "relative_time", "rel_time", "horizon", "e"}
# Names under which estimators report their headline effect; drawn at one position, "ATT".
_HEADLINE = {"ATT": "ATT", "treated": "ATT", "overall": "ATT", "att": "ATT"}


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

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> ax = label_simulated(plt.figure().add_subplot(), True)
    >>> ax.get_title()
    'SIMULATED DATA (not real statistics)'
    >>> plt.close("all")
    """
    if simulated:
        title = ax.get_title()
        if SIMULATED_LABEL not in title:
            ax.set_title(f"{title}\n{SIMULATED_LABEL}" if title else SIMULATED_LABEL)
    return ax


def _has_cjk(*texts) -> bool:
    return any(ord(ch) >= 0x2E80 for text in texts if text for ch in str(text))


def _frame(res, level):
    """A result's estimates as ``term``, ``estimate``, ``conf_low``, ``conf_high`` (+ uniform)."""
    if not hasattr(res, "to_frame"):
        raise ArgumentTypeError(f"plot_estimates needs policyeval results; got {type(res).__name__}")
    if isinstance(getattr(res, "params", pd.Series(dtype=float)).index, pd.MultiIndex):
        raise ArgumentTypeError(
            f"{type(res).__name__} has one estimate per (group, time); aggregate it first "
            "(res.aggregate('dynamic')) or draw it with res.plot()")
    level = getattr(res, "level", 0.95) if level is None else level
    frame = res.to_frame(level).copy()
    name = getattr(res, "index_name", None)
    term = name if isinstance(name, str) and name in frame.columns else frame.columns[0]
    out = pd.DataFrame({"term": frame[term].to_numpy(), "estimate": frame["estimate"].to_numpy(),
                        "conf_low": frame["conf_low"].to_numpy(),
                        "conf_high": frame["conf_high"].to_numpy()})
    if "uniform_low" in frame:
        out["uniform_low"] = frame["uniform_low"].to_numpy()
        out["uniform_high"] = frame["uniform_high"].to_numpy()
    out.attrs["event_time"] = str(term) in _EVENT_TIME
    out.attrs["level"] = level
    return out


def plot_estimates(results, labels: Sequence[str] | None = None, ax=None, level: float | None = None,
                   uniform: bool | None = None, title: str | None = None, xlabel: str | None = None,
                   ylabel: str = "Estimate", color: str | None = None,
                   colors: Sequence[str] | None = None, label: str | None = None,
                   dodge: float | None = None, simulated: bool | None = None):
    """Plot estimates with their intervals; several results are overlaid side by side.

    Event-study results (terms are event times) are drawn on a numeric axis:
    pre-treatment estimates (event time < 0) as hollow markers, post-treatment
    ones filled, the post period shaded, and the reference period (when a
    result records ``extra["reference_period"]``) as a dotted line. Other
    results are drawn as a coefficient plot; every estimator's headline effect
    (``treated``, ``overall``, ``att``, ``ATT``) shares the position ``ATT``.
    Several results are dodged horizontally so their intervals do not
    overlap, with one legend entry per result. Uniform (simultaneous) bands
    are shaded bars behind the pointwise intervals.

    Parameters
    ----------
    results : result, sequence of results, or mapping of label to result
        Any policyeval results with ``to_frame``; a ``GroupTimeResult``
        must be aggregated first.
    labels : sequence of str, optional
        Legend entries, one per result; default the results' ``estimator``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is made when omitted.
    level : float, optional
        Coverage of the pointwise intervals; default each result's own
        ``level`` (0.95 when it has none).
    uniform : bool, optional
        Shade the simultaneous band; default whenever a result has one.
    title, xlabel, ylabel : str, optional
        Labels.
    color : str, optional
        Colour of a single result (``colors`` for several); default the
        matplotlib cycle.
    colors : sequence of str, optional
        One colour per result.
    label : str, optional
        Legend entry of a single result (same as ``labels=[label]``).
    dodge : float, optional
        Horizontal distance between neighbouring results, in x units;
        default: 0.8 of the smallest gap between terms, shared out.
    simulated : bool, optional
        Add "SIMULATED DATA (not real statistics)" as a subtitle. Default
        (None): when any result comes from simulated data -- it records
        ``extra["simulated"]`` or ``spec["simulated"]``, or holds the design /
        panel it was fitted on (see
        :func:`policyeval.data.simulated_label.is_simulated`). ``False`` for
        a simulated result is refused.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ArgumentTypeError
        An object that is not a result, or an un-aggregated ATT(g,t) result.
    ArgumentValueError
        ``labels`` or ``colors`` of the wrong length.
    DataError
        ``simulated=False`` for a result made from simulated data.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> from policyeval.results import EstimationResult
    >>> def event_study(shift):
    ...     idx = pd.Index([-2, -1, 0, 1, 2], name="event_time")
    ...     est = pd.Series([0.0, 0.01, 0.2, 0.3, 0.35], index=idx) + shift
    ...     return EstimationResult(est, pd.Series(0.05, index=idx), nobs=500, n_units=50,
    ...                             spec={}, estimator="toy", index_name="event_time")
    >>> ax = plot_estimates([event_study(0), event_study(0.05)], labels=["CS", "Sun-Abraham"])
    >>> [t.get_text() for t in ax.get_legend().get_texts()]
    ['CS', 'Sun-Abraham']
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt

    if isinstance(results, Mapping):
        if labels is not None:
            raise ArgumentValueError("labels is for a sequence of results; a mapping already names them")
        labels, results = [str(k) for k in results], list(results.values())
    single = not isinstance(results, (list, tuple))
    models = [results] if single else list(results)
    if not models:
        raise ArgumentValueError("results is empty; pass at least one result")
    simulated = resolve_simulated(simulated, models)
    if labels is None:
        labels = [label] if (label is not None and len(models) == 1) else \
            [str(getattr(r, "estimator", f"({i + 1})")) for i, r in enumerate(models)]
    labels = [str(s) for s in labels]
    if len(labels) != len(models):
        raise ArgumentValueError(f"labels has {len(labels)} entries for {len(models)} results")
    if colors is None:
        colors = [color] if (color is not None and len(models) == 1) else \
            [f"C{i % 10}" for i in range(len(models))]
    if len(colors) != len(models):
        raise ArgumentValueError(f"colors has {len(colors)} entries for {len(models)} results")

    frames = [_frame(r, level) for r in models]
    numeric_terms = [pd.to_numeric(f["term"], errors="coerce") for f in frames]
    numeric = all(x.notna().all() for x in numeric_terms)
    event_time = numeric and all(f.attrs["event_time"] for f in frames)
    if numeric:
        positions = [x.to_numpy(dtype=float) for x in numeric_terms]
        grid = np.unique(np.concatenate(positions))
        ticks, ticklabels = None, None
    else:
        names = [[_HEADLINE.get(t, t) if isinstance(t, str) else t for t in f["term"]] for f in frames]
        order = list(dict.fromkeys(str(t) for ns in names for t in ns))
        where = {t: i for i, t in enumerate(order)}
        positions = [np.array([where[str(t)] for t in ns], dtype=float) for ns in names]
        grid = np.arange(len(order), dtype=float)
        ticks, ticklabels = grid, order
    gap = float(np.min(np.diff(grid))) if len(grid) > 1 else 1.0
    k = len(models)
    step = (0.8 * gap / k if k > 1 else 0.0) if dodge is None else float(dodge)
    width = max(step, 0.25 * gap) * 0.8

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4))
    any_uniform = False
    for j, (frame, xs0, lab, col) in enumerate(zip(frames, positions, labels, colors)):
        xs = xs0 + (j - (k - 1) / 2) * step
        est = frame["estimate"].to_numpy(dtype=float)
        lo, hi = frame["conf_low"].to_numpy(dtype=float), frame["conf_high"].to_numpy(dtype=float)
        if (uniform is None or uniform) and "uniform_low" in frame:
            ulo, uhi = frame["uniform_low"].to_numpy(dtype=float), frame["uniform_high"].to_numpy(dtype=float)
            ax.bar(xs, uhi - ulo, bottom=ulo, width=width, color=col, alpha=0.18, linewidth=0,
                   zorder=1)
            any_uniform = True
        elif uniform and "uniform_low" not in frame:
            raise ArgumentValueError(f"uniform=True, but result {lab!r} has no uniform band "
                                     "(bootstrap it first)")
        ok = np.isfinite(lo) & np.isfinite(hi)
        ax.errorbar(xs[ok], est[ok], yerr=[est[ok] - lo[ok], hi[ok] - est[ok]], fmt="none",
                    ecolor=col, capsize=2, linewidth=1.2, zorder=2)
        pre = (xs0 < 0) if event_time else np.zeros(len(xs0), dtype=bool)
        # the filled points carry the model's label, so a later ax.legend() still lists it
        ax.plot(xs[~pre], est[~pre], "o", color=col, zorder=3, linestyle="none",
                label=lab if (~pre).any() else "_nolegend_")
        if pre.any():
            ax.plot(xs[pre], est[pre], "o", color=col, mfc="white", zorder=3, linestyle="none",
                    label="_nolegend_" if (~pre).any() else lab)

    ax.axhline(0, color="0.3", linewidth=0.8, zorder=0)
    notes = []
    if event_time:
        lo_x, hi_x = grid.min() - gap / 2, grid.max() + gap / 2
        if hi_x > -0.5:
            ax.axvspan(max(-0.5 * gap, lo_x), hi_x, color="0.93", zorder=0, linewidth=0)
            ax.axvline(-0.5 * gap, color="0.5", linestyle="--", linewidth=0.8, zorder=0)
        ax.set_xlim(lo_x, hi_x)
        if (grid < 0).any():
            notes.append("hollow: pre-treatment; shaded: post")
        refs = {r.extra.get("reference_period") for r in models if hasattr(r, "extra")} - {None}
        for i, ref in enumerate(sorted(refs)):
            ax.axvline(ref, color="0.5", linestyle=":", linewidth=1, zorder=0)
            # one shared key (not per model): where the estimates are normalised to zero
            key = "reference period (" + ", ".join(f"{r:g}" for r in sorted(refs)) + ")"
            ax.plot([ref], [0], marker="D", markersize=5, mfc="white", color="0.3", zorder=4,
                    linestyle="none", label=key if i == 0 else "_nolegend_")
    if any_uniform:
        lv = {f.attrs["level"] for f in frames}
        notes.append(f"bars: {lv.pop():.0%} uniform band" if len(lv) == 1 else "bars: uniform band")
    if ticks is not None:
        ax.set_xticks(ticks)
        ax.set_xticklabels(ticklabels, rotation=45 if len(ticklabels) > 6 else 0,
                           ha="right" if len(ticklabels) > 6 else "center")
    names = list(dict.fromkeys(str(getattr(r, "index_name", "")) for r in models))
    default_x = names[0] if len(names) == 1 and names[0] else ("event time" if event_time else "")
    ax.set_xlabel(xlabel if xlabel is not None else default_x)
    ax.set_ylabel(ylabel)
    ax.set_title(title if title is not None else (models[0].estimator if single else ""))
    label_simulated(ax, simulated)
    levels = {f.attrs["level"] for f in frames}
    ci_text = f"{levels.pop():.0%} CI" if len(levels) == 1 else "CI"
    ax.legend(frameon=False, fontsize="small",
              title="\n".join([f"whiskers: {ci_text}"] + notes), title_fontsize="x-small")
    if _has_cjk(title, xlabel, ylabel, *labels, *(ticklabels or [])):
        from policyeval.plots.fonts import apply_cjk_font

        apply_cjk_font(ax)
    return ax


def plot_event_frame(frame: pd.DataFrame, level: float, ax=None, label: str | None = None, *,
                     xlabel: str = "event time", ylabel: str = "effect"):
    """Event-study points with pointwise normal intervals from a frame of estimates.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``event_time``, ``estimate`` and ``std_error``.
    level : float
        Coverage of the intervals.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure when omitted.
    label : str, optional
        Title of the plot.
    xlabel, ylabel : str
        Axis labels.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> es = pd.DataFrame({"event_time": [-1, 0, 1], "estimate": [0.0, 0.4, 0.5],
    ...                    "std_error": [0.1, 0.1, 0.2]})
    >>> ax = plot_event_frame(es, 0.95, label="toy")
    >>> ax.get_title()
    'toy'
    """
    import matplotlib.pyplot as plt
    from scipy.special import ndtri   # the normal quantile

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    if label is not None:
        ax.set_title(label)
    z = ndtri(0.5 + level / 2)
    ax.errorbar(frame["event_time"], frame["estimate"], yerr=z * frame["std_error"], fmt="o",
                color="C0", capsize=3)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax
