"""The input layer (policyeval.estimators._inputs): one answer to one mistake, whichever
estimator meets it.

Data: a small SIMULATED staggered panel generated below (seeded); only the checks are
tested here, the estimates are tested in each estimator's own file.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from policyeval.estimators.continuous import ContinuousDiD
from policyeval.estimators.imputation import ImputationDiD
from policyeval.estimators.staggered import CallawaySantAnna
from policyeval.estimators.sun_abraham import SunAbraham
from policyeval.estimators.synthetic import SyntheticDiD
from policyeval.estimators.triple import TripleDiD
from policyeval.estimators.twfe import TWFE
from policyeval.estimators.two_stage import TwoStageDiD
from policyeval.exceptions import DataError, DuplicateObservationError, TreatmentTimingError


def simulated_panel(seed: int = 7) -> pd.DataFrame:
    """SIMULATED: 30 units, 2001..2008, cohorts 2004 / 2006 / never, effect 1 after treatment."""
    rng = np.random.default_rng(seed)
    units = np.arange(1, 31)
    g = np.select([units <= 10, units <= 20], [2004, 2006], 0)
    years = np.arange(2001, 2009)
    df = pd.DataFrame({"id": np.repeat(units, len(years)), "year": np.tile(years, len(units)),
                       "g": np.repeat(g, len(years))})
    treated = (df["g"] > 0) & (df["year"] >= df["g"])
    df["y"] = (0.1 * df["id"] + 0.2 * (df["year"] - 2000) + treated
               + rng.normal(scale=0.5, size=len(df)))
    df["dose"] = np.where(df["g"] > 0, (df["id"] % 5 + 1) / 5.0, 0.0)
    df["q"] = (df["id"] % 2).astype(int)
    df["D"] = ((df["g"] == 2006) & (df["year"] >= 2006)).astype(int)   # SyntheticDiD's block
    return df


# each entry fits one preparer: (name, fit(data))
FITS = {
    "CallawaySantAnna": lambda d: CallawaySantAnna().fit(d, yname="y", tname="year",
                                                         idname="id", gname="g"),
    "ImputationDiD": lambda d: ImputationDiD().fit(d, yname="y", tname="year", idname="id",
                                                   gname="g"),
    "TwoStageDiD": lambda d: TwoStageDiD().fit(d, "y", "year", "id", gname="g"),
    "TWFE": lambda d: TWFE().fit(d, "y", "year", "id", gname="g"),
    "SunAbraham": lambda d: SunAbraham().fit(d, "y", "year", "id", "g"),
    "ContinuousDiD": lambda d: ContinuousDiD().fit(d, "y", "year", "id", "g", "dose"),
    "TripleDiD": lambda d: TripleDiD().fit(d, "y", "year", "id", "g", "q"),
    "SyntheticDiD": lambda d: SyntheticDiD(se_method=None).fit(
        d[d["g"] != 2004], "y", "year", "id", treatment="D"),
}


@pytest.fixture(scope="module")
def panel():
    return simulated_panel()


@pytest.mark.parametrize("name", list(FITS))
def test_every_preparer_refuses_dates_with_the_same_advice(panel, name):
    dated = panel.assign(year=pd.to_datetime(panel["year"].astype(str) + "-01-01"))
    with pytest.raises(DataError, match=r"^tname='year' holds dates .*convert to years"):
        FITS[name](dated)


@pytest.mark.parametrize("name", list(FITS))
def test_every_preparer_refuses_fractional_periods(panel, name):
    df = panel.assign(year=panel["year"].astype(float))
    df.loc[df["id"] == 25, "year"] += 0.5
    with pytest.raises(DataError, match=r"^tname='year' must hold integer periods; found "
                                        r"non-integer values .* for units 25"):
        FITS[name](df)


@pytest.mark.parametrize("name", list(FITS))
def test_every_preparer_refuses_an_implausible_year(panel, name):
    df = panel.copy()
    df.loc[(df["id"] == 26) & (df["year"] == 2003), "year"] = 20003
    with pytest.raises(DataError, match=r"^tname='year' has 1 implausible year\(s\) \(e\.g\. "
                                        r"20003\) in units \(e\.g\. 26\) among calendar years "
                                        r"2001\.\.2008"):
        FITS[name](df)


@pytest.mark.parametrize("name", list(FITS))
def test_every_preparer_finds_duplicate_unit_periods(panel, name):
    dup = pd.concat([panel, panel[(panel["id"] == 27) & (panel["year"] == 2002)]])
    with pytest.raises(DuplicateObservationError, match=r"27"):
        FITS[name](dup)


@pytest.mark.parametrize("name", ["CallawaySantAnna", "ImputationDiD", "ContinuousDiD",
                                  "TripleDiD", "SyntheticDiD"])
def test_one_duplicate_message(panel, name):
    dup = pd.concat([panel, panel[(panel["id"] == 27) & (panel["year"] == 2002)]])
    with pytest.raises(DuplicateObservationError) as err:
        FITS[name](dup)
    assert str(err.value) == (
        "2 rows share an (idname='id', tname='year') pair in 1 units (e.g. 27): 1 (id, year) pairs "
        "appear more than once (e.g. (27, 2002)); keep one row per unit and period")


@pytest.mark.parametrize("name", list(FITS))
def test_every_preparer_refuses_an_infinite_outcome(panel, name):
    df = panel.copy()
    df.loc[(df["id"] == 28) & (df["year"] == 2005), "y"] = np.inf
    with pytest.raises(DataError, match=r"yname='y' has 1 infinite values \(e\.g\. inf\) in "
                                        r"units \(e\.g\. 28\)"):
        FITS[name](df)


@pytest.mark.parametrize("name", ["CallawaySantAnna", "ImputationDiD", "TwoStageDiD", "TWFE",
                                  "SunAbraham", "ContinuousDiD", "TripleDiD"])
def test_every_gname_estimator_refuses_a_negative_or_indicator_gname(panel, name):
    df = panel.copy()
    df.loc[df["id"] == 5, "g"] = -2004
    with pytest.raises(TreatmentTimingError, match=r"^gname='g' must be a positive integer "
                                                   r"period .*in units \(e\.g\. 5\)"):
        FITS[name](df)
    with pytest.raises(TreatmentTimingError, match=r"^gname='g' holds only 0 and 1"):
        FITS[name](panel.assign(g=(panel["g"] > 0).astype(int)))
