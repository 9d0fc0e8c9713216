"""What each tool runs for each issue-13 task: the panels, policyeval's calls and the peers' calls.

Used by ``bench_tasks.py`` (the harness: child processes, limits, comparison, tables), which
documents the tasks; ``bench_repeat.py`` reuses :func:`_panel`. A module, not a script.
"""

from __future__ import annotations

import os
from pathlib import Path

TASKS = ("cs_boot", "cs_dr_cov", "cs", "twfe", "twfe_unbal", "event_study", "sun_abraham", "imputation",
         "cold_start")
# The peer expected fastest first: with a short budget the later ones are skipped.
# "tool:variant" when one tool has two calls for a task.
PEERS = {
    "cs_boot": ("diff-diff", "moderndid", "csdid"),
    "cs_dr_cov": ("diff-diff", "csdid", "moderndid"),
    "cs": ("diff-diff", "csdid", "moderndid"),
    "twfe": ("diff-diff", "pyfixest"),
    "twfe_unbal": ("diff-diff", "pyfixest"),
    "event_study": ("pyfixest", "diff-diff"),
    "sun_abraham": ("diff-diff", "pyfixest"),
    "imputation": ("diff-diff", "diff-diff:two_stage", "pyfixest:did2s"),
    "cold_start": ("diff-diff", "csdid", "moderndid"),
}
BOOTSTRAP_TASKS = ("cs_boot",)   # SEs from random draws: compared, never asserted
PEER_NOTES = {
    ("cs_boot", "diff-diff"): "CallawaySantAnna(estimation_method='dr', n_bootstrap=999), "
                              "fit(aggregate='event_study'): event-time effects and the simple "
                              "aggregation (its overall_att); no dynamic overall",
    ("cs_boot", "csdid"): "ATTgt(...).fit(bstrap=True), aggte('dynamic'): 1000 draws (not settable)",
    ("cs_boot", "moderndid"): "att_gt(boot=True, biters=999, cband=True) + aggte('dynamic', boot=True)",
    ("twfe", "diff-diff"): "DifferenceInDifferences(cluster='id').fit(treatment='ever', post='D', "
                           "absorb=['id', 'year']): the coefficient on D and its CR1 SE "
                           "(TwoWayFixedEffects' static fit absorbs unit and *post* effects, not year "
                           "effects, so it estimates another model); it demeans three regressors "
                           "(ever, D, ever x D) where one is needed",
    ("twfe", "pyfixest"): "feols('y ~ D | id + year', vcov={'CRV1': 'id'})",
    ("event_study", "pyfixest"): "feols('y ~ i(rel, ref=-1) | id + year', vcov={'CRV1': 'id'})",
    ("event_study", "diff-diff"): "no staggered relative-period event study "
                                  "(TwoWayFixedEffects(event_study=True) and MultiPeriodDiD take "
                                  "calendar periods of one adoption date); run as "
                                  "DifferenceInDifferences(absorb=['id', 'year']) with the relative-period "
                                  "dummies, built inside the timed call, as covariates",
    ("sun_abraham", "diff-diff"): "SunAbraham(cluster='id'): event-time effects",
    ("sun_abraham", "pyfixest"): "event_study(estimator='saturated').aggregate(): cohort x relative-"
                                 "period interactions weighted by cohort shares",
    ("imputation", "diff-diff"): "ImputationDiD(cluster='id'): overall_att, overall_se",
    ("imputation", "diff-diff:two_stage"): "TwoStageDiD(cluster='id') (Gardner): the same point "
                                           "estimate, GMM standard error (differs by design)",
    ("imputation", "pyfixest:did2s"): "did2s(first_stage='~ 0 | id + year', second_stage='~ D'): the "
                                      "same estimand, but the first stage stops at pyfixest's "
                                      "demeaning tolerance; GMM standard error",
    ("cold_start", "diff-diff"): "import diff_diff + CallawaySantAnna on the same 300 x 6 panel",
}
for _t, _dd, _md, _cs in (("cs_dr_cov", ", covariates=['x']", ", xformla='~x'", ", xformla='y~x'"),
                          ("cs", "", "", "")):
    PEER_NOTES[(_t, "diff-diff")] = PEER_NOTES[("cs_boot", "diff-diff")].replace(
        "n_bootstrap=999)", f"n_bootstrap=0){_dd}")
    PEER_NOTES[(_t, "moderndid")] = f"att_gt(est_method='dr', boot=False{_md}) + aggte('dynamic', boot=False)"
    PEER_NOTES[(_t, "csdid")] = (f"ATTgt(control_group=['nevertreated']{_cs}).fit(est_method='dr', bstrap=False), "
                                 "aggte('dynamic', bstrap=False)")
