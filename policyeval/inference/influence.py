"""Influence functions: the one object inference is built from.

An asymptotically linear estimator :math:`\\hat\\theta` (a vector of ``k``
terms) satisfies

.. math::

    \\hat\\theta - \\theta = \\frac{1}{n}\\sum_{i=1}^{n} \\psi_i + o_p(n^{-1/2}),

so every standard error, every aggregation (a linear map of the terms), every
clustered variance and every multiplier-bootstrap draw is a function of the
``n x k`` matrix :math:`\\Psi`. This module stores :math:`\\Psi` in one of
two forms behind one interface:

* :class:`DenseInfluence` keeps the matrix itself (any estimator).
* :class:`BlockInfluence` keeps dense blocks on the rows each group of
  terms concerns (a cohort and its comparison units).
* :class:`CohortInfluence` keeps it *implicitly*: when every
  :math:`\\psi_{ik}` is a linear function of a few per-unit features
  :math:`f_i` whose coefficients depend only on the unit's cohort,
  :math:`\\psi_{ik} = f_i^\\top D_{c(i),k}`. This is the case for
  difference-in-differences of (weighted) means, and it lets a million-unit
  panel carry its influence function in a few kilobytes of coefficients and
  per-cohort moment matrices.

Variances use cluster sums, :math:`\\hat V = n^{-2}\\sum_c S_c S_c^\\top` with
:math:`S_c = \\sum_{i \\in c}\\psi_i` (each unit its own cluster by default),
the convention of R ``did`` (Callaway & Sant'Anna 2021, Remark 10).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from scipy import sparse

from policyeval.inference._multiplier import MultiplierStream, binary_cell_sums

__all__ = ["InfluenceFunction", "DenseInfluence", "BlockInfluence", "CohortInfluence", "cluster_codes",
           "cohort_feature_moments", "tall_matmul"]

#: Units per block of :func:`cohort_feature_moments`: a block's features (``rows x (T + 2)``)
#: stay in cache and its buffers are reused, so the pass allocates no rows-sized array.
_MOMENT_BLOCK = 16_384


#: Work (rows x inner x columns) per BLAS call of :func:`tall_matmul`. OpenBLAS runs products
#: below roughly this size on one thread; a larger product of a tall, narrow matrix is split
#: over threads that, on a machine shared with other jobs, wait for each other and take up
#: to ten times longer (measured on the 2-core benchmark machine: 333,000 x 14 by 14 x 25,
#: 0.25-0.7 s in one call, 0.015-0.03 s in blocks of 2,048 rows).
_MATMUL_WORK = 700_000


def tall_matmul(A: np.ndarray, B: np.ndarray, out: np.ndarray | None = None, rows=None) -> np.ndarray:
    """``A @ B`` for a tall ``A`` with few columns, in blocks of rows; added to ``out`` if given.

    With ``rows``, ``out[rows] += A @ B`` (``rows`` indexes the rows of ``out``).
    Each block's product is small (see :data:`_MATMUL_WORK`), so BLAS keeps it on
    one thread and the temporary is reused instead of a fresh rows-sized array.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.inference.influence import tall_matmul
    >>> A, B = np.arange(12.0).reshape(6, 2), np.array([[1.0, 0.0], [1.0, 2.0]])
    >>> bool(np.array_equal(tall_matmul(A, B), A @ B))
    True
    """
    n = A.shape[0]
    step = max(256, _MATMUL_WORK // max(1, A.shape[1] * (B.shape[1] if B.ndim > 1 else 1)))
    if out is None:
        out = np.empty((n,) + B.shape[1:], dtype=np.result_type(A, B))
        for start in range(0, n, step):
            np.matmul(A[start:start + step], B, out=out[start:start + step])
        return out
    for start in range(0, n, step):
        if rows is None:
            out[start:start + step] += A[start:start + step] @ B
        else:
            out[rows[start:start + step]] += A[start:start + step] @ B
    return out


def cohort_feature_moments(outcomes: np.ndarray, weights: np.ndarray, cohort: np.ndarray,
                           n_cohorts: int) -> np.ndarray:
    r"""Per-cohort :math:`\sum_{i\in c} f_i f_i^\top` of :math:`f_i = (w_i y_{i1},\dots,w_i y_{iT}, w_i, 1)`.

    One pass over the ``n x T`` outcomes in blocks of units, without sorting
    or copying them: within a block the rows are grouped by cohort (a radix
    sort of small codes) and each group adds its Gram matrix. The row
    ``T + 1`` of the result holds the cohort sums of the features, so the
    weighted cohort x period outcome sums, weight totals and unit counts
    come from the same pass: ``q[c, :T, T + 1]``, ``q[c, T, T + 1]`` and
    ``q[c, T + 1, T + 1]``.

    Parameters
    ----------
    outcomes : numpy.ndarray
        ``n x T`` outcomes.
    weights : numpy.ndarray
        Unit weights (length ``n``).
    cohort : numpy.ndarray
        Cohort code of each unit, ``0..n_cohorts-1``.
    n_cohorts : int

    Returns
    -------
    numpy.ndarray
        ``n_cohorts x (T + 2) x (T + 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from policyeval.inference.influence import cohort_feature_moments
    >>> Y = np.array([[1.0, 2.0], [3.0, 5.0], [0.0, 1.0]])
    >>> q = cohort_feature_moments(Y, np.ones(3), np.array([0, 1, 0]), 2)
    >>> q[0, :2, 3].tolist(), q[1, :2, 3].tolist(), q[:, 3, 3].tolist()   # sums by cohort, counts
    ([1.0, 3.0], [3.0, 5.0], [2.0, 1.0])
    """
    n, T = outcomes.shape
    F = T + 2
    q = np.zeros((n_cohorts, F, F))
    small = cohort.astype(np.int16) if n_cohorts < 32_000 else np.asarray(cohort)
    block = min(_MOMENT_BLOCK, max(n, 1))
    feats = np.empty((block, F))
    for start in range(0, n, block):
        stop = min(n, start + block)
        m = stop - start
        order = np.argsort(small[start:stop], kind="stable")
        f = feats[:m]
        rows = order + start
        w = weights[rows]
        np.multiply(outcomes[rows], w[:, None], out=f[:, :T])
        f[:, T] = w
        f[:, T + 1] = 1.0
        counts = np.bincount(small[start:stop], minlength=n_cohorts)
        at = 0
        for c in np.flatnonzero(counts):
            seg = f[at:at + counts[c]]
            q[c] += seg.T @ seg
            at += counts[c]
    return q


def cluster_codes(labels) -> tuple[np.ndarray, int]:
    """Integer codes ``0..G-1`` for cluster labels, and ``G``."""
    codes, uniques = _factorize(np.asarray(labels))
    return codes, len(uniques)


def _factorize(values: np.ndarray):
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values), sort=True)
    return codes.astype(np.intp), uniques


class InfluenceFunction(ABC):
    """Common interface of the influence-function representations.

    Attributes
    ----------
    n : int
        Number of observations the influence function is normalised by
        (units for panels, rows for repeated cross-sections).
    n_terms : int
        Number of estimated terms (columns).
    cluster : numpy.ndarray or None
        Cluster code (``0..n_clusters-1``) of every row, or ``None`` when
        each row is its own cluster.
    """

    n: int
    n_terms: int
    cluster: np.ndarray | None
    n_clusters: int

    # --- what each representation must provide ------------------------
    @abstractmethod
    def gram(self) -> np.ndarray:
        """:math:`\\sum_c S_c S_c^\\top`, a ``k x k`` matrix."""

    @abstractmethod
    def combine(self, weights: np.ndarray, cohort_coef: np.ndarray | None = None) -> InfluenceFunction:
        """Influence function of linear combinations ``theta @ weights`` (``k x m``).

        ``cohort_coef`` (``n_codes x m``), if given, adds :math:`w_i c_{c(i)}`
        in the same pass (see :meth:`cohort_terms`).
        """

    @abstractmethod
    def cohort_terms(self, coef_w: np.ndarray, coef_1: np.ndarray) -> InfluenceFunction:
        """Influence function :math:`w_i a_{c(i)} + b_{c(i)}` in this representation.

        Used for the estimation effect of cohort shares (R ``did``'s
        ``wif``): ``coef_w`` and ``coef_1`` are ``n_cohorts x m``.
        """

    @abstractmethod
    def __add__(self, other: InfluenceFunction) -> InfluenceFunction: ...

    @abstractmethod
    def multiplier_sums(self, draws_fn, n_draws: int, chunk: int, progress=None) -> np.ndarray:
        """``n_draws x k`` matrix of :math:`\\sum_c V_{rc} S_c` for multiplier draws ``V``.

        ``draws_fn(m, size)`` returns an ``m x size`` array of multipliers.
        """

    @abstractmethod
    def to_dense(self) -> np.ndarray:
        """The full ``n x k`` matrix (rows before clustering)."""

    # --- derived quantities --------------------------------------------
    def vcov(self) -> np.ndarray:
        """Covariance of the estimates, :math:`n^{-2}\\sum_c S_c S_c^\\top`."""
        return self.gram() / float(self.n) ** 2

    def gram_diagonal(self) -> np.ndarray:
        """Diagonal of :meth:`gram` (all a standard error needs), without the full matrix."""
        s = self.cluster_sums()
        return np.einsum("ik,ik->k", s, s)

    def std_errors(self) -> np.ndarray:
        """Standard errors; exactly-degenerate terms (e.g. a reference period) are NaN."""
        se = np.sqrt(np.clip(self.gram_diagonal(), 0.0, None)) / self.n
        se[se <= np.sqrt(np.finfo(float).eps) * 10] = np.nan
        return se


class DenseInfluence(InfluenceFunction):
    """Influence function stored as an ``n x k`` array.

    Parameters
    ----------
    values : numpy.ndarray
        ``n x k`` influence values (already scaled so that the variance is
        ``gram / n**2``).
    cohort : numpy.ndarray
        Cohort code of each row (needed by :meth:`cohort_terms`).
    weights : numpy.ndarray
        Sampling weight of each row.
    cluster : numpy.ndarray, optional
        Cluster code of each row.
    """

    def __init__(self, values, cohort, weights, cluster=None, n_clusters=None):
        if sparse.issparse(values):
            # a column that is non-zero only on the rows it concerns (one cohort and its controls)
            self.values = sparse.csc_matrix(values)
        else:
            values = np.asarray(values, dtype=float)
            self.values = values[:, None] if values.ndim == 1 else values
        self.n, self.n_terms = self.values.shape
        self.cohort = np.asarray(cohort, dtype=np.intp)
        self.weights = np.asarray(weights, dtype=float)
        self.cluster = cluster
        self.n_clusters = self.n if cluster is None else int(n_clusters)

    def _like(self, values):
        return DenseInfluence(values, self.cohort, self.weights, self.cluster, self.n_clusters)

    def _cluster_matrix(self):
        return sparse.csr_matrix(
            (np.ones(self.n), (self.cluster, np.arange(self.n))), shape=(self.n_clusters, self.n)
        )

    def cluster_sums(self) -> np.ndarray:
        if self.cluster is None:
            return self.to_dense()
        out = self._cluster_matrix() @ self.values
        return out.toarray() if sparse.issparse(out) else np.asarray(out)

    def gram(self):
        if self.cluster is None and sparse.issparse(self.values):
            # dense BLAS on row blocks beats a sparse-sparse product by an order of magnitude
            csr = self.values.tocsr()
            out = np.zeros((self.n_terms, self.n_terms))
            step = max(1, 4_000_000 // max(self.n_terms, 1))
            for start in range(0, self.n, step):
                block = csr[start:start + step].toarray()
                out += block.T @ block
            return out
        s = self.cluster_sums()
        return s.T @ s

    def gram_diagonal(self):
        if self.cluster is None and sparse.issparse(self.values):
            return np.asarray(self.values.multiply(self.values).sum(axis=0)).ravel()
        return super().gram_diagonal()

    def combine(self, weights, cohort_coef=None):
        out = np.asarray(self.values @ np.asarray(weights, dtype=float).reshape(self.n_terms, -1))
        if cohort_coef is not None:
            out = out + self.weights[:, None] * np.atleast_2d(cohort_coef)[self.cohort]
        return self._like(out)

    def cohort_terms(self, coef_w, coef_1):
        coef_w, coef_1 = np.atleast_2d(coef_w), np.atleast_2d(coef_1)
        return self._like(self.weights[:, None] * coef_w[self.cohort] + coef_1[self.cohort])

    def __add__(self, other):
        return self._like(self.to_dense() + other.to_dense())

    def to_dense(self):
        return self.values.toarray() if sparse.issparse(self.values) else self.values

    def multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        if isinstance(draws_fn, MultiplierStream) and self.cluster is None \
                and not sparse.issparse(self.values):
            Z, total = binary_cell_sums(draws_fn, n_draws, self.n, None, np.zeros(self.n, np.intp), 1,
                                        self.values, progress)
            return draws_fn.a * total[0] + draws_fn.b * Z[:, 0]
        return self._reference_multiplier_sums(draws_fn, n_draws, chunk, progress)

    def _reference_multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        """The obvious computation: a ``chunk x n`` matrix of multipliers per step."""
        s = self.values if self.cluster is None else self.cluster_sums()
        out = np.empty((n_draws, self.n_terms))
        for start in range(0, n_draws, chunk):
            m = min(chunk, n_draws - start)
            v = draws_fn(m, s.shape[0])
            out[start:start + m] = (s.T @ v.T).T if sparse.issparse(s) else v @ s
            if progress is not None:
                progress.update(m)
        return out


class CohortCoefficients:
    """Shared algebra of influence functions stored as per-cohort coefficients.

    Both :class:`CohortInfluence` (in memory, per-unit features at hand) and
    :class:`policyeval.scale.cohort_sums.SufficientCohortInfluence` (out of core,
    per-cohort moments only) keep ``coef[c, f, j]``: how feature ``f`` of a unit in
    cohort ``c`` enters term ``j``. Linear combinations act on ``coef`` alone; the
    last two features are the unit's weight and a constant.
    """

    def combine(self, weights, cohort_coef=None):
        weights = np.asarray(weights, dtype=float).reshape(self.n_terms, -1)
        coef = self.coef @ weights
        if cohort_coef is not None:
            coef[:, -2, :] += np.atleast_2d(cohort_coef)     # w_i c_{c(i)}: the weight feature
        return self._like(coef)

    def cohort_terms(self, coef_w, coef_1):
        coef_w, coef_1 = np.atleast_2d(coef_w), np.atleast_2d(coef_1)
        coef = np.zeros((self.n_cohorts, self.n_features, coef_w.shape[1]))
        coef[:, -2, :] = coef_w
        coef[:, -1, :] = coef_1
        return self._like(coef)


class CohortInfluence(CohortCoefficients, InfluenceFunction):
    """Influence function :math:`\\psi_{ik} = f_i^\\top D_{c(i),k}`, stored implicitly.

    The per-unit features are :math:`f_i = (w_i y_{i1}, \\dots, w_i y_{iT},
    w_i, 1)`: a unit's weighted outcome path, its weight and a constant.
    Differences of weighted cohort means of outcome changes, and cohort
    shares, have influence functions of this form with coefficients that
    depend only on the unit's cohort ``c(i)``.

    Parameters
    ----------
    outcomes : numpy.ndarray
        ``n x T`` wide outcome matrix.
    weights : numpy.ndarray
        Unit weights (length ``n``).
    cohort : numpy.ndarray
        Cohort code of each unit, ``0..n_cohorts-1``.
    coef : numpy.ndarray
        ``n_cohorts x (T + 2) x k`` coefficients ``D``.
    cluster : numpy.ndarray, optional
        Cluster code of each unit.
    moments : numpy.ndarray, optional
        Cached per-cohort ``f'f`` (``n_cohorts x (T+2) x (T+2)``).
    """

    def __init__(self, outcomes, weights, cohort, coef, cluster=None, n_clusters=None,
                 moments=None, cluster_features=None, draw_cache=None):
        self.outcomes = outcomes
        self.weights = weights
        self.cohort = cohort
        self.coef = np.asarray(coef, dtype=float)
        self.n = outcomes.shape[0]
        self.n_cohorts, self.n_features, self.n_terms = self.coef.shape
        self.cluster = cluster
        self.n_clusters = self.n if cluster is None else int(n_clusters)
        self._moments = moments
        self._cluster_features = cluster_features
        # multiplier sums of the features per cohort, by seeded draws (shared by all combinations)
        self._draw_cache = {} if draw_cache is None else draw_cache

    # the cached statistics are shared by every combination of this IF
    def _like(self, coef):
        return CohortInfluence(self.outcomes, self.weights, self.cohort, coef, self.cluster,
                               self.n_clusters, self._moments, self._cluster_features,
                               self._draw_cache)

    def _features(self, rows):
        w = self.weights[rows]
        return np.column_stack([self.outcomes[rows] * w[:, None], w, np.ones(len(w))])

    def _cohort_rows(self):
        small = self.cohort.astype(np.int16) if self.n_cohorts < 32_000 else self.cohort
        order = np.argsort(small, kind="stable")          # radix sort on small integer codes
        bounds = np.searchsorted(self.cohort[order], np.arange(self.n_cohorts + 1))
        return [order[bounds[c]:bounds[c + 1]] for c in range(self.n_cohorts)]

    @property
    def moments(self) -> np.ndarray:
        """Per-cohort second moments of the features, :math:`\\sum_{i\\in c} f_i f_i^\\top`."""
        if self._moments is None:
            self._moments = cohort_feature_moments(self.outcomes, self.weights, self.cohort, self.n_cohorts)
        return self._moments

    @property
    def cluster_features(self):
        """Feature sums by (cluster, cohort) pair: ``(pair_cluster, pair_cohort, F)``."""
        if self._cluster_features is None:
            key = self.cluster.astype(np.int64) * self.n_cohorts + self.cohort
            pairs, inv = np.unique(key, return_inverse=True)
            f = np.empty((len(pairs), self.n_features))
            w = self.weights
            for j in range(self.n_features - 2):
                f[:, j] = np.bincount(inv, weights=self.outcomes[:, j] * w, minlength=len(pairs))
            f[:, -2] = np.bincount(inv, weights=w, minlength=len(pairs))
            f[:, -1] = np.bincount(inv, minlength=len(pairs))
            self._cluster_features = (pairs // self.n_cohorts, pairs % self.n_cohorts, f)
        return self._cluster_features

    def cluster_sums(self) -> np.ndarray:
        """``n_clusters x k`` cluster sums of the influence function."""
        if self.cluster is None:
            return self.to_dense()
        pc, pk, f = self.cluster_features
        per_pair = np.einsum("pf,pfk->pk", f, self.coef[pk])
        out = np.zeros((self.n_clusters, self.n_terms))
        np.add.at(out, pc, per_pair)
        return out

    def gram(self):
        if self.cluster is not None:
            s = self.cluster_sums()
            return s.T @ s
        return np.einsum("cfk,cfg,cgl->kl", self.coef, self.moments, self.coef)

    def gram_diagonal(self):
        if self.cluster is None:
            return np.einsum("cfk,cfg,cgk->k", self.coef, self.moments, self.coef)
        return super().gram_diagonal()

    def __add__(self, other):
        if not isinstance(other, CohortInfluence):
            return DenseInfluence(self.to_dense(), self.cohort, self.weights, self.cluster,
                                  self.n_clusters) + other
        return self._like(self.coef + other.coef)

    def to_dense(self):
        out = np.empty((self.n, self.n_terms))
        for c, rows in enumerate(self._cohort_rows()):
            out[rows] = self._features(rows) @ self.coef[c]
        return out

    def multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        if isinstance(draws_fn, MultiplierStream):
            return self._fast_multiplier_sums(draws_fn, n_draws, progress)
        return self._reference_multiplier_sums(draws_fn, n_draws, chunk, progress)

    def _fast_multiplier_sums(self, stream, n_draws, progress=None):
        r""":meth:`multiplier_sums` from per-cohort sums of multiplied features.

        :math:`\sum_i V_{ri}\psi_i = \sum_c (\sum_{i\in c} V_{ri} f_i)^\top D_c`: the
        per-cohort sums (``n_draws x n_cohorts x F``) do not depend on the terms, so
        every combination of this influence function (aggregations, their overall
        summary) reuses them when the draws are seeded.
        """
        cached = self._draw_cache.get(stream.key) if stream.key is not None else None
        if cached is None:
            if self.cluster is None:
                Z, total = binary_cell_sums(stream, n_draws, self.n, None, self.cohort, self.n_cohorts,
                                            self._features(slice(None)), progress)
            else:
                pc, pk, f = self.cluster_features
                Z, total = binary_cell_sums(stream, n_draws, self.n_clusters, pc, pk, self.n_cohorts,
                                            f, progress)
            cached = stream.a * total[None] + stream.b * Z
            if stream.key is not None:
                self._draw_cache.clear()            # one seeded set of draws kept at a time
                self._draw_cache[stream.key] = cached
        elif progress is not None:
            progress.update(n_draws)
        return np.einsum("rcf,cfk->rk", cached, self.coef, optimize=True)

    def _reference_multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        """The obvious computation: a ``chunk x n`` matrix of multipliers per step."""
        out = np.zeros((n_draws, self.n_terms))
        if self.cluster is not None:
            s = self.cluster_sums()
            for start in range(0, n_draws, chunk):
                m = min(chunk, n_draws - start)
                out[start:start + m] = draws_fn(m, s.shape[0]) @ s
                if progress is not None:
                    progress.update(m)
            return out
        # one multiplier per unit: sum_i V_i f_i within each cohort, then apply D_c
        rows_by_cohort = self._cohort_rows()
        for start in range(0, n_draws, chunk):
            m = min(chunk, n_draws - start)
            v = draws_fn(m, self.n)
            for c, rows in enumerate(rows_by_cohort):
                if len(rows):
                    out[start:start + m] += (v[:, rows] @ self._features(rows)) @ self.coef[c]
            if progress is not None:
                progress.update(m)
        return out


class BlockInfluence(InfluenceFunction):
    """Influence function stored as dense blocks on the rows each block concerns.

    A block is ``(rows, cols, values)``: the terms ``cols`` are non-zero only on
    ``rows`` (a cohort and its comparison units), with ``values`` of shape
    ``len(rows) x len(cols)``. Products with the blocks use dense BLAS, which
    is much faster than a general sparse matrix with the same non-zeros.

    Parameters
    ----------
    n, n_terms : int
        Shape of the full influence matrix.
    blocks : list of tuple
        ``(rows, cols, values)``.
    cohort, weights, cluster, n_clusters
        As :class:`DenseInfluence`.
    """

    def __init__(self, n, n_terms, blocks, cohort, weights, cluster=None, n_clusters=None):
        self.n, self.n_terms = int(n), int(n_terms)
        self.blocks = [(np.asarray(r), np.asarray(c), np.asarray(v, dtype=float)) for r, c, v in blocks]
        self.cohort = np.asarray(cohort, dtype=np.intp)
        self.weights = np.asarray(weights, dtype=float)
        self.cluster = cluster
        self.n_clusters = self.n if cluster is None else int(n_clusters)

    def _dense(self, values):
        return DenseInfluence(values, self.cohort, self.weights, self.cluster, self.n_clusters)

    def to_dense(self):
        out = np.zeros((self.n, self.n_terms))
        for rows, cols, vals in self.blocks:
            out[np.ix_(rows, cols)] += vals
        return out

    def combine(self, weights, cohort_coef=None):
        weights = np.asarray(weights, dtype=float).reshape(self.n_terms, -1)
        if cohort_coef is not None:
            out = np.atleast_2d(cohort_coef)[self.cohort]
            out *= self.weights[:, None]
        else:
            out = np.zeros((self.n, weights.shape[1]))
        for rows, cols, vals in self.blocks:
            tall_matmul(vals, weights[cols], out=out, rows=rows)
        return self._dense(out)

    def cohort_terms(self, coef_w, coef_1):
        return self._dense(np.zeros((self.n, 1))).cohort_terms(coef_w, coef_1)

    def __add__(self, other):
        return self._dense(self.to_dense() + other.to_dense())

    def cluster_sums(self):
        if self.cluster is None:
            return self.to_dense()
        out = np.zeros((self.n_clusters, self.n_terms))
        for rows, cols, vals in self.blocks:
            ind = sparse.csr_matrix((np.ones(len(rows)), (self.cluster[rows], np.arange(len(rows)))),
                                    shape=(self.n_clusters, len(rows)))
            out[:, cols] += np.asarray(ind @ vals)
        return out

    def gram_diagonal(self):
        if self.cluster is not None:
            return super().gram_diagonal()
        out = np.zeros(self.n_terms)
        for _, cols, vals in self.blocks:
            out[cols] += np.einsum("ik,ik->k", vals, vals)
        return out

    def gram(self):
        s = self.cluster_sums()
        return s.T @ s

    def multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        if isinstance(draws_fn, MultiplierStream) and self.cluster is None and self.blocks:
            # every block's rows in one pass: block b is a cell, its values the features
            width = max(len(cols) for _, cols, _ in self.blocks)
            n_rows = sum(len(rows) for rows, _, _ in self.blocks)
            feats = np.zeros((n_rows, width))
            index = np.empty(n_rows, dtype=np.intp)
            cell = np.empty(n_rows, dtype=np.intp)
            at = 0
            for b, (rows, cols, vals) in enumerate(self.blocks):
                feats[at:at + len(rows), :len(cols)] = vals
                index[at:at + len(rows)] = rows
                cell[at:at + len(rows)] = b
                at += len(rows)
            Z, total = binary_cell_sums(draws_fn, n_draws, self.n, index, cell, len(self.blocks),
                                        feats, progress)
            out = np.zeros((n_draws, self.n_terms))
            for b, (_, cols, _) in enumerate(self.blocks):
                out[:, cols] += draws_fn.a * total[b, :len(cols)] + draws_fn.b * Z[:, b, :len(cols)]
            return out
        return self._reference_multiplier_sums(draws_fn, n_draws, chunk, progress)

    def _reference_multiplier_sums(self, draws_fn, n_draws, chunk, progress=None):
        """The obvious computation: a ``chunk x n`` matrix of multipliers per step."""
        out = np.zeros((n_draws, self.n_terms))
        s = self.cluster_sums() if self.cluster is not None else None
        for start in range(0, n_draws, chunk):
            m = min(chunk, n_draws - start)
            if s is not None:
                out[start:start + m] = draws_fn(m, s.shape[0]) @ s
            else:
                v = draws_fn(m, self.n)
                for rows, cols, vals in self.blocks:
                    out[start:start + m, cols] += v[:, rows] @ vals
            if progress is not None:
                progress.update(m)
        return out
