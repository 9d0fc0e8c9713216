"""Paper tables: layout, stars and formats."""

from __future__ import annotations

import pandas as pd
import pytest

from policyeval.reporting import results_table
from policyeval.results import EstimationResult


def _result(est, se, nobs=200):
    return EstimationResult(pd.Series(est), pd.Series(se), nobs=nobs, n_units=20, spec={},
                            estimator="toy")


def test_side_by_side_with_missing_terms_and_stars():
    a = _result({"ATT": 0.5, "pre": 0.01}, {"ATT": 0.1, "pre": 0.2})
    b = _result({"ATT": 0.12}, {"ATT": 0.1}, nobs=1500)
    table = results_table({"CS": a, "TWFE": b}, digits=2)
    frame = table.frame
    assert list(frame.columns) == ["CS", "TWFE"]
    assert frame.iloc[0].tolist() == ["0.50***", "0.12"]      # z = 5 and 1.2
    assert frame.iloc[1].tolist() == ["(0.10)", "(0.10)"]
    assert frame.iloc[2].tolist() == ["0.01", ""]             # 'pre' absent from TWFE
    assert frame.loc["N obs."].tolist() == ["200", "1,500"]
    latex = table.to_latex()
    assert "\\toprule" in latex and "0.50***" in latex and "p<0.01" in latex
    assert "<table" in table._repr_html_()


def test_sequence_gets_numbered_columns_and_stars_can_be_off():
    table = results_table([_result({"x": 1.0}, {"x": 0.1})], stars=False)
    assert list(table.frame.columns) == ["(1)"]
    assert table.frame.iloc[0, 0] == "1.000"
    assert "p<0.1" not in table.notes


def test_rename_lines_up_terms_named_differently():
    cs = _result({"overall": 0.2}, {"overall": 0.05})
    twfe = _result({"treated": 0.1}, {"treated": 0.05})
    table = results_table({"CS": cs, "TWFE": twfe}, rename={"overall": "ATT", "treated": "ATT"})
    assert table.frame.index[0] == "ATT"
    assert table.frame.iloc[0].tolist() == ["0.200***", "0.100**"]
    assert repr(table) == str(table)


def test_rename_that_merges_two_terms_of_one_result_is_refused():
    res = _result({"a": 1.0, "b": 2.0}, {"a": 0.1, "b": 0.1})
    with pytest.raises(ValueError, match="to the same label"):
        results_table([res], rename={"a": "x", "b": "x"})
