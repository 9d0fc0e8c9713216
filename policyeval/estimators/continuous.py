r"""Difference-in-differences with a continuous treatment dose (Callaway, Goodman-Bacon & Sant'Anna 2024).

Enclaves differ in size: a 36 km² park in a small county is a larger treatment than a 2 km²
park in a large one. With a dose (for example park area relative to the host's industrial
land in the year before the park opens) this module estimates the effect of each dose,
:math:`ATT(d)`, and how the effect changes with the dose, the average causal response
:math:`ACRT(d)`, against units that never receive a park.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import check_clusters, examples, require_option
from policyeval.estimators._unit_panel import (
    balanced_unit_panel,
    cluster_sums,
    fit_cluster,
    influence_se,
    unit_influence,
)
from policyeval.exceptions import (
    ArgumentValueError,
    DesignError,
    EstimationError,
    PolicyevalFutureWarning,
)
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.results.extensions import ContinuousDiDResult

__all__ = ["ContinuousDiD", "ContinuousDiDResult"]

_CONTROL_GROUPS = ("never_treated", "not_yet_treated")


def _basis(d: np.ndarray, degree: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Polynomial basis ``[1, x, ..., x^degree]`` in ``x = d / scale`` and its derivative in ``d``."""
    x = np.asarray(d, dtype=float) / scale
    powers = np.arange(degree + 1)
    B = x[:, None] ** powers
    dB = np.zeros_like(B)
    dB[:, 1:] = powers[1:] * x[:, None] ** (powers[1:] - 1) / scale
    return B, dB


