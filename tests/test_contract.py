"""One result contract (issue 12), checked on every public estimator and every public test.

The names come from ``policyeval.estimators.__all__`` and ``policyeval.inference.__all__``: a
new public estimator is fitted here with the standard call (``Estimator().fit(data, yname=...,
tname=..., idname=..., gname=...)``) unless it needs its own recipe in ``FIT``, and a new public
test needs an entry in ``RUN``; either way, a result that misses part of the contract fails.

Estimation results: ``params``, ``std_errors``, ``vcov`` (a DataFrame indexed like ``params``,
never None), ``influence`` (an ``InfluenceFunction``, None only for the documented classes in
``NO_INFLUENCE``), ``level`` honoured by ``conf_int()`` / ``to_frame()`` / ``summary()``,
``pvalues``, ``nobs``, ``n_units``, ``to_frame()``, ``summary()`` (text, HTML, LaTeX) and
``plot(ax=None, label=None, ...)``. Test results: ``statistic``, ``p_value``, ``to_frame()``,
``summary()``.

All data here are SIMULATED (seeded, generated below).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import policyeval.estimators as est_mod
import policyeval.inference as inf_mod
from policyeval.exceptions import PolicyevalWarning
from policyeval.inference.influence import InfluenceFunction
from policyeval.results.base import EstimationResult

COLS = dict(yname="y", tname="year", idname="unit", gname="g")


def _staggered_panel(n_units: int = 60, seed: int = 0) -> pd.DataFrame:
    """SIMULATED staggered panel: cohorts 2004, 2006, never; effect 1 + 0.3 e after adoption."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2010)
    unit = np.repeat(np.arange(n_units), len(years))
    year = np.tile(years, n_units)
    g_unit = np.array([2004, 2006, 0])[np.arange(n_units) % 3]
    g = g_unit[unit]
    e = year - g
    treated = (g > 0) & (e >= 0)
    y = (rng.normal(0, 1, n_units)[unit] + 0.2 * (year - 2000) + np.where(treated, 1 + 0.3 * e, 0)
         + rng.normal(0, 0.5, len(unit)))
    return pd.DataFrame({"unit": unit, "year": year, "g": g, "y": y,
                         "prov": unit % 12, "d": treated.astype(int)})


PANEL = _staggered_panel()


def _common_adoption(n_units: int = 20, n_treated: int = 3, seed: int = 1) -> pd.DataFrame:
    """SIMULATED common-adoption panel: the first units treated from 2006, effect 2."""
    rng = np.random.default_rng(seed)
    years = np.arange(2000, 2010)
    unit = np.repeat(np.arange(n_units), len(years))
    year = np.tile(years, n_units)
    factor = rng.normal(1, 0.3, n_units)
    trend = np.cumsum(rng.normal(0, 1, len(years)))
    d = ((unit < n_treated) & (year >= 2006)).astype(int)
    y = 5 + rng.normal(0, 1, n_units)[unit] + factor[unit] * trend[year - 2000] + 2.0 * d \
        + rng.normal(0, 0.2, len(unit))
    return pd.DataFrame({"unit": unit, "year": year, "y": y, "d": d})


CA = _common_adoption()
SC_COLS = dict(yname="y", tname="year", idname="unit", treatment="d")


def _two_by_two() -> pd.DataFrame:
    """SIMULATED 2x2 panel: 80 units, half treated, two periods, effect 1.5."""
    rng = np.random.default_rng(2)
    df = pd.DataFrame([(i, t) for i in range(80) for t in (0, 1)], columns=["unit", "post"])
    df["treated"] = (df["unit"] < 40).astype(int)
    df["y"] = (rng.normal(0, 1, 80)[df["unit"]] + df["post"] + 1.5 * df["treated"] * df["post"]
               + rng.normal(0, 0.5, len(df)))
    return df


def _dose_panel() -> pd.DataFrame:
    """SIMULATED: PANEL with a dose per treated unit (0.2 to 1, seven values) and an extra
    effect 2 * dose after adoption; never-treated units have dose 0."""
    df = PANEL.copy()
    df["dose"] = np.where(df["g"] > 0, 0.2 + 0.8 * (df["unit"] % 7) / 6, 0.0)
    df["y"] = df["y"] + 2.0 * df["dose"] * (df["year"] >= df["g"]) * (df["g"] > 0)
    return df


