r"""The canonical 2×2 difference-in-differences table.

Group × period means with their standard errors, the differences between
groups and between periods, and the DiD with its standard error — the table
of Card & Krueger (1994, Table 3). The four cell means are the coefficients
of the saturated regression of the outcome on the four cell dummies, so every
entry of the table is a linear combination :math:`w'\bar y` of them and its
standard error is :math:`\sqrt{w'\hat V w}` for one covariance :math:`\hat V`
of the cell means, chosen by ``vcov``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import examples, numeric_column, require_columns, require_frame
from policyeval.estimators._inputs import require_unique_unit_periods
from policyeval.exceptions import DataError, DroppedObservationsWarning, EstimationError
from policyeval.inference.covariance import linear_combination
from policyeval.results.base import check_level
from policyeval.results.provenance import records_provenance
from policyeval.results.two_by_two import DiDTableResult

__all__ = ["did_table", "DiDTableResult"]

_VCOV = {"hc2": "hc2", "welch": "hc2", "hc1": "hc1", "iid": "iid", "pooled": "iid"}
_VCOV_TEXT = {
    "hc2": "Welch / HC2: each cell mean has variance s_g^2 / n_g (s_g^2 with n_g - 1)",
    "hc1": "HC1: each cell mean has variance n/(n-4) * sum(e^2) / n_g^2 (Stata ', robust' on the "
           "saturated regression)",
    "iid": "pooled / classical: each cell mean has variance s^2 / n_g with s^2 = sum(e^2)/(n-4)",
}


def _cell_covariance(y, cell, unit, kind, n_cells=4):
    """Covariance of the four cell means of the saturated regression."""
    n_g = np.bincount(cell, minlength=n_cells).astype(float)
    means = np.bincount(cell, y, n_cells) / n_g
    e = y - means[cell]
    ss = np.bincount(cell, e * e, n_cells)
    n = len(y)
    if kind == "hc2":
        # leverage of a saturated model is 1/n_g, so HC2 is the Welch variance s_g^2 / n_g
        kappa = n_g / (n_g - 1)
        V = np.diag(kappa * ss / n_g**2)
    else:
        kappa = np.full(n_cells, n / (n - n_cells))
        V = np.diag(kappa * ss / n_g**2) if kind == "hc1" else \
            np.diag(ss.sum() / (n - n_cells) / n_g)
    if unit is not None:
        # the same unit in both periods: add the within-unit covariance of the pre and post
        # means of its group, on the scale of the diagonal (balanced + hc2: exactly the Welch
        # variance of the mean change)
        frame = pd.DataFrame({"u": unit, "c": cell, "e": e})
        wide = frame.pivot(index="u", columns="c", values="e")
        for pre, post in ((0, 1), (2, 3)):
            if pre in wide and post in wide:
                both = wide[[pre, post]].dropna()
                if len(both):
                    cross = float((both[pre] * both[post]).sum()) / (n_g[pre] * n_g[post])
                    V[pre, post] = V[post, pre] = np.sqrt(kappa[pre] * kappa[post]) * cross
    return means, V, n_g


@renamed_arguments(df="data")
@records_provenance(method=False)
def did_table(
    data: pd.DataFrame,
    yname: str,
    group: str,
    period: str,
    *,
    treated_group=None,
    post_period=None,
    idname: str | None = None,
    balanced: bool = False,
    vcov: str = "hc2",
    level: float = 0.95,
) -> DiDTableResult:
    r"""The 2×2 difference-in-differences table with standard errors.

    Parameters
    ----------
    data : pandas.DataFrame
        Long data, one row per observation (unit × period for a panel).
    yname : str
        Outcome column.
    group : str
        Column with exactly two values: treated and control group.
    period : str
        Column with exactly two values: pre and post period.
    treated_group : scalar, optional
        Value of ``group`` marking the treated group. Default: the larger of
        the two values (1 for a 0/1 column, ``True`` for booleans).
    post_period : scalar, optional
        Value of ``period`` marking the post period. Default: the larger.
    idname : str, optional
        Unit id for panel data. The pre and post means of a group then
        share units, and their covariance (from the products of a unit's
        pre and post residuals) enters the standard errors of the changes
        and of the DiD. Without it the four cells are taken as independent
        samples (repeated cross-sections). A unit may appear once per period.
    balanced : bool
        Keep only units observed (with a non-missing outcome) in both
        periods; needs ``idname``. Dropped rows are reported with a
        :class:`~policyeval.exceptions.DroppedObservationsWarning`.
    vcov : {"hc2", "welch", "hc1", "iid", "pooled"}
        Convention for the variance of a cell mean :math:`\bar y_c`:
        ``"hc2"`` (= ``"welch"``, default) :math:`s_c^2/n_c`, the HC2
        variance of the saturated regression, so the difference of two means
        has the Welch standard error; ``"hc1"`` :math:`\frac{n}{n-4}
        \sum_{i\in c} e_i^2/n_c^2` (Stata's ``regress ..., robust``);
        ``"iid"`` (= ``"pooled"``) :math:`s^2/n_c` with the pooled
        :math:`s^2 = \sum_i e_i^2/(n-4)`.
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Returns
    -------
    DiDTableResult
        Nine entries indexed ``"row | column"``; :meth:`DiDTableResult.table`
        gives the usual layout, ``result.did`` the DiD.

    Raises
    ------
    ColumnNotFoundError
        If a named column is missing.
    DataError
        If ``group`` or ``period`` does not have exactly two values, a cell
        is empty or has one observation (``vcov="hc2"``), ``treated_group``
        / ``post_period`` is not one of the values, or a unit appears twice
        in a period.
    EstimationError
        (a ``ValueError``) for an unknown ``vcov`` or ``balanced=True`` without ``idname``.

    Notes
    -----
    With cell means :math:`\bar y_{gp}` (:math:`g \in \{0, 1\}` control /
    treated, :math:`p \in \{0, 1\}` pre / post),

    .. math::

        \widehat{DiD} = (\bar y_{11} - \bar y_{10}) - (\bar y_{01} - \bar y_{00}),

    the coefficient on the interaction in :math:`y = a + b\,G + c\,P +
    \delta\,G P + e`. Under parallel trends it estimates the average effect
    on the treated in the post period. Every entry is :math:`w'\bar y`; its
    variance is :math:`w'\hat V w`. In a panel (``idname``) the off-diagonal
    term of :math:`\hat V` for the pre and post cells of a group is
    :math:`\sqrt{\kappa_{g0}\kappa_{g1}}\sum_i e_{i0}e_{i1}/(n_{g0}n_{g1})`
    over units in both cells, :math:`\kappa` being the factor of the chosen
    convention; with a balanced panel and ``"hc2"`` the standard error of a
    change is exactly that of the mean of the unit-level changes.

    References
    ----------
    Card, D. and Krueger, A. B. (1994). Minimum wages and employment: a case
    study of the fast-food industry in New Jersey and Pennsylvania.
    *American Economic Review*, 84(4), 772-793 (Table 3).

    MacKinnon, J. G. and White, H. (1985). Some heteroskedasticity-consistent
    covariance matrix estimators with improved finite sample properties.
    *Journal of Econometrics*, 29(3), 305-325 (HC2).

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"unit": np.repeat(np.arange(200), 2),
    ...                    "post": np.tile([0, 1], 200)})
    >>> df["treated"] = (df["unit"] < 80).astype(int)
    >>> df["y"] = 10 + 2 * df["treated"] + df["post"] + 1.5 * df["treated"] * df["post"] \
    ...     + rng.normal(0, 1, len(df))
    >>> res = pe.did_table(df, "y", group="treated", period="post", idname="unit")
    >>> round(res.did, 1)
    1.6
    >>> res.table(digits=2).loc["difference", "change"]
    '1.64 (0.19)'
    """
    df = data
    require_frame(df)
    kind = _VCOV.get(vcov) if isinstance(vcov, str) else None
    if kind is None:
        raise EstimationError(f"vcov={vcov!r} must be one of {sorted(_VCOV)}")
    if balanced and idname is None:
        raise EstimationError("balanced=True needs idname= (the unit id) to pair pre and post rows")
    require_columns(df, strict=True, yname=yname, group=group, period=period,
                    **({"idname": idname} if idname is not None else {}))
    cols = list(dict.fromkeys([yname, group, period] + ([idname] if idname else [])))
    frame = df[cols].copy()
    idcol = idname if idname is not None else None
    y = numeric_column(frame, yname, "yname", idcol)
    keys = [group, period] + ([idname] if idname else [])
    missing_key = frame[keys].isna().any(axis=1).to_numpy()
    if missing_key.any():
        raise DataError(f"{int(missing_key.sum())} rows have a missing {', '.join(keys)} value "
                        f"(rows {examples(np.flatnonzero(missing_key))})")
    miss = np.isnan(y)
    if miss.any():
        warnings.warn(f"dropped {int(miss.sum())} of {len(frame)} rows with a missing "
                      f"yname={yname!r}" + (f" (units {examples(frame.loc[miss, idname])})"
                                            if idname else ""),
                      DroppedObservationsWarning, stacklevel=2)
        frame, y = frame.loc[~miss], y[~miss]

    def two_values(column, argument, chosen, chosen_arg):
        values = pd.unique(frame[column])
        if len(values) != 2:
            raise DataError(f"{argument}={column!r} must take exactly two values; found "
                            f"{len(values)}: {examples(sorted(values, key=str), 6)}")
        values = sorted(values)
        if chosen is None:
            return values[0], values[1]
        if chosen not in values:
            raise DataError(f"{chosen_arg}={chosen!r} is not a value of {argument}={column!r} "
                            f"(values: {values[0]}, {values[1]})")
        return (values[1], values[0]) if chosen == values[0] else (values[0], values[1])

    g0, g1 = two_values(group, "group", treated_group, "treated_group")
    p0, p1 = two_values(period, "period", post_period, "post_period")
    gi = (frame[group] == g1).to_numpy().astype(int)
    pi = (frame[period] == p1).to_numpy().astype(int)
    cell = 2 * gi + pi
    unit = None
    notes = []
    if idname is not None:
        require_unique_unit_periods(frame[idname].to_numpy(), frame[period].to_numpy(), idname,
                                    period, time_argument="period")
        moved = frame.groupby(idname)[group].nunique()
        if (moved > 1).any():
            raise DataError(f"group={group!r} varies within idname={idname!r} for "
                            f"{int((moved > 1).sum())} units (e.g. "
                            f"{examples(moved.index[moved > 1])}); a unit belongs to one group")
        unit = pd.factorize(frame[idname])[0]
        if balanced:
            n_per = np.bincount(unit)
            single = n_per[unit] < 2
            if single.any():
                warnings.warn(
                    f"balanced=True: dropped {int(single.sum())} rows of "
                    f"{len(np.unique(unit[single]))} units observed in only one period (units "
                    f"{examples(frame.loc[single, idname])})",
                    DroppedObservationsWarning, stacklevel=2)
                keep = ~single
                frame, y, cell = frame.loc[keep], y[keep], cell[keep]
                unit = pd.factorize(frame[idname])[0]
    counts = np.bincount(cell, minlength=4)
    labels_g, labels_p = [str(g0), str(g1)], [str(p0), str(p1)]
    if (counts < (2 if kind == "hc2" else 1)).any():
        empty = [f"{labels_g[c // 2]}/{labels_p[c % 2]}" for c in range(4)
                 if counts[c] < (2 if kind == "hc2" else 1)]
        raise DataError(f"cells {', '.join(empty)} of (group={group!r}, period={period!r}) have "
                        f"{'fewer than two' if kind == 'hc2' else 'no'} observations; "
                        "a mean and its standard error need more")
    means, V, n_g = _cell_covariance(y, cell, unit, kind)

    rows = [labels_g[0], labels_g[1], "difference"]
    columns = [labels_p[0], labels_p[1], "change"]
    # weights on the cell means (c00, c01, c10, c11) for each row/column entry
    row_w = {labels_g[0]: np.array([1.0, 0.0]), labels_g[1]: np.array([0.0, 1.0]),
             "difference": np.array([-1.0, 1.0])}
    col_w = {labels_p[0]: np.array([1.0, 0.0]), labels_p[1]: np.array([0.0, 1.0]),
             "change": np.array([-1.0, 1.0])}
    names, W = [], []
    for r in rows:
        for c in columns:
            names.append(f"{r} | {c}")
            W.append(np.outer(row_w[r], col_w[c]).ravel())
    if len(set(rows)) < 3 or len(set(columns)) < 3:
        raise DataError(f"group={group!r} / period={period!r} values may not be named "
                        "'difference' or 'change' (those label the table's margins)")
    est, cov = linear_combination(np.array(W), means, V)
    notes.append(f"Standard errors: {_VCOV_TEXT[kind]}"
                 + ("; pre/post covariance within units of idname=" + repr(idname)
                    if idname else "; cells treated as independent samples") + ".")
    notes.append("Cell sizes: " + ", ".join(
        f"{labels_g[c // 2]}/{labels_p[c % 2]} {int(counts[c])}" for c in range(4)) + ".")
    index = pd.Index(names, name="term")
    return DiDTableResult(
        pd.Series(est, index=index),
        pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=index),
        nobs=len(y),
        n_units=len(np.unique(unit)) if unit is not None else len(y),
        spec={"yname": yname, "group": group, "period": period, "idname": idname,
              "treated_group": g1, "post_period": p1, "balanced": balanced, "vcov": kind},
        estimator="2x2 DiD table",
        vcov=pd.DataFrame(cov, index=index, columns=index),
        df_resid=None,
        index_name="term",
        level=check_level(level),
        extra={"rows": rows, "columns": columns, "notes": notes,
               "counts": pd.Series(counts, index=[f"{labels_g[c // 2]} | {labels_p[c % 2]}"
                                                  for c in range(4)]),
               "cell_means": pd.Series(means, index=[f"{labels_g[c // 2]} | {labels_p[c % 2]}"
                                                     for c in range(4)])},
    )
