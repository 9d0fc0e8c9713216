"""Small reusable validators shared by the loaders, the design and the estimators.

One place for the checks every entry point runs on a long panel, so their
messages read the same everywhere (the argument, the column, example ids)::

    require_columns(df, yname="lemp", tname="year", covariates=["x1", "x2"])
    f"{n} units (e.g. {examples(ids)})"

Modelled on ``statsmodels.tools.validation``: plain functions, no state, each
raising a :mod:`policyeval.exceptions` error that subclasses the matching
builtin. Private: the public API validates through these, users do not call
them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd

from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    ColumnNotFoundError,
    DataError,
    EstimationError,
    EstimationWarning,
    NonNumericValueError,
    TreatmentTimingError,
)

__all__ = [
    "duplicated_unit_periods",
    "examples", "require_frame", "require_name", "require_columns", "column_list", "numeric_column",
    "integer_periods", "constant_within", "varies_within", "require_finite", "require_weights",
    "require_not_datetime", "require_two_periods", "require_not_indicator", "require_varying",
    "check_clusters", "check_draws", "require_option", "p_value_text",
    "MIN_CLUSTERS", "MIN_DRAWS", "RECOMMENDED_DRAWS",
]


def _key(value):
    # NaN != NaN, so each NaN would count as a new value; one key stands for all of them
    if isinstance(value, float) and math.isnan(value):
        return _NAN
    return value


_NAN = object()


def examples(values: Iterable, k: int | None = 3) -> str:
    """The first ``k`` distinct values, comma-separated, with ``", ..."`` if there are more.

    Parameters
    ----------
    values : iterable
        Offending ids, periods or values (array, Series, Index, list or generator),
        in the order they should be shown. Only as much of it is read as needed.
    k : int or None, default 3
        How many to show; ``None`` shows all.

    Returns
    -------
    str
        ``"1, 2, 5, ..."``; callers wrap it, e.g. ``f"3 units (e.g. {examples(ids)})"``.

    Examples
    --------
    >>> examples([320101, 320101, 320102, 321302, 321303])
    '320101, 320102, 321302, ...'
    >>> examples(["a", "b"])
    'a, b'
    """
    seen: dict = {}
    shown: list = []
    more = False
    for v in values:
        key = _key(v)
        try:
            if key in seen:
                continue
            seen[key] = None
        except TypeError:  # unhashable: compare by equality instead
            if any(key is s or key == s for s in shown):
                continue
        if k is not None and len(shown) == k:
            more = True
            break
        shown.append(v)
    return ", ".join(str(v) for v in shown) + (", ..." if more else "")


def require_frame(df, argument: str = "df") -> None:
    """Raise :class:`ArgumentTypeError` unless ``df`` is a :class:`pandas.DataFrame`.

    Examples
    --------
    >>> require_frame([1, 2], "data")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ArgumentTypeError: data must be a pandas DataFrame, got list
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentTypeError(f"{argument} must be a pandas DataFrame, got {type(df).__name__}")


def column_list(value, argument: str, *, strict: bool = False) -> list:
    """Column argument as a list: ``None`` -> ``[]``, ``"x"`` -> ``["x"]``, an iterable -> its items.

    ``strict=True`` accepts only a ``str`` or a list / tuple of ``str`` and
    raises :class:`ArgumentTypeError` otherwise.

    Examples
    --------
    >>> column_list(None, "covariates"), column_list("x1", "covariates"), column_list(("x1", "x2"), "covariates")
    ([], ['x1'], ['x1', 'x2'])
    >>> column_list([1], "cluster", strict=True)
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ArgumentTypeError: cluster must be a column name or a list of column names, got [1]
    """
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not strict or (isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)):
        return list(value)
    raise ArgumentTypeError(f"{argument} must be a column name or a list of column names, got {value!r}")


def require_name(argument: str, name) -> None:
    """Raise :class:`ArgumentTypeError` unless ``name`` is a column name (a ``str``).

    Examples
    --------
    >>> require_name("yname", 3)
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ArgumentTypeError: yname=3 must be a column name (str), got int
    """
    if not isinstance(name, str):
        raise ArgumentTypeError(
            f"{argument}={name!r} must be a column name (str), got {type(name).__name__}"
        )


