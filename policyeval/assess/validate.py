"""Do the ex-ante scores predict realised effects? A check on SIMULATED data.

:func:`validate_scores` takes the simulated county × industry panel of
:func:`policyeval.assess.simulate_industry.simulate_industry_panel` (same units
and same real enclave treatments as the bundled county panel; an enclave's
effect there **depends on industry fit and distance because the simulator says
so**), and asks whether the scores a planner could have computed *before* each
enclave started rank and size the effects that were then realised:

1. **realised effects**: for each industry, :class:`~policyeval.ImputationDiD`
   (Borusyak, Jaravel & Spiess 2024) on log employment, never-treated and
   not-yet-treated units as controls; the imputed effects of each destination
   county are averaged over its treated years -> one realised effect per
   destination × industry cell;
2. **ex-ante scores**, from the year before the enclave started only:
   :func:`~policyeval.assess.industry_fit` (relatedness density + LQ) for
   each industry of the destination, and :func:`~policyeval.assess.partner_scores`
   for the origin (distance + complementarity over every other unit as
   candidates), plus the real distance between the registry's origin point
   and the destination;
3. **out of sample**: destinations split into ``folds`` groups (seeded); a
   linear map from (fit score, log distance) to the realised effect is fitted
   on the other folds and predicts the held-out fold; rank correlation and
   calibration (slope and intercept of realised on predicted, and a binned
   table) are computed on the held-out predictions only.

The scores' success here says the package computes them and the estimators
recover the effects; it is **not evidence that fit and distance drive real
enclave effects** -- that dependence is an assumption of the simulation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from policyeval._validation import examples
from policyeval.exceptions import (
    ArgumentTypeError,
    DataError,
    DroppedObservationsWarning,
)

__all__ = ["validate_scores", "ScoreValidation"]


@dataclass
class ScoreValidation:
    """Result of :func:`validate_scores` -- every table SIMULATED.

    Attributes
    ----------
    cells : DataFrame
        One row per destination county × industry: ex-ante scores, realised
        (estimated) effect, true effect, fold and out-of-sample prediction.
    metrics : Series
        Rank correlations, calibration slope/intercept, RMSE (see :func:`validate_scores`).
    calibration : DataFrame
        Held-out cells binned by predicted effect: mean predicted, realised, true.
    pairs : DataFrame
        One row per realised pairing (registry enclave × destination unit):
        where the partner score ranked the destination among the origin's
        candidates, and the realised effect.
    parameters : dict
        The simulated dependence, the seed, folds.
    """

    cells: pd.DataFrame
    metrics: pd.Series
    calibration: pd.DataFrame
    pairs: pd.DataFrame
    excluded: pd.DataFrame
    parameters: dict = field(default_factory=dict)

    def summary(self) -> str:
        m = self.metrics
        return "\n".join([
            "Ex-ante scores vs realised effects -- SIMULATED data (the dependence of effects on "
            "fit and distance is an assumption of the simulator)",
            f"  cells (destination x industry): {int(m['n_cells'])}, destinations: "
            f"{int(m['n_destinations'])}, folds: {int(m['folds'])}",
            f"  Spearman(realised, industry-fit score), all cells:        {m['spearman_fit']:.3f}",
            f"  mean within-destination Spearman (industry ranking):      {m['spearman_fit_within']:.3f}",
            f"  Spearman(realised, relatedness density alone):            {m['spearman_density']:.3f}",
            f"  Spearman(destination mean realised, -log distance):      {m['spearman_distance']:.3f}",
            f"  out of sample: Spearman(predicted, realised):             {m['oos_spearman']:.3f}",
            f"  out of sample: calibration slope {m['calibration_slope']:.3f}, intercept "
            f"{m['calibration_intercept']:.4f}; RMSE {m['oos_rmse']:.4f} vs {m['null_rmse']:.4f} "
            "(training mean)",
            f"  Spearman(realised, true effect) (estimation check):       {m['spearman_realised_true']:.3f}",
        ])

    def __str__(self) -> str:
        return self.summary()

    def to_frame(self) -> pd.DataFrame:
        """The cells table (a copy)."""
        return self.cells.copy()


def _realised(panel: pd.DataFrame, min_event_time: int) -> pd.DataFrame:
    from policyeval.estimators.imputation import ImputationDiD
    from policyeval.exceptions import FewTreatedWarning

    out = []
    for ind, sub in panel.groupby("industry", sort=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FewTreatedWarning)
            res = ImputationDiD().fit(sub, yname="log_employment", tname="year",
                                      idname="county_code", gname="first_treat")
        late = res.effects[res.effects["event_time"] >= min_event_time]
        eff = late.groupby("county_code")["tau"].agg(["mean", "size"])
        out.append(pd.DataFrame({"county_code": eff.index.astype(str), "industry": ind,
                                 "realised": eff["mean"].to_numpy(),
                                 "n_treated_years": eff["size"].to_numpy()}))
    return pd.concat(out, ignore_index=True)


def _ex_ante(panel: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    from policyeval.assess.industry import industry_fit
    from policyeval.assess.partners import partner_scores

    from policyeval.design.geo import county_centroids

    dests = truth.drop_duplicates("county_code")
    points = county_centroids(sorted(panel["county_code"].unique()))
    located = set(points.loc[points["lat"].notna() & points["lon"].notna(), "code"])
    fits, partner_rows = [], []
    cols = ["county_code", "industry", "year", "employment"]
    for row in dests.itertuples(index=False):
        year = int(row.start_year) - 1
        one = panel.loc[panel["year"] == year, cols]
        fit = industry_fit(one, row.county_code, year)
        fits.append(fit[["industry", "rank", "lq", "density", "score"]]
                    .rename(columns={"rank": "fit_rank", "score": "fit_score"})
                    .assign(county_code=row.county_code, score_year=year))
        rec = {"county_code": row.county_code, "partner_score": np.nan, "partner_rank": np.nan,
               "n_candidates": np.nan, "complementarity": np.nan}
        if isinstance(row.origin_unit, str) and row.origin_unit in located:
            # candidates: every other unit with a shipped point (a few post-2016 codes have none)
            cands = sorted(located - {row.origin_unit})
            tab = partner_scores(one, row.origin_unit, cands, year=year)
            hit = tab[tab["candidate"] == row.county_code].iloc[0]
            rec.update(partner_score=hit["score"], partner_rank=int(hit["rank"]),
                       n_candidates=len(tab), complementarity=hit["complementarity"])
        partner_rows.append(rec)
    return pd.concat(fits, ignore_index=True), pd.DataFrame(partner_rows)


def _ols(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.linalg.lstsq(X, y, rcond=None)[0]


def _design(cells: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(cells)), cells["fit_score"], np.log(cells["distance_km"])])


def validate_scores(sim=None, *, seed: int = 20240601, min_event_time: int = 3, folds: int = 5,
                    random_state: int = 0, bins: int = 5, top: float = 0.2) -> ScoreValidation:
    """Check the ex-ante scores against realised (estimated) effects, out of sample -- SIMULATED.

    Parameters
    ----------
    sim : SimulatedIndustryPanel, optional
        Output of :func:`policyeval.assess.simulate_industry.simulate_industry_panel`;
        default: that function with ``seed``.
    seed : int, default 20240601
        Seed of the simulation when ``sim`` is not given.
    min_event_time : int, default 3
        The realised effect of a cell is the mean imputed effect over its
        years with event time (year - start) at least this: the long-run
        effect, once the simulated ramp-up (4 years) is over, so that early
        and late enclaves are compared on the same footing. Destinations
        without such a year in the panel are left out, with a counted
        warning, and listed in ``excluded``.
    folds : int, default 5
        Number of destination groups for the out-of-sample split (2 or more).
    random_state : int, default 0
        Seed of the assignment of destinations to folds.
    bins : int, default 5
        Number of bins (quantiles of the prediction) of the calibration table.
    top : float, default 0.2
        A realised pairing counts as "ranked high" when its destination is in
        the best ``top`` share of the origin's candidates.

    Returns
    -------
    ScoreValidation
        ``metrics`` holds ``n_cells``, ``n_destinations``, ``folds``;
        ``spearman_fit`` (realised vs industry-fit score over all cells),
        ``spearman_fit_within`` (mean over destinations of the Spearman
        correlation across its industries), ``spearman_distance`` (destination
        mean realised vs minus log distance); held-out ``oos_spearman``,
        ``calibration_slope`` and ``calibration_intercept`` (OLS of realised
        on predicted; 1 and 0 if calibrated), ``oos_rmse`` and ``null_rmse``
        (predicting the training mean); ``spearman_realised_true`` and
        ``spearman_partner`` (destination mean realised vs partner score where
        the origin is a panel unit).

    Raises
    ------
    ArgumentTypeError
        ``folds`` or ``bins`` not integers.
    DataError
        ``folds`` < 2 or more than the destinations, ``top`` outside (0, 1].

    Notes
    -----
    The out-of-sample prediction for a cell of destination :math:`c` in fold
    :math:`k` is :math:`\\hat\\tau_{ci} = \\hat a_{-k} + \\hat b_{-k}\\,
    \\text{fit}_{ci} + \\hat c_{-k} \\log d_c` with coefficients from OLS of
    the realised effects of the other folds.

    Two distances appear: the simulated effect and the ``distance_km`` column
    use the registry's origin point (e.g. 苏州市's point for a Suzhou-run
    park); :func:`~policyeval.assess.partner_scores` measures from the
    origin's main unit in the panel (e.g. 虎丘区), the only focal county it
    accepts. Origins outside the panel (北京, 上海) get no partner score.

    Examples
    --------
    >>> from policyeval.assess import validate_scores
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")       # 3 destinations start after 2020: counted, left out
    ...     val = validate_scores()                # SIMULATED dependence
    >>> int(val.metrics["n_destinations"]), int(val.metrics["n_cells"]), len(val.excluded)
    (22, 220, 3)
    >>> val.metrics[["oos_spearman", "calibration_slope", "spearman_realised_true"]].round(2).tolist()
    [0.45, 0.88, 0.91]
    """
    from policyeval.data.simulated_label import mark_simulated
    from policyeval.assess.simulate_industry import simulate_industry_panel

    for name, value in (("folds", folds), ("bins", bins)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ArgumentTypeError(f"{name}={value!r} must be an integer")
    if not 0 < top <= 1:
        raise DataError(f"top={top!r} must lie in (0, 1]")
    if sim is None:
        sim = simulate_industry_panel(seed)
    panel, truth = sim.panel, sim.truth
    if folds < 2:
        raise DataError(f"folds={folds} must be 2 or more")
    if bins < 2:
        raise DataError(f"bins={bins} must be 2 or more")

    if isinstance(min_event_time, bool) or not isinstance(min_event_time, (int, np.integer)):
        raise ArgumentTypeError(f"min_event_time={min_event_time!r} must be an integer")
    realised = _realised(panel, int(min_event_time))
    last = int(panel["year"].max())
    late = truth["start_year"].astype(int) + min_event_time > last
    excluded = truth.loc[late].drop_duplicates("county_code")[
        ["enclave_id", "county_code", "county_name", "start_year"]].reset_index(drop=True)
    if len(excluded):
        excluded["reason"] = f"no year with event time >= {min_event_time} by {last}"
        warnings.warn(
            f"validate_scores: {len(excluded)} destination(s) started too late to have a year "
            f"with event time >= {min_event_time} by {last} (e.g. "
            f"{examples(f'{n} {y}' for n, y in zip(excluded['county_name'], excluded['start_year']))}); "
            "they are left out of the validation (listed in .excluded)",
            DroppedObservationsWarning, stacklevel=2)
    truth = truth.loc[~late].reset_index(drop=True)
    dest = truth["county_code"].drop_duplicates().to_numpy()
    if folds > len(dest):
        raise DataError(f"folds={folds} must be between 2 and the {len(dest)} destinations")
    fits, partners = _ex_ante(panel, truth)
    cells = (truth[["enclave_id", "county_code", "county_name", "industry", "start_year", "origin_name",
                    "origin_unit", "distance_km", "true_density", "tau"]]
             .merge(fits, on=["county_code", "industry"], how="left", validate="one_to_one")
             .merge(realised, on=["county_code", "industry"], how="left", validate="one_to_one"))
    lost = cells["realised"].isna()
    if lost.any():
        raise DataError(f"{int(lost.sum())} cells have no realised effect "
                        f"(e.g. {examples(cells.loc[lost, 'county_code'])})")
    rng = np.random.default_rng(random_state)
    fold_of = dict(zip(rng.permutation(dest), np.arange(len(dest)) % folds))
    cells["fold"] = cells["county_code"].map(fold_of).astype(int)
    cells["predicted"] = np.nan
    X, y = _design(cells), cells["realised"].to_numpy()
    null = np.empty(len(cells))
    for k in range(folds):
        test = cells["fold"].to_numpy() == k
        beta = _ols(X[~test], y[~test])
        cells.loc[test, "predicted"] = X[test] @ beta
        null[test] = y[~test].mean()
    pred = cells["predicted"].to_numpy()
    slope, intercept = np.polyfit(pred, y, 1)
    within = [stats.spearmanr(g["realised"], g["fit_score"]).statistic
              for _, g in cells.groupby("county_code") if g["fit_score"].nunique() > 1]
    by_dest = cells.groupby("county_code").agg(realised=("realised", "mean"),
                                               distance_km=("distance_km", "first"),
                                               tau=("tau", "mean")).reset_index()
    by_dest = by_dest.merge(partners, on="county_code", how="left")
    with_partner = by_dest["partner_score"].notna()
    metrics = pd.Series({
        "n_cells": len(cells), "n_destinations": len(dest), "folds": folds,
        "spearman_fit": stats.spearmanr(y, cells["fit_score"]).statistic,
        "spearman_fit_within": float(np.mean(within)),
        "spearman_density": stats.spearmanr(y, cells["density"]).statistic,
        "spearman_distance": stats.spearmanr(by_dest["realised"], -np.log(by_dest["distance_km"])).statistic,
        "spearman_partner": (stats.spearmanr(by_dest.loc[with_partner, "realised"],
                                             by_dest.loc[with_partner, "partner_score"]).statistic
                             if with_partner.sum() > 2 else np.nan),
        "n_destinations_with_partner_score": int(with_partner.sum()),
        "oos_spearman": stats.spearmanr(pred, y).statistic,
        "calibration_slope": slope, "calibration_intercept": intercept,
        "oos_rmse": float(np.sqrt(np.mean((y - pred) ** 2))),
        "null_rmse": float(np.sqrt(np.mean((y - null) ** 2))),
        "spearman_realised_true": stats.spearmanr(y, cells["tau"]).statistic,
    })
    cells["bin"] = pd.qcut(pred, bins, labels=False, duplicates="drop") + 1
    calibration = (cells.groupby("bin").agg(n=("realised", "size"), predicted=("predicted", "mean"),
                                            realised=("realised", "mean"), true=("tau", "mean"))
                   .reset_index())

    first = truth.drop_duplicates("county_code")[["enclave_id", "enclave_name", "enclave_type",
                                                  "origin_name", "origin_unit", "county_code",
                                                  "county_name", "start_year"]]
    pairs = first.merge(by_dest, on="county_code", how="left")
    pairs["partner_percentile"] = pairs["partner_rank"] / pairs["n_candidates"]
    pairs["ranked_high"] = (pairs["partner_percentile"] <= top).astype("boolean")
    pairs.loc[pairs["partner_rank"].isna(), "ranked_high"] = pd.NA  # origin not a panel unit
    best = cells.loc[cells.groupby("county_code")["fit_score"].idxmax(),
                     ["county_code", "industry", "realised"]]
    best.columns = ["county_code", "best_fit_industry", "best_fit_realised"]
    pairs = pairs.merge(best, on="county_code", how="left")
    pairs["realised_rank"] = pairs["realised"].rank(ascending=False, method="min").astype(int)
    pairs = pairs.sort_values(["partner_percentile", "realised_rank"], na_position="last",
                              kind="stable").reset_index(drop=True)
    parameters = {**sim.parameters, "folds": folds, "random_state": random_state, "top": top}
    return ScoreValidation(mark_simulated(cells), metrics, mark_simulated(calibration),
                           mark_simulated(pairs), mark_simulated(excluded), parameters)
