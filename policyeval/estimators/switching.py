r"""Effects of switching a treatment on or off (de Chaisemartin & D'Haultfœuille 2024).

Enclaves are not always absorbing: a park changes hands or closes (Shenzhen took full
control of the Shenzhen-Shanwei zone in 2017, so Shanwei's co-management ended). This module
estimates event-study effects of a first switch, on or off, against units whose treatment has
not changed yet, in the spirit of Stata/R ``did_multiplegt_dyn``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import check_clusters, examples
from policyeval.estimators._unit_panel import balanced_unit_panel, fit_cluster, unit_influence
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    DesignError,
    DroppedObservationsWarning,
    EstimationError,
    FewTreatedWarning,
)
from policyeval.inference.treated_counts import MIN_TREATED_UNITS
from policyeval.results.extensions import SwitchingDiDResult

__all__ = ["SwitchingDiD", "SwitchingDiDResult"]


class SwitchingDiD:
    r"""Event-study DiD for treatments that switch on and off (dCDH 2024, binary treatment).

    Parameters
    ----------
    effects : int, default 3
        Number of dynamic effects :math:`\ell = 1, \dots, L` (periods since the first switch,
        the switch period counting as 1).
    placebos : int, default 2
        Number of placebo (pre-switch) estimates.
    cluster : str, optional
        Keyword-only. Column of clusters containing units; default: units.
    level : float, default 0.95
        Confidence level of ``conf_int()``.

    Notes
    -----
    Unit :math:`g` starts with treatment :math:`D_{g,1} \in \{0, 1\}` and first changes it in
    period :math:`F_g` (never: :math:`F_g = \infty`); :math:`S_g = +1` if it switches on,
    :math:`-1` if off. For :math:`\ell \ge 1` and a switcher with :math:`F_g - 1 + \ell \le T`,

    .. math::
        DID_{g,\ell} = S_g\Big[(Y_{g,F_g-1+\ell} - Y_{g,F_g-1})
            - \frac{1}{|C_{g,\ell}|}\sum_{g' \in C_{g,\ell}} (Y_{g',F_g-1+\ell} - Y_{g',F_g-1})\Big],

    where the controls :math:`C_{g,\ell}` started with the same treatment and have not changed
    it by :math:`F_g - 1 + \ell`. :math:`DID_\ell` averages :math:`DID_{g,\ell}` over the
    :math:`N_\ell` switchers that have controls. It estimates the average effect of having
    switched :math:`\ell` periods ago (on for joiners, off for leavers, signed so that both
    measure the effect of *being treated*), whatever the treatment did after the first switch,
    under parallel trends of units with the same starting treatment and no anticipation.
    Placebo :math:`\ell` compares :math:`Y_{g,F_g-1-\ell} - Y_{g,F_g-1}` with the same
    controls as effect :math:`\ell`. ``ATT`` is the :math:`N_\ell`-weighted average of the
    effects. ``by_direction`` gives the estimates for joiners and leavers separately.

    Standard errors: each unit's contribution :math:`U_g` to :math:`N_\ell DID_\ell` (its own
    signed change net of its controls' mean as a switcher, minus its deviation from the
    control mean each time it serves as a control) is centred within cohorts of units with
    the same :math:`(D_{g,1}, F_g, S_g)` (never-switchers included; a one-unit cohort is
    not centred, as in ``did_multiplegt_dyn``), and
    :math:`\widehat{\mathrm{Var}}(DID_\ell) = \sum_g (U_g - \bar U_{k(g)})^2 / N_\ell^2`,
    conservative when effects differ within a cohort. ``cluster`` sums the centred terms
    within clusters first; the result's ``influence`` holds these centred terms, one column
    per term of ``params``. This reproduces R ``DIDmultiplegtDYN`` 2.3.3 on its 4-group
    worked example exactly; on a 120-group panel it is 6 % (effect) and 5 % (placebo) below
    R's, whose variance has further terms not reproduced here.

    References
    ----------
    de Chaisemartin, C. & D'Haultfœuille, X. (2024). Difference-in-differences estimators of
    intertemporal treatment effects. *Review of Economics and Statistics*, forthcoming
    (NBER WP 29873).
    de Chaisemartin, C. & D'Haultfœuille, X. (2020). Two-way fixed effects estimators with
    heterogeneous treatment effects. *AER* 110(9), 2964–2996.

    Examples
    --------
    >>> import pandas as pd, policyeval as pe
    >>> df = pd.DataFrame({"unit": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
    ...                    "year": [0, 1, 2] * 4,
    ...                    "d": [0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1],
    ...                    "y": [10, 13, 14, 10, 11, 9, 10, 11, 12, 10, 11, 12]})
    >>> res = pe.SwitchingDiD(effects=1, placebos=0).fit(df, yname="y", tname="year",
    ...                                                   idname="unit", dname="d")
    >>> res.params.round(4).to_dict()
    {'ATT': 2.5, 'effect_1': 2.5}
    >>> res.by_direction[["direction", "estimate", "n_switchers"]].to_dict("records")
    [{'direction': 'on', 'estimate': 2.0, 'n_switchers': 1}, {'direction': 'off', 'estimate': 3.0, 'n_switchers': 1}]
    """

    def __init__(self, effects: int = 3, placebos: int = 2, *, cluster: str | None = None,
                 level: float = 0.95) -> None:
        self.effects = effects
        self.placebos = placebos
        self.cluster = cluster
        self.level = level
        self._check_options()

    def _check_options(self) -> None:
        for name, value, low in (("effects", self.effects, 1), ("placebos", self.placebos, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ArgumentValueError(f"{name}={value!r} must be an integer >= {low}")
        if not 0 < self.level < 1:
            raise ArgumentValueError(f"level={self.level!r} must lie strictly between 0 and 1")

    @renamed_arguments(df="data")
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, dname: str, *,
            cluster: str | None = None) -> "SwitchingDiDResult":
        """Estimate the effects of the first switch.

        Parameters
        ----------
        data : pandas.DataFrame
            Balanced long panel (``df=`` before 0.2).
        yname, tname, idname : str
            Outcome, period and unit columns.
        dname : str
            0/1 treatment of each unit in each period (may switch on and off).
        cluster : str, optional
            Deprecated: pass ``cluster`` to the constructor
            (``SwitchingDiD(cluster="prefecture")``). Still accepted for one release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.

        Returns
        -------
        SwitchingDiDResult

        Raises
        ------
        DataError
            Missing values, duplicates, an unbalanced panel, a treatment that is not 0/1.
        DesignError
            No unit ever switches.
        EstimationError
            No switcher has a control for the first effect.

        Warns
        -----
        DroppedObservationsWarning
            Switchers left out of an effect because no unit with the same starting treatment
            is unchanged at that horizon (counts per effect).
        FewTreatedWarning
            Fewer switchers than analytic standard errors need.
        """
        self._check_options()
        cluster = fit_cluster(self, cluster)
        wide, _, clusters = balanced_unit_panel(data, estimator="SwitchingDiD", yname=yname,
                                                tname=tname, idname=idname, unit_columns={},
                                                cluster=cluster, extra_columns={"dname": dname})
        frame = data.assign(**{tname: pd.to_numeric(data[tname], errors="coerce")})
        D = (frame.pivot(index=idname, columns=tname, values=dname)
             .reindex(index=wide.index))
        D.columns = D.columns.astype(float)
        D = D.reindex(columns=wide.columns)
        Dv = D.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        bad = ~np.isin(Dv, (0.0, 1.0))
        if bad.any():
            who = wide.index[bad.any(axis=1)]
            raise DataError(f"dname={dname!r} must be 0/1 in every period; {len(who)} units have "
                            f"other or missing values (e.g. {examples(who)})")
        Y = wide.to_numpy(dtype=float)
        n, T = Y.shape
        base = Dv[:, 0]
        changed = Dv != base[:, None]
        F = np.where(changed.any(axis=1), changed.argmax(axis=1), np.inf)  # index of first switch
        S = np.where(np.isfinite(F), np.where(base == 0, 1.0, -1.0), 0.0)
        switchers = np.flatnonzero(np.isfinite(F))
        if switchers.size == 0:
            raise DesignError(f"dname={dname!r} never changes within a unit: there is no switch "
                              "to estimate (use TWFE/CallawaySantAnna for a design without switches)")
        if switchers.size < MIN_TREATED_UNITS:
            warnings.warn(
                f"SwitchingDiD: only {switchers.size} units switch treatment "
                f"({int((S > 0).sum())} on, {int((S < 0).sum())} off) of {n}; with fewer than "
                f"{MIN_TREATED_UNITS} the analytic standard errors and p-values are not valid "
                "(docs/montecarlo_few_treated.md): read them as descriptive.",
                FewTreatedWarning, stacklevel=3)
        if clusters is not None:
            check_clusters(int(pd.unique(clusters).size), cluster, estimator="SwitchingDiD",
                           stacklevel=4)

        rows, direction_rows, dropped = [], [], {}
        for kind, horizons in (("effect", range(1, self.effects + 1)),
                               ("placebo", range(1, self.placebos + 1))):
            for ell in horizons:
                parts, n_no_control = self._horizon(Y, base, F, S, switchers, ell, kind == "placebo")
                if n_no_control:
                    dropped[f"{kind}_{ell}"] = n_no_control
                if not parts:
                    continue
                total = self._contributions(parts, S, n)
                est, se, centred = self._aggregate(parts, total, len(parts), base, F, S,
                                                   clusters)
                rows.append({"term": f"{kind}_{ell}", "event_time": ell if kind == "effect" else -ell,
                             "estimate": est, "std_error": se, "n_switchers": len(parts),
                             "total": total, "centred": centred})
                for label, sign in (("on", 1.0), ("off", -1.0)):
                    sub = [p for p in parts if S[p[0]] == sign]
                    if sub:
                        e, s_, _ = self._aggregate(sub, self._contributions(sub, S, n),
                                                   len(sub), base, F, S, clusters)
                        direction_rows.append({"term": f"{kind}_{ell}", "direction": label,
                                               "estimate": e, "std_error": s_,
                                               "n_switchers": len(sub)})
        if not rows or rows[0]["term"] != "effect_1":
            raise EstimationError("no switcher has a control unit (same starting treatment, "
                                  "unchanged) in the period of its switch; effect_1 is not identified")
        if dropped:
            warnings.warn(
                "SwitchingDiD: switchers without a control unit (same starting treatment, not yet "
                "switched) were left out of: " + ", ".join(f"{k} ({v})" for k, v in dropped.items()),
                DroppedObservationsWarning, stacklevel=3)
        effects = [r for r in rows if r["term"].startswith("effect")]
        w = np.array([r["n_switchers"] for r in effects], dtype=float)
        att = float(w @ [r["estimate"] for r in effects] / w.sum())
        # the average pools the horizons' contributions (a unit appears in several)
        u = sum(r["total"] for r in effects) / w.sum()
        centred = self._centre(u, base, F, S)
        att_se = float(np.sqrt(np.sum(self._cluster_sum(centred, clusters) ** 2)))
        table = pd.DataFrame([{k: v for k, v in r.items() if k not in ("total", "centred")}
                              for r in rows])
        psi = np.column_stack([centred] + [r["centred"] for r in rows])
        params = pd.Series({"ATT": att, **dict(zip(table.term, table.estimate))})
        ses = pd.Series({"ATT": att_se, **dict(zip(table.term, table.std_error))})
        spec = {"yname": yname, "tname": tname, "idname": idname, "dname": dname,
                "cluster": cluster, "effects": self.effects, "placebos": self.placebos,
                "level": self.level, "method": "dCDH first-switch event study"}
        return SwitchingDiDResult(params=params, std_errors=ses, nobs=int(Y.size), n_units=n,
                                  influence=unit_influence(psi, clusters),
                                  spec=spec, event_study=table.sort_values("event_time").reset_index(drop=True),
                                  by_direction=pd.DataFrame(direction_rows),
                                  n_switchers=(int((S > 0).sum()), int((S < 0).sum())))

    @staticmethod
    def _horizon(Y, base, F, S, switchers, ell, placebo):
        """(switcher, its controls, outcome changes) for each switcher with controls."""
        T = Y.shape[1]
        parts, no_control = [], 0
        for g in switchers:
            b = int(F[g]) - 1
            t = b + ell
            if t > T - 1 or (placebo and b - ell < 0):
                continue
            ctrl = np.flatnonzero((base == base[g]) & (F > t))
            if ctrl.size == 0:
                no_control += 1
                continue
            target = b - ell if placebo else t
            parts.append((g, ctrl, Y[:, target] - Y[:, b]))
        return parts, no_control

    @staticmethod
    def _contributions(parts, S, n):
        """Each unit's share of sum_g DID_g: its own change as a switcher, minus its deviation
        from the control mean each time it serves as a control."""
        u = np.zeros(n)
        for g, ctrl, dy in parts:
            m = dy[ctrl].mean()
            u[g] += S[g] * (dy[g] - m)
            u[ctrl] -= S[g] * (dy[ctrl] - m) / ctrl.size
        return u

    @staticmethod
    def _centre(u, base, F, S):
        """Centre within cohorts (D_g1, F_g, S_g) of all units; one-unit cohorts stay uncentred."""
        out = u.copy()
        keys = pd.DataFrame({"b": base, "f": F, "s": S})
        for _, idx in keys.groupby(["b", "f", "s"]).indices.items():
            if idx.size > 1:
                out[idx] = u[idx] - u[idx].mean()
        return out

    @staticmethod
    def _cluster_sum(v, clusters):
        if clusters is None:
            return v
        codes = pd.factorize(clusters)[0]
        s = np.zeros(codes.max() + 1)
        np.add.at(s, codes, v)
        return s

    def _aggregate(self, parts, total, n_l, base, F, S, clusters):
        est = float(np.mean([S[g] * (dy[g] - dy[ctrl].mean()) for g, ctrl, dy in parts]))
        centred = self._centre(total / n_l, base, F, S)
        return est, float(np.sqrt(np.sum(self._cluster_sum(centred, clusters) ** 2))), centred
