"""Turn a long panel into the block matrix the synthetic estimators work on.

Checks every argument once and says what is wrong with which units and
periods: missing columns, duplicated (unit, period) rows, periods that are not
integers, non-numeric, infinite or missing outcomes (naming donors and years),
unbalanced panels, treatment that is not a common-adoption block, too few donors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from policyeval._validation import examples, require_columns, require_frame
from policyeval.estimators._inputs import finite_column, period_column, require_unique_unit_periods
from policyeval.exceptions import (
    DataError,
    DesignError,
    EstimationError,
    TreatmentTimingError,
)

__all__ = ["Block", "prepare_block"]


@dataclass
class Block:
    """Outcomes of a common-adoption design, controls first.

    ``Y[:n_control]`` are donor units, ``Y[n_control:]`` treated units;
    ``Y[:, :n_pre]`` are pre-treatment periods.
    """

    Y: np.ndarray
    units: list
    periods: list
    n_control: int
    n_pre: int
    nobs: int

    @property
    def treated_units(self) -> list:
        return self.units[self.n_control:]

    @property
    def donors(self) -> list:
        return self.units[: self.n_control]

    @property
    def treat_time(self):
        return self.periods[self.n_pre]


def prepare_block(df: pd.DataFrame, yname: str, tname: str, idname: str, *,
                  treatment: str | None = None, treated_units: Sequence[Any] | None = None,
                  treat_time: Any = None, donors: Sequence[Any] | None = None,
                  estimator: str = "SyntheticDiD", min_donors: int = 2) -> Block:
    """Validate a long panel and return its :class:`Block`.

    Exactly one of ``treatment`` (a 0/1 column switched on from the adoption
    period onwards) or ``treated_units`` with ``treat_time`` defines the design.
    Units never treated are donors (optionally restricted to ``donors``).
    """
    require_frame(df, "data")
    require_columns(df, yname=yname, tname=tname, idname=idname, treatment=treatment)
    if (treatment is None) == (treated_units is None):
        raise DesignError(
            "give either treatment='<0/1 column>' or treated_units=[...] with treat_time=..., "
            "not both and not neither"
        )
    if treated_units is not None and treat_time is None:
        raise DesignError("treated_units=... needs treat_time= (the first treated period)")
    cols = [idname, tname, yname] + ([treatment] if treatment else [])
    data = df[cols].copy()
    if data[idname].isna().any():
        raise DataError(f"idname={idname!r} has {int(data[idname].isna().sum())} missing values")
    period_column(data, tname, idname)          # checks only: the periods keep their values
    require_unique_unit_periods(data[idname].to_numpy(), data[tname].to_numpy(), idname, tname)
    data[yname] = finite_column(data, yname, "yname", idname)
    periods = sorted(data[tname].unique())
    units_all = sorted(data[idname].unique(), key=lambda u: str(u))

    if treatment is not None:
        d = pd.to_numeric(data[treatment], errors="coerce")
        if d.isna().any() or not d.isin([0, 1]).all():
            raise DataError(f"treatment={treatment!r} must be 0/1 without missing values")
        data[treatment] = d.astype(int)
        ever = data.groupby(idname)[treatment].max()
        treated_set = [u for u in units_all if ever.get(u, 0) == 1]
        if not treated_set:
            raise DesignError(f"treatment={treatment!r} is never 1: there is no treated unit")
        first = data[data[treatment] == 1].groupby(idname)[tname].min()
        starts = first.loc[treated_set]
        if starts.nunique() > 1:
            counts = starts.value_counts().sort_index()
            desc = "; ".join(
                f"{t} ({n} units, e.g. {examples(starts.index[starts == t])})" for t, n in counts.items()
            )
            raise TreatmentTimingError(
                f"{estimator} needs common adoption, but treatment={treatment!r} starts at "
                f"different periods: {desc}. Fit each adoption cohort separately."
            )
        t_star = starts.iloc[0]
        sub = data[data[idname].isin(treated_set)]
        off = sub[(sub[tname] >= t_star) & (sub[treatment] == 0)]
        if len(off):
            raise TreatmentTimingError(
                f"treatment={treatment!r} switches off after adoption for {off[idname].nunique()} "
                f"units (e.g. {examples(off[idname].unique())}); treatment must stay on."
            )
        treated_list = treated_set
    else:
        treated_list = list(dict.fromkeys(treated_units))
        missing = [u for u in treated_list if u not in set(units_all)]
        if missing:
            raise DesignError(
                f"treated_units contains {len(missing)} ids not found in idname={idname!r} "
                f"(e.g. {examples(missing)})"
            )
        if treat_time not in set(periods):
            raise DesignError(
                f"treat_time={treat_time!r} is not a period of tname={tname!r} "
                f"(periods run {periods[0]}..{periods[-1]})"
            )
        t_star = treat_time
    n_pre = periods.index(t_star)
    if n_pre < 1:
        raise DesignError(f"treatment starts at the first period ({t_star}); no pre-treatment period")
    if n_pre >= len(periods):
        raise DesignError(f"treatment starts after the last period ({t_star}); no post period")
    if n_pre < 2:
        raise DesignError(f"only one pre-treatment period before {t_star}; at least 2 are needed")

    pool = [u for u in units_all if u not in set(treated_list)]
    if donors is not None:
        wanted = list(dict.fromkeys(donors))
        unknown = [u for u in wanted if u not in set(pool)]
        if unknown:
            raise DesignError(
                f"donors contains {len(unknown)} ids that are treated or absent "
                f"(e.g. {examples(unknown)})"
            )
        pool = [u for u in pool if u in set(wanted)]
    if len(pool) < min_donors:
        raise EstimationError(
            f"{estimator} needs at least {min_donors} donor units; the donor pool has {len(pool)} "
            f"({examples(pool) or 'none'})"
        )
    units = pool + treated_list
    used = data[data[idname].isin(set(units))]
    wide = used.pivot(index=idname, columns=tname, values=yname).reindex(index=units, columns=periods)
    present = used.assign(_one=1).pivot(index=idname, columns=tname, values="_one") \
        .reindex(index=units, columns=periods)
    absent = present.isna()
    if absent.to_numpy().any():
        who = absent.any(axis=1)
        ex = [f"{u} ({examples(absent.columns[absent.loc[u]])})" for u in absent.index[who][:3]]
        raise DataError(
            f"the panel is unbalanced: {int(who.sum())} units lack rows for some periods "
            f"(e.g. {'; '.join(ex)}); {estimator} needs every unit in every period."
        )
    nan = wide.isna()
    if nan.to_numpy().any():
        bad_units = nan.index[nan.any(axis=1)]
        role = ["donor" if u in set(pool) else "treated" for u in bad_units]
        ex = [f"{u} [{r}] ({examples(nan.columns[nan.loc[u]])})" for u, r in zip(bad_units[:3], role)]
        kind = "donor pool" if all(r == "donor" for r in role) else "panel"
        raise DataError(
            f"yname={yname!r} is missing (NaN) in the {kind} for {len(bad_units)} units: "
            f"{'; '.join(ex)}{' ...' if len(bad_units) > 3 else ''}. Drop these units "
            f"(donors=...) or fill the gaps; {estimator} does not drop rows silently."
        )
    return Block(Y=wide.to_numpy(dtype=float), units=units, periods=periods,
                 n_control=len(pool), n_pre=n_pre, nobs=len(used))