def require_columns(df: pd.DataFrame, *, where: str = "the data", show: int | None = 12,
                    strict: bool = False, **named_columns) -> None:
    """Raise :class:`ColumnNotFoundError` naming the first argument whose column is absent.

    Parameters
    ----------
    df : pandas.DataFrame
    where : str, default "the data"
        How the message calls ``df`` (``"panel"``, ``"df"``).
    show : int or None, default 12
        How many of the available columns the message lists (``None``: all).
    strict : bool, default False
        Also require every name to be a ``str`` (:func:`require_name`), for
        entry points that build column lists from the names; checked per
        argument, in order, before that argument's columns.
    **named_columns : str, list of str or None
        ``argument=column`` pairs, checked in order; a list checks each of
        its columns under the same argument name; ``None`` is skipped
        (unless ``strict``, where it is not a column name). Names
        that are not identifiers (``"covariates[0]"``) pass as ``**{...}``.

    Raises
    ------
    ColumnNotFoundError
        ``"yname='lemp' is not a column of the data; available columns: 'id', 'year', ..."``.
    ArgumentTypeError
        With ``strict=True``, if a name is not a ``str``.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1], "year": [2000]})
    >>> require_columns(df, idname="id", tname="year")
    >>> require_columns(df, idname="id", yname="lemp")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ColumnNotFoundError: yname='lemp' is not a column of the data; available columns: 'id', 'year'
    """
    for argument, columns in named_columns.items():
        if columns is None and not strict:
            continue
        for col in [columns] if isinstance(columns, str) or columns is None else columns:
            if strict:
                require_name(argument, col)
            if col not in df.columns:
                listed = examples((repr(c) for c in df.columns), show)
                raise ColumnNotFoundError(
                    f"{argument}={col!r} is not a column of {where}; available columns: {listed}"
                )


def varies_within(argument: str, column, idname: str, ids, reason: str) -> str:
    """The message for a column that should hold one value per unit but does not.

    Parameters
    ----------
    argument, column : str
        The argument and the column it names (``"gname"``, ``"first_treat"``).
    idname : str
        The unit-id column.
    ids : iterable
        Ids of the offending units, in the order to show them (repeats are counted once).
    reason : str
        What the estimator needs, after ``"; "``.

    Examples
    --------
    >>> varies_within("gname", "first_treat", "county_code", [320101, 320102, 320101],
    ...               "treatment timing must be constant per unit.")
    "gname='first_treat' varies within idname='county_code' for 2 units (e.g. 320101, 320102); treatment timing must be constant per unit."
    """
    n = len(dict.fromkeys(_key(v) for v in ids))
    return (f"{argument}={column!r} varies within idname={idname!r} for {n} units "
            f"(e.g. {examples(ids)}); {reason}")


def constant_within(df: pd.DataFrame, idname: str, column: str, argument: str, *, values=None,
                    error: type[Exception] = TreatmentTimingError,
                    reason: str = "treatment timing must be constant per unit.") -> None:
    """Raise unless ``column`` takes one value within each unit of ``idname``.

    Missing is a value of its own: a unit with both a missing and a known
    value varies. Rows with a missing id are ignored.

    Parameters
    ----------
    df : pandas.DataFrame
    idname : str
        Unit-id column.
    column, argument : str
        The column checked and the argument that named it (for the message).
    values : array-like, optional
        The values to check instead of ``df[column]``, one per row (e.g. the
        column after recoding "never treated" to one value).
    error : exception class, default TreatmentTimingError
    reason : str
        The end of the message: what must hold.

    Raises
    ------
    error
        ``"gname='g' varies within idname='id' for 2 units (e.g. 4, 7); treatment
        timing must be constant per unit."``; units in order of first appearance.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 1, 2, 2], "g": [2004, 2004, 0, 2006]})
    >>> constant_within(df, "id", "g", "gname")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.TreatmentTimingError: gname='g' varies within idname='id' for 1 units (e.g. 2); treatment timing must be constant per unit.
    """
    unit, labels = pd.factorize(df[idname], sort=False)
    code = pd.factorize(df[column] if values is None else values, use_na_sentinel=False)[0]
    rows = unit >= 0
    unit, code = unit[rows], code[rows]
    lo = np.full(len(labels), np.iinfo(np.int64).max)
    hi = np.full(len(labels), -1, dtype=np.int64)
    np.minimum.at(lo, unit, code)
    np.maximum.at(hi, unit, code)
    varying = lo != hi
    if varying.any():
        raise error(varies_within(argument, column, idname, labels[varying], reason))


