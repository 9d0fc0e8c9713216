"""In-memory == Dask (LocalCluster, 2 workers) to 1e-8, by the same sufficient statistics."""


import pandas as pd
import pytest

import policyeval as pe
from policyeval.scale import (
    fit_callaway_santanna,
    fit_event_study,
    fit_twfe,
    make_engine,
)

dd = pytest.importorskip("dask.dataframe")
pytest.importorskip("distributed")

from tests.test_scale_equality import make_panel, same_cs, same_regression


@pytest.fixture(scope="module")
def panel():
    return make_panel(n=240)


@pytest.fixture(scope="module")
def ddf(panel, client):
    # rows shuffled across partitions, so units are split between partitions and workers
    return dd.from_pandas(panel.sample(frac=1, random_state=1), npartitions=4, sort=False)


def test_default_backend_for_dask_frame(ddf):
    assert make_engine(ddf).name == "dask"
    with pytest.raises(ValueError, match="backend='duckdb' cannot read a Dask DataFrame"):
        make_engine(ddf, backend="duckdb")


@pytest.mark.parametrize("est,kw", [
    (pe.TWFE(cluster="county", ssc="full"), {"gname": "first_treat", "covariates": "x"}),
    (pe.TWFE(vcov="iid"), {"treatment": "d"}),
])
def test_twfe(panel, ddf, est, kw):
    same_regression(est.fit(panel, "y", "year", "firm", **kw), est.fit(ddf, "y", "year", "firm", **kw))


@pytest.mark.parametrize("est", [pe.EventStudy(window=(-2, 3), cluster="county")])
def test_event_study(panel, ddf, est):
    a = est.fit(panel, "y", "year", "firm", "first_treat", covariates="x")
    b = fit_event_study(ddf, "y", "year", "firm", "first_treat", covariates="x", estimator=est)
    same_regression(a, b)
    assert b.extra["backend"] == "dask"


@pytest.mark.parametrize("opts,cluster", [
    ({}, None),
    ({"control_group": "not_yet_treated", "base_period": "universal"}, "county"),
])
def test_callaway_santanna(panel, ddf, opts, cluster):
    est = pe.CallawaySantAnna(method="reg", cluster=cluster, **opts)
    a = est.fit(panel, "y", "year", "firm", "first_treat")
    b = fit_callaway_santanna(ddf, "y", "year", "firm", "first_treat", cluster=cluster, estimator=est)
    same_cs(a, b)


def test_parquet_folder_with_dask_backend(panel, client, tmp_path):
    for year, part in panel.groupby("year"):
        part.to_parquet(tmp_path / f"f{year}.parquet", index=False)
    est = pe.CallawaySantAnna(method="reg")
    a = est.fit(panel, "y", "year", "firm", "first_treat")
    b = fit_callaway_santanna(tmp_path, "y", "year", "firm", "first_treat", estimator=est, backend="dask")
    same_cs(a, b)


def test_dask_duplicate_key_names_the_file(panel, client, tmp_path):
    for year, part in panel.groupby("year"):
        if year == 2004:
            part = pd.concat([part, part.iloc[[5]]])
        part.to_parquet(tmp_path / f"f{year}.parquet", index=False)
    key = f"\\({int(panel[panel.year == 2004].iloc[5]['firm'])}, 2004\\)"
    with pytest.raises(pe.exceptions.DuplicateObservationError, match=key + ".*f2004.parquet"):
        fit_twfe(tmp_path, "y", "year", "firm", gname="first_treat", backend="dask")


def test_dask_unbalanced_panel_drops_units_for_callaway_santanna(panel, client):
    # TWFE and the event study keep them (tests/test_scale_ooc_cases.py)
    df = panel.drop(index=panel.index[3])
    with pytest.warns(pe.exceptions.DroppedObservationsWarning, match=r"Dropped 1 units \(e.g. 5000; 7 rows\)"):
        fit_callaway_santanna(dd.from_pandas(df, npartitions=3), "y", "year", "firm", "first_treat")


def test_callaway_santanna_regression_adjustment(panel, client):
    from tests.test_scale_equality import with_firm_covariates

    df = with_firm_covariates(panel)
    est = pe.CallawaySantAnna(method="reg", control_group="not_yet_treated", cluster="county")
    a = est.fit(df, "y", "year", "firm", "first_treat", covariates=["size", "age"])
    b = fit_callaway_santanna(dd.from_pandas(df.sample(frac=1, random_state=3), npartitions=3), "y", "year",
                              "firm", "first_treat", covariates=["size", "age"], cluster="county", estimator=est)
    same_cs(a, b)
