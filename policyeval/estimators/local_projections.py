r"""Local-projections difference-in-differences (Dube, Girardi, Jordà & Taylor 2023).

For every horizon :math:`h` one regression of the long difference
:math:`y_{i,t+h} - y_{i,t-1}` on the indicator of entering treatment at
:math:`t`, with period effects, on a *clean* sample: units entering
treatment at :math:`t`, and units still untreated at :math:`t+h` (for
:math:`h \ge 0`; at :math:`t` for the pre-treatment placebos :math:`h \le -2`).
Already-treated units never serve as controls, so the estimates do not suffer
from the negative weights of TWFE under staggered adoption. A pooled version
averages the post-treatment window in one regression.

Each horizon's regression goes through the package's fixed-effects OLS, so
every ``vcov`` of :class:`policyeval.TWFE` is available (clustered by unit by
default, with fixest's small-sample factors, the authors' convention).
"""

from __future__ import annotations

import math
from functools import reduce

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import examples
from policyeval.estimators._fixed_effects import FEPanel, fit_fe_ols, prepare_fe_panel
from policyeval.estimators._regression_influence import regression_score_rows
from policyeval.estimators.twfe import _check_vcov_args, _vcov_kind
from policyeval.exceptions import (
    ArgumentValueError,
    DataError,
    EstimationError,
    TreatmentTimingError,
)
from policyeval.inference.influence import DenseInfluence
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.results.base import EstimationResult
from policyeval.results.regression import LocalProjectionsResult

__all__ = ["LocalProjectionsDiD", "LocalProjectionsResult"]