def integer_periods(values, argument: str, column: str, ids=None, *,
                    allow_nonfinite: bool = False) -> np.ndarray:
    """Raise :class:`DataError` unless every period is a whole number; return them as floats.

    Parameters
    ----------
    values : array-like of float
        The periods, already numeric (one per row).
    argument, column : str
        The argument and the column it names (``"tname"``, ``"year"``).
    ids : array-like, optional
        Unit id of each row, to name the offending units; without it the
        message gives row positions.
    allow_nonfinite : bool, default False
        Let missing and infinite values pass (the caller handles them, e.g.
        a missing first-treated period means never treated); otherwise they
        are offending values too.

    Returns
    -------
    numpy.ndarray
        ``values`` as float64.

    Examples
    --------
    >>> integer_periods([2001, 2002.5, np.inf], "tname", "year", ids=["a", "b", "c"])
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: tname='year' must hold integer periods; found non-integer values 2002.5, inf for units b, c
    """
    raw = np.asarray(values)
    v = raw.astype(float)
    if raw.dtype.kind in "iu":            # integers: whole and finite by construction
        return v
    finite = np.isfinite(v)
    bad = (finite & (v != np.round(v))) if allow_nonfinite else ~finite | (v != np.round(v))
    if bad.any():
        where = (f"for units {examples(np.asarray(ids)[bad])}" if ids is not None
                 else f"in rows {examples(np.flatnonzero(bad))}")
        raise DataError(
            f"{argument}={column!r} must hold integer periods; found non-integer values "
            f"{examples(v[bad])} {where}"
        )
    return v


def numeric_column(df: pd.DataFrame, column: str, argument: str, idname: str | None = None) -> np.ndarray:
    """``df[column]`` as float64, missing as NaN; raise if a value is text that is not a number.

    Booleans become 0/1 and numeric text (``"1.5"``) is read as a number. A
    numeric column is returned without a copy where pandas allows it.

    Raises
    ------
    NonNumericValueError
        ``"yname='y' has 2 non-numeric values (e.g. x, n/a) in units (e.g. 3, 8)"``;
        without ``idname`` the rows are given by position.

    Examples
    --------
    >>> df = pd.DataFrame({"id": [1, 2, 3], "y": ["1.5", None, "x"]})
    >>> numeric_column(df.iloc[:2], "y", "yname").tolist()
    [1.5, nan]
    >>> numeric_column(df, "y", "yname", "id")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.NonNumericValueError: yname='y' has 1 non-numeric values (e.g. x) in units (e.g. 3)
    """
    s = df[column]
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=float)
    if not pd.api.types.is_numeric_dtype(s):
        conv = pd.to_numeric(s, errors="coerce")
        bad = (conv.isna() & s.notna()).to_numpy()
        if bad.any():
            where = (f"in units (e.g. {examples(df[idname].to_numpy()[bad])})" if idname is not None
                     else f"in rows (e.g. {examples(np.flatnonzero(bad))})")
            raise NonNumericValueError(
                f"{argument}={column!r} has {int(bad.sum())} non-numeric values "
                f"(e.g. {examples(s.to_numpy()[bad])}) {where}"
            )
        s = conv
    return s.to_numpy(dtype=float, na_value=np.nan)


