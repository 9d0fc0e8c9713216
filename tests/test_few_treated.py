"""Few treated units: the warning, the one-call alternatives, and a quick Monte Carlo check."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import DesignError, FewTreatedWarning, PolicyevalWarning
from policyeval.inference.few_treated import MIN_TREATED_UNITS, count_treated

ROOT = Path(__file__).resolve().parents[1]


def _panel(n_treated: int, n_units: int = 60, n_periods: int = 8, start: int = 5,
           staggered: bool = False, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n_units, 1)) + rng.normal(size=(1, n_periods)) + \
        rng.normal(size=(n_units, n_periods))
    g = np.zeros(n_units, dtype=np.int64)
    g[:n_treated] = start
    if staggered:
        g[1:n_treated:2] = start + 1
    df = pd.DataFrame({"unit": np.repeat(np.arange(100, 100 + n_units), n_periods),
                       "t": np.tile(np.arange(n_periods), n_units), "y": y.ravel(),
                       "g": np.repeat(g, n_periods)})
    df["d"] = ((df["g"] > 0) & (df["t"] >= df["g"])).astype(int)
    return df


KW = dict(yname="y", tname="t", idname="unit", gname="g")
ESTIMATORS = [pe.TWFE, pe.EventStudy, pe.SunAbraham, pe.CallawaySantAnna, pe.ImputationDiD]


def _fit_quietly(est, df, **kw):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FewTreatedWarning)
        return est.fit(df, **kw)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("n", [1, 2])
def test_warning_names_counts(cls, n):
    df = _panel(n)
    unit = "unit" if n == 1 else "units"
    with pytest.warns(FewTreatedWarning,
                      match=rf"{cls.__name__}: only {n} treated {unit} of 60 \(gname='g'; "
                            rf"treated units by first treated period: 5: {n}\).*"
                            r"pe\.few_treated_inference.*method='synthetic_control'"):
        cls().fit(df, **KW)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_no_warning_with_30_treated(cls):
    df = _panel(30)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewTreatedWarning)
        cls().fit(df, **KW)


def test_warning_per_cohort_counts_and_treatment_column():
    df = _panel(3, staggered=True)
    with pytest.warns(FewTreatedWarning, match=r"only 3 treated units of 60 .*5: 2, 6: 1\)") as rec:
        pe.CallawaySantAnna().fit(df, **KW)
    assert "synthetic_control" not in str(rec[0].message)  # staggered: not offered
    with pytest.warns(FewTreatedWarning, match=r"TWFE: only 3 treated units of 60 \(treatment='d'"):
        pe.TWFE().fit(df, yname="y", tname="t", idname="unit", treatment="d")
    assert issubclass(FewTreatedWarning, PolicyevalWarning)


def test_count_treated_ignores_cohorts_after_the_sample():
    c = count_treated([1, 1, 2, 2, 3, 3, 4, 4], [2001, 2001, 0, 0, np.nan, np.nan, 2030, 2030],
                      last_period=2005)
    assert (c.total, c.n_units, c.by_cohort.to_dict()) == (1, 4, {2001.0: 1})
    threshold_hit = _panel(MIN_TREATED_UNITS)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewTreatedWarning)
        pe.TWFE().fit(threshold_hit, **KW)


def test_randomization_route_is_one_call_and_quiet():
    df = _panel(1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FewTreatedWarning)
        res = pe.few_treated_inference(pe.TWFE(), df, n_permutations=100, **KW)
    # one treated unit of 60: all 60 assignments are enumerated, p is a multiple of 1/60
    assert res.method == "randomization" and res.detail.enumerated
    assert res.resolution == pytest.approx(1 / 60)
    assert 0 < res.p_value <= 1 and round(res.p_value * 60, 9).is_integer()
    assert res.estimate == pytest.approx(float(_fit_quietly(pe.TWFE(), df, **KW).params.iloc[0]))
    assert "Inference with few treated units" in str(res)


def test_synthetic_routes_return_p_values():
    df = _panel(1, n_units=25)
    sc = pe.few_treated_inference(None, df, method="synthetic_control", **KW)
    assert sc.resolution == pytest.approx(1 / 25) and round(sc.p_value * 25, 9).is_integer()
    assert sc.detail.spec["placebo_donors"] == "all"
    sd = pe.few_treated_inference(None, df, method="synthetic_did", n_replications=20,
                                  random_state=1, options={"max_iter": 200}, **KW)
    assert 0 < sd.p_value < 1 and np.isnan(sd.resolution)
    with pytest.raises(DesignError, match=r"method='synthetic_control' tests one treated unit; "
                                          r"there are 2 \(e\.g\. 100, 101\)"):
        pe.few_treated_inference(None, _panel(2, n_units=25), method="synthetic_control", **KW)
    with pytest.raises(DesignError, match=r"gname='g': .*adopt in 2 periods \(5: 2, 6: 1\)"):
        pe.few_treated_inference(None, _panel(3, staggered=True), method="synthetic_did", **KW)
    with pytest.raises(ValueError, match=r"method='bayes' must be one of"):
        pe.few_treated_inference(None, df, method="bayes", **KW)


def test_synthetic_estimators_warn_about_their_own_limits():
    small = _panel(1, n_units=12)
    with pytest.warns(FewTreatedWarning, match=r"placebo p-value over 12 units has resolution "
                                               r"1/12 = 0\.083"):
        pe.SyntheticControl(v_method="equal").fit(small, yname="y", tname="t", idname="unit",
                                                  treatment="d")
    with pytest.warns(FewTreatedWarning, match=r"se_method='jackknife' with 2 treated units"):
        pe.SyntheticDiD(se_method="jackknife").fit(_panel(2, n_units=20), yname="y", tname="t",
                                                   idname="unit", treatment="d")


def _mc_module():
    spec = importlib.util.spec_from_file_location("mc_few_treated",
                                                  ROOT / "benchmarks" / "mc_few_treated.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_quick_monte_carlo_one_treated_unit():
    """Generic design, one treated unit of 60, no effect (the --quick plan, size only).

    Randomization inference (exact 5% size) must not over-reject; the analytic
    cluster-robust TWFE test must (about 75% in the committed full run).
    """
    mc = _mc_module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = mc.run_cell("generic", 1, mc.QUICK, methods=("CR: TWFE", "randomization"),
                          kinds=("size",)).set_index("method")
    assert out.loc["randomization", "draws"] == mc.QUICK.reps_ri
    assert out.loc["randomization", "rate"] <= 0.15
    assert out.loc["CR: TWFE", "rate"] > 0.20


def test_unbalanced_callaway_santanna_counts_units():
    df = _panel(2).iloc[1:]  # unit 100 misses its first period: estimated as cross-sections
    with pytest.warns(FewTreatedWarning, match=r"CallawaySantAnna: only 2 treated units of 60"):
        pe.CallawaySantAnna(allow_unbalanced_panel=True).fit(df, **KW)


def test_wild_bootstrap_route_uses_webb_multipliers_without_deprecation_warnings():
    """Issue 12: the route names the multiplier law multiplier=; an old options={"weights": ...}
    still works for one release, with a FutureWarning."""
    df = _panel(6, n_units=60).assign(prov=lambda d: d["unit"] % 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PolicyevalWarning)
        warnings.simplefilter("error", FutureWarning)
        res = pe.few_treated_inference(pe.TWFE(cluster="prov"), df, method="wild_bootstrap",
                                       n_bootstrap=99, random_state=1, **KW)
    assert res.detail.multiplier == "webb" and "webb" in res.notes[0]
    assert res.statistic == res.estimate and 0 <= res.p_value <= 1
    with pytest.warns(FutureWarning, match="multiplier"):
        old = pe.few_treated_inference(pe.TWFE(cluster="prov"), df, method="wild_bootstrap",
                                       n_bootstrap=99, random_state=1,
                                       options={"weights": "rademacher"}, **KW)
    assert old.detail.multiplier == "rademacher"
