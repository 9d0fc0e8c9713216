"""Dask engine, dense per-unit path (compact integer ids, no shuffle) == groupby path == in memory."""

import warnings

import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.scale import make_engine
from policyeval.scale.cohort_sums import callaway_santanna_from_engine
from policyeval.scale.sufficient import event_study_from_engine, twfe_from_engine

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from policyeval.scale.dask_dense import _locate, _slot, _stream  # noqa: E402
from tests.test_scale_equality import make_panel, same_cs, same_regression  # noqa: E402


@pytest.fixture(scope="module")
def panel():
    return make_panel(n=240)


def _frame(df, npartitions=4, seed=1):
    # rows shuffled, so a partition holds several periods and repeated units
    return dd.from_pandas(df.sample(frac=1, random_state=seed), npartitions=npartitions, sort=False)


def _fit(kind, est, ddf, dense, **kw):
    engine = make_engine(ddf, "dask", dense=dense)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "cs":
            res = callaway_santanna_from_engine(engine, est, yname="y", tname="year", idname="firm",
                                                gname="first_treat", cluster=est.cluster, **kw)
        elif kind == "twfe":
            res = twfe_from_engine(engine, est, yname="y", tname="year", idname="firm", **kw)
        else:
            res = event_study_from_engine(engine, est, yname="y", tname="year", idname="firm",
                                          gname="first_treat", **kw)
    return engine, res


CASES = [
    ("cs", pe.CallawaySantAnna(method="reg"), {}),
    ("cs", pe.CallawaySantAnna(method="reg", cluster="county", control_group="not_yet_treated"), {}),
    ("cs", pe.CallawaySantAnna(method="reg", cluster="county", base_period="universal", anticipation=1), {}),
    ("twfe", pe.TWFE(cluster="county"), {"gname": "first_treat", "covariates": "x"}),
    ("twfe", pe.TWFE(), {"treatment": "d"}),
    ("twfe", pe.TWFE(vcov="iid"), {"gname": "first_treat"}),
    ("event_study", pe.EventStudy(window=(-2, 3), cluster="county"), {"covariates": "x"}),
    ("event_study", pe.EventStudy(), {}),
]


@pytest.mark.parametrize("kind,est,kw", CASES)
def test_dense_path_equals_groupby_path_and_in_memory(panel, client, kind, est, kw):
    ddf = _frame(panel)
    dense_engine, dense = _fit(kind, est, ddf, None, **kw)
    shuffle_engine, shuffle = _fit(kind, est, ddf, False, **kw)
    assert dense_engine._units is not None and dense_engine._units.R == 240
    assert shuffle_engine._units is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "cs":
            mem = est.fit(panel, "y", "year", "firm", "first_treat")
        elif kind == "twfe":
            mem = est.fit(panel, "y", "year", "firm", **kw)
        else:
            mem = est.fit(panel, "y", "year", "firm", "first_treat", **kw)
    check = same_cs if kind == "cs" else same_regression
    check(mem, dense)
    check(shuffle, dense)


def test_scattered_partitions_use_sorted_unit_positions(client):
    # 2000 firms, 3 years, 60 partitions of ~100 shuffled rows: each partition's ids span
    # most of the range, so its partial sums are keyed by the distinct ids it holds
    df = make_panel(n=2000, years=range(2001, 2004), seed=3, cohorts=(0, 2002, 2003))
    ddf = _frame(df, npartitions=60, seed=2)
    part = ddf.get_partition(0).compute()
    where, loc, m = _locate(part["firm"].to_numpy(), int(df.firm.min()))
    assert not isinstance(where, int) and m == part["firm"].nunique()
    est = pe.CallawaySantAnna(method="reg", cluster="county")
    engine, res = _fit("cs", est, ddf, None)
    assert engine._units is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_cs(est.fit(df, "y", "year", "firm", "first_treat"), res)
        twfe = pe.TWFE(cluster="county")
        same_regression(twfe.fit(df, "y", "year", "firm", gname="first_treat"),
                        _fit("twfe", twfe, ddf, None, gname="first_treat")[1])


