"""Treatment-timing charts that stay readable with many units."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from policyeval.data.simulated_label import resolve_simulated
from policyeval.exceptions import ArgumentValueError

__all__ = ["plot_treatment_timing"]


def plot_treatment_timing(data: pd.DataFrame, idname: str, tname: str, gname: str, *,
                          namecol: str | None = None, by: str = "auto", max_units: int = 60,
                          max_labels: int = 40, ax=None, title: str | None = None,
                          simulated: bool | None = None):
    """Who is treated when: a unit-by-period chart, or one bar per cohort for many units.

    ``by="unit"`` draws one row per unit (ordered by first treatment, then
    id), untreated periods light, treated periods dark, with rules between
    cohorts; y labels are thinned to at most ``max_labels`` so 60, 200 or
    2,000 units stay legible, and no unit is left out. ``by="cohort"``
    collapses the units into one bar per cohort labelled with its size
    (never-treated units form their own bar).

    Parameters
    ----------
    data : pandas.DataFrame
        A long panel (one row per unit and period) or one row per unit.
    idname, tname, gname : str
        Unit id, period and first-treated-period columns (``gname`` 0 or
        missing for never treated).
    namecol : str, optional
        Column with display names (e.g. ``county_name``), shown beside the ids.
    by : {"auto", "unit", "cohort"}
        ``auto``: units when there are at most ``max_units``, else cohorts.
    max_units : int, default 60
        Threshold of ``by="auto"``.
    max_labels : int, default 40
        At most this many unit labels on the y axis (every k-th unit).
    ax : matplotlib.axes.Axes, optional
    title : str, optional
    simulated : bool, optional
        SIMULATED subtitle; default from ``data``'s provenance.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ArgumentValueError
        Unknown ``by``, or ``gname`` varying within a unit.

    Examples
    --------
    >>> import pandas as pd, matplotlib.pyplot as plt
    >>> panel = pd.DataFrame({"id": [1, 1, 2, 2], "year": [2000, 2001] * 2,
    ...                       "g": [2001, 2001, 0, 0]})
    >>> ax = plot_treatment_timing(panel, "id", "year", "g")
    >>> [t.get_text() for t in ax.get_yticklabels()]
    ['1', '2']
    >>> plt.close("all")
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    if by not in ("auto", "unit", "cohort"):
        raise ArgumentValueError(f"by={by!r} must be 'auto', 'unit' or 'cohort'")
    simulated = resolve_simulated(simulated, data)
    cols = [idname, gname] + ([namecol] if namecol else [])
    units = data[cols].drop_duplicates()
    counts = units.groupby(idname)[gname].nunique(dropna=False)
    if (counts > 1).any():
        bad = counts[counts > 1].index[:3].tolist()
        raise ArgumentValueError(f"{gname}={gname!r} varies within {idname}={idname!r} for "
                                 f"{int((counts > 1).sum())} units (e.g. {bad}); treatment timing "
                                 "must be constant per unit")
    units = units.drop_duplicates(idname)
    g = pd.to_numeric(units[gname], errors="coerce").fillna(0).to_numpy(dtype=float)
    units = units.assign(_g=np.where(g > 0, g, np.inf)).sort_values(["_g", idname], kind="stable")
    periods = np.sort(pd.to_numeric(data[tname]).unique()) if tname in data else np.array([])
    if by == "auto":
        by = "unit" if len(units) <= max_units else "cohort"
    if by == "unit":
        n = len(units)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, min(12.0, max(3.0, 0.12 * n + 1.5))))
        status = (periods[None, :] >= units["_g"].to_numpy()[:, None]).astype(float)
        ax.imshow(status, aspect="auto", interpolation="nearest", cmap=ListedColormap(["0.88", "C0"]),
                  vmin=0, vmax=1, extent=(periods[0] - 0.5, periods[-1] + 0.5, n - 0.5, -0.5))
        gs = units["_g"].to_numpy()
        for cut in np.flatnonzero(gs[1:] != gs[:-1]) + 1:      # rules between cohorts
            ax.axhline(cut - 0.5, color="white", linewidth=1.5)
        step = max(1, math.ceil(n / max_labels))
        rows = np.arange(0, n, step)
        names = units[namecol].astype(str).to_numpy() if namecol else None
        ids = units[idname].astype(str).to_numpy()
        ax.set_yticks(rows)
        ax.set_yticklabels([f"{names[r]} {ids[r]}" if names is not None else ids[r] for r in rows],
                           fontsize="small" if n <= 30 else "x-small")
        ax.set_ylabel(idname + (f" (1 in {step} of {n} labelled)" if step > 1 else ""))
        ax.set_xlabel(tname)
        ax.set_title(title if title is not None else f"Treatment timing ({n} units; dark = treated)")
    else:
        cohorts = units.groupby("_g", sort=True).size()
        if ax is None:
            _, ax = plt.subplots(figsize=(8, max(2.5, 0.35 * len(cohorts) + 1.2)))
        lo, hi = periods[0] - 0.5, periods[-1] + 0.5
        for i, (gg, size) in enumerate(cohorts.items()):
            start = min(max(gg - 0.5, lo), hi) if np.isfinite(gg) else hi
            ax.barh(i, start - lo, left=lo, color="0.88", height=0.7)
            if start < hi:
                ax.barh(i, hi - start, left=start, color="C0", height=0.7)
        ax.set_yticks(np.arange(len(cohorts)))
        ax.set_yticklabels([(f"{gg:g}" if np.isfinite(gg) else "never") + f" (n={size})"
                            for gg, size in cohorts.items()], fontsize="small")
        ax.invert_yaxis()
        ax.set_xlim(lo, hi)
        ax.set_ylabel(f"cohort ({gname})")
        ax.set_xlabel(tname)
        ax.set_title(title if title is not None else
                     f"Treatment timing by cohort ({len(units)} units; dark = treated)")
    from policyeval.plots.estimates import label_simulated

    label_simulated(ax, simulated)
    if namecol or any(ord(ch) >= 0x2E80 for ch in str(title or "")):
        from policyeval.plots.fonts import apply_cjk_font

        apply_cjk_font(ax)
    return ax
