"""Results of the Callaway–Sant'Anna estimator: ATT(g,t) and its aggregations.

:class:`GroupTimeResult` holds every ATT(g,t), its influence function and the
specification, so :meth:`GroupTimeResult.aggregate` and
:meth:`GroupTimeResult.bootstrap` never refit. :class:`AggregateResult` holds
one aggregation (simple, group, calendar or dynamic) with its own influence
function.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np
import pandas as pd

from policyeval.exceptions import ArgumentValueError, EstimationError, EstimationWarning
from policyeval._deprecation import renamed_arguments
from policyeval.inference.bootstrap import multiplier_bootstrap
from policyeval.results.base import EstimationResult

__all__ = ["GroupTimeResult", "AggregateResult"]

_KINDS = ("simple", "group", "calendar", "dynamic")


def _overall_series(estimate, se, level, crit=None):
    from policyeval.inference import distributions as stats

    z = stats.norm.ppf(0.5 + level / 2)
    out = {"estimate": estimate, "std_error": se,
           "statistic": estimate / se if se else np.nan,
           "p_value": 2 * stats.norm.sf(abs(estimate / se)) if se else np.nan,
           "conf_low": estimate - z * se, "conf_high": estimate + z * se}
    return pd.Series(out, dtype=float, name="overall")


class _BootstrapMixin:
    """Shared: re-run the multiplier bootstrap on the stored influence function."""

    def _bootstrapped(self, influence, n_bootstrap, multiplier, random_state, level, progress):
        boot = multiplier_bootstrap(influence, n_bootstrap, level=level, weights=multiplier,
                                    random_state=random_state, progress=progress)
        return boot


class GroupTimeResult(EstimationResult, _BootstrapMixin):
    """Group-time average treatment effects ATT(g,t) (Callaway & Sant'Anna 2021).

    Attributes
    ----------
    att_gt : pandas.DataFrame
        One row per (group, time): ``group``, ``time``, ``base_period``,
        ``post``, ``estimate``, ``std_error``, ``statistic``, ``p_value``,
        ``conf_low``, ``conf_high`` (and ``uniform_low``/``uniform_high``
        after a bootstrap), ``n_treated``, ``n_control``.
    influence : policyeval.inference.influence.InfluenceFunction
        Influence function of the ATT(g,t) (one column per row of ``att_gt``).
    spec : dict
        Column names and options that produced the result.
    """

    def __init__(self, cells: pd.DataFrame, influence, *, group_shares, cohort_of_code, cohort_values,
                 nobs, n_units, spec, level=0.95, bootstrap=None, notes=(), unit_ids=None):
        idx = pd.MultiIndex.from_frame(cells[["group", "time"]])
        est = pd.Series(cells["estimate"].to_numpy(), index=idx)
        se_analytic = influence.std_errors()
        se = se_analytic if bootstrap is None else bootstrap.std_errors
        super().__init__(
            est, pd.Series(se, index=idx), nobs=nobs, n_units=n_units, spec=spec,
            estimator="Callaway-Sant'Anna ATT(g,t)",
            vcov=None, influence=influence,
            critical_value=None if bootstrap is None else bootstrap.critical_value,
            uniform_draws=None if bootstrap is None else bootstrap.draws,
            index_name=["group", "time"], extra={"notes": list(notes)}, level=level)
        self._cells = cells.reset_index(drop=True)
        self.group_shares = np.asarray(group_shares, dtype=float)   # per cohort code: mean(w 1{G=g})
        self.cohort_of_code = cohort_of_code
        self.cohort_values = np.asarray(cohort_values, dtype=float)
        self.std_errors_analytic = pd.Series(se_analytic, index=idx)
        self.bootstrap_result = bootstrap
        #: id of each influence-function row (panels; ``None`` for cross-sections)
        self.unit_ids = unit_ids

    @property
    def vcov_matrix(self) -> pd.DataFrame:
        """Analytic covariance of the ATT(g,t), from the influence function (same as :attr:`vcov`)."""
        return self.vcov

    @property
    def att_gt(self) -> pd.DataFrame:
        """The ATT(g,t) table (see class docstring)."""
        return self.to_frame(self.level)

    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """One row per (group, time) with estimates, inference and cell sizes.

        ``level`` defaults to the result's; the uniform band, when there is
        one, is given at the same level.
        """
        level = self._level(level)
        ci = self.conf_int(level)
        out = self._cells[["group", "time", "base_period", "post"]].copy()
        out["estimate"] = self.params.to_numpy()
        out["std_error"] = self.std_errors.to_numpy()
        out["statistic"] = self.tstats.to_numpy()
        out["p_value"] = self.pvalues.to_numpy()
        out["conf_low"] = ci["conf_low"].to_numpy()
        out["conf_high"] = ci["conf_high"].to_numpy()
        if self._uniform_available(level):
            band = self.conf_int(level, uniform=True)
            out["uniform_low"] = band["conf_low"].to_numpy()
            out["uniform_high"] = band["conf_high"].to_numpy()
        out["n_treated"] = self._cells["n_treated"].to_numpy()
        out["n_control"] = self._cells["n_control"].to_numpy()
        return out

    @renamed_arguments(weights="multiplier")
    def bootstrap(self, n_bootstrap: int = 999, *, multiplier: str = "rademacher", random_state=None,
                  level: float | None = None, progress: bool = True) -> GroupTimeResult:
        """Multiplier-bootstrap standard errors and a uniform band, without refitting.

        Parameters
        ----------
        n_bootstrap : int
            Number of draws.
        multiplier : {"rademacher", "mammen"}
            Multiplier distribution (called ``weights`` before 0.2).
        random_state : int or numpy.random.Generator, optional
            Seed (the same seed reproduces the draws).
        level : float, optional
            Coverage of the uniform band; default the fit's ``level``.
        progress : bool
            Show a tqdm progress bar.

        Returns
        -------
        GroupTimeResult
            A copy whose ``std_errors`` are bootstrap standard errors and
            whose ``critical_value`` gives the uniform band.
        """
        level = self.level if level is None else level
        boot = self._bootstrapped(self.influence, n_bootstrap, multiplier, random_state, level, progress)
        spec = dict(self.spec, n_bootstrap=n_bootstrap, multiplier=multiplier, random_state=random_state)
        return GroupTimeResult(self._cells, self.influence, group_shares=self.group_shares,
                               cohort_of_code=self.cohort_of_code, cohort_values=self.cohort_values,
                               nobs=self.nobs, n_units=self.n_units, spec=spec, level=level,
                               bootstrap=boot, notes=self.extra.get("notes", ()), unit_ids=self.unit_ids)

    # ------------------------------------------------------------------
    def _wif_coef(self, groups: np.ndarray, att: np.ndarray) -> np.ndarray:
        """Per-code coefficient on :math:`w_i` of the share-estimation influence, times ``att``.

        For aggregation weights :math:`p_k / P`, :math:`P = \\sum_{j\\in K} p_j`,
        :math:`p_k = E[w 1\\{G = g_k\\}]`, the influence function of the weights is
        :math:`(w 1\\{G=g_k\\} - p_k)/P - p_k \\sum_{j\\in K}(w 1\\{G=g_j\\} - p_j)/P^2`
        (R ``did``'s ``wif``); the constant terms cancel, so it is a multiple
        of :math:`w_i` that depends only on the unit's cohort. Returned already
        multiplied by the ATTs (``codes x 1``), i.e. the term added to the
        aggregated influence function.
        """
        code_g = self.cohort_values[self.cohort_of_code]
        shares = self.group_shares[np.searchsorted(self.cohort_values, groups)]
        total = shares.sum()
        ind = (code_g[:, None] == groups[None, :]).astype(float)
        coef_w = ind / total - ind.sum(axis=1, keepdims=True) * shares[None, :] / total ** 2
        return coef_w @ att[:, None]

    def _combos(self, specs):
        """Estimates and influence functions of several ``sum_k a_k ATT_k`` at once.

        ``specs`` is a list of ``(rows, weights, with_wif)``; one product with
        the stored influence function serves all of them.
        """
        att = self.params.to_numpy()
        A = np.zeros((len(self.params), len(specs)))
        wif_w = np.zeros((len(self.cohort_of_code), len(specs)))
        ests = []
        for c, (rows, weights, with_wif) in enumerate(specs):
            A[rows, c] = weights
            ests.append(float(att[rows] @ weights))
            if with_wif:
                wif_w[:, c] = self._wif_coef(self._cells["group"].to_numpy(dtype=float)[rows], att[rows])[:, 0]
        return ests, self.influence.combine(A, cohort_coef=wif_w if np.any(wif_w) else None)

    def aggregate(self, kind: str = "dynamic", min_e: float | None = None, max_e: float | None = None,
                  balance_e: int | None = None, *, n_bootstrap: int | None = None,
                  random_state=None, level: float | None = None) -> AggregateResult:
        """Aggregate the ATT(g,t) (Callaway & Sant'Anna 2021, Section 3; R ``did::aggte``).

        Parameters
        ----------
        kind : {"simple", "group", "calendar", "dynamic"}
            ``simple``: post-treatment ATT(g,t) weighted by cohort size.
            ``group``: average effect per cohort, then the size-weighted mean.
            ``calendar``: average effect per calendar period, then their mean.
            ``dynamic``: event-study effects by exposure :math:`e = t - g`,
            overall = mean over :math:`e \\ge 0`.
        min_e, max_e : float, optional
            Event-time window (dynamic); ``max_e`` also caps the cells used by
            ``simple`` and ``group`` (as R ``did``).
        balance_e : int, optional
            Dynamic only: keep cohorts observed for at least ``balance_e``
            periods after treatment, so the composition is fixed across
            :math:`e \\le` ``balance_e``.
        n_bootstrap : int, optional
            Bootstrap draws; default: as the ATT(g,t) result (0 = analytic).
        random_state : int, optional
            Seed of that bootstrap.
        level : float, optional
            Confidence level; default the fit's.

        Returns
        -------
        AggregateResult

        Raises
        ------
        ValueError
            If ``kind`` is unknown or the window leaves nothing to aggregate.

        Notes
        -----
        With :math:`p_g = E[w 1\\{G=g\\}]`, the dynamic effect is
        :math:`\\theta(e) = \\sum_g 1\\{g+e \\le \\mathcal T\\} p_g ATT(g, g+e) /
        \\sum_g 1\\{g+e \\le \\mathcal T\\} p_g`. Standard errors come from the
        aggregated influence function, including the effect of estimating
        :math:`p_g` (R ``did``'s ``wif``) for simple, calendar, dynamic and
        the overall group aggregation.
        """
        if kind not in _KINDS:
            raise ArgumentValueError(f"kind={kind!r} must be one of {_KINDS}")
        level = self.level if level is None else level
        min_e = -np.inf if min_e is None else float(min_e)
        max_e = np.inf if max_e is None else float(max_e)
        g = self._cells["group"].to_numpy(dtype=float)
        t = self._cells["time"].to_numpy(dtype=float)
        att = self.params.to_numpy()
        bad = ~np.isfinite(att)
        if bad.any():
            warnings.warn(f"{int(bad.sum())} ATT(g,t) could not be estimated and are left out of the "
                          "aggregation.", EstimationWarning, stacklevel=2)
        valid = ~bad
        shares = self.group_shares[np.searchsorted(self.cohort_values, g)]
        terms, specs = [], []
        if kind == "simple":
            rows = np.flatnonzero(valid & (g <= t) & (t <= g + max_e))
            if len(rows) == 0:
                raise EstimationError("no post-treatment ATT(g,t) to aggregate")
            terms, specs = ["ATT"], [(rows, shares[rows] / shares[rows].sum(), True)]
            index_name = "term"
        elif kind == "group":
            for gg in np.unique(g):
                rows = np.flatnonzero(valid & (g == gg) & (gg <= t) & (t <= g + max_e))
                if len(rows):
                    terms.append(gg)
                    specs.append((rows, np.full(len(rows), 1 / len(rows)), False))
            index_name = "group"
        elif kind == "calendar":
            for tt in np.unique(t[t >= g.min()]):
                rows = np.flatnonzero(valid & (t == tt) & (g <= t))
                if len(rows):
                    terms.append(tt)
                    specs.append((rows, shares[rows] / shares[rows].sum(), True))
            index_name = "time"
        else:
            e_all = t - g
            include = np.ones(len(g), dtype=bool)
            eseq = np.unique(e_all)
            if balance_e is not None:
                include = (t.max() - g) >= balance_e
                eseq = np.unique(e_all[include])
                first = min(float(self.spec.get("first_period", t.min())), g.min())
                eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - t.max() + first)]
            eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
            for e in eseq:
                rows = np.flatnonzero(valid & (e_all == e) & include)
                if len(rows):
                    terms.append(e)
                    specs.append((rows, shares[rows] / shares[rows].sum(), True))
            index_name = "event_time"
        if not specs:
            raise EstimationError(f"nothing to aggregate for kind={kind!r} with min_e={min_e}, max_e={max_e}, "
                             f"balance_e={balance_e}")
        ests, per_term = self._combos(specs)
        est_arr = np.asarray(ests)
        overall_inf = None
        overall_est = float("nan")
        if kind == "simple":
            overall_est, overall_inf = ests[0], per_term
        elif kind == "group":
            gl = np.asarray(terms, dtype=float)
            gshares = self.group_shares[np.searchsorted(self.cohort_values, gl)]
            wts = gshares / gshares.sum()
            overall_est = float(est_arr @ wts)
            overall_inf = per_term.combine(wts[:, None], cohort_coef=self._wif_coef(gl, est_arr))
        elif kind == "calendar":
            overall_est = float(est_arr.mean())
            overall_inf = per_term.combine(np.full((len(ests), 1), 1 / len(ests)))
        else:
            pos = np.asarray(terms) >= 0
            if pos.any():
                overall_est = float(est_arr[pos].mean())
                overall_inf = per_term.combine((pos / pos.sum())[:, None])
        term_index = pd.Index([int(x) if isinstance(x, (float, np.floating)) and float(x).is_integer()
                               else x for x in terms], name=index_name)
        n_boot = self.spec.get("n_bootstrap", 0) if n_bootstrap is None else n_bootstrap
        boot = boot_overall = None
        if n_boot:
            seed = self.spec.get("random_state") if random_state is None else random_state
            wts = self.spec.get("multiplier", "rademacher")
            boot = multiplier_bootstrap(per_term, n_boot, level=level, weights=wts, random_state=seed,
                                        progress=self.spec.get("progress", True))
            if overall_inf is not None:
                boot_overall = multiplier_bootstrap(overall_inf, n_boot, level=level, weights=wts,
                                                    random_state=seed, progress=False)
        se = per_term.std_errors() if boot is None else boot.std_errors
        overall_se = (float(overall_inf.std_errors()[0]) if overall_inf is not None else float("nan"))
        if boot_overall is not None:
            overall_se = float(boot_overall.std_errors[0])
        ref = None
        if kind == "dynamic" and self.spec.get("base_period") == "universal":
            ref = -1 - int(self.spec.get("anticipation", 0))
        spec = dict(self.spec, aggregation=kind, min_e=None if np.isinf(min_e) else min_e,
                    max_e=None if np.isinf(max_e) else max_e, balance_e=balance_e)
        return AggregateResult(
            pd.Series(ests, index=term_index), pd.Series(se, index=term_index),
            nobs=self.nobs, n_units=self.n_units, spec=spec,
            estimator=f"Callaway-Sant'Anna, {kind} aggregation", influence=per_term,
            vcov=pd.DataFrame(per_term.vcov(), index=term_index, columns=term_index),
            critical_value=None if boot is None or kind == "simple" else boot.critical_value,
            uniform_draws=None if boot is None or kind == "simple" else boot.draws,
            index_name=index_name,
            extra={"reference_period": ref, "notes": self.extra.get("notes", [])},
            overall=_overall_series(overall_est, overall_se, level), overall_influence=overall_inf,
            kind=kind, level=level)

    def _summary_facts(self):
        facts = super()._summary_facts()
        for key in ("base_period", "anticipation"):
            facts.append((key, str(self.spec.get(key))))
        facts.append(("SE", "bootstrap" if self.bootstrap_result is not None else "analytic (IF)"))
        return facts

    def plot(self, ax=None, label: str | None = None, level: float | None = None, **kwargs):
        """ATT(g,t) against time, one colour per cohort; hollow points are pre-treatment.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure when omitted.
        label : str, optional
            Title; default the estimator's name.
        level : float, optional
            Coverage of the intervals; default the result's ``level``.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        level = self._level(level)
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4))
        frame = self.to_frame(level)
        groups = frame["group"].unique()
        width = 0.6 / max(len(groups), 1)
        for j, gg in enumerate(groups):
            sub = frame[frame["group"] == gg]
            x = sub["time"].to_numpy(dtype=float) + (j - (len(groups) - 1) / 2) * width
            est = sub["estimate"].to_numpy()
            err = [est - sub["conf_low"].to_numpy(), sub["conf_high"].to_numpy() - est]
            ax.errorbar(x, est, yerr=err, fmt="none", color=f"C{j}", capsize=2)
            post = sub["post"].to_numpy(dtype=bool)
            ax.plot(x[post], est[post], "o", color=f"C{j}", label=f"group {gg:g}")
            ax.plot(x[~post], est[~post], "o", mfc="white", color=f"C{j}")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.set_xlabel(self.spec.get("tname", "time"))
        ax.set_ylabel("ATT(g,t)")
        ax.set_title(label if label is not None else kwargs.get("title", self.estimator))
        ax.legend(frameon=False, fontsize="small")
        return ax


class AggregateResult(EstimationResult):
    """One aggregation of ATT(g,t): per-term estimates plus an overall summary.

    Attributes
    ----------
    overall : pandas.Series
        ``estimate``, ``std_error``, ``statistic``, ``p_value``, ``conf_low``,
        ``conf_high`` of the overall summary parameter.
    overall_influence : InfluenceFunction
        Its influence function.
    kind : str
        ``simple``, ``group``, ``calendar`` or ``dynamic``.
    """

    def __init__(self, params, std_errors, *, overall, overall_influence, kind, level,
                 **kwargs: Any) -> None:
        super().__init__(params, std_errors, level=level, **kwargs)
        self.overall = overall
        self.overall_influence = overall_influence
        self.kind = kind

    def _summary_notes(self) -> list[str]:
        o = self.overall
        head = (f"Overall ({self.kind}): {o['estimate']:.4f} (SE {o['std_error']:.4f}), "
                f"{self.level:.0%} CI [{o['conf_low']:.4f}, {o['conf_high']:.4f}]")
        return [head, *super()._summary_notes()]

    def _summary_facts(self):
        facts = super()._summary_facts()
        for key in ("base_period", "min_e", "max_e", "balance_e"):
            if self.spec.get(key) is not None:
                facts.append((key, str(self.spec[key])))
        return facts

    def __repr__(self) -> str:
        o = self.overall
        return (f"<AggregateResult {self.kind}: overall {o['estimate']:.4f} "
                f"(SE {o['std_error']:.4f}), {len(self.params)} terms>")

    def _as_mapping(self) -> Mapping[str, float]:
        return self.overall.to_dict()
