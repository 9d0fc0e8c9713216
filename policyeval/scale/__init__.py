"""Firm-level panels beyond memory: the estimators on DuckDB or Dask, from sufficient statistics.

``fit_twfe``, ``fit_event_study`` and ``fit_callaway_santanna`` take a Parquet
file or folder, a DuckDB relation or a Dask DataFrame and return the same
result classes as :class:`policyeval.TWFE`, :class:`policyeval.EventStudy`
and :class:`policyeval.CallawaySantAnna` (equal to 1e-8 on data that fit in
memory). The math lives once in :mod:`policyeval.scale.sufficient`; the
engines only aggregate. See ``docs/scale.md``.
"""

from __future__ import annotations

import os

from policyeval.exceptions import ArgumentTypeError, ArgumentValueError

__all__ = ["fit_callaway_santanna", "fit_event_study", "fit_twfe", "make_engine"]

_BACKENDS = ("duckdb", "dask")


def _is_dask(obj) -> bool:
    mod = type(obj).__module__ or ""
    return mod.startswith("dask")


def make_engine(source, backend: str | None = None, **options):
    """Pick the engine for ``source``.

    Parameters
    ----------
    source : str, pathlib.Path, duckdb.DuckDBPyRelation or dask.dataframe.DataFrame
        The data. A path is a Parquet/CSV file or a folder of yearly files.
    backend : {"duckdb", "dask"}, optional
        Default: ``"dask"`` for a Dask DataFrame, ``"duckdb"`` otherwise.
    **options
        Passed to the engine (``memory_limit``, ``threads``, ``progress``, ``years``).

    Returns
    -------
    DuckDBEngine or DaskEngine

    Raises
    ------
    ValueError
        Unknown backend, or a backend that cannot read this source.
    ArgumentTypeError
        A source that is none of the above.
    """
    if backend is None:
        backend = "dask" if _is_dask(source) else "duckdb"
    if backend not in _BACKENDS:
        raise ArgumentValueError(f"backend={backend!r} must be one of {_BACKENDS}")
    if backend == "duckdb":
        if _is_dask(source):
            raise ArgumentValueError("backend='duckdb' cannot read a Dask DataFrame; use backend='dask'")
        from policyeval.scale.duckdb_backend import DuckDBEngine

        return DuckDBEngine(source, **options)
    from policyeval.scale.dask_backend import DaskEngine

    if not (_is_dask(source) or isinstance(source, (str, os.PathLike))):
        raise ArgumentTypeError(f"backend='dask' needs a Dask DataFrame or a path, got {type(source).__name__}")
    return DaskEngine(source, **options)


def fit_twfe(source, yname: str, tname: str, idname: str, treatment: str | None = None,
             gname: str | None = None, covariates=None, weights=None, *, estimator=None,
             backend: str | None = None, **engine_options):
    """:class:`policyeval.TWFE` on data beyond memory.

    Parameters
    ----------
    source : path, duckdb relation or dask DataFrame
        See :func:`make_engine`. Balanced or unbalanced (at most 62 periods).
    yname, tname, idname, treatment, gname, covariates
        As :meth:`policyeval.TWFE.fit`.
    weights : str, optional
        Sampling weights, constant within unit (weights varying within unit
        raise :class:`~policyeval.exceptions.DataError`).
    estimator : policyeval.TWFE, optional
        Options (``vcov`` "cluster" or "iid", one or two ``cluster`` columns,
        ``ssc``); default ``TWFE()``.
    backend : {"duckdb", "dask"}, optional
    **engine_options
        See :func:`make_engine`.

    Returns
    -------
    policyeval.results.regression.RegressionResult
        ``influence`` is ``None`` (per-unit values are not materialised).

    Raises
    ------
    DataError
        Missing values, weights varying within unit, more than 62 periods
        with an unbalanced panel or weights, ...
    DuplicateObservationError, TreatmentTimingError, EstimationError

    Notes
    -----
    Balanced and unweighted: two passes over the data plus one for the period
    means. Unbalanced or weighted: two passes for the period effects (by
    period, by unit pattern) plus one for the clustered scores. See
    :mod:`policyeval.scale.sufficient` for the formulas.

    Examples
    --------
    >>> import shutil, tempfile
    >>> import pandas as pd, policyeval as pe
    >>> from policyeval.scale.simulate_firms import simulate_firm_panel
    >>> folder = tempfile.mkdtemp()        # SIMULATED firms, one Parquet file per year
    >>> _ = simulate_firm_panel(folder, 2000, years=range(2010, 2016), progress=False)
    >>> from policyeval.scale import fit_twfe
    >>> res = fit_twfe(folder, "y", "year", "firm_id", gname="first_treat")
    >>> in_memory = pe.TWFE().fit(pd.read_parquet(folder), "y", "year", "firm_id", gname="first_treat")
    >>> round(float(res.params.iloc[0]), 4), bool(abs(res.params - in_memory.params).max() < 1e-8)
    (0.1868, True)
    >>> shutil.rmtree(folder)
    """
    from policyeval.estimators.twfe import TWFE
    from policyeval.scale.sufficient import twfe_from_engine

    engine = make_engine(source, backend, **engine_options)
    return twfe_from_engine(engine, estimator or TWFE(), yname=yname, tname=tname, idname=idname,
                            treatment=treatment, gname=gname, covariates=covariates, weights=weights)


