"""The simulated county × industry panel and validate_scores (ex-ante scores vs realised effects).

SIMULATED data throughout: the dependence of enclave effects on fit and distance is set by
the simulator (policyeval.assess.simulate_industry.INDUSTRY_DEPENDENCE), not observed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from policyeval.assess import validate_scores
from policyeval.data.simulate import load_simulated_panel
from policyeval.assess.simulate_industry import INDUSTRY_DEPENDENCE, simulate_industry_panel
from policyeval.exceptions import ArgumentTypeError, DataError, DroppedObservationsWarning


@pytest.fixture(scope="module")
def sim():
    return simulate_industry_panel()


@pytest.fixture(scope="module")
def val(sim):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedObservationsWarning)
        return validate_scores(sim)


@pytest.fixture(scope="module")
def placebo():
    """Same draws, but effects depend on neither fit nor distance."""
    flat = simulate_industry_panel(dependence={"beta_fit": 0.0, "beta_distance": 0.0})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedObservationsWarning)
        return validate_scores(flat)


def test_panel_is_on_the_bundled_units_and_labelled(sim):
    panel, truth = sim
    base = load_simulated_panel()
    assert set(panel["county_code"]) == set(base["county_code"])
    assert (panel["year"].min(), panel["year"].max()) == (base["year"].min(), base["year"].max())
    assert len(panel) == base["county_code"].nunique() * 10 * 24
    assert panel["is_simulated"].all() and truth["is_simulated"].all()
    assert panel.attrs["simulated"] and truth.attrs["simulated"]
    assert not panel.duplicated(["county_code", "industry", "year"]).any()
    assert (panel["employment"] > 0).all()


def test_treatments_are_the_registry_destinations_of_the_bundled_roles(sim):
    roles = load_simulated_panel("roles")
    dest = roles[(roles["role"] == "destination") & (roles["status"] == "simulated")]
    first = dest.sort_values(["county_code", "start_year"]).drop_duplicates("county_code")
    g = sim.panel.groupby("county_code")["first_treat"].first()
    kept = first[first["county_code"].isin(sim.truth["county_code"])]
    assert (g.loc[kept["county_code"]].to_numpy() == kept["start_year"].astype(int).to_numpy()).all()
    # the 1995 enclave (金磐) has no untreated year in 2000-2023: skipped with the reason
    assert set(sim.skipped["enclave_id"]) == {"ZJ-JINPAN-1995"}
    assert sim.skipped["reason"].str.contains("fewer than 3 untreated years").all()
    assert len(kept) + len(sim.skipped) == len(first)
    assert (g.drop(first["county_code"], errors="ignore") == 0).all()   # everyone else: never


def test_the_effect_is_exactly_the_stated_dependence(sim):
    """Switch the effect off with the same seed: the log difference is tau × ramp on treated cells only."""
    off = simulate_industry_panel(dependence={"alpha": 0.0, "beta_fit": 0.0, "beta_distance": 0.0,
                                              "sd_effect": 0.0})
    a = sim.panel.set_index(["county_code", "industry", "year"])
    b = off.panel.set_index(["county_code", "industry", "year"])
    diff = (np.log(a["employment"]) - np.log(b["employment"])).rename("diff").reset_index()
    # employment is rounded to whole persons: each log carries at most 0.5/E of rounding
    diff["tol"] = (0.5 / a["employment"] + 0.5 / b["employment"]).to_numpy() * 1.01
    t = sim.truth
    p = INDUSTRY_DEPENDENCE
    assert np.allclose(t["tau"], p["alpha"] + t["fit_part"] + t["distance_part"] + t["idiosyncratic"])
    tau = diff.merge(t[["county_code", "industry", "tau", "start_year"]], how="left")
    event = (tau["year"] - tau["start_year"].astype(float)).to_numpy()
    ramp = np.where(np.nan_to_num(event, nan=-1) >= 0, np.minimum(1, (event + 1) / p["ramp_years"]), 0.0)
    expected = np.nan_to_num(tau["tau"].to_numpy() * ramp)
    assert (np.abs(tau["diff"] - expected) <= tau["tol"]).all()
    assert (tau.loc[tau["tau"].isna(), "diff"].abs() <= tau.loc[tau["tau"].isna(), "tol"]).all()  # controls
    # farther origins get smaller effects, denser industries larger (the stated signs)
    assert np.corrcoef(np.log(t["distance_km"]), t["distance_part"])[0, 1] < -0.99
    assert np.corrcoef(t["true_density"], t["fit_part"])[0, 1] > 0.99


def test_seeded(sim):
    again = simulate_industry_panel()
    pd.testing.assert_frame_equal(sim.panel, again.panel)
    other = simulate_industry_panel(seed=1)
    assert not np.allclose(sim.panel["employment"], other.panel["employment"])


def test_bad_arguments():
    with pytest.raises(DataError, match="unknown keys.*beta_fitt"):
        simulate_industry_panel(dependence={"beta_fitt": 1})
    with pytest.raises(DataError, match="standard deviations must be >= 0"):
        simulate_industry_panel(dependence={"sd_noise": -1})
    with pytest.raises(ArgumentTypeError, match="seed"):
        simulate_industry_panel(seed=1.5)
    with pytest.raises(DataError, match="folds=1"):
        validate_scores(folds=1)
    with pytest.raises(DataError, match="top=0"):
        validate_scores(top=0)


def test_late_destinations_are_left_out_with_a_counted_warning(sim):
    with pytest.warns(DroppedObservationsWarning, match=r"3 destination\(s\) started too late"):
        out = validate_scores(sim, folds=2)
    assert set(out.excluded["enclave_id"]) == {"JS-NINGHUAI-2021", "ZJ-YZQJ-2021", "GD-YDJW-2023"}
    assert not out.cells["county_code"].isin(out.excluded["county_code"]).any()


def test_scores_predict_realised_effects_out_of_sample_and_not_under_the_placebo(val, placebo):
    m, p = val.metrics, placebo.metrics
    assert m["n_cells"] == 220 and m["n_destinations"] == 22
    # the estimator recovers the simulated effects cell by cell
    assert m["spearman_realised_true"] > 0.85
    # the stated dependence is found out of sample ...
    assert m["oos_spearman"] > 0.35 and m["spearman_density"] > 0.5 and m["spearman_fit_within"] > 0.3
    assert 0.6 < m["calibration_slope"] < 1.3 and m["oos_rmse"] < m["null_rmse"]
    # ... and not when the simulator makes effects independent of fit and distance
    assert p["oos_spearman"] < 0.1 and abs(p["spearman_fit_within"]) < 0.15
    assert p["oos_rmse"] > p["null_rmse"]


def test_predictions_are_out_of_sample(val):
    """Refit the fold-0 model on the other folds by hand: same predictions."""
    c = val.cells
    test = c["fold"] == 0
    X = np.column_stack([np.ones(len(c)), c["fit_score"], np.log(c["distance_km"])])
    beta = np.linalg.lstsq(X[~test], c.loc[~test, "realised"], rcond=None)[0]
    assert np.allclose(c.loc[test, "predicted"], X[test] @ beta)
    # a destination sits in one fold
    assert (c.groupby("county_code")["fold"].nunique() == 1).all()
    cal = val.calibration
    assert cal["n"].sum() == len(c)
    assert np.allclose(cal["realised"] * cal["n"], c.groupby("bin")["realised"].sum().to_numpy())


def test_fit_scores_use_only_the_year_before_the_start(sim, val):
    from policyeval.assess import industry_fit

    c = val.cells
    row = c[c["county_name"] == "常熟市"].iloc[0]
    assert row["score_year"] == row["start_year"] - 1
    one = sim.panel[sim.panel["year"] == row["score_year"]]
    fit = industry_fit(one, row["county_code"], int(row["score_year"])).set_index("industry")
    got = c[c["county_code"] == row["county_code"]].set_index("industry")
    assert np.allclose(got["fit_score"], fit.loc[got.index, "score"])


def test_pairs_table(val):
    pairs = val.pairs
    assert len(pairs) == 22 and pairs["enclave_id"].notna().all()
    scored = pairs["partner_rank"].notna()
    assert (pairs.loc[scored, "ranked_high"] == (pairs.loc[scored, "partner_percentile"] <= 0.2)).all()
    assert pairs.loc[~scored, "ranked_high"].isna().all()      # origin outside the panel (北京, 上海)
    mean = val.cells.groupby("county_code")["realised"].mean()
    assert np.allclose(pairs.set_index("county_code")["realised"], mean.loc[pairs["county_code"]])
    assert pairs.attrs["simulated"] and "SIMULATED" in val.summary()
