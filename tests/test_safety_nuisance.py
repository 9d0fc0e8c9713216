"""Nuisance models of the doubly robust / IPW Callaway-Sant'Anna (issue 10, part C).

The hand-written logit is checked against statsmodels on hard cases; separation is an
error naming the cohort and the covariate (never a raw LinAlgError); poor overlap warns
with the share of units beyond the trimming bound and the largest control weight.
All data are simulated.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.estimators._staggered_cov import logit, overlap_note
from policyeval.exceptions import EstimationError, EstimationWarning

sm = pytest.importorskip("statsmodels.api")


def _separating_panel(sd: float, n: int = 400, seed: int = 3) -> pd.DataFrame:
    """Simulated panel whose covariate x shifts by 2.5 between cohort 2004 and the never treated."""
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2007)
    g = rng.choice([0, 2004], n, p=[0.7, 0.3])
    x = np.where(g > 0, rng.normal(2.5, sd, n), rng.normal(0, sd, n))
    df = pd.DataFrame({"id": np.repeat(np.arange(n), len(years)), "year": np.tile(years, n),
                       "g": np.repeat(g, len(years)), "x": np.repeat(x, len(years))})
    df["y"] = (rng.normal(size=len(df)) + 0.3 * df.x * (df.year - 2000)
               + 1.0 * ((df.g > 0) & (df.year >= df.g)))
    return df


CS_KW = dict(yname="y", tname="year", idname="id", gname="g", covariates=["x"])


# ------------------------------------------------------------------ against statsmodels
def _hard_case(case: str):
    rng = np.random.default_rng(11)
    n = 600
    if case == "near_separation":
        x = rng.normal(size=n)
        D = (x + rng.normal(scale=0.15, size=n) > 0.3).astype(float)
        X = np.column_stack([np.ones(n), x])
    elif case == "rare_outcome":
        x = rng.normal(size=(n, 2))
        D = (rng.random(n) < 1 / (1 + np.exp(-(-4.5 + 0.8 * x[:, 0])))).astype(float)
        X = np.column_stack([np.ones(n), x])
    else:  # nearly collinear covariates (correlation 0.999)
        z = rng.normal(size=n)
        x1, x2 = z, z + 0.045 * rng.normal(size=n)
        D = (rng.random(n) < 1 / (1 + np.exp(-(0.5 * x1 - 0.3 * x2)))).astype(float)
        X = np.column_stack([np.ones(n), x1, x2])
    return X, D


@pytest.mark.parametrize("case", ["near_separation", "rare_outcome", "collinear"])
def test_logit_matches_statsmodels_on_hard_cases(case):
    X, D = _hard_case(case)
    assert 0 < D.sum() < len(D) and (case != "rare_outcome" or D.mean() < 0.05)
    p, hinv, beta = logit(X, D, np.ones(len(D)))
    ref = sm.Logit(D, X).fit(disp=0, method="newton", maxiter=200, tol=1e-12)
    np.testing.assert_allclose(beta, ref.params, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(p, ref.predict(X), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(hinv, ref.cov_params(), rtol=1e-5)


def test_weighted_logit_matches_statsmodels_glm_with_var_weights():
    X, D = _hard_case("near_separation")
    w = np.random.default_rng(2).uniform(0.2, 3.0, len(D))
    p, hinv, beta = logit(X, D, w)
    ref = sm.GLM(D, X, family=sm.families.Binomial(), var_weights=w).fit(tol=1e-12)
    np.testing.assert_allclose(beta, ref.params, rtol=1e-6)
    np.testing.assert_allclose(hinv, ref.cov_params(), rtol=1e-5)


def test_logit_under_complete_separation_raises_naming_the_covariate():
    x = np.r_[np.linspace(-2, -0.1, 50), np.linspace(0.1, 2, 50)]
    D = (x > 0).astype(float)
    X = np.column_stack([np.ones(100), x])
    with pytest.raises(EstimationError, match=r"cohort 2004: the propensity score .* covariate "
                                              r"'dist' \(nearly\) separates the cohort from its "
                                              r"controls \(its values for the cohort \[0.1, 2\] "
                                              r"and for the controls \[-2, -0.1\] do not overlap\)"):
        logit(X, D, np.ones(100), where="cohort 2004", names=["dist"])


# ------------------------------------------------------------------ inside CallawaySantAnna
@pytest.mark.parametrize("method", ["dr", "ipw", "dr_imp"])
def test_separating_covariate_is_an_error_naming_cohort_and_covariate(method):
    df = _separating_panel(sd=0.4)
    with pytest.raises(EstimationError, match=r"cohort 2004 vs its \d+ controls .*covariate 'x'"):
        pe.CallawaySantAnna(method=method).fit(df, **CS_KW)


def test_separating_covariate_never_escapes_as_linalgerror():
    df = _separating_panel(sd=0.4)
    for method in ("dr", "ipw", "dr_imp"):
        try:
            pe.CallawaySantAnna(method=method).fit(df, **CS_KW)
        except np.linalg.LinAlgError as err:      # pragma: no cover - the failure this guards
            pytest.fail(f"raw LinAlgError with method={method!r}: {err}")
        except EstimationError:
            pass


@pytest.mark.parametrize("method", ["dr", "ipw"])
def test_near_separation_warns_with_overlap_counts(method):
    df = _separating_panel(sd=0.6)
    with pytest.warns(EstimationWarning, match=r"poor overlap in 1 of 1 propensity-score fits "
                                               rf"\(method='{method}'\).*cohort 2004 vs its \d+ "
                                               r"controls.*\d+ of \d+ treated units have a "
                                               r"propensity score >= 0.995 \(no comparable "
                                               r"control\).*largest control weight \d+% .*"
                                               r"covariate driving the score: 'x'"):
        pe.CallawaySantAnna(method=method).fit(df, **CS_KW)


def test_outcome_regression_needs_no_propensity_score_and_does_not_warn():
    df = _separating_panel(sd=0.6)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pe.CallawaySantAnna(method="reg").fit(df, **CS_KW)
    assert not [w for w in seen if "overlap" in str(w.message)]


def test_good_overlap_is_quiet():
    df = _separating_panel(sd=3.0, seed=4)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        pe.CallawaySantAnna(method="dr").fit(df, **CS_KW)
    assert not [w for w in seen if "overlap" in str(w.message)]


def test_repeated_cross_sections_name_the_cell():
    df = _separating_panel(sd=0.4)
    with pytest.raises(EstimationError, match=r"ATT\(g=2004, t=\d+\) \(base period \d+\): the "
                                              r"propensity score .*covariate 'x'"):
        pe.CallawaySantAnna(method="ipw", panel=False).fit(df, **CS_KW)


def test_overlap_note_counts_trimmed_controls():
    ps = np.array([0.2, 0.999, 0.5, 0.3, 0.998])
    D = np.array([1.0, 0.0, 0.0, 0.0, 1.0])
    note = overlap_note(ps, D, np.ones(5), 0.995, where="cohort 2006")
    assert note.startswith("cohort 2006: 1 of 2 treated units have a propensity score >= 0.995")
    assert "1 of 3 controls trimmed (score >= 0.995, weight set to 0)" in note