for _tool in ("csdid", "moderndid"):
    PEER_NOTES[("cold_start", _tool)] = f"import {_tool} + its CS call (as for cs) on the same 300 x 6 panel"
PEER_NOTES[("twfe_unbal", "diff-diff")] = PEER_NOTES[("twfe", "diff-diff")]
PEER_NOTES[("twfe_unbal", "pyfixest")] = PEER_NOTES[("twfe", "pyfixest")]
NOT_IMPLEMENTED = (
    "pyfixest has no Callaway–Sant'Anna; moderndid and csdid have no TWFE regression, event study, "
    "Sun–Abraham or imputation estimator (moderndid's twfe_did_panel is the two-period case); "
    "pyfixest has no BJS imputation variance (its did2s is listed: same estimand); pyfixest's "
    "lpdid and diff-diff's LPDiD, StackedDiD and WooldridgeDiD estimate other things."
)
# Issue 13 goals, for 1,000,000 x 15: seconds, GiB over the data, and >= 4x the fastest peer.

_CACHE_ENV = "BENCH_TASKS_CACHE"


def _base_panel(n: int, T: int):
    """``make_panel(n, T)``, from the run's cache when a sibling child already built it."""
    import numpy as np
    import pandas as pd

    from bench_staggered import make_panel

    cache = os.environ.get(_CACHE_ENV)
    folder = Path(cache) / f"panel_{n}x{T}" if cache else None
    cols = ("id", "year", "g", "x", "y")
    if folder is not None and (folder / "done").exists():
        return pd.DataFrame({c: np.load(folder / f"{c}.npy") for c in cols})
    df = make_panel(n, T)
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for c in cols:
            np.save(folder / f"{c}.npy", df[c].to_numpy())
        (folder / "done").touch()
    return df


def _panel(task: str, n: int, T: int):
    import numpy as np

    df = _base_panel(n, T)
    if task == "twfe_unbal":
        keep = np.random.default_rng(1).random(len(df)) > 0.10
        df = df.loc[keep].reset_index(drop=True)
    df["D"] = ((df["g"] > 0) & (df["year"] >= df["g"])).astype(float)
    df["rel"] = np.where(df["g"] > 0, df["year"] - df["g"], -1000)   # never treated: no dummy
    return df


def _es_terms(index, est, se=None):
    """Event-time results as ``{"e=k": ...}`` lists."""
    out = {"terms": [f"e={int(e)}" for e in index], "estimate": [float(v) for v in est]}
    if se is not None:
        out["se"] = [float(v) for v in se]
    return out


def _merge(*parts):
    out = {"terms": [], "estimate": [], "se": []}
    for p in parts:
        n = len(p["terms"])
        out["terms"] += p["terms"]
        out["estimate"] += p["estimate"]
        out["se"] += p.get("se", [float("nan")] * n)
    return out


