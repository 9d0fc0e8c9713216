"""BaconDecomposition: bacondecomp's published castle numbers, the TWFE identity
checked against OLS with dummies, each 2x2 against a regression on its own
subsample, properties, and bad input."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyeval.estimators.bacon import BaconDecomposition, BaconResult
from policyeval.exceptions import DataError, EstimationError, TreatmentTimingError

_REF = Path(__file__).parent / "reference" / "bacondecomp_castle.py"
_spec = importlib.util.spec_from_file_location("bacondecomp_castle", _REF)
REF = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(REF)


@pytest.fixture(scope="module")
def castle():
    cd = pytest.importorskip("causaldata.castle")

    d = cd.load_pandas().data[["sid", "year", "l_homicide", "post"]].copy()
    # bacondecomp codes post = 1[year >= effyear]; causaldata's post starts the
    # year after (first full year under the law). See tests/reference/bacondecomp_castle.py.
    first_full_year = d.loc[d["post"] == 1].groupby("sid")["year"].min()
    d["effyear"] = d["sid"].map(first_full_year - 1).fillna(0).astype(int)
    d["post_bacon"] = ((d["effyear"] > 0) & (d["year"] >= d["effyear"])).astype(int)
    assert d["effyear"].gt(0).groupby(d["sid"]).first().sum() == 21  # 21 treated states
    return d


@pytest.fixture(scope="module")
def castle_result(castle):
    return BaconDecomposition().fit(castle, yname="l_homicide", tname="year", idname="sid", gname="effyear")


def _twfe_dummies(df, y="y", d="D", unit="id", time="t"):
    """TWFE coefficient by brute force: OLS with unit and period dummies."""
    return smf.ols(f"{y} ~ {d} + C({unit}) + C({time})", data=df).fit().params[d]


def _sim(seed, n_units=40, periods=range(2001, 2011), always=True, late=True):
    rng = np.random.default_rng(seed)
    cohorts = [0, 2003, 2005, 2008] + ([1995] if always else []) + ([2015] if late else [])
    rows = [(i, t) for i in range(n_units) for t in periods]
    df = pd.DataFrame(rows, columns=["id", "t"])
    g_of = {i: cohorts[rng.integers(len(cohorts))] for i in range(n_units)}
    for i, c in enumerate(cohorts):  # every cohort present
        g_of[i] = c
    df["g"] = df["id"].map(g_of)
    df["D"] = ((df["g"] > 0) & (df["t"] >= df["g"])).astype(float)
    a = rng.normal(size=n_units)
    # effects that grow with time since treatment: the case where TWFE misleads
    df["y"] = (a[df["id"]] + 0.3 * (df["t"] - 2000) + df["D"] * (1 + 0.4 * (df["t"] - df["g"]).clip(lower=0))
               + rng.normal(scale=0.5, size=len(df)))
    return df


# --- reference: bacondecomp ---------------------------------------------------
def test_castle_by_type_matches_bacondecomp_vignette(castle_result):
    by = castle_result.by_type().set_index("type")
    assert set(by.index) == set(REF.BY_TYPE)
    for typ, (weight, avg) in REF.BY_TYPE.items():
        assert by.loc[typ, "weight"] == pytest.approx(weight, abs=REF.BY_TYPE_ATOL)
        assert by.loc[typ, "avg_estimate"] == pytest.approx(avg, abs=REF.BY_TYPE_ATOL)


def test_castle_twfe_and_top_comparison_match_bacondecomp(castle_result):
    assert castle_result.twfe_estimate == pytest.approx(REF.TWFE_ESTIMATE, rel=REF.TWFE_RTOL)
    top = castle_result.to_frame().sort_values("weight").iloc[-1]
    assert top["treated"] == REF.TOP_COMPARISON["treated"]
    assert top["control"] == REF.TOP_COMPARISON["control"]
    assert top["type"] == "Treated vs Untreated"
    assert top["estimate"] == pytest.approx(REF.TOP_COMPARISON["estimate"], abs=REF.TOP_ATOL)
    assert top["weight"] == pytest.approx(REF.TOP_COMPARISON["weight"], abs=REF.TOP_ATOL)


def test_castle_twfe_equals_ols_with_dummies_and_weighted_sum(castle, castle_result):
    beta = _twfe_dummies(castle, y="l_homicide", d="post_bacon", unit="sid", time="year")
    frame = castle_result.to_frame()
    assert castle_result.twfe_estimate == pytest.approx(beta, rel=1e-10)
    assert (frame["weight"] * frame["estimate"]).sum() == pytest.approx(beta, rel=1e-10)
    assert frame["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert len(frame) == 25  # 5 timing groups: 5 vs untreated + 2 x C(5, 2)


def test_castle_mixtape_coding_gives_a_different_twfe(castle):
    """The coding trap of the reference README: causaldata's post is a different treatment."""
    res = BaconDecomposition().fit(castle, yname="l_homicide", tname="year", idname="sid", dname="post")
    assert res.twfe_estimate == pytest.approx(
        _twfe_dummies(castle, y="l_homicide", d="post", unit="sid", time="year"), rel=1e-10)
    assert abs(res.twfe_estimate - REF.TWFE_ESTIMATE) > 1e-3