def _switching_panel() -> pd.DataFrame:
    """SIMULATED: PANEL's treatment, switched off again from 2008 in every second unit of the
    2004 cohort (a treatment that goes on and off); the effect stops with it."""
    df = PANEL.copy()
    off = (df["unit"] % 6 == 0) & (df["year"] >= 2008)
    df["d"] = np.where(off, 0, df["d"])
    df["y"] = df["y"] - np.where(off, 1 + 0.3 * (df["year"] - df["g"]), 0.0)
    return df


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyevalWarning)
        return fn()


# --- estimators ----------------------------------------------------------------------------
# name -> recipe(level) returning {label: result}. Estimators absent here get the standard call.
FIT = {
    "CallawaySantAnna": lambda level: (lambda gt: {
        "att_gt": gt,
        "simple": gt.aggregate("simple"),
        "dynamic": gt.aggregate("dynamic"),
        "group": gt.aggregate("group"),
        "calendar": gt.aggregate("calendar"),
    })(est_mod.CallawaySantAnna(level=level, n_bootstrap=199, random_state=1,
                                progress=False).fit(PANEL, **COLS)),
    "TWFE": lambda level: {"gname": est_mod.TWFE(level=level).fit(PANEL, **COLS)},
    "EventStudy": lambda level: {"window": est_mod.EventStudy(window=(-3, 3), level=level).fit(
        PANEL, **COLS)},
    "SunAbraham": lambda level: (lambda r: {
        "event_time": r, "simple": r.aggregate("simple"), "group": r.aggregate("group"),
        "dynamic": r.aggregate("dynamic")})(est_mod.SunAbraham(level=level).fit(PANEL, **COLS)),
    "ImputationDiD": lambda level: {
        "static": est_mod.ImputationDiD(level=level).fit(PANEL, **COLS),
        "horizons": est_mod.ImputationDiD(horizons=[0, 1, 2], level=level).fit(PANEL, **COLS)},
    "TwoStageDiD": lambda level: {
        "static": est_mod.TwoStageDiD(level=level).fit(PANEL, **COLS),
        "horizons": est_mod.TwoStageDiD(horizons=True, level=level).fit(PANEL, **COLS)},
    "SyntheticControl": lambda level: {"sc": est_mod.SyntheticControl(level=level).fit(
        CA[CA["unit"] >= 2], **SC_COLS)},
    "SyntheticDiD": lambda level: {"sdid": est_mod.SyntheticDiD(
        n_replications=50, random_state=3, level=level).fit(CA, **SC_COLS)},
    "ExtendedTWFE": lambda level: (lambda r: {
        "cells": r, **{kind: r.aggregate(kind) for kind in ("simple", "dynamic", "group",
                                                            "calendar")}})(
        est_mod.ExtendedTWFE(level=level).fit(PANEL, **COLS)),
    "LocalProjectionsDiD": lambda level: (lambda r: {"horizons": r, "pooled": r.pooled})(
        est_mod.LocalProjectionsDiD(level=level).fit(PANEL, **COLS)),
    # the estimators merged with 0.2 that need other columns than the standard call's
    "ContinuousDiD": lambda level: {"dose": est_mod.ContinuousDiD(degree=2, level=level).fit(
        _dose_panel(), **COLS, dname="dose")},
    "TripleDiD": lambda level: {"ddd": est_mod.TripleDiD(level=level).fit(
        PANEL.assign(eligible=PANEL["unit"] % 2), **COLS, qname="eligible")},
    "SwitchingDiD": lambda level: {"switch": est_mod.SwitchingDiD(level=level).fit(
        _switching_panel(), yname="y", tname="year", idname="unit", dname="d")},
    "did_table": lambda level: {"2x2": est_mod.did_table(
        _two_by_two(), "y", group="treated", period="post", idname="unit", level=level)},
}

#: results without an influence function, and why (see EstimationResult's docstring)
NO_INFLUENCE = {
    "SyntheticControlResult": "no sampling standard error",
    "SyntheticDiDResult": "standard errors from placebo / bootstrap replications",
    "DiDTableResult": "cell means; the covariance is computed directly",
}

#: public estimators whose result is a test / decomposition, checked in TEST_RESULTS
DECOMPOSITIONS = {"BaconDecomposition"}


def _estimators() -> list[str]:
    out = []
    for name in est_mod.__all__:
        obj = getattr(est_mod, name)
        if name.endswith("Result") or name in DECOMPOSITIONS:
            continue
        if inspect.isclass(obj) and not hasattr(obj, "fit"):
            continue
        out.append(name)
    return out


