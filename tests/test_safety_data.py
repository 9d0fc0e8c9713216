"""Non-finite and degenerate data (issue 10, part D): one rule in the loader and every estimator.

Each test feeds a small simulated panel (made-up numbers) with one defect and checks the
exception type and that the message names the argument, the column and example unit ids.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.data.panel import read_panel
from policyeval.exceptions import DataError, EstimationError, PolicyevalError, TreatmentTimingError


def simulated_panel(n_units: int = 40, years=range(2001, 2009), seed: int = 0) -> pd.DataFrame:
    """Simulated staggered panel: cohorts 2004 / 2006 / never, effect 1 after treatment."""
    rng = np.random.default_rng(seed)
    years = np.asarray(list(years))
    g = np.array([[0, 2004, 2006, 0][i % 4] for i in range(n_units)])
    df = pd.DataFrame({"unit": np.repeat(np.arange(n_units) + 100, len(years)),
                       "year": np.tile(years, n_units),
                       "first_treat": np.repeat(g, len(years))})
    df["x"] = np.repeat(rng.normal(size=n_units), len(years))
    df["w"] = np.repeat(rng.uniform(0.5, 2.0, n_units), len(years))
    df["prov"] = df["unit"] % 10
    df["one"] = 1
    treated = (df.first_treat > 0) & (df.year >= df.first_treat)
    df["y"] = (np.repeat(rng.normal(size=n_units), len(years)) + 0.1 * (df.year - 2000)
               + 1.0 * treated + rng.normal(scale=0.3, size=len(df)))
    return df


def fit(name: str, df: pd.DataFrame, *, covariates=None, weights=None, cluster=None,
        gname="first_treat", tname="year"):
    """Fit one estimator with the same arguments (warnings unrelated to the test silenced)."""
    kw = dict(yname="y", tname=tname, idname="unit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pe.exceptions.PolicyevalWarning)
        if name == "twfe":
            return pe.TWFE(cluster=cluster).fit(df, gname=gname, covariates=covariates,
                                                weights=weights, **kw)
        if name == "event_study":
            return pe.EventStudy(window=(-2, 2), cluster=cluster).fit(
                df, gname=gname, covariates=covariates, weights=weights, **kw)
        if name == "sun_abraham":
            return pe.SunAbraham(cluster=cluster).fit(df, gname=gname, covariates=covariates,
                                                      weights=weights, **kw)
        if name == "callaway_santanna":
            return pe.CallawaySantAnna(cluster=cluster).fit(df, gname=gname, covariates=covariates,
                                                            weights=weights, **kw)
        if name == "imputation":
            return pe.ImputationDiD(cluster=cluster).fit(df, gname=gname, covariates=covariates,
                                                         weights=weights, **kw)
    raise AssertionError(name)


ALL = ["twfe", "event_study", "sun_abraham", "callaway_santanna", "imputation"]


@pytest.fixture
def panel():
    return simulated_panel()


# ------------------------------------------------------------------ +-inf and overflow
@pytest.mark.parametrize("name", ALL)
def test_infinite_outcome_is_refused_naming_column_and_unit(panel, name):
    panel.loc[(panel.unit == 107) & (panel.year == 2005), "y"] = np.inf
    with pytest.raises(DataError, match=r"yname='y' has 1 infinite values \(e.g. inf\) in units "
                                        r"\(e.g. 107\)"):
        fit(name, panel)


@pytest.mark.parametrize("name", ALL)
def test_overflowing_covariate_1e309_is_refused(panel, name):
    assert float("1e309") == np.inf
    panel.loc[panel.unit == 103, "x"] = float("1e309")
    covs = ["x"]
    with pytest.raises(DataError, match=r"covariates='x' has 8 infinite values .* units "
                                        r"\(e.g. 103\).*1e309"):
        fit(name, panel, covariates=covs)


@pytest.mark.parametrize("name", ["twfe", "callaway_santanna", "imputation"])
def test_minus_infinite_weight_is_refused(panel, name):
    panel.loc[panel.unit == 111, "w"] = -np.inf
    with pytest.raises(DataError, match=r"weights='w' has 8 infinite values \(e.g. -inf\) in units "
                                        r"\(e.g. 111\)"):
        fit(name, panel, weights="w")


@pytest.mark.parametrize("name", ["callaway_santanna", "imputation"])
def test_negative_weight_is_refused(panel, name):
    panel.loc[panel.unit == 112, "w"] = -1.0
    with pytest.raises(DataError, match=r"weights='w' has 8 negative values \(e.g. -1.0\) in units "
                                        r"\(e.g. 112\); weights must be >= 0"):
        fit(name, panel, weights="w")


def test_non_positive_regression_weight_is_refused_in_twfe(panel):
    panel.loc[panel.unit == 112, "w"] = 0.0
    with pytest.raises(DataError, match=r"weights='w' has 8 non-positive values .* units "
                                        r"\(e.g. 112\); weights must be > 0"):
        fit("twfe", panel, weights="w")


@pytest.mark.parametrize("name", ["callaway_santanna", "imputation"])
def test_all_zero_weights_are_refused(panel, name):
    panel["w"] = 0.0
    with pytest.raises(DataError, match="weights='w' is zero in every row"):
        fit(name, panel, weights="w")


def test_read_panel_refuses_overflow_in_a_csv(tmp_path):
    path = tmp_path / "panel.csv"
    path.write_text("county_code,year,gdp\n320101,2001,1.5\n320102,2001,1e309\n"
                    "320103,2001,-inf\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"column='gdp' has 2 infinite values \(e.g. inf, -inf\) "
                                        r"in units \(e.g. 320102, 320103\)"):
        read_panel(path, idname="county_code", tname="year")


def test_read_panel_keeps_inf_where_allowed(tmp_path):
    # R did codes never treated as Inf in the first-treated column: allowed when asked for
    raw = pd.DataFrame({"county_code": [320101, 320102], "year": [2001, 2001],
                        "first_treat": ["Inf", "2004"], "gdp": [1.0, 2.0]})
    with pytest.raises(DataError, match="column='first_treat' has 1 infinite values"):
        read_panel(raw, idname="county_code", tname="year")
    out = read_panel(raw, idname="county_code", tname="year", allow_infinite=["first_treat"])
    assert np.isinf(out["first_treat"]).sum() == 1


# ------------------------------------------------------------------ degenerate data
@pytest.mark.parametrize("name", ALL)
def test_constant_outcome_is_refused(panel, name):
    panel["y"] = 3.0
    with pytest.raises(EstimationError, match=r"yname='y' is constant \(every non-missing value "
                                              r"is 3.0\)"):
        fit(name, panel)


@pytest.mark.parametrize("name", ALL)
def test_one_period_is_refused(panel, name):
    one = panel[panel.year == 2005]
    with pytest.raises(PolicyevalError, match=r"tname='year' has 1 distinct period \(2005\); "
                                              r"difference-in-differences needs at least two"):
        fit(name, one)


@pytest.mark.parametrize("name", ALL)
def test_datetime_periods_are_refused_with_convert_to_years(panel, name):
    panel["date"] = pd.to_datetime(panel["year"].astype(str) + "-01-01")
    with pytest.raises(DataError, match=r"tname='date' holds dates .* convert to years, e.g. "
                                        r"df\['date'\] = df\['date'\].dt.year"):
        fit(name, panel, tname="date")


@pytest.mark.parametrize("name", ALL)
def test_gname_that_is_a_0_1_indicator_is_refused(panel, name):
    panel["treated"] = ((panel.first_treat > 0)).astype(int)     # constant per unit, 0/1
    with pytest.raises(TreatmentTimingError, match=r"gname='treated' holds only 0 and 1, but the "
                                                   r"periods run from 2001 to 2008: gname is the "
                                                   r"first treated period, not a 0/1 treatment "
                                                   r"indicator"):
        fit(name, panel, gname="treated")


def test_gname_of_ones_is_fine_when_periods_start_at_one():
    # periods 1..8: a first-treated period of 1 is a period, not an indicator
    df = simulated_panel(years=range(1, 9))
    df["first_treat"] = df["first_treat"].map({0: 0, 2004: 4, 2006: 6})
    res = fit("imputation", df)
    assert np.isfinite(res.params["ATT"])
