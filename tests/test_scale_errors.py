"""Bad input at scale: clear errors naming the file, the column and the key; nothing silently lost."""

import json

import duckdb
import numpy as np
import pandas as pd
import pytest

import policyeval as pe
from policyeval.exceptions import (
    ColumnNotFoundError,
    DataError,
    DuplicateObservationError,
    EstimationError,
    NonNumericValueError,
    TreatmentTimingError,
)
from policyeval.scale import (
    fit_callaway_santanna,
    fit_event_study,
    fit_twfe,
    make_engine,
)
from policyeval.scale.streaming import iter_chunks, scan_folder
from tests.test_scale_equality import make_panel


@pytest.fixture
def panel():
    return make_panel(n=60, years=range(2001, 2007), cohorts=(0, 2003, 2005))


def write_years(df, folder, fmt="parquet", skip=()):
    for year, part in df.groupby("year"):
        if year in skip:
            continue
        if fmt == "parquet":
            part.to_parquet(folder / f"firms_{year}.parquet", index=False)
        else:
            part.to_csv(folder / f"firms_{year}.csv", index=False)
    return folder


def test_missing_year_file_is_named(panel, tmp_path):
    write_years(panel, tmp_path, skip=(2004,))
    with pytest.raises(DataError, match=r"missing file for year\(s\) 2004 .*firms_2003.parquet, firms_2005"):
        fit_twfe(tmp_path, "y", "year", "firm", gname="first_treat")


def test_expected_years_must_all_have_files(panel, tmp_path):
    write_years(panel, tmp_path)
    with pytest.raises(DataError, match=r"missing file for year\(s\) 2007, 2008"):
        scan_folder(tmp_path, years=range(2001, 2009))


def test_schema_change_between_years_names_file_and_column(panel, tmp_path):
    write_years(panel, tmp_path)
    part = panel[panel.year == 2005].rename(columns={"y": "output"})
    part.to_parquet(tmp_path / "firms_2005.parquet", index=False)
    with pytest.raises(DataError, match=r"schema of firms_2005.parquet differs from firms_2001.parquet: "
                                        r"missing columns \['y'\]; new columns \['output'\]"):
        fit_callaway_santanna(tmp_path, "y", "year", "firm", "first_treat")


def test_type_change_between_years(panel, tmp_path):
    write_years(panel, tmp_path)
    part = panel[panel.year == 2002].astype({"county": str})
    part.to_parquet(tmp_path / "firms_2002.parquet", index=False)
    with pytest.raises(DataError, match=r"firms_2002.parquet .*changed types county \(int64 -> "):
        scan_folder(tmp_path)


def test_duplicate_firm_year_names_key_and_file(panel, tmp_path):
    write_years(panel, tmp_path)
    part = panel[panel.year == 2003]
    pd.concat([part, part.iloc[[4]]]).to_parquet(tmp_path / "firms_2003.parquet", index=False)
    firm = int(part.iloc[4]["firm"])
    with pytest.raises(DuplicateObservationError, match=rf"\({firm}, 2003\) x2 in firms_2003.parquet"):
        fit_event_study(tmp_path, "y", "year", "firm", "first_treat")


def test_duplicate_across_files_names_both(panel, tmp_path):
    write_years(panel, tmp_path)
    extra = panel[panel.year == 2003].iloc[[0]].assign(year=2004)   # a 2003 row filed again in 2004
    other = panel[panel.year == 2004]
    pd.concat([other, extra]).to_parquet(tmp_path / "firms_2004.parquet", index=False)
    with pytest.raises(DuplicateObservationError, match=r"x2 in firms_2004.parquet"):
        fit_twfe(tmp_path, "y", "year", "firm", gname="first_treat")


def test_csv_folder_works_and_is_checked(panel, tmp_path):
    write_years(panel, tmp_path, fmt="csv")
    a = pe.TWFE().fit(panel, "y", "year", "firm", gname="first_treat")
    b = fit_twfe(tmp_path, "y", "year", "firm", gname="first_treat")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-8)
    (tmp_path / "firms_2003.csv").unlink()
    with pytest.raises(DataError, match="missing file for year"):
        fit_twfe(tmp_path, "y", "year", "firm", gname="first_treat")


def test_path_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fit_twfe(tmp_path / "nope", "y", "year", "firm", gname="g")
    with pytest.raises(FileNotFoundError, match="holds no .parquet or .csv"):
        fit_twfe(tmp_path, "y", "year", "firm", gname="g")
    with pytest.raises(pe.exceptions.ArgumentTypeError, match="source must be a path or a duckdb relation"):
        make_engine([1, 2, 3])
    with pytest.raises(ValueError, match="backend='spark' must be one of"):
        make_engine(tmp_path, backend="spark")


@pytest.fixture
def rel_of():
    return lambda df: duckdb.from_df(df)