def _policyeval(task, df):
    import policyeval as pe

    for name in ("CallawaySantAnna", "TWFE", "EventStudy", "SunAbraham", "ImputationDiD"):
        getattr(pe, name)          # resolve the lazy imports before the clock starts
    kw = dict(yname="y", tname="year", idname="id")
    if task in ("cs_boot", "cs_dr_cov", "cs"):
        if task == "cs_boot":
            est = pe.CallawaySantAnna(n_bootstrap=999, random_state=1, progress=False)
        else:
            est = pe.CallawaySantAnna(method="dr")
        covs = ["x"] if task == "cs_dr_cov" else None

        def run():
            res = est.fit(df, gname="g", covariates=covs, **kw)
            agg = res.aggregate("dynamic")
            return lambda: _cs_out(res, agg)        # evaluated after the clock stops
        return run
    if task in ("twfe", "twfe_unbal"):
        def run():
            r = pe.TWFE().fit(df, gname="g", **kw)
            return {"terms": ["D"], "estimate": [float(r.params.iloc[0])], "se": [float(r.std_errors.iloc[0])]}
        return run
    if task == "event_study":
        def run():
            r = pe.EventStudy(window=None).fit(df, gname="g", **kw)
            return lambda: _es_terms(r.params.index, r.params, r.std_errors)
        return run
    if task == "sun_abraham":
        def run():
            r = pe.SunAbraham().fit(df, gname="g", **kw)
            return lambda: _es_terms(r.params.index, r.params, r.std_errors)
        return run
    if task == "imputation":
        def run():
            r = pe.ImputationDiD().fit(df, gname="g", **kw)
            return {"terms": ["ATT"], "estimate": [float(r.params.iloc[0])],
                    "se": [float(r.std_errors.iloc[0])]}
        return run
    raise ValueError(task)


def _cs_out(res, agg):
    """Dynamic overall, event times, and (untimed) the simple aggregation of a policyeval CS fit."""
    simple = res.aggregate("simple")
    out = _merge(
        {"terms": ["overall"], "estimate": [float(agg.overall["estimate"])],
         "se": [float(agg.overall["std_error"])]},
        _es_terms(agg.params.index, agg.params, agg.std_errors),
        {"terms": ["simple"], "estimate": [float(simple.overall["estimate"])],
         "se": [float(simple.overall["std_error"])]},
    )
    cv = getattr(agg, "critical_value", None)
    if cv is not None:
        out["critical_value"] = float(cv)
    return out


JIT_TOOLS = ("pyfixest", "moderndid")   # compile numba kernels on first use


def _peer(tool, task, df):
    """The timed call of a peer; JIT-compiling peers run it once on 300 units first (untimed)."""
    if tool.partition(":")[0] in JIT_TOOLS:
        small = df.loc[df["id"] <= 300].reset_index(drop=True)
        _peer_call(tool, task, small)()
    return _peer_call(tool, task, df)


