r"""Two-stage difference-in-differences (Gardner 2021; R ``did2s``).

Stage one estimates the fixed effects (and covariates) on the untreated
observations only; stage two regresses the outcome net of those effects on
the treatment indicator (static) or on event-time dummies (dynamic). The
standard errors are Gardner's GMM ones, which carry the first stage's
estimation error into the second, clustered; they equal those of R ``did2s``
and ``pyfixest.did2s`` (no small-sample factor).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from policyeval._deprecation import renamed_arguments
from policyeval._validation import column_list, examples, require_columns
from policyeval.estimators._fixed_effects import prepare_fe_panel
from policyeval.exceptions import ArgumentTypeError, DataError, EstimationError
from policyeval.results.base import check_level, check_untreated_control
from policyeval.results.provenance import records_provenance
from policyeval.results.regression import TwoStageResult

__all__ = ["TwoStageDiD", "TwoStageResult"]


def _dummies(codes: np.ndarray, n_levels: int, drop_first: bool) -> sp.csr_matrix:
    n = len(codes)
    M = sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, n_levels))
    return M[:, 1:] if drop_first else M


class TwoStageDiD:
    r"""Two-stage difference-in-differences of Gardner (2021).

    Parameters
    ----------
    control_group : {"not_yet_treated"}
        The comparison observations: every untreated observation, of
        never-treated units and of not-yet-treated ones (the only choice of
        this estimator: its first stage uses all of them; the argument is
        here so that every staggered estimator takes ``control_group`` first,
        with Callaway-Sant'Anna's values).
    horizons : None, True or iterable of int
        ``None`` (default) estimates one static effect (term ``"ATT"``; ``"treated"`` before 0.2, still answered for one release);
        ``True`` one coefficient per event time :math:`e = t - g` observed
        for ever-treated units (leads included, as R ``did2s`` with
        ``i(rel_year, ref = Inf)``); an iterable only those event times
        (rows at other event times stay in the second stage with every
        dummy zero and do not move the coefficients).
    fe : sequence of str, optional
        Columns whose fixed effects the first stage estimates, e.g.
        ``("state", "year")`` as in the published ``df_het`` example.
        Default: ``(idname, tname)``, unit and period effects.
    cluster : str, optional
        Cluster column for the GMM standard errors; default ``idname``.
    level : float
        Confidence level of the result's intervals (default 0.95); stored on
        the result as ``result.level``.

    Notes
    -----
    Let :math:`\Omega_0` be the untreated observations (:math:`D_{it}=0`:
    never treated and not yet treated). Stage one fits

    .. math:: y_{it} = \sum_f \mu^{(f)}_{f(it)} + X_{it}'\gamma + u_{it}
              \quad\text{on } \Omega_0,

    stage two regresses :math:`\tilde y_{it} = y_{it} - \hat\mu_{it} -
    X_{it}'\hat\gamma` on :math:`Z_{it}` (:math:`D_{it}`, or event-time
    dummies) over all observations, without intercept:
    :math:`\hat\beta = (Z'Z)^{-1}Z'\tilde y`. With :math:`W` the
    first-stage design, :math:`W_0` its rows on :math:`\Omega_0` (zero
    elsewhere), :math:`\hat u` the first-stage residuals and :math:`\hat e`
    the second-stage ones, the GMM covariance is

    .. math::

        \hat V = (Z'Z)^{-1}\Big[\sum_c \psi_c\psi_c'\Big](Z'Z)^{-1},
        \qquad \psi_c = Z_c'\hat e_c - Z'W (W_0'W_0)^{-1} W_{0c}'\hat u_c,

    summed over clusters :math:`c` (Gardner 2021, section 3; Butts &
    Gardner 2022). Confidence intervals use the normal distribution.
    Parallel trends and no anticipation are assumed for the untreated
    observations; the effects may vary across units and time.

    References
    ----------
    Gardner, J. (2021). Two-stage differences in differences. Working paper,
    arXiv:2207.05943.

    Butts, K. and Gardner, J. (2022). did2s: Two-stage
    difference-in-differences. *The R Journal*, 14(3), 162-173.

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame([(i, t) for i in range(90) for t in range(2000, 2010)],
    ...                   columns=["unit", "year"])
    >>> df["g"] = df["unit"].map(lambda i: [0, 2004, 2007][i % 3])
    >>> df["y"] = (df["unit"] % 7 + 0.1 * (df["year"] - 2000) + rng.normal(0, 0.2, len(df))
    ...            + 2.0 * ((df["g"] > 0) & (df["year"] >= df["g"])))
    >>> res = pe.TwoStageDiD().fit(df, yname="y", tname="year", idname="unit", gname="g")
    >>> round(float(res.params["ATT"]), 1)
    2.0
    >>> es = pe.TwoStageDiD(horizons=[0, 1, 2]).fit(df, "y", "year", "unit", gname="g")
    >>> es.params.index.tolist()
    [0, 1, 2]
    """

    def __init__(self, control_group: str = "not_yet_treated",
                 horizons: bool | Iterable[int] | None = None,
                 fe: Sequence[str] | None = None, *, cluster: str | None = None,
                 level: float = 0.95) -> None:
        self.control_group = check_untreated_control(control_group, "TwoStageDiD")
        self.level = check_level(level)
        if horizons is False or isinstance(horizons, (str, bytes)):
            raise ArgumentTypeError(f"horizons={horizons!r} must be None, True or integers")
        if horizons is not None and horizons is not True:
            try:
                horizons = sorted({int(h) for h in horizons})
            except (TypeError, ValueError):
                raise ArgumentTypeError(
                    f"horizons={horizons!r} must be None, True or integers") from None
            if not horizons:
                raise ArgumentTypeError("horizons is empty; pass None for the static effect")
        self.horizons = horizons
        self.fe = None if fe is None else column_list(fe, "fe", strict=True)
        if self.fe is not None and not self.fe:
            raise ArgumentTypeError("fe is empty; name at least one fixed-effect column")
        self.cluster = cluster

    @renamed_arguments(df="data")
    @records_provenance
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str,
            gname: str | None = None, treatment: str | None = None,
            covariates: str | Sequence[str] | None = None) -> TwoStageResult:
        """Estimate the two stages and the GMM standard errors.

        Parameters
        ----------
        data : pandas.DataFrame
            Long panel, one row per unit and period.
        yname, tname, idname : str
            Outcome, integer period and unit columns.
        gname : str, optional
            First treated period (0 or missing: never treated). Needed for
            event-time ``horizons``.
        treatment : str, optional
            A 0/1 column :math:`D_{it}` instead of ``gname`` (static effect
            only). Give exactly one of ``gname`` and ``treatment``.
        covariates : str or list of str, optional
            Time-varying controls estimated in the first stage.

        Returns
        -------
        TwoStageResult

        Raises
        ------
        ColumnNotFoundError
            A named column is missing.
        DataError
            ``treatment`` is not 0/1, or a fixed-effect column has missing values.
        EstimationError
            No treated or untreated observations; a fixed-effect level of a
            treated observation never appears untreated (its effect cannot be
            estimated); a requested horizon has no observation; the first
            stage is singular.
        """
        df = data
        if (treatment is None) == (gname is None):
            raise EstimationError("give exactly one of gname= (first treated period) and "
                                  "treatment= (a 0/1 column)")
        if treatment is not None and self.horizons is not None:
            raise EstimationError("horizons (event times) need gname=; treatment= gives the "
                                  "static effect only")
        fe = self.fe or [idname, tname]
        require_columns(df, strict=True, fe=fe)
        cluster = self.cluster or idname
        extra_cols = [c for c in fe if c not in (idname, tname)]
        original_index = df.index
        df = df.reset_index(drop=True)  # rows are matched by position below
        panel, covs = prepare_fe_panel(
            df, yname=yname, tname=tname, idname=idname, gname=gname,
            regressors=[treatment] if treatment else [], covariates=covariates,
            cluster=[cluster], vcov="cluster")
        frame = panel.frame
        for c in extra_cols:
            if c not in frame:
                frame = frame.assign(**{c: df[c].to_numpy()[frame.index.to_numpy()]})
            if frame[c].isna().any():
                bad = frame[c].isna().to_numpy()
                raise DataError(f"fe={c!r} has {int(bad.sum())} missing values (units "
                                f"{examples(frame.loc[bad, idname])}); fill or drop those rows")
        t = panel.periods[panel.time]
        if treatment is not None:
            d = frame[treatment].to_numpy(dtype=float)
            if not np.isin(d, (0.0, 1.0)).all():
                bad = ~np.isin(d, (0.0, 1.0))
                raise DataError(f"treatment={treatment!r} must be 0/1; found {examples(d[bad])} "
                                f"for units {examples(frame.loc[bad, idname])}")
            d = d.astype(bool)
            e = None
        else:
            ever = panel.cohort > 0
            d = ever & (t >= panel.cohort)
            e = np.where(ever, t - panel.cohort, np.iinfo(np.int64).min)
        if not d.any():
            raise EstimationError("no treated observation: nothing to estimate in stage two")
        if d.all():
            raise EstimationError("no untreated observation: the first stage has no data")

        # ---- stage one on the untreated rows ---------------------------------
        n = len(frame)
        blocks, names = [], []
        for j, c in enumerate(fe):
            codes, levels = pd.factorize(frame[c], sort=True)
            seen = np.bincount(codes[~d], minlength=len(levels))
            if (seen == 0).any():
                missing = np.asarray(levels)[seen == 0]
                raise EstimationError(
                    f"fe={c!r}: {int((seen == 0).sum())} levels (e.g. {examples(missing)}) have no "
                    "untreated observation, so their effect cannot be estimated in the first "
                    "stage (a unit treated in every period, or a period in which every unit is "
                    "treated); drop those rows or use coarser fixed effects")
            blocks.append(_dummies(codes, len(levels), drop_first=j > 0))
            names += [f"{c}={v}" for v in (levels if j == 0 else levels[1:])]
        if covs:
            blocks.append(sp.csr_matrix(frame[covs].to_numpy(dtype=float)))
            names += list(covs)
        W = sp.hstack(blocks, format="csr")
        keep0 = sp.diags((~d).astype(float))
        W0 = (keep0 @ W).tocsr()
        A = (W0.T @ W0).tocsc()
        y = panel.y
        try:
            lu = spla.splu(A)
            gamma = lu.solve(W0.T @ y)
        except RuntimeError:
            raise EstimationError(
                "the first stage is singular: the fixed effects in fe="
                f"{fe} (and covariates) are collinear on the untreated observations") from None
        if not np.all(np.isfinite(gamma)):
            raise EstimationError(f"the first stage is singular for fe={fe}")
        y_tilde = y - W @ gamma
        u = np.where(d, 0.0, y_tilde)  # first-stage residuals on the untreated rows

        # ---- stage two ------------------------------------------------------
        if self.horizons is None:
            terms = ["ATT"]
            Z = d.astype(float)[:, None]
            index_name = "term"
        else:
            ever_e = e[panel.cohort > 0]
            observed = np.unique(ever_e)
            if self.horizons is True:
                terms = [int(k) for k in observed]
            else:
                absent = [h for h in self.horizons if h not in observed]
                if absent:
                    raise EstimationError(
                        f"horizons {absent} have no observation of an ever-treated unit; "
                        f"observed event times: {examples(observed.tolist(), 8)}")
                terms = list(self.horizons)
            Z = np.column_stack([(e == k).astype(float) for k in terms])
            index_name = "event_time"
        ZtZ = Z.T @ Z
        beta = np.linalg.solve(ZtZ, Z.T @ y_tilde)
        resid2 = y_tilde - Z @ beta

        # ---- GMM covariance -------------------------------------------------
        cl = pd.factorize(panel.clusters[0])[0]
        G = int(cl.max()) + 1
        if G < 2:
            raise EstimationError(f"cluster={cluster!r} has a single cluster")
        Csum = sp.csr_matrix((np.ones(n), (cl, np.arange(n))), shape=(G, n))
        ZtW = np.asarray((sp.csr_matrix(Z).T @ W).todense())
        M = lu.solve(ZtW.T).T                       # Z'W (W0'W0)^{-1}, k x p
        first = np.asarray((Csum @ W0.multiply(u[:, None])).todense())   # G x p
        psi = Csum @ (Z * resid2[:, None]) - first @ M.T                 # G x k
        bread = np.linalg.inv(ZtZ)
        infl = psi @ bread                          # per-cluster contributions to beta-hat
        V = infl.T @ infl
        index = pd.Index(terms, name=index_name)
        notes = list(panel.notes) + [
            f"First stage on {int((~d).sum()):,} untreated observations with fixed effects "
            f"{' + '.join(fe)}" + (f" and covariates {', '.join(covs)}" if covs else "")
            + f"; GMM standard errors clustered by {cluster} ({G} clusters), no small-sample "
            "factor (as R did2s)."]
        spec = {"yname": yname, "tname": tname, "idname": idname, "gname": gname,
                "treatment": treatment, "covariates": covs, "fe": list(fe), "cluster": cluster,
                "horizons": self.horizons, "control_group": self.control_group}
        return TwoStageResult(
            pd.Series(beta, index=index),
            pd.Series(np.sqrt(np.diag(V)), index=index),
            nobs=n,
            n_units=panel.n_units,
            spec=spec,
            estimator="Two-stage DiD (Gardner)",
            vcov=pd.DataFrame(V, index=index, columns=index),
            influence=G * infl,
            df_resid=None,
            index_name=index_name,
            level=self.level,
            term_aliases={"treated": "ATT"} if self.horizons is None else None,
            extra={"n_clusters": G, "notes": notes,
                   "n_treated_obs": int(d.sum()), "n_untreated_obs": int((~d).sum()),
                   "first_stage": pd.Series(gamma, index=names),
                   "residualized": pd.Series(
                       y_tilde, index=original_index[frame.index.to_numpy()])},
        )
