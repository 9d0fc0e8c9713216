r"""Wild cluster bootstrap for one coefficient of a two-way fixed-effects regression.

With few clusters (or few treated clusters) the cluster-robust t-test
over-rejects; the wild cluster bootstrap-t (Cameron, Gelbach & Miller 2008)
restores close-to-nominal size when the null is imposed on the bootstrap data
(WCR), with Rademacher or, for very few clusters, Webb's six-point weights
(MacKinnon & Webb 2017, 2018; Webb 2023).

The computation never refits: following Roodman, MacKinnon, Nielsen & Webb
(2019, "Fast and wild"), every bootstrap t-statistic is a ratio of a linear
and the square root of a quadratic form in the cluster weights
:math:`v \in \mathbb{R}^G`, built once from cluster-level sums of the
Frisch–Waugh–Lovell partialled regressor and the residuals. The unit and
period effects are projected out exactly, including from the bootstrap
residuals, so the result equals refitting OLS with unit and period dummies on
every bootstrap sample (tested).

The public entry point is :func:`wild_cluster_bootstrap`; it accepts a
:class:`~policyeval.TWFE` / :class:`~policyeval.EventStudy` result (with the
data it was fitted on) or an unfitted estimator plus the ``fit`` arguments.
A 2×2 DiD is the TWFE regression on two periods.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from policyeval._validation import check_draws, examples, p_value_text, require_option
from policyeval.estimators._fixed_effects import (
    absorb_unit_time,
    prepare_fe_panel,
    subset_panel,
)
from policyeval.exceptions import (
    ArgumentTypeError,
    ArgumentValueError,
    DroppedObservationsWarning,
    EstimationError,
    EstimationWarning,
    UnknownTermError,
)
from policyeval.inference.bootstrap import multiplier_draws
from policyeval.inference.covariance import count_parameters, resolve_ssc
from policyeval.results.base import Summary

__all__ = ["WildBootstrapResult", "wild_cluster_bootstrap"]

_WEIGHTS = ("rademacher", "webb", "mammen")
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
_CHUNK = 1024          # bootstrap draws processed together (memory G x _CHUNK)
_TIE_RTOL = 1e-9       # |t*| within this relative distance of |t| is a tie, not an exceedance


# --------------------------------------------------------------------------- draws
def _weight_batches(kind: str, n_clusters: int, n_bootstrap: int, random_state=None,
                    ) -> tuple[int, bool, Callable[[], Iterator[np.ndarray]]]:
    """Bootstrap weights as ``G x b`` batches.

    Returns ``(B, enumerated, batches)`` where ``batches()`` yields the
    weight matrices in order (a fresh, identically seeded stream on every
    call). Rademacher weights are enumerated (all :math:`2^G` sign vectors,
    each once) when :math:`2^G \\le` ``n_bootstrap``, as Stata ``boottest``
    and R ``fwildclusterboot`` do; random draws come in batches of
    ``_CHUNK`` columns from ``numpy.random.default_rng(random_state)``.
    """
    G = n_clusters
    if kind == "rademacher" and G < 63 and 2**G <= n_bootstrap:
        B = 2**G

        def enumerate_signs():
            bits = np.arange(G, dtype=np.int64)[:, None]
            for start in range(0, B, _CHUNK):
                idx = np.arange(start, min(start + _CHUNK, B), dtype=np.int64)[None, :]
                yield 1.0 - 2.0 * ((idx >> bits) & 1)
        return B, True, enumerate_signs

    def random_batches():
        rng = np.random.default_rng(random_state)
        draw = None if kind == "webb" else multiplier_draws(kind, rng)
        for start in range(0, n_bootstrap, _CHUNK):
            size = min(_CHUNK, n_bootstrap - start)
            if draw is None:
                yield _WEBB[rng.integers(0, 6, size=(G, size))]
            else:
                yield draw(G, size)
    return n_bootstrap, False, random_batches


def _progress(iterable, total: int, show: bool, desc: str):
    if not show or total <= 1:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False)


# --------------------------------------------------------------------------- algebra
class _FastWild:
    r"""The bootstrap t-statistic of coefficient ``j`` as a function of the weights.

    Works in the (square-root-weight scaled) within-transformed space: ``y``
    and ``X`` have the fixed effects removed, ``absorb`` applies the
    fixed-effect annihilator :math:`M_F` to columns.

    For residuals :math:`u` put on the bootstrap samples,
    :math:`y^* = \hat y + u \odot v_{g(i)}` and

    .. math::

        \hat\beta^*_j - \beta^{DGP}_j = s(u)'v, \qquad
        \widehat{se}{}^{*2} = c\,\lVert C(u)\,v \rVert^2,

    with :math:`a = X(X'X)^{-1}e_j`, :math:`A_g = a \odot 1_g`,
    :math:`s_g = A_g'u`, and

    .. math::

        C(u)_{gh} = 1[g=h]\,s_g - (P_F A_g)'(u\odot 1_h)
                    - (A_g'X)(X'X)^{-1}(X'(u\odot 1_h)),

    because the bootstrap residuals are :math:`M_{[F,X]}(u\odot v)` and
    :math:`P_{[F,X]} = P_F + P_{X}` (the absorbed ``X`` is orthogonal to
    :math:`F`). Everything is linear in :math:`u`, so the restricted residuals
    :math:`u(\beta_0) = u_A - \beta_0 \check x` give :math:`s` and :math:`C`
    linear in :math:`\beta_0` and the whole confidence set is evaluated from
    five numbers per draw.
    """

    def __init__(self, y: np.ndarray, X: np.ndarray, j: int, codes: np.ndarray,
                 absorb: Callable[[np.ndarray], np.ndarray]) -> None:
        n = X.shape[0]
        self.G = G = int(codes.max()) + 1
        self.E = sp.csr_matrix((np.ones(n), (np.arange(n), codes)), shape=(n, G))
        bread = np.linalg.inv(X.T @ X)
        self.beta = bread @ (X.T @ y)
        self.resid = y - X @ self.beta
        self.a = X @ bread[:, j]                    # beta_j = a'y
        self.x_check = self.a / bread[j, j]         # x_j partialled on the other columns
        self.bread, self.X, self.codes, self.absorb = bread, X, codes, absorb
        self.Q = self.E.T @ (self.a[:, None] * X)    # G x k cluster sums of a_i x_i'
        self.beta_j = float(self.beta[j])

    def cluster_scores(self, u: np.ndarray) -> np.ndarray:
        return np.bincount(self.codes, self.a * u, self.G)

    def pieces(self, us: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(s(u), C(u))`` for each residual vector in ``us``."""
        G, n = self.G, len(self.a)
        H = [np.zeros((G, G)) for _ in us]
        step = max(1, min(G, 2_000_000 // max(n, 1)))
        for start in range(0, G, step):
            block = np.arange(start, min(start + step, G))
            A = np.zeros((n, len(block)))
            rows = np.isin(self.codes, block)
            A[rows, self.codes[rows] - start] = self.a[rows]
            PA = A - self.absorb(A)                 # P_F A_g for the clusters in the block
            for h, u in zip(H, us):
                h[block, :] = (self.E.T @ (PA * u[:, None])).T
        out = []
        for h, u in zip(H, us):
            s = self.cluster_scores(u)
            R = self.E.T @ (self.X * u[:, None])    # G x k cluster sums of x_i u_i
            out.append((s, np.diag(s) - h - self.Q @ self.bread @ R.T))
        return out


@dataclass
class _Draws:
    """Per-draw numbers from which every bootstrap t-statistic follows."""

    nA: np.ndarray
    nB: np.ndarray
    qAA: np.ndarray
    qAB: np.ndarray
    qBB: np.ndarray

    def t(self, beta0: float, scale: float) -> np.ndarray:
        den = scale * (self.qAA - 2 * beta0 * self.qAB + beta0**2 * self.qBB)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.nA - beta0 * self.nB) / np.sqrt(np.clip(den, 0.0, None))


def _collect(batches: Iterator[np.ndarray], n_batches: int, A, B, progress: bool) -> _Draws:
    (sA, CA), (sB, CB) = A, B
    parts: dict[str, list] = {k: [] for k in ("nA", "nB", "qAA", "qAB", "qBB")}
    for V in _progress(batches, n_batches, progress, "wild bootstrap"):
        CAv, CBv = CA @ V, CB @ V
        parts["nA"].append(sA @ V)
        parts["nB"].append(sB @ V)
        parts["qAA"].append((CAv * CAv).sum(axis=0))
        parts["qAB"].append((CAv * CBv).sum(axis=0))
        parts["qBB"].append((CBv * CBv).sum(axis=0))
    return _Draws(**{k: np.concatenate(v) for k, v in parts.items()})


def _exceed_share(t_boot: np.ndarray, t_obs: float) -> float:
    """Share of draws with :math:`|t^*| > |t|`; numerical ties are not counted."""
    thr = abs(t_obs) + _TIE_RTOL * max(1.0, abs(t_obs))
    return float(np.mean(np.abs(t_boot) > thr))


def _invert(accept: Callable[[float], bool], center: float, step: float
            ) -> tuple[float, float]:
    """Ends of the accepted interval around ``center`` (doubling search, then bisection)."""
    ends = []
    for sign in (-1.0, 1.0):
        inner, width = center, step
        outer = center + sign * width
        for _ in range(80):
            if not accept(outer):
                break
            inner, width = outer, width * 2
            outer = center + sign * width
        else:
            ends.append(sign * np.inf)
            continue
        for _ in range(200):
            if abs(outer - inner) <= 1e-10 * step:
                break
            mid = (inner + outer) / 2
            if accept(mid):
                inner = mid
            else:
                outer = mid
        ends.append((inner + outer) / 2)
    return ends[0], ends[1]


# --------------------------------------------------------------------------- result
@dataclass
class WildBootstrapResult:
    """Outcome of :func:`wild_cluster_bootstrap` for one coefficient.

    Attributes
    ----------
    term : object
        The tested coefficient.
    estimate, std_error, statistic : float
        :math:`\\hat\\beta`, its cluster-robust (CR1) standard error with the
        fit's small-sample convention, and :math:`t = (\\hat\\beta - \\beta_0)/se`.
    null : float
        :math:`\\beta_0` of the test.
    p_value : float
        Symmetric bootstrap p-value :math:`B^{-1}\\#\\{|t^*_b| > |t|\\}`.
    conf_low, conf_high : float
        Confidence interval at ``level`` (test inversion for WCR, symmetric
        percentile-t for WCU); ``-inf``/``inf`` if the test never rejects.
    level : float
    weights : str
        ``"rademacher"``, ``"webb"`` or ``"mammen"``.
    impose_null : bool
        True for WCR (restricted), False for WCU.
    n_bootstrap : int
        Number of bootstrap samples actually used (:math:`2^G` if enumerated).
    enumerated : bool
        Whether every Rademacher sign vector was used once.
    n_clusters : int
    cluster : str
        Bootstrap (and standard-error) cluster column.
    t_boot : numpy.ndarray
        The bootstrap t-statistics for :math:`H_0: \\beta = \\beta_0`.
    cluster_labels : numpy.ndarray
        Cluster values in the order of the rows of the weight matrix.
    random_state : object
    nobs : int
    """

    term: Any
    estimate: float
    std_error: float
    statistic: float
    null: float
    p_value: float
    conf_low: float
    conf_high: float
    level: float
    weights: str
    impose_null: bool
    n_bootstrap: int
    enumerated: bool
    n_clusters: int
    cluster: str
    t_boot: np.ndarray = field(repr=False)
    cluster_labels: np.ndarray = field(repr=False)
    random_state: Any = None
    nobs: int = 0
    estimator: str = ""

    @property
    def method(self) -> str:
        return "WCR" if self.impose_null else "WCU"

    @property
    def p_value_resolution(self) -> float:
        """Smallest step of the p-value, ``1 / n_bootstrap``."""
        return 1.0 / self.n_bootstrap

    @property
    def p_value_text(self) -> str:
        """The p-value with its resolution, e.g. ``"p < 0.001 (no draw as extreme; ...)"``.

        A p-value of 0 only says that no bootstrap draw was as extreme, so it
        is reported as ``p < 1/B``; with every sign vector enumerated the
        p-value is exact over those ``2^G`` draws.
        """
        return p_value_text(self.p_value, self.n_bootstrap, enumerated=self.enumerated)

    def conf_int(self) -> pd.DataFrame:
        """The bootstrap confidence interval as a one-row frame."""
        return pd.DataFrame({"conf_low": [self.conf_low], "conf_high": [self.conf_high]},
                            index=pd.Index([self.term], name="term"))

    def to_frame(self) -> pd.DataFrame:
        """One row: term, estimate, std_error, statistic, p_value, conf_low, conf_high, ..."""
        return pd.DataFrame([{
            "term": self.term, "estimate": self.estimate, "std_error": self.std_error,
            "statistic": self.statistic, "null": self.null, "p_value": self.p_value,
            "conf_low": self.conf_low, "conf_high": self.conf_high, "level": self.level,
            "method": self.method, "weights": self.weights, "n_bootstrap": self.n_bootstrap,
            "enumerated": self.enumerated, "n_clusters": self.n_clusters,
            "p_value_resolution": self.p_value_resolution,
        }])

    def summary(self) -> Summary:
        """Text / HTML / LaTeX summary."""
        table = self.to_frame()[["term", "estimate", "std_error", "statistic", "p_value",
                                 "conf_low", "conf_high"]].set_index("term")
        facts = [
            ("Model", self.estimator or "-"),
            ("Bootstrap", f"{self.method}, {self.weights}"),
            ("Draws", f"{self.n_bootstrap:,}" + (" (all)" if self.enumerated else "")),
            ("Clusters", f"{self.n_clusters} ({self.cluster})"),
            ("Observations", f"{self.nobs:,}"),
            ("H0", f"beta = {self.null:g}"),
        ]
        ci = "test inversion" if self.impose_null else "symmetric percentile-t"
        notes = [
            (f"p-value: share of |t*| > |t| over {self.n_bootstrap} bootstrap samples; "
             f"{self.level:.0%} interval by {ci}."),
            f"Reported: {self.p_value_text}.",
        ]
        if self.enumerated:
            notes.append(f"All 2^{self.n_clusters} Rademacher sign vectors enumerated "
                         "(deterministic; random_state unused).")
        else:
            notes.append(f"random_state={self.random_state!r}.")
        return Summary(title="Wild cluster bootstrap", facts=facts, table=table, notes=notes)

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


# --------------------------------------------------------------------------- design
# The regression behind a result is named by ``result.spec["model"]`` (set by TWFE and EventStudy,
# in memory and out of core), never by the display label ``result.estimator``.
_MODELS = ("twfe", "event_study")


@dataclass
class _Design:
    y: np.ndarray           # within-transformed, sqrt(w)-scaled
    X: np.ndarray
    names: list
    unit: np.ndarray
    time: np.ndarray
    weights: np.ndarray | None
    frame: pd.DataFrame
    n_units: int
    raw: np.ndarray         # the regressors before absorbing the fixed effects


def _rebuild_design(result, data: pd.DataFrame, cluster: str) -> _Design:
    """Rebuild the regression behind a TWFE / EventStudy result from its spec."""
    spec = result.spec
    is_event = spec["model"] == "event_study"
    treatment = spec.get("treatment")
    with warnings.catch_warnings():
        # the fit already reported these rows; the sample is checked below
        warnings.simplefilter("ignore", DroppedObservationsWarning)
        panel, covs = prepare_fe_panel(
            data, yname=spec["yname"], tname=spec["tname"], idname=spec["idname"],
            gname=spec.get("gname"), regressors=[treatment] if treatment else [],
            covariates=spec.get("covariates"), weights=spec.get("weights"),
            cluster=[cluster], vcov="cluster", estimator=None,
        )
    if is_event:
        treated = panel.cohort > 0
        e = np.where(treated, panel.periods[panel.time] - panel.cohort, 0)
        window = spec.get("window")
        if window is not None:
            lo, hi = window
            if spec.get("bin_endpoints", True):
                e = np.clip(e, lo, hi)
            else:
                keep = ~(treated & ((e < lo) | (e > hi)))
                panel, e, treated = subset_panel(panel, keep), e[keep], treated[keep]
        terms = list(result.params.index)
        cols = [(treated & (e == k)).astype(float) for k in terms]
    else:
        if treatment is not None:
            cols = [panel.frame[treatment].to_numpy(dtype=float)]
        else:
            t = panel.periods[panel.time]
            cols = [((panel.cohort > 0) & (t >= panel.cohort)).astype(float)]
        terms = [result.extra.get("treatment", treatment or "treated")]
    names = [*terms, *covs]
    X = np.column_stack(cols + [panel.frame[c].to_numpy(dtype=float) for c in covs])
    if len(panel.y) != result.nobs:
        raise EstimationError(
            f"the data give {len(panel.y)} usable rows but the result was fitted on "
            f"{result.nobs}; pass the data the result was fitted on (rows with a missing "
            f"cluster={cluster!r} are dropped here)"
        )
    Z = absorb_unit_time(np.column_stack([panel.y, X]), panel.unit, panel.time, panel.weights)
    if panel.weights is not None:
        Z = Z * np.sqrt(panel.weights)[:, None]
    return _Design(Z[:, 0], Z[:, 1:], names, panel.unit, panel.time, panel.weights,
                   panel.frame, panel.n_units, X)


def _check_reproduces(design: _Design, result, fast: _FastWild) -> None:
    full = result.extra.get("full_params")
    ref = (full if full is not None else result.params).reindex(design.names).to_numpy(float)
    scale = np.maximum(np.abs(ref), np.sqrt(np.diag(fast.bread)) * 1e-3)
    if not np.all(np.abs(fast.beta - ref) <= 1e-6 * scale + 1e-10):
        raise EstimationError(
            "the data do not reproduce the result's estimates (max difference "
            f"{np.max(np.abs(fast.beta - ref)):.3g}); pass the data the result was fitted on"
        )


def _resolve_term(term, names: list, result) -> int:
    if term is None:
        if result.spec["model"] == "twfe":
            return 0
        raise ArgumentValueError(
            f"term=None: name the event-study coefficient to test, one of "
            f"{examples(result.params.index, 12)}"
        )
    for i, name in enumerate(names):
        if name == term or str(name) == str(term):
            return i
    raise UnknownTermError(f"term={term!r} is not a coefficient of the model; available terms: "
                           f"{examples(names, 12)}")


def _warn_few_treated(x: np.ndarray, codes: np.ndarray, G: int, term, cluster: str) -> None:
    """Warn when a 0/1 term is switched on in (or off in) at most two clusters."""
    if not np.isin(x, (0.0, 1.0)).all():
        return
    n_on = np.unique(codes[x == 1]).size
    n_off = np.unique(codes[x == 0]).size
    if min(n_on, n_off) <= 2:
        side = "treated" if n_on <= n_off else "control"
        warnings.warn(
            f"term={term!r} has only {min(n_on, n_off)} {side} cluster(s) of {G} "
            f"(cluster={cluster!r}); with so few the wild cluster bootstrap is unreliable "
            "(WCR hardly ever rejects, WCU over-rejects; MacKinnon & Webb 2017, 2018). "
            "Consider randomization inference or synthetic control methods.",
            EstimationWarning, stacklevel=3,
        )


def _validate_args(weights, n_bootstrap, level, impose_null) -> None:
    require_option(weights, "weights", _WEIGHTS)
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)):
        raise ArgumentTypeError(f"n_bootstrap must be an integer, got {n_bootstrap!r}")
    if n_bootstrap < 1:
        raise ArgumentValueError(f"n_bootstrap={n_bootstrap} must be at least 1")
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise ArgumentValueError(f"level={level!r} must lie strictly between 0 and 1")
    if not isinstance(impose_null, (bool, np.bool_)):
        raise ArgumentTypeError(f"impose_null must be True or False, got {impose_null!r}")


