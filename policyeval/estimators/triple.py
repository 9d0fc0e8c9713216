r"""Triple differences, 2x2x2 and staggered (Olden & Møen 2022; Ortiz-Villavicencio & Sant'Anna 2025).

An enclave targets some industries. Comparing targeted with other industries inside host
counties, and that gap with the same gap in counties without a park, removes both a shock
to host counties that hits every industry and a shock to the targeted industries that hits
every county. Units are (county, industry) cells followed over time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from policyeval._deprecation import renamed_arguments
from policyeval._validation import check_clusters, examples, require_option
from policyeval.estimators._unit_panel import (
    balanced_unit_panel,
    cluster_sums,
    fit_cluster,
    influence_se,
    unit_influence,
)
from policyeval.exceptions import ArgumentValueError, DesignError, EstimationError
from policyeval.inference.treated_counts import warn_few_treated
from policyeval.results.extensions import TripleDiDResult

__all__ = ["TripleDiD", "TripleDiDResult"]

_CONTROL_GROUPS = ("never_treated", "not_yet_treated")
_MIN_CELL = 2


def _mean_if(dy: np.ndarray, idx: np.ndarray, n: int) -> tuple[float, np.ndarray]:
    """Mean of ``dy[idx]`` and its influence function over all ``n`` units."""
    m = float(dy[idx].mean())
    psi = np.zeros(n)
    psi[idx] = (dy[idx] - m) / idx.size
    return m, psi


class TripleDiD:
    r"""Triple-difference (DDD) estimator with staggered timing of the enabling group.

    Parameters
    ----------
    control_group : {"never_treated", "not_yet_treated"}
        Comparison counties: never hosting a park, or also those whose park comes after the
        period compared. With ``"not_yet_treated"`` each comparison cohort gives its own DDD
        and these are averaged (weights: the cohort's number of units), never pooled into one
        group: pooling mixes cohorts whose eligible/ineligible composition differs, which
        biases the DDD (Ortiz-Villavicencio & Sant'Anna 2025, Sec. 4).
    cluster : str, optional
        Keyword-only. Column of clusters containing cells; use the county.
    level : float, default 0.95
        Confidence level of ``conf_int()`` and of the event-study table.

    Notes
    -----
    Unit :math:`i` (a county-industry cell) belongs to a county first treated in
    :math:`S_i = g` (0: never) and is eligible :math:`Q_i = 1` if its industry is targeted.
    For cohort :math:`g`, period :math:`t` and comparison counties :math:`c`, with the long
    difference :math:`\Delta Y_i = Y_{it} - Y_{i,g-1}`,

    .. math::
        DDD_{g,t} = \big(\bar{\Delta Y}_{g,1} - \bar{\Delta Y}_{g,0}\big)
                  - \big(\bar{\Delta Y}_{c,1} - \bar{\Delta Y}_{c,0}\big),

    the difference between the targeted-vs-other DiD in treated counties and the same DiD in
    comparison counties. It identifies :math:`ATT(g, t)` of eligible units in cohort
    :math:`g` under the DDD parallel-trends assumption: the *gap* in untreated trends between
    eligible and ineligible units is the same in treated and comparison counties. Neither
    DiD needs parallel trends on its own (Olden & Møen 2022): a county shock common to its
    industries and an industry shock common to counties both cancel. No anticipation is
    assumed.

    ``ATT`` averages the post-treatment cells :math:`t \ge g` with weights proportional to
    the number of eligible treated units of the cohort; ``event_study`` averages by
    :math:`e = t - g` (negative :math:`e` are pre-trend checks against :math:`g - 1`).
    Standard errors come from the influence function (each cell mean's sampling variance),
    summed by unit or by ``cluster``; cluster by county, since a county's industries share
    its shocks. The result's ``influence`` holds the one of ``ATT``.

    References
    ----------
    Olden, A. & Møen, J. (2022). The triple difference estimator. *The Econometrics
    Journal* 25(3), 531–553.
    Ortiz-Villavicencio, M. & Sant'Anna, P. H. C. (2025). Better understanding triple
    differences estimators. arXiv 2505.09942.

    Examples
    --------
    >>> import numpy as np, pandas as pd, policyeval as pe
    >>> rng = np.random.default_rng(1)      # SIMULATED: 40 counties x 2 industries, 2 periods
    >>> county = np.repeat(np.arange(40), 2); targeted = np.tile([1, 0], 40)
    >>> host = county < 20
    >>> rows = [pd.DataFrame({"cell": np.arange(80), "county": county, "year": t,
    ...                       "first_treat": np.where(host, 2011, 0), "targeted": targeted,
    ...                       "y": (t == 2011) * (0.5 + 1.0 * host + 0.7 * targeted
    ...                             + 2.0 * host * targeted) + rng.normal(0, 0.1, 80)})
    ...         for t in (2010, 2011)]
    >>> df = pd.concat(rows)
    >>> res = pe.TripleDiD(cluster="county").fit(df, yname="y", tname="year", idname="cell",
    ...                                          gname="first_treat", qname="targeted")
    >>> print(f"{res.params['ATT']:.2f} ({res.std_errors['ATT']:.3f})")
    2.02 (0.063)
    """

    def __init__(self, control_group: str = "never_treated", *, cluster: str | None = None,
                 level: float = 0.95) -> None:
        self.control_group = control_group
        self.cluster = cluster
        self.level = level
        self._check()

    def _check(self) -> None:
        require_option(self.control_group, "control_group", _CONTROL_GROUPS)
        if not 0 < self.level < 1:
            raise ArgumentValueError(f"level={self.level!r} must lie strictly between 0 and 1")

    @renamed_arguments(df="data")
    def fit(self, data: pd.DataFrame, yname: str, tname: str, idname: str, gname: str,
            qname: str, *, cluster: str | None = None) -> "TripleDiDResult":
        """Estimate the DDD effects.

        Parameters
        ----------
        data : pandas.DataFrame
            Balanced long panel of cells (e.g. county x industry; ``df=`` before 0.2).
        yname, tname, idname : str
            Outcome, period and cell columns.
        gname : str
            First treated period of the cell's county (the enabling group; 0 = never).
        qname : str
            1 if the cell is eligible (a targeted industry), else 0; constant per cell.
        cluster : str, optional
            Deprecated: pass ``cluster`` to the constructor
            (``TripleDiD(cluster="county")``). Still accepted for one release, with a
            :class:`~policyeval.exceptions.PolicyevalFutureWarning`.

        Returns
        -------
        TripleDiDResult

        Raises
        ------
        DesignError
            ``qname`` not 0/1 or varying within a cell; no eligible or no ineligible cells;
            a cohort without a pre-treatment period.
        EstimationError
            A (county group, eligibility) cell with fewer than 2 units.
        DataError
            Missing values, duplicate rows, an unbalanced panel.

        Warns
        -----
        FewTreatedWarning
            Few eligible treated cells.
        EstimationWarning
            Fewer than the recommended number of clusters.
        """
        self._check()
        cluster = fit_cluster(self, cluster)
        wide, units, clusters = balanced_unit_panel(
            data, estimator="TripleDiD", yname=yname, tname=tname, idname=idname,
            unit_columns={"gname": gname, "qname": qname}, cluster=cluster)
        g = units["gname"].to_numpy(dtype=float, copy=True)
        g[~np.isfinite(g)] = 0.0
        q = units["qname"].to_numpy(dtype=float)
        if not np.isin(q, (0.0, 1.0)).all():
            bad = wide.index[~np.isin(q, (0.0, 1.0))]
            raise DesignError(f"qname={qname!r} must be 0/1 (1 = eligible, e.g. a targeted "
                              f"industry); {len(bad)} cells have other values (e.g. {examples(bad)})")
        if q.min() == q.max():
            raise DesignError(f"qname={qname!r} is {q[0]:g} for every cell; a triple difference "
                              "needs eligible and ineligible cells")
        Y = wide.to_numpy(dtype=float)
        periods = wide.columns.to_numpy(dtype=float)
        n = Y.shape[0]
        cohorts = np.unique(g[(g > 0) & (g <= periods.max())])
        if cohorts.size == 0:
            raise DesignError(f"gname={gname!r} has no cohort treated within the panel")
        eligible = q == 1
        warn_few_treated(wide.index.to_numpy()[eligible], g[eligible], estimator="TripleDiD",
                         argument=f"gname={gname!r} among qname={qname!r} == 1 cells",
                         last_period=float(periods.max()), stacklevel=4)
        if clusters is not None:
            check_clusters(int(pd.unique(clusters).size), cluster, estimator="TripleDiD",
                           stacklevel=4)

        def group(mask, what):
            idx = np.flatnonzero(mask)
            if idx.size < _MIN_CELL:
                raise EstimationError(
                    f"{what} has {idx.size} cells; each of the four groups (treated/comparison "
                    f"county x qname 1/0) needs at least {_MIN_CELL}")
            return idx

        cells = []
        for c in cohorts:
            base = c - 1
            if base not in periods:
                raise DesignError(
                    f"cohort gname={c:g} has no period {base:g} in tname={tname!r} to compare "
                    "against (the period before treatment)")
            ib = int(np.flatnonzero(periods == base)[0])
            t1 = group((g == c) & eligible, f"cohort {c:g}, qname=1")
            t0 = group((g == c) & ~eligible, f"cohort {c:g}, qname=0")
            for it, t in enumerate(periods):
                if it == ib:
                    continue
                dy = Y[:, it] - Y[:, ib]
                m11, p11 = _mean_if(dy, t1, n)
                m10, p10 = _mean_if(dy, t0, n)
                if self.control_group == "never_treated":
                    comps = [g == 0]
                else:
                    later = np.unique(g[g > max(t, base)])
                    comps = [g == 0] + [g == h for h in later]
                ests, psis, sizes = [], [], []
                for mask in comps:
                    if not (mask & eligible).any() and not (mask & ~eligible).any():
                        continue
                    label = "never-treated counties" if (g[mask] == 0).all() else \
                        f"comparison cohort {g[mask][0]:g}"
                    c1 = group(mask & eligible, f"{label}, qname=1 (cohort {c:g}, period {t:g})")
                    c0 = group(mask & ~eligible, f"{label}, qname=0 (cohort {c:g}, period {t:g})")
                    m01, p01 = _mean_if(dy, c1, n)
                    m00, p00 = _mean_if(dy, c0, n)
                    ests.append((m11 - m10) - (m01 - m00))
                    psis.append((p11 - p10) - (p01 - p00))
                    sizes.append(c1.size + c0.size)
                if not ests:
                    raise EstimationError(f"cohort {c:g}, period {t:g}: no comparison counties "
                                          f"(control_group={self.control_group!r})")
                w = np.asarray(sizes, dtype=float) / sum(sizes)
                cells.append({"cohort": c, "period": t, "event_time": t - c, "n_eligible": t1.size,
                              "ATT": float(w @ np.asarray(ests)),
                              "psi": sum(wi * p for wi, p in zip(w, psis))})
        table = pd.DataFrame([{k: v for k, v in cell.items() if k != "psi"} for cell in cells])
        table["std_error"] = [float(influence_se(cell["psi"], clusters)) for cell in cells]
        post = [cell for cell in cells if cell["period"] >= cell["cohort"]]
        if not post:
            raise DesignError("no cohort is observed after its treatment starts")
        w = np.array([cell["n_eligible"] for cell in post], dtype=float)
        w /= w.sum()
        att = float(sum(wi * cell["ATT"] for wi, cell in zip(w, post)))
        psi = sum(wi * cell["psi"] for wi, cell in zip(w, post))
        s = cluster_sums(psi[:, None], clusters)
        vcov = pd.DataFrame(s.T @ s, index=["ATT"], columns=["ATT"])
        event = []
        for e, grp in pd.DataFrame({"e": [c["event_time"] for c in cells],
                                    "i": range(len(cells))}).groupby("e"):
            members = [cells[i] for i in grp["i"]]
            we = np.array([m["n_eligible"] for m in members], dtype=float)
            we /= we.sum()
            pe_ = sum(wi * m["psi"] for wi, m in zip(we, members))
            event.append({"event_time": e, "estimate": float(sum(wi * m["ATT"] for wi, m in zip(we, members))),
                          "std_error": float(influence_se(pe_, clusters))})
        spec = {"yname": yname, "tname": tname, "idname": idname, "gname": gname, "qname": qname,
                "cluster": cluster, "control_group": self.control_group, "level": self.level,
                "method": "DDD, " + self.control_group.replace("_", "-")}
        return TripleDiDResult(
            params=pd.Series({"ATT": att}), std_errors=pd.Series({"ATT": float(np.sqrt(vcov.iloc[0, 0]))}),
            vcov=vcov, nobs=int(Y.size), n_units=n, spec=spec, cells=table,
            event_study=pd.DataFrame(event), influence=unit_influence(psi[:, None], clusters),
            n_eligible_treated=int(((g > 0) & eligible).sum()),
            n_clusters=None if clusters is None else int(pd.unique(clusters).size))