class LocalProjectionsDiD:
    r"""Local-projections DiD of Dube, Girardi, Jordà & Taylor (2023).

    Parameters
    ----------
    pre_window : int
        Number :math:`K` of pre-treatment periods: placebos at
        :math:`h = -K, \dots, -2` and the pooled placebo window (default 3).
    post_window : int
        Last horizon :math:`H` (default 4): effects at :math:`h = 0, \dots, H`
        and the pooled window :math:`[t, t+H]`.
    baseline_lags : int
        The baseline subtracted from the outcome: :math:`y_{i,t-1}` (1,
        default) or the pre-mean :math:`\frac1k\sum_{j=1}^{k} y_{i,t-j}`
        (``k`` > 1; the paper's "PMD" variant, which lowers the variance
        when the outcome is noisy; R recipe ``premean2`` for ``k = 2``).
    reweight : bool
        ``False`` (default): the regression's variance-weighted average of
        cohort effects. ``True``: the equally weighted ATT (every newly
        treated observation counts the same), by weighting the regression
        with :math:`1/(1 - \bar D_t)`, :math:`\bar D_t` the share of newly
        treated observations at :math:`t` in the horizon-0 sample (the
        pre-treatment regressions reuse the horizon-0 weights).
    vcov, cluster, ssc
        As in :class:`policyeval.TWFE` (``cluster`` keyword-only); default
        clustered by unit.
    level : float
        Confidence level kept with the result.

    Notes
    -----
    With :math:`\Delta D_{it} = 1` when unit :math:`i` is first treated at
    :math:`t`, the horizon-:math:`h \ge 0` regression is

    .. math:: y_{i,t+h} - y_{i,t-1} = \beta_h \Delta D_{it} + \delta_t^h + e_{it}^h
              \quad\text{on}\quad \{\Delta D_{it} = 1\} \cup \{D_{i,t+h} = 0\},

    for :math:`h \le -2` the outcome is :math:`y_{i,t+h} - y_{i,t-1}` on
    :math:`\{\Delta D_{it}=1\} \cup \{D_{it}=0\}`. The pooled post
    regression uses :math:`\frac{1}{H+1}\sum_{k=0}^{H} y_{i,t+k} - y_{i,t-1}`
    on :math:`\{\Delta D_{it}=1\} \cup \{D_{i,t+H}=0\}`, the pooled pre one
    :math:`\frac{1}{K-1}\sum_{k=2}^{K} y_{i,t-k} - y_{i,t-1}` on
    :math:`\{\Delta D_{it}=1\} \cup \{D_{it}=0\}`. Leads and lags are taken on
    each unit's calendar (a missing period leaves a gap, never a shift);
    the treatment is absorbing. Identification: no anticipation and parallel
    trends between entrants and clean controls; :math:`\beta_h` is a
    convex (variance-weighted, or with ``reweight`` equally weighted)
    average of the cohort effects at horizon :math:`h`.

    References
    ----------
    Dube, A., Girardi, D., Jordà, Ò. and Taylor, A. M. (2023). A local
    projections approach to difference-in-differences event studies. NBER
    Working Paper 31184.

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe, warnings
    >>> rng = np.random.default_rng(2)
    >>> df = pd.DataFrame([(i, t) for i in range(240) for t in range(1, 13)],
    ...                   columns=["county", "year"])
    >>> df["g"] = df["county"].map(lambda i: [0, 5, 8][i % 3])
    >>> on = (df["g"] > 0) & (df["year"] >= df["g"])
    >>> df["y"] = (rng.normal(size=240)[df["county"]] + 0.1 * df["year"]
    ...            + np.where(on, 1.0 + 0.25 * (df["year"] - df["g"]), 0.0)
    ...            + rng.normal(0, 0.2, len(df)))
    >>> res = pe.LocalProjectionsDiD(pre_window=3, post_window=3).fit(
    ...     df, "y", "year", "county", gname="g")
    >>> [round(float(b), 1) + 0.0 for b in res.params]   # truth: 0, 0, 1, 1.25, 1.5, 1.75
    [0.0, 0.0, 1.0, 1.3, 1.5, 1.8]
    >>> round(res.ATT, 1)
    1.4
    """

    def __init__(self, pre_window: int = 3, post_window: int = 4, reweight: bool = False,
                 baseline_lags: int = 1, vcov: str = "cluster", *, cluster: str | None = None,
                 ssc="fixest", level: float = 0.95) -> None:
        self.pre_window = pre_window
        self.post_window = post_window
        self.reweight = reweight
        self.baseline_lags = baseline_lags
        self.vcov = vcov
        self.cluster = cluster
        self.ssc = ssc
        self.level = level
        self._check()

    def _check(self) -> None:
        for name in ("pre_window", "post_window"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ArgumentValueError(f"{name}={v!r} must be a non-negative integer")
        b = self.baseline_lags
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1:
            raise ArgumentValueError(f"baseline_lags={b!r} must be a positive integer")
        if not isinstance(self.reweight, bool):
            raise ArgumentValueError(f"reweight={self.reweight!r} must be True or False")
        _check_vcov_args(self.vcov, self.cluster, self.ssc)
        if self.cluster is not None and not isinstance(self.cluster, str):
            raise ArgumentValueError(f"cluster={self.cluster!r}: LP-DiD clusters one way; give "
                                     "one column name")
        if not 0 < self.level < 1:
            raise ArgumentValueError(f"level={self.level!r} must lie strictly between 0 and 1")

    @renamed_arguments(df="data")
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str,
            treatment: str | None = None, gname: str | None = None,
            covariates: str | list[str] | None = None) -> LocalProjectionsResult:
        """Estimate the per-horizon and pooled LP-DiD effects.

        Parameters
        ----------
        data : pandas.DataFrame
            Long panel, one row per unit and period (gaps allowed; ``df=``
            before 0.2).
        yname, tname, idname : str
            Outcome, integer period and unit columns.
        treatment : str, optional
            Absorbing 0/1 treatment column. Give exactly one of ``treatment``
            and ``gname``.
        gname : str, optional
            First treated period (0 or missing: never treated).
        covariates : str or list of str, optional
            Controls measured at :math:`t` added to every regression
            (``Dy ~ tdiff + x | time`` in the authors' R recipe).

        Returns
        -------
        LocalProjectionsResult

        Raises
        ------
        TreatmentTimingError
            ``treatment`` switches off within a unit.
        EstimationError
            A horizon has no newly treated or no clean-control observation.
        """
        self._check()
        if (treatment is None) == (gname is None):
            raise ArgumentValueError("give exactly one of treatment= (a 0/1 column) and gname= "
                                     "(first treated period)")
        kind = _vcov_kind(self.vcov)
        panel, covs = prepare_fe_panel(
            data, yname=yname, tname=tname, idname=idname, gname=gname,
            regressors=[treatment] if treatment else [], covariates=covariates,
            cluster=self.cluster, vcov=kind, estimator="LocalProjectionsDiD")
        grid = _Grid(panel, treatment, idname, covs, int(self.baseline_lags))
        warn_few_treated(panel.unit, grid.first_treated_per_row(), estimator="LocalProjectionsDiD",
                         argument=f"treatment={treatment!r}" if treatment else f"gname={gname!r}",
                         stacklevel=4)
        K, H = int(self.pre_window), int(self.post_window)
        horizons = [*range(-K, -1), *range(0, H + 1)]
        rows, est, se, dfs, scores = [], [], [], [], []
        w0 = s0 = None
        for h in sorted(horizons, key=lambda h: (h < 0, h)):   # h = 0 first: its weights
            sample = grid.sample(h)
            weights = None
            if self.reweight:
                if h >= 0:
                    weights = grid.equal_weights(sample)
                    if h == 0:
                        w0, s0 = weights, sample
                else:
                    weights = grid.reuse(w0, s0, sample)
            fit, facts, score = self._regress(grid, sample, weights, f"h={h}")
            scores.append(score)
            rows.append({"event_time": h, **facts})
            est.append(fit.params.iloc[0])
            se.append(math.sqrt(fit.vcov.iloc[0, 0]))
            dfs.append(float(np.ravel(fit.cov.df_resid)[0]))
        table = pd.DataFrame(rows).sort_values("event_time").reset_index(drop=True)
        order = np.argsort([r["event_time"] for r in rows])
        index = pd.Index(table["event_time"].to_numpy(), name="event_time")
        params = pd.Series(np.asarray(est)[order], index=index)
        std = pd.Series(np.asarray(se)[order], index=index)
        df_resid = np.asarray(dfs)[order]
        spec = {"yname": yname, "tname": tname, "idname": idname, "gname": gname, "fe": [tname],
                "treatment": treatment, "covariates": covs, "pre_window": K, "post_window": H,
                "reweight": self.reweight, "baseline_lags": int(self.baseline_lags),
                "vcov": self.vcov, "cluster": self.cluster or idname,
                "ssc": self.ssc}
        pooled = self._pooled(grid, K, H, kind, spec)
        notes = list(panel.notes) + grid.notes + [
            f"Long differences from the baseline {grid.baseline_text()}; one regression per "
            f"horizon with period effects on the clean sample; standard "
            f"errors {kind} by {self.cluster or idname} (small-sample convention {self.ssc!r}), "
            "t with each horizon's own df. Event time -1 is the reference (0 by construction)."]
        res = LocalProjectionsResult(
            params, std, nobs=len(panel.y), n_units=panel.n_units, spec=spec,
            estimator="LP-DiD (Dube, Girardi, Jorda & Taylor)" + (
                ", equally weighted" if self.reweight else ""),
            vcov=pd.DataFrame(np.diag(std.to_numpy() ** 2), index=index, columns=index),
            df_resid=df_resid, index_name="event_time", level=self.level,
            influence=_joint_influence([scores[i] for i in order]),
            extra={"notes": notes, "horizons": table})
        res.pooled = pooled
        return res

    # ------------------------------------------------------------------
    def _regress(self, grid, sample, weights, label):
        dy, d, unit, time, cl, C = sample
        if weights is not None:
            keep = np.isfinite(weights) & (weights > 0)
            dy, d, unit, time, cl, C, weights = (a[keep] for a in (dy, d, unit, time, cl, C,
                                                                   weights))
        n_treat, n_ctrl = int(d.sum()), int((d == 0).sum())
        if n_treat == 0 or n_ctrl == 0:
            raise EstimationError(
                f"{label}: {n_treat} newly treated and {n_ctrl} clean-control observations; the "
                "horizon is not identified (shorten pre_window/post_window)")
        periods, tcode = np.unique(time, return_inverse=True)
        ucode = pd.factorize(unit)[0].astype(np.intp)
        fp = FEPanel(frame=pd.DataFrame({"unit": unit, "time": time}), y=dy, unit=ucode,
                     time=tcode.astype(np.intp), periods=periods, weights=weights,
                     clusters=[cl], cohort=None, fe_codes=[tcode.astype(np.intp)],
                     fe_labels=[grid.tname])
        kind = _vcov_kind(self.vcov)
        try:
            fit = fit_fe_ols(fp, np.column_stack([d.astype(float), C]),
                             ["treated", *grid.covariates], vcov=kind, ssc=self.ssc)
        except EstimationError as err:
            raise EstimationError(f"{label}: {err}") from None
        facts = {"nobs": len(dy), "n_treated": n_treat, "n_control": n_ctrl,
                 "n_clusters": int(pd.Series(cl).nunique())}
        score = regression_score_rows(fp, np.column_stack([d.astype(float), C]), fit, kind)
        if kind not in ("cluster", "CR2"):      # observations: key them by (unit, period)
            score.keys = pd.MultiIndex.from_arrays([unit, time])[score.keys].to_numpy()
        score.values = score.values[:, 0]
        return fit, facts, score

    def _pooled(self, grid, K, H, kind, spec):
        post = grid.sample_pooled(0, H, clean_at=H)
        w = grid.equal_weights(post) if self.reweight else None
        fit_post, facts_post, score_post = self._regress(grid, post, w, "pooled post window")
        out = [("ATT", fit_post, facts_post)]
        scores = [score_post]
        if K >= 2:
            pre = grid.sample_pooled(-K, -2, clean_at=0)
            wpre = grid.reuse(w, post, pre) if self.reweight else None
            fit_pre, facts_pre, score_pre = self._regress(grid, pre, wpre, "pooled pre window")
            out.append(("pre", fit_pre, facts_pre))
            scores.append(score_pre)
        index = pd.Index([k for k, _, _ in out], name="term")
        est = [f.params.iloc[0] for _, f, _ in out]
        se = [math.sqrt(f.vcov.iloc[0, 0]) for _, f, _ in out]
        dfs = np.array([float(np.ravel(f.cov.df_resid)[0]) for _, f, _ in out])
        res = EstimationResult(
            pd.Series(est, index=index), pd.Series(se, index=index),
            nobs=facts_post["nobs"], n_units=len(np.unique(post[2])),
            spec={**spec, "pooled": True},
            estimator="LP-DiD pooled", df_resid=dfs, index_name="term", level=self.level,
            influence=_joint_influence(scores),
            extra={"notes": [f"ATT: mean of y over [t, t+{H}] minus the baseline "
                             f"({grid.baseline_text()}), clean controls untreated through "
                             f"t+{H}; pre: mean over [t-{K}, t-2] minus the baseline."],
                   "samples": pd.DataFrame([f for _, _, f in out], index=index)})
        return res


