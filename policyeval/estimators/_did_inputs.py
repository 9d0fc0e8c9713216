"""Checking and encoding a staggered-adoption panel once, for the imputation
and Bacon estimators.

Every check names the argument, the column and a few offending ids, as the
style guide asks; rows are only dropped with a
:class:`~policyeval.exceptions.DroppedObservationsWarning`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from policyeval._validation import (
    column_list,
    examples,
    numeric_column,
    require_columns,
    require_frame,
    require_name,
    require_two_periods,
    require_varying,
    require_weights,
)
from policyeval.estimators._inputs import (
    check_first_treated,
    finite_column,
    period_column,
    require_constant_timing,
    require_unique_unit_periods,
)
from policyeval.exceptions import (
    ArgumentTypeError,
    DataError,
    DroppedObservationsWarning,
    TreatmentTimingError,
)

__all__ = ["StaggeredPanel", "prepare_panel"]


@dataclass
class StaggeredPanel:
    """A validated panel, sorted by unit then period, with integer codes.

    ``g`` is the first treated period as float, ``nan`` for units never
    treated (within or beyond the sample).
    """

    frame: pd.DataFrame
    y: np.ndarray
    t: np.ndarray
    g: np.ndarray
    unit_code: np.ndarray
    unit_labels: np.ndarray
    X: np.ndarray
    w: np.ndarray
    cluster_code: np.ndarray
    n_clusters: int

    @property
    def nobs(self) -> int:
        return len(self.y)

    @property
    def n_units(self) -> int:
        return len(self.unit_labels)


def _numeric(frame: pd.DataFrame, arg: str, col: str, idname: str) -> pd.Series:
    return pd.Series(numeric_column(frame, col, arg, idname), index=frame.index, name=col)


def prepare_panel(
    df: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str | None,
    dname: str | None = None,
    covariates: Sequence[str] | str | None = None,
    weights: str | None = None,
    cluster: str | None = None,
    drop_missing: bool = True,
) -> StaggeredPanel:
    """Validate a long panel and encode it for a staggered-adoption estimator.

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period.
    yname, tname, idname : str
        Outcome, integer period and unit id columns.
    gname : str or None
        First treated period; 0, missing or ``inf`` for never treated.
    dname : str or None
        Alternative to ``gname``: a 0/1 treatment indicator that must be
        absorbing (never switch off); the first period with 1 becomes g.
    covariates, weights, cluster : optional column names
    drop_missing : bool
        Drop rows with a missing outcome / covariate / weight, with a
        :class:`DroppedObservationsWarning`; ``False`` raises instead.

    Raises
    ------
    ColumnNotFoundError, DuplicateObservationError, NonNumericValueError,
    TreatmentTimingError, DataError, ArgumentTypeError
    """
    require_frame(df)
    for arg, val in (("yname", yname), ("tname", tname), ("idname", idname)):
        require_name(arg, val)
    if (gname is None) == (dname is None):
        raise ArgumentTypeError("give exactly one of gname (first treated period) or dname (0/1 treatment)")
    covs = column_list(covariates, "covariates")
    named = {"yname": yname, "tname": tname, "idname": idname}
    named.update({"gname": gname} if gname is not None else {"dname": dname})
    named.update({f"covariates[{i}]": c for i, c in enumerate(covs)})
    if weights is not None:
        named["weights"] = weights
    if cluster is not None:
        named["cluster"] = cluster
    require_columns(df, strict=True, **named)

    cols = list(dict.fromkeys(named.values()))
    # the column selection is already a new frame (shallow copy: no second copy of the data)
    frame = df.loc[:, cols].copy(deep=False)

    if frame[idname].isna().any():
        raise DataError(f"idname={idname!r} has {int(frame[idname].isna().sum())} missing values")
    frame[tname] = period_column(frame, tname, idname)
    # rows already ordered by a numeric unit id then strictly increasing period (the usual long
    # panel) have unique unit-periods; only other frames pay for the general checks and the sort
    ordered = _ordered_by_unit_period(frame, idname, tname)
    if not ordered:
        require_unique_unit_periods(frame[idname].to_numpy(), frame[tname].to_numpy(), idname, tname)

    if dname is not None:
        frame["_g"] = _timing_from_treatment(frame, dname, tname, idname)
        gcol = "_g"
    else:
        g = _numeric(frame, "gname", gname, idname)
        frame["_g"] = g
        gcol = "_g"
    g = frame[gcol]
    never = g.isna() | (g == 0) | np.isinf(g)
    g = g.where(~never, np.nan)
    if gname is not None:
        check_first_treated(g.to_numpy(), frame[tname].to_numpy(), gname, frame[idname].to_numpy())
    frame["_g"] = g
    # never treated is NaN here, so 0 and missing in one unit do not count as varying
    if not (ordered and _constant_in_runs(frame[idname].to_numpy(), g.to_numpy())):
        require_constant_timing(frame, idname, gname if gname is not None else dname, g)

    ids = frame[idname].to_numpy()
    frame[yname] = finite_column(frame, yname, "yname", idname, ids)
    for c in covs:
        frame[c] = finite_column(frame, c, "covariates", idname, ids)
    if weights is not None:
        wv = numeric_column(frame, weights, "weights", idname)
        require_weights(wv, weights, ids)
        frame[weights] = wv
    check = [yname, *covs] + ([weights] if weights else []) + ([cluster] if cluster else [])
    missing = frame[check].isna().any(axis=1)
    if missing.any():
        which = [c for c in check if frame[c].isna().any()]
        msg = (
            f"{int(missing.sum())} rows have missing values in {which} "
            f"(units (e.g. {examples(frame.loc[missing, idname])}))"
        )
        if not drop_missing:
            raise DataError(msg + "; this estimator needs complete rows")
        warnings.warn(msg + "; they were dropped.", DroppedObservationsWarning, stacklevel=3)
        frame = frame.loc[~missing]
    require_two_periods(frame[tname], "tname", tname)
    require_varying(frame[yname].to_numpy(), "yname", yname)
    if weights is not None:
        require_weights(frame[weights].to_numpy(), weights, frame[idname].to_numpy())

    frame, unit_code, unit_labels = _sort_and_code_units(frame, idname, tname, ordered)
    if cluster is not None:
        cluster_code, cl_labels = pd.factorize(frame[cluster], sort=True)
        n_clusters = len(cl_labels)
    else:
        cluster_code, n_clusters = unit_code, len(unit_labels)
    X = frame[covs].to_numpy(dtype=float) if covs else np.empty((len(frame), 0))
    w = frame[weights].to_numpy(dtype=float) if weights else np.ones(len(frame))
    return StaggeredPanel(
        frame=frame,
        y=frame[yname].to_numpy(dtype=float),
        t=frame[tname].to_numpy(dtype=np.int64),
        g=frame["_g"].to_numpy(dtype=float),
        unit_code=np.asarray(unit_code),
        unit_labels=np.asarray(unit_labels),
        X=X,
        w=w,
        cluster_code=np.asarray(cluster_code),
        n_clusters=int(n_clusters),
    )


def _ordered_by_unit_period(frame: pd.DataFrame, idname: str, tname: str) -> bool:
    """Whether the rows are sorted by a numeric unit id, then strictly by period."""
    if not isinstance(frame[idname].dtype, np.dtype) or frame[idname].dtype.kind not in "iuf":
        return False
    ids, t = frame[idname].to_numpy(), frame[tname].to_numpy()
    if len(ids) < 2:
        return False
    return bool(((ids[1:] > ids[:-1]) | ((ids[1:] == ids[:-1]) & (t[1:] > t[:-1]))).all())


def _constant_in_runs(ids: np.ndarray, values: np.ndarray) -> bool:
    """Whether ``values`` (NaN equal to NaN) is constant over each run of equal ``ids``."""
    same = ids[1:] == ids[:-1]
    eq = values[1:] == values[:-1]
    eq |= np.isnan(values[1:]) & np.isnan(values[:-1])
    return bool((eq | ~same).all())


def _sort_and_code_units(frame: pd.DataFrame, idname: str, tname: str, ordered: bool):
    """Sort by unit then period and code the units ``0..N-1`` in sorted order.

    A frame already in that order (``ordered``, numeric ids) is neither
    sorted again nor hashed: the codes are the runs of equal ids.
    """
    if ordered and len(frame) > 1:
        ids = frame[idname].to_numpy()
        starts = np.empty(len(ids), dtype=bool)
        starts[0] = True
        np.not_equal(ids[1:], ids[:-1], out=starts[1:])
        return frame.reset_index(drop=True), np.cumsum(starts) - 1, ids[starts]
    frame = frame.sort_values([idname, tname], kind="stable").reset_index(drop=True)
    unit_code, unit_labels = pd.factorize(frame[idname], sort=True)
    return frame, unit_code, unit_labels


def _timing_from_treatment(frame: pd.DataFrame, dname: str, tname: str, idname: str) -> pd.Series:
    """First treated period from an absorbing 0/1 indicator; errors if it switches off."""
    d = _numeric(frame, "dname", dname, idname)
    if d.isna().any():
        raise DataError(
            f"dname={dname!r} is missing in {int(d.isna().sum())} rows "
            f"(units (e.g. {examples(frame.loc[d.isna(), idname])}))"
        )
    if not d.isin([0.0, 1.0]).all():
        bad = ~d.isin([0.0, 1.0])
        raise DataError(f"dname={dname!r} must be 0/1; found (e.g. {examples(frame.loc[bad, dname])})")
    tmp = pd.DataFrame({"id": frame[idname].to_numpy(), "t": frame[tname].to_numpy(), "d": d.to_numpy()})
    tmp = tmp.sort_values(["id", "t"], kind="stable")
    prev = tmp.groupby("id", sort=False)["d"].cummax()
    off = (prev > tmp["d"])
    if off.any():
        ids = tmp.loc[off, "id"].unique()
        raise TreatmentTimingError(
            f"dname={dname!r} switches from 1 back to 0 within idname={idname!r} for {len(ids)} units "
            f"(e.g. {examples(ids)}); treatment must be absorbing (once treated, always treated)."
        )
    first = tmp[tmp["d"] == 1].groupby("id")["t"].min()
    return frame[idname].map(first).astype(float)