def test_unbalanced_panel_names_units(panel, rel_of):
    # TWFE and the event study take unbalanced panels (tests/test_scale_ooc_cases.py); Callaway-Sant'Anna
    # drops the units not seen in every period, as in memory, and says which
    df = panel.drop(index=panel.index[[0, 7]])
    with pytest.warns(pe.exceptions.DroppedObservationsWarning,
                      match=r"Dropped 2 units \(e.g. 5000, 5001; 10 rows\) not observed in all 6 periods"):
        fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat")
    with pytest.raises(ValueError, match=r"allow_unbalanced_panel=True: 2 units of idname='firm' are not observed "
                                         "in every period, and the repeated cross-section estimators"):
        fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat",
                              estimator=pe.CallawaySantAnna(allow_unbalanced_panel=True))


def test_gname_varying_within_unit(panel, rel_of):
    df = panel.copy()
    df.loc[df.index[2], "first_treat"] = 2004
    with pytest.raises(TreatmentTimingError, match=r"gname='first_treat' varies within idname='firm' for 1 "
                                                   r"units \(e.g. 5000\)"):
        fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat")


def test_cluster_varying_within_unit(panel, rel_of):
    df = panel.copy()
    df.loc[df.index[8], "county"] = 1
    # TWFE takes any cluster column (tests/test_scale_ooc_cases.py); the cohort sums of
    # Callaway-Sant'Anna need it constant within unit
    with pytest.raises(DataError, match=r"cluster='county' varies within idname='firm' for 1 units \(e.g. 5001\)"):
        fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat", cluster="county")


def test_missing_values_raise_instead_of_dropping(panel, rel_of):
    df = panel.copy()
    df.loc[df.index[13], "y"] = np.nan
    with pytest.raises(DataError, match=r"yname='y' has 1 missing or infinite values \(e.g. firm 5002\); "
                                        "the out-of-core path drops no rows"):
        fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat")


def test_treatment_switching_off_and_non_binary(panel, rel_of):
    df = panel.copy()
    unit = df[df.first_treat == 2003].firm.iloc[0]
    df.loc[(df.firm == unit) & (df.year == 2006), "d"] = 0
    with pytest.raises(TreatmentTimingError, match=rf"switches off .* for 1 units \(e.g. {unit}\)"):
        fit_twfe(rel_of(df), "y", "year", "firm", treatment="d")
    df["d"] = df["d"] * 2
    with pytest.raises(DataError, match="treatment='d' must be 0/1"):
        fit_twfe(rel_of(df), "y", "year", "firm", treatment="d")


def test_column_and_type_errors(panel, rel_of):
    with pytest.raises(ColumnNotFoundError, match="gname='g0' is not a column"):
        fit_twfe(rel_of(panel), "y", "year", "firm", gname="g0")
    with pytest.raises(NonNumericValueError, match="yname='y' must be numeric"):
        fit_twfe(rel_of(panel.astype({"y": str})), "y", "year", "firm", gname="first_treat")
    df = panel.astype({"year": float})
    df.loc[df.index[0], "year"] = 2001.5
    with pytest.raises(DataError, match="tname='year' must hold integer periods; found non-integer values 2001.5"):
        fit_twfe(rel_of(df), "y", "year", "firm", gname="first_treat")


def test_unsupported_options_say_so(panel, rel_of):
    r = rel_of(panel)
    with pytest.raises(ValueError, match=r"covariates=\['x'\] with method='dr_imp': out of core, covariates are "
                                         "supported with method='reg', 'ipw' or 'dr'"):
        fit_callaway_santanna(r, "y", "year", "firm", "first_treat", covariates=["x"],
                              estimator=pe.CallawaySantAnna(method="dr_imp"))
    with pytest.raises(ValueError, match="weights='x': sampling weights are not supported out of core for "
                                         "Callaway-Sant'Anna"):
        fit_callaway_santanna(r, "y", "year", "firm", "first_treat", weights="x")
    with pytest.raises(ValueError, match="vcov='hetero': the out-of-core path offers"):
        fit_twfe(r, "y", "year", "firm", gname="first_treat", estimator=pe.TWFE(vcov="hetero"))
    with pytest.raises(ValueError, match="clusters in one or two dimensions"):
        fit_twfe(r, "y", "year", "firm", gname="first_treat", estimator=pe.TWFE(cluster=["county", "year", "d"]))
    with pytest.raises(DataError, match="bin_endpoints=False would drop the rows"):
        fit_event_study(r, "y", "year", "firm", "first_treat",
                        estimator=pe.EventStudy(window=(-1, 1), bin_endpoints=False))
    with pytest.raises(EstimationError, match="n_bootstrap > 0 out of core needs cluster"):
        fit_callaway_santanna(r, "y", "year", "firm", "first_treat",
                              estimator=pe.CallawaySantAnna(n_bootstrap=99, progress=False))
    with pytest.raises(EstimationError, match="no unit is never treated"):
        fit_callaway_santanna(rel_of(panel[panel.first_treat > 0]), "y", "year", "firm", "first_treat")


def test_result_without_per_unit_influence_says_why(panel, rel_of):
    res = fit_callaway_santanna(rel_of(panel), "y", "year", "firm", "first_treat")
    with pytest.raises(EstimationError, match="keeps cohort moments, not per-unit influence values"):
        res.influence.to_dense()
    assert "backend: duckdb" in str(res.summary())