class ContinuousDiD:
    r"""Dose-response difference-in-differences (Callaway, Goodman-Bacon & Sant'Anna 2024).

    Parameters
    ----------
    control_group : {"never_treated", "not_yet_treated"}
        Comparison units: dose 0 throughout, or also units whose park comes after the
        period compared. (Before 0.2 ``degree`` came first; ``ContinuousDiD(2)`` still works
        for one release, with a :class:`~policyeval.exceptions.PolicyevalFutureWarning`.)
    degree : int, default 3
        Degree of the polynomial in the dose fitted to treated units' outcome changes
        (a global polynomial, the parametric estimator of the paper and of R ``contdid``
        with no interior knots).
    dose_grid : array-like, optional
        Doses at which :math:`ATT(d)` and :math:`ACRT(d)` are reported. Default: 50 points
        evenly spaced between the 5th and 95th percentile of treated units' doses.
    cluster : str, optional
        Keyword-only. Column of clusters containing units (e.g. prefecture); default: units.
    level : float, default 0.95
        Confidence level of the intervals in ``dose_response`` and of ``conf_int()``.

    Notes
    -----
    Units :math:`i` have a first treated period :math:`G_i` (0 = never) and a dose
    :math:`D_i > 0` (0 for never-treated units), both fixed over time. For a cohort
    :math:`g` and a period :math:`t`, with the long difference
    :math:`\Delta Y_i = Y_{it} - Y_{i,g-1}`,

    .. math::
        \widehat{ATT}_{g,t}(d) = \hat m_{g,t}(d) - \overline{\Delta Y}_{C},\qquad
        \widehat{ACRT}_{g,t}(d) = \hat m_{g,t}'(d),

    where :math:`\hat m_{g,t}` is the least-squares polynomial of :math:`\Delta Y` on the
    dose among cohort :math:`g` and :math:`\overline{\Delta Y}_C` is the mean change of the
    comparison units. The reported curves average the post-treatment cells
    :math:`t \ge g` with weights proportional to cohort size (treated as fixed in the
    standard errors). The summary parameters are

    .. math::
        ATT^{o} = E[ATT(D \mid D) \mid D > 0]
               = E[\Delta Y \mid D > 0] - E[\Delta Y \mid D = 0],\qquad
        ACRT^{o} = E[ACRT(D \mid D) \mid D > 0].

    **What each needs.** *Parallel trends* (PT), :math:`E[\Delta Y(0) \mid D = d] =
    E[\Delta Y(0) \mid D = 0]` for every dose :math:`d`, identifies
    :math:`ATT(d \mid d) = E[Y(d) - Y(0) \mid D = d]` and hence ``ATT`` (the row ``"ATT"`` and
    the ``att`` column of ``dose_response``): the effect of its own dose on the units
    that chose it. PT does **not** give the slope a causal meaning: across doses,
    :math:`\partial_d ATT(d \mid d)` mixes the causal response with selection (units that
    take larger parks may gain more from any park). *Strong parallel trends*,
    :math:`E[Y(d) - Y(0) \mid D = d] = E[Y(d) - Y(0)]` for all :math:`d` (no selection on
    gains), makes :math:`ATT(d)` the dose response :math:`ATE(d)` and its derivative the
    causal response; ``ACRT`` (the row ``"ACRT"`` and the ``acrt`` column) is the average
    causal response only under strong PT. Both rely on no anticipation.

    For enclaves a natural dose is park area relative to host size, e.g. ``area_mu`` of the
    park (:func:`policyeval.load_enclaves`) over the host county's industrial land in
    the year before the park opens.

    Standard errors come from the influence function of each estimate (least-squares
    sandwich for the polynomial, sampling variance of the comparison mean), summed by unit
    or by ``cluster``; the result's ``influence`` holds them for ``ATT`` and ``ACRT``.

    References
    ----------
    Callaway, B., Goodman-Bacon, A. & Sant'Anna, P. H. C. (2024). Difference-in-differences
    with a continuous treatment. NBER Working Paper 32117 (arXiv 2107.02637).

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe
    >>> rng = np.random.default_rng(0)           # SIMULATED: effect 2d + d^2, dose in [0.2, 1]
    >>> n = 400
    >>> dose = np.where(np.arange(n) < 200, rng.uniform(0.2, 1.0, n), 0.0)
    >>> alpha = rng.normal(0, 1, n)
    >>> df = pd.DataFrame({"id": np.repeat(np.arange(n), 2), "year": np.tile([2010, 2011], n),
    ...                    "g": np.repeat(np.where(dose > 0, 2011, 0), 2),
    ...                    "dose": np.repeat(dose, 2)})
    >>> df["y"] = (np.repeat(alpha, 2) + (df.year == 2011) * (0.5 + (df.g > 0) * (2 * df.dose
    ...            + df.dose ** 2)) + rng.normal(0, 0.1, 2 * n))
    >>> res = pe.ContinuousDiD(degree=2).fit(df, yname="y", tname="year", idname="id",
    ...                                       gname="g", dname="dose")
    >>> res.params.round(2).to_dict()
    {'ATT': 1.74, 'ACRT': 3.3}
    >>> res.dose_response.columns[:4].tolist()
    ['dose', 'att', 'att_se', 'att_low']
    """

    def __init__(self, control_group: str = "never_treated", degree: int = 3,
                 dose_grid=None, *, cluster: str | None = None, level: float = 0.95) -> None:
        if isinstance(control_group, (int, np.integer)) and not isinstance(control_group, bool):
            # the order before 0.2: ContinuousDiD(degree, control_group, ...)
            warnings.warn(f"ContinuousDiD({control_group!r}, ...): control_group is now the first "
                          f"argument; pass degree={control_group!r} by name (the old order stops "
                          "working in the next release)", PolicyevalFutureWarning, stacklevel=2)
            control_group, degree = (degree if isinstance(degree, str) else "never_treated",
                                     control_group)
        self.control_group = control_group
        self.degree = degree
        self.dose_grid = dose_grid
        self.cluster = cluster
        self.level = level
        self._check_options()

    # ------------------------------------------------------------------
    def _check_options(self) -> None:
        require_option(self.control_group, "control_group", _CONTROL_GROUPS)
        if isinstance(self.degree, bool) or not isinstance(self.degree, (int, np.integer)) \
                or not 1 <= self.degree <= 6:
            raise ArgumentValueError(f"degree={self.degree!r} must be an integer from 1 to 6")
        if not 0 < self.level < 1:
            raise ArgumentValueError(f"level={self.level!r} must lie strictly between 0 and 1")

    def _prepare(self, df, yname, tname, idname, gname, dname, cluster):
        wide, units, clusters = balanced_unit_panel(
            df, estimator=type(self).__name__, yname=yname, tname=tname, idname=idname,
            unit_columns={"gname": gname, "dname": dname}, cluster=cluster)
        g = units["gname"].to_numpy(dtype=float, copy=True)
        d = units["dname"].to_numpy(dtype=float, copy=True)
        g[~np.isfinite(g)] = 0.0
        if (d < 0).any():
            raise DesignError(f"dname={dname!r} is negative for {int((d < 0).sum())} units (e.g. "
                              f"{examples(wide.index[d < 0])}); a dose is a size, at least 0")
        bad = (g > 0) & ~(d > 0)
        if bad.any():
            raise DesignError(
                f"dname={dname!r} is 0 for {int(bad.sum())} treated units (gname>0; e.g. "
                f"{examples(wide.index[bad])}); treated units need a positive dose (or gname=0 "
                "if they were never treated)")
        bad = (g == 0) & (d != 0)
        if bad.any():
            raise DesignError(
                f"dname={dname!r} is positive for {int(bad.sum())} never-treated units "
                f"(gname=0; e.g. {examples(wide.index[bad])}); a unit with a dose needs its first "
                "treated period in gname")
        return wide, g, d, clusters

    # ------------------------------------------------------------------
    @renamed_arguments(df="data")
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str,
            dname: str, *, cluster: str | None = None) -> "ContinuousDiDResult":
        """Estimate :math:`ATT(d)`, :math:`ACRT(d)` and their averages.

        Parameters
        ----------
        data : pandas.DataFrame
            Balanced long panel (``df=`` before 0.2).
        yname, tname, idname : str
            Outcome, period and unit columns.
        gname : str
            First treated period of each unit (0 or missing-free 0 for never treated).
        dname : str
            Dose of each unit, constant over time: positive for treated units, 0 for never
            treated.
        cluster : str, optional
            Deprecated: pass ``cluster`` to the constructor
            (``ContinuousDiD(cluster="prefecture")``). Still accepted for one release,
            with a :class:`~policyeval.exceptions.PolicyevalFutureWarning`.

        Returns
        -------
        ContinuousDiDResult

        Raises
        ------
        DesignError
            Dose 0 for a treated unit, positive for a never-treated unit, negative, or varying
            within a unit; a cohort without a pre-treatment period.
        DataError
            Missing values, duplicate rows, an unbalanced panel.
        EstimationError
            Fewer than 2 comparison units, or fewer distinct doses in a cohort than the
            polynomial has coefficients.

        Warns
        -----
        FewTreatedWarning
            Fewer treated units than analytic standard errors need.
        EstimationWarning
            Fewer than the recommended number of clusters.
        """
        self._check_options()
        cluster = fit_cluster(self, cluster)
        wide, g, d, clusters = self._prepare(data, yname, tname, idname, gname, dname, cluster)
        periods = wide.columns.to_numpy(dtype=float)
        Y = wide.to_numpy(dtype=float)
        n = Y.shape[0]
        cohorts = np.unique(g[(g > 0) & (g <= periods.max())])
        if cohorts.size == 0:
            raise DesignError(f"gname={gname!r} has no cohort treated within the panel "
                              f"({periods.min():g}..{periods.max():g})")
        warn_few_treated(wide.index.to_numpy(), g, estimator="ContinuousDiD",
                         argument=f"gname={gname!r}", last_period=float(periods.max()),
                         stacklevel=4)
        if clusters is not None:
            check_clusters(int(pd.unique(clusters).size), cluster, estimator="ContinuousDiD",
                           stacklevel=4)
        treated_doses = d[(g > 0) & (g <= periods.max())]
        scale = float(treated_doses.max())
        grid = (np.linspace(*np.quantile(treated_doses, [0.05, 0.95]), 50) if self.dose_grid is None
                else np.asarray(self.dose_grid, dtype=float))
        if grid.ndim != 1 or grid.size == 0 or not np.isfinite(grid).all():
            raise ArgumentValueError("dose_grid must be a non-empty 1-d array of finite doses")
        Bg, dBg = _basis(grid, self.degree, scale)

        cells, post_if, post_w = [], [], []
        k = self.degree + 1
        for c in cohorts:
            base = c - 1
            if base not in periods:
                raise DesignError(
                    f"cohort gname={c:g} has no period {base:g} in tname={tname!r} to compare "
                    "against (the period before treatment); drop the cohort or add the period")
            ib = int(np.flatnonzero(periods == base)[0])
            tr = np.flatnonzero(g == c)
            if np.unique(d[tr]).size < k:
                raise EstimationError(
                    f"cohort gname={c:g} has {np.unique(d[tr]).size} distinct doses but a degree-"
                    f"{self.degree} polynomial has {k} coefficients; lower degree= or pool cohorts")
            B, dB = _basis(d[tr], self.degree, scale)
            BtB_inv = np.linalg.inv(B.T @ B)
            for it, t in enumerate(periods):
                if it == ib:
                    continue
                if self.control_group == "never_treated":
                    ctrl = np.flatnonzero(g == 0)
                else:
                    ctrl = np.flatnonzero((g == 0) | (g > max(t, base)))
                if ctrl.size < 2:
                    raise EstimationError(
                        f"cohort {c:g}, period {t:g}: {ctrl.size} comparison units "
                        f"(control_group={self.control_group!r}); at least 2 are needed")
                dy = Y[:, it] - Y[:, ib]
                beta = BtB_inv @ (B.T @ dy[tr])
                resid = dy[tr] - B @ beta
                mu0 = dy[ctrl].mean()
                psi_beta = np.zeros((n, k))
                psi_beta[tr] = (B * resid[:, None]) @ BtB_inv  # sum_i psi_i = beta_hat - beta
                psi_mu0 = np.zeros(n)
                psi_mu0[ctrl] = (dy[ctrl] - mu0) / ctrl.size
                att_o = dy[tr].mean() - mu0
                psi_att_o = -psi_mu0
                psi_att_o[tr] += (dy[tr] - dy[tr].mean()) / tr.size
                slopes = dB @ beta
                acrt_o = slopes.mean()
                psi_acrt_o = psi_beta @ dB.mean(axis=0)
                psi_acrt_o[tr] += (slopes - acrt_o) / tr.size
                cell = {"cohort": c, "period": t, "event_time": t - c, "n_treated": tr.size,
                        "n_control": ctrl.size, "ATT": att_o, "ACRT": acrt_o if t >= c else np.nan}
                cells.append((cell, psi_att_o))
                if t >= c:
                    post_w.append(tr.size)
                    post_if.append({
                        "att_curve": Bg @ beta - mu0,
                        "acrt_curve": dBg @ beta,
                        "psi_att_curve": psi_beta @ Bg.T - psi_mu0[:, None],
                        "psi_acrt_curve": psi_beta @ dBg.T,
                        "att_o": att_o, "acrt_o": acrt_o,
                        "psi_att_o": psi_att_o, "psi_acrt_o": psi_acrt_o,
                    })
        w = np.asarray(post_w, dtype=float)
        w /= w.sum()

        def avg(key):
            return sum(wi * p[key] for wi, p in zip(w, post_if))

        def group(psi):
            return cluster_sums(psi, clusters)

        def se(psi):
            return influence_se(psi, clusters)

        psi_head = np.column_stack([avg("psi_att_o"), avg("psi_acrt_o")])
        params = pd.Series({"ATT": avg("att_o"), "ACRT": avg("acrt_o")})
        s_head = group(psi_head)
        vcov = pd.DataFrame(s_head.T @ s_head, index=params.index, columns=params.index)
        from scipy import stats

        z = stats.norm.ppf(0.5 + self.level / 2)
        att_c, acrt_c = avg("att_curve"), avg("acrt_curve")
        att_se, acrt_se = se(avg("psi_att_curve")), se(avg("psi_acrt_curve"))
        dose_response = pd.DataFrame({
            "dose": grid, "att": att_c, "att_se": att_se, "att_low": att_c - z * att_se,
            "att_high": att_c + z * att_se, "acrt": acrt_c, "acrt_se": acrt_se,
            "acrt_low": acrt_c - z * acrt_se, "acrt_high": acrt_c + z * acrt_se})
        cell_table = pd.DataFrame([c for c, _ in cells])
        cell_table["ATT_se"] = [float(se(p)) for _, p in cells]
        event = self._event_study(cells, se)
        spec = {"yname": yname, "tname": tname, "idname": idname, "gname": gname, "dname": dname,
                "cluster": cluster, "degree": self.degree, "control_group": self.control_group,
                "level": self.level, "method": f"polynomial degree {self.degree}"}
        return ContinuousDiDResult(
            params=params, std_errors=pd.Series(np.sqrt(np.diag(vcov)), index=params.index),
            vcov=vcov, nobs=int(Y.size), n_units=n, spec=spec, dose_response=dose_response,
            cells=cell_table, event_study=event, influence=unit_influence(psi_head, clusters),
            n_treated=int(((g > 0) & (g <= periods.max())).sum()), n_never=int((g == 0).sum()),
            n_clusters=None if clusters is None else int(pd.unique(clusters).size))

    @staticmethod
    def _event_study(cells, se) -> pd.DataFrame:
        """Binarized ATT by event time t - g (pre-periods are placebo checks of PT)."""
        rows = []
        by_e: dict = {}
        for cell, psi in cells:
            by_e.setdefault(cell["event_time"], []).append((cell["n_treated"], cell["ATT"], psi))
        for e in sorted(by_e):
            items = by_e[e]
            wts = np.array([m for m, _, _ in items], dtype=float)
            wts /= wts.sum()
            est = float(sum(wi * a for wi, (_, a, _) in zip(wts, items)))
            psi = sum(wi * p for wi, (_, _, p) in zip(wts, items))
            rows.append({"event_time": e, "estimate": est, "std_error": float(se(psi))})
        return pd.DataFrame(rows)
