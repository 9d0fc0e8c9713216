"""The command line is a thin layer: it prints the summary and writes table, LaTeX and plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyeval.cli import main


@pytest.fixture
def panel_csv(tmp_path):
    rng = np.random.default_rng(7)
    n, years = 120, np.arange(2001, 2011)
    g = rng.choice([0, 2004, 2006, 2008], n)
    df = pd.DataFrame({"county_code": np.repeat(np.arange(n) + 320100, len(years)),
                       "year": np.tile(years, n), "first_treat": np.repeat(g, len(years))})
    treated = (df.first_treat > 0) & (df.year >= df.first_treat)
    df["y"] = (np.repeat(rng.normal(size=n), len(years)) + 0.05 * (df.year - 2000)
               + 0.5 * treated + rng.normal(scale=0.2, size=len(df)))
    path = tmp_path / "panel.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("method", ["cs", "twfe", "event-study", "sunab", "bjs"])
def test_estimate_writes_table_latex_and_plot(panel_csv, tmp_path, capsys, method):
    out = tmp_path / "out"
    code = main(["estimate", str(panel_csv), "--y", "y", "--id", "county_code", "--time", "year",
                 "--group", "first_treat", "--method", method, "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "results" in printed and f"wrote {method}_y.csv" in printed
    table = pd.read_csv(out / f"{method}_y.csv")
    assert {"estimate", "std_error", "conf_low", "conf_high"} <= set(table.columns)
    assert (out / f"{method}_y.tex").read_text(encoding="utf-8").count("tabular") >= 2
    assert (out / f"{method}_y.png").stat().st_size > 1000


def test_cs_recovers_the_effect_from_the_command_line(panel_csv, tmp_path):
    main(["estimate", str(panel_csv), "--y", "y", "--id", "county_code", "--time", "year",
          "--group", "first_treat", "--aggregate", "simple", "--out", str(tmp_path)])
    row = pd.read_csv(tmp_path / "cs_y.csv").iloc[0]
    assert row["conf_low"] < 0.5 < row["conf_high"]


def test_bad_column_is_a_clear_error_not_a_traceback(panel_csv, tmp_path, capsys):
    code = main(["estimate", str(panel_csv), "--y", "gdp", "--id", "county_code", "--time",
                 "year", "--group", "first_treat", "--out", str(tmp_path)])
    assert code == 2
    assert "policyeval: error:" in capsys.readouterr().err
