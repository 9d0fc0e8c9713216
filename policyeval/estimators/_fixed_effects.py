"""Shared machinery of the regression estimators (TWFE, EventStudy, SunAbraham).

Three steps, each done once here:

1. :func:`prepare_fe_panel` checks the arguments and the data (every message
   names the argument, the column and example ids) and encodes units,
   periods and cohorts;
2. :func:`absorb_unit_time` removes unit and period effects exactly (no
   iteration) with group sums;
3. :func:`fit_fe_ols` solves the least-squares problem on the
   within-transformed data and asks :mod:`policyeval.inference.covariance`
   for the covariance matrix.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp

# ``examples`` stays importable from here: twfe.py and sun_abraham.py import it
from policyeval._validation import (
    check_clusters,
    column_list,
    examples,
    require_columns,
    require_frame,
    require_option,
    require_two_periods,
    require_varying,
    require_weights,
)
from policyeval.estimators._inputs import (
    check_first_treated,
    missing_by_column,
    pairs_unique,
    sorted_unit_cohorts,
    unit_codes,
    finite_column,
    integer_column,
    period_column,
    require_constant_timing,
    require_unique_unit_periods,
)
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DroppedObservationsWarning,
    EstimationError,
)
from policyeval.inference.covariance import (
    CovarianceEstimate,
    bias_reduced_covariance,
    is_nested,
    label_codes,
    count_coded_parameters,
    count_parameters,
    one_way_cluster_covariance,
    resolve_ssc,
    sandwich_covariance,
)

__all__ = [
    "FEPanel", "FEFit", "prepare_fe_panel", "subset_panel", "absorb_unit_time", "fit_fe_ols",
    "fit_balanced_dummies", "balanced_dummy_fit_applies", "influence_columns",
    "examples", "parse_fe", "absorb_effects", "effects_design",
]

VCOV_KINDS = ("cluster", "hetero", "iid", "HC2", "CR2")


@dataclass
class FEPanel:
    """A checked panel ready for a two-way fixed-effects regression."""

    frame: pd.DataFrame          # rows kept, original index
    y: np.ndarray
    unit: np.ndarray             # codes 0..N-1
    time: np.ndarray             # codes 0..T-1 in period order
    periods: np.ndarray          # sorted distinct periods (ints)
    weights: np.ndarray | None
    clusters: list[np.ndarray]
    cohort: np.ndarray | None    # first treated period; 0 for never treated in sample
    notes: list[str] = field(default_factory=list)
    # absorbed effects: None means unit + period (the exact two-way path); otherwise one code
    # array per effect (an interaction is one effect) and its label, e.g. "region^year"
    fe_codes: list[np.ndarray] | None = None
    fe_labels: list[str] | None = None
    # the one cluster variable is idname: clusters[0] groups the rows as ``unit`` does
    cluster_is_unit: bool = False
    # row offsets of each unit (length N + 1) when the rows of a unit are contiguous and
    # units come in code order (ids sorted); None when unknown
    unit_starts: np.ndarray | None = None

    @property
    def effects(self) -> list[np.ndarray]:
        """Integer codes of every absorbed effect."""
        return [self.unit, self.time] if self.fe_codes is None else self.fe_codes

    @property
    def n_units(self) -> int:
        if self.unit_starts is not None:
            return len(self.unit_starts) - 1
        return int(self.unit.max()) + 1


def prepare_fe_panel(
    df: pd.DataFrame,
    *,
    yname: str,
    tname: str,
    idname: str,
    gname: str | None = None,
    regressors: Sequence[str] = (),
    covariates=None,
    weights: str | None = None,
    cluster=None,
    vcov: str = "cluster",
    estimator: str | None = "this estimator",
    fe: list[tuple[str, ...]] | None = None,
) -> tuple[FEPanel, list[str]]:
    """Check the inputs of a fixed-effects regression and encode the panel.

    Rows with a missing value in a column the model uses are dropped with a
    :class:`~policyeval.exceptions.DroppedObservationsWarning`; a missing
    ``gname`` means never treated and drops nothing. Infinite values, dates
    as periods, a single period, a constant outcome, a 0/1 ``gname`` and a
    single cluster are refused; fewer than
    :data:`~policyeval._validation.MIN_CLUSTERS` clusters warn (the check is
    skipped with ``estimator=None``, for the wild bootstrap itself).

    Returns
    -------
    (FEPanel, list of str)
        The panel and the list of covariate names.
    """
    require_frame(df)
    require_option(vcov, "vcov", VCOV_KINDS)
    covs = column_list(covariates, "covariates", strict=True)
    clustered = vcov in ("cluster", "CR2")
    clusters = column_list(cluster, "cluster", strict=True) if clustered else []
    if clustered and not clusters:
        clusters = [idname]
    named = {"yname": [yname], "tname": [tname], "idname": [idname], "covariates": covs,
             "cluster": clusters}
    for arg, name in (("gname", gname), ("weights", weights)):
        if name is not None:
            named[arg] = column_list(name, arg, strict=True)
    named["treatment"] = list(regressors)
    fe_cols = list(dict.fromkeys(c for term in (fe or []) for c in term))
    named["fe"] = fe_cols
    require_columns(df, **named)

    used = list(dict.fromkeys([yname, tname, idname, *regressors, *covs, *clusters,
                               *([weights] if weights else []), *fe_cols]))
    cols = list(dict.fromkeys(used + ([gname] if gname else [])))
    # no copy of the columns: the rows are only read (a row subset below is a new frame)
    frame = df if len(set(df.columns)) == len(df.columns) else df[cols]
    missing = missing_by_column(frame, used)
    if missing:
        bad = np.logical_or.reduce(list(missing.values()))
        which = ", ".join(f"{c!r} ({int(m.sum())})" for c, m in missing.items())
        warnings.warn(
            f"dropped {int(bad.sum())} of {len(frame)} rows with missing values in {which} "
            f"(units {examples(frame.loc[bad, idname])})",
            DroppedObservationsWarning,
            stacklevel=3,
        )
        frame = frame[cols].loc[~bad]
    if frame.empty:
        raise DataError("no rows left to estimate on")

    t = period_column(frame, tname, idname)
    unit, unit_labels, starts = unit_codes(frame[idname])
    n_units = len(unit_labels)
    periods, time = _period_codes(t)
    if not pairs_unique(unit, time, n_units, len(periods), starts):
        require_unique_unit_periods(unit, time, idname, tname, id_labels=unit_labels,
                                    period_labels=periods)
    ids = frame[idname].to_numpy()
    text = {} if pd.api.types.is_numeric_dtype(frame[tname]) else {tname: t}
    for arg, cols in (("yname", [yname]), ("covariates", covs), ("treatment", list(regressors))):
        for col in cols:
            v = finite_column(frame, col, arg, idname, ids)
            if not pd.api.types.is_numeric_dtype(frame[col]):
                text[col] = v                   # numeric text, read as numbers
    if text:
        frame = frame.assign(**text)
    require_varying(frame[yname].to_numpy(dtype=float), "yname", yname)
    w = None
    if weights is not None:
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(dtype=float)
        require_weights(w, weights, frame[idname].to_numpy(), positive=True)

    require_two_periods(periods, "tname", tname)
    notes: list[str] = []
    cohort = None
    if gname is not None:
        cohort, notes = _cohorts(frame, gname, idname, periods, unit, starts)
    if estimator is not None:
        for c in clusters:
            label = c if c != idname or cluster else f"cluster=idname={idname!r} (the default)"
            n_clusters = n_units if c == idname else frame[c].nunique()
            check_clusters(n_clusters, label, estimator=estimator, stacklevel=4)
    panel = FEPanel(
        frame=frame,
        y=frame[yname].to_numpy(dtype=float),
        unit=unit,
        time=time.astype(np.intp, copy=False),
        periods=periods,
        weights=w,
        clusters=[frame[c].to_numpy() for c in clusters],
        cohort=cohort,
        notes=notes,
        cluster_is_unit=clusters == [idname],
        unit_starts=starts,
    )
    if fe is not None:
        panel.fe_codes = [_fe_codes(frame, term) for term in fe]
        panel.fe_labels = ["^".join(term) for term in fe]
    return panel, covs


def parse_fe(fe, idname: str, tname: str) -> list[tuple[str, ...]] | None:
    """Normalise ``fe=``: a list of effects, each a column or an interaction of columns.

    ``None`` means unit + period. An interaction is a tuple of names or a
    string ``"region^year"`` (fixest's notation). Raises
    :class:`~policyeval.exceptions.ArgumentValueError` for an empty list or a
    repeated effect.
    """
    if fe is None:
        return None
    items = [fe] if isinstance(fe, (str, tuple)) else list(fe)
    if not items:
        raise ArgumentValueError("fe=[] absorbs nothing; name at least one fixed effect, e.g. "
                                 f"fe=[{tname!r}] or fe=[{idname!r}, {tname!r}]")
    out = []
    for item in items:
        if isinstance(item, str):
            term = tuple(p.strip() for p in item.split("^"))
        elif isinstance(item, (tuple, list)) and item and all(isinstance(c, str) for c in item):
            term = tuple(item)
        else:
            raise ArgumentValueError(f"fe={fe!r}: each effect must be a column name, a tuple of "
                                     f"names or 'a^b'; got {item!r}")
        if any(not c for c in term) or len(set(term)) != len(term):
            raise ArgumentValueError(f"fe={fe!r}: {item!r} is not a valid effect")
        out.append(term)
    if len({frozenset(t) for t in out}) != len(out):
        raise ArgumentValueError(f"fe={fe!r} names the same effect twice")
    return out


def _fe_codes(frame: pd.DataFrame, term: tuple[str, ...]) -> np.ndarray:
    if len(term) == 1:
        return pd.factorize(frame[term[0]])[0].astype(np.intp)
    return frame.groupby(list(term), sort=False).ngroup().to_numpy(np.intp)


#: most dummy columns the exact multi-way absorption (and the HC2/CR2 hat matrix) will build
MAX_FE_COLUMNS = 3000


def _group_means(Z: np.ndarray, codes: np.ndarray, w: np.ndarray) -> np.ndarray:
    n_levels = int(codes.max()) + 1
    S = sp.csr_matrix((w, (codes, np.arange(len(codes)))), shape=(n_levels, len(codes)))
    return (S @ Z) / np.asarray(S.sum(axis=1)).ravel()[:, None]


def _stacked_dummies(codes: Sequence[np.ndarray]) -> sp.csr_matrix:
    n = len(codes[0])
    blocks = [sp.csr_matrix((np.ones(n), (np.arange(n), c)), shape=(n, int(c.max()) + 1))
              for c in codes]
    return sp.hstack(blocks, format="csr")


def _largest_first(codes: Sequence[np.ndarray]) -> list[np.ndarray]:
    return sorted(codes, key=lambda c: -(int(c.max()) + 1))


def absorb_effects(
    Z: np.ndarray, codes: Sequence[np.ndarray], weights: np.ndarray | None = None,
    labels: Sequence[str] | None = None,
) -> tuple[np.ndarray, int]:
    r"""Residuals of ``Z`` on any set of fixed effects (exact), and the effects' rank.

    The effect with most levels :math:`A` is removed by (weighted) demeaning;
    the others enter as dummies :math:`R`, solved exactly on the normal
    equations :math:`R'WM_AR\,\Gamma = R'WM_AZ` with a pseudo-inverse, so
    redundant levels (a unit nested in a region, a region-by-year effect
    beside unit effects) cost nothing and no iteration is needed. The rank
    of the effects' dummy matrix is :math:`L_A + \operatorname{rank}(R'WM_AR)`.

    Raises
    ------
    EstimationError
        If the non-largest effects have more than :data:`MAX_FE_COLUMNS` levels.
    """
    Z = np.asarray(Z, dtype=float)
    Z = Z[:, None] if Z.ndim == 1 else Z
    n = len(Z)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    first, *rest = _largest_first(codes)
    Zu = Z - _group_means(Z, first, w)[first]
    n_first = int(first.max()) + 1
    if not rest:
        return Zu, n_first
    _check_fe_columns(rest, codes, labels)
    R = _stacked_dummies(rest)
    n_first_w = np.bincount(first, w, n_first)
    A = sp.csr_matrix((w, (first, np.arange(n))), shape=(n_first, n)) @ R      # level sums of R
    WR = R.multiply(w[:, None]).tocsr()
    C = (R.T @ WR).toarray() - (A.T @ sp.diags(1.0 / n_first_w) @ A).toarray()
    vals, vecs = np.linalg.eigh((C + C.T) / 2)
    keep = vals > 1e-10 * max(float(vals.max(initial=0.0)), 1e-300)
    gamma = (vecs[:, keep] / vals[keep]) @ (vecs[:, keep].T @ (WR.T @ Zu))
    G = np.asarray(R @ gamma)
    G -= _group_means(G, first, w)[first]
    return Zu - G, n_first + int(keep.sum())


def _check_fe_columns(rest, codes, labels) -> None:
    n_cols = sum(int(c.max()) + 1 for c in rest)
    if n_cols > MAX_FE_COLUMNS:
        sizes = ", ".join(
            f"{lab}: {int(c.max()) + 1}" for lab, c in zip(labels or [f"effect {i + 1}" for i in
                                                                  range(len(codes))], codes))
        raise EstimationError(
            f"the fixed effects other than the largest have {n_cols} levels in all ({sizes}); "
            f"at most {MAX_FE_COLUMNS} are solved exactly. Use coarser effects (e.g. province^year "
            "instead of county^year)."
        )


def effects_design(
    panel: FEPanel, X: np.ndarray, keep: Sequence[int], absorb: Sequence[int],
) -> np.ndarray:
    """``[X, dummies of the effects in keep]`` with the effects in ``absorb`` removed.

    Used for the hat matrix of HC2/CR2: the full projection is that of the
    absorbed effects plus that of this design.
    """
    effects = panel.effects
    kept = [effects[j] for j in keep]
    if kept:
        _check_fe_columns(kept, effects, panel.fe_labels)
        D = _stacked_dummies(kept).toarray()
        Z = np.column_stack([X, D])
    else:
        Z = X
    if absorb:
        Z = absorb_effects(Z, [effects[j] for j in absorb], panel.weights)[0]
    return Z


def _period_codes(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct periods and each row's code (``np.unique(..., return_inverse=True)``
    by hashing: a panel has few periods and many rows, so no sort of the rows)."""
    t = np.asarray(t)
    if len(t) and t.dtype.kind in "iu":
        lo, hi = int(t.min()), int(t.max())
        if hi - lo < 4 * len(t) + 1000:
            # periods in a compact range (years, 1..T): offsets from the first, no hashing
            code = np.subtract(t, lo, dtype=np.intp)
            present = np.bincount(code, minlength=hi - lo + 1) > 0
            periods = np.flatnonzero(present).astype(np.int64) + lo
            if present.all():
                return periods, code
            rank = np.cumsum(present) - 1
            return periods, rank[code]
    codes, uniques = pd.factorize(t.astype(np.int64))
    order = np.argsort(uniques)
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    return uniques[order], rank[codes]


def _cohorts(frame, gname, idname, periods, unit=None, starts=None
             ) -> tuple[np.ndarray, list[str]]:
    """First treated period per row; 0 marks never treated within the sample.

    ``unit`` (codes of ``idname``, no missing ids) lets the constancy check run on
    codes; only a failing check goes through the message-building one. With ``starts``
    (rows sorted by unit) and an integer column the checks run once per unit.
    """
    if starts is not None:
        fast = sorted_unit_cohorts(frame, gname, idname, periods, starts)
        if fast is not None:
            return fast
    g = integer_column(frame, gname, "gname", idname, allow_missing=True)
    g = np.where(np.isnan(g) | np.isinf(g), 0.0, g)
    check_first_treated(g, periods, gname, frame[idname].to_numpy())
    require_constant_timing(frame, idname, gname, g, unit)   # missing already means 0 here
    notes = []
    late = g > periods.max()
    if late.any():
        ids = frame.loc[late, idname]
        notes.append(
            f"{ids.nunique()} units first treated after the last period {periods.max()} "
            f"(e.g. {examples(ids)}) are never treated within the sample and serve as controls."
        )
        g = np.where(late, 0.0, g)
    return g.astype(np.int64), notes


def absorb_unit_time(
    Z: np.ndarray, unit: np.ndarray, time: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    r"""Residuals of the columns of ``Z`` on unit and period dummies (exact).

    Parameters
    ----------
    Z : numpy.ndarray
        Columns to transform, shape ``(n, p)``.
    unit, time : numpy.ndarray
        Integer codes ``0..N-1`` and ``0..T-1``.
    weights : numpy.ndarray, optional
        Regression weights :math:`w`.

    Returns
    -------
    numpy.ndarray
        :math:`M_{[U, D]} Z` in the :math:`W` metric, shape ``(n, p)``.

    Notes
    -----
    With :math:`M_U` the within-unit demeaning and :math:`D` the period
    dummies (first period dropped), the Frisch–Waugh–Lovell theorem gives
    :math:`M_{[U,D]}Z = M_U Z - M_U D\,\Gamma` with
    :math:`\Gamma = (D'WM_UD)^{-1} D'WM_UZ`. The :math:`T\times T` matrix
    :math:`D'WM_UD = \mathrm{diag}(\sum_i w_{it}) - A'\,\mathrm{diag}(1/W_i)\,A`,
    :math:`A_{it} = w_{it}`, :math:`W_i=\sum_t w_{it}`, is built from group
    sums, so the transform is exact for unbalanced panels and costs
    :math:`O(np + T^3)` without iterating.
    """
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    n = len(unit)
    n_units = int(unit.max()) + 1
    n_times = int(time.max()) + 1
    if weights is None and n == n_units * n_times and _each_pair_once(unit, time, n_times):
        return _demean_balanced(Z, unit, time, n_units, n_times)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if n_times > _EXACT_MAX_PERIODS:
        # the exact path solves a dense periods x periods system: too big here
        return _demean_alternating(Z, unit, time, w, n_units, n_times)
    if Z.shape[1] <= 8 and n_units * n_times <= 4 * n + 1_000_000:
        return _absorb_unit_time_dense(Z, unit, time, w, n_units, n_times)
    # weighted group-sum operators (sparse products beat np.add.at by far)
    U = sp.csr_matrix((w, (unit, np.arange(n))), shape=(n_units, n))
    w_unit = np.asarray(U.sum(axis=1)).ravel()

    def unit_means(M: np.ndarray) -> np.ndarray:
        return (U @ M) / w_unit[:, None]

    Zu = Z - unit_means(Z)[unit]
    del Z  # large panels: keep at most three n x p arrays alive
    if n_times == 1:
        return Zu
    A = sp.csr_matrix((w, (unit, time)), shape=(n_units, n_times))
    C = np.diag(np.bincount(time, w, n_times)) - (A.T @ sp.diags(1.0 / w_unit) @ A).toarray()
    B = sp.csr_matrix((w, (time, np.arange(n))), shape=(n_times, n)) @ Zu
    gamma = np.zeros_like(B)
    try:
        gamma[1:] = scipy.linalg.solve(C[1:, 1:], B[1:], assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        # disconnected panels: any solution of the normal equations projects the same
        gamma[1:] = np.linalg.lstsq(C[1:, 1:], B[1:], rcond=None)[0]
    G = gamma[time]
    G -= unit_means(G)[unit]
    Zu -= G
    return Zu


_EXACT_MAX_PERIODS = 2000      # above this many periods, alternating projections


def _absorb_unit_time_dense(Z, unit, time, w, n_units, n_times):
    """:func:`absorb_unit_time`'s exact path for few columns on a not too sparse grid: group
    sums by ``bincount`` (no sparse operator to build) and the weights as a dense
    ``N x T`` grid for the :math:`T \\times T` system."""
    n, p = Z.shape
    cell = unit.astype(np.int64) * n_times + time
    grid = np.zeros(n_units * n_times)
    grid[cell] = w
    grid = grid.reshape(n_units, n_times)
    del cell
    w_unit = grid.sum(axis=1)
    w_time = grid.sum(axis=0)
    C = np.diag(w_time) - (grid / w_unit[:, None]).T @ grid
    unweighted = bool((w == 1).all())
    out = np.empty_like(Z)
    B = np.empty((n_times, p))
    for j in range(p):
        z = np.ascontiguousarray(Z[:, j])
        mean = np.bincount(unit, weights=z if unweighted else w * z, minlength=n_units) / w_unit
        zu = z - mean[unit]
        B[:, j] = np.bincount(time, weights=zu if unweighted else w * zu, minlength=n_times)
        out[:, j] = zu
    if n_times == 1:
        return out
    gamma = np.zeros((n_times, p))
    try:
        gamma[1:] = scipy.linalg.solve(C[1:, 1:], B[1:], assume_a="pos")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        # disconnected panels: any solution of the normal equations projects the same
        gamma[1:] = np.linalg.lstsq(C[1:, 1:], B[1:], rcond=None)[0]
    unit_part = (grid @ gamma) / w_unit[:, None]      # each unit's weighted mean of gamma_t
    for j in range(p):
        out[:, j] -= gamma[time, j]
        out[:, j] += unit_part[unit, j]
    return out


def _demean_alternating(Z, unit, time, w, n_units, n_times, tol=1e-14, max_iter=10_000):
    r"""Two-way demeaning by alternating projections with Irons–Tuck acceleration.

    Alternately subtracts weighted unit means and weighted period means (each
    a projection, so the composition :math:`T = M_T M_U` converges to
    :math:`M_{[U,D]}`, Gaure 2013), and every third step extrapolates with the
    Irons & Tuck (1969) rule, as ``fixest`` does. Stops when the largest change
    of a step is below ``tol`` times the scale of the data; the exact path
    (:func:`absorb_unit_time` with few periods) is the reference in the tests.
    """
    unit_w = np.bincount(unit, weights=w, minlength=n_units)
    time_w = np.bincount(time, weights=w, minlength=n_times)
    out = np.empty_like(Z)
    for j in range(Z.shape[1]):
        x = Z[:, j].copy()
        scale = max(float(np.abs(x).max()), 1.0)

        def step(v):
            v = v - (np.bincount(unit, weights=w * v, minlength=n_units) / unit_w)[unit]
            return v - (np.bincount(time, weights=w * v, minlength=n_times) / time_w)[time]

        x = step(x)
        for _ in range(max_iter):
            gx = step(x)
            ggx = step(gx)
            dg, d2 = ggx - gx, ggx - 2 * gx + x
            denom = float(d2 @ d2)
            new = ggx - (float(dg @ d2) / denom) * dg if denom > 0 else ggx
            change = float(np.abs(new - x).max())
            x = step(new)          # a plain step after the jump keeps the iterate feasible
            if change <= tol * scale:
                break
        out[:, j] = x
    return out


def _each_pair_once(unit: np.ndarray, time: np.ndarray, n_times: int) -> bool:
    key = unit.astype(np.int64) * n_times + time
    counts = np.bincount(key, minlength=len(key))
    return len(counts) == len(key) and bool((counts == 1).all())


def _demean_balanced(Z: np.ndarray, unit: np.ndarray, time: np.ndarray, n_units: int,
                     n_times: int) -> np.ndarray:
    r"""Two-way demeaning of a balanced, unweighted panel in closed form.

    With every unit observed once in every period the unit and period dummies
    are orthogonal after removing the grand mean, so
    :math:`M_{[U,D]} z_{it} = z_{it} - \bar z_{i\cdot} - \bar z_{\cdot t} + \bar z`
    (one pass for the unit and period sums, one for the result).
    """
    n, p = Z.shape
    if p <= 8:
        # few columns: bincounts per column (building indicator matrices costs more)
        out = np.empty_like(Z)
        for j in range(p):
            z = np.ascontiguousarray(Z[:, j])
            unit_mean = np.bincount(unit, weights=z, minlength=n_units) / n_times
            time_mean = np.bincount(time, weights=z, minlength=n_times) / n_units
            time_mean -= unit_mean.mean()          # = grand mean on a balanced panel
            out[:, j] = z - unit_mean[unit] - time_mean[time]
        return out
    # many columns: group sums of whole rows (sparse indicator products), then one pass
    ones = np.ones(n)
    rows = np.arange(n)
    unit_mean = (sp.csr_matrix((ones, (unit, rows)), shape=(n_units, n)) @ Z) / n_times
    time_mean = (sp.csr_matrix((ones, (time, rows)), shape=(n_times, n)) @ Z) / n_units
    time_mean -= unit_mean.mean(axis=0)
    out = Z - unit_mean[unit]
    out -= time_mean[time]
    return out


@dataclass
class FEFit:
    """Least-squares fit on within-transformed data."""

    params: pd.Series
    vcov: pd.DataFrame
    cov: CovarianceEstimate
    residuals: np.ndarray | None  # None from fit_balanced_dummies (entries of its influence's matrix)
    nobs: int
    n_units: int
    # (n_units, k): N * (X'X)^{-1} sum_t x_it e_it, unit-clustered, raw; an InfluenceFunction
    # (factored, per cohort) from fit_balanced_dummies
    influence: object
    contrast_df: np.ndarray | None = None  # HC2/CR2: Bell-McCaffrey df of the given contrasts



def check_regressors(XtX: np.ndarray, names: Sequence, n: int, scale: np.ndarray,
                     fe_text: str = "unit and period fixed effects") -> None:
    """Refuse regressors the fixed effects absorb or that are collinear, from the demeaned Gram matrix.

    ``XtX`` is the Gram matrix of the demeaned regressors over ``n`` rows and ``scale`` each
    regressor's root mean square before demeaning (zeros replaced by one): a regressor whose
    demeaned root mean square is below ``1e-10 * scale`` is absorbed. Collinearity: pivoted
    Cholesky of the correlation-scaled Gram matrix (a k x k problem; a QR of the n x k design
    is far slower), a pivot below tolerance being a column the others explain.
    """
    absorbed = np.sqrt(np.clip(np.diag(XtX), 0, None) / n) <= 1e-10 * scale
    if absorbed.any():
        raise EstimationError(
            f"{int(absorbed.sum())} regressor(s) are absorbed by the {fe_text} (no variation "
            f"left): {examples(np.asarray(names, dtype=object)[absorbed], 8)}"
        )
    norms = np.sqrt(np.diag(XtX))
    _, piv, rank, _ = scipy.linalg.lapack.dpstrf(XtX / np.outer(norms, norms), tol=1e-10)
    if rank < XtX.shape[0]:
        dropped = np.asarray(names, dtype=object)[np.sort(piv[rank:] - 1)]
        raise EstimationError(
            f"the regressors are collinear given the {fe_text}; "
            f"cannot separate {examples(dropped, 8)} from the other terms"
        )


def fit_fe_ols(
    panel: FEPanel,
    X: np.ndarray,
    names: Sequence,
    *,
    vcov: str,
    ssc,
    contrasts: np.ndarray | None = None,
) -> FEFit:
    """OLS (or WLS) of ``panel.y`` on ``X`` with unit and period effects absorbed.

    Raises
    ------
    EstimationError
        If a regressor is constant within units and periods (absorbed by the
        fixed effects) or the regressors are collinear; the message names the
        terms.
    """
    names = list(names)
    X = np.asarray(X, dtype=float).reshape(len(panel.y), -1)
    n_units = panel.n_units
    n_times = len(panel.periods)
    # prepare_fe_panel refused repeated (unit, period) pairs, so n = N x T means balanced
    balanced = panel.fe_codes is None and panel.weights is None and len(X) == n_units * n_times
    if balanced:
        Z = np.empty((len(X), 1 + X.shape[1]), order="F")     # contiguous columns
        Z[:, 0] = panel.y
        Z[:, 1:] = X
        Z = _demean_balanced(Z, panel.unit, panel.time, n_units, n_times)
    elif panel.fe_codes is None:
        Z = absorb_unit_time(np.column_stack([panel.y, X]), panel.unit, panel.time, panel.weights)
    else:
        # K counts sum(levels) - (F - 1) as fixest does by default (not the exact rank)
        Z, _ = absorb_effects(np.column_stack([panel.y, X]), panel.fe_codes, panel.weights,
                                 panel.fe_labels)
    sw = None if panel.weights is None else np.sqrt(panel.weights)
    if sw is not None:
        Z = Z * sw[:, None]
    yt, Xt = Z[:, 0], Z[:, 1:]
    Xw = X if sw is None else X * sw[:, None]
    # column sums of squares without an n x k temporary
    scale = np.sqrt(np.einsum("ij,ij->j", Xw, Xw) / len(X))
    scale[scale == 0] = 1.0
    fe_text = "unit and period fixed effects" if panel.fe_codes is None else \
        f"fixed effects {' + '.join(panel.fe_labels)}"
    XtX = Xt.T @ Xt
    check_regressors(XtX, names, len(X), scale, fe_text)
    bread = np.linalg.inv(XtX)
    beta = bread @ (Xt.T @ yt)
    resid = yt - Xt @ beta
    corr = resolve_ssc(ssc)
    contrast_df = None
    unit_scores = None
    if vcov in ("HC2", "CR2"):
        cov, contrast_df = _bias_reduced(panel, X, Xt, resid, bread, vcov, sw, contrasts)
    elif vcov == "cluster" and panel.cluster_is_unit and panel.fe_codes is None:
        # clustered by unit: the per-cluster score sums are the influence rows' sums, and
        # the unit effect is nested in the clusters (the codes are the unit codes themselves)
        unit_scores = _unit_sums(Xt * resid[:, None] if Xt.shape[1] > 8 else None, Xt, resid,
                                 panel.unit, n_units)
        k = Xt.shape[1] if corr.fixef_k == "none" else count_coded_parameters(
            Xt.shape[1], [panel.unit, panel.time], [n_units, n_times],
            [panel.unit] if corr.fixef_k == "nested" else [])
        cov = one_way_cluster_covariance(unit_scores, len(yt), k, corr, bread)
    else:
        k = count_parameters(
            Xt.shape[1], panel.effects, panel.clusters if vcov == "cluster" else None,
            corr.fixef_k,
        )
        cov = sandwich_covariance(
            Xt, resid, kind=vcov, clusters=panel.clusters, n_params=k, ssc=corr, bread=bread
        )
    if unit_scores is None:
        unit_scores = _unit_sums(Xt * resid[:, None] if Xt.shape[1] > 8 else None, Xt, resid,
                                 panel.unit, n_units)
    return FEFit(
        params=pd.Series(beta, index=names),
        vcov=pd.DataFrame(cov.vcov, index=names, columns=names),
        cov=cov,
        residuals=resid if sw is None else resid / sw,
        nobs=len(yt),
        n_units=n_units,
        influence=n_units * unit_scores @ bread,
        contrast_df=contrast_df,
    )


def balanced_dummy_fit_applies(panel: FEPanel, vcov: str, n_covariates: int = 0) -> bool:
    """True when :func:`fit_balanced_dummies` computes the fit: unit and period effects only,
    no weights, no covariates, a balanced panel and CR1 clustered by unit."""
    return (panel.fe_codes is None and panel.weights is None and n_covariates == 0
            and vcov == "cluster" and panel.cluster_is_unit
            and len(panel.y) == panel.n_units * len(panel.periods))


def fit_balanced_dummies(panel: FEPanel, col: np.ndarray | None, names: Sequence, *, ssc,
                         groups: tuple[np.ndarray, np.ndarray] | None = None) -> FEFit:
    r""":func:`fit_fe_ols` for mutually exclusive 0/1 regressors from sufficient statistics.

    Regressor ``j`` is 1 on the rows with ``col == j`` and 0 elsewhere (``col = -1``: no
    regressor), as an event study's event-time dummies; ``col`` must be a function of the
    unit's cohort and the period. Callers that know that function pass it instead, as
    ``groups=(unit_group, table)``: ``unit_group`` codes each unit's group ``0..G-1`` (its
    cohort) and ``table[g, t]`` is the column of group ``g`` in period code ``t`` (``col``
    is then ``None`` and no row-sized array is read but the outcome). Only for
    :func:`balanced_dummy_fit_applies` panels; no ``n x p`` or ``N x p`` matrix is formed.

    Returns
    -------
    FEFit
        ``influence`` is a :class:`~policyeval.inference.influence.CohortInfluence` over the
        ``N x T`` residual matrix (``to_dense()`` gives the ``N x p`` array of
        :func:`fit_fe_ols`); ``residuals`` is ``None`` (they are that matrix's entries).

    Notes
    -----
    On a balanced panel the two-way demeaning is
    :math:`M = I - P_U - P_T + P_1`, so with :math:`X` the dummies

    .. math::

        \tilde X'\tilde X = X'X - \tfrac1T \textstyle\sum_i s_i s_i'
        - \tfrac1N \sum_t m_t m_t' + \tfrac1n c\,c',
        \qquad \tilde X'\tilde y = X'\tilde y,

    with :math:`s_i` and :math:`m_t` the dummies' unit and period sums and :math:`c` their
    column sums; :math:`s_i` depends only on the unit's group, and :math:`X'\tilde y` only
    on the groups x periods sums of :math:`y`. The residuals sum to zero within each unit,
    so unit :math:`i`'s score sum is :math:`e_i'A_{g(i)}` with :math:`e_i` its residual
    path and :math:`A_g = X_g - m/N` (``T x p``, :math:`X_g` the group's dummies by period):
    the unit-clustered meat is :math:`\sum_g A_g'(\sum_{i\in g} e_ie_i')A_g` and the
    influence :math:`\psi_i = N e_i'A_{g(i)}(\tilde X'\tilde X)^{-1}`, kept in that factored
    form. :func:`fit_fe_ols` on the dense design is the reference in the tests.
    """
    from policyeval.inference.influence import CohortInfluence

    names = list(names)
    p = len(names)
    N, T = panel.n_units, len(panel.periods)
    n = len(panel.y)
    unit_group, table = _group_table(panel, col) if groups is None else groups
    unit_group = np.asarray(unit_group, dtype=np.intp)
    table = np.asarray(table, dtype=np.intp)
    G = table.shape[0]
    n_g = np.bincount(unit_group, minlength=G).astype(float)          # units per group
    # X_g[t, j] = 1[table[g, t] == j]; column p collects table == -1 (no regressor)
    Xg = np.zeros((G, T, p + 1))
    gi, ti = np.meshgrid(np.arange(G), np.arange(T), indexing="ij")
    Xg[gi, ti, np.where(table >= 0, table, p)] = 1.0
    Xg = Xg[:, :, :p]
    sg = Xg.sum(axis=1)                                  # a unit's dummy sums, by group
    m = np.einsum("g,gtj->tj", n_g, Xg)                  # period sums
    counts = m.sum(axis=0)
    XtX = (np.diag(counts) - (sg.T * n_g) @ sg / T - m.T @ m / N
           + np.outer(counts, counts) / n)
    # the outcome as an N x T matrix (balanced: every cell once); it becomes the residuals
    Y = np.empty((N, T))
    Y[panel.unit, panel.time] = panel.y
    ind = sp.csr_matrix((np.ones(N), (unit_group, np.arange(N))), shape=(G, N))
    Sy = np.asarray(ind @ Y)                             # groups x periods sums of y
    ybar_t = Sy.sum(axis=0) / N
    ybar = ybar_t.mean()
    # groups x periods sums of the two-way demeaned y
    Syt = Sy - (Sy.sum(axis=1) / T)[:, None] - np.outer(n_g, ybar_t - ybar)
    Xty = np.einsum("gtj,gt->j", Xg, Syt)
    # the checks of fit_fe_ols, on the Gram matrix
    scale = np.sqrt(counts / n)
    scale[scale == 0] = 1.0
    check_regressors(XtX, names, n, scale)
    bread = np.linalg.inv(XtX)
    beta = bread @ Xty
    # the demeaned fit is a function of (group, period); with the period means of y it gives
    # e_it = y_it - ybar_i - H[g(i), t], computed in place on Y in blocks of units
    fit_tab = (Xg @ beta - (sg @ beta)[:, None] / T - (m @ beta)[None, :] / N
               + float(counts @ beta) / n)
    H = fit_tab + (ybar_t - ybar)[None, :]
    # ... and, while each block is in cache, the per-group moments of the residual paths
    # (CohortInfluence's features: e_i, the weight w_i = 1 and a constant)
    F = T + 2
    moments = np.zeros((G, F, F))
    colsum = np.zeros((G, T))                            # group sums of the residuals
    step = 32_768
    for start in range(0, N, step):
        block = Y[start:start + step]
        ug = unit_group[start:start + step]
        block -= block.mean(axis=1, keepdims=True)
        block -= H[ug]
        for g in range(G):
            rows = block if G == 1 else block[ug == g]
            moments[g, :T, :T] += rows.T @ rows
            colsum[g] += rows.sum(axis=0)
    moments[:, :T, T] = moments[:, :T, T + 1] = colsum
    moments[:, T, :T] = moments[:, T + 1, :T] = colsum
    moments[:, T:, T:] = n_g[:, None, None]
    A = Xg - (m / N)[None]                               # unit scores s_i = e_i' A_g(i)
    coef = np.zeros((G, F, p))
    coef[:, :T, :] = A
    scores = CohortInfluence(Y, np.ones(N), unit_group, coef, moments=moments)
    corr = resolve_ssc(ssc)
    # K as count_coded_parameters counts it (levels N + T - 1; the unit effect is the cluster
    # itself, so nested; periods are not nested in units when there are >= 2 units)
    k = p if corr.fixef_k == "none" else p + N + T - 1 - (N - 1 if corr.fixef_k == "nested" else 0)
    cov = one_way_cluster_covariance(None, n, k, corr, bread, gram=scores.gram(), n_clusters=N)
    return FEFit(
        params=pd.Series(beta, index=names),
        vcov=pd.DataFrame(cov.vcov, index=names, columns=names),
        cov=cov,
        residuals=None,
        nobs=n,
        n_units=N,
        influence=scores.combine(N * bread),      # shares the residual matrix and its moments
    )


def _group_table(panel: FEPanel, col: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's cohort code and the ``cohorts x periods`` table of a row column ``col``
    that is a function of cohort and period (what :func:`fit_balanced_dummies` reads)."""
    unit_cohort = np.empty(panel.n_units, dtype=panel.cohort.dtype)
    unit_cohort[panel.unit] = panel.cohort
    unit_group, values = pd.factorize(unit_cohort)
    unit_group = unit_group.astype(np.intp)
    # one unit per group is enough: factorize numbers groups in order of first appearance,
    # so the running maximum of the codes steps up exactly at each group's first unit
    first = np.zeros(panel.n_units, dtype=bool)
    first[np.flatnonzero(np.diff(np.maximum.accumulate(unit_group), prepend=-1) > 0)] = True
    rows = np.flatnonzero(first[panel.unit])
    table = np.full((len(values), len(panel.periods)), -1, dtype=np.intp)
    table[unit_group[panel.unit[rows]], panel.time[rows]] = np.asarray(col)[rows]
    return unit_group, table


def influence_columns(influence, columns) -> object:
    """Columns ``columns`` (indices) of an ``N x p`` array or an
    :class:`~policyeval.inference.influence.InfluenceFunction` (as a linear combination,
    so a factored influence stays factored)."""
    if isinstance(influence, np.ndarray):
        return influence[:, columns]
    columns = np.asarray(columns, dtype=np.intp)
    if np.array_equal(columns, np.arange(influence.n_terms)):
        return influence
    pick = np.zeros((influence.n_terms, len(columns)))
    pick[columns, np.arange(len(columns))] = 1.0
    return influence.combine(pick)


def _unit_sums(scores, Xt, resid, unit, n_units) -> np.ndarray:
    """Scores ``Xt * resid`` summed per unit, shape ``(N, k)``."""
    if scores is None:      # few regressors: per-column bincounts, no indicator matrix
        return np.column_stack([np.bincount(unit, weights=Xt[:, j] * resid, minlength=n_units)
                                for j in range(Xt.shape[1])])
    return sp.csr_matrix(
        (np.ones(len(resid)), (unit, np.arange(len(resid)))), shape=(n_units, len(resid))
    ) @ scores


def _bias_reduced(panel: FEPanel, X, Xt, resid, bread, vcov, sw, contrasts=None):
    """HC2 or CR2 with Bell-McCaffrey df; the hat matrix includes every fixed effect."""
    effects = panel.effects
    n = len(resid)
    if vcov == "CR2":
        if len(panel.clusters) != 1:
            raise ArgumentValueError(
                f"vcov='CR2' takes one cluster variable; got {len(panel.clusters)} (two-way "
                "clustering is available with vcov='cluster')")
        cl = label_codes(panel.clusters[0])
        # effects nested in the clusters are absorbed (Pustejovsky & Tipton 2018, Theorem 2);
        # the others enter the hat matrix as dummies
        nested = [j for j, c in enumerate(effects) if is_nested(c, cl)]
        others = [j for j in range(len(effects)) if j not in nested]
        design = effects_design(panel, X, others, nested)
        if sw is not None:
            design = design * sw[:, None]
        res = bias_reduced_covariance(Xt, resid, design, clusters=cl, bread=bread,
                                      contrasts=contrasts)
    else:
        big = int(np.argmax([int(c.max()) + 1 for c in effects]))
        others = [j for j in range(len(effects)) if j != big]
        design = effects_design(panel, X, others, [big])
        if sw is not None:
            design = design * sw[:, None]
        res = bias_reduced_covariance(
            Xt, resid, design, bread=bread,
            absorbed=(effects[big], np.ones(n) if sw is None else sw), contrasts=contrasts)
    return CovarianceEstimate(res.vcov, vcov, res.df, Xt.shape[1],
                              (res.n_clusters,) if vcov == "CR2" else ()), res.contrast_df


def subset_panel(panel: FEPanel, keep: np.ndarray) -> FEPanel:
    """The panel restricted to rows ``keep``, with units and periods re-coded."""
    frame = panel.frame.loc[keep]
    unit = pd.factorize(panel.unit[keep])[0].astype(np.intp)
    t = panel.periods[panel.time[keep]]
    periods, time = np.unique(t, return_inverse=True)
    return FEPanel(
        frame=frame,
        y=panel.y[keep],
        unit=unit,
        time=time.astype(np.intp),
        periods=periods,
        weights=None if panel.weights is None else panel.weights[keep],
        clusters=[c[keep] for c in panel.clusters],
        cohort=None if panel.cohort is None else panel.cohort[keep],
        notes=list(panel.notes),
        fe_codes=None if panel.fe_codes is None else [
            pd.factorize(c[keep])[0].astype(np.intp) for c in panel.fe_codes],
        fe_labels=panel.fe_labels,
        cluster_is_unit=panel.cluster_is_unit,
    )
