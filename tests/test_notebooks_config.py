"""Checks on the stored case-study notebooks and their reproducibility machinery.

``pytest --nbval notebooks`` re-executes the notebooks and compares outputs;
these fast static checks guard what nbval cannot see: that the stored outputs
come from one clean top-to-bottom run, carry nothing machine-specific, say
what is real and what is simulated, and that the sanitising rules only touch
volatile text. They also test the notebooks' helper functions on small
hand-computed cases.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["01_suzhou_suqian", "02_quzhou_reverse_enclave", "03_zhejiang_mountain_sea",
            "04_methods_compared", "05_bring_your_own_data", "06_two_way_enclaves",
            "07_which_industry_which_partner"]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_nb_{name}", NB_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _texts(cell) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        if o["output_type"] == "stream":
            out.append(o["text"])
        elif o["output_type"] in ("execute_result", "display_data"):
            out += [v for k, v in o["data"].items() if k.startswith("text/") and isinstance(v, str)]
    return out


def test_all_notebooks_are_present():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_outputs_come_from_one_clean_run(path):
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: cells not run once, in order: {counts}"
    for i, cell in enumerate(code):
        kinds = {(o["output_type"], o.get("name")) for o in cell.outputs}
        assert ("error", None) not in {(k, None) for k, _ in kinds}, f"{path.name} cell {i} stored an error"
        assert ("stream", "stderr") not in kinds, (
            f"{path.name} code cell {i} wrote to stderr; route warnings through policyeval.reporting.notebook")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_outputs_hold_nothing_machine_specific(path):
    nb = nbformat.read(path, as_version=4)
    volatile = re.compile(r"/work/|/home/|/Users/|ipykernel_\d+|0x[0-9a-f]{8,}|\d+%\|")
    for i, cell in enumerate(nb.cells):
        for text in _texts(cell):
            hit = volatile.search(text)
            assert hit is None, f"{path.name} cell {i}: machine-specific output {hit.group()!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_says_what_is_real_and_simulated_and_sets_up(path):
    nb = nbformat.read(path, as_version=4)
    intro = nb.cells[0].source
    assert "What is real and what is simulated" in intro
    assert "*Real:*" in intro and "*Simulated:*" in intro
    setup = next(c.source for c in nb.cells if c.cell_type == "code")
    assert "%matplotlib inline" in setup  # figures inline whatever MPLBACKEND says
    assert "use_cjk_font()" in setup
    assert "reports_dir(" in setup
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "write_headline(" in source
    assert "tqdm" not in source and "progress=True" not in source


def test_sanitize_rules_touch_volatile_text_only():
    get_sanitize_patterns = pytest.importorskip("nbval.plugin").get_sanitize_patterns

    rules = get_sanitize_patterns((NB_DIR / "nbval_sanitize.cfg").read_text(encoding="utf-8"))
    assert len(rules) == 4

    def clean(s):
        for regex, repl in rules:
            s = re.sub(regex, repl, s)
        return s

    assert clean("<Axes at 0x7f3a2c1b9d60>") == "<Axes at 0xADDRESS>"
    assert clean("estimation took 3.21 s") == "estimation took TIME"
    assert clean(" 45%|████▌     | 45/100 [00:01<00:02, 30.1it/s]") == " PROGRESS-BAR"
    assert clean("wrote /tmp/tmpab12cd/江苏.xlsx") == "wrote TMPPATH"
    headline = ("0  TWFE (static)    0.0363     0.0424  0.0654 -0.0291\n"
                "kept 119 of 186 units, 2000–2023; p-value 0.1667 (45 placebos), 2020s, 24 s-shaped")
    assert clean(headline) == headline


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_needs_only_policyeval(path):
    """A notebook copied out of the repository runs: it imports no helper module from notebooks/."""
    nb = nbformat.read(path, as_version=4)
    local = {p.stem for p in NB_DIR.glob("*.py")}
    for i, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_]\w*)", cell.source, flags=re.M))
        assert not imported & local, f"{path.name} code cell {i} imports {sorted(imported & local)} from notebooks/"


def test_truth_for_sample_weights_cohorts_by_units_in_the_sample():
    from policyeval.design import truth as nbh
    truth = pd.DataFrame({
        "aggregation": "cohort_event", "role": "destination", "log_outcome": "y", "enclave_type": np.nan,
        "cohort": [2002, 2002, 2002, 2003, 2003],
        "event_time": [-1, 0, 1, -1, 0],
        "att_log": [0.0, 0.10, 0.20, 0.0, 0.40],
    })
    # cohort 2002 has 3 units in the sample, cohort 2003 one; panel 2000-2003
    units = {"a": 2002, "b": 2002, "c": 2002, "d": 2003, "e": 0}
    sample = pd.DataFrame([(u, t, g) for u, g in units.items() for t in range(2000, 2004)],
                          columns=["county_code", "year", "g"])
    path, overall = nbh.truth_for_sample(truth, sample, log_outcome="y", role="destination", gname="g")
    assert path.loc[0] == pytest.approx((3 * 0.10 + 1 * 0.40) / 4)
    assert path.loc[1] == pytest.approx(0.20)
    assert path.loc[-1] == 0.0
    # post cells: (2002,0) w3, (2002,1) w3, (2003,0) w1
    assert overall == pytest.approx((3 * 0.10 + 3 * 0.20 + 0.40) / 7)
    # a cell beyond the sample's last year is not estimable and leaves the truth
    short = sample[sample["year"] <= 2002]
    path2, overall2 = nbh.truth_for_sample(truth, short, log_outcome="y", role="destination", gname="g")
    assert 1 not in path2.index and overall2 == pytest.approx((3 * 0.10) / 3)


def test_add_ratio_truth_is_the_difference_of_log_effects():
    from policyeval.design import truth as nbh
    base = dict(is_simulated=True, aggregation="cohort_event", outcome="o", role="origin",
                enclave_type=np.nan, cohort=2010, event_time=0, n_obs=1, n_units=1, att=1.0)
    truth = pd.DataFrame([{**base, "log_outcome": "log_va", "att_log": 0.30},
                          {**base, "log_outcome": "log_land", "att_log": 0.05}])
    out = nbh.add_ratio_truth(truth, "log_va", "log_land", "log_va_per_mu")
    row = out[out["log_outcome"] == "log_va_per_mu"]
    assert len(row) == 1 and row["att_log"].iloc[0] == pytest.approx(0.25)


def test_echo_warnings_prints_each_warning_once_to_stdout(capsys):
    import warnings

    from policyeval.reporting import notebook as nbh

    with nbh.echo_warnings("fit"):
        for _ in range(3):
            warnings.warn("dropped 2 rows", UserWarning)
        warnings.warn("old API", DeprecationWarning)
    captured = capsys.readouterr()
    assert captured.out == "[fit] UserWarning: dropped 2 rows\n"
    assert captured.err == ""


def test_write_headline_and_summary_round_trip(tmp_path):
    from policyeval.reporting import notebook as nbh

    run_all = _load("run_all")
    out = tmp_path / "notebooks" / "09_toy"
    out.mkdir(parents=True)
    frame = nbh.write_headline(out, "09 toy", [
        {"quantity": "ATT", "estimate": 0.123456, "std_error": 0.01, "truth": 0.1},
        {"quantity": "p-value", "estimate": 0.5, "std_error": np.nan, "truth": np.nan}])
    assert frame["estimate"].tolist() == [0.1235, 0.5]
    stored = json.loads((out / "headline.json").read_text(encoding="utf-8"))
    assert stored["rows"][1]["std_error"] is None
    text = run_all.summary(tmp_path)
    assert "09 toy" in text and "+0.1235" in text and "+0.1000" in text


def test_run_all_finds_the_notebooks_in_order():
    run_all = _load("run_all")
    assert [p.stem for p in run_all.notebooks()] == EXPECTED
    assert [p.stem for p in run_all.notebooks(["04", "01"])] == ["01_suzhou_suqian", "04_methods_compared"]
    with pytest.raises(SystemExit, match="no notebook"):
        run_all.notebooks(["99"])
