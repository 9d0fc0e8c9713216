"""The simulation's truth for the estimand a fit reports, on the sample it used -- SIMULATED DATA only.

The simulator (:func:`policyeval.data.simulate_enclave_panel`) stores the
mean injected effect per (role, cohort, event time) over *all* units of a
role group. An estimate on a design sample (other roles, undated
participants and exposed neighbours dropped, cohorts with no pre-period
gone) targets the average over the cohorts that sample keeps, weighted as
the estimator weights them. :func:`truth_for_sample` does that re-weighting,
so an estimate is always printed beside the truth of its own estimand;
:func:`add_ratio_truth` derives the truth of a log ratio (亩均 outcomes) from
the stored truths of its numerator and denominator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._validation import require_columns
from policyeval.exceptions import DesignError

__all__ = ["truth_for_sample", "add_ratio_truth"]


def truth_for_sample(truth: pd.DataFrame, sample: pd.DataFrame, *, log_outcome: str, role: str,
                     gname: str, idname: str = "county_code", tname: str = "year",
                     min_e: int | None = None, max_e: int | None = None,
                     enclave_type: str | None = None) -> tuple[pd.Series, float]:
    """The simulation's true effects averaged over the cohorts present in ``sample``.

    Parameters
    ----------
    truth : DataFrame
        The simulator's truth table (``load_simulated_panel("truth")`` or
        the second item of :func:`~policyeval.data.simulate_enclave_panel`).
    sample : DataFrame
        The estimation sample, with the first-treatment column ``gname``.
    log_outcome : str
        Outcome column estimated (e.g. ``"log_gdp"``).
    role : {"destination", "origin", "any", "neighbour"}
        Role group whose truth applies.
    gname, idname, tname : str
        Columns of ``sample``.
    min_e, max_e : int, optional
        Event-time window of the estimate.
    enclave_type : str, optional
        Use the ``type_cohort_event`` rows of this enclave type (cohorts
        dated by that type's first start).

    Returns
    -------
    path : pandas.Series
        True ATT by event time (name ``"truth"``), cohorts weighted by their
        number of treated units in ``sample``.
    overall : float
        Average over post-treatment (cohort, event time) cells, each weighted
        by its cohort's size: the estimand of Callaway–Sant'Anna's
        ``"simple"`` aggregation. (The ``"dynamic"`` overall, a plain mean of
        the event-time effects, has truth ``path[path.index >= 0].mean()``.)

    Raises
    ------
    ColumnNotFoundError
        A named column is missing.
    DesignError
        No treated cohort of ``sample`` has a truth row (wrong role, outcome
        or type).

    Notes
    -----
    With :math:`n_g` the treated units of cohort :math:`g` in the sample and
    :math:`\\tau(g, e)` the stored truth,
    :math:`\\tau(e) = \\sum_g n_g \\tau(g, e) / \\sum_g n_g` over cohorts
    whose calendar year :math:`g + e` lies in the sample's years.

    Examples
    --------
    >>> import warnings, policyeval as pe
    >>> from policyeval.design import enclave_design
    >>> from policyeval.design.truth import truth_for_sample
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     s = enclave_design(pe.load_simulated_panel()).sample("destination", gname="g")
    >>> path, overall = truth_for_sample(pe.load_simulated_panel("truth"), s, log_outcome="log_gdp",
    ...                                  role="destination", gname="g")
    >>> bool(overall > 0)
    True
    """
    require_columns(sample, where="sample", gname=[gname], idname=[idname], tname=[tname])
    require_columns(truth, where="truth", columns=["aggregation", "role", "log_outcome", "cohort", "event_time",
                                                   "att_log"])
    sizes = sample.loc[sample[gname] > 0].groupby(gname)[idname].nunique()
    if enclave_type is None:
        rows = truth[truth["aggregation"] == "cohort_event"]
    else:  # effects of one enclave type only (cohorts dated by that type's first start)
        rows = truth[(truth["aggregation"] == "type_cohort_event") & (truth["enclave_type"] == enclave_type)]
    rows = rows[(rows["role"] == role) & (rows["log_outcome"] == log_outcome) & rows["cohort"].isin(sizes.index)]
    if rows.empty:
        raise DesignError(f"no truth rows for role={role!r}, log_outcome={log_outcome!r}"
                          + (f", enclave_type={enclave_type!r}" if enclave_type else "")
                          + f" and the {len(sizes)} treated cohort(s) of the sample.")
    rows = rows.assign(cohort=rows["cohort"].astype(int), event_time=rows["event_time"].astype(int))
    # cells outside the sample's years cannot be estimated, so they leave the truth too
    first, last = int(sample[tname].min()), int(sample[tname].max())
    calendar = rows["cohort"] + rows["event_time"]
    rows = rows[(calendar >= first) & (calendar <= last)]
    rows = rows.assign(size=rows["cohort"].map(sizes).astype(float))
    if min_e is not None:
        rows = rows[rows["event_time"] >= min_e]
    if max_e is not None:
        rows = rows[rows["event_time"] <= max_e]
    path = rows.groupby("event_time").apply(
        lambda d: float(np.average(d["att_log"], weights=d["size"])), include_groups=False)
    post = rows[rows["event_time"] >= 0]
    overall = float(np.average(post["att_log"], weights=post["size"])) if len(post) else float("nan")
    return path.rename("truth"), overall


def add_ratio_truth(truth: pd.DataFrame, numerator: str, denominator: str, name: str) -> pd.DataFrame:
    """Append the true effect on ``log(numerator / denominator)`` to a truth table -- SIMULATED DATA.

    Parameters
    ----------
    truth : DataFrame
        The simulator's truth table (``load_simulated_panel("truth")`` or the
        ``truth`` of :func:`~policyeval.data.simulate_enclave_panel`).
    numerator, denominator : str
        ``log_outcome`` values of the two parts, e.g. ``"log_industrial_va"``
        and ``"log_industrial_land"``.
    name : str
        ``log_outcome`` (and ``outcome``) of the new rows, e.g.
        ``"log_va_per_mu"``: the column name the sample uses, so that
        :func:`truth_for_sample` finds it.

    Returns
    -------
    DataFrame
        ``truth`` with one new ``cohort_event`` row per (role, cohort, event
        time) that both parts have; ``att`` (a level, not defined for a
        ratio) is NaN on the new rows. The input is not modified.

    Raises
    ------
    ColumnNotFoundError
        ``truth`` lacks a truth-table column.
    DesignError
        ``numerator`` or ``denominator`` has no ``cohort_event`` row, or
        ``name`` is already an outcome of ``truth``.

    Notes
    -----
    The truth stores mean effects on log outcomes per cohort and event time,
    over the same units for every outcome, so the effect on a log ratio is
    the difference :math:`\\tau_{\\log(a/b)}(g, e) = \\tau_{\\log a}(g, e) -
    \\tau_{\\log b}(g, e)`. Only ``cohort_event`` rows are built: they are
    what :func:`truth_for_sample` reads without ``enclave_type``.

    Examples
    --------
    >>> import policyeval as pe
    >>> from policyeval.design.truth import add_ratio_truth
    >>> truth = add_ratio_truth(pe.load_simulated_panel("truth"), "log_industrial_va",
    ...                         "log_industrial_land", "log_va_per_mu")
    >>> cell = truth[(truth["aggregation"] == "cohort_event") & (truth["role"] == "destination")
    ...              & (truth["cohort"] == 2006) & (truth["event_time"] == 3)].set_index("log_outcome")
    >>> round(float(cell.loc["log_va_per_mu", "att_log"]), 4)
    -0.056
    >>> bool(abs(cell.loc["log_va_per_mu", "att_log"] - (cell.loc["log_industrial_va", "att_log"]
    ...          - cell.loc["log_industrial_land", "att_log"])) < 1e-15)
    True
    """
    keys = ["role", "cohort", "event_time"]
    require_columns(truth, where="truth", columns=["aggregation", "log_outcome", "outcome", "att", "att_log", *keys])
    if name in set(truth["log_outcome"].dropna()):
        raise DesignError(f"name={name!r} is already a log_outcome of truth; choose another name.")
    cells = truth[truth["aggregation"] == "cohort_event"]
    parts = {}
    for arg, outcome in (("numerator", numerator), ("denominator", denominator)):
        part = cells[cells["log_outcome"] == outcome]
        if part.empty:
            known = sorted(cells["log_outcome"].dropna().unique())
            raise DesignError(f"{arg}={outcome!r} has no cohort_event row in truth (log outcomes: {known}).")
        parts[arg] = part.set_index(keys)
    num, den = parts["numerator"], parts["denominator"]
    common = num.index.intersection(den.index)
    rows = num.loc[common].copy()
    rows["att_log"] = num.loc[common, "att_log"] - den.loc[common, "att_log"]
    rows["log_outcome"], rows["outcome"], rows["att"] = name, name, np.nan
    return pd.concat([truth, rows.reset_index()[truth.columns]], ignore_index=True)
