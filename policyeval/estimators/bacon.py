"""Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD estimate.

With staggered adoption in a balanced panel, the TWFE coefficient on a
binary absorbing treatment is a weighted average of every 2×2 DiD that can
be formed from timing groups: treated vs never treated, earlier vs later
treated (later group not yet treated), and later vs earlier treated (the
earlier group, already treated, serves as control — the comparison that
goes wrong when effects change over time).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import examples
from policyeval.estimators._did_inputs import prepare_panel
from policyeval.exceptions import DataError, EstimationError
from policyeval.results.provenance import records_provenance
from policyeval.results.two_by_two import (
    EARLIER_VS_LATER,
    LATER_VS_ALWAYS,
    LATER_VS_EARLIER,
    TREATED_VS_UNTREATED,
    BaconResult,
)

__all__ = ["BaconDecomposition", "BaconResult"]


class BaconDecomposition:
    r"""Decompose the TWFE DiD estimate into 2×2 comparisons (Goodman-Bacon 2021).

    Notes
    -----
    In a balanced panel of :math:`N` units and :math:`T` periods, let timing
    group :math:`k` hold a share :math:`n_k` of units, treated a fraction
    :math:`\bar D_k` of the periods (:math:`U` never treated). The TWFE
    coefficient :math:`\hat\beta^{DD}` from
    :math:`y_{it} = \alpha_i + \lambda_t + \beta D_{it} + e_{it}` equals

    .. math::

        \hat\beta^{DD} = \sum_{k \ne U} s_{kU}\hat\beta_{kU}
          + \sum_{k \ne U}\sum_{l > k}\big(s^k_{kl}\hat\beta^k_{kl}
          + s^l_{kl}\hat\beta^l_{kl}\big),

    each :math:`\hat\beta` a 2×2 DiD of group means, with weights

    .. math::

        s_{kU} &= \frac{(n_k+n_U)^2\, n_{kU}(1-n_{kU})\,\bar D_k(1-\bar D_k)}{\hat V^D},\\
        s^k_{kl} &= \frac{\big((n_k+n_l)(1-\bar D_l)\big)^2 n_{kl}(1-n_{kl})
            \frac{\bar D_k-\bar D_l}{1-\bar D_l}\frac{1-\bar D_k}{1-\bar D_l}}{\hat V^D},\\
        s^l_{kl} &= \frac{\big((n_k+n_l)\bar D_k\big)^2 n_{kl}(1-n_{kl})
            \frac{\bar D_l}{\bar D_k}\frac{\bar D_k-\bar D_l}{\bar D_k}}{\hat V^D},

    :math:`n_{kl} = n_k/(n_k+n_l)` and :math:`\hat V^D` the variance of the
    two-way demeaned treatment. The weights sum to one. Units treated in the
    first period (always treated) form a group with :math:`\bar D = 1` that
    only serves as control ("Later vs Always Treated"); units first treated
    after the last period are untreated. No covariates and no weights: the
    decomposition is of the unweighted TWFE estimate.

    References
    ----------
    Goodman-Bacon, A. (2021). Difference-in-differences with variation in
    treatment timing. Journal of Econometrics 225(2), 254-277.

    Flack, E. and Jee, E. bacondecomp (R package),
    https://github.com/evanjflack/bacondecomp

    Examples
    --------
    >>> import pandas as pd, policyeval as pe
    >>> df = pd.DataFrame([(i, t) for i in range(6) for t in range(1, 6)], columns=["id", "t"])
    >>> df["g"] = df["id"].map({0: 0, 1: 0, 2: 3, 3: 3, 4: 4, 5: 4})
    >>> df["y"] = df["id"] + 0.5 * df["t"] + 1.0 * ((df["g"] > 0) & (df["t"] >= df["g"]))
    >>> res = pe.BaconDecomposition().fit(df, yname="y", tname="t", idname="id", gname="g")
    >>> round(res.twfe_estimate, 6)
    1.0
    >>> res.to_frame()["type"].tolist()
    ['Treated vs Untreated', 'Treated vs Untreated', 'Earlier vs Later Treated', 'Later vs Earlier Treated']
    """

    @renamed_arguments(df="data")
    @records_provenance
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str | None = None,
            dname: str | None = None) -> BaconResult:
        """Compute every 2×2 comparison, its weight and the TWFE estimate.

        Parameters
        ----------
        data : pandas.DataFrame
            Balanced long panel, one row per unit and period.
        yname, tname, idname : str
            Outcome, integer period and unit id columns.
        gname : str
            First treated period; 0 or missing for never treated.
        dname : str, optional
            Instead of ``gname``: an absorbing 0/1 treatment indicator
            (as in R ``bacon(y ~ D, ...)``).

        Returns
        -------
        BaconResult

        Raises
        ------
        DataError
            Unbalanced panel (names units with missing periods) or missing
            outcomes.
        TreatmentTimingError
            ``gname`` varies within a unit, or ``dname`` switches off.
        EstimationError
            Treatment does not vary (no timing variation to decompose).
        """
        df = data
        panel = prepare_panel(df, yname=yname, tname=tname, idname=idname, gname=gname, dname=dname,
                              drop_missing=False)
        periods = np.unique(panel.t)
        T, N = len(periods), panel.n_units
        counts = np.bincount(panel.unit_code, minlength=N)
        short = counts < T
        if short.any():
            ids = panel.unit_labels[short]
            raise DataError(
                f"BaconDecomposition needs a balanced panel: {len(ids)} units (e.g. {examples(ids)}) of "
                f"idname={idname!r} miss some of the {T} periods of tname={tname!r}; drop them or "
                "restrict the periods"
            )
        # timing: index of the first period observed treated (T = never within the sample)
        g_unit = panel.g[np.searchsorted(panel.unit_code, np.arange(N))]
        kstar = np.where(np.isnan(g_unit), T, np.searchsorted(periods, np.nan_to_num(g_unit), side="left"))
        Y = panel.y.reshape(N, T)  # sorted by unit then period, balanced
        D = (np.arange(T)[None, :] >= kstar[:, None]).astype(float)
        Dt = D - D.mean(axis=1, keepdims=True) - D.mean(axis=0, keepdims=True) + D.mean()
        VD_sum = float((Dt ** 2).sum())
        if VD_sum <= 1e-12 * N * T:
            raise EstimationError(
                "the treatment has no variation left after unit and period effects (all units share "
                "one timing); there is no TWFE estimate to decompose"
            )
        twfe = float((Dt * Y).sum() / VD_sum)
        VD = VD_sum / (N * T)

        groups, inverse = np.unique(kstar, return_inverse=True)
        n_share = np.bincount(inverse) / N
        Ybar = np.vstack([Y[inverse == j].mean(axis=0) for j in range(len(groups))])
        Dbar = (T - groups) / T
        label = {int(k): ("untreated" if k == T else int(periods[k])) for k in groups}

        def mean(j, lo, hi):
            return Ybar[j, lo:hi].mean()

        rows = []
        untreated = np.flatnonzero(groups == T)
        u = int(untreated[0]) if untreated.size else None
        timed = [j for j in range(len(groups)) if groups[j] < T]
        for j in timed:
            k = groups[j]
            if u is not None and k > 0:
                est = (mean(j, k, T) - mean(j, 0, k)) - (mean(u, k, T) - mean(u, 0, k))
                nkU = n_share[j] / (n_share[j] + n_share[u])
                s = (n_share[j] + n_share[u]) ** 2 * nkU * (1 - nkU) * Dbar[j] * (1 - Dbar[j]) / VD
                rows.append((label[k], "untreated", TREATED_VS_UNTREATED, est, s))
        for a, j in enumerate(timed):
            for m in timed[a + 1:]:
                k, l = groups[j], groups[m]  # k earlier than l
                nk, nl = n_share[j], n_share[m]
                nkl = nk / (nk + nl)
                if k > 0:
                    est = (mean(j, k, l) - mean(j, 0, k)) - (mean(m, k, l) - mean(m, 0, k))
                    s = (((nk + nl) * (1 - Dbar[m])) ** 2 * nkl * (1 - nkl)
                         * (Dbar[j] - Dbar[m]) / (1 - Dbar[m]) * (1 - Dbar[j]) / (1 - Dbar[m]) / VD)
                    rows.append((label[k], label[l], EARLIER_VS_LATER, est, s))
                est = (mean(m, l, T) - mean(m, k, l)) - (mean(j, l, T) - mean(j, k, l))
                s = (((nk + nl) * Dbar[j]) ** 2 * nkl * (1 - nkl)
                     * (Dbar[m] / Dbar[j]) * (Dbar[j] - Dbar[m]) / Dbar[j] / VD)
                rows.append((label[l], label[k], LATER_VS_EARLIER if k > 0 else LATER_VS_ALWAYS, est, s))
        table = pd.DataFrame(rows, columns=["treated", "control", "type", "estimate", "weight"])
        table["treated"] = table["treated"].astype(np.int64)
        table["control"] = table["control"].astype(object)
        spec = dict(yname=yname, tname=tname, idname=idname, gname=gname, dname=dname)
        return BaconResult(table, twfe, nobs=panel.nobs, n_units=N, n_periods=T, spec=spec)
