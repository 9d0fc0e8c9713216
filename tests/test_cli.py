"""The command line is a thin layer: it prints the summary and writes table, LaTeX and plot into --out."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.cli import _SUPPORTED, AGGREGATIONS, main

BASE = ["--y", "y", "--id", "county_code", "--time", "year", "--group", "first_treat"]
COLS = dict(yname="y", tname="year", idname="county_code", gname="first_treat")


def _panel(n=120, seed=7):
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2011)
    g = rng.choice([0, 2004, 2006, 2008], n)
    df = pd.DataFrame({"county_code": np.repeat(np.arange(n) + 1, len(years)),
                       "year": np.tile(years, n), "first_treat": np.repeat(g, len(years))})
    treated = (df.first_treat > 0) & (df.year >= df.first_treat)
    df["y"] = (np.repeat(rng.normal(size=n), len(years)) + 0.05 * (df.year - 2000)
               + 0.5 * treated + rng.normal(scale=0.2, size=len(df)))
    df["x"] = rng.normal(size=len(df)).round(3)
    df["x"] = df.groupby("county_code")["x"].transform("first")     # time-invariant covariate
    return df


@pytest.fixture(scope="module")
def panel():
    return _panel()


@pytest.fixture
def panel_csv(tmp_path, panel):
    path = tmp_path / "panel.csv"
    panel.to_csv(path, index=False)
    return path


def _run(panel_csv, *options):
    return main(["estimate", str(panel_csv), *BASE, *options])


@pytest.mark.parametrize("method", ["cs", "twfe", "event-study", "sunab", "bjs"])
def test_estimate_writes_table_latex_and_plot_into_out(panel_csv, tmp_path, capsys, method):
    out = tmp_path / "out"
    assert _run(panel_csv, "--method", method, "--out", str(out)) == 0
    printed = capsys.readouterr().out
    agg = _SUPPORTED[method][0]
    stem = f"{method}_{agg}_y"
    assert "results" in printed and f"wrote {stem}.csv, {stem}.tex, {stem}.png" in printed
    table = pd.read_csv(out / f"{stem}.csv")
    assert {"estimate", "std_error", "conf_low", "conf_high", "is_simulated"} <= set(table.columns)
    tex = (out / f"{stem}.tex").read_text(encoding="utf-8")
    assert "\\begin{threeparttable}" in tex and "\\begin{tablenotes}" in tex
    assert (out / f"{stem}.png").stat().st_size > 1000
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{stem}.csv", f"{stem}.tex", f"{stem}.png"])


def test_nothing_lands_in_the_working_directory(panel_csv, tmp_path, monkeypatch, capsys):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    assert _run(panel_csv, "--aggregate", "simple") == 0
    assert "no files written" in capsys.readouterr().out
    assert _run(panel_csv, "--out", str(tmp_path / "elsewhere" / "deep")) == 0
    assert list(cwd.iterdir()) == []
    assert len(list((tmp_path / "elsewhere" / "deep").iterdir())) == 3


def test_cs_options_reach_the_estimator(panel_csv, panel, tmp_path):
    """The CLI's numbers equal the API's for the same Callaway-Sant'Anna options."""
    out = tmp_path / "o"
    code = _run(panel_csv, "--control-group", "not_yet_treated", "--est-method", "reg",
                "--base-period", "universal", "--anticipation", "1", "--aggregate", "dynamic",
                "--min-e", "-3", "--max-e", "2", "--covariates", "x", "--level", "0.9", "--out", str(out))
    assert code == 0
    got = pd.read_csv(out / "cs_dynamic_y.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = pe.CallawaySantAnna(control_group="not_yet_treated", method="reg", base_period="universal",
                                  anticipation=1, level=0.9).fit(panel, covariates=["x"], **COLS)
        want = api.aggregate("dynamic", min_e=-3, max_e=2).to_frame(0.9)
    assert got["event_time"].tolist() == want["event_time"].tolist() == [-3, -2, -1, 0, 1, 2]
    np.testing.assert_allclose(got["estimate"], want["estimate"], rtol=1e-9)
    np.testing.assert_allclose(got["conf_low"], want["conf_low"], rtol=1e-9)   # the 90% level


def test_repeated_cross_sections_and_trim_level_reach_the_estimator(panel_csv, panel, tmp_path):
    out = tmp_path / "o"
    assert _run(panel_csv, "--repeated-cross-sections", "--trim-level", "0.99", "--est-method", "ipw",
                "--covariates", "x", "--aggregate", "simple", "--out", str(out)) == 0
    got = pd.read_csv(out / "cs_simple_y.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        api = pe.CallawaySantAnna(panel=False, trim_level=0.99, method="ipw").fit(
            panel, covariates=["x"], **COLS).aggregate("simple")
    np.testing.assert_allclose(got["estimate"], api.params.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["std_error"], api.std_errors.to_numpy(), rtol=1e-9)


