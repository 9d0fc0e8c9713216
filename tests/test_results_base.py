"""The shared result contract, checked on hand-computable numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from policyeval.results import EstimationResult


@pytest.fixture
def result():
    params = pd.Series([1.0, -2.0, 0.5], index=[-1, 0, 1])
    ses = pd.Series([0.5, 1.0, 0.25], index=[-1, 0, 1])
    return EstimationResult(params, ses, nobs=100, n_units=10, spec={"yname": "y"},
                            estimator="Toy", index_name="event_time",
                            extra={"reference_period": -1})


def test_normal_intervals_and_pvalues(result):
    ci = result.conf_int(0.95)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(ci["conf_low"], [1 - z * 0.5, -2 - z, 0.5 - z * 0.25])
    np.testing.assert_allclose(result.pvalues, 2 * stats.norm.sf([2.0, 2.0, 2.0]))


def test_t_reference_distribution_when_df_given():
    res = EstimationResult(pd.Series([1.0]), pd.Series([0.5]), nobs=5, n_units=5, spec={},
                           estimator="t", df_resid=4)
    assert res.pvalues.iloc[0] == pytest.approx(2 * stats.t(4).sf(2.0))


def test_uniform_band_requires_critical_value(result):
    with pytest.raises(ValueError, match="uniform=True needs a simultaneous critical value"):
        result.conf_int(uniform=True)
    result.critical_value = 2.5
    np.testing.assert_allclose(result.conf_int(uniform=True)["conf_high"], [2.25, 0.5, 1.125])


def test_level_is_validated(result):
    with pytest.raises(ValueError, match="level=1.5"):
        result.conf_int(1.5)


def test_to_frame_and_summary_formats(result):
    frame = result.to_frame()
    assert list(frame.columns) == ["event_time", "estimate", "std_error", "statistic",
                                   "p_value", "conf_low", "conf_high"]
    text = str(result.summary())
    assert "Toy results" in text and "Observations" in text
    assert "<table" in result._repr_html_()
    latex = result.summary().as_latex()
    assert "\\begin{tabular}" in latex and "$-$2.0000" in latex   # a real minus sign


def test_plot_marks_reference_period(result):
    import matplotlib

    matplotlib.use("Agg")
    ax = result.plot()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("reference period (-1)" in label for label in labels)