# --------------------------------------------------------------------------- non-finite and degenerate data
def require_finite(values, argument: str, column: str, ids=None, *, where: str = "units") -> None:
    """Raise :class:`DataError` if ``values`` holds ``inf`` or ``-inf``; missing values pass.

    The one rule for infinite numbers, used by the loaders and every
    estimator: an infinite outcome, covariate or weight is never dropped or
    averaged over quietly (one ``inf`` makes every mean it enters ``inf`` or
    ``nan``), it is refused with the column and the units that hold it. A
    number beyond the float range (``1e309``) is read as ``inf`` and refused
    the same way.

    Parameters
    ----------
    values : array-like of float
        The column, already numeric (one value per row).
    argument, column : str
        The argument and the column it names (``"yname"``, ``"log_gdp"``).
    ids : array-like, optional
        Unit id of each row; without it the message gives row positions.
    where : str, default "units"
        What ``ids`` are called in the message.

    Raises
    ------
    DataError
        ``"yname='y' has 1 infinite values (e.g. inf) in units (e.g. 7); ..."``.

    Examples
    --------
    >>> require_finite([1.0, np.nan, 2.0], "yname", "y")
    >>> require_finite([1.0, float("1e309"), -np.inf], "yname", "y", ids=["a", "b", "c"])
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: yname='y' has 2 infinite values (e.g. inf, -inf) in units (e.g. b, c); a number too large for a float (such as 1e309) is read as infinite. Fix or remove these values; missing values may be left as NaN.
    """
    v = np.asarray(values, dtype=float)
    bad = np.isinf(v)
    if not bad.any():
        return
    loc = (f"in {where} (e.g. {examples(np.asarray(ids)[bad])})" if ids is not None
           else f"in rows (e.g. {examples(np.flatnonzero(bad))})")
    raise DataError(
        f"{argument}={column!r} has {int(bad.sum())} infinite values (e.g. {examples(v[bad])}) "
        f"{loc}; a number too large for a float (such as 1e309) is read as infinite. Fix or "
        "remove these values; missing values may be left as NaN."
    )


def require_weights(values, column: str, ids=None, *, argument: str = "weights",
                    positive: bool = False) -> None:
    """Raise :class:`DataError` unless weights are finite, non-negative and not all zero.

    Missing values pass (the caller drops them with a warning).
    ``positive=True`` refuses zero weights too (regressions that divide by
    the weight).

    Examples
    --------
    >>> require_weights([1.0, 0.0, 2.0], "w")
    >>> require_weights([1.0, -2.0], "w", ids=[10, 11])
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: weights='w' has 1 negative values (e.g. -2.0) in units (e.g. 11); weights must be >= 0
    >>> require_weights([0.0, 0.0], "w")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: weights='w' is zero in every row; at least one observation must carry weight
    """
    w = np.asarray(values, dtype=float)
    require_finite(w, argument, column, ids)
    bad = (w <= 0) if positive else (w < 0)
    if bad.any():
        loc = (f"in units (e.g. {examples(np.asarray(ids)[bad])})" if ids is not None
               else f"in rows (e.g. {examples(np.flatnonzero(bad))})")
        kind = "non-positive" if positive else "negative"
        raise DataError(f"{argument}={column!r} has {int(bad.sum())} {kind} values "
                        f"(e.g. {examples(w[bad])}) {loc}; weights must be "
                        f"{'> 0' if positive else '>= 0'}")
    known = w[~np.isnan(w)]
    if known.size and not (known > 0).any():
        raise DataError(f"{argument}={column!r} is zero in every row; at least one observation "
                        "must carry weight")


def require_not_datetime(df: pd.DataFrame, column: str, argument: str = "tname") -> None:
    """Raise :class:`DataError` if a period column holds dates instead of integer periods.

    Examples
    --------
    >>> df = pd.DataFrame({"year": pd.to_datetime(["2001-01-01", "2002-01-01"])})
    >>> require_not_datetime(df, "year")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: tname='year' holds dates (datetime64[...]); periods must be integers: convert to years, e.g. df['year'] = df['year'].dt.year
    """
    import datetime as _dt

    s = df[column]
    dated = pd.api.types.is_datetime64_any_dtype(s) or isinstance(s.dtype, pd.PeriodDtype)
    if not dated and s.dtype == object:
        first = s.dropna()
        dated = len(first) > 0 and isinstance(first.iloc[0], (_dt.date, pd.Timestamp, pd.Period))
    if dated:
        raise DataError(
            f"{argument}={column!r} holds dates ({s.dtype}); periods must be integers: convert "
            f"to years, e.g. df[{column!r}] = df[{column!r}].dt.year"
        )


