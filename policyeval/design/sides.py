"""Two-sided estimation: effects on origins (飞出地) and destinations (飞入地) side by side.

The theory the package is built to test (王曙光 & 梁爽 2023, DOMAIN.md
section 1) predicts *two-way* spillovers (双向外溢): the origin gains too,
not only the destination. The older view is one-way, centre → periphery:
the destination gains, the origin does not. :func:`two_sided` estimates
both event studies on the same outcome and event window, each on a sample
with a clean comparison group (:meth:`EnclaveDesign.sample`), and tests both
hypotheses.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from policyeval._validation import require_columns
from policyeval.design.enclave import EnclaveDesign
from policyeval.exceptions import ArgumentTypeError, DesignError
from policyeval.results.base import EstimationResult, Summary

__all__ = ["two_sided", "TwoSidedResult", "ROLE_LABELS"]

#: Figure and table labels of the two sides, Chinese and English.
ROLE_LABELS = {"origin": "飞出地 origin", "destination": "飞入地 destination"}
_SIDES = ("origin", "destination")
_GNAME = "_design_g"


class TwoSidedResult(EstimationResult):
    """Event-study effects on origins and destinations, and the spillover tests.

    Attributes
    ----------
    params, std_errors : pandas.Series
        Indexed by (``role``, ``event_time``) (or (``role``, ``term``) for
        ``aggregate="simple"``).
    results : dict
        ``role -> AggregateResult`` (the aggregated Callaway–Sant'Anna fits).
    group_time : dict
        ``role -> GroupTimeResult`` (every ATT(g,t), for re-aggregation).
    overall : pandas.DataFrame
        One row per role: overall post-treatment ATT with ``std_error``,
        ``statistic``, ``p_value``, ``conf_low``, ``conf_high``.
    tests : pandas.DataFrame
        One row per hypothesis: ``hypothesis``, ``null``, ``statistic``,
        ``df``, ``p_value``, ``reject`` (at ``1 - level``).
    verdict : dict
        ``two_way`` and ``one_way`` conclusions in words.
    """

    def __init__(self, params, std_errors, *, results, group_time, overall, tests, verdict, level,
                 **kwargs):
        super().__init__(params, std_errors, **kwargs)
        self.results = results
        self.group_time = group_time
        self.overall = overall
        self.tests = tests
        self.verdict = verdict
        self.level = level

    def to_frame(self, level: float | None = None) -> pd.DataFrame:
        """One row per (role, term): estimate, std_error, statistic, p_value, conf_low, conf_high."""
        level = self.level if level is None else level
        ci = self.conf_int(level)
        out = pd.DataFrame({"estimate": self.params, "std_error": self.std_errors,
                            "statistic": self.tstats, "p_value": self.pvalues,
                            "conf_low": ci["conf_low"], "conf_high": ci["conf_high"]})
        out.index.names = self.index_name
        return out.reset_index()

    def _summary_notes(self) -> list[str]:
        notes = []
        for role, row in self.overall.iterrows():
            notes.append(f"Overall {ROLE_LABELS[role]}: {row['estimate']:.4f} (SE {row['std_error']:.4f}), "
                         f"p = {row['p_value']:.4f}")
        for t in self.tests.itertuples(index=False):
            notes.append(f"{t.hypothesis} [H0: {t.null}]: stat {t.statistic:.3f}"
                         + (f" (df {t.df:g})" if pd.notna(t.df) else "") + f", p = {t.p_value:.4f}")
        notes += [f"Two-way (双向外溢): {self.verdict['two_way']}",
                  f"One-way centre->periphery: {self.verdict['one_way']}"]
        return notes + list(self.extra.get("notes", []))

    def summary(self, level: float | None = None) -> Summary:
        """Text / HTML / LaTeX summary: both event studies, overall effects and the tests."""
        level = self.level if level is None else level
        return Summary(title="Two-sided enclave effects (飞出地 / 飞入地)", facts=self._summary_facts(),
                       table=self.to_frame(level).set_index(list(self.index_name)),
                       notes=self._summary_notes())

    def plot(self, ax=None, level: float | None = None, title: str | None = None, offset: float = 0.12):
        """Both event studies on one figure, origins and destinations side by side.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        level : float, optional
            Pointwise confidence level of the bars.
        title : str, optional
        offset : float
            Horizontal shift of the two series (event-time units).

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        try:
            from policyeval.plots.fonts import use_cjk_font

            use_cjk_font()
        except FileNotFoundError:  # figure still draws; Chinese glyphs may be boxes
            pass
        level = self.level if level is None else level
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        frame = self.to_frame(level)
        term = self.index_name[1]
        for j, role in enumerate(_SIDES):
            sub = frame[frame["role"] == role]
            if sub.empty:
                continue
            x = pd.to_numeric(sub[term], errors="coerce").to_numpy(dtype=float) + (j - 0.5) * 2 * offset
            est = sub["estimate"].to_numpy()
            err = np.vstack([est - sub["conf_low"].to_numpy(), sub["conf_high"].to_numpy() - est])
            ax.errorbar(x, est, yerr=err, fmt="o" if j == 0 else "s", color=f"C{j}", capsize=3,
                        label=f"{ROLE_LABELS[role]} ({level:.0%} CI)")
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.axvline(-0.5, color="0.6", linestyle=":", linewidth=1)
        ax.set_xlabel("事件时间 event time (years since start)")
        ax.set_ylabel(f"ATT: {self.spec.get('yname', '')}")
        ax.set_title(title or "飞出地与飞入地效应 Effects on origins and destinations")
        ax.legend(frameon=False, fontsize="small")
        return ax


def default_estimator(level: float = 0.95):
    """``CallawaySantAnna`` with never-treated controls, keeping units with gaps (see :func:`two_sided`)."""
    from policyeval.estimators.staggered import CallawaySantAnna

    return CallawaySantAnna(control_group="never_treated", allow_unbalanced_panel=True, progress=False,
                            level=level)


def _post_terms(agg, kind: str) -> np.ndarray:
    idx = np.asarray(agg.params.index)
    if kind == "dynamic":
        return np.asarray(pd.to_numeric(pd.Series(idx), errors="coerce") >= 0)
    return np.ones(len(idx), dtype=bool)


def _wald(theta: np.ndarray, vcov: np.ndarray) -> tuple[float, int]:
    """:math:`\\theta' V^{+} \\theta` and the rank of :math:`V` (pseudo-inverse for a singular V)."""
    ok = np.isfinite(theta)
    theta, vcov = theta[ok], vcov[np.ix_(ok, ok)]
    if theta.size == 0:
        return float("nan"), 0
    rank = int(np.linalg.matrix_rank(vcov))
    return float(theta @ np.linalg.pinv(vcov) @ theta), rank


def two_sided(design: EnclaveDesign, yname: str, *, estimator=None, aggregate: str = "dynamic",
              min_e: int | None = -5, max_e: int | None = 5, exclude_other_roles: bool = True,
              exclude_neighbours: bool = True, drop_multi_role: bool = False,
              equivalence_margin: float | None = None, level: float = 0.95,
              covariates=None, types=None) -> TwoSidedResult:
    """Effects on origins and destinations on the same outcome and event window, with tests.

    Parameters
    ----------
    design : EnclaveDesign
        From :func:`policyeval.design.enclave_design` with both roles.
    yname : str
        Outcome column (e.g. ``"log_gdp"``).
    estimator : CallawaySantAnna, optional
        Any estimator with ``fit(data, yname, tname, idname, gname, covariates=...)``
        returning a result with ``aggregate(kind, min_e, max_e)``. Default
        ``CallawaySantAnna(control_group="never_treated", allow_unbalanced_panel=True)``:
        yearbook panels (and the simulated one) miss unit-years, and a
        balanced panel would drop most treated units; units are kept and the
        ATT(g,t) estimated as repeated cross-sections clustered by unit.
    aggregate : {"dynamic", "simple"}, default "dynamic"
        Event-study effects by event time, or one overall ATT per side.
    min_e, max_e : int, optional
        Event-time window, the same for both sides (default -5..5).
    exclude_other_roles, exclude_neighbours, drop_multi_role : bool
        Passed to :meth:`EnclaveDesign.sample` for both sides.
    equivalence_margin : float, optional
        :math:`\\delta > 0`: also test "origin effect = 0" as equivalence,
        :math:`|\\theta_O| < \\delta` (two one-sided tests), on the outcome's scale.
    level : float, default 0.95
        Confidence level; tests are judged at :math:`1 -` ``level``.
    covariates : list of str, optional
        Passed to the estimator.
    types : sequence of str, optional
        Enclave types to study on both sides (e.g. ``("forward",)``); see
        :meth:`EnclaveDesign.sample`.

    Returns
    -------
    TwoSidedResult

    Raises
    ------
    ColumnNotFoundError
        ``yname`` not in the panel.
    DesignError
        The design lacks a role, or ``aggregate`` / ``equivalence_margin`` is invalid.

    Notes
    -----
    With :math:`\\theta_r(e)` the dynamic ATT of side :math:`r` at event
    time :math:`e` and :math:`\\theta_r = |E^+|^{-1}\\sum_{e\\ge 0}\\theta_r(e)`:

    - two-way spillovers (双向外溢): :math:`H_0: \\theta_O(e) = 0\\ \\forall e
      \\in [0, \\text{max\\_e}]`, Wald
      :math:`W = \\hat\\theta_O^\\top \\hat V_O^{+}\\hat\\theta_O \\sim \\chi^2_{k}`
      (:math:`\\hat V_O` from the influence function), and
      :math:`H_0: \\theta_O = 0` (z test). Rejection supports two-way spillovers.
    - one-way centre→periphery: destination gains (:math:`H_0: \\theta_D \\le 0`,
      one-sided z) while the origin does not: the origin's nulls above are
      *not* rejected, and with ``equivalence_margin`` :math:`\\delta`, the
      TOST :math:`H_0: |\\theta_O| \\ge \\delta` is rejected. Failing to reject
      :math:`\\theta_O = 0` alone is not evidence of no effect; the verdict
      says so.

    The two sides are estimated on different samples that share control
    units, so no test of :math:`\\theta_O = \\theta_D` is offered (their
    covariance is not estimated).

    References
    ----------
    Callaway, B. and Sant'Anna, P. H. C. (2021). Difference-in-differences
    with multiple time periods. Journal of Econometrics 225(2), 200-230.
    Schuirmann, D. J. (1987). A comparison of the two one-sided tests
    procedure ... Journal of Pharmacokinetics and Biopharmaceutics 15, 657-680.

    Examples
    --------
    >>> import warnings, policyeval as pe
    >>> from policyeval.design import enclave_design, two_sided
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     d = enclave_design(pe.load_simulated_panel())
    ...     res = two_sided(d, "log_industrial_land", min_e=-3, max_e=3)
    >>> list(res.overall.index)
    ['origin', 'destination']
    """
    if not isinstance(design, EnclaveDesign):
        raise ArgumentTypeError(f"design must be an EnclaveDesign (from enclave_design), got "
                                f"{type(design).__name__}.")
    require_columns(design.panel, where="the design's panel", yname=[yname])
    missing = [r for r in _SIDES if r not in design.roles]
    if missing:
        raise DesignError(f"two_sided needs a design with both roles; this one lacks {missing}.")
    if aggregate not in ("dynamic", "simple"):
        raise DesignError(f"aggregate={aggregate!r} must be 'dynamic' or 'simple'.")
    if equivalence_margin is not None and not (np.isfinite(equivalence_margin) and equivalence_margin > 0):
        raise DesignError(f"equivalence_margin={equivalence_margin!r} must be a positive number.")
    if estimator is None:
        estimator = default_estimator(level)
    if not hasattr(estimator, "fit"):
        raise ArgumentTypeError(f"estimator must have a fit method, got {type(estimator).__name__}.")
    alpha = 1 - level
    results, gts, params, ses, overall, notes = {}, {}, [], [], {}, []
    post_tests = {}
    for role in _SIDES:
        data = design.sample(role, exclude_other_roles=exclude_other_roles,
                             exclude_neighbours=exclude_neighbours, drop_multi_role=drop_multi_role,
                             types=types, gname=_GNAME)
        gt = estimator.fit(data, yname=yname, tname=design.tname, idname=design.idname, gname=_GNAME,
                           covariates=covariates)
        agg = gt.aggregate(aggregate, min_e=min_e, max_e=max_e)
        results[role], gts[role] = agg, gt
        params.append(agg.params.rename(lambda k, r=role: (r, k)))
        ses.append(agg.std_errors.rename(lambda k, r=role: (r, k)))
        overall[role] = agg.overall
        post = _post_terms(agg, aggregate)
        theta = agg.params.to_numpy()[post]
        vcov = agg.influence.vcov()[np.ix_(post, post)]
        post_tests[role] = _wald(theta, vcov)
        n_treated = int((data.groupby(design.idname)[_GNAME].first() > 0).sum())
        notes.append(f"{role}: sample of {data[design.idname].nunique()} units ({n_treated} treated in this "
                     f"role), {gt.n_units} used by the estimator")
    idx_name = ["role", "event_time" if aggregate == "dynamic" else "term"]
    est = pd.concat(params)
    est.index = pd.MultiIndex.from_tuples(est.index, names=idx_name)
    se = pd.concat(ses)
    se.index = est.index
    ov = pd.DataFrame(overall).T.loc[list(_SIDES)]
    ov.index.name = "role"

    w_o, k_o = post_tests["origin"]
    o, d = ov.loc["origin"], ov.loc["destination"]
    rows = [
        ("two-way: origin post-treatment effects (joint)", "theta_O(e) = 0 for all e >= 0", w_o, k_o,
         float(stats.chi2.sf(w_o, k_o)) if k_o else np.nan),
        ("two-way: origin overall ATT", "theta_O = 0", o["statistic"], np.nan, o["p_value"]),
        ("one-way: destination gains", "theta_D <= 0", d["statistic"], np.nan,
         float(stats.norm.sf(d["statistic"]))),
    ]
    if equivalence_margin is not None:
        delta = float(equivalence_margin)
        p_lo = stats.norm.sf((o["estimate"] + delta) / o["std_error"])
        p_hi = stats.norm.cdf((o["estimate"] - delta) / o["std_error"])
        rows.append(("one-way: origin effect negligible (TOST)", f"|theta_O| >= {delta:g}",
                     min((o["estimate"] + delta) / o["std_error"], (delta - o["estimate"]) / o["std_error"]),
                     np.nan, float(max(p_lo, p_hi))))
    tests = pd.DataFrame(rows, columns=["hypothesis", "null", "statistic", "df", "p_value"])
    tests["reject"] = tests["p_value"] < alpha
    origin_moves = bool(tests["reject"].iloc[0] or tests["reject"].iloc[1])
    dest_gains = bool(tests["reject"].iloc[2])
    two_way = ("supported: the origin's effect differs from zero" if origin_moves
               else "not supported: no origin effect detected at this level")
    if dest_gains and not origin_moves:
        if equivalence_margin is None:
            one_way = ("consistent: the destination gains and no origin effect is detected (give "
                       "equivalence_margin to test that the origin effect is negligible)")
        elif tests["reject"].iloc[3]:
            one_way = f"supported: the destination gains and the origin effect is within ±{equivalence_margin:g}"
        else:
            one_way = ("inconclusive: the destination gains, but the origin effect cannot be shown to lie "
                       f"within ±{equivalence_margin:g}")
    elif dest_gains:
        one_way = "rejected: the origin's effect differs from zero as well"
    else:
        one_way = "not supported: no destination gain detected at this level"
    verdict = {"two_way": two_way, "one_way": one_way}
    spec = {"yname": yname, "tname": design.tname, "idname": design.idname, "aggregate": aggregate,
            "min_e": min_e, "max_e": max_e, "exclude_other_roles": exclude_other_roles,
            "exclude_neighbours": exclude_neighbours, "drop_multi_role": drop_multi_role,
            "neighbours": design.neighbours, "types": types, "estimator": repr(estimator)}
    nobs = sum(r.nobs for r in gts.values())
    n_units = design.panel[design.idname].nunique()
    return TwoSidedResult(est, se, results=results, group_time=gts, overall=ov, tests=tests,
                          verdict=verdict, level=level, nobs=nobs, n_units=n_units, spec=spec,
                          estimator=f"Two-sided {type(estimator).__name__}", index_name=idx_name,
                          extra={"notes": notes})
