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
from collections.abc import Iterable

import numpy as np
import pandas as pd

from policyeval.exceptions import (
    ArgumentTypeError,
    ColumnNotFoundError,
    DataError,
    NonNumericValueError,
    TreatmentTimingError,
)

__all__ = [
    "examples", "require_frame", "require_name", "require_columns", "column_list", "numeric_column",
    "integer_periods", "constant_within", "varies_within",
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
    v = np.asarray(values, dtype=float)
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