def require_two_periods(periods, argument: str, column: str) -> None:
    """Raise :class:`DataError` when fewer than two distinct periods are left.

    Examples
    --------
    >>> require_two_periods([2001], "tname", "year")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.DataError: tname='year' has 1 distinct period (2001); difference-in-differences needs at least two (before and after)
    """
    uniq = pd.unique(np.asarray(periods).ravel())
    if len(uniq) < 2:
        raise DataError(
            f"{argument}={column!r} has {len(uniq)} distinct period"
            f"{'' if len(uniq) == 1 else 's'} ({examples(uniq)}); difference-in-differences "
            "needs at least two (before and after)"
        )


def require_not_indicator(g, periods, column: str, argument: str = "gname") -> None:
    """Refuse a ``gname`` that is a 0/1 treatment dummy rather than a first treated period.

    A first-treated period of 1 is only plausible when the periods
    themselves start at or below 1; with years as periods a ``gname`` made
    of 0s and 1s is the treatment indicator passed by mistake.

    Parameters
    ----------
    g : array-like of float
        ``gname`` values, 0 or missing for never treated.
    periods : array-like
        The time periods of the panel.

    Examples
    --------
    >>> require_not_indicator([0, 1, 1, 0], [2001, 2002, 2001, 2002], "treat")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.TreatmentTimingError: gname='treat' holds only 0 and 1, but the periods run from 2001 to 2002: gname is the first treated period, not a 0/1 treatment indicator. Pass the first year each unit was treated (0 or missing for never treated), or give the 0/1 column as treatment= / dname= where the estimator offers it.
    """
    v = np.asarray(g, dtype=float)
    if not (v == 1).any():          # the common case, in one pass: no first treated period of 1
        return
    known = v[np.isfinite(v)]
    p = np.asarray(periods, dtype=float)
    p = p[np.isfinite(p)]
    if known.size and p.size and (known == 1).any() and np.isin(known, (0.0, 1.0)).all() \
            and p.min() > 1:
        raise TreatmentTimingError(
            f"{argument}={column!r} holds only 0 and 1, but the periods run from {p.min():g} to "
            f"{p.max():g}: gname is the first treated period, not a 0/1 treatment indicator. "
            "Pass the first year each unit was treated (0 or missing for never treated), or "
            "give the 0/1 column as treatment= / dname= where the estimator offers it."
        )


def require_varying(values, argument: str, column: str) -> None:
    """Raise :class:`EstimationError` when an outcome takes one value in every row.

    A constant outcome gives an ATT of exactly 0 with a standard error of 0,
    which reads as a perfectly precise null; it is almost always a column
    mix-up (a code, a constant filled in), so it is refused.

    Examples
    --------
    >>> require_varying([3.0, 3.0, np.nan], "yname", "y")
    Traceback (most recent call last):
    ...
    policyeval.exceptions.EstimationError: yname='y' is constant (every non-missing value is 3.0); there is no variation to estimate an effect from. Check that yname names the outcome column.
    """
    v = np.asarray(values, dtype=float)
    lo, hi = np.fmin.reduce(v, initial=np.nan), np.fmax.reduce(v, initial=np.nan)  # NaN ignored
    if lo == hi:                     # False when every value is missing (NaN == NaN is False)
        raise EstimationError(
            f"{argument}={column!r} is constant (every non-missing value is {float(lo)!r}); there is "
            f"no variation to estimate an effect from. Check that {argument} names the outcome "
            "column."
        )


# --------------------------------------------------------------------------- few clusters, few draws
#: Below this many clusters a cluster-robust (CR1) t-test warns. The repository's
#: own Monte Carlo (docs/montecarlo_few_clusters.md, scripts/montecarlo_few_clusters.py)
#: finds CR1 with t(G-1) critical values rejecting a true null at 7.5-11.5% (nominal
#: 5%) with 10 clusters even with 3-5 treated; Cameron & Miller (2015, "A practitioner's
#: guide to cluster-robust inference", J. Human Resources 50(2), Sec. VI) place the
#: point where few clusters bites between 20 and 50, and MacKinnon & Webb (2017, 2018)
#: show over-rejection well beyond 20 clusters when cluster sizes or treatment shares
#: are unequal. 30 is the lower end of where CR1 is commonly trusted: below it the
#: wild cluster bootstrap is the recommended test.
MIN_CLUSTERS = 30