def wild_cluster_bootstrap(
    result_or_model,
    term: Any = None,
    *,
    data: pd.DataFrame | None = None,
    cluster: str | None = None,
    weights: str = "rademacher",
    impose_null: bool = True,
    null: float = 0.0,
    n_bootstrap: int = 9999,
    random_state: Any = None,
    level: float = 0.95,
    progress: bool = True,
    **fit_kwargs,
) -> WildBootstrapResult:
    r"""Wild cluster bootstrap-t test and confidence interval for one coefficient.

    Parameters
    ----------
    result_or_model : RegressionResult, TWFE or EventStudy
        A fitted :class:`~policyeval.TWFE` or :class:`~policyeval.EventStudy`
        result (then ``data`` is the frame it was fitted on), or an unfitted
        estimator (then ``data`` and the ``fit`` arguments are given here).
    term : str or int, optional
        Coefficient to test: the treatment term (default for TWFE), an event
        time of an event study, or a covariate name.
    data : pandas.DataFrame
        The panel.
    cluster : str, optional
        Cluster column for the bootstrap and the standard error. Default:
        the cluster of the fit (the unit when the fit was not clustered).
    weights : {"rademacher", "webb", "mammen"}
        Distribution of the cluster weights :math:`v_g`: Rademacher
        :math:`\pm 1`; Webb's six-point :math:`\pm\sqrt{1/2}, \pm 1,
        \pm\sqrt{3/2}` (each 1/6), recommended for fewer than about 10-12
        clusters where Rademacher has too few distinct draws; Mammen's
        two-point.
    impose_null : bool
        True (default): restricted bootstrap, WCR (the null
        :math:`\beta = \beta_0` holds in the bootstrap data); False:
        unrestricted, WCU.
    null : float
        :math:`\beta_0` (default 0).
    n_bootstrap : int
        Number of bootstrap samples :math:`B`. With Rademacher weights and
        :math:`2^G \le B` every sign vector is used exactly once instead
        (:math:`B = 2^G`, deterministic), as Stata ``boottest`` does.
    random_state : int, numpy.random.Generator or None
        Seed of the weights.
    level : float
        Confidence level.
    progress : bool
        Show a tqdm progress bar over batches of draws.
    **fit_kwargs
        ``fit`` arguments (``yname``, ``tname``, ``idname``, ``gname`` ...)
        when an unfitted estimator is given.

    Returns
    -------
    WildBootstrapResult

    Raises
    ------
    ArgumentTypeError
        If the first argument is not a TWFE / EventStudy result or
        estimator, or ``n_bootstrap`` is not an integer.
    KeyError
        If ``term`` is not a coefficient of the model (the message lists
        them) or ``cluster`` is not a column.
    ValueError, EstimationError
        For unknown ``weights``, ``n_bootstrap < 1``, fewer than two
        clusters, two-way clustered fits without ``cluster=``, or data that
        do not reproduce the result.

    Warns
    -----
    EstimationWarning
        If a 0/1 term is switched on (or off) in at most two clusters, where
        every cluster-based test is unreliable (MacKinnon & Webb 2017, 2018;
        see docs/montecarlo_few_clusters.md), or if the confidence set is
        unbounded.

    Notes
    -----
    With the unit and period effects absorbed (Frisch–Waugh–Lovell),
    :math:`\hat\beta_j = a'y` with :math:`a = X(X'X)^{-1}e_j`. Under WCR
    the bootstrap samples are :math:`y^*_i = \tilde X_{-j,i}\tilde\gamma +
    \beta_0 x_{ij} + \tilde u_i v_{g(i)}` with :math:`\tilde u` the
    residuals of the model estimated under :math:`\beta_j = \beta_0`; under
    WCU :math:`y^* = X\hat\beta + \hat u\odot v`. Each sample gives

    .. math::

        t^*_b = \frac{\hat\beta^*_{j,b} - \beta^{DGP}_j}{\widehat{se}^*_b},
        \qquad p = \frac{1}{B}\sum_b 1\{|t^*_b| > |t|\},

    with :math:`\widehat{se}^*_b` the CR1 standard error of the bootstrap
    sample (fixed effects re-absorbed). Both the numerator and
    :math:`\widehat{se}^{*2}_b` are a linear and a quadratic form in
    :math:`v_b` whose :math:`G`-dimensional coefficients are computed once
    (see ``_FastWild``), so the cost per draw is :math:`O(G^2)`. Like
    Stata ``boottest`` / WildBootTests.jl, ``fwildclusterboot`` and
    ``wildboottest``, a draw counts only if :math:`|t^*_b| > |t|` strictly.
    Under WCR the identity draw :math:`v = \mathbf 1` and its negation
    reproduce :math:`|t|` exactly; those tools leave these two ties to
    floating-point rounding (so their enumerated p-values can exceed ours by
    :math:`1/2^G` or :math:`2/2^G`; e.g. boottest's unit-test log prints
    :math:`p = 0.0742 = 19/256` for 8 clusters, an odd count that only a
    rounding-decided tie explains); here ties within a relative
    :math:`10^{-9}` are never counted.

    The WCR interval is :math:`\{\beta_0 : p(\beta_0) > 1-\text{level}\}`,
    found by a doubling search from :math:`\hat\beta` and bisection (the
    restricted residuals are linear in :math:`\beta_0`, so every
    :math:`p(\beta_0)` reuses the same draws). The WCU interval is the
    symmetric percentile-t interval :math:`\hat\beta \pm q\,\widehat{se}`,
    :math:`q` the matching order statistic of :math:`|t^*|`. The
    small-sample factor of the standard error cancels from p-values and
    intervals.

    References
    ----------
    Cameron, A. C., Gelbach, J. B. and Miller, D. L. (2008). Bootstrap-based
    improvements for inference with clustered errors. *Review of Economics
    and Statistics*, 90(3), 414-427.

    Roodman, D., MacKinnon, J. G., Nielsen, M. Ø. and Webb, M. D. (2019).
    Fast and wild: bootstrap inference in Stata using boottest. *Stata
    Journal*, 19(1), 4-60.

    MacKinnon, J. G. and Webb, M. D. (2017). Wild bootstrap inference for
    wildly different cluster sizes. *Journal of Applied Econometrics*, 32(2),
    233-254. MacKinnon, J. G. and Webb, M. D. (2018). The wild bootstrap for
    few (treated) clusters. *Econometrics Journal*, 21(2), 114-135.

    Webb, M. D. (2023). Reworking wild bootstrap-based inference for
    clustered errors. *Canadian Journal of Economics*, 56(3), 839-858.

    Examples
    --------
    The bundled simulated panel (32 prefectures as clusters):

    >>> import policyeval as pe
    >>> from policyeval.inference.wild_bootstrap import wild_cluster_bootstrap
    >>> panel = pe.load_simulated_panel()
    >>> res = pe.TWFE(cluster="prefecture_code").fit(
    ...     panel, "log_gdp", "year", "county_code", gname="first_treat")
    >>> wb = wild_cluster_bootstrap(res, data=panel, weights="webb", n_bootstrap=999,
    ...                             random_state=1, progress=False)
    >>> wb.n_clusters, wb.method, round(wb.p_value, 2)
    (32, 'WCR', 0.02)
    """
    from policyeval.estimators.twfe import TWFE, EventStudy

    _validate_args(weights, n_bootstrap, level, impose_null)
    if not isinstance(data, pd.DataFrame):
        raise ArgumentTypeError(
            "data= must be the pandas DataFrame the model is (or was) fitted on, got "
            f"{type(data).__name__}"
        )
    if isinstance(result_or_model, (TWFE, EventStudy)):
        result = result_or_model.fit(data, **fit_kwargs)
    elif fit_kwargs:
        raise ArgumentTypeError(f"unexpected arguments {sorted(fit_kwargs)}: fit arguments are "
                                "only used with an unfitted TWFE / EventStudy estimator")
    else:
        result = result_or_model
    spec = getattr(result, "spec", None)
    if not hasattr(spec, "get") or spec.get("model") not in _MODELS:
        raise ArgumentTypeError(
            "wild_cluster_bootstrap supports TWFE and EventStudy results or estimators; got "
            f"{type(result_or_model).__name__}"
            + (f" ({result.estimator})" if hasattr(result, "estimator") else "")
        )
    if result.spec.get("fe"):
        raise EstimationError(
            f"the fit absorbs fe={result.spec['fe']}; the wild cluster bootstrap re-estimates "
            "with unit + period effects only: refit without fe= to bootstrap it"
        )
    if cluster is None:
        cols = result.spec.get("cluster_columns") or [result.spec["idname"]]
        if len(cols) > 1:
            raise EstimationError(
                f"the fit is clustered two ways ({', '.join(cols)}); the wild bootstrap here "
                "clusters one way: pass cluster= one of them"
            )
        cluster = cols[0]
    if not isinstance(cluster, str):
        raise ArgumentTypeError(f"cluster must be one column name, got {cluster!r}")

    design = _rebuild_design(result, data, cluster)
    j = _resolve_term(term, design.names, result)
    codes, labels = pd.factorize(design.frame[cluster], sort=True)
    G = len(labels)
    if G < 2:
        raise EstimationError(
            f"cluster={cluster!r} has {G} cluster(s); the wild cluster bootstrap needs at "
            "least 2 (and is meant for few, not one)"
        )
    if not (weights == "rademacher" and G < 63 and 2**G <= n_bootstrap):
        # random draws (not every sign vector enumerated): too few cannot resolve 5% / 1%
        check_draws(int(n_bootstrap), "n_bootstrap", stacklevel=3)
    if weights == "rademacher" and G < 12:
        warnings.warn(
            f"cluster={cluster!r} has {G} clusters: Rademacher weights give only 2^{G} = {2**G} "
            f"distinct bootstrap samples, so p-values move in steps of at least 1/{2**G}; use "
            "weights='webb' (six-point weights, 6^G samples) with fewer than about 12 clusters "
            "(Webb 2023).", EstimationWarning, stacklevel=2)
    _warn_few_treated(design.raw[:, j], codes, G, design.names[j], cluster)
    sw = None if design.weights is None else np.sqrt(design.weights)

    def absorb(M: np.ndarray) -> np.ndarray:
        if sw is None:
            return absorb_unit_time(M, design.unit, design.time)
        return sw[:, None] * absorb_unit_time(M / sw[:, None], design.unit, design.time,
                                              design.weights)

    fast = _FastWild(design.y, design.X, j, codes.astype(np.intp), absorb)
    _check_reproduces(design, result, fast)

    n, k = design.X.shape
    corr = resolve_ssc(result.spec.get("ssc", "fixest"))
    K = count_parameters(k, [design.unit, design.time], [codes], corr.fixef_k)
    scale = ((n - 1) / (n - K) if corr.adj else 1.0) * (G / (G - 1) if corr.cluster_adj else 1.0)
    beta = fast.beta_j
    se = float(np.sqrt(scale * np.sum(fast.cluster_scores(fast.resid) ** 2)))

    B, enumerated, batches = _weight_batches(weights, G, int(n_bootstrap), random_state)
    n_batches = math.ceil(B / _CHUNK)
    if impose_null:
        # u(b0) = uA - b0 * x_check with uA the residuals restricted at b0 = 0
        uA = fast.resid + beta * fast.x_check
        draws = _collect(batches(), n_batches, *fast.pieces([uA, fast.x_check]), progress)
    else:
        zero = np.zeros(n)
        draws = _collect(batches(), n_batches, *fast.pieces([fast.resid, zero]), progress)

    def pvalue(b0: float) -> float:
        t_obs = (beta - b0) / se
        return _exceed_share(draws.t(b0 if impose_null else 0.0, scale), t_obs)

    alpha = 1 - level
    if impose_null:
        low, high = _invert(lambda b0: pvalue(b0) > alpha, beta, se if se > 0 else 1.0)
    else:
        abs_t = np.sort(np.abs(draws.t(0.0, scale)))[::-1]
        m = int(np.floor(alpha * B + 1e-9))
        q = abs_t[m] if m < B else 0.0
        low, high = beta - q * se, beta + q * se
    if not (np.isfinite(low) and np.isfinite(high)):
        warnings.warn(
            f"the {level:.0%} wild bootstrap confidence set for term={design.names[j]!r} is "
            f"unbounded: with {G} clusters and {B} draws the test never rejects "
            f"(try weights='webb')",
            EstimationWarning, stacklevel=2,
        )
    t_boot = draws.t(null if impose_null else 0.0, scale)
    return WildBootstrapResult(
        term=design.names[j], estimate=beta, std_error=se, statistic=(beta - null) / se,
        null=float(null), p_value=pvalue(float(null)), conf_low=float(low),
        conf_high=float(high), level=float(level), weights=weights,
        impose_null=bool(impose_null), n_bootstrap=B, enumerated=enumerated, n_clusters=G,
        cluster=cluster, t_boot=t_boot, cluster_labels=np.asarray(labels),
        random_state=random_state, nobs=n, estimator=result.estimator,
    )