def test_iter_chunks_streams_every_row_once(panel, tmp_path):
    write_years(panel, tmp_path)
    chunks = list(iter_chunks(tmp_path, columns=["firm", "year", "y"], batch_size=50, progress=False))
    assert max(len(c) for c in chunks) <= 50
    got = pd.concat(chunks).sort_values(["firm", "year"]).reset_index(drop=True)
    want = panel[["firm", "year", "y"]].sort_values(["firm", "year"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    with pytest.raises(DataError, match=r"columns \['nope'\] are not in firms_2001.parquet"):
        next(iter_chunks(tmp_path, columns=["nope"], progress=False))


def test_simulated_firms_are_labelled_seeded_and_use_registry_roles(tmp_path):
    import pyarrow.parquet as pq

    from policyeval.scale.simulate_firms import county_roles, simulate_firm_panel

    a = simulate_firm_panel(tmp_path / "a", 3000, years=range(2010, 2014), seed=5, chunk_firms=1000,
                            progress=False)
    b = simulate_firm_panel(tmp_path / "b", 3000, years=range(2010, 2014), seed=5, chunk_firms=1000,
                            progress=False)
    assert a["n_rows"] == b["n_rows"] == 12000 and len(a["files"]) == 4
    meta = json.loads(pq.read_schema(a["files"][0]).metadata[b"policyeval.simulated"])
    assert meta["simulated"] is True and meta["seed"] == 5
    fa, fb = pd.read_parquet(tmp_path / "a"), pd.read_parquet(tmp_path / "b")
    pd.testing.assert_frame_equal(fa, fb)
    roles = county_roles(2013)
    assert set(roles["role"]) == {"origin", "destination", "other"}
    assert set(fa["county_code"]) <= set(roles["county_code"])
    dest = fa[fa.role == "destination"]
    assert (dest.first_treat == dest.county_code.map(roles.set_index("county_code").start_year)).all()
    moved = fa[fa.relocation_year > 0]
    assert len(moved) and (moved.role == "origin").all()
    after = moved[moved.year >= moved.relocation_year]
    assert (after.location_code != after.county_code).all()
    assert fa.groupby("firm_id").size().eq(4).all()


def test_progress_reports_each_pass(panel, tmp_path, capsys):
    write_years(panel, tmp_path)
    fit_twfe(tmp_path, "y", "year", "firm", gname="first_treat", progress=True)
    err = capsys.readouterr().err
    for step in ("checks", "period means", "within pass: units", "score pass"):
        assert f"[policyeval.scale duckdb] {step}" in err


def test_regression_adjustment_needs_time_invariant_covariates(panel, rel_of):
    est = pe.CallawaySantAnna(method="reg")
    with pytest.raises(DataError, match=r"covariates=\['x'\] vary within idname='firm' for 60 units \(e.g. "
                                        r"5000, 5001, 5002\); out of core, Callaway-Sant'Anna takes "
                                        "time-invariant covariates only"):
        fit_callaway_santanna(rel_of(panel), "y", "year", "firm", "first_treat", covariates="x", estimator=est)


def test_regression_adjustment_collinear_covariates(panel, rel_of):
    df = panel.assign(size=panel.firm % 7, size2=2 * (panel.firm % 7))
    est = pe.CallawaySantAnna(method="reg")
    with pytest.raises(EstimationError, match="collinear"):
        est.fit(df, "y", "year", "firm", "first_treat", covariates=["size", "size2"])
    with pytest.raises(EstimationError, match=r"controls of cohort 2003: covariates are collinear .*'size2'"):
        fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat", covariates=["size", "size2"],
                              estimator=est)


@pytest.mark.parametrize("fit", ["twfe", "event_study", "cs"])
def test_few_clusters_and_few_treated_warn_as_in_memory(panel, rel_of, fit):
    # what the data cannot support: one cluster raises, two warn, one treated unit warns
    call = {
        "twfe": lambda df, cl: fit_twfe(rel_of(df), "y", "year", "firm", gname="first_treat",
                                        estimator=pe.TWFE(cluster=cl)),
        "event_study": lambda df, cl: fit_event_study(rel_of(df), "y", "year", "firm", "first_treat",
                                                      estimator=pe.EventStudy(cluster=cl)),
        "cs": lambda df, cl: fit_callaway_santanna(rel_of(df), "y", "year", "firm", "first_treat",
                                                   cluster=cl, estimator=pe.CallawaySantAnna(cluster=cl)),
    }[fit]
    with pytest.raises(EstimationError, match=r"cluster='one' has 1 cluster\(s\) in the estimation sample"):
        call(panel.assign(one=1), "one")
    with pytest.warns(pe.exceptions.EstimationWarning, match=r"cluster='two' has only 2 clusters"):
        call(panel.assign(two=panel["firm"] % 2), "two")
    one = panel.assign(first_treat=np.where(panel["firm"] == panel["firm"].min(), 2003, 0))
    with pytest.warns(pe.exceptions.FewTreatedWarning, match=r"only 1 treated unit of 60 \(gname='first_treat'"):
        call(one, None)
