"""Checking a long panel once and turning it into the arrays CallawaySantAnna uses.

Every check names the argument, the column and a few offending ids. Rows are
dropped only with a :class:`~policyeval.exceptions.DroppedObservationsWarning`
that states how many and why. Everything is done on integer codes with numpy
(no per-unit Python loops), so the checks cost a few passes over the rows
even for 15 million of them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from policyeval._validation import (
    column_list,
    examples,
    numeric_column,
    require_columns,
    require_frame,
    require_two_periods,
    require_varying,
    require_weights,
    varies_within,
)
from policyeval.estimators._inputs import (
    check_first_treated,
    finite_column,
    period_column,
    require_unique_unit_periods,
)
from policyeval.exceptions import (
    DataError,
    DroppedObservationsWarning,
    EstimationError,
    EstimationWarning,
    TreatmentTimingError,
)

__all__ = ["StaggeredData", "prepare"]


@dataclass
class StaggeredData:
    """Arrays for one CallawaySantAnna fit.

    For panels (``panel=True``) a row is a unit and ``outcomes`` is the wide
    ``n_units x n_periods`` matrix. For repeated cross-sections (and
    unbalanced panels estimated that way) a row is an observation and
    ``period_code`` says which period it belongs to.
    """

    panel: bool
    periods: np.ndarray            # sorted distinct periods (int64)
    group: np.ndarray              # first treated period per row; inf = never treated
    weights: np.ndarray
    outcomes: np.ndarray           # n x T (panel) or n x 1 (cross-sections)
    period_code: np.ndarray | None  # per row, cross-sections only
    covariates: np.ndarray | None  # p x n x T (panel) or n x p (cross-sections)
    cluster: np.ndarray | None
    n_clusters: int
    ids: np.ndarray | None
    nobs: int
    n_units: int
    notes: list[str] = field(default_factory=list)


def _per_unit_constant(values: np.ndarray, unit: np.ndarray, n_units: int, n_periods: int = 0):
    """A value per unit and the units whose rows do not all carry that value.

    ``n_periods > 0`` says the rows are sorted by (unit, period) with every
    period present, so a reshape replaces the scatter.
    """
    if n_periods:
        m = values.reshape(n_units, n_periods)
        bad = m != m[:, :1]
        if np.isnan(values).any():
            bad &= ~(np.isnan(m) & np.isnan(m[:, :1]))
        return m[:, 0], np.flatnonzero(bad.any(axis=1))
    ref = np.full(n_units, np.nan)
    ref[unit] = values
    r = ref[unit]
    bad = values != r
    if np.isnan(values).any():
        bad &= ~(np.isnan(values) & np.isnan(r))
    return ref, np.unique(unit[bad])


def _take(values, rows):
    """``values[rows]``, or ones when there are no sampling weights."""
    return np.ones(len(rows)) if values is None else values[rows]


def _switch_off(g, t, unit, varying):
    """Units among ``varying`` whose first-treated period later becomes 'never' (0)."""
    sel = np.isin(unit, varying)
    u, tt, gg = unit[sel], t[sel], g[sel]
    order = np.lexsort((tt, u))
    u, gg = u[order], gg[order]
    first_row = np.r_[True, u[1:] != u[:-1]]
    first_g = np.repeat(gg[first_row], np.diff(np.r_[np.flatnonzero(first_row), len(u)]))
    return np.unique(u[np.isfinite(first_g) & np.isinf(gg)])


def _balanced_blocks(raw_ids: np.ndarray, t: np.ndarray, g: pd.Series):
    """Shape of a panel stored as consecutive unit blocks, or ``None``.

    The layout almost every panel arrives in: integer ids in increasing
    blocks of ``T`` rows, each block holding the same ``T`` increasing periods,
    and a numeric ``gname`` constant within each block. Then the long columns
    are ``n x T`` matrices by a reshape, and unit codes, period codes and
    per-unit values need no pass of their own. Returns ``(n, T, periods,
    ids, g per unit)``; ``None`` sends the caller down the general path.
    """
    n_rows = len(raw_ids)
    if raw_ids.dtype.kind not in "iu" or n_rows < 2 or t.dtype.kind not in "iu":
        return None
    if not (isinstance(g.dtype, np.dtype) and g.dtype.kind in "iuf"):
        return None
    head = raw_ids[:100_000]
    change = np.flatnonzero(head != head[0])
    T = int(change[0]) if len(change) else (n_rows if n_rows == len(head) else 0)
    if T < 2 or n_rows % T:
        return None
    n = n_rows // T
    ids = raw_ids.reshape(n, T)
    if not ((ids[1:, 0] > ids[:-1, 0]).all() and (ids[:, 1:] == ids[:, :1]).all()):
        return None
    tt = t.reshape(n, T)
    periods = tt[0]
    if not ((periods[1:] > periods[:-1]).all() and (tt == periods).all()):
        return None
    gg = g.to_numpy().reshape(n, T)
    same = gg[:, 1:] == gg[:, :1]
    if not same.all():
        if gg.dtype.kind != "f":
            return None
        same |= np.isnan(gg[:, 1:]) & np.isnan(gg[:, :1])   # missing: never treated in every row
        if not same.all():
            return None
    return n, T, periods.astype(np.int64), ids[:, 0].copy(), gg[:, 0].astype(float)


def _balanced_fast_path(df, t_all, y_all, x_all, w_all, *, idname, tname, gname, weights, cluster,
                        anticipation, control_group, notes):
    """:class:`StaggeredData` of a balanced panel in unit blocks without per-row passes, or ``None``.

    Runs the checks of the general path on per-unit values (the same errors,
    naming the same ids) when :func:`_balanced_blocks` recognises the layout
    and nothing is dropped or recoded (no unit treated in every period or
    after the last one, some never treated). Otherwise ``None``: the general
    path runs and gives every warning.
    """
    shape = _balanced_blocks(df[idname].to_numpy(), t_all, df[gname])
    if shape is None:
        return None
    n, T, periods, id_values, g = shape
    check_first_treated(g, periods, gname, id_values)
    np.copyto(g, np.inf, where=~(g > 0))          # 0: never treated
    require_two_periods(periods, "tname", tname)
    never = np.isinf(g)
    if ((g > periods[-1]) & ~never).any() or (g <= periods[0] + anticipation).any() or not never.any():
        return None
    cl, ncl = None, n
    for arg, col, vals in (("weights", weights, w_all), ("cluster", cluster, None)):
        if col is None:
            continue
        if vals is None:
            codes = pd.factorize(df[col])[0]
            if (codes < 0).any():                  # missing clusters: the general path refuses them
                return None
            vals = codes.astype(float)
        _, var = _per_unit_constant(vals, None, n, T)
        if len(var):
            raise DataError(varies_within(arg, col, idname, id_values[var],
                                          "it must be constant per unit in a panel"))
        if arg == "cluster" and cluster != idname:
            cl = np.unique(vals[::T], return_inverse=True)[1]
            ncl = int(cl.max()) + 1
    Y = y_all.reshape(n, T)
    X = None
    if x_all:
        X = x_all[0].reshape(1, n, T) if len(x_all) == 1 else np.stack([x.reshape(n, T) for x in x_all])
    w_unit = np.ones(n) if weights is None else w_all[::T].copy()
    return StaggeredData(True, periods, g, w_unit, Y, None, X, cl, ncl, id_values, len(df), n, notes)


def prepare(df, *, yname, tname, idname, gname, covariates, weights, cluster, panel,
            allow_unbalanced_panel, control_group, anticipation) -> StaggeredData:
    """Validate the long data frame and build :class:`StaggeredData`.

    Raises
    ------
    ColumnNotFoundError, ArgumentTypeError, NonNumericValueError, DataError,
    DuplicateObservationError, TreatmentTimingError, EstimationError
        See :class:`policyeval.estimators.staggered.CallawaySantAnna`.
    """
    require_frame(df, "data")
    require_columns(df, strict=True, yname=yname, tname=tname, gname=gname)
    if panel or idname is not None:
        require_columns(df, strict=True, idname=idname)
    covariates = column_list(covariates, "covariates")
    require_columns(df, strict=True, covariates=covariates)
    if len(set(covariates)) != len(covariates):
        raise DataError(f"covariates={covariates!r} lists a column twice")
    optional = {"weights": weights, "cluster": cluster}
    require_columns(df, strict=True, **{arg: col for arg, col in optional.items() if col is not None})
    notes: list[str] = []

    # --- time ---------------------------------------------------------
    t_all = period_column(df, tname, idname)
    keep = np.ones(len(df), dtype=bool)

    # --- outcome, covariates, weights: rows with missing values go, loudly
    # one rule for +-inf (and overflow such as 1e309) everywhere: refuse, naming column and units
    row_ids = None if idname is None else df[idname].to_numpy()
    where = "units" if idname is not None else "rows"
    y_all = finite_column(df, yname, "yname", idname, row_ids, where=where)
    x_all = [finite_column(df, c, "covariates", idname, row_ids, where=where) for c in covariates]
    w_all = None if weights is None else numeric_column(df, weights, "weights", idname)
    if w_all is not None:
        require_weights(w_all, weights, row_ids)
    missing = np.isnan(y_all)
    if weights is not None:
        missing |= np.isnan(w_all)
    for x in x_all:
        missing |= np.isnan(x)
    if missing.any():
        cols = [yname, *covariates] + ([weights] if weights else [])
        warnings.warn(
            f"Dropped {int(missing.sum())} rows with a missing value in {cols}.",
            DroppedObservationsWarning, stacklevel=3)
        keep &= ~missing
    require_varying(y_all if keep.all() else y_all[keep], "yname", yname)
    if weights is not None and not keep.all():
        require_weights(w_all[keep], weights)

    if panel and idname is not None and keep.all():
        fast = _balanced_fast_path(df, t_all, y_all, x_all, w_all, idname=idname, tname=tname, gname=gname,
                                   weights=weights, cluster=cluster, anticipation=anticipation,
                                   control_group=control_group, notes=notes)
        if fast is not None:
            return fast

    g_all = numeric_column(df, gname, "gname", idname)
    check_first_treated(g_all, t_all, gname, row_ids)
    if not g_all.flags.writeable or np.shares_memory(g_all, df[gname].to_numpy()):
        g_all = g_all.copy()
    np.copyto(g_all, np.inf, where=~(g_all > 0))   # 0 or missing: never treated

    # --- units ----------------------------------------------------------
    if idname is not None:
        ids_col = df[idname]
        if ids_col.isna().any():
            raise DataError(f"idname={idname!r} is missing in {int(ids_col.isna().sum())} rows")
        raw = ids_col.to_numpy()
        if raw.dtype.kind in "iu" and len(raw) and bool((raw[1:] >= raw[:-1]).all()):
            # ids already sorted (the usual layout): codes from the change points, no hashing
            change = np.empty(len(raw), dtype=bool)
            change[0] = True
            np.not_equal(raw[1:], raw[:-1], out=change[1:])
            unit_all = np.cumsum(change) - 1
            id_values = raw[change]
        else:
            unit_all, id_values = pd.factorize(ids_col, sort=False)
            id_values = np.asarray(id_values)
        n_ids = len(id_values)
    else:
        unit_all = np.arange(len(df))
        id_values, n_ids = None, len(df)
    sorted_full, sorted_T = False, 0

    t_min, t_max = int(t_all.min()), int(t_all.max())
    if t_max - t_min < 1_000_000:
        periods_all = np.flatnonzero(np.bincount(t_all - t_min)) + t_min
    else:
        periods_all = np.sort(pd.unique(t_all))
    require_two_periods(periods_all, "tname", tname)
    t0, span = periods_all[0], int(periods_all[-1] - periods_all[0]) + 1
    if span == len(periods_all):                    # consecutive periods: the code is an offset
        tcode_all = t_all - t0
    elif span <= 50 * len(periods_all) + 1000:
        lut = np.zeros(span, dtype=np.int64)
        lut[periods_all - t0] = np.arange(len(periods_all))
        tcode_all = lut[t_all - t0]
    else:
        tcode_all = np.searchsorted(periods_all, t_all)
    if idname is not None:
        # the common case, rows sorted by (unit, period) with no gap, needs no scatter at all
        T_all = len(periods_all)
        sorted_full = False
        if len(df) == n_ids * T_all:
            U = unit_all.reshape(n_ids, T_all)
            sorted_full = bool((U[:, 0] == np.arange(n_ids)).all() and (U == U[:, :1]).all()
                               and (tcode_all.reshape(n_ids, T_all) == np.arange(T_all)).all())
        sorted_T = T_all if sorted_full else 0
        if not sorted_full:
            require_unique_unit_periods(unit_all, tcode_all, idname, tname, id_labels=id_values,
                                        period_labels=periods_all)

        # treatment timing must be constant within a unit
        _, varying = _per_unit_constant(g_all, unit_all, n_ids, sorted_T)
        if len(varying):
            off = _switch_off(g_all, t_all, unit_all, varying)
            extra = (f"treatment switches off for {len(off)} of them (e.g. {examples(id_values[off])}), "
                     "which staggered adoption does not allow; ") if len(off) else ""
            raise TreatmentTimingError(varies_within(
                "gname", gname, idname, id_values[varying],
                f"{extra}treatment timing must be constant per unit."))
        for arg, col, vals in (("weights", weights, w_all), ("cluster", cluster, None)):
            if col is None:
                continue
            if vals is None:
                vals = pd.factorize(df[col])[0].astype(float)
            if panel:
                _, var = (_per_unit_constant(vals, unit_all, n_ids, sorted_T) if keep.all()
                          else _per_unit_constant(vals[keep], unit_all[keep], n_ids))
                if len(var):
                    raise DataError(varies_within(arg, col, idname, id_values[var],
                                                  "it must be constant per unit in a panel"))

    # --- never treated / treated before the data start ---------------------
    t_first, t_last = periods_all[0], periods_all[-1]
    late = np.isfinite(g_all) & (g_all > t_last)
    if late.any():
        n_late = len(np.unique(unit_all[late]))
        notes.append(f"{n_late} units first treated after the last period ({t_last}) are used as never treated.")
        warnings.warn(f"{n_late} units have gname={gname!r} after the last period {t_last}; "
                      "they are never treated within the data and are used as such.",
                      EstimationWarning, stacklevel=3)
        g_all = np.where(late, np.inf, g_all)
    always = g_all <= t_first + anticipation
    if always.any():
        bad_units = np.unique(unit_all[always])
        label = id_values[bad_units] if id_values is not None else bad_units
        warnings.warn(
            f"Dropped {len(bad_units)} units (e.g. {examples(label)}; {int(always.sum())} rows) treated in every "
            f"period: gname={gname!r} <= first period {t_first} + anticipation {anticipation}, so they "
            "have no untreated period to compare.", DroppedObservationsWarning, stacklevel=3)
        keep &= ~always

    has_never = bool(np.isinf(g_all if keep.all() else g_all[keep]).any())
    if not has_never:
        if control_group == "never_treated":
            raise EstimationError(
                f"control_group='never_treated' but no unit is never treated (gname={gname!r} is 0 "
                "or missing for none of them); use control_group='not_yet_treated'.")
        cutoff = np.max(g_all[keep]) - anticipation
        late_rows = keep & (t_all >= cutoff)
        if late_rows.any():
            warnings.warn(
                f"Dropped {int(late_rows.sum())} rows in periods >= {cutoff:g}: there are no never-treated "
                "units, so once the last cohort is treated nobody is left to compare with (the last "
                "cohort serves only as a control).", DroppedObservationsWarning, stacklevel=3)
            keep &= ~late_rows

    # --- clusters -------------------------------------------------------
    if cluster is not None and not panel and idname is not None and cluster == idname:
        cluster_all = unit_all
    elif cluster is not None:
        cluster_all = pd.factorize(df[cluster])[0]
        if (cluster_all < 0).any():
            raise DataError(f"cluster={cluster!r} is missing in {int((cluster_all < 0).sum())} rows")
    else:
        cluster_all = None

    # --- assemble ------------------------------------------------------------
    all_kept = bool(keep.all())
    if all_kept and panel and idname is not None and sorted_full:
        # the common layout needs no row index at all
        T = len(periods_all)
        Y = y_all.reshape(n_ids, T)
        X = np.stack([x.reshape(n_ids, T) for x in x_all]) if covariates else None
        cl, ncl = None, n_ids
        if cluster_all is not None and cluster != idname:
            cl = np.unique(cluster_all[::T], return_inverse=True)[1]
            ncl = int(cl.max()) + 1
        w_unit = np.ones(n_ids) if weights is None else w_all[::T].copy()
        return StaggeredData(True, periods_all, g_all[::T].copy(), w_unit, Y, None, X, cl, ncl, id_values,
                             len(df), n_ids, notes)
    rows = np.flatnonzero(keep)
    if len(rows) == 0:
        raise EstimationError("no rows left to estimate with")
    if len(rows) == len(df):
        periods, tcode = periods_all, tcode_all
    else:
        present_t = np.bincount(tcode_all[rows], minlength=len(periods_all)) > 0
        periods = periods_all[present_t]
        tcode = (np.cumsum(present_t) - 1)[tcode_all[rows]]
    if len(periods) < 2:
        raise EstimationError(f"tname={tname!r} has fewer than two periods left; DiD needs two")
    T = len(periods)

    if panel and idname is not None:
        unit = unit_all[rows]
        present = np.bincount(unit, minlength=n_ids)
        full = present == T
        partial = (present > 0) & ~full
        if not allow_unbalanced_panel and partial.any():
            gone = np.flatnonzero(partial)
            warnings.warn(
                f"Dropped {len(gone)} units (e.g. {examples(id_values[gone])}; {int(present[gone].sum())} rows) not "
                f"observed in all {T} periods: panel=True uses a balanced panel (as R did). Pass "
                "allow_unbalanced_panel=True to keep them (estimated as repeated cross-sections, "
                "clustered by unit).", DroppedObservationsWarning, stacklevel=3)
            sel = full[unit]
            rows, tcode, unit = rows[sel], tcode[sel], unit[sel]
            if len(rows) == 0:
                raise EstimationError("no unit is observed in every period")
            partial[:] = False
        if not partial.any():
            used = np.flatnonzero(full)
            remap = np.full(n_ids, -1, dtype=np.intp)
            remap[used] = np.arange(len(used))
            unit = remap[unit]
            n = len(used)
            Y = np.full((n, T), np.nan)
            Y[unit, tcode] = y_all[rows]
            first = np.empty(n, dtype=np.int64)
            first[unit] = rows                      # any row of the unit: these columns are constant
            X = None
            if covariates:
                X = np.empty((len(covariates), n, T))
                for j, x in enumerate(x_all):
                    X[j][unit, tcode] = x[rows]
            cl, ncl = None, n
            if cluster_all is not None and cluster != idname:
                cl = np.unique(cluster_all[first], return_inverse=True)[1]
                ncl = int(cl.max()) + 1
            w_unit = np.ones(n) if weights is None else w_all[first]
            return StaggeredData(True, periods, g_all[first], w_unit, Y, None, X, cl, ncl,
                                 id_values[used], len(rows), n, notes)
        # unbalanced panel kept: estimate as repeated cross-sections, clustered by unit
        notes.append("Unbalanced panel estimated as repeated cross-sections with standard errors "
                     "clustered by unit.")
        cl_src = unit_all if cluster_all is None or cluster == idname else cluster_all
        cl = np.unique(cl_src[rows], return_inverse=True)[1]
        X = np.column_stack([x[rows] for x in x_all]) if covariates else None
        return StaggeredData(False, periods, g_all[rows], _take(w_all, rows), y_all[rows][:, None], tcode, X,
                             cl, int(cl.max()) + 1, None, len(rows), int((np.bincount(unit) > 0).sum()), notes)

    # repeated cross-sections
    cl, ncl = None, len(rows)
    if cluster_all is not None:
        cl = np.unique(cluster_all[rows], return_inverse=True)[1]
        ncl = int(cl.max()) + 1
    X = np.column_stack([x[rows] for x in x_all]) if covariates else None
    return StaggeredData(False, periods, g_all[rows], _take(w_all, rows), y_all[rows][:, None], tcode, X, cl,
                         ncl, None, len(rows), len(rows), notes)