def _peer_call(tool, task, df):
    import numpy as np

    tool, _, variant = tool.partition(":")
    boot = task == "cs_boot"
    cov = task == "cs_dr_cov"
    if tool == "pyfixest":
        import pyfixest as pf

        if task in ("twfe", "twfe_unbal"):
            def run():
                m = pf.feols("y ~ D | id + year", data=df, vcov={"CRV1": "id"})
                return {"terms": ["D"], "estimate": [float(m.coef().iloc[0])], "se": [float(m.se().iloc[0])]}
            return run
        if task == "event_study":
            def run():
                m = pf.feols("y ~ i(rel, ref=-1) | id + year", data=df, vcov={"CRV1": "id"})
                coef, se = m.coef(), m.se()
                terms = [int(float(str(k).split("::")[1].rstrip("]"))) for k in coef.index]
                keep = [i for i, t in enumerate(terms) if t != -1000]
                return _es_terms([terms[i] for i in keep], coef.iloc[keep], se.iloc[keep])
            return run
        if task == "sun_abraham":
            def run():
                fit = pf.event_study(df, yname="y", idname="id", tname="year", gname="g",
                                     estimator="saturated")
                agg = fit.aggregate().astype(float)
                return _es_terms([int(e) for e in agg.index], agg["Estimate"], agg["Std. Error"])
            return run
        if task == "imputation" and variant == "did2s":
            def run():
                m = pf.did2s(df, yname="y", first_stage="~ 0 | id + year", second_stage="~ D",
                             treatment="D", cluster="id")
                return {"terms": ["ATT"], "estimate": [float(m.coef().iloc[0])], "se": [float(m.se().iloc[0])]}
            return run
    if tool == "moderndid":
        import moderndid as md

        def run():
            r = md.att_gt(data=df, yname="y", tname="year", idname="id", gname="g",
                          xformla="~x" if cov else None, est_method="dr", boot=boot,
                          biters=999, cband=boot, random_state=1)
            a = md.aggte(r, type="dynamic", boot=boot, biters=999, random_state=1)
            return _merge({"terms": ["overall"], "estimate": [float(a.overall_att)], "se": [float(a.overall_se)]},
                          _es_terms(a.event_times, a.att_by_event, a.se_by_event))
        if task in ("cs_boot", "cs_dr_cov", "cs"):
            return run
    if tool == "csdid":
        from csdid.att_gt import ATTgt

        def run():
            att = ATTgt(yname="y", tname="year", idname="id", gname="g", data=df,
                        control_group=["nevertreated"], xformla="y~x" if cov else None)
            att.fit(est_method="dr", bstrap=boot)
            agg = att.aggte(typec="dynamic", bstrap=boot).atte
            first = (lambda v: float(np.asarray(v, dtype=float).ravel()[0]))
            flat = (lambda v: np.asarray(v, dtype=float).ravel())   # bootstrap SEs come as (1, k)
            return _merge({"terms": ["overall"], "estimate": [first(agg["overall_att"])],
                           "se": [first(agg["overall_se"])]},
                          _es_terms(flat(agg["egt"]), flat(agg["att_egt"]), flat(agg["se_egt"])))
        if task in ("cs_boot", "cs_dr_cov", "cs"):
            return run
    if tool == "diff-diff":
        import diff_diff as dd

        if task in ("cs_boot", "cs_dr_cov", "cs"):
            def run():
                r = dd.CallawaySantAnna(estimation_method="dr", n_bootstrap=999 if boot else 0, seed=1).fit(
                    df, outcome="y", unit="id", time="year", first_treat="g",
                    covariates=["x"] if cov else None, aggregate="event_study")
                eff = r.event_study_effects
                terms = sorted(eff)
                # overall_att is the *simple* aggregation
                return _merge(_es_terms(terms, [eff[e]["effect"] for e in terms], [eff[e]["se"] for e in terms]),
                              {"terms": ["simple"], "estimate": [float(r.overall_att)],
                               "se": [float(r.overall_se)]})
            return run
        if task in ("twfe", "twfe_unbal", "event_study"):
            df["ever"] = (df["g"] > 0).astype(float)

            def _coef(r, names):
                # ``post`` and ever x post are the same column: diff-diff's pivoted QR keeps one of them
                keys = list(r.coefficients)
                se = np.sqrt(np.diag(np.asarray(r.vcov, dtype=float)))
                keep = [k if np.isfinite(r.coefficients[k]) else f"ever:{k}" for k in names]
                return [float(r.coefficients[k]) for k in keep], [float(se[keys.index(k)]) for k in keep]

            if task != "event_study":
                def run():
                    r = dd.DifferenceInDifferences(cluster="id").fit(
                        df, outcome="y", treatment="ever", post="D", absorb=["id", "year"])
                    est, se = _coef(r, ["D"])
                    return {"terms": ["D"], "estimate": est, "se": se}
                return run

            def run():
                import pandas as pd

                rel = df["rel"].to_numpy()
                rels = sorted(set(np.unique(rel).tolist()) - {-1, -1000})
                names = [f"rel_{'m' if e < 0 else ''}{abs(e)}" for e in rels]
                dummies = pd.DataFrame({nm: (rel == e).astype(float) for nm, e in zip(names, rels)})
                data = pd.concat([df[["y", "id", "year", "ever"]], dummies], axis=1)
                del dummies
                r = dd.DifferenceInDifferences(cluster="id").fit(
                    data, outcome="y", treatment="ever", post=names[0], covariates=names[1:],
                    absorb=["id", "year"])
                est, se = _coef(r, names)
                return _es_terms(rels, est, se)
            return run
        if task == "sun_abraham":
            def run():
                r = dd.SunAbraham(cluster="id").fit(df, outcome="y", unit="id", time="year", first_treat="g")
                eff = r.event_study_effects
                terms = sorted(eff)
                return _es_terms(terms, [eff[e]["effect"] for e in terms], [eff[e]["se"] for e in terms])
            return run
        if task == "imputation":
            cls = dd.TwoStageDiD if variant == "two_stage" else dd.ImputationDiD

            def run():
                r = cls(cluster="id").fit(df, outcome="y", unit="id", time="year", first_treat="g")
                return {"terms": ["ATT"], "estimate": [float(r.overall_att)], "se": [float(r.overall_se)]}
            return run
    raise ValueError(f"{tool} has no {task}")