#: Fewest random bootstrap / permutation draws accepted. With B draws a p-value moves in
#: steps of 1/B (1/(B+1) with the observed statistic counted), so B < 99 cannot resolve
#: the 1% level and makes the 5% test depend on a handful of draws; 99 is the smallest B
#: for which alpha * (B + 1) is an integer at both the 1% and 5% levels (Davidson &
#: MacKinnon 2000, "Bootstrap tests: how many bootstraps?", Econometric Reviews 19(1)).
MIN_DRAWS = 99
#: Below this many draws a warning says the test loses power to the randomness of the
#: draws: Davidson & MacKinnon (2000) recommend at least 399 draws for a 5% test.
RECOMMENDED_DRAWS = 399


def check_clusters(n_clusters: int, cluster, *, estimator: str = "this estimator",
                   stacklevel: int = 3) -> None:
    """Refuse one cluster; warn below :data:`MIN_CLUSTERS` clusters.

    Parameters
    ----------
    n_clusters : int
        Number of distinct clusters in the estimation sample.
    cluster : str
        The cluster column (or a description such as ``"idname='id' (the default)"``).
    estimator : str
        Named in the message.

    Raises
    ------
    EstimationError
        With fewer than 2 clusters: the cluster-robust variance is zero (or
        undefined) by construction.

    Warns
    -----
    EstimationWarning
        With 2 to ``MIN_CLUSTERS - 1`` clusters, naming the count and pointing to
        :func:`policyeval.inference.wild_bootstrap.wild_cluster_bootstrap`.
    """
    label = cluster if isinstance(cluster, str) and "=" in cluster else f"cluster={cluster!r}"
    if n_clusters < 2:
        raise EstimationError(
            f"{label} has {n_clusters} cluster(s) in the estimation sample; {estimator} needs "
            "at least 2 to compute cluster-robust standard errors (with one cluster the "
            "estimated variance is zero by construction). Cluster on a finer level."
        )
    if n_clusters < MIN_CLUSTERS:
        webb = " with multiplier='webb'" if n_clusters < 12 else ""
        warnings.warn(
            f"{label} has only {n_clusters} clusters (fewer than {MIN_CLUSTERS}); cluster-robust "
            f"standard errors and t-tests from {estimator} over-reject with so few clusters "
            "(see docs/montecarlo_few_clusters.md). Test with "
            f"policyeval.inference.wild_bootstrap.wild_cluster_bootstrap{webb} (TWFE / "
            "EventStudy; Webb weights for fewer than about 12 clusters) or with "
            "policyeval.inference.randomization.randomization_inference.",
            EstimationWarning, stacklevel=stacklevel,
        )


