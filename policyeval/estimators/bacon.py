"""Goodman-Bacon (2021) decomposition of the two-way fixed-effects DiD estimate.

With staggered adoption in a balanced panel, the TWFE coefficient on a
binary absorbing treatment is a weighted average of every 2×2 DiD that can
be formed from timing groups: treated vs never treated, earlier vs later
treated (later group not yet treated), and later vs earlier treated (the
earlier group, already treated, serves as control — the comparison that
goes wrong when effects change over time).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import examples
from policyeval.estimators._did_inputs import prepare_panel
from policyeval.exceptions import DataError, EstimationError
from policyeval.results.base import Summary
from policyeval.results.provenance import records_provenance

__all__ = ["BaconDecomposition", "BaconResult"]

TREATED_VS_UNTREATED = "Treated vs Untreated"
EARLIER_VS_LATER = "Earlier vs Later Treated"
LATER_VS_EARLIER = "Later vs Earlier Treated"
LATER_VS_ALWAYS = "Later vs Always Treated"
_TYPES = [EARLIER_VS_LATER, LATER_VS_EARLIER, LATER_VS_ALWAYS, TREATED_VS_UNTREATED]


class BaconResult:
    """The 2×2 comparisons behind a TWFE estimate.

    Not an :class:`~policyeval.results.base.EstimationResult`: the
    decomposition is descriptive and carries no standard errors, so only
    the parts of the contract that make sense are offered — ``to_frame``,
    ``summary`` (text, ``_repr_html_``, LaTeX), ``plot``, ``nobs``,
    ``n_units`` and the decomposed ``twfe_estimate``. As every test result it
    answers ``statistic`` (the TWFE estimate) and ``p_value`` (NaN: nothing
    is tested).

    Attributes
    ----------
    twfe_estimate : float
        Coefficient on the treatment dummy in the regression of the outcome
        on it and unit and period fixed effects; equals
        ``(to_frame().estimate * to_frame().weight).sum()``.
    nobs, n_units, n_periods : int
    spec : dict
        Column names used.
    """

    estimator = "Goodman-Bacon decomposition"

    def __init__(self, two_by_twos: pd.DataFrame, twfe_estimate: float, *, nobs: int, n_units: int,
                 n_periods: int, spec: dict[str, Any]) -> None:
        self._table = two_by_twos.reset_index(drop=True)
        self.twfe_estimate = float(twfe_estimate)
        self.nobs, self.n_units, self.n_periods = int(nobs), int(n_units), int(n_periods)
        self.spec = dict(spec)

    @property
    def estimate(self) -> float:
        """Alias of :attr:`twfe_estimate`."""
        return self.twfe_estimate

    @property
    def statistic(self) -> float:
        """The decomposed number, :attr:`twfe_estimate` (the test-result contract's ``statistic``)."""
        return self.twfe_estimate

    @property
    def p_value(self) -> float:
        """Always NaN: the decomposition describes the TWFE estimate and tests nothing."""
        return float("nan")

    def to_frame(self) -> pd.DataFrame:
        """One row per 2×2: ``treated``, ``control``, ``type``, ``estimate``, ``weight``.

        ``treated`` and ``control`` are timing groups labelled by their first
        period observed treated; ``control`` is ``"untreated"`` for units
        never treated within the sample.
        """
        return self._table.copy()

    def by_type(self) -> pd.DataFrame:
        """Total weight, weighted-average estimate and count per comparison type."""
        t = self._table
        rows = []
        for typ in _TYPES:
            sub = t[t["type"] == typ]
            if sub.empty:
                continue
            wsum = float(sub["weight"].sum())
            avg = float((sub["weight"] * sub["estimate"]).sum() / wsum) if wsum > 0 else np.nan
            rows.append({"type": typ, "weight": wsum, "avg_estimate": avg, "n_comparisons": len(sub)})
        return pd.DataFrame(rows, columns=["type", "weight", "avg_estimate", "n_comparisons"])

    def summary(self) -> Summary:
        """Summary by comparison type (text, ``_repr_html_``, ``as_latex``)."""
        facts = [
            ("Estimator", self.estimator),
            ("Observations", f"{self.nobs:,}"),
            ("Units", f"{self.n_units:,}"),
            ("Periods", f"{self.n_periods:,}"),
            ("yname", str(self.spec.get("yname"))),
            ("TWFE estimate", f"{self.twfe_estimate:.6f}"),
        ]
        total = float((self._table["weight"] * self._table["estimate"]).sum())
        notes = [
            f"Weighted sum of the {len(self._table)} 2x2 estimates: {total:.6f}; "
            f"weights sum to {self._table['weight'].sum():.6f}.",
            "'Later vs Earlier Treated' uses already-treated units as controls; it is biased "
            "when treatment effects change over time (Goodman-Bacon 2021).",
        ]
        table = self.by_type().set_index("type")
        table["n_comparisons"] = table["n_comparisons"].astype(str)
        return Summary(title=f"{self.estimator} of the TWFE estimate", facts=facts, table=table,
                       notes=notes)

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        return (f"<BaconResult: {len(self._table)} comparisons, "
                f"TWFE estimate={self.twfe_estimate:.6g}, nobs={self.nobs}>")

    def plot(self, ax=None, title: str | None = None):
        """Scatter of each 2×2 estimate against its weight, coloured by type.

        The dashed line marks the TWFE estimate (the weighted mean of the
        points), as in bacondecomp's vignette figure.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(7, 4))
        markers = {EARLIER_VS_LATER: "^", LATER_VS_EARLIER: "s", LATER_VS_ALWAYS: "D",
                   TREATED_VS_UNTREATED: "o"}
        for i, typ in enumerate(_TYPES):
            sub = self._table[self._table["type"] == typ]
            if sub.empty:
                continue
            ax.scatter(sub["weight"], sub["estimate"], marker=markers[typ], color=f"C{i}",
                       label=typ, alpha=0.85)
        ax.axhline(0, color="0.3", linewidth=0.8)
        ax.axhline(self.twfe_estimate, color="0.3", linestyle="--", linewidth=1,
                   label=f"TWFE = {self.twfe_estimate:.4g}")
        ax.set_xlabel("Weight")
        ax.set_ylabel("2x2 DiD estimate")
        ax.set_title(title or self.estimator)
        ax.legend(frameon=False, fontsize="small")
        return ax


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
