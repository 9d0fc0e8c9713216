"""pe.plot_estimates overlays models; treatment-timing charts stay readable with many units."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import policyeval as pe  # noqa: E402
from policyeval.exceptions import PolicyevalError  # noqa: E402
from policyeval.results import EstimationResult  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _event_study(shift=0.0, uniform=False, terms=(-3, -2, -1, 0, 1, 2), estimator="toy"):
    idx = pd.Index(list(terms), name="event_time")
    est = pd.Series(np.where(np.array(terms) >= 0, 0.3, 0.0), index=idx) + shift
    return EstimationResult(est, pd.Series(0.05, index=idx), nobs=500, n_units=50, spec={},
                            estimator=estimator, index_name="event_time",
                            critical_value=2.8 if uniform else None)


def _point_offsets(ax):
    """x positions of the marker lines, per colour."""
    out = {}
    for line in ax.lines:
        if line.get_marker() == "o" and len(line.get_xdata()):
            out.setdefault(line.get_color(), []).extend(np.asarray(line.get_xdata(), dtype=float))
    return {c: np.sort(v) for c, v in out.items()}


def test_three_models_dodged_with_one_legend_entry_each():
    rs = [_event_study(0), _event_study(0.02), _event_study(0.04)]
    ax = pe.plot_estimates(rs, labels=["CS", "Sun-Abraham", "BJS"])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CS", "Sun-Abraham", "BJS"]
    xs = list(_point_offsets(ax).values())
    assert len(xs) == 3
    # same terms, shifted: constant, distinct offsets, centred on the true event times
    shifts = [x - np.arange(-3, 3) for x in xs]
    assert all(np.allclose(s, s[0]) for s in shifts)
    assert sorted(s[0] for s in shifts) == pytest.approx([-0.8 / 3, 0.0, 0.8 / 3])


def test_a_later_legend_call_keeps_the_models():
    # notebooks draw a result, add the simulation truth, then call ax.legend() again
    ax = pe.plot_estimates([_event_study(), _event_study(0.02)], labels=["CS", "SA"])
    ax.plot([0, 1], [0.3, 0.3], "k--", label="simulation truth")
    ax.legend()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CS", "SA", "simulation truth"]


def test_pre_periods_hollow_post_filled_and_post_shaded():
    ax = pe.plot_estimates(_event_study(), label="CS")
    faces = {}
    for line in ax.lines:
        if line.get_marker() == "o":
            for x in line.get_xdata():
                faces[float(x)] = matplotlib.colors.to_hex(line.get_markerfacecolor())
    assert {faces[x] for x in (-3.0, -2.0, -1.0)} == {"#ffffff"}
    assert "#ffffff" not in {faces[x] for x in (0.0, 1.0, 2.0)}
    spans = [p for p in ax.patches if isinstance(p, matplotlib.patches.Polygon)
             or type(p).__name__ == "Rectangle"]
    assert spans, "post period not shaded"
    assert "pre-treatment" in ax.get_legend().get_title().get_text()


def test_uniform_bands_shaded_only_when_present():
    ax = pe.plot_estimates([_event_study(uniform=True), _event_study()], labels=["boot", "analytic"])
    bars = [p for p in ax.patches if type(p).__name__ == "Rectangle" and p.get_alpha() == 0.18]
    assert len(bars) == 6                                      # one per term of the first model
    band = max(b.get_height() for b in bars)
    assert band == pytest.approx(2 * 2.8 * 0.05)
    assert "uniform band" in ax.get_legend().get_title().get_text()
    with pytest.raises(PolicyevalError, match="has no uniform band"):
        pe.plot_estimates(_event_study(), uniform=True)


def test_headline_results_share_one_position_and_bad_input_is_named():
    a = EstimationResult(pd.Series({"treated": 0.1}), pd.Series({"treated": 0.02}), nobs=10, n_units=5,
                         spec={}, estimator="TWFE")
    b = EstimationResult(pd.Series({"overall": 0.12}), pd.Series({"overall": 0.03}), nobs=10, n_units=5,
                         spec={}, estimator="BJS")
    ax = pe.plot_estimates({"TWFE": a, "BJS": b})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ATT"]
    with pytest.raises(PolicyevalError, match="labels has 1 entries for 2 results"):
        pe.plot_estimates([a, b], labels=["x"])
    with pytest.raises(PolicyevalError, match="needs policyeval results"):
        pe.plot_estimates([a, "b"])


def test_real_estimators_overlay_and_group_time_results_are_refused():
    from tests.test_results_table import COLS, staggered_panel

    panel = staggered_panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = pe.CallawaySantAnna().fit(panel, **COLS)
        dyn = cs.aggregate("dynamic", min_e=-3, max_e=3)
        es = pe.EventStudy(window=(-3, 3)).fit(panel, **COLS)
    ax = pe.plot_estimates([dyn, es], labels=["CS", "TWFE ES"])
    # one entry per model, plus the shared key of the event study's reference period
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["CS", "TWFE ES",
                                                                   "reference period (-1)"]
    with pytest.raises(PolicyevalError, match="aggregate it first"):
        pe.plot_estimates([cs, es])


def test_chinese_labels_render_without_missing_glyphs():
    ax = pe.plot_estimates([_event_study(), _event_study(0.02)], labels=["苏宿工业园区", "衢州海创园"],
                           title="飞地效应", xlabel="事件时间")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # matplotlib warns "Glyph ... missing from font(s)"
        ax.figure.canvas.draw()


def _timing_panel(n_units=80, seed=1):
    rng = np.random.default_rng(seed)
    years = np.arange(2005, 2016)
    g = rng.choice([0, 2008, 2010, 2012, 2014], n_units)
    return pd.DataFrame({"county_code": np.repeat(320100 + np.arange(n_units), len(years)),
                         "year": np.tile(years, n_units), "first_treat": np.repeat(g, len(years)),
                         "county_name": np.repeat([f"县{i}" for i in range(n_units)], len(years))})


def test_timing_chart_with_80_units_keeps_every_unit_and_thins_labels():
    panel = _timing_panel(80)
    ax = pe.plot_treatment_timing(panel, "county_code", "year", "first_treat", namecol="county_name",
                                  by="unit", max_labels=20)
    image = ax.get_images()[0].get_array()
    assert image.shape == (80, 11)                                 # no unit dropped
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert 10 <= len(labels) <= 20 and labels[0].startswith("县")
    assert "1 in 4 of 80 labelled" in ax.get_ylabel()
    # treated cells are exactly the unit-periods at or after first treatment
    units = panel.drop_duplicates("county_code")
    order = units.assign(_g=units.first_treat.replace(0, np.inf)).sort_values(["_g", "county_code"])
    expected = (np.arange(2005, 2016)[None, :] >= order["_g"].to_numpy()[:, None]).astype(float)
    np.testing.assert_array_equal(np.asarray(image), expected)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax.figure.canvas.draw()


def test_timing_chart_collapses_to_cohorts_for_many_units():
    panel = _timing_panel(200)
    ax = pe.plot_treatment_timing(panel, "county_code", "year", "first_treat")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    sizes = panel.drop_duplicates("county_code").first_treat.value_counts()
    assert labels == [f"{g} (n={sizes[g]})" for g in (2008, 2010, 2012, 2014)] + [f"never (n={sizes[0]})"]
    with pytest.raises(PolicyevalError, match="varies within"):
        bad = panel.copy()
        bad.loc[0, "first_treat"] = 2099
        pe.plot_treatment_timing(bad, "county_code", "year", "first_treat")


def test_chinese_tick_labels_render_on_axes_made_before_the_font_was_registered():
    # Axes made under a Latin-only font keep their tick-label font; the plot must fix it.
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"], "font.sans-serif": ["DejaVu Sans"]}):
        fig, ax = plt.subplots()
        pe.plot_treatment_timing(_timing_panel(12), "county_code", "year", "first_treat",
                                 namecol="county_name", ax=ax)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fig.canvas.draw()


def test_enclave_design_timing_chart_draws_every_treated_unit_and_thins_labels():
    panel = pe.load_simulated_panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = pe.enclave_design(panel)
    n_treated = int((design.timing["first_treat_any"] > 0).sum())
    assert n_treated > 60                                  # the case the chart must handle
    ax = design.plot(max_labels=25)
    drawn = sum(len(line.get_ydata()) for line in ax.lines if line.get_marker() in ("o", "s"))
    assert drawn >= n_treated                              # nobody cut off at 60
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) <= 25 and f"of {n_treated} units labelled" in ax.get_ylabel()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ax.figure.canvas.draw()                            # Chinese names: no missing glyphs
    few = design.plot(max_units=10)
    assert len(few.get_yticklabels()) == 10 and f"first 10 of {n_treated}" in few.get_title()