def check_draws(n, argument: str = "n_bootstrap", *, allow_zero: bool = False,
                warn: bool = True, stacklevel: int = 3) -> int:
    """Validate a number of random bootstrap / permutation draws.

    Refuses fewer than :data:`MIN_DRAWS` (99) and warns below
    :data:`RECOMMENDED_DRAWS` (399); see those constants for the reasons.
    ``allow_zero`` accepts 0 (meaning "no bootstrap"); ``warn=False`` only
    refuses (for a constructor, when ``fit()`` warns later).

    Raises
    ------
    ArgumentTypeError
        If ``n`` is not an integer.
    ArgumentValueError
        If ``0 < n < 99`` (or ``n == 0`` without ``allow_zero``, or ``n < 0``).

    Examples
    --------
    >>> check_draws(999)
    999
    >>> check_draws(2)
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ArgumentValueError: n_bootstrap=2 is too few draws: p-values move in steps of 1/2 and the 5% and 1% tests depend on a handful of draws; use at least 99 (999 or more for a paper)
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise ArgumentTypeError(f"{argument} must be an integer, got {n!r}")
    n = int(n)
    if n == 0 and allow_zero:
        return 0
    if n < 1:
        raise ArgumentValueError(f"{argument}={n} must be a positive integer"
                                 + (" (or 0 for none)" if allow_zero else ""))
    if n < MIN_DRAWS:
        raise ArgumentValueError(
            f"{argument}={n} is too few draws: p-values move in steps of 1/{n} and the 5% and "
            f"1% tests depend on a handful of draws; use at least {MIN_DRAWS} (999 or more for "
            "a paper)"
        )
    if warn and n < RECOMMENDED_DRAWS:
        warnings.warn(
            f"{argument}={n} draws: p-values move in steps of about 1/{n} and a 5% test loses "
            f"power to the randomness of the draws; use at least {RECOMMENDED_DRAWS} "
            "(Davidson & MacKinnon 2000), 999 or more for a paper.",
            EstimationWarning, stacklevel=stacklevel,
        )
    return n


def p_value_text(p: float, n_draws: int, *, enumerated: bool = False, plus_one: bool = False) -> str:
    """A bootstrap / permutation p-value with its resolution, for summaries.

    Examples
    --------
    >>> p_value_text(0.0, 999)
    'p < 0.001 = 1/999 (no draw as extreme; 999 random draws)'
    >>> p_value_text(0.125, 32, enumerated=True)
    'p = 0.125 (exact over all 32 enumerated draws; resolution 1/32)'
    """
    kind = (f"exact over all {n_draws} enumerated draws" if enumerated
            else f"{n_draws} random draws")
    if p == 0:
        return f"p < {1 / n_draws:.3g} = 1/{n_draws} (no draw as extreme; {kind})"
    if plus_one and not enumerated and p <= 1 / (n_draws + 1) + 1e-15:
        return (f"p = {p:.3g} = 1/(B+1), the smallest attainable with B = {n_draws} "
                "(no re-assignment as extreme)")
    return f"p = {p:.3g} ({kind}; resolution 1/{n_draws + (1 if plus_one and not enumerated else 0)})"


def require_option(value, argument: str, allowed) -> None:
    """Raise :class:`ArgumentValueError` unless ``value`` is one of ``allowed``.

    Called in constructors and again in ``fit()``, so an attribute changed
    after construction is checked too.

    Examples
    --------
    >>> require_option("bogus", "control_group", ("never_treated", "not_yet_treated"))
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ArgumentValueError: control_group='bogus' must be 'never_treated' or 'not_yet_treated'
    >>> require_option("x", "method", ("dr", "ipw", "reg"))
    Traceback (most recent call last):
    ...
    policyeval.exceptions.ArgumentValueError: method='x' must be one of 'dr', 'ipw', 'reg'
    """
    try:
        ok = value in allowed
    except TypeError:
        ok = False
    if not ok:
        names = [repr(a) for a in allowed]
        choice = (f"be {names[0]} or {names[1]}" if len(names) == 2
                  else f"be one of {', '.join(names)}")
        raise ArgumentValueError(f"{argument}={value!r} must {choice}")


def duplicated_unit_periods(ids, periods) -> np.ndarray:
    """Rows whose (unit, period) pair occurs more than once, all of them (``keep=False``).

    The same mask as ``frame.duplicated([idname, tname], keep=False)``, from
    hashed codes and one ``bincount`` instead of a sort of the rows.

    Examples
    --------
    >>> duplicated_unit_periods(["a", "a", "b", "a"], [2001, 2002, 2001, 2001]).tolist()
    [True, False, False, True]
    """
    unit, uniq_u = pd.factorize(np.asarray(ids), use_na_sentinel=False)
    time, uniq_t = pd.factorize(np.asarray(periods), use_na_sentinel=False)
    n_units, n_times = len(uniq_u), len(uniq_t)
    if n_units * n_times > 4 * len(unit) + 1_000_000:     # a sparse grid: hash the pairs instead
        return pd.DataFrame({"u": unit, "t": time}).duplicated(keep=False).to_numpy()
    key = unit.astype(np.int64) * n_times + time
    counts = np.bincount(key, minlength=n_units * n_times)
    if counts.max(initial=0) <= 1:
        return np.zeros(len(key), dtype=bool)
    return counts[key] > 1
