"""Two-sided estimation: effects on origins (飞出地) and destinations (飞入地) side by side.

The theory the package is built to test (王曙光 & 梁爽 2023, docs/design.md)
predicts *two-way* spillovers (双向外溢): **both** sides gain. The older view
is one-way, centre → periphery: the poorer side gains, the richer one does
not. Which side is the poorer one depends on the enclave type
(:data:`EXPECTED_GAIN`): the host of a forward park, the county that flies
out to a richer city from a reverse / science enclave. An origin that
*loses* is neither: it is displacement, a relocation without return.
:func:`two_sided` estimates both event studies on the same outcome and event
window, each on a sample with a clean comparison group
(:meth:`EnclaveDesign.sample`), tests two-way spillovers as an
intersection–union test, reports a loss on either side as its own finding,
and the net effect :math:`\theta_O + \theta_D` with a standard error from
the two influence functions stacked on their shared control units.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from policyeval._validation import require_columns
from policyeval.design.enclave import EnclaveDesign
from policyeval.exceptions import ArgumentTypeError, DesignError
from policyeval.results.base import EstimationResult, Summary

__all__ = ["two_sided", "TwoSidedResult", "ROLE_LABELS", "EXPECTED_GAIN", "expected_gainer"]

#: Figure and table labels of the two sides, Chinese and English.
ROLE_LABELS = {"origin": "飞出地 origin", "destination": "飞入地 destination"}

#: The side each enclave type is expected to make better off (the poorer one), and why.
EXPECTED_GAIN = {
    "forward": ("destination", "a forward park: the poorer host (飞入地) gains output per land unit and tax"),
    "special_cooperation_zone": ("destination", "a special cooperation zone: the poorer host area gains"),
    "counterpart_assistance": ("destination", "a counterpart-assistance park: the assisted host gains"),
    "enterprise_led": ("destination", "an enterprise-led park: the host gains"),
    "reverse_science": ("origin", "a reverse / science enclave: the poorer county that flies out (飞出地) to a "
                                  "richer city gains talent and innovation"),
    "poverty_relief": ("origin", "a poverty-relief (消薄) enclave: the poor origin's village collectives gain "
                                 "income (村集体, not the county budget)"),
    "eco_compensation": ("origin", "an eco-compensation enclave: the eco-protected origin county gains "
                                   "development it cannot have at home"),
    "two_way": ("both", "a two-way enclave: each party hosts the other's, both are expected to gain"),
}


def expected_gainer(types) -> tuple[str, str]:
    """The side expected to gain for a set of enclave types, and the reason in words.

    Parameters
    ----------
    types : sequence of str
        Enclave types (:data:`policyeval.data.registry.ENCLAVE_TYPES`).

    Returns
    -------
    side : str
        ``"destination"``, ``"origin"``, ``"both"`` or ``"mixed"`` (the
        types disagree: pass ``types=`` to :func:`two_sided` to test one).
    reason : str

    Examples
    --------
    >>> expected_gainer(["reverse_science"])[0]
    'origin'
    >>> expected_gainer(["forward", "reverse_science"])[0]
    'mixed'
    """
    types = sorted({str(t) for t in types})
    unknown = [t for t in types if t not in EXPECTED_GAIN]
    if unknown:
        raise DesignError(f"types contains unknown enclave type(s) {unknown}; known: {list(EXPECTED_GAIN)}.")
    sides = {EXPECTED_GAIN[t][0] for t in types}
    if len(sides) == 1:
        side = sides.pop()
        return side, "; ".join(EXPECTED_GAIN[t][1] for t in types)
    by_side = {}
    for t in types:
        by_side.setdefault(EXPECTED_GAIN[t][0], []).append(t)
    return "mixed", ("types expect different sides to gain (" + "; ".join(
        f"{side}: {', '.join(ts)}" for side, ts in sorted(by_side.items())) + "); pass types= to test one")
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
    net : pandas.Series
        :math:`\theta_O + \theta_D`: ``estimate``, ``std_error``,
        ``statistic``, ``p_value`` (two-sided), ``conf_low``, ``conf_high``,
        ``covariance`` (of the two overall estimates), ``correlation`` and
        ``n_shared_units`` (units in both samples).
    expected_gain : str
        ``"destination"``, ``"origin"``, ``"both"`` or ``"mixed"``
        (:func:`expected_gainer` of the types studied).
    verdict : dict
        Conclusions in words: ``two_way`` (starts with ``"supported"`` or
        ``"not supported"``; says ``"origin loses"`` when it does),
        ``one_way``, ``origin`` and ``destination`` (``"gains"``, ``"loses"``
        or ``"no effect detected"`` with the one-sided p-value), ``expected``
        (which side the enclave types are expected to make better off, and
        why) and ``net``.
    """

    def __init__(self, params, std_errors, *, results, group_time, overall, tests, verdict, level,
                 net=None, expected_gain=None, **kwargs):
        super().__init__(params, std_errors, **kwargs)
        self.results = results
        self.group_time = group_time
        self.overall = overall
        self.tests = tests
        self.verdict = verdict
        self.level = level
        self.net = net
        self.expected_gain = expected_gain

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
        notes += [f"Expected to gain: {self.verdict['expected']}",
                  f"Two-way (双向外溢): {self.verdict['two_way']}",
                  f"One-way centre->periphery: {self.verdict['one_way']}",
                  f"Net effect: {self.verdict['net']}"]
        return notes + list(self.extra.get("notes", []))

    def summary(self, level: float | None = None) -> Summary:
        """Text / HTML / LaTeX summary: both event studies, overall effects and the tests."""
        level = self.level if level is None else level
        return Summary(title="Two-sided enclave effects (飞出地 / 飞入地)", facts=self._summary_facts(),
                       table=self.to_frame(level).set_index(list(self.index_name)),
                       notes=self._summary_notes())

    def plot(self, ax=None, label: str | None = None, level: float | None = None,
             title: str | None = None, offset: float = 0.12):
        """Both event studies on one figure, origins and destinations side by side.

        Parameters
        ----------
        ax : matplotlib Axes, optional
        label : str, optional
            Title (the result contract's name for it; ``title`` is the same).
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
        ax.set_title(label or title or "飞出地与飞入地效应 Effects on origins and destinations")
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


def _kept_units(data: pd.DataFrame, yname: str, idname: str, tname: str, gname: str, covariates,
                anticipation: int) -> np.ndarray:
    """Units the Callaway–Sant'Anna data preparation keeps, in the order of its cluster codes.

    Rows with a missing outcome or covariate go; units treated in every
    period (``gname <= first period + anticipation``) go; clusters are the
    remaining units in the order of their first row
    (:func:`policyeval.estimators._staggered_data.prepare`).
    """
    cols = [yname] + list(covariates or [])
    ok = np.ones(len(data), dtype=bool)
    for c in cols:
        ok &= np.isfinite(pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float))
    g = pd.to_numeric(data[gname], errors="coerce").to_numpy(dtype=float)
    first = float(pd.to_numeric(data[tname]).min())
    ok &= ~((g > 0) & (g <= first + anticipation))
    ids = data[idname].to_numpy()
    order = pd.unique(ids)
    kept = set(ids[ok])
    return np.array([u for u in order if u in kept], dtype=object)


def unit_influence(agg, gt, data: pd.DataFrame, *, yname: str, idname: str, tname: str, gname: str,
                   covariates=None) -> pd.Series | None:
    """Each unit's contribution to the overall estimate of an aggregated Callaway–Sant'Anna fit.

    Parameters
    ----------
    agg : AggregateResult
        With ``overall_influence``.
    gt : GroupTimeResult
        The fit ``agg`` aggregates (``unit_ids`` and ``spec``).
    data : DataFrame
        The data ``gt`` was fitted on.
    yname, idname, tname, gname : str
    covariates : list of str, optional

    Returns
    -------
    pandas.Series or None
        :math:`u_i = S_i / n` indexed by unit, with :math:`S_i` the sum of
        the influence function over unit :math:`i`'s rows, so that
        :math:`\\widehat{Var}(\\hat\\theta) = \\sum_i u_i^2`. ``None`` when the
        fit carries no influence function or its clusters cannot be matched
        to units (the caller says so).
    """
    infl = getattr(agg, "overall_influence", None)
    if infl is None or not hasattr(infl, "cluster_sums"):
        return None
    sums = np.asarray(infl.cluster_sums(), dtype=float).reshape(infl.n_clusters, -1)[:, 0] / infl.n
    spec = getattr(gt, "spec", {}) or {}
    if spec.get("cluster") not in (None, idname):
        return None
    unit_ids = getattr(gt, "unit_ids", None)
    if unit_ids is not None and infl.cluster is None:
        ids = np.asarray(unit_ids, dtype=object)
    else:
        ids = _kept_units(data, yname, idname, tname, gname, covariates, int(spec.get("anticipation", 0)))
    if len(ids) != len(sums):
        return None
    return pd.Series(sums, index=pd.Index(ids.astype(str), name=idname))


def _side_finding(z: float, alpha: float) -> tuple[str, float, float]:
    p_gain, p_loss = float(stats.norm.sf(z)), float(stats.norm.cdf(z))
    if p_gain < alpha:
        return "gains", p_gain, p_loss
    if p_loss < alpha:
        return "loses", p_gain, p_loss
    return "no effect detected", p_gain, p_loss


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
        :math:`\\delta > 0`: also test that the side *not* expected to gain
        has a negligible effect, :math:`|\\theta| < \\delta` (two one-sided
        tests), on the outcome's scale.
    level : float, default 0.95
        Confidence level; every test is judged at :math:`\\alpha = 1 -` ``level``.
    covariates : list of str, optional
        Passed to the estimator.
    types : sequence of str, optional
        Enclave types to study on both sides (e.g. ``("forward",)``); see
        :meth:`EnclaveDesign.sample`. They also set which side is expected to
        gain (:data:`EXPECTED_GAIN`); without ``types`` the types of all the
        design's mapped enclaves are used.

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
    time :math:`e`, :math:`\\theta_r = |E^+|^{-1}\\sum_{e\\ge 0}\\theta_r(e)`
    its overall effect and :math:`z_r = \\hat\\theta_r / \\widehat{se}_r`:

    - **two-way spillovers (双向外溢)** mean both sides gain,
      :math:`H_1: \\theta_O > 0 \\text{ and } \\theta_D > 0`, tested as an
      intersection–union test of :math:`H_0: \\theta_O \\le 0 \\text{ or }
      \\theta_D \\le 0`: each one-sided z test at level :math:`\\alpha`,
      p-value :math:`\\max(p_O, p_D)` with :math:`p_r = 1 - \\Phi(z_r)`
      (Berger 1982). The IUT has level :math:`\\alpha` without a
      multiplicity correction.
    - **a loss** on either side (:math:`H_0: \\theta_r \\ge 0`, p-value
      :math:`\\Phi(z_r)`) is reported as its own finding; an origin that
      loses is displacement (relocation without return), not spillover, and
      the two-way verdict says so.
    - **one-way centre → periphery**: the side expected to gain
      (:func:`expected_gainer`: the destination for forward parks, the origin
      for reverse / science, poverty-relief and eco-compensation enclaves)
      gains, and the other side does not; with ``equivalence_margin``
      :math:`\\delta` the TOST :math:`H_0: |\\theta| \\ge \\delta` on the
      other side is tested. Failing to reject :math:`\\theta = 0` alone is
      not evidence of no effect; the verdict says so.
    - **net effect** :math:`\\theta_O + \\theta_D` (average effect on an
      origin plus average effect on a destination, on the outcome's scale),
      with :math:`\\widehat{Var} = \\sum_i (u^O_i + u^D_i)^2`, where
      :math:`u^r_i` is unit :math:`i`'s summed influence function in the
      side-:math:`r` fit divided by its :math:`n` (0 when :math:`i` is not
      in that sample): the two samples share their control units, so the
      estimates are correlated (:func:`unit_influence`).
    - origin, joint: :math:`H_0: \\theta_O(e) = 0\\ \\forall e \\ge 0`, Wald
      :math:`W = \\hat\\theta_O^\\top \\hat V_O^{+}\\hat\\theta_O \\sim \\chi^2_{k}`.

    A unit taking part in an enclave without a sourced start date is never
    a control (:meth:`EnclaveDesign.sample`).

    References
    ----------
    Berger, R. L. (1982). Multiparameter hypothesis testing and acceptance
    sampling. Technometrics 24(4), 295-300.
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
    ...     res = two_sided(d, "log_industrial_land", min_e=-3, max_e=3, types=("forward",))
    >>> list(res.overall.index), res.expected_gain
    (['origin', 'destination'], 'destination')
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
    studied = ([types] if isinstance(types, str) else list(types)) if types is not None else \
        sorted(set(design.assignments.loc[design.assignments["status"] == "mapped", "enclave_type"].astype(str)))
    gainer, why = expected_gainer(studied)
    alpha = 1 - level
    results, gts, params, ses, overall, notes = {}, {}, [], [], {}, []
    post_tests, unit_if = {}, {}
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
        unit_if[role] = unit_influence(agg, gt, data, yname=yname, idname=design.idname, tname=design.tname,
                                       gname=_GNAME, covariates=covariates)
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
    o, d = ov.loc["origin"], ov.loc["destination"]
    z = {r: float(ov.loc[r, "estimate"] / ov.loc[r, "std_error"]) for r in _SIDES}
    finding = {r: _side_finding(z[r], alpha) for r in _SIDES}

    net = _net_effect(o, d, unit_if, level, notes)
    w_o, k_o = post_tests["origin"]
    p_iut = max(finding["origin"][1], finding["destination"][1])
    rows = [
        ("two-way (IUT): both sides gain", "theta_O <= 0 or theta_D <= 0", min(z.values()), np.nan, p_iut),
        ("origin gains", "theta_O <= 0", z["origin"], np.nan, finding["origin"][1]),
        ("destination gains", "theta_D <= 0", z["destination"], np.nan, finding["destination"][1]),
        ("origin loses (displacement)", "theta_O >= 0", z["origin"], np.nan, finding["origin"][2]),
        ("destination loses", "theta_D >= 0", z["destination"], np.nan, finding["destination"][2]),
        ("net effect theta_O + theta_D", "theta_O + theta_D = 0", net["statistic"], np.nan, net["p_value"]),
        ("origin: any post-treatment effect (joint)", "theta_O(e) = 0 for all e >= 0", w_o, k_o,
         float(stats.chi2.sf(w_o, k_o)) if k_o else np.nan),
    ]
    other = {"destination": "origin", "origin": "destination"}.get(gainer)
    if equivalence_margin is not None and other is not None:
        delta = float(equivalence_margin)
        x = ov.loc[other]
        p_lo = stats.norm.sf((x["estimate"] + delta) / x["std_error"])
        p_hi = stats.norm.cdf((x["estimate"] - delta) / x["std_error"])
        rows.append((f"one-way: {other} effect negligible (TOST)", f"|theta_{other[0].upper()}| >= {delta:g}",
                     min((x["estimate"] + delta) / x["std_error"], (delta - x["estimate"]) / x["std_error"]),
                     np.nan, float(max(p_lo, p_hi))))
    tests = pd.DataFrame(rows, columns=["hypothesis", "null", "statistic", "df", "p_value"])
    tests["reject"] = tests["p_value"] < alpha
    verdict = _verdicts(finding, gainer, why, tests, net, equivalence_margin, alpha)
    spec = {"yname": yname, "tname": design.tname, "idname": design.idname, "aggregate": aggregate,
            "min_e": min_e, "max_e": max_e, "exclude_other_roles": exclude_other_roles,
            "exclude_neighbours": exclude_neighbours, "drop_multi_role": drop_multi_role,
            "neighbours": design.neighbours, "types": types, "estimator": repr(estimator)}
    nobs = sum(r.nobs for r in gts.values())
    n_units = design.panel[design.idname].nunique()
    return TwoSidedResult(est, se, results=results, group_time=gts, overall=ov, tests=tests,
                          verdict=verdict, level=level, net=net, expected_gain=gainer, nobs=nobs,
                          n_units=n_units, spec=spec, estimator=f"Two-sided {type(estimator).__name__}",
                          index_name=idx_name, extra={"notes": notes})


def _net_effect(o: pd.Series, d: pd.Series, unit_if: dict, level: float, notes: list) -> pd.Series:
    estimate = float(o["estimate"] + d["estimate"])
    u_o, u_d = unit_if["origin"], unit_if["destination"]
    if u_o is None or u_d is None:
        cov, corr, shared = np.nan, np.nan, 0
        notes.append("net effect: no standard error (the estimator's influence function could not be matched "
                     "to units, so the covariance of the two sides is unknown)")
    else:
        shared = int(len(u_o.index.intersection(u_d.index)))
        both = pd.concat([u_o.rename("o"), u_d.rename("d")], axis=1).fillna(0.0)
        cov = float((both["o"] * both["d"]).sum())
        corr = cov / float(o["std_error"] * d["std_error"])
        notes.append(f"net effect: {shared} unit(s) in both samples; covariance of the two overall estimates "
                     f"{cov:.3g} (correlation {corr:.3f}) from their influence functions stacked by unit")
    var = float(o["std_error"] ** 2 + d["std_error"] ** 2 + 2 * cov)
    se = float(np.sqrt(var)) if np.isfinite(var) and var > 0 else np.nan
    stat = estimate / se if np.isfinite(se) else np.nan
    crit = stats.norm.ppf(0.5 + level / 2)
    return pd.Series({"estimate": estimate, "std_error": se, "statistic": stat,
                      "p_value": float(2 * stats.norm.sf(abs(stat))) if np.isfinite(stat) else np.nan,
                      "conf_low": estimate - crit * se, "conf_high": estimate + crit * se,
                      "covariance": cov, "correlation": corr, "n_shared_units": shared})


def _verdicts(finding, gainer, why, tests, net, margin, alpha) -> dict:
    o_state, o_gain, o_loss = finding["origin"]
    d_state, d_gain, d_loss = finding["destination"]
    p_iut = max(o_gain, d_gain)
    side_text = {r: (f"{state} (one-sided p = {pg:.4f} for a gain, {pl:.4f} for a loss)")
                 for r, (state, pg, pl) in finding.items()}
    if gainer == "both":
        expected = f"both sides ({why})"
    elif gainer == "mixed":
        expected = f"mixed: {why}"
    else:
        expected = f"the {gainer} ({why})"
    if o_state == "gains" and d_state == "gains":
        two_way = (f"supported: both sides gain (intersection-union test, p = max(p_O, p_D) = {p_iut:.4f} "
                   f"< {alpha:g})")
    elif o_state == "loses":
        two_way = (f"not supported: origin loses (one-sided p = {o_loss:.4f}) — displacement / relocation "
                   "without return, not two-way spillover"
                   + ("; the destination gains" if d_state == "gains" else ""))
    elif d_state == "loses":
        two_way = (f"not supported: destination loses (one-sided p = {d_loss:.4f}), not two-way spillover")
    else:
        lacking = [r for r, st in (("origin", o_state), ("destination", d_state)) if st != "gains"]
        two_way = (f"not supported: no gain detected for the {' and the '.join(lacking)} (intersection-union "
                   f"test p = {p_iut:.4f} >= {alpha:g}); not evidence of no effect")
    if gainer in ("origin", "destination"):
        other = "origin" if gainer == "destination" else "destination"
        g_state, o_st = finding[gainer][0], finding[other][0]
        centre = f"{gainer} expected to gain"
        if g_state != "gains":
            one_way = f"not supported: no gain detected for the {gainer} ({centre})"
        elif o_st == "gains":
            one_way = f"rejected: the {other} gains as well (see two_way)"
        elif o_st == "loses":
            one_way = f"rejected: the {gainer} gains but the {other} loses (displacement, not one-way spillover)"
        elif margin is None:
            one_way = (f"consistent: the {gainer} gains and no {other} effect is detected (give "
                       f"equivalence_margin to test that the {other} effect is negligible)")
        elif bool(tests["reject"].iloc[-1]):
            one_way = f"supported: the {gainer} gains and the {other} effect is within ±{margin:g}"
        else:
            one_way = (f"inconclusive: the {gainer} gains, but the {other} effect cannot be shown to lie "
                       f"within ±{margin:g}")
    else:
        one_way = (f"not defined: {expected.split(':')[0]} — a one-way pattern needs one side expected to gain"
                   if gainer == "mixed" else "not applicable: both sides are expected to gain (see two_way)")
    if np.isfinite(net["std_error"]):
        net_text = (f"{net['estimate']:+.4f} (SE {net['std_error']:.4f}, shared-control covariance included), "
                    f"p = {net['p_value']:.4f}")
    else:
        net_text = f"{net['estimate']:+.4f} (no standard error: influence functions not available)"
    return {"two_way": two_way, "one_way": one_way, "origin": side_text["origin"],
            "destination": side_text["destination"], "expected": expected, "net": net_text}