def _joint_influence(scores) -> DenseInfluence:
    """One influence function for separate regressions: their score rows on a common key set."""
    keys = pd.Index(np.concatenate([np.asarray(s.keys, dtype=object) for s in scores]),
                    tupleize_cols=False).unique()
    values = np.zeros((len(keys), len(scores)))
    for j, s in enumerate(scores):
        at = keys.get_indexer(pd.Index(np.asarray(s.keys, dtype=object), tupleize_cols=False))
        values[at, j] = s.values
    n = len(keys)
    return DenseInfluence(n * values, cohort=np.zeros(n, dtype=np.intp), weights=np.ones(n))


class _Grid:
    """The panel on each unit's calendar: outcome, first treated period, clusters."""

    def __init__(self, panel, treatment, idname, covariates=(), baseline_lags=1) -> None:
        self.tname = "period"
        self.baseline_lags = baseline_lags
        self.covariates = list(covariates)
        t = panel.periods[panel.time].astype(np.int64)
        steps = np.diff(np.unique(t))
        self.step = int(reduce(math.gcd, steps.tolist())) if steps.size else 1
        self.start = int(t.min())
        pos = (t - self.start) // self.step
        n_units, n_pos = panel.n_units, int(pos.max()) + 1
        self.Y = np.full((n_units, n_pos), np.nan)
        self.Y[panel.unit, pos] = panel.y
        self.C = np.full((n_units, n_pos, len(self.covariates)), np.nan)
        for j, c in enumerate(self.covariates):
            self.C[panel.unit, pos, j] = panel.frame[c].to_numpy(dtype=float)
        self.notes = []
        # first treated position per unit (inf: never)
        first = np.full(n_units, np.inf)
        if treatment is not None:
            d = panel.frame[treatment].to_numpy(dtype=float)
            if not np.isin(d, (0.0, 1.0)).all():
                bad = ~np.isin(d, (0.0, 1.0))
                raise DataError(f"treatment={treatment!r} must be 0/1; found {examples(d[bad])} "
                                f"for units {examples(panel.frame.loc[bad, idname])}")
            on = d == 1
            np.minimum.at(first, panel.unit[on], pos[on])
            off = (d == 0) & (pos > first[panel.unit])
            if off.any():
                raise TreatmentTimingError(
                    f"treatment={treatment!r} switches off (1 then 0) within idname={idname!r} "
                    f"for units {examples(panel.frame.loc[off, idname])}; LP-DiD here needs an "
                    "absorbing treatment")
        else:
            g = panel.cohort
            treated = g > 0
            gpos = np.where(treated, (g - self.start) / self.step, np.inf)
            np.minimum.at(first, panel.unit, gpos)
        self.first = first
        self.unit_ids = np.empty(n_units, dtype=object)
        self.unit_ids[panel.unit] = panel.frame[idname].to_numpy()
        cl = np.empty(n_units, dtype=object)
        # vcov="hetero"/"HC2"/"iid" carry no cluster column: the unit stands in (only counted)
        cl[panel.unit] = panel.clusters[0] if panel.clusters else panel.frame[idname].to_numpy()
        self.cluster = cl
        self.n_pos = n_pos
        self.panel = panel

    def first_treated_per_row(self) -> np.ndarray:
        f = self.first[self.panel.unit]
        return np.where(np.isfinite(f), self.start + self.step * np.nan_to_num(f), 0).astype(int)

    def _frame(self, dy: np.ndarray, clean: np.ndarray):
        """Flatten the (unit, position) cells whose long difference exists and are clean."""
        P = np.arange(self.n_pos)[None, :]
        entering = self.first[:, None] == P
        keep = np.isfinite(dy) & (entering | clean)
        u, p = np.nonzero(keep)
        return (dy[u, p], entering[u, p].astype(float), self.unit_ids[u],
                self.start + self.step * p, self.cluster[u], self.C[u, p, :])

    def _shift(self, k: int) -> np.ndarray:
        """Y at position p + k for every (unit, p) (NaN outside the calendar)."""
        out = np.full_like(self.Y, np.nan)
        if k >= 0:
            out[:, : self.n_pos - k] = self.Y[:, k:]
        else:
            out[:, -k:] = self.Y[:, : self.n_pos + k]
        return out

    def baseline_text(self) -> str:
        k = self.baseline_lags
        return "y(t-1)" if k == 1 else f"mean of y(t-{k}) ... y(t-1)"

    def _base(self) -> np.ndarray:
        """y(t-1), or the mean of y(t-k), ..., y(t-1) (NaN if any is missing)."""
        return np.mean([self._shift(-j) for j in range(1, self.baseline_lags + 1)], axis=0)

    def _untreated_at(self, offset: int) -> np.ndarray:
        P = np.arange(self.n_pos)[None, :]
        return self.first[:, None] > P + offset

    def sample(self, h: int):
        base = self._base()
        dy = self._shift(h) - base
        observed = np.isfinite(self.Y)
        dy = np.where(observed, dy, np.nan)
        return self._frame(dy, self._untreated_at(h if h >= 0 else 0))

    def sample_pooled(self, lo: int, hi: int, clean_at: int):
        base = self._base()
        window = np.mean([self._shift(k) for k in range(lo, hi + 1)], axis=0)
        dy = np.where(np.isfinite(self.Y), window - base, np.nan)
        return self._frame(dy, self._untreated_at(clean_at))

    @staticmethod
    def equal_weights(sample) -> np.ndarray:
        """1 / (1 - share of entrants at t): the FWL residual weights of the equal-weight ATT."""
        d, time = sample[1], sample[3]
        periods, code = np.unique(time, return_inverse=True)
        share = np.bincount(code, d) / np.bincount(code)
        resid = 1 - share                       # residual of d on period effects, entrants
        has = np.bincount(code, d) > 0
        den = (np.bincount(code, d) * resid).sum()
        w = np.where(has, resid / den, np.nan)[code]
        return 1.0 / w

    @staticmethod
    def reuse(weights, source, sample) -> np.ndarray:
        """The weights of ``source`` (horizon 0 or the pooled post window) matched to
        ``sample`` by unit and period; NaN (the row is left out) where ``source`` has none."""
        lookup = pd.Series(weights, index=pd.MultiIndex.from_arrays([source[2], source[3]]))
        got = lookup.reindex(pd.MultiIndex.from_arrays([sample[2], sample[3]]))
        return got.to_numpy(dtype=float)
