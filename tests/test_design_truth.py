"""The simulation's truth for a sample: ratio outcomes and the bad inputs of add_ratio_truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.design.truth import add_ratio_truth, truth_for_sample
from policyeval.exceptions import ColumnNotFoundError, DesignError


def _truth() -> pd.DataFrame:
    base = dict(is_simulated=True, aggregation="cohort_event", outcome="o", role="origin",
                enclave_type=np.nan, n_obs=1, n_units=1, att=1.0)
    rows = [{**base, "log_outcome": y, "cohort": g, "event_time": e, "att_log": v}
            for y, g, e, v in [("log_va", 2010, 0, 0.30), ("log_land", 2010, 0, 0.05),
                               ("log_va", 2010, 1, 0.40), ("log_land", 2011, 0, 0.10)]]
    return pd.DataFrame(rows)


def test_ratio_rows_only_where_both_parts_exist_and_input_untouched():
    truth = _truth()
    before = truth.copy()
    out = add_ratio_truth(truth, "log_va", "log_land", "log_va_per_mu")
    pd.testing.assert_frame_equal(truth, before)
    new = out[out["log_outcome"] == "log_va_per_mu"]
    assert list(zip(new["cohort"], new["event_time"])) == [(2010, 0)]
    assert new["att_log"].iloc[0] == pytest.approx(0.25)
    assert new["att"].isna().all() and (new["outcome"] == "log_va_per_mu").all()
    assert list(out.columns) == list(truth.columns) and len(out) == len(truth) + 1


def test_ratio_truth_feeds_truth_for_sample_on_the_bundled_panel():
    truth = add_ratio_truth(pe.load_simulated_panel("truth"), "log_industrial_va", "log_industrial_land",
                            "log_va_per_mu")
    sample = pd.DataFrame({"county_code": ["a", "a", "b", "b"], "year": [2005, 2010, 2005, 2010],
                           "g": [2006, 2006, 0, 0]})
    kw = dict(role="destination", gname="g")
    _, va = truth_for_sample(truth, sample, log_outcome="log_industrial_va", **kw)
    _, land = truth_for_sample(truth, sample, log_outcome="log_industrial_land", **kw)
    _, ratio = truth_for_sample(truth, sample, log_outcome="log_va_per_mu", **kw)
    assert ratio == pytest.approx(va - land, abs=1e-12)


def test_bad_inputs_name_the_argument():
    with pytest.raises(DesignError, match=r"numerator='log_gdp' has no cohort_event row .*'log_land'"):
        add_ratio_truth(_truth(), "log_gdp", "log_land", "r")
    with pytest.raises(DesignError, match=r"denominator='land' has no cohort_event row"):
        add_ratio_truth(_truth(), "log_va", "land", "r")
    with pytest.raises(DesignError, match=r"name='log_va' is already a log_outcome"):
        add_ratio_truth(_truth(), "log_va", "log_land", "log_va")
    with pytest.raises(ColumnNotFoundError, match="att_log"):
        add_ratio_truth(_truth().drop(columns="att_log"), "log_va", "log_land", "r")


def test_reports_dir_defaults(tmp_path, monkeypatch):
    from policyeval.reporting.notebook import reports_dir

    monkeypatch.delenv("POLICYEVAL_REPORTS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert reports_dir("01_x") == tmp_path / "reports" / "notebooks" / "01_x"
    monkeypatch.setenv("POLICYEVAL_REPORTS", str(tmp_path / "elsewhere"))
    assert reports_dir("01_x") == tmp_path / "elsewhere" / "01_x" and (tmp_path / "elsewhere" / "01_x").is_dir()
