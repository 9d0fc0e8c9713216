"""The one input-preparation layer of the estimators: the checks every panel preparer runs.

Each estimator family still builds its own arrays (:mod:`._did_inputs` for the
imputation / two-stage / Bacon estimators, :mod:`._staggered_data` for
Callaway-Sant'Anna, :mod:`._fixed_effects` for the regression estimators,
:mod:`._unit_panel` for the long-difference estimators and
:mod:`._synthetic_panel` for the synthetic estimators), but the checks those
preparers share are written once, here, and called by all of them:

* :func:`period_column` -- the time column: dates refused ("convert to years"),
  text that is not a number refused, missing periods refused, whole numbers only,
  implausible years (``20010`` among 2001..2010) refused;
* :func:`integer_column` -- the same rules for any integer-period column (``gname``);
* :func:`require_unique_unit_periods` -- the unit x period duplicate-key check, on
  :func:`policyeval._validation.duplicated_unit_periods`;
* :func:`finite_column` -- an outcome, covariate or weight as numbers, with
  ``inf`` refused naming the column and the units;
* :func:`check_first_treated` -- ``gname``: a 0/1 indicator refused, negative or
  fractional first treated periods refused;
* :func:`require_constant_timing` -- a first treated period that varies within a unit;
* :func:`require_nested_clusters` -- a cluster column that varies within a unit;
* :func:`missing_by_column`, :func:`unit_codes`, :func:`unit_row_starts`,
  :func:`pairs_unique`, :func:`sorted_unit_cohorts` -- the same codes and checks as
  hashing every row, without it when the rows come sorted by an integer unit id (one
  comparison pass), so a million-unit panel is prepared without rows-sized copies.

Column presence (``require_columns``) and the per-value validators stay in
:mod:`policyeval._validation`, shared with the loaders and the design layer.
Private: the estimators validate through these, users do not call them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._validation import (
    constant_within,
    duplicated_unit_periods,
    examples,
    integer_periods,
    numeric_column,
    require_finite,
    require_not_datetime,
    require_not_indicator,
)
from policyeval.exceptions import (
    DataError,
    DuplicateObservationError,
    NonNumericValueError,
    TreatmentTimingError,
)

__all__ = [
    "period_column", "integer_column", "require_unique_unit_periods", "finite_column",
    "check_first_treated", "require_constant_timing", "require_nested_clusters",
    "missing_by_column", "unit_row_starts", "unit_codes", "pairs_unique", "sorted_unit_cohorts",
]


def _where(ids, rows: np.ndarray, *, prefix: str = "units") -> str:
    """``"units (e.g. 3, 8)"`` from the ids of the offending rows, or row positions without ids."""
    if ids is not None:
        return f"{prefix} (e.g. {examples(np.asarray(ids)[rows])})"
    return f"rows (e.g. {examples(np.flatnonzero(rows))})"


def integer_column(frame: pd.DataFrame, column: str, argument: str, idname: str | None = None,
                   *, allow_missing: bool = False) -> np.ndarray:
    """A column of integer periods as float64 (``tname``, ``gname``), checked.

    Numeric text (``"2001"``) is read as a number; other text raises
    :class:`NonNumericValueError`; fractional values raise :class:`DataError`.
    Missing values raise :class:`DataError` unless ``allow_missing`` (then
    missing and infinite values pass, e.g. "never treated").

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 2], "year": ["2001", "x"]})
    >>> integer_column(df, "year", "tname", "id")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.NonNumericValueError: tname='year' must hold integer periods (e.g. years); found non-numeric values x for units 2
    >>> integer_column(df.iloc[:1], "year", "tname", "id").tolist()
    [2001.0]
    """
    s = frame[column]
    ids = None if idname is None else frame[idname].to_numpy()
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s) and not s.hasnans:
        return s.to_numpy(dtype=float)                  # whole and finite by construction
    if not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = (conv.isna() & s.notna()).to_numpy()
        if bad.any():
            where = (f"for units {examples(ids[bad])}" if ids is not None
                     else f"in rows {examples(np.flatnonzero(bad))}")
            raise NonNumericValueError(
                f"{argument}={column!r} must hold integer periods (e.g. years); found "
                f"non-numeric values {examples(s.to_numpy()[bad])} {where}"
            )
        s = conv
    v = s.to_numpy(dtype=float, na_value=np.nan)
    if not allow_missing:
        miss = np.isnan(v)
        if miss.any():
            raise DataError(f"{argument}={column!r} is missing in {int(miss.sum())} rows "
                            f"({_where(ids, miss)})")
    return integer_periods(v, argument, column, ids, allow_nonfinite=allow_missing)


def period_column(frame: pd.DataFrame, tname: str, idname: str | None = None) -> np.ndarray:
    """The time column as int64: no dates, no text, no missing values, whole numbers only.

    Raises
    ------
    DataError
        Dates (``"... holds dates ...: convert to years"``), missing periods,
        fractional periods.
    NonNumericValueError
        Text that is not a number.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 2], "year": [2001.0, 2002.5]})
    >>> period_column(df.iloc[:1], "year", "id")
    array([2001])
    >>> period_column(df, "year", "id")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: tname='year' must hold integer periods; found non-integer values 2002.5 for units 2
    """
    require_not_datetime(frame, tname)
    s = frame[tname]
    if pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s) and not s.hasnans:
        t = s.to_numpy(dtype=np.int64)                  # already integer: no conversion pass
    else:
        t = integer_column(frame, tname, "tname", idname).astype(np.int64)
    _plausible_years(t, tname, None if idname is None else frame[idname].to_numpy())
    return t


def _plausible_years(t: np.ndarray, tname: str, ids) -> None:
    """Refuse a time column that mixes four-digit calendar years with other numbers.

    ``20010`` or ``199`` among the years 2001..2010 is a typing error, not a
    period. Integer codes of any one kind pass: 1..T, event time, ``yyyymm``.
    """
    if not len(t):
        return
    lo, hi = int(t.min()), int(t.max())
    if (1000 <= lo and hi <= 9999) or hi < 1000 or lo > 9999:
        return                                          # one kind of period: the common case
    year = (t >= 1000) & (t <= 9999)
    if not year.any():
        return
    bad = ~year
    where = (f"units (e.g. {examples(np.asarray(ids)[bad])})" if ids is not None
             else f"rows (e.g. {examples(np.flatnonzero(bad))})")
    raise DataError(
        f"tname={tname!r} has {int(bad.sum())} implausible year(s) (e.g. {examples(t[bad])}) "
        f"in {where} among calendar years {int(t[year].min())}..{int(t[year].max())}: a typing "
        "error such as 20010 for 2010? Periods must be calendar years or integer codes "
        "(1..T), not both"
    )


def _period_text(t) -> str:
    if isinstance(t, (float, np.floating)) and float(t).is_integer():
        return str(int(t))
    return str(t)


def require_unique_unit_periods(ids, periods, idname: str, tname: str, *, id_labels=None,
                                period_labels=None, time_argument: str = "tname") -> None:
    """Raise :class:`DuplicateObservationError` if a (unit, period) pair has more than one row.

    The one duplicate-key check of the estimators (on
    :func:`~policyeval._validation.duplicated_unit_periods`). The message counts
    the rows, units and pairs, shows example ids and pairs, and names the
    arguments (``time_argument``: the name of the period argument, ``tname`` by
    default). ``id_labels`` / ``period_labels``: ``ids`` /
    ``periods`` are integer codes into them (the caller has already factorised
    them); the message shows the labels.

    Examples
    --------
    >>> require_unique_unit_periods([1, 1, 2], [2001, 2002, 2001], "id", "year")
    >>> require_unique_unit_periods([1, 1, 2], [2001, 2001, 2001], "id", "year")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DuplicateObservationError: 2 rows share an (idname='id', tname='year') pair in 1 units (e.g. 1): 1 (id, year) pairs appear more than once (e.g. (1, 2001)); keep one row per unit and period
    """
    dup = duplicated_unit_periods(ids, periods)
    if not dup.any():
        return
    ids, periods = np.asarray(ids), np.asarray(periods)
    row_ids = ids[dup] if id_labels is None else np.asarray(id_labels)[ids[dup]]
    row_periods = periods[dup] if period_labels is None else np.asarray(period_labels)[periods[dup]]
    pairs = pd.DataFrame({"u": row_ids, "t": row_periods}).drop_duplicates()
    shown = examples(f"({u}, {_period_text(t)})" for u, t in pairs.itertuples(index=False))
    raise DuplicateObservationError(
        f"{int(dup.sum())} rows share an (idname={idname!r}, {time_argument}={tname!r}) pair in "
        f"{pairs['u'].nunique()} units (e.g. {examples(row_ids)}): {len(pairs)} ({idname}, {tname}) "
        f"pairs appear more than once (e.g. {shown}); keep one row per unit and period"
    )


def finite_column(frame: pd.DataFrame, column: str, argument: str, idname: str | None = None,
                  ids=None, *, where: str = "units") -> np.ndarray:
    """An outcome / covariate / weight column as float64; text and ``inf`` refused.

    Missing values pass as NaN (the caller drops or refuses them).

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 2], "y": [1.0, np.inf]})
    >>> finite_column(df, "y", "yname", "id")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: yname='y' has 1 infinite values (e.g. inf) in units (e.g. 2); ...
    """
    v = numeric_column(frame, column, argument, idname)
    if ids is None and idname is not None:
        ids = frame[idname].to_numpy()
    require_finite(v, argument, column, ids, where=where)
    return v


def check_first_treated(g, periods, gname: str, ids=None) -> None:
    """``gname`` values (0, missing or ``inf`` for never treated) that cannot be first treated periods.

    Refuses a 0/1 treatment indicator passed as ``gname``
    (:func:`~policyeval._validation.require_not_indicator`) and negative or
    fractional first treated periods, naming the values and units.

    Examples
    --------
    >>> check_first_treated([0, 2004, -1], [2003, 2004], "g", ids=[1, 2, 3])
    Traceback (most recent call last):
    ...
    policyeval.exceptions.TreatmentTimingError: gname='g' must be a positive integer period (0 or missing for never treated); found (e.g. -1.0) in units (e.g. 3)
    """
    g = np.asarray(g, dtype=float)
    known = np.isfinite(g)
    require_not_indicator(np.where(known, g, 0.0), periods, gname)
    bad = known & ((g < 0) | (g != np.round(g)))
    if bad.any():
        where = (f"in units (e.g. {examples(np.asarray(ids)[bad])})" if ids is not None
                 else f"in rows (e.g. {examples(np.flatnonzero(bad))})")
        raise TreatmentTimingError(
            f"gname={gname!r} must be a positive integer period (0 or missing for never "
            f"treated); found (e.g. {examples(g[bad])}) {where}"
        )


def require_constant_timing(frame: pd.DataFrame, idname: str, gname: str, values=None,
                            unit=None, *, argument: str = "gname") -> None:
    """Raise :class:`TreatmentTimingError` unless the first treated period is constant per unit.

    ``values`` are the recoded periods (never treated as one value), one per
    row; ``unit`` (integer codes of ``idname``, no missing ids) lets the check
    run on codes, and only a failing check builds the message through
    :func:`~policyeval._validation.constant_within`.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2], "g": [2004, 2004, 0, 2006]})
    >>> require_constant_timing(df, "id", "g", unit=np.array([0, 0, 1, 1]))
    Traceback (most recent call last):
    ...
    policyeval.exceptions.TreatmentTimingError: gname='g' varies within idname='id' for 1 units (e.g. 2); treatment timing must be constant per unit.
    """
    if unit is not None:
        v = np.asarray(frame[gname] if values is None else values)
        first = np.empty(int(unit.max()) + 1 if len(unit) else 0, dtype=v.dtype)
        first[unit] = v                      # one row's value per unit; all must agree
        if bool((v == first[unit]).all()):
            return                           # (a NaN never compares equal: the slow path decides)
    constant_within(frame, idname, gname, argument, values=values)


def require_nested_clusters(frame: pd.DataFrame, idname: str, cluster: str, *,
                            error: type[Exception] = DataError,
                            reason: str = "units must be nested in clusters.") -> None:
    """Raise ``error`` when ``cluster`` takes more than one value within a unit.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 1, 2], "c": ["a", "b", "a"]})
    >>> require_nested_clusters(df, "id", "c")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: cluster='c' varies within idname='id' for 1 units (e.g. 1); units must be nested in clusters.
    """
    constant_within(frame, idname, cluster, "cluster", error=error, reason=reason)


# ------------------------------------------------------------ coding the rows without hashing

def missing_by_column(frame: pd.DataFrame, used: list) -> dict:
    """``{column: mask of missing rows}`` for the columns of ``used`` with a missing value,
    in ``used`` order; integer and boolean columns (which cannot hold one) are not read."""
    out = {}
    for c in used:
        s = frame[c]
        kind = getattr(s.dtype, "kind", "O")
        if kind in "iub" and isinstance(s.dtype, np.dtype):
            continue
        m = np.isnan(s.to_numpy()) if kind == "f" and isinstance(s.dtype, np.dtype) \
            else s.isna().to_numpy()
        if m.any():
            out[c] = m
    return out


def unit_row_starts(unit: np.ndarray, n_units: int) -> np.ndarray | None:
    """Row offsets ``starts`` (length ``N + 1``) when the rows of each unit are contiguous
    and units appear in code order; ``None`` otherwise."""
    if len(unit) and not bool((unit[1:] >= unit[:-1]).all()):
        return None
    counts = np.bincount(unit, minlength=n_units)
    starts = np.zeros(n_units + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return starts


def unit_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Codes ``0..N-1`` of the unit ids in order of first appearance, the ids, and the row
    offsets of each unit when the rows come sorted by an integer id (no hashing then:
    one comparison pass and a cumulative sum), else ``None``."""
    v = ids.to_numpy()
    if v.dtype.kind in "iu" and isinstance(ids.dtype, np.dtype) and len(v) > 1 \
            and bool((v[1:] >= v[:-1]).all()):
        change = v[1:] != v[:-1]
        unit = np.empty(len(v), dtype=np.intp)
        unit[0] = 0
        np.cumsum(change, out=unit[1:])
        starts = np.empty(int(unit[-1]) + 2, dtype=np.int64)
        starts[0], starts[-1] = 0, len(v)
        starts[1:-1] = np.flatnonzero(change) + 1
        return unit, v[starts[:-1]], starts
    unit, labels = pd.factorize(ids)
    unit = unit.astype(np.intp, copy=False)
    return unit, labels, unit_row_starts(unit, len(labels))


