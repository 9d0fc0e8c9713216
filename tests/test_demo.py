"""`make demo`'s main job runs end to end and writes what it says."""

from __future__ import annotations

import pandas as pd

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

    headline = pd.read_csv(out / "headline.csv", index_col=0)["value"]
    est, se = float(headline["cs_simple_att"]), float(headline["cs_simple_se"])
    truth = float(headline["true_att_destination"])
    assert abs(est - truth) < 2 * se
    event = pd.read_csv(out / "event_study_log_gdp_destination.csv")
    post = event[event["event_time"] >= 0]
    covered = (post["conf_low"] <= post["true_att"]) & (post["true_att"] <= post["conf_high"])
    assert covered.all(), post