@pytest.mark.parametrize("relabel", ["spread", "string"])
def test_ids_that_are_not_compact_integers_take_the_groupby_path(panel, client, relabel):
    df = panel.copy()
    # spread: range 1e6 x the number of firms; string: no range at all
    df["firm"] = df["firm"] * 1_000_003 if relabel == "spread" else "f" + df["firm"].astype(str)
    est = pe.CallawaySantAnna(method="reg", cluster="county")
    engine, res = _fit("cs", est, _frame(df), None)
    assert engine._units is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_cs(est.fit(df, "y", "year", "firm", "first_treat"), res)


def test_string_cluster_takes_the_groupby_path(panel, client):
    df = panel.assign(county=lambda d: "c" + d["county"].astype(str))
    est = pe.CallawaySantAnna(method="reg", cluster="county")
    engine, res = _fit("cs", est, _frame(df), None)
    assert engine._units is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        same_cs(est.fit(df, "y", "year", "firm", "first_treat"), res)


@pytest.mark.parametrize("problem,error,match", [
    ("duplicate", pe.exceptions.DuplicateObservationError, r"\(5003, 2004\)"),
    # an unbalanced panel is handed over too: Callaway-Sant'Anna then drops the unit, as in memory
    ("unbalanced", pe.exceptions.DroppedObservationsWarning, r"Dropped 1 units .* not observed in all"),
    ("timing", pe.exceptions.TreatmentTimingError, r"varies within idname='firm' for 1 units \(e.g. 5003\)"),
    ("cluster", pe.exceptions.DataError, r"cluster='county' varies within idname='firm' for 1 units"),
])
def test_dense_checks_hand_errors_to_the_groupby_path(panel, client, problem, error, match):
    df = panel.copy()
    row = df.index[(df.firm == 5003) & (df.year == 2004)][0]
    if problem == "duplicate":
        df = pd.concat([df, df.loc[[row]]])
    elif problem == "unbalanced":
        df = df.drop(index=row)
    elif problem == "timing":
        df.loc[row, "first_treat"] = 2001 if df.loc[row, "first_treat"] != 2001 else 2003
    else:
        df.loc[row, "county"] += 1
    est = pe.CallawaySantAnna(method="reg", cluster="county")
    if problem == "unbalanced":
        engine = make_engine(_frame(df), "dask", dense=None)
        with pytest.warns(error, match=match):
            res = callaway_santanna_from_engine(engine, est, yname="y", tname="year", idname="firm",
                                                gname="first_treat", cluster=est.cluster)
        assert engine._units is None and res.n_units == df.firm.nunique() - 1
        return
    with pytest.raises(error, match=match):
        _fit("cs", est, _frame(df), None)


def test_stream_without_a_distributed_client_folds_every_partition(monkeypatch, client):
    ddf = dd.from_pandas(pd.DataFrame({"a": np.arange(100)}), npartitions=7)
    seen = []

    def no_client():
        raise ValueError("no client")

    monkeypatch.setattr(distributed, "default_client", no_client)
    _stream(ddf, lambda p: p["a"].sum(), seen.append, in_flight=3)
    assert len(seen) == 7 and sum(seen) == 4950
    seen.clear()
    monkeypatch.undo()
    _stream(ddf, lambda p: p["a"].sum(), seen.append, in_flight=2)
    assert len(seen) == 7 and sum(seen) == 4950
    assert _slot(3, 4) == slice(3, 7)


@pytest.mark.parametrize("kind,kw", [("twfe", {"weights": "w"}), ("twfe", {"cluster": ["county", "year"]}),
                                     ("event_study", {"weights": "w"})])
def test_weights_and_two_cluster_columns_take_the_groupby_path(panel, client, kind, kw):
    # the dense per-unit sums carry neither weights nor a second cluster column: such a spec
    # must not be answered by them (it would silently ignore the weights / the second column)
    df = panel.assign(w=1.0 + (panel["firm"] % 3))           # constant within firm
    est_kw = {"cluster": kw["cluster"]} if "cluster" in kw else {}
    est = (pe.TWFE if kind == "twfe" else pe.EventStudy)(**est_kw)
    fit_kw = {"weights": kw["weights"]} if "weights" in kw else {}
    if kind == "twfe":
        fit_kw["gname"] = "first_treat"
    engine, res = _fit(kind, est, _frame(df), None, **fit_kw)
    assert engine._units is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "twfe":
            mem = est.fit(df, "y", "year", "firm", **fit_kw)
        else:
            mem = est.fit(df, "y", "year", "firm", "first_treat", **fit_kw)
    same_regression(mem, res)