def fit_event_study(source, yname: str, tname: str, idname: str, gname: str, covariates=None,
                    weights=None, *, estimator=None, backend: str | None = None, **engine_options):
    """:class:`policyeval.EventStudy` on data beyond memory.

    Parameters
    ----------
    source : path, duckdb relation or dask DataFrame
    yname, tname, idname, gname, covariates, weights
        As :meth:`policyeval.EventStudy.fit` (``weights`` constant within unit;
        the panel may be unbalanced, see :func:`fit_twfe`).
    estimator : policyeval.EventStudy, optional
        Options (``reference``, ``window``, ``bin_endpoints=True``, ``vcov``,
        ``cluster``, ``ssc``); default ``EventStudy()``.
    backend : {"duckdb", "dask"}, optional

    Returns
    -------
    policyeval.results.regression.RegressionResult

    Raises
    ------
    DataError
        ``bin_endpoints=False`` with event times outside the window (which
        would drop rows); weights varying within unit.
    EstimationError
        No treated unit, reference not observed, collinear dummies.

    Examples
    --------
    >>> import shutil, tempfile
    >>> import pandas as pd, policyeval as pe
    >>> from policyeval.scale.simulate_firms import simulate_firm_panel
    >>> folder = tempfile.mkdtemp()        # SIMULATED firms, one Parquet file per year
    >>> _ = simulate_firm_panel(folder, 2000, years=range(2010, 2016), progress=False)
    >>> from policyeval.scale import fit_event_study
    >>> res = fit_event_study(folder, "y", "year", "firm_id", "first_treat")
    >>> in_memory = pe.EventStudy().fit(pd.read_parquet(folder), "y", "year", "firm_id", "first_treat")
    >>> bool(abs(res.params - in_memory.params).max() < 1e-8)
    True
    >>> shutil.rmtree(folder)
    """
    from policyeval.estimators.twfe import EventStudy
    from policyeval.scale.sufficient import event_study_from_engine

    engine = make_engine(source, backend, **engine_options)
    return event_study_from_engine(engine, estimator or EventStudy(), yname=yname, tname=tname,
                                   idname=idname, gname=gname, covariates=covariates, weights=weights)


def fit_callaway_santanna(source, yname: str, tname: str, idname: str, gname: str, covariates=None,
                          weights=None, cluster=None, *, estimator=None, backend: str | None = None,
                          **engine_options):
    """:class:`policyeval.CallawaySantAnna` on data beyond memory (no covariates, or reg / ipw / dr).

    Parameters
    ----------
    source : path, duckdb relation or dask DataFrame
    yname, tname, idname, gname, cluster
        As :meth:`policyeval.CallawaySantAnna.fit`.
    covariates : str or list of str, optional
        Time-invariant covariates, with ``method="reg"`` (outcome regression,
        ``reg_did_panel``), ``"ipw"`` or ``"dr"`` (a logit propensity score
        fitted by Newton passes over a per-unit table; see
        :mod:`policyeval.scale.propensity`).
    weights
        Not supported out of core (``ValueError``).

    Units not observed in every period are dropped with a
    :class:`~policyeval.exceptions.DroppedObservationsWarning`, as in memory;
    ``allow_unbalanced_panel=True`` raises (its repeated cross-section
    estimators are in memory only).
    estimator : policyeval.CallawaySantAnna, optional
        Options (``control_group``, ``method``, ``base_period``,
        ``anticipation``, ``n_bootstrap`` with a ``cluster``); without
        covariates ``method`` does not change the estimate. Default
        ``CallawaySantAnna(method="reg")``.
    backend : {"duckdb", "dask"}, optional

    Returns
    -------
    policyeval.results.staggered.GroupTimeResult
        Its influence function is a
        :class:`~policyeval.scale.cohort_sums.SufficientCohortInfluence`, so
        ``aggregate(...)`` works as in memory.

    Raises
    ------
    DataError, DuplicateObservationError, TreatmentTimingError, EstimationError

    Examples
    --------
    >>> import shutil, tempfile
    >>> import pandas as pd, policyeval as pe
    >>> from policyeval.scale.simulate_firms import simulate_firm_panel
    >>> folder = tempfile.mkdtemp()        # SIMULATED firms, one Parquet file per year
    >>> _ = simulate_firm_panel(folder, 2000, years=range(2010, 2016), progress=False)
    >>> from policyeval.scale import fit_callaway_santanna
    >>> res = fit_callaway_santanna(folder, "y", "year", "firm_id", "first_treat")
    >>> round(float(res.aggregate("dynamic").overall["estimate"]), 4)
    0.2128

    Doubly robust with a firm-level covariate (the firm's size class, SIMULATED):

    >>> import duckdb
    >>> rel = duckdb.sql(f"SELECT *, firm_id % 3 AS size_class FROM read_parquet('{folder}/*.parquet')")
    >>> dr = fit_callaway_santanna(rel, "y", "year", "firm_id", "first_treat", covariates="size_class",
    ...                            estimator=pe.CallawaySantAnna(method="dr"))
    >>> df = pd.read_parquet(folder).assign(size_class=lambda d: d.firm_id % 3)
    >>> mem = pe.CallawaySantAnna(method="dr").fit(df, "y", "year", "firm_id", "first_treat",
    ...                                            covariates="size_class")
    >>> bool(abs(dr.att_gt["std_error"] - mem.att_gt["std_error"]).max() < 1e-8)
    True
    >>> shutil.rmtree(folder)
    """
    from policyeval.estimators.staggered import CallawaySantAnna
    from policyeval.scale.cohort_sums import callaway_santanna_from_engine

    engine = make_engine(source, backend, **engine_options)
    if cluster is None and estimator is not None:
        cluster = getattr(estimator, "cluster", None)
    return callaway_santanna_from_engine(engine, estimator or CallawaySantAnna(method="reg"), yname=yname,
                                         tname=tname, idname=idname, gname=gname, covariates=covariates,
                                         weights=weights, cluster=cluster)
