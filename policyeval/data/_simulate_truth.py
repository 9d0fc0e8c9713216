"""The truth table of the simulator: injected effects averaged by role, type, cohort and event time.

Private helper of :mod:`policyeval.data.simulate`. It compares the panel with
effects (``treated``) and the same draw without (``untreated``) row by row;
both come from the same assembly step, so rows align.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

AGGREGATIONS = {
    "type_cohort_event": ["enclave_type", "cohort", "event_time"],
    "cohort_event": ["cohort", "event_time"],
    "event": ["event_time"],
    "type": ["enclave_type"],
    "overall": [],
}
# Role group -> (timing column, type column); "neighbour" = never treated but exposed.
ROLE_GROUPS = {
    "destination": ("first_treat_destination", "enclave_type_destination"),
    "origin": ("first_treat_origin", "enclave_type_origin"),
    "any": ("first_treat", "enclave_type"),
    "neighbour": ("first_exposed_neighbour", None),
}
TRUTH_COLUMNS = ["is_simulated", "aggregation", "outcome", "log_outcome", "role", "enclave_type",
                 "cohort", "event_time", "n_obs", "n_units", "att", "att_log"]  # fmt: skip


def truth_table(treated: pd.DataFrame, untreated: pd.DataFrame, *, outcomes: dict, flows) -> pd.DataFrame:
    """Average of ``treated - untreated`` over observed unit-years of each group.

    ``outcomes`` maps a level column to ``(unit, log column, transform)``;
    ``flows`` are level-only columns (zero without enclaves).
    """
    if not (treated["county_code"].to_numpy() == untreated["county_code"].to_numpy()).all() or not (
        treated["year"].to_numpy() == untreated["year"].to_numpy()
    ).all():
        raise AssertionError("treated and untreated panels are not aligned")  # internal invariant
    columns = [(k, spec[1]) for k, spec in outcomes.items()] + [(k, None) for k in flows]
    pieces = []
    for role, (tcol, typecol) in ROLE_GROUPS.items():
        cohort = treated[tcol].to_numpy()
        eligible = cohort > 0
        if role == "neighbour":
            eligible &= treated["first_treat"].to_numpy() == 0
        if not eligible.any():
            continue
        base = pd.DataFrame({
            "role": role,
            "enclave_type": (treated[typecol] if typecol else pd.Series(pd.NA, index=treated.index))
            .astype(object).to_numpy(),
            "cohort": cohort,
            "event_time": treated["year"].to_numpy() - cohort,
            "unit": treated["county_code"].to_numpy(),
        })[eligible]  # fmt: skip
        for level, log_col in columns:
            y1 = treated[level].to_numpy(dtype=float)
            y0 = untreated[level].to_numpy(dtype=float)
            obs = eligible & ~np.isnan(y1)
            piece = base[obs[eligible]].copy()
            piece["outcome"] = level
            piece["log_outcome"] = log_col
            piece["d"] = (y1 - y0)[obs]
            if log_col is None:
                piece["dl"] = np.nan
            else:
                piece["dl"] = (treated[log_col].to_numpy(dtype=float) - untreated[log_col].to_numpy(dtype=float))[obs]
            pieces.append(piece)
    if not pieces:
        return pd.DataFrame(columns=TRUTH_COLUMNS)
    long = pd.concat(pieces, ignore_index=True)
    long["enclave_type"] = long["enclave_type"].where(long["enclave_type"].notna(), "")
    out = []
    for name, extra in AGGREGATIONS.items():
        data = long if "event_time" in extra else long[long["event_time"] >= 0]
        keys = ["outcome", "log_outcome", "role", *extra]
        data = data.assign(log_outcome=data["log_outcome"].fillna(""))
        g = data.groupby(keys, sort=True, dropna=False)
        agg = g.agg(n_obs=("d", "size"), n_units=("unit", "nunique"), att=("d", "mean"),
                    att_log=("dl", "mean")).reset_index()  # fmt: skip
        agg["aggregation"] = name
        out.append(agg)
    truth = pd.concat(out, ignore_index=True)
    truth["is_simulated"] = True
    for col in ("enclave_type", "log_outcome"):
        truth[col] = truth[col].replace("", np.nan) if col in truth else np.nan
    for col in ("cohort", "event_time"):
        truth[col] = truth[col].astype("Int64") if col in truth else pd.array([pd.NA] * len(truth), "Int64")
    role_order = {r: i for i, r in enumerate(ROLE_GROUPS)}
    agg_order = {a: i for i, a in enumerate(AGGREGATIONS)}
    truth = truth.assign(_a=truth["aggregation"].map(agg_order), _r=truth["role"].map(role_order))
    truth = truth.sort_values(["_a", "outcome", "_r", "enclave_type", "cohort", "event_time"],
                              kind="stable", na_position="first")
    return truth[TRUTH_COLUMNS].reset_index(drop=True)