def test_dname_and_gname_give_the_same_decomposition(castle, castle_result):
    res = BaconDecomposition().fit(castle, yname="l_homicide", tname="year", idname="sid", dname="post_bacon")
    pd.testing.assert_frame_equal(res.to_frame(), castle_result.to_frame())


# --- slow obvious computations on a simulated panel ---------------------------
def test_identity_with_always_treated_and_late_cohort():
    df = _sim(1)
    res = BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")
    frame = res.to_frame()
    beta = _twfe_dummies(df)
    assert res.twfe_estimate == pytest.approx(beta, rel=1e-10)
    assert (frame["weight"] * frame["estimate"]).sum() == pytest.approx(beta, rel=1e-10)
    assert frame["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert set(frame["type"]) == {"Treated vs Untreated", "Earlier vs Later Treated",
                                  "Later vs Earlier Treated", "Later vs Always Treated"}
    # the cohort first treated after the sample is untreated, the always-treated only a control
    assert 2015 not in set(frame["treated"])
    assert set(frame.loc[frame["type"] == "Later vs Always Treated", "control"]) == {2001}


def _subsample(df, row):
    """Units and periods of one 2x2, straight from its definition."""
    tr, co, typ = row["treated"], row["control"], row["type"]
    g = df["g"].where((df["g"] > df["t"].min()) | (df["g"] == 0), df["t"].min())  # always -> first period
    g = g.where((g <= df["t"].max()) | (g == 0), 0)  # after the sample -> untreated
    in_tr = g == tr
    in_co = (g == 0) if co == "untreated" else (g == co)
    sub = df[in_tr | in_co]
    if typ == "Earlier vs Later Treated":
        sub = sub[sub["t"] < co]
    elif typ == "Later vs Earlier Treated":
        sub = sub[sub["t"] >= co]
    sub = sub.copy()
    sub["Dsub"] = ((sub["g"] == tr) & (sub["t"] >= tr)).astype(float)
    return sub


def test_each_two_by_two_is_twfe_on_its_subsample_and_weight_is_its_variance_share():
    df = _sim(2)
    res = BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")
    N, T = df["id"].nunique(), df["t"].nunique()

    def demeaned_sq(frame, d):
        D = frame.pivot(index="id", columns="t", values=d).to_numpy()
        Dt = D - D.mean(1, keepdims=True) - D.mean(0, keepdims=True) + D.mean()
        return (Dt ** 2).sum()

    VD = demeaned_sq(df, "D") / (N * T)
    for _, row in res.to_frame().iterrows():
        sub = _subsample(df, row)
        assert row["estimate"] == pytest.approx(_twfe_dummies(sub, d="Dsub"), rel=1e-9, abs=1e-12)
        # s = (N_sub T_sub / N T)^2 Var(demeaned D in the subsample) / Var(demeaned D)
        n_sub = sub["id"].nunique() * sub["t"].nunique()
        share = n_sub / (N * T)
        assert row["weight"] == pytest.approx(share ** 2 * demeaned_sq(sub, "Dsub") / n_sub / VD, rel=1e-9)


