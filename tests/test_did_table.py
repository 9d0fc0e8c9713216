"""did_table: Card & Krueger (1994) Table 3 from the public data, conventions, bad input."""

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import (
    ColumnNotFoundError,
    DataError,
    DroppedObservationsWarning,
    PolicyevalError,
)
HERE = Path(__file__).parent
DATA = HERE / "data" / "card_krueger_employment.csv"
_spec = importlib.util.spec_from_file_location("card_krueger_table3",
                                               HERE / "reference" / "card_krueger_table3.py")
ck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ck)


@pytest.fixture(scope="module")
def ck_long():
    w = pd.read_csv(DATA)
    w["fte1"] = w["empft"] + w["nmgrs"] + 0.5 * w["emppt"]
    w["fte2"] = w["empft2"] + w["nmgrs2"] + 0.5 * w["emppt2"]
    long = pd.concat([w.assign(wave=1, fte=w["fte1"]), w.assign(wave=2, fte=w["fte2"])])
    return long[["store_id", "sheet", "state", "wave", "fte"]]


def _check(res, col, printed, tol=ck.PRINTED_DIGITS_TOL, se=True):
    for label, row in (("PA", "0"), ("NJ", "1"), ("NJ-PA", "difference")):
        est, s = printed[label]
        term = f"{row} | {col}"
        assert abs(res.params[term] - est) <= tol, (term, res.params[term], est)
        if se:
            assert abs(res.std_errors[term] - s) <= tol, (term, res.std_errors[term], s)


def test_card_krueger_rows_1_2_hc1(ck_long):
    with pytest.warns(DroppedObservationsWarning, match="dropped 26 of 820 rows"):
        res = pe.did_table(ck_long, "fte", "state", "wave", idname="store_id", vcov="hc1")
    _check(res, "1", ck.ROW1_BEFORE)
    _check(res, "2", ck.ROW2_AFTER)
    assert res.extra["counts"].tolist() == [77, 77, 321, 319]


def test_card_krueger_row_4_balanced_welch(ck_long):
    with pytest.warns(DroppedObservationsWarning) as caught:
        res = pe.did_table(ck_long, "fte", "state", "wave", idname="store_id", balanced=True)
    assert "dropped 26 rows of 26 units observed in only one period" in str(caught[-1].message)
    _check(res, "change", ck.ROW4_CHANGE_BALANCED)
    assert res.nobs == 2 * 384
    # the Welch SE of the mean change is the SE of the mean of the store-level changes
    w = ck_long.pivot(index="store_id", columns="wave", values="fte").dropna()
    d = (w[2] - w[1])[ck_long.groupby("store_id")["state"].first().loc[w.index] == 1]
    assert res.std_errors["1 | change"] == pytest.approx(d.std() / np.sqrt(len(d)), rel=1e-12)


def test_card_krueger_row_3_documented_gap(ck_long):
    """Row 3 from the public release: estimates within 0.01 of print, the known gap stated."""
    with pytest.warns(DroppedObservationsWarning):
        res = pe.did_table(ck_long, "fte", "state", "wave", idname="store_id", vcov="hc1")
    _check(res, "change", ck.ROW3_CHANGE, tol=0.01, se=False)
    assert res.did == pytest.approx(2.7536, abs=1e-4)  # the public data; the paper prints 2.76


def test_welch_differs_from_hc1_where_the_paper_shows(ck_long):
    with pytest.warns(DroppedObservationsWarning):
        welch = pe.did_table(ck_long, "fte", "state", "wave", vcov="welch")
    assert round(welch.std_errors["difference | 2"], 2) == 1.08  # paper (HC1) prints 1.07
    assert welch.std_errors["0 | 1"] == pytest.approx(
        ck_long.query("state == 0 and wave == 1")["fte"].sem(), rel=1e-12)


def test_matches_saturated_regression_and_conventions():
    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame({"g": rng.integers(0, 2, n), "p": rng.integers(0, 2, n)})
    df["y"] = 1 + df.g + 2 * df.p + 0.5 * df.g * df.p + rng.normal(0, 1 + df.g, n)
    X = np.column_stack([np.ones(n), df.g, df.p, df.g * df.p])
    XtX_inv = np.linalg.inv(X.T @ X)
    beta = XtX_inv @ X.T @ df.y.to_numpy()
    y = df.y.to_numpy()
    e = y - X @ beta
    h = np.einsum("ij,jk,ik->i", X, XtX_inv, X)
    hc1 = n / (n - 4) * XtX_inv @ (X.T * e**2) @ X @ XtX_inv
    hc2 = XtX_inv @ (X.T * (e**2 / (1 - h))) @ X @ XtX_inv
    iid = (e @ e) / (n - 4) * XtX_inv
    for vcov, V in (("hc1", hc1), ("hc2", hc2), ("iid", iid)):
        res = pe.did_table(df, "y", "g", "p", vcov=vcov)
        assert res.did == pytest.approx(beta[3], rel=1e-12)
        assert res.did_std_error == pytest.approx(np.sqrt(V[3, 3]), rel=1e-10)
        assert res.std_errors["difference | 0"] == pytest.approx(np.sqrt(V[1, 1]), rel=1e-10)


