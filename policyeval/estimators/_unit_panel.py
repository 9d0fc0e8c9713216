"""A balanced long panel turned into a units x periods outcome matrix, checked once.

Shared by the estimators that work on long differences of unit outcomes
(:mod:`~policyeval.estimators.continuous`, :mod:`~policyeval.estimators.triple`,
:mod:`~policyeval.estimators.switching`).
Every check names the argument, the column and example units; nothing is dropped.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._validation import (
    constant_within,
    examples,
    numeric_column,
    require_columns,
    require_frame,
)
from policyeval.estimators._inputs import (
    check_first_treated,
    finite_column,
    period_column,
    require_constant_timing,
    require_nested_clusters,
    require_unique_unit_periods,
)
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DesignError,
    PolicyevalFutureWarning,
)

__all__ = ["balanced_unit_panel", "fit_cluster", "unit_influence"]


def balanced_unit_panel(df: pd.DataFrame, *, estimator: str, yname: str, tname: str,
                        idname: str, unit_columns: dict, cluster: str | None = None,
                        extra_columns: dict | None = None):
    """Validate ``df`` and return ``(wide, attributes, clusters)``.

    Parameters
    ----------
    df : pandas.DataFrame
        Long panel, one row per unit and period.
    estimator : str
        Named in messages.
    yname, tname, idname : str
        Outcome, period and unit columns.
    unit_columns : dict
        ``{argument: column}`` of numeric columns that must be constant within a unit
        (``{"gname": "first_treat"}``); ``gname`` raises :class:`TreatmentTimingError`,
        the others :class:`DesignError`.
    cluster : str, optional
        Cluster column; units must be nested in clusters.
    extra_columns : dict, optional
        ``{argument: column}`` of further columns that must exist (checked by the caller).

    Returns
    -------
    wide : pandas.DataFrame
        Outcomes, units (sorted) x periods (sorted, as float).
    attributes : pandas.DataFrame
        One row per unit (same order), one column per argument of ``unit_columns``.
    clusters : numpy.ndarray or None
        Cluster of each unit.
    """
    require_frame(df, "data")
    require_columns(df, yname=yname, tname=tname, idname=idname, cluster=cluster, **unit_columns,
                    **(extra_columns or {}))
    cols = list(dict.fromkeys([idname, tname, yname, *unit_columns.values()]
                              + ([cluster] if cluster else [])))
    data = df[cols].copy()
    for arg, col in (("idname", idname), *unit_columns.items()):
        if data[col].isna().any():
            bad = data.loc[data[col].isna(), idname]
            raise DataError(f"{arg}={col!r} is missing in {int(data[col].isna().sum())} rows "
                            f"(units e.g. {examples(bad.unique())}); {estimator} does not drop "
                            "rows silently")
    data[tname] = period_column(data, tname, idname).astype(float)
    data[yname] = finite_column(data, yname, "yname", idname)
    for arg, col in unit_columns.items():
        data[col] = numeric_column(data, col, arg, idname)
    if data[yname].isna().any():
        bad = data.loc[data[yname].isna(), [idname, tname]]
        raise DataError(
            f"yname={yname!r} is missing in {len(bad)} rows (e.g. "
            f"{examples(f'({u}, {t:g})' for u, t in bad.itertuples(index=False))}); drop those "
            f"units or fill the gaps: {estimator} needs a balanced panel")
    require_unique_unit_periods(data[idname].to_numpy(), data[tname].to_numpy(), idname, tname)
    if "gname" in unit_columns:
        check_first_treated(data[unit_columns["gname"]].to_numpy(), data[tname].to_numpy(),
                            unit_columns["gname"], data[idname].to_numpy())
    for arg, col in unit_columns.items():
        if arg == "gname":
            require_constant_timing(data, idname, col)
        else:
            constant_within(data, idname, col, arg, error=DesignError,
                            reason=f"{arg} must be constant per unit.")
    wide = data.pivot(index=idname, columns=tname, values=yname)
    if wide.isna().any().any():
        who = wide.index[wide.isna().any(axis=1)]
        raise DataError(f"the panel is unbalanced: {len(who)} units lack some periods (e.g. "
                        f"{examples(who)}); {estimator} needs every unit in every period")
    wide.columns = wide.columns.astype(float)
    if unit_columns:
        attributes = (data.groupby(idname, sort=True)[list(unit_columns.values())].first()
                      .reindex(wide.index))
        attributes.columns = list(unit_columns)
    else:
        attributes = pd.DataFrame(index=wide.index)
    clusters = None
    if cluster:
        require_nested_clusters(data, idname, cluster, error=DesignError)
        clusters = data.groupby(idname, sort=True)[cluster].first().reindex(wide.index).to_numpy()
    return wide, attributes, clusters


def influence_se(psi: np.ndarray, clusters) -> np.ndarray:
    """Standard error from an influence function (rows = units), summed within clusters."""
    if clusters is not None:
        codes = pd.factorize(clusters)[0]
        summed = np.zeros((codes.max() + 1,) + psi.shape[1:])
        np.add.at(summed, codes, psi)
        psi = summed
    return np.sqrt(np.sum(psi ** 2, axis=0))


def cluster_sums(psi: np.ndarray, clusters) -> np.ndarray:
    """Influence function summed within clusters (units are their own clusters by default)."""
    if clusters is None:
        return psi
    codes = pd.factorize(clusters)[0]
    summed = np.zeros((codes.max() + 1,) + psi.shape[1:])
    np.add.at(summed, codes, psi)
    return summed


def fit_cluster(estimator, cluster_in_fit):
    """The cluster column: the constructor's, or (deprecated since 0.2) the one given to fit."""
    name = type(estimator).__name__
    if cluster_in_fit is None:
        return estimator.cluster
    warnings.warn(f"{name}.fit(cluster=...) is now {name}(cluster=...), as for every estimator; "
                  "the fit argument stops working in the next release",
                  PolicyevalFutureWarning, stacklevel=4)   # user -> renamed_arguments -> fit
    if estimator.cluster is not None and estimator.cluster != cluster_in_fit:
        raise ArgumentValueError(f"cluster={cluster_in_fit!r} in fit() contradicts {name}("
                                 f"cluster={estimator.cluster!r}); pass it to the constructor only")
    return cluster_in_fit


def unit_influence(psi: np.ndarray, clusters):
    """A :class:`~policyeval.inference.influence.DenseInfluence` from per-unit terms ``psi``.

    ``psi`` (units x k) sums to the estimation error (``sum_i psi_i = theta_hat - theta``), so
    the variance is :math:`\\sum_c S_c S_c'` over cluster sums; the rows are scaled by the
    number of units ``n`` so that ``vcov() = gram / n**2`` is that variance.
    """
    from policyeval.inference.influence import DenseInfluence

    psi = np.asarray(psi, dtype=float)
    psi = psi[:, None] if psi.ndim == 1 else psi
    n = psi.shape[0]
    codes, n_clusters = None, None
    if clusters is not None:
        codes = pd.factorize(clusters)[0].astype(np.intp)
        n_clusters = int(codes.max()) + 1
    return DenseInfluence(n * psi, cohort=np.zeros(n, dtype=np.intp), weights=np.ones(n),
                          cluster=codes, n_clusters=n_clusters)