# --- properties ------------------------------------------------------------------
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), scale=st.floats(-5, 5).filter(lambda x: abs(x) > 0.1))
def test_properties_row_order_relabel_unit_effect_scaling(seed, scale):
    df = _sim(seed, n_units=24, periods=range(2001, 2009))
    base = BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g").to_frame()
    rng = np.random.default_rng(seed)

    shuffled = df.sample(frac=1.0, random_state=seed)
    out = BaconDecomposition().fit(shuffled, yname="y", tname="t", idname="id", gname="g").to_frame()
    pd.testing.assert_frame_equal(out, base, rtol=1e-10)

    relabel = df.assign(id=df["id"].map(dict(zip(range(24), rng.permutation(24) * 7 + 100))))
    out = BaconDecomposition().fit(relabel, yname="y", tname="t", idname="id", gname="g").to_frame()
    pd.testing.assert_frame_equal(out, base, rtol=1e-10)

    fe = df.assign(y=df["y"] + df["id"].map(dict(enumerate(rng.normal(size=24) * 10))))
    out = BaconDecomposition().fit(fe, yname="y", tname="t", idname="id", gname="g").to_frame()
    np.testing.assert_allclose(out["estimate"], base["estimate"], rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(out["weight"], base["weight"], rtol=1e-12)

    scaled = df.assign(y=df["y"] * scale)
    out = BaconDecomposition().fit(scaled, yname="y", tname="t", idname="id", gname="g").to_frame()
    np.testing.assert_allclose(out["estimate"], base["estimate"] * scale, rtol=1e-9, atol=1e-12)


# --- result object -------------------------------------------------------------
def test_result_contract(castle_result):
    assert isinstance(castle_result, BaconResult)
    frame = castle_result.to_frame()
    assert list(frame.columns) == ["treated", "control", "type", "estimate", "weight"]
    text = str(castle_result)
    assert "Later vs Earlier Treated" in text and "0.081812" in text
    assert "<table" in castle_result._repr_html_()
    assert "tabular" in castle_result.summary().as_latex()
    assert castle_result.nobs == 550 and castle_result.n_units == 50 and castle_result.n_periods == 11
    by = castle_result.by_type()
    assert by["n_comparisons"].sum() == len(frame)


def test_plot_draws_one_series_per_type(castle_result):
    import matplotlib.pyplot as plt

    ax = castle_result.plot()
    labels = ax.get_legend_handles_labels()[1]
    assert {"Earlier vs Later Treated", "Later vs Earlier Treated", "Treated vs Untreated"} <= set(labels)
    points = sum(len(c.get_offsets()) for c in ax.collections)
    assert points == 25
    plt.close(ax.figure)


# --- bad input --------------------------------------------------------------------
def test_unbalanced_panel_names_units():
    df = _sim(3).query("not (id in [5, 9] and t == 2004)")
    with pytest.raises(DataError, match=r"balanced panel: 2 units \(e\.g\. 5, 9\) of idname='id' miss"):
        BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")


def test_missing_outcome_is_an_error_not_a_silent_drop():
    df = _sim(3)
    df.loc[df.index[7], "y"] = np.nan
    with pytest.raises(DataError, match=r"1 rows have missing values in \['y'\]"):
        BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")


def test_treatment_switching_off_names_units():
    df = _sim(4)
    df.loc[(df["id"] == 1) & (df["t"] == 2010), "D"] = 0.0  # id 1 is in cohort 2003
    with pytest.raises(TreatmentTimingError, match=r"dname='D' switches from 1 back to 0 .* for 1 units \(e\.g\. 1\)"):
        BaconDecomposition().fit(df, yname="y", tname="t", idname="id", dname="D")


def test_gname_varying_within_unit_names_units():
    df = _sim(4)
    df.loc[(df["id"] == 2) & (df["t"] == 2002), "g"] = 2004
    with pytest.raises(TreatmentTimingError,
                       match=r"gname='g' varies within idname='id' for 1 units \(e\.g\. 2\)"):
        BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")


def test_no_timing_variation_is_an_error():
    df = _sim(5)
    df["g"] = 0
    with pytest.raises(EstimationError, match="no variation"):
        BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")
