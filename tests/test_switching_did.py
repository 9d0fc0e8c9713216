"""SwitchingDiD (de Chaisemartin & D'Haultfœuille 2024, first-switch event study): R
DIDmultiplegtDYN's number on its worked example, the slow obvious computation, simulations
with known effects of switching on and off, coverage, warnings and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.estimators.switching import SwitchingDiD
from policyeval.exceptions import (
    DataError,
    DesignError,
    DroppedObservationsWarning,
    FewTreatedWarning,
)

ARGS = dict(yname="y", tname="year", idname="unit", dname="d")

# R DIDmultiplegtDYN 2.3.3, `did_multiplegt_dyn(df = d5, outcome = "outcome", group = "group",
# time = "period", treatment = "treatment", effects = 1, placebo = 0, ci_level = 95)` on the
# 4-group worked example; printed into benchmarks/data/dcdh_dynr_golden_values.json
# ("hand_calculable_worked_example": overall_att 2.5, overall_se 1.8027756377, N 4) by
# benchmarks/R/generate_dcdh_dynr_test_values.R in github.com/igerber/diff-diff at
# 08b6a66338c82b5633a7a647983044e58dd7659d (numbers only).
WORKED = pd.DataFrame({"unit": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4], "year": [0, 1, 2] * 4,
                       "d": [0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1],
                       "y": [10, 13, 14, 10, 11, 9, 10, 11, 12, 10, 11, 12]})
R_EFFECT_1, R_SE_1 = 2.5, 1.8027756377


def test_r_did_multiplegt_dyn_worked_example():
    with pytest.warns(FewTreatedWarning, match="only 2 units switch treatment"):
        res = SwitchingDiD(effects=1, placebos=0).fit(WORKED, **ARGS)
    assert res.params["effect_1"] == pytest.approx(R_EFFECT_1, abs=1e-12)
    assert res.std_errors["effect_1"] == pytest.approx(R_SE_1, abs=1e-9)  # achieved 4e-11
    # the worked example's own decomposition: +2 for the joiner, +3 for the leaver
    by = res.by_direction.set_index("direction")
    assert by.loc["on", "estimate"] == 2.0 and by.loc["off", "estimate"] == 3.0


def _reference(name):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "reference" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_r_did_multiplegt_dyn_on_a_120_group_panel():
    ref = _reference("dcdh_mixed_single_switch")
    df = pd.DataFrame({"group": np.repeat(np.arange(120), 6), "period": np.tile(np.arange(6), 120),
                       "treatment": ref.TREATMENT, "outcome": ref.OUTCOME})
    res = SwitchingDiD(effects=1, placebos=1).fit(df, yname="outcome", tname="period",
                                                  idname="group", dname="treatment")
    # point estimates: R prints 10 digits; achieved |diff| < 5e-11
    assert res.params["effect_1"] == pytest.approx(ref.R_EFFECT_1, abs=1e-9)
    assert res.params["placebo_1"] == pytest.approx(ref.R_PLACEBO_1, abs=1e-9)
    # standard errors: NOT reproduced exactly. Ours 0.084293 vs R 0.089476 (-5.8 %), placebo
    # 0.091332 vs 0.096317 (-5.2 %); R's variance has terms we have not identified (see the
    # class Notes). The bounds pin the gap so a change in either direction is noticed.
    ratio = res.std_errors["effect_1"] / ref.R_EFFECT_1_SE
    assert 0.93 < ratio < 0.95
    ratio = res.std_errors["placebo_1"] / ref.R_PLACEBO_1_SE
    assert 0.94 < ratio < 0.96


def panel(n=400, T=10, seed=0, p_on=0.35, p_off=0.35, noise=0.5):
    """SIMULATED. Units start untreated (first half) or treated (second half); a share switch
    once, at a random period 2..T-2, and never switch back. Untreated outcome: unit effect +
    common trend + noise. Joiners gain 1 + 0.5 (periods since the switch); treated units
    carry a steady effect 1.5 that ends when they switch off."""
    rng = np.random.default_rng(seed)
    start = (np.arange(n) >= n // 2).astype(int)
    switch = np.where(rng.random(n) < np.where(start == 0, p_on, p_off),
                      rng.integers(2, T - 1, n), 10 ** 6)
    t = np.arange(T)
    D = np.where(t[None, :] >= switch[:, None], 1 - start[:, None], start[:, None])
    since = t[None, :] - switch[:, None]
    eff = np.where((start[:, None] == 0) & (D == 1), 1 + 0.5 * since, 0.0) + np.where(
        (start[:, None] == 1) & (D == 1), 1.5, 0.0)
    Y = rng.normal(0, 1, n)[:, None] + 0.3 * t[None, :] + eff + rng.normal(0, noise, (n, T))
    return pd.DataFrame({"unit": np.repeat(np.arange(n), T), "year": np.tile(2000 + t, n),
                         "d": D.ravel(), "y": Y.ravel(), "region": np.repeat(np.arange(n) % 40, T)})


@pytest.fixture(scope="module")
def sim():
    return panel()


@pytest.fixture(scope="module")
def fit(sim):
    return SwitchingDiD(effects=3, placebos=2).fit(sim, **ARGS)


def test_recovers_known_effects_of_switching_on_and_off(fit):
    by = fit.by_direction.set_index(["term", "direction"])
    for ell in (1, 2, 3):
        on = by.loc[(f"effect_{ell}", "on")]
        assert on.estimate == pytest.approx(1 + 0.5 * (ell - 1), abs=4 * on.std_error)
        off = by.loc[(f"effect_{ell}", "off")]
        assert off.estimate == pytest.approx(1.5, abs=4 * off.std_error)
    for ell in (1, 2):
        assert abs(fit.params[f"placebo_{ell}"]) < 4 * fit.std_errors[f"placebo_{ell}"]
    assert list(fit.params.index) == ["ATT", "effect_1", "effect_2", "effect_3", "placebo_1", "placebo_2"]


def test_equals_the_slow_obvious_loop(sim, fit):
    wide = sim.pivot(index="unit", columns="year", values="y")
    D = sim.pivot(index="unit", columns="year", values="d")
    years = list(wide.columns)
    first = {}
    for u in wide.index:
        row = D.loc[u].tolist()
        first[u] = next((k for k in range(len(row)) if row[k] != row[0]), None)
    for ell in (1, 2, 3):
        for placebo in (False, True):
            if placebo and ell == 3:
                continue
            vals = []
            for u, f in first.items():
                if f is None:
                    continue
                b, t = f - 1, f - 1 + ell
                if t >= len(years) or (placebo and b - ell < 0):
                    continue
                ctrl = [v for v, fv in first.items() if D.loc[v].iloc[0] == D.loc[u].iloc[0]
                        and (fv is None or fv > t)]
                if not ctrl:
                    continue
                target = years[b - ell] if placebo else years[t]
                dy = wide[target] - wide[years[b]]
                sign = 1 if D.loc[u].iloc[0] == 0 else -1
                vals.append(sign * (dy[u] - dy[ctrl].mean()))
            name = f"{'placebo' if placebo else 'effect'}_{ell}"
            assert fit.params[name] == pytest.approx(np.mean(vals), abs=1e-10)
            assert int(fit.event_study.set_index("term").loc[name, "n_switchers"]) == len(vals)
    es = fit.event_study.set_index("term")
    n = es.loc[["effect_1", "effect_2", "effect_3"], "n_switchers"]
    assert fit.params["ATT"] == pytest.approx(
        float((n * es.loc[n.index, "estimate"]).sum() / n.sum()), abs=1e-12)


def test_coverage_in_repeated_simulations():
    """SIMULATED, 60 seeds: 95 % intervals for effect_1 (truth: joiners 1, leavers 1.5, so the
    mean over the switchers present) cover in at least 51 (binomial(60, .95) < 51: 0.4 %)."""
    hits = 0
    for seed in range(60):
        df = panel(n=200, seed=300 + seed)
        res = SwitchingDiD(effects=1, placebos=0).fit(df, **ARGS)
        by = res.by_direction.set_index("direction")
        truth = (by.loc["on", "n_switchers"] * 1.0 + by.loc["off", "n_switchers"] * 1.5) / \
            by.n_switchers.sum()
        ci = res.conf_int().loc["effect_1"]
        hits += ci.conf_low <= truth <= ci.conf_high
    assert hits >= 51, hits


def test_clusters_and_contract(sim, fit):
    cl = SwitchingDiD(effects=3, placebos=2, cluster="region").fit(sim, **ARGS)
    np.testing.assert_allclose(cl.params, fit.params, rtol=0, atol=0)
    assert (cl.std_errors > 0).all()
    same = SwitchingDiD(effects=3, placebos=2, cluster="unit").fit(sim, **ARGS)
    np.testing.assert_allclose(same.std_errors, fit.std_errors, rtol=1e-12)
    for res in (fit, cl, same):     # the influence function (centred terms) gives the SEs back
        assert res.influence.n_terms == len(res.params)
        np.testing.assert_allclose(res.influence.std_errors(), res.std_errors, rtol=1e-12)
    assert cl.influence.n_clusters == sim["region"].nunique()
    assert fit.level == 0.95 and fit.vcov.shape == (6, 6)
    assert list(fit.to_frame().columns[:3]) == ["term", "estimate", "std_error"]
    assert "Switching DiD" in str(fit.summary())
    import matplotlib

    matplotlib.use("Agg")
    assert fit.plot() is not None
    assert pe.SwitchingDiD is SwitchingDiD and pe.estimators.SwitchingDiD is SwitchingDiD


def test_switchers_without_controls_are_counted_not_dropped_silently():
    df = panel(n=200, seed=4)
    # every initially treated unit switches off in 2005: none is left as their control
    treated0 = df.groupby("unit").d.transform("first") == 1
    df.loc[treated0, "d"] = np.where(df.loc[treated0, "year"] >= 2005, 0, 1)
    with pytest.warns(DroppedObservationsWarning, match=r"effect_1 \(100\)"):
        res = SwitchingDiD(effects=2, placebos=1).fit(df, **ARGS)
    assert set(res.by_direction.direction) == {"on"}


def test_bad_input(sim):
    with pytest.raises(DataError, match="dname='d' must be 0/1 in every period; 1 units"):
        SwitchingDiD().fit(sim.assign(d=np.where((sim.unit == 7) & (sim.year == 2003), 2, sim.d)), **ARGS)
    with pytest.raises(DesignError, match="never changes within a unit"):
        SwitchingDiD().fit(sim.assign(d=sim.groupby("unit").d.transform("first")), **ARGS)
    with pytest.raises(DataError, match="unbalanced"):
        SwitchingDiD().fit(sim[~((sim.unit == 3) & (sim.year == 2004))], **ARGS)
    with pytest.raises(ValueError, match="effects=0 must be an integer >= 1"):
        SwitchingDiD(effects=0).fit(sim, **ARGS)


def test_row_order_labels_and_unit_effects_do_not_matter(sim, fit):
    moved = sim.assign(y=sim.y + 3.0 * sim.unit, unit="u" + sim.unit.astype(str))
    again = SwitchingDiD(effects=3, placebos=2).fit(moved.sample(frac=1.0, random_state=3), **ARGS)
    np.testing.assert_allclose(again.params.to_numpy(), fit.params.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(again.std_errors.to_numpy(), fit.std_errors.to_numpy(), rtol=1e-9)


def test_names_before_0_2_still_work_with_a_future_warning(sim, fit):
    from policyeval.exceptions import PolicyevalFutureWarning

    with pytest.warns(PolicyevalFutureWarning, match="SwitchingDiD\\(cluster=...\\)"):
        old = SwitchingDiD(effects=3, placebos=2).fit(sim, cluster="unit", **ARGS)
    np.testing.assert_allclose(old.std_errors, fit.std_errors, rtol=1e-12)
    with pytest.warns(PolicyevalFutureWarning, match="data="):
        old = SwitchingDiD(effects=3, placebos=2).fit(df=sim, **ARGS)
    np.testing.assert_allclose(old.params, fit.params, rtol=0, atol=0)
