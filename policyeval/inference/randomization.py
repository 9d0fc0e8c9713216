r"""Randomization inference: permute adoption timing across units and refit.

Under the sharp null of no effect for any unit, the outcomes do not depend on
which units adopt when, so re-assigning the observed adoption dates at random
across the eligible units and recomputing the estimate traces out the
estimator's distribution under the null (Fisher 1935; for DiD with few
treated units, MacKinnon & Webb 2020). The p-value is the share of
re-assignments whose statistic is at least as extreme as the observed one.

:func:`randomization_inference` works with any policyeval estimator, because
it only calls ``estimator.fit(df, **fit_kwargs)`` and a statistic of the
result. Which column is permuted follows the fit arguments:

* ``gname=`` (first treated period): the per-unit values are permuted;
* ``treatment=`` (a 0/1 column): each unit's whole treatment path moves to
  another unit (balanced panels);
* ``treated_units=`` (synthetic control / synthetic DiD): the treated units
  are redrawn among the eligible units.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import (
    check_draws,
    constant_within,
    examples,
    p_value_text,
    require_columns,
    require_frame,
)
from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    DataError,
    EstimationError,
    EstimationWarning,
    FewTreatedWarning,
)
from policyeval.results.base import Summary

__all__ = ["RandomizationResult", "default_statistic", "randomization_inference"]

_TIE_RTOL = 1e-9


def default_statistic(result) -> float:
    """The headline number of a result.

    * ``result.overall["estimate"]`` if the result has an ``overall``
      summary (:class:`~policyeval.ImputationDiD`);
    * the ``"simple"`` aggregation of a
      :class:`~policyeval.CallawaySantAnna` result (analytic, no bootstrap);
    * the ``"simple"`` aggregation of a :class:`~policyeval.SunAbraham` result;
    * otherwise the term ``"ATT"`` (TWFE, two-stage, synthetic control /
      synthetic DiD), or the first parameter.

    Raises
    ------
    ValueError
        For other event-study results, whose first parameter is a
        pre-period coefficient: pass ``statistic=``, e.g.
        ``lambda r: r.params.loc[0]``.
    """
    overall = getattr(result, "overall", None)
    if overall is not None:
        if isinstance(overall, pd.Series):
            return float(overall["estimate"])
        return float(overall)
    if hasattr(result, "att_gt") and callable(getattr(result, "aggregate", None)):
        return float(result.aggregate("simple", n_bootstrap=0).overall["estimate"])
    if hasattr(result, "cohort_effects") and callable(getattr(result, "aggregate", None)):
        return float(result.aggregate("simple").params.iloc[0])
    params = result.params
    if "ATT" in params.index:
        return float(params["ATT"])
    if getattr(params.index, "name", None) == "event_time" or \
            getattr(result, "index_name", None) == "event_time":
        raise ArgumentValueError(
            "the result holds event-time coefficients (first: "
            f"{params.index[0]}); pass statistic=, e.g. lambda r: r.params.loc[0]"
        )
    return float(params.iloc[0])


@dataclass
class RandomizationResult:
    """Outcome of :func:`randomization_inference`.

    Attributes
    ----------
    observed : float
        The statistic on the actual assignment.
    distribution : numpy.ndarray
        The statistic on each re-assignment (NaN where the refit failed).
    p_value : float
        Two-sided randomization p-value (see the function's Notes).
    n_permutations : int
        Number of re-assignments evaluated.
    enumerated : bool
        Whether every distinct re-assignment was evaluated once.
    n_eligible : int
        Number of units whose adoption timing was permuted.
    permuted : str
        What was permuted, e.g. ``"gname='first_treat'"``.
    n_failed : int
        Refits that raised (left out of the p-value, with a warning).
    statistic_name : str
    random_state : object
    """

    observed: float
    distribution: np.ndarray = field(repr=False)
    p_value: float
    n_permutations: int
    enumerated: bool
    n_eligible: int
    permuted: str
    n_failed: int = 0
    statistic_name: str = "statistic"
    random_state: Any = None
    estimator: str = ""

    @property
    def statistic(self) -> float:
        """The statistic on the actual assignment (same as :attr:`observed`)."""
        return self.observed

    def to_frame(self) -> pd.DataFrame:
        """One row: statistic, observed, p_value, n_permutations, ..."""
        valid = self.distribution[np.isfinite(self.distribution)]
        return pd.DataFrame([{
            "statistic": self.statistic_name, "observed": self.observed,
            "p_value": self.p_value, "n_permutations": self.n_permutations,
            "enumerated": self.enumerated, "n_eligible": self.n_eligible,
            "n_failed": self.n_failed,
            "null_mean": float(valid.mean()) if valid.size else np.nan,
            "null_std": float(valid.std(ddof=1)) if valid.size > 1 else np.nan,
        }])

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary."""
        table = self.to_frame().set_index("statistic")[["observed", "p_value", "null_mean",
                                                        "null_std"]]
        facts = [
            ("Estimator", self.estimator or "-"),
            ("Permuted", self.permuted),
            ("Re-assignments", f"{self.n_permutations:,}" + (" (all)" if self.enumerated
                                                            else "")),
            ("Eligible units", f"{self.n_eligible:,}"),
            ("Failed refits", str(self.n_failed)),
            ("random_state", repr(self.random_state)),
        ]
        rule = ("#{|T*| >= |T|} / M over all M distinct assignments" if self.enumerated
                else "(1 + #{|T*| >= |T|}) / (1 + B)")
        return Summary(title="Randomization inference", facts=facts, table=table,
                       notes=[f"Two-sided p-value {rule}.", f"Reported: {self.p_value_text}."])

    @property
    def p_value_text(self) -> str:
        """The p-value with its resolution: exact over the enumerated assignments, or
        ``1/(B+1)`` steps for ``B`` random re-assignments."""
        valid = int(np.isfinite(self.distribution).sum())
        return p_value_text(self.p_value, valid, enumerated=self.enumerated,
                            plus_one=not self.enumerated)

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def plot(self, ax=None, bins: int | str = "auto", **kwargs):
        """Histogram of the permutation distribution with the observed value.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        valid = self.distribution[np.isfinite(self.distribution)]
        ax.hist(valid, bins=bins, color=kwargs.pop("color", "0.7"), edgecolor="white",
                label=f"re-assignments (n={valid.size})", **kwargs)
        ax.axvline(self.observed, color="C3", lw=2,
                   label=f"observed {self.observed:.3g} (p = {self.p_value:.3f})")
        ax.axvline(-self.observed, color="C3", lw=1, ls="--", label="-observed")
        ax.set_xlabel(self.statistic_name)
        ax.set_ylabel("count")
        ax.set_title("Randomization distribution")
        ax.legend(frameon=False, fontsize="small")
        return ax


# --------------------------------------------------------------------------- assignments
def _n_distinct(labels: np.ndarray) -> int:
    counts = Counter(labels.tolist()).values()
    total = math.factorial(len(labels))
    for c in counts:
        total //= math.factorial(c)
    return total


def _distinct_assignments(labels: np.ndarray) -> Iterator[np.ndarray]:
    """Every distinct arrangement of the multiset ``labels`` (as index arrays into it)."""
    n = len(labels)
    groups: dict[Any, list[int]] = {}
    for i, lab in enumerate(labels.tolist()):
        groups.setdefault(lab, []).append(i)
    sources = list(groups.values())

    def place(free: tuple[int, ...], g: int, out: np.ndarray):
        if g == len(sources):
            yield out.copy()
            return
        for chosen in combinations(free, len(sources[g])):
            out[list(chosen)] = sources[g]
            rest = tuple(p for p in free if p not in chosen)
            yield from place(rest, g + 1, out)

    yield from place(tuple(range(n)), 0, np.empty(n, dtype=np.intp))


def _unit_labels(df: pd.DataFrame, col: str, idname: str, arg: str) -> pd.Series:
    """One value of ``col`` per unit; raise if it varies within a unit."""
    key = df[col].astype("float64") if pd.api.types.is_numeric_dtype(df[col]) else df[col]
    constant_within(df, idname, col, arg, values=key.fillna(-np.inf))
    return df.groupby(idname, sort=False)[col].first()


class _Permuter:
    """Builds the data (or fit arguments) of one re-assignment."""

    def __init__(self, df: pd.DataFrame, fit_kwargs: dict, eligible) -> None:
        idname = fit_kwargs.get("idname")
        if idname is None:
            raise ArgumentValueError("randomization_inference needs idname= among the fit arguments")
        require_columns(df, idname=idname)
        self.df, self.idname, self.kw = df, idname, fit_kwargs
        units = pd.unique(df[idname])
        if eligible is None:
            elig = units
        else:
            elig = pd.unique(pd.Series(list(eligible), dtype=object))
            unknown = [u for u in elig if u not in set(units.tolist())]
            if unknown:
                raise DataError(
                    f"eligible has {len(unknown)} ids that are not values of "
                    f"idname={idname!r} (e.g. {examples(unknown)})"
                )
        self.units = units
        self.eligible = np.asarray(elig, dtype=object)
        if len(self.eligible) < 2:
            raise DataError(f"eligible must hold at least 2 units to permute; got "
                            f"{len(self.eligible)}")
        if fit_kwargs.get("gname") is not None:
            self.mode, self.col = "gname", fit_kwargs["gname"]
        elif fit_kwargs.get("treatment") is not None:
            self.mode, self.col = "treatment", fit_kwargs["treatment"]
        elif fit_kwargs.get("treated_units") is not None:
            self.mode, self.col = "treated_units", None
        else:
            raise ArgumentValueError(
                "randomization_inference permutes adoption timing: give gname= (first treated "
                "period), treatment= (0/1 column) or treated_units= among the fit arguments"
            )
        require_columns(df, **{self.mode: self.col})
        getattr(self, f"_setup_{self.mode}")()

    @property
    def description(self) -> str:
        return f"{self.mode}={self.col!r}" if self.col else "treated_units"

    # the labels permuted among the eligible units, in the order of self.eligible
    def _setup_gname(self) -> None:
        per_unit = _unit_labels(self.df, self.col, self.idname, "gname")
        # integer codes (missing = never treated is one more label) for counting arrangements
        self.labels = pd.factorize(per_unit.reindex(self.eligible), use_na_sentinel=False)[0]
        row_codes, uniques = pd.factorize(self.df[self.idname])
        first_row = np.full(len(uniques), -1, dtype=np.intp)
        first_row[row_codes[::-1]] = np.arange(len(row_codes))[::-1]
        self.row_codes, self.first_row = row_codes, first_row
        self.elig_pos = uniques.get_indexer(pd.Index(self.eligible))

    def _setup_treatment(self) -> None:
        tname = self.kw.get("tname")
        if tname is None:
            raise ArgumentValueError("treatment= permutation needs tname= among the fit arguments")
        wide = self.df.pivot(index=self.idname, columns=tname, values=self.col)
        if wide.isna().to_numpy().any():
            bad = wide.index[wide.isna().any(axis=1)]
            raise DataError(
                f"treatment={self.col!r} paths can only be permuted in a balanced panel; "
                f"{len(bad)} units miss periods or values (e.g. {examples(bad)})"
            )
        self.matrix = wide.to_numpy()
        self.elig_rows = wide.index.get_indexer(pd.Index(self.eligible))
        self.row_pos = (wide.index.get_indexer(self.df[self.idname]),
                        wide.columns.get_indexer(self.df[tname]))
        paths = self.matrix[self.elig_rows]
        _, self.labels = np.unique(paths, axis=0, return_inverse=True)
        self.labels = self.labels.ravel()
        self.paths = paths

    def _setup_treated_units(self) -> None:
        treated = list(self.kw["treated_units"])
        elig = set(self.eligible.tolist())
        self.fixed_treated = [u for u in treated if u not in elig]
        inside = set(treated) & elig
        self.labels = np.array([1 if u in inside else 0 for u in self.eligible])

    def n_distinct(self) -> int:
        return _n_distinct(self.labels)

    def apply(self, order: np.ndarray) -> tuple[pd.DataFrame, dict]:
        """Data and fit arguments when eligible unit ``i`` takes label ``order[i]``."""
        if self.mode == "gname":
            # eligible unit i takes the timing of eligible unit order[i]; one take on the
            # column keeps its dtype (int, float with NaN, nullable Int64, ...)
            source = np.arange(len(self.first_row))
            source[self.elig_pos] = self.elig_pos[order]
            values = self.df[self.col].array.take(self.first_row[source][self.row_codes])
            col = pd.Series(values, index=self.df.index, name=self.col)
            return self.df.assign(**{self.col: col}), self.kw
        if self.mode == "treatment":
            matrix = self.matrix.copy()
            matrix[self.elig_rows] = self.paths[order]
            col = pd.Series(matrix[self.row_pos], index=self.df.index)
            return self.df.assign(**{self.col: col.astype(self.df[self.col].dtype)}), self.kw
        chosen = self.eligible[self.labels[order] == 1].tolist()
        return self.df, {**self.kw, "treated_units": self.fixed_treated + chosen}


@renamed_arguments(df="data")
def randomization_inference(
    estimator,
    data: pd.DataFrame,
    *,
    statistic: Callable[[Any], float] | None = None,
    n_permutations: int = 999,
    random_state: Any = None,
    progress: bool = True,
    eligible: Sequence | None = None,
    **fit_kwargs,
) -> RandomizationResult:
    r"""Randomization (permutation) inference on adoption timing for any estimator.

    Parameters
    ----------
    estimator : object
        Any policyeval estimator: something with ``fit(df, **fit_kwargs)``
        returning a result.
    data : pandas.DataFrame
        The panel.
    statistic : callable, optional
        ``statistic(result) -> float``; default :func:`default_statistic`
        (the overall / aggregated ATT where the result has one, else its
        first parameter; event-study results need an explicit statistic).
    n_permutations : int
        Number of random re-assignments :math:`B`. When the number of
        distinct re-assignments :math:`M` (the multinomial coefficient of the
        eligible units' labels) is at most ``n_permutations``, all of them
        are evaluated once instead (exact test).
    random_state : int, numpy.random.Generator or None
        Seed of the permutations.
    progress : bool
        Show a tqdm progress bar.
    eligible : sequence, optional
        Unit ids whose adoption timing may be exchanged (default: every unit
        in ``df``). Units outside keep their own timing.
    **fit_kwargs
        Passed to ``estimator.fit``; must include ``idname`` and one of
        ``gname``, ``treatment`` (with ``tname``) or ``treated_units``.

    Returns
    -------
    RandomizationResult

    Raises
    ------
    ArgumentValueError
        If no permutable argument is given, or fewer than 99 random
        re-assignments are asked for (``n_permutations < 99`` while there are
        more distinct assignments than that; see
        :func:`policyeval._validation.check_draws`).
    TreatmentTimingError
        If ``gname`` varies within a unit.
    DataError
        If ``eligible`` names unknown units or fewer than two, or treatment
        paths cannot be permuted (unbalanced panel).
    EstimationError
        If every refit fails.

    Notes
    -----
    With :math:`T` the statistic on the observed assignment and
    :math:`T^*_b` on the re-assignment :math:`b`, the two-sided p-value is

    .. math::

        p = \frac{1 + \#\{b : |T^*_b| \ge |T|\}}{1 + B}

    for :math:`B` random permutations (the observed assignment counted once;
    the test has exact size under the sharp null), and
    :math:`p = \#\{m : |T^*_m| \ge |T|\}/M` when all :math:`M` distinct
    assignments (the observed one among them) are enumerated. Ties within a
    relative :math:`10^{-9}` count as extreme. Refits that raise (e.g. a
    re-assignment leaving no control cohort) are dropped from the count with
    an :class:`~policyeval.exceptions.EstimationWarning` stating how many;
    warnings raised inside refits are summarised once.

    The test is of the sharp null of no effect; it is valid when adoption
    timing is as good as randomly assigned across the eligible units, so
    choose ``eligible`` to reflect the actual assignment (e.g. units of the
    same province, or the units that could have received an enclave).

    References
    ----------
    Fisher, R. A. (1935). *The Design of Experiments*. Oliver & Boyd.

    MacKinnon, J. G. and Webb, M. D. (2020). Randomization inference for
    difference-in-differences with few treated clusters. *Journal of
    Econometrics*, 218(2), 435-450.

    Examples
    --------
    TWFE on the bundled simulated panel, 99 random re-assignments of the
    adoption years across all counties (fewer are refused; 999 or more for a paper):

    >>> import policyeval as pe
    >>> from policyeval.inference.randomization import randomization_inference
    >>> panel = pe.load_simulated_panel()
    >>> ri = randomization_inference(
    ...     pe.TWFE(), panel, yname="log_gdp", tname="year", idname="county_code",
    ...     gname="first_treat", n_permutations=99, random_state=1, progress=False)
    >>> ri.n_permutations, round(ri.observed, 3), ri.p_value
    (99, 0.046, 0.03)
    >>> ri.p_value_text
    'p = 0.03 (99 random draws; resolution 1/100)'
    >>> ax = ri.plot()          # histogram of the 99 statistics with the observed one
    """
    df = data
    if not hasattr(estimator, "fit"):
        raise ArgumentTypeError(
            f"estimator must have a fit(df, ...) method, got {type(estimator).__name__}")
    require_frame(df)
    if isinstance(n_permutations, bool) or not isinstance(n_permutations, (int, np.integer)):
        raise ArgumentTypeError(f"n_permutations must be an integer, got {n_permutations!r}")
    if n_permutations < 1:
        raise ArgumentValueError(f"n_permutations={n_permutations} must be at least 1")
    stat = default_statistic if statistic is None else statistic
    if not callable(stat):
        raise ArgumentTypeError("statistic must be a function result -> float")
    stat_name = getattr(stat, "__name__", "statistic")
    if stat_name in ("<lambda>", "default_statistic"):
        stat_name = "statistic" if stat_name == "<lambda>" else "estimate"

    permuter = _Permuter(df, fit_kwargs, eligible)
    n_distinct = permuter.n_distinct()
    enumerated = n_distinct <= n_permutations
    if not enumerated:
        # random re-assignments: too few cannot resolve the 5% and 1% levels (enumerating
        # every distinct assignment is an exact test, however few there are)
        check_draws(int(n_permutations), "n_permutations", stacklevel=3)
    observed_result = estimator.fit(df, **fit_kwargs)
    observed = float(stat(observed_result))
    if not np.isfinite(observed):
        raise EstimationError(f"the statistic on the observed data is {observed}; it must "
                              "be finite")

    if enumerated:
        orders: Iterator[np.ndarray] = _distinct_assignments(permuter.labels)
        total = n_distinct
    else:
        rng = np.random.default_rng(random_state)
        n_elig = len(permuter.eligible)
        orders = (rng.permutation(n_elig) for _ in range(n_permutations))
        total = n_permutations
    if progress:
        from tqdm.auto import tqdm

        orders = tqdm(orders, total=total, desc="randomization inference", leave=False)

    draws = np.full(total, np.nan)
    failures: list[str] = []
    caught: Counter = Counter()
    for b, order in enumerate(orders):
        data_b, kw_b = permuter.apply(order)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                draws[b] = float(stat(estimator.fit(data_b, **kw_b)))
            except (ValueError, KeyError, np.linalg.LinAlgError) as err:
                failures.append(f"{type(err).__name__}: {err}")
        for w in seen:
            if not issubclass(w.category, FewTreatedWarning):  # same counts in every refit
                caught[f"{w.category.__name__}: {str(w.message)[:160]}"] += 1

    if caught:
        top, count = caught.most_common(1)[0]
        warnings.warn(
            f"{sum(caught.values())} warnings were raised while refitting on the "
            f"re-assignments; most frequent ({count}x): {top}",
            EstimationWarning, stacklevel=2,
        )
    valid = draws[np.isfinite(draws)]
    if valid.size == 0:
        raise EstimationError(
            f"every refit on a re-assignment failed or gave a non-finite statistic "
            f"(first error: {failures[0] if failures else 'non-finite statistic'})"
        )
    n_bad = total - valid.size
    if n_bad:
        warnings.warn(
            f"{n_bad} of {total} re-assignments gave no statistic and are left out of the "
            f"p-value (first error: {failures[0] if failures else 'non-finite statistic'})",
            EstimationWarning, stacklevel=2,
        )
    thr = abs(observed) - _TIE_RTOL * max(1.0, abs(observed))
    extreme = int(np.sum(np.abs(valid) >= thr))
    p_value = extreme / valid.size if enumerated else (1 + extreme) / (1 + valid.size)
    return RandomizationResult(
        observed=observed, distribution=draws, p_value=float(p_value), n_permutations=total,
        enumerated=enumerated, n_eligible=len(permuter.eligible),
        permuted=permuter.description, n_failed=n_bad, statistic_name=stat_name,
        random_state=random_state,
        estimator=getattr(observed_result, "estimator", type(estimator).__name__),
    )
