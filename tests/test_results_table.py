"""pe.results_table: fixest-etable layout for several estimators, in every output format."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import PolicyevalError
from policyeval.results import EstimationResult

COLS = dict(yname="y", tname="year", idname="county_code", gname="first_treat")


def staggered_panel(n=90, seed=3):
    """Seeded staggered panel with a true effect of 0.5 (generated here, not real data)."""
    rng = np.random.default_rng(seed)
    years = np.arange(2001, 2011)
    g = rng.choice([0, 2004, 2006, 2008], n)
    df = pd.DataFrame({"county_code": np.repeat(np.arange(n) + 320100, len(years)),
                       "year": np.tile(years, n), "first_treat": np.repeat(g, len(years))})
    treated = (df.first_treat > 0) & (df.year >= df.first_treat)
    df["y"] = (np.repeat(rng.normal(size=n), len(years)) + 0.05 * (df.year - 2000)
               + 0.5 * treated + rng.normal(scale=0.2, size=len(df)))
    return df


@pytest.fixture(scope="module")
def fits():
    panel = staggered_panel()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cs = pe.CallawaySantAnna(control_group="not_yet_treated").fit(panel, **COLS)
        return {
            "twfe": pe.TWFE().fit(panel, **COLS),
            "cs": cs.aggregate("simple"),
            "cs_dyn": cs.aggregate("dynamic", min_e=-2, max_e=2),
            "es": pe.EventStudy(window=(-2, 2)).fit(panel, **COLS),
            "bjs": pe.ImputationDiD().fit(panel, **COLS),
        }


def _toy(term="ATT", est=0.1, se=0.02, **spec):
    return EstimationResult(pd.Series({term: est}), pd.Series({term: se}), nobs=100, n_units=10,
                            spec=spec, estimator="toy")


def test_headline_effects_of_different_estimators_share_the_att_row(fits):
    table = pe.results_table([fits["twfe"], fits["cs"], fits["bjs"]], labels=["TWFE", "CS", "BJS"],
                             digits=4, stars=False)
    frame = table.frame
    assert frame.index[0] == "ATT" and frame.index[1] == ""
    # each cell is that estimator's own headline number, whatever it calls it
    twfe_term = fits["twfe"].params.index[0]                      # 'treated' or 'ATT'
    expected = [fits["twfe"].params[twfe_term], fits["cs"].params.iloc[0],
                fits["bjs"].params.iloc[0]]
    assert frame.iloc[0].tolist() == [f"{v:.4f}" for v in expected]
    ses = [fits["twfe"].std_errors.iloc[0], fits["cs"].std_errors.iloc[0], fits["bjs"].std_errors.iloc[0]]
    assert frame.iloc[1].tolist() == [f"({v:.4f})" for v in ses]
    assert all(abs(v - 0.5) < 0.15 for v in expected)           # the simulated effect is 0.5


def test_fact_rows_say_how_each_column_was_estimated(fits):
    frame = pe.results_table({"TWFE": fits["twfe"], "CS": fits["cs"]}).frame
    assert frame.loc["Outcome"].tolist() == ["y", "y"]
    assert frame.loc["Estimator"].tolist() == ["TWFE", "CS, simple (dr)"]
    assert frame.loc["Control group"].tolist() == ["", "not yet treated"]
    assert frame.loc["FE: county_code"].tolist() == ["Yes", ""]   # CS is not a FE regression
    assert frame.loc["FE: year"].tolist() == ["Yes", ""]
    assert frame.loc["Cluster"].tolist() == ["county_code", "county_code"]
    assert frame.loc["N obs."].tolist() == [f"{fits['twfe'].nobs:,}", f"{fits['cs'].nobs:,}"]
    assert frame.loc["N units"].tolist() == ["90", "90"]


def test_event_times_line_up_across_estimators_and_aggregates_bring_their_overall(fits):
    table = pe.results_table({"CS": fits["cs_dyn"], "ES": fits["es"]}, stars=False)
    labels = [r for r in table.frame.index if r]
    assert labels[:1] == ["ATT"]                  # CS dynamic's overall summary on the ATT row
    for e in (-2, 0, 1, 2):
        row = table.frame.loc[f"e = {e}"]
        assert row.iloc[0] == f"{fits['cs_dyn'].params[e]:.3f}"
        assert row.iloc[1] == f"{fits['es'].params[e]:.3f}"
    assert table.frame.loc["ATT"].iloc[1] == ""   # the event study has no overall effect


def test_att_and_its_old_names_are_one_row():
    frame = pe.results_table([_toy("ATT"), _toy("treated"), _toy("overall"), _toy("att")]).frame
    assert frame.index.tolist()[:2] == ["ATT", ""]
    assert frame.iloc[0].tolist() == ["0.100***"] * 4


def test_keep_drop_rename_labels_and_stats():
    res = EstimationResult(pd.Series({-1: 0.0, 0: 0.2, 1: 0.3}), pd.Series({-1: 0.1, 0: 0.1, 1: 0.1}),
                           nobs=50, n_units=5, spec={}, estimator="toy", index_name="event_time")
    table = pe.results_table([res], drop=r"e = -", rename={"e = 0": "On impact"}, stats=("nobs",))
    assert [r for r in table.frame.index if r] == ["On impact", "e = 1", "N obs."]
    assert pe.results_table([res], keep="e = 1", stats=None).frame.index.tolist() == ["e = 1", ""]
    with pytest.raises(PolicyevalError, match="labels has 2 entries for 1 results"):
        pe.results_table([res], labels=["a", "b"])
    with pytest.raises(PolicyevalError, match=r"stats=\['r2'\] not among"):
        pe.results_table([res], stats=("r2",))
    with pytest.raises(PolicyevalError, match="has no 'params'"):
        pe.results_table([object()])


def test_latex_is_booktabs_with_threeparttable_notes_and_no_comments():
    table = pe.results_table({"苏宿 (1)": _toy(est=-0.25, se=0.1, yname="log_gdp")}, caption="飞地 effects",
                             label="tab:att")
    tex = table.to_latex()
    assert not [line for line in tex.splitlines() if line.lstrip().startswith("%")]
    order = [r"\begin{table}", r"\begin{threeparttable}", r"\caption{飞地 effects}", r"\label{tab:att}",
             r"\begin{tabular}{lc}", r"\toprule", r"\midrule", r"\bottomrule", r"\end{tabular}",
             r"\begin{tablenotes}", r"\item Standard errors in parentheses.", r"\end{tablenotes}",
             r"\end{threeparttable}", r"\end{table}"]
    positions = [tex.index(s) for s in order]
    assert positions == sorted(positions)
    assert r"ATT & $-$0.250$^{**}$ \\" in tex and r" & (0.100) \\" in tex
    assert r"Outcome & log\_gdp \\" in tex and "苏宿 (1)" in tex
    assert r"\begin{table}" not in table.to_latex(float_env=False)


def test_rows_added_to_the_frame_show_in_every_format_under_a_rule():
    table = pe.results_table([_toy()], stats=("nobs",))
    table.frame.loc["True ATT (simulation)"] = ["0.1000"]
    tex = table.to_latex()
    assert re.search(r"\\midrule\nTrue ATT \(simulation\) & 0\.1000", tex)
    assert "True ATT (simulation)" in str(table) and "True ATT (simulation)" in table.to_html()


def test_simulated_results_are_labelled_in_caption_notes_text_and_html():
    sim = EstimationResult(pd.Series({"ATT": 0.1}), pd.Series({"ATT": 0.02}), nobs=100, n_units=10,
                           spec={}, estimator="toy", extra={"simulated": True})
    table = pe.results_table([_toy(), sim], caption="Forward parks")
    tex = table.to_latex()
    assert r"\caption{SIMULATED DATA (not real statistics). Forward parks}" in tex
    assert r"\item SIMULATED DATA (not real statistics). Standard errors" in tex
    assert str(table).startswith("SIMULATED DATA") and "SIMULATED DATA" in table.to_html()
    real = pe.results_table([_toy()], caption="Forward parks")
    assert "SIMULATED" not in real.to_latex() + str(real) + real.to_html()


def test_summary_as_latex_uses_the_same_estimate_over_se_layout(fits):
    res = fits["twfe"]
    tex = res.summary().as_latex()
    table_tex = pe.results_table([res], digits=4).to_latex()
    cell = re.search(r"\nATT & ([^\\]+) \\\\\n & (\([0-9.]+\)) \\\\", table_tex).groups()
    assert f"ATT & {cell[0]} \\\\\n & {cell[1]} \\\\" in tex
    assert r"\begin{tablenotes}" in tex and "\n%" not in tex and not tex.startswith("%")


def test_text_output_lines_up_columns():
    text = str(pe.results_table([_toy(), _toy(est=12.5, se=3.0)], labels=["short", "a long title"]))
    lines = text.splitlines()
    att = next(line for line in lines if line.startswith("ATT"))
    header = next(line for line in lines if "a long title" in line)
    assert att.rstrip().endswith("12.500***") and len(att.rstrip()) == len(header.rstrip())


# --- compiling the LaTeX ---------------------------------------------------------------------
# Debian bookworm, measured on the CI image: `apt-get install -y --no-install-recommends
# texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-xetex` took 81 s
# (70 MB download, 339 MB on disk); texlive-lang-chinese (xeCJK, ctex) 110 s more (66 MB, 154 MB).
# When the engines are absent these tests skip and the structural tests above still run.

def _compile(tmp_path, engine, document):
    import subprocess

    (tmp_path / "t.tex").write_text(document, encoding="utf-8")
    run = subprocess.run([engine, "-interaction=nonstopmode", "-halt-on-error", "t.tex"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120)
    log = (tmp_path / "t.log").read_text(encoding="utf-8", errors="replace")
    assert run.returncode == 0, log[-3000:]
    assert (tmp_path / "t.pdf").stat().st_size > 1000
    return log


def _needs(engine, *styles):
    import shutil
    import subprocess

    if shutil.which(engine) is None:
        pytest.skip(f"{engine} not installed (apt-get install texlive-latex-extra texlive-xetex)")
    for sty in styles:
        found = subprocess.run(["kpsewhich", sty], capture_output=True, text=True).stdout.strip()
        if not found:
            pytest.skip(f"{sty} not installed (apt-get install texlive-lang-chinese)")


def test_latex_table_compiles_with_pdflatex(tmp_path, fits):
    _needs("pdflatex", "booktabs.sty", "threeparttable.sty")
    from policyeval.reporting.tables import latex_document

    table = pe.results_table({"TWFE": fits["twfe"], "CS_simple": fits["cs"], "50% & more": fits["bjs"]},
                             caption="Effects on y", label="tab:y", simulated=True,
                             notes="Clustered by county_code; p<0.1 is marked.")
    log = _compile(tmp_path, "pdflatex", latex_document(table.to_latex(),
                                                        fits["twfe"].summary().as_latex()))
    assert "Undefined control sequence" not in log and "Missing character" not in log


def test_chinese_labels_compile_with_xelatex_and_xecjk(tmp_path):
    _needs("xelatex", "xeCJK.sty", "booktabs.sty", "threeparttable.sty")
    from policyeval.plots.fonts import cjk_font_path
    from policyeval.reporting.tables import latex_document

    table = pe.results_table({"苏宿工业园区": _toy(yname="亩均税收"), "衢州海创园": _toy()},
                             caption="飞地的效应", rename={"ATT": "飞入地 ATT"})
    doc = latex_document(r"\tracinglostchars=2", table.to_latex(), cjk_font=cjk_font_path())
    log = _compile(tmp_path, "xelatex", doc)
    assert "Missing character" not in log
    # guard: the same document without xeCJK loses the Chinese glyphs, and the log says so
    bare = _compile(tmp_path, "xelatex", doc.replace(r"\usepackage{xeCJK}", "").replace(
        doc.splitlines()[4], ""))
    assert "Missing character" in bare