def test_panel_known_effect_and_table_layout():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"unit": np.repeat(np.arange(4000), 2), "post": np.tile([0, 1], 4000)})
    df["treated"] = (df["unit"] < 1500).astype(int)
    df["y"] = (rng.normal(0, 3, 4000)[df["unit"]] + 2 * df["treated"] + df["post"]
               + 1.5 * df["treated"] * df["post"] + rng.normal(0, 1, len(df)))
    res = pe.did_table(df, "y", group="treated", period="post", idname="unit")
    assert abs(res.did - 1.5) < 4 * res.did_std_error
    # unit effects cancel in the change: its SE is far below the cross-sectional one
    assert res.did_std_error < 0.5 * res.std_errors["difference | 0"]
    t = res.table()
    assert list(t.index) == ["0", "1", "difference"]
    assert t[("estimate", "change")]["difference"] == pytest.approx(res.did)
    assert "DiD" in str(res.summary()) and "<table" in res._repr_html_()
    assert "tabular" in res.summary().as_latex()
    assert res.to_frame()["term"].iloc[-1] == "difference | change"


def test_treated_group_and_post_period_choose_the_sign():
    df = pd.DataFrame({"g": list("aabbaabb"), "p": [0, 1] * 4, "y": [1., 2, 1, 5, 1.5, 2.5, 1, 4]})
    base = pe.did_table(df, "y", "g", "p")
    flipped = pe.did_table(df, "y", "g", "p", treated_group="a")
    assert flipped.did == pytest.approx(-base.did)
    assert list(flipped.table().index) == ["b", "a", "difference"]


@pytest.mark.parametrize("kwargs, error, match", [
    ({"yname": "nope"}, ColumnNotFoundError, "yname='nope' is not a column"),
    ({"group": "three"}, DataError, "group='three' must take exactly two values; found 3"),
    ({"treated_group": "z"}, DataError, "treated_group='z' is not a value of group='g'"),
    ({"vcov": "hc9"}, ValueError, "vcov='hc9' must be one of"),
    ({"balanced": True}, ValueError, "balanced=True needs idname="),
])
def test_bad_input(kwargs, error, match):
    df = pd.DataFrame({"g": list("aabbaabb"), "p": [0, 1] * 4, "y": np.arange(8.0),
                       "three": list("abcabcab")})
    args = {"yname": "y", "group": "g", "period": "p", **kwargs}
    with pytest.raises(error, match=match):
        pe.did_table(df, args.pop("yname"), args.pop("group"), args.pop("period"), **args)


def test_bad_panel_input():
    df = pd.DataFrame({"id": [1, 1, 2, 2, 3, 3, 4, 4], "g": [0, 0, 0, 1, 1, 1, 1, 1],
                       "p": [0, 1] * 4, "y": np.arange(8.0)})
    with pytest.raises(DataError, match="group='g' varies within idname='id' for 1 units"):
        pe.did_table(df, "y", "g", "p", idname="id")
    df.loc[1, "p"] = 0
    with pytest.raises(DataError, match=r"share an \(idname='id', period='p'\) pair") as err:
        pe.did_table(df, "y", "g", "p", idname="id")
    assert isinstance(err.value, PolicyevalError)
    one = pd.DataFrame({"g": [0, 0, 0, 1, 1], "p": [0, 1, 1, 0, 1], "y": np.arange(5.0)})
    with pytest.raises(DataError, match="have fewer than two observations"):
        pe.did_table(one, "y", "g", "p")


def test_invariant_to_row_order(ck_long):
    with pytest.warns(DroppedObservationsWarning):
        a = pe.did_table(ck_long, "fte", "state", "wave", idname="store_id")
    with pytest.warns(DroppedObservationsWarning):
        b = pe.did_table(ck_long.sample(frac=1.0, random_state=0), "fte", "state", "wave",
                         idname="store_id")
    pd.testing.assert_series_equal(a.params, b.params, rtol=1e-12)
    pd.testing.assert_series_equal(a.std_errors, b.std_errors, rtol=1e-12)