def test_bootstrap_and_uniform_bands(panel_csv, tmp_path):
    out = tmp_path / "o"
    assert _run(panel_csv, "--n-bootstrap", "199", "--bootstrap-weights", "mammen", "--random-state",
                "3", "--uniform", "--min-e", "-2", "--max-e", "2", "--out", str(out)) == 0
    boot = pd.read_csv(out / "cs_dynamic_y.csv")
    assert {"uniform_low", "uniform_high"} <= set(boot.columns)
    assert (boot["uniform_high"] - boot["uniform_low"] > boot["conf_high"] - boot["conf_low"]).all()
    again = tmp_path / "again"
    _run(panel_csv, "--n-bootstrap", "199", "--bootstrap-weights", "mammen", "--random-state", "3",
         "--uniform", "--min-e", "-2", "--max-e", "2", "--out", str(again))
    pd.testing.assert_frame_equal(boot, pd.read_csv(again / "cs_dynamic_y.csv"))   # seeded
    plain = tmp_path / "plain"
    assert _run(panel_csv, "--n-bootstrap", "99", "--random-state", "3", "--out", str(plain)) == 0
    assert "uniform_low" not in pd.read_csv(plain / "cs_dynamic_y.csv").columns


@pytest.mark.parametrize("method", sorted(_SUPPORTED))
@pytest.mark.parametrize("aggregate", list(AGGREGATIONS))
def test_every_method_honours_or_refuses_every_aggregation(panel_csv, tmp_path, capsys, method, aggregate):
    out = tmp_path / "o"
    code = _run(panel_csv, "--method", method, "--aggregate", aggregate, "--out", str(out))
    err = capsys.readouterr().err
    if aggregate not in _SUPPORTED[method]:
        assert code == 2
        assert f"--aggregate {aggregate} is not available for --method {method}" in err
        assert not out.exists()
        return
    assert code == 0, err
    table = pd.read_csv(next(out.glob("*.csv")))
    column = {"simple": "term", "dynamic": "event_time", "group": None, "calendar": "time",
              "none": "group"}[aggregate]
    if aggregate == "simple":
        assert len(table) == 1
    elif aggregate == "dynamic":
        assert "event_time" in table.columns and (table["event_time"] >= 0).any()
    elif aggregate == "group":
        assert len(table) == 3                     # three cohorts: 2004, 2006, 2008
    else:
        assert column in table.columns and len(table) > 3


def test_cs_options_with_another_method_are_refused(panel_csv, tmp_path, capsys):
    assert _run(panel_csv, "--method", "twfe", "--control-group", "not_yet_treated",
                "--n-bootstrap", "99") == 2
    assert "--control-group, --n-bootstrap only apply to --method cs" in capsys.readouterr().err
    assert _run(panel_csv, "--uniform") == 2
    assert "--uniform needs a bootstrap" in capsys.readouterr().err
    assert _run(panel_csv, "--aggregate", "calendar", "--min-e", "-2") == 2
    assert "--min-e/--max-e need --aggregate dynamic" in capsys.readouterr().err


def test_window_for_event_study_and_sun_abraham(panel_csv, tmp_path):
    for method in ("event-study", "sunab"):
        out = tmp_path / method
        assert _run(panel_csv, "--method", method, "--min-e", "-2", "--max-e", "3", "--out", str(out)) == 0
        e = pd.read_csv(next(out.glob("*.csv")))["event_time"]
        assert e.min() == -2 and e.max() == 3


def test_warnings_are_one_line_without_source(panel_csv, tmp_path, capsys):
    # 2 clusters only: estimators warn about few clusters / few treated units
    small = pd.read_csv(panel_csv)
    small = small[small.county_code.isin(small.groupby("first_treat").county_code.first())]
    path = tmp_path / "small.csv"
    small.to_csv(path, index=False)
    main(["estimate", str(path), *BASE, "--method", "twfe", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "expected a warning"
    assert all(line.startswith("policyeval: warning: ") or line.startswith("policyeval: error: ")
               for line in lines), err
    assert "warnings.warn" not in err and ".py:" not in err
    assert len(lines) == len(set(lines))                   # each distinct warning once


def test_simulated_input_labels_every_file(tmp_path, panel):
    sim = panel.assign(is_simulated=True)
    path = tmp_path / "sim.csv"
    sim.to_csv(path, index=False)
    out = tmp_path / "o"
    assert main(["estimate", str(path), *BASE, "--aggregate", "simple", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cs_simple_y_SIMULATED.csv", "cs_simple_y_SIMULATED.png", "cs_simple_y_SIMULATED.tex"]
    assert "\\item SIMULATED DATA" in (out / "cs_simple_y_SIMULATED.tex").read_text(encoding="utf-8")


def test_cs_recovers_the_effect_from_the_command_line(panel_csv, tmp_path):
    _run(panel_csv, "--aggregate", "simple", "--out", str(tmp_path))
    row = pd.read_csv(tmp_path / "cs_simple_y.csv").iloc[0]
    assert row["conf_low"] < 0.5 < row["conf_high"]


def test_latex_matches_the_summary_layout(panel_csv, tmp_path, panel):
    _run(panel_csv, "--method", "twfe", "--out", str(tmp_path))
    tex = (tmp_path / "twfe_simple_y.tex").read_text(encoding="utf-8")
    res = pe.TWFE().fit(panel, **COLS)
    head = res.summary().as_latex().split("\\midrule")[1].strip()     # 'ATT & est \\ & (se) \\'
    assert head in tex


def test_bad_column_is_a_clear_error_not_a_traceback(panel_csv, tmp_path, capsys):
    code = main(["estimate", str(panel_csv), "--y", "gdp", "--id", "county_code", "--time",
                 "year", "--group", "first_treat", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "policyeval: error:" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
