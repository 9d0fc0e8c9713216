"""`make demo`'s main job runs end to end and writes what it says."""

from __future__ import annotations

import pandas as pd
import pytest

from policyeval import demo


def test_demo_writes_outputs_and_recovers_the_simulated_effect(tmp_path, capsys):
    assert demo.main(["--out", str(tmp_path)]) == 0
    out = tmp_path / "demo"
    for name in ["registry_by_type.csv", "event_study_log_gdp_destination.png",
                 "event_study_log_gdp_destination.csv", "table_log_gdp_destination.tex",
                 "table_log_gdp_destination.html", "headline.csv", "demo_log.txt"]:
        assert (out / name).stat().st_size > 0, name
    printed = capsys.readouterr().out
    assert "SIMULATED" in printed and "truth in the simulation" in printed
    assert "SIMULATED" in (out / "table_log_gdp_destination.tex").read_text(encoding="utf-8")

    assert "same estimand on the same sample" in printed

    headline = pd.read_csv(out / "headline.csv", index_col=0)["value"]
    est, se = float(headline["cs_simple_att"]), float(headline["cs_simple_se"])
    truth = float(headline["true_att_destination"])
    assert abs(est - truth) < 2 * se
    # the truth printed is the sample's own (undated participants and origins out, cohorts CS keeps),
    # not the all-destination average of the simulation (+0.0595 on the bundled panel)
    import warnings

    import policyeval as pe
    from policyeval.design import enclave_design
    from policyeval.design.truth import truth_for_sample

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sample = enclave_design(pe.load_simulated_panel()).sample("destination", gname="g")
    sample = sample[sample["g"] > sample["year"].min()]
    path, overall = truth_for_sample(pe.load_simulated_panel("truth"), sample, log_outcome="log_gdp",
                                     role="destination", gname="g")
    assert truth == pytest.approx(overall, rel=1e-9)
    assert float(headline["true_dynamic_att"]) == pytest.approx(path.loc[0:6].mean(), rel=1e-9)
    assert abs(truth - float(headline["true_att_all_destinations"])) > 0.005

    event = pd.read_csv(out / "event_study_log_gdp_destination.csv")
    post = event[event["event_time"] >= 0]
    covered = (post["conf_low"] <= post["true_att"]) & (post["true_att"] <= post["conf_high"])
    assert covered.all(), post
