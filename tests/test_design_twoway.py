"""The two-way spillover (双向外溢) test of ``two_sided``: known truth, hand-computed covariance.

Two-way spillover means *both* sides gain: ``two_sided`` tests it as an
intersection-union test and reports a loss on either side as its own
finding. The SIMULATED panels below are drawn with policyeval's simulator
with the origin's GDP effect set by hand (every enclave type), so the truth
is known. The net effect's standard error uses the covariance of the two
sides' estimates through their shared control units; it is checked against
the covariance computed by hand from the DiD formula on a tiny panel.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.data.simulate import default_effects, simulate_enclave_panel
from policyeval.design import enclave_design, two_sided
from policyeval.design.sides import EXPECTED_GAIN, expected_gainer, unit_influence
from policyeval.exceptions import DesignError

pytestmark = pytest.mark.filterwarnings("ignore::policyeval.exceptions.PolicyevalWarning")


def simulated_design(origin_plateau: float, destination_plateau: float | None = None):
    """A SIMULATED panel whose GDP effect on every origin (and destination) is set by hand."""
    eff = default_effects()
    gdp = eff["outcome"] == "gdp_wan"
    eff.loc[gdp & (eff["role"] == "origin"), "plateau"] = origin_plateau
    if destination_plateau is not None:
        eff.loc[gdp & (eff["role"] == "destination"), "plateau"] = destination_plateau
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel, truth = simulate_enclave_panel(effect_sizes=eff)
        return enclave_design(panel), truth


@pytest.fixture(scope="module")
def origin_loses():
    return simulated_design(-0.40)


@pytest.fixture(scope="module")
def both_gain():
    return simulated_design(0.40, 0.40)


def test_origin_loss_is_not_two_way_spillover(origin_loses):
    design, truth = origin_loses
    overall = truth[(truth.aggregation == "overall") & (truth.log_outcome == "log_gdp")].set_index("role")
    assert overall.loc["origin", "att_log"] < -0.05          # the truth: origins lose
    res = two_sided(design, "log_gdp")
    assert res.overall.loc["origin", "estimate"] < 0
    assert res.verdict["two_way"].startswith("not supported: origin loses")
    assert "displacement / relocation without return" in res.verdict["two_way"]
    assert res.verdict["origin"].startswith("loses")
    rows = res.tests.set_index("hypothesis")
    assert not rows.loc["two-way (IUT): both sides gain", "reject"]
    assert rows.loc["origin loses (displacement)", "reject"]
    assert rows.loc["two-way (IUT): both sides gain", "p_value"] > 0.99


def test_both_sides_gain_supports_two_way(both_gain):
    design, truth = both_gain
    overall = truth[(truth.aggregation == "overall") & (truth.log_outcome == "log_gdp")].set_index("role")
    assert (overall.loc[["origin", "destination"], "att_log"] > 0.05).all()
    res = two_sided(design, "log_gdp")
    assert res.verdict["two_way"].startswith("supported: both sides gain")
    rows = res.tests.set_index("hypothesis")
    p_o, p_d = rows.loc["origin gains", "p_value"], rows.loc["destination gains", "p_value"]
    assert rows.loc["two-way (IUT): both sides gain", "p_value"] == max(p_o, p_d) < 0.05
    assert res.verdict["origin"].startswith("gains") and res.verdict["destination"].startswith("gains")


def test_one_side_zero_is_not_two_way(both_gain):
    # the destination gains, the origin's effect is nil: IUT not rejected, no loss claimed
    design, _ = simulated_design(0.0, 0.40)
    res = two_sided(design, "log_gdp", types=("forward",))
    assert res.verdict["two_way"].startswith("not supported: no gain detected for the origin")
    assert res.expected_gain == "destination"
    assert "poorer host" in res.verdict["expected"]


@pytest.mark.parametrize(("types", "side", "words"), [
    (("forward",), "destination", "poorer host"),
    (("reverse_science",), "origin", "flies out"),
    (("poverty_relief",), "origin", "村集体"),
    (("forward", "reverse_science"), "mixed", "pass types="),
])
def test_expected_gainer_is_type_aware(types, side, words):
    got, why = expected_gainer(types)
    assert got == side and words in why
    assert set(EXPECTED_GAIN) == set(pe.data.registry.ENCLAVE_TYPES)
    with pytest.raises(DesignError, match=r"unknown enclave type\(s\) \['nope'\]"):
        expected_gainer(["nope"])


def test_reverse_enclave_verdict_names_the_origin(both_gain):
    design, _ = both_gain
    res = two_sided(design, "log_gdp", types=("reverse_science",), min_e=-3, max_e=3)
    assert res.expected_gain == "origin"
    assert res.verdict["expected"].startswith("the origin (a reverse / science enclave")
    # both sides gain here, so the one-way reading (origin gains, destination does not) is
    # rejected, and the text names the destination as the side that was not expected to gain
    assert res.verdict["one_way"] == "rejected: the destination gains as well (see two_way)"


def test_unit_influence_reproduces_the_standard_errors():
    design = enclave_design(pe.load_simulated_panel())
    res = two_sided(design, "log_gdp", min_e=-3, max_e=3)
    for role in ("origin", "destination"):
        agg, gt = res.results[role], res.group_time[role]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = design.sample(role, gname="g")
        u = unit_influence(agg, gt, data, yname="log_gdp", idname="county_code", tname="year", gname="g")
        assert u is not None and u.index.is_unique
        assert np.sqrt((u ** 2).sum()) == pytest.approx(agg.overall["std_error"], rel=1e-10)
    net = res.net
    o, d = res.overall.loc["origin"], res.overall.loc["destination"]
    assert net["estimate"] == pytest.approx(o["estimate"] + d["estimate"], rel=1e-12)
    assert net["std_error"] ** 2 == pytest.approx(o["std_error"] ** 2 + d["std_error"] ** 2
                                                  + 2 * net["covariance"], rel=1e-10)
    assert net["n_shared_units"] > 50 and net["covariance"] > 0


# --- the covariance by hand on a tiny panel ---------------------------------------------------
REG_COLUMNS = [
    "enclave_id", "name_zh", "name_en", "type", "origin_name", "origin_code", "destination_name",
    "destination_code", "code_vintage", "agreement_year", "opening_year", "area_km2", "area_mu",
    "share_to_origin", "share_years", "share_cap", "fixed_return_rate", "fixed_return_years",
    "fixed_return_amount_wan", "investment_yi", "source_url", "source_url_2", "notes",
]  # fmt: skip
ORIGINS = ["320505", "320506", "320507"]
DESTS = ["321302", "321311", "321323"]
CONTROLS = ["320508", "320509", "320581", "330106", "330110", "330802", "330803", "330825"]


def tiny_design(drop_rows=()):
    reg = pd.DataFrame([{c: np.nan for c in REG_COLUMNS}
                        | dict(enclave_id=f"E{k}", name_zh=f"E{k}", type="forward", origin_code=o, origin_name=o,
                               destination_code=dd, destination_name=dd, opening_year=2011,
                               source_url="http://x.org")
                        for k, (o, dd) in enumerate(zip(ORIGINS, DESTS))])
    rng = np.random.default_rng(7)
    units = ORIGINS + DESTS + CONTROLS
    panel = pd.DataFrame([(c, y) for c in units for y in (2010, 2011)], columns=["county_code", "year"])
    panel["y"] = rng.normal(size=len(panel)) + np.where(panel["year"] == 2011, rng.normal(), 0.0)
    panel = panel.drop(index=list(drop_rows)).reset_index(drop=True)
    return enclave_design(panel, reg, name_column=None), panel


def hand_contributions(panel, treated):
    """u_i of the 2x2 DiD of cell means, summed by unit (rows = observations, as a cross-section)."""
    u = {}
    for group, sign in ((treated, 1.0), (CONTROLS, -1.0)):
        for year, s in ((2011, 1.0), (2010, -1.0)):
            cell = panel[panel.county_code.isin(group) & (panel.year == year)]
            for c, y in zip(cell.county_code, cell.y):
                u[c] = u.get(c, 0.0) + sign * s * (y - cell.y.mean()) / len(cell)
    return pd.Series(u)


@pytest.mark.parametrize("drop_rows", [(), (1, 16, 20)], ids=["balanced", "unbalanced"])
def test_net_standard_error_equals_hand_covariance(drop_rows):
    design, panel = tiny_design(drop_rows)
    res = two_sided(design, "y", min_e=0, max_e=0)
    u_o, u_d = hand_contributions(panel, ORIGINS), hand_contributions(panel, DESTS)
    theta_o = res.overall.loc["origin", "estimate"]
    by_hand_o = (panel[panel.county_code.isin(ORIGINS)].groupby("year").y.mean().diff().iloc[-1]
                 - panel[panel.county_code.isin(CONTROLS)].groupby("year").y.mean().diff().iloc[-1])
    assert theta_o == pytest.approx(by_hand_o, rel=1e-10)
    # with a balanced panel the estimator works on unit differences: same numbers
    assert res.overall.loc["origin", "std_error"] == pytest.approx(np.sqrt((u_o ** 2).sum()), rel=1e-8)
    assert res.overall.loc["destination", "std_error"] == pytest.approx(np.sqrt((u_d ** 2).sum()), rel=1e-8)
    # the two sides share only the controls: covariance = sum over controls of u_O * u_D
    cov = float((u_o.reindex(CONTROLS) * u_d.reindex(CONTROLS)).sum())
    assert cov > 0
    assert res.net["covariance"] == pytest.approx(cov, rel=1e-8)
    assert res.net["n_shared_units"] == len(CONTROLS)
    var = (u_o ** 2).sum() + (u_d ** 2).sum() + 2 * cov
    assert res.net["std_error"] == pytest.approx(np.sqrt(var), rel=1e-8)
    # ignoring the shared controls would understate the net standard error
    assert res.net["std_error"] > np.sqrt((u_o ** 2).sum() + (u_d ** 2).sum())
