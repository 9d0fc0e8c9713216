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
    assert "\\toprule" in latex and "0.50$^{***}$" in latex and "p$<$0.01" in latex  # notes typeset
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


# --- SIMULATED labels: tables, figures, CSV files --------------------------------------------

def _sim_result(est=0.1, se=0.02):
    return EstimationResult(pd.Series({"ATT": est}), pd.Series({"ATT": se}), nobs=100, n_units=10,
                            spec={}, estimator="toy", extra={"simulated": True})


def _visible_latex(text):
    """LaTeX with every %-comment line removed: what a reader of the PDF can see."""
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("%"))


def test_latex_table_of_simulated_result_says_simulated_in_visible_notes_and_caption():
    table = results_table({"CS": _sim_result()})
    assert table.simulated
    visible = _visible_latex(table.to_latex())
    assert "SIMULATED DATA" in visible
    assert "\\begin{tablenotes}" in visible and "\\bottomrule" in visible
    notes = visible.split("\\begin{tablenotes}")[1]
    assert "\\item SIMULATED DATA" in notes
    floated = _visible_latex(table.to_latex(caption="Forward parks"))
    assert "\\caption{SIMULATED DATA (not real statistics). Forward parks}" in floated
    assert "SIMULATED DATA" in str(table) and "SIMULATED DATA" in table._repr_html_()


def test_latex_table_of_real_result_has_no_simulated_label_and_renders_notes():
    table = results_table([_result({"ATT": 0.5}, {"ATT": 0.1})])
    latex = table.to_latex()
    assert "SIMULATED" not in latex and not table.simulated
    assert "p$<$0.1" in latex          # notes typeset, escaped, not a % comment
    assert "% Standard" not in latex


def test_one_simulated_result_among_real_ones_labels_the_table():
    table = results_table({"real": _result({"ATT": 0.5}, {"ATT": 0.1}), "sim": _sim_result()})
    assert table.simulated and "SIMULATED" in _visible_latex(table.to_latex())


def test_simulated_label_cannot_be_switched_off():
    from policyeval.exceptions import DataError, PolicyevalError

    with pytest.raises(DataError, match="simulated=False, but the input comes from simulated data"):
        results_table([_sim_result()], simulated=False)
    with pytest.raises(PolicyevalError, match="simulated must be True, False or None"):
        results_table([_sim_result()], simulated="yes")
    assert results_table([_result({"ATT": 0.5}, {"ATT": 0.1})], simulated=True).simulated


def test_provenance_flows_from_the_bundled_panel():
    from policyeval.data.simulated_label import is_simulated
    from policyeval.data.simulate import load_simulated_panel

    panel = load_simulated_panel()
    assert panel.attrs["simulated"] is True
    assert is_simulated(panel) and is_simulated(panel.loc[panel["year"] == 2010, ["county_code"]])
    for table in ("truth", "roles"):
        frame = load_simulated_panel(table)
        assert is_simulated(frame) and frame["is_simulated"].all()

    class Design:  # any object holding the panel it was built from
        def __init__(self, panel):
            self.panel = panel

    assert is_simulated(Design(panel))
    assert not is_simulated(Design(pd.DataFrame({"y": [1.0]})))


def test_figure_of_simulated_result_has_simulated_subtitle():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from policyeval.plots import plot_estimates

    ax = plot_estimates(_sim_result(), title="Forward parks")
    assert ax.get_title() == "Forward parks\nSIMULATED DATA (not real statistics)"
    ax_real = plot_estimates(_result({"ATT": 0.5}, {"ATT": 0.1}), title="Real")
    assert ax_real.get_title() == "Real"
    ax_forced = plot_estimates(_result({"ATT": 0.5}, {"ATT": 0.1}), simulated=True)
    assert "SIMULATED DATA" in ax_forced.get_title()
    with pytest.raises(ValueError, match="simulated=False"):
        plot_estimates(_sim_result(), simulated=False)
    plt.close("all")


def test_exported_csv_carries_is_simulated_column_and_file_name(tmp_path):
    from policyeval.reporting import export_csv

    out = export_csv(_sim_result(), tmp_path / "att.csv")
    assert out.name == "att_SIMULATED.csv"
    back = pd.read_csv(out)
    assert back["is_simulated"].all() and "estimate" in back.columns
    table_out = export_csv(results_table([_sim_result()]), tmp_path / "simulated_table.csv")
    assert table_out.name == "simulated_table.csv"       # already says so
    assert pd.read_csv(table_out)["is_simulated"].all()
    real = export_csv(_result({"ATT": 0.5}, {"ATT": 0.1}), tmp_path / "real.csv")
    assert real.name == "real.csv" and not pd.read_csv(real)["is_simulated"].any()
    frame = pd.DataFrame({"is_simulated": [True, False], "y": [1, 2]})
    assert pd.read_csv(export_csv(frame, tmp_path / "mix.csv", rename_file=False))["is_simulated"].tolist() == [True, True]
    sim_csv = results_table([_sim_result()]).to_csv(tmp_path / "t.csv")
    assert pd.read_csv(sim_csv)["is_simulated"].all()