def _fit(name: str, level: float) -> dict:
    recipe = FIT.get(name)
    if recipe is None:  # a new public estimator: the standard call
        obj = getattr(est_mod, name)
        recipe = lambda level: {"default": obj(level=level).fit(PANEL, **COLS)}  # noqa: E731
    return _quiet(lambda: recipe(level))


_CACHE: dict = {}


def _results(name: str) -> dict:
    if name not in _CACHE:
        _CACHE[name] = _fit(name, 0.9)
    return _CACHE[name]


def test_every_public_estimator_has_a_recipe_or_the_standard_call():
    """Discovery works: the estimators the issue names are all found."""
    found = set(_estimators())
    assert {"CallawaySantAnna", "TWFE", "EventStudy", "SunAbraham", "ImputationDiD",
            "TwoStageDiD", "SyntheticControl", "SyntheticDiD", "did_table"} <= found


@pytest.mark.parametrize("name", _estimators())
def test_estimation_result_contract(name):
    results = _results(name)
    assert results
    for label, res in results.items():
        where = f"{name}[{label}]"
        assert isinstance(res, EstimationResult), where
        _check_estimation_contract(res, where)


def _check_estimation_contract(res, where: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(res.params)
    assert isinstance(res.params, pd.Series) and k > 0, where
    assert isinstance(res.std_errors, pd.Series), where
    assert list(res.std_errors.index) == list(res.params.index), where
    V = res.vcov
    assert isinstance(V, pd.DataFrame) and V.shape == (k, k), where
    assert list(V.index) == list(res.params.index) == list(V.columns), where
    finite = np.isfinite(res.std_errors.to_numpy())
    np.testing.assert_allclose(np.sqrt(np.diag(V.to_numpy()))[finite],
                               res.std_errors.to_numpy()[finite], rtol=0.5, err_msg=where)
    cls = type(res).__name__
    if cls in NO_INFLUENCE:
        assert res.influence is None, where
    else:
        assert isinstance(res.influence, InfluenceFunction), f"{where}: influence is {type(res.influence)}"
        assert res.influence.n_terms >= 1, where
    # the level: stored, honoured by every default
    assert res.level == 0.9, where
    ci = res.conf_int()
    assert list(ci.columns) == ["conf_low", "conf_high"] and list(ci.index) == list(res.params.index)
    pd.testing.assert_frame_equal(ci, res.conf_int(0.9))
    if finite.any() and getattr(res, "df_resid", None) is None:
        z = stats.norm.ppf(0.95)
        half = (ci["conf_high"] - res.params).to_numpy()[finite]
        np.testing.assert_allclose(half, z * res.std_errors.to_numpy()[finite], rtol=1e-9,
                                   err_msg=where)
    if finite.any():
        wide, narrow = res.conf_int(0.99), res.conf_int(0.5)
        assert ((wide["conf_high"] - wide["conf_low"]).to_numpy()[finite]
                > (narrow["conf_high"] - narrow["conf_low"]).to_numpy()[finite]).all(), where
    frame = res.to_frame()
    assert {"estimate", "std_error", "p_value", "conf_low", "conf_high"} <= set(frame.columns), where
    np.testing.assert_allclose(frame["conf_low"].to_numpy(dtype=float),
                               ci["conf_low"].to_numpy(dtype=float), err_msg=where)
    assert isinstance(res.pvalues, pd.Series) and len(res.pvalues) == k, where
    assert isinstance(res.nobs, int) and res.nobs > 0, where
    assert isinstance(res.n_units, int) and res.n_units > 0, where
    summ = res.summary()
    text = str(summ)
    assert "90%" in text, f"{where}: summary does not state the level"
    assert "<table" in summ._repr_html_(), where
    assert "tabular" in summ.as_latex(), where
    params = list(inspect.signature(res.plot).parameters)
    assert params[:2] == ["ax", "label"], f"{where}: plot{tuple(params)}"
    fig, ax = plt.subplots()
    out = res.plot(ax=ax, label="model A")
    assert out is ax, where
    assert ax.get_title().startswith("model A"), where
    plt.close(fig)
    if res.has_uniform_band:
        a, b = res.conf_int(0.8, uniform=True), res.conf_int(0.95, uniform=True)
        ok = finite & np.isfinite(a["conf_low"].to_numpy())
        assert ((a["conf_high"] - a["conf_low"]).to_numpy()[ok]
                < (b["conf_high"] - b["conf_low"]).to_numpy()[ok]).all(), where


def test_headline_effect_is_att_everywhere():
    """One name for the headline effect: ``ATT`` (issue 12)."""
    heads = {
        "TWFE": _results("TWFE")["gname"],
        "ImputationDiD": _results("ImputationDiD")["static"],
        "TwoStageDiD": _results("TwoStageDiD")["static"],
        "SyntheticControl": _results("SyntheticControl")["sc"],
        "SyntheticDiD": _results("SyntheticDiD")["sdid"],
        "SunAbraham": _results("SunAbraham")["simple"],
        "CallawaySantAnna": _results("CallawaySantAnna")["simple"],
        "ExtendedTWFE": _results("ExtendedTWFE")["simple"],
        "LocalProjectionsDiD": _results("LocalProjectionsDiD")["pooled"],
        "ContinuousDiD": _results("ContinuousDiD")["dose"],
        "TripleDiD": _results("TripleDiD")["ddd"],
        "SwitchingDiD": _results("SwitchingDiD")["switch"],
    }
    for name, res in heads.items():
        assert "ATT" in res.params.index, f"{name}: {list(res.params.index)}"
        assert np.isfinite(res.params["ATT"]), name


# --- tests ----------------------------------------------------------------------------------
def _event_study():
    return _results("EventStudy")["window"]


def _twfe_twice():
    return _quiet(lambda: est_mod.TWFE(cluster="prov").fit(PANEL, **COLS))


#: public test -> recipe returning {label: test result}
RUN = {
    "wild_cluster_bootstrap": lambda: {"twfe": inf_mod.wild_cluster_bootstrap(
        _twfe_twice(), data=PANEL, n_bootstrap=199, random_state=1, progress=False)},
    "randomization_inference": lambda: {"twfe": inf_mod.randomization_inference(
        est_mod.TWFE(), PANEL, n_permutations=99, random_state=1, progress=False, **COLS)},
    "few_treated_inference": lambda: {"sc": inf_mod.few_treated_inference(
        est_mod.SyntheticControl(), CA[CA["unit"] >= 2], method="synthetic_control",
        **SC_COLS)},
    "honest_did": lambda: {"event_study": inf_mod.honest_did(
        _event_study(), m_grid=[0.5, 1.0], grid_points=100)},
    "pretrend_test": lambda: {"event_study": inf_mod.pretrend_test(_event_study())},
    "BaconDecomposition": lambda: {"bacon": est_mod.BaconDecomposition().fit(PANEL, **COLS)},
}

#: public inference names that are not tests (no statistic / p_value), and why
NOT_TESTS = {
    "pretrend_power": "power of a pre-test against a hypothesised violation",
    "power_analysis": "simulated power curve of a design",
    "minimum_detectable_effect": "a number from a design formula",
}


def _tests() -> list[str]:
    names = [n for n in inf_mod.__all__ if not n.endswith("Result") and n[0].islower()
             and n not in NOT_TESTS]
    return names + sorted(DECOMPOSITIONS)


@pytest.mark.parametrize("name", _tests())
def test_test_result_contract(name):
    assert name in RUN, (f"public test {name!r} has no recipe in tests/test_contract.py RUN; "
                         "add one so its result is checked against the contract")
    results = _quiet(RUN[name])
    for label, res in results.items():
        where = f"{name}[{label}]"
        assert isinstance(float(res.statistic), float), where
        p = float(res.p_value)
        assert np.isnan(p) or 0.0 <= p <= 1.0, where
        frame = res.to_frame()
        assert isinstance(frame, pd.DataFrame) and len(frame) >= 1, where
        summ = res.summary()
        assert str(summ).strip(), where
        assert "<table" in summ._repr_html_(), where
        assert "tabular" in summ.as_latex(), where


def test_not_tests_still_render():
    """The power tools are not tests, but they still give a frame and a summary."""
    pp = _quiet(lambda: inf_mod.pretrend_power(_event_study()))
    assert isinstance(pp.to_frame(), pd.DataFrame)
    assert "tabular" in pp.summary().as_latex()


# --- one vocabulary (issue 12) ---------------------------------------------------------------
STAGGERED_CONTROL = {
    "CallawaySantAnna": {"never_treated", "not_yet_treated"},
    "SunAbraham": {"never_treated", "last_treated"},
    "ImputationDiD": {"not_yet_treated"},
    "TwoStageDiD": {"not_yet_treated"},
    "ExtendedTWFE": {"not_yet_treated", "never_treated"},
    "ContinuousDiD": {"never_treated", "not_yet_treated"},
    "TripleDiD": {"never_treated", "not_yet_treated"},
}
CLUSTERING = {"TWFE", "EventStudy", "SunAbraham", "CallawaySantAnna", "ImputationDiD",
              "TwoStageDiD", "ExtendedTWFE", "LocalProjectionsDiD", "ContinuousDiD",
              "TripleDiD", "SwitchingDiD"}
REPLICATION_COUNTS = {"n_bootstrap", "n_permutations", "n_replications", "n_simulations"}


def _public_callables():
    """(label, signature) of every public constructor, fit method and function."""
    out = []
    for mod in (est_mod, inf_mod):
        for name in mod.__all__:
            obj = getattr(mod, name)
            if name.endswith("Result") or name in ("PretrendTest", "PretrendPower",
                                                     "FewTreatedInference"):
                continue
            if inspect.isclass(obj):
                out.append((f"{name}()", inspect.signature(obj.__init__)))
                if hasattr(obj, "fit"):
                    out.append((f"{name}.fit", inspect.signature(obj.fit)))
            else:
                out.append((name, inspect.signature(obj)))
    out.append(("GroupTimeResult.bootstrap", inspect.signature(est_mod.GroupTimeResult.bootstrap)))
    return out


def test_first_argument_of_every_fit_is_data():
    for name in _estimators() + sorted(DECOMPOSITIONS):
        obj = getattr(est_mod, name)
        sig = inspect.signature(obj.fit if inspect.isclass(obj) else obj)
        params = [p for p in sig.parameters if p != "self"]
        assert params[0] == "data", f"{name}: first argument {params[0]!r}"
    for fn in (inf_mod.randomization_inference, inf_mod.few_treated_inference):
        assert list(inspect.signature(fn).parameters)[:2] == ["estimator", "data"], fn.__name__


def test_control_group_comes_first_with_the_same_values():
    for name, allowed in STAGGERED_CONTROL.items():
        cls = getattr(est_mod, name)
        params = list(inspect.signature(cls.__init__).parameters.values())
        assert params[1].name == "control_group", f"{name}: {params[1].name}"
        assert params[1].default in allowed, name
        for value in allowed:
            assert cls(control_group=value).control_group == value
        with pytest.raises(ValueError, match="control_group='sometimes'"):
            cls(control_group="sometimes")


def test_cluster_is_a_keyword_only_constructor_argument():
    for name in CLUSTERING:
        cls = getattr(est_mod, name)
        p = inspect.signature(cls.__init__).parameters.get("cluster")
        assert p is not None and p.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert cls(cluster="prov").cluster == "prov", name


def test_level_random_state_counts_and_weights():
    sigs = _public_callables()
    for label, sig in sigs:
        names = set(sig.parameters)
        assert "seed" not in names, f"{label} still takes seed= (use random_state=)"
        counts = {n for n in names if n.startswith("n_") and n not in ("n_units", "n_treated",
                                                                        "n_pre", "n_post")}
        assert counts <= REPLICATION_COUNTS, f"{label}: {counts - REPLICATION_COUNTS}"
        if counts:
            assert "random_state" in names, \
                f"{label} draws at random but has no random_state"
        if "weights" in names:  # sampling weights: a column of the data, given to fit
            assert label.endswith(".fit") or label == "did_table", f"{label} takes weights="
    for name in _estimators() + sorted(DECOMPOSITIONS):
        obj = getattr(est_mod, name)
        if name in DECOMPOSITIONS:
            continue
        target = obj.__init__ if inspect.isclass(obj) else obj
        assert "level" in inspect.signature(target).parameters, f"{name} has no level="
    for fn in (est_mod.CallawaySantAnna.__init__, est_mod.GroupTimeResult.bootstrap,
               inf_mod.wild_cluster_bootstrap):
        assert "multiplier" in inspect.signature(fn).parameters, fn.__qualname__


def test_sun_abraham_aggregations_are_named_as_callaway_santanna():
    sa = _results("SunAbraham")
    cs = _results("CallawaySantAnna")
    for kind in ("simple", "dynamic", "group"):
        assert kind in sa and kind in cs
        assert sa[kind].index_name == cs[kind].index_name, kind
    assert list(sa["simple"].params.index) == list(cs["simple"].params.index) == ["ATT"]