def pairs_unique(unit, time, n_units: int, n_times: int, starts) -> bool:
    """True when no (unit, period) pair repeats: on sorted rows from comparisons of
    neighbours (periods increasing within each unit), else one ``bincount`` of the pairs."""
    n = len(unit)
    if starts is not None:
        if n == n_units * n_times and bool((time.reshape(n_units, n_times)
                                            == np.arange(n_times)).all()):
            return True                         # rows (unit, period) in order, balanced
        if n < 2 or bool(((time[1:] > time[:-1]) | (unit[1:] != unit[:-1])).all()):
            return True
    if n_units * n_times <= 4 * n + 1_000_000:
        key = unit.astype(np.int64) * n_times + time
        return int(np.bincount(key, minlength=n_units * n_times).max(initial=0)) <= 1
    return not duplicated_unit_periods(unit, time).any()


def sorted_unit_cohorts(frame, gname, idname, periods, starts):
    """:func:`_cohorts` on rows sorted by unit and an integer ``gname`` column: the same
    checks and messages on one value per unit (``None`` when the column is not integer
    or varies within a unit: the row-wise path then decides and words the error)."""
    s = frame[gname]
    if not (isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu"):
        return None
    g = s.to_numpy()
    first = starts[:-1]
    lo = np.minimum.reduceat(g, first)
    if not bool((np.maximum.reduceat(g, first) == lo).all()):
        return None
    labels = frame[idname].to_numpy()[first]
    # the unit-level values in code order show the same examples as the rows would
    # (units are numbered in order of first appearance)
    check_first_treated(lo, periods, gname, labels)
    notes = []
    late = lo > periods.max()
    if late.any():
        notes.append(
            f"{int(late.sum())} units first treated after the last period {periods.max()} "
            f"(e.g. {examples(labels[late])}) are never treated within the sample and serve "
            "as controls."
        )
        lo = np.where(late, 0, lo)
        return np.repeat(lo.astype(np.int64), np.diff(starts)), notes
    cohort = g.astype(np.int64, copy=False).view()
    cohort.flags.writeable = False          # a view of the caller's column: read only
    return cohort, notes
