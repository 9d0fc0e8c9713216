"""The normal and Student t distribution functions, without importing ``scipy.stats``.

``scipy.stats`` takes longer to import than numpy and pandas together (it loads
``scipy.optimize``, ``scipy.spatial``, ``scipy.ndimage``, ...), and every fit
needs only :math:`\\Phi`, :math:`\\Phi^{-1}` and the t tails, which
``scipy.special`` provides (``ndtr``, ``ndtri``, ``stdtr``, ``stdtrit`` are the
functions ``scipy.stats.norm`` and ``scipy.stats.t`` call). Used as a drop-in
``stats`` for that subset; any other name (``chi2``, ``f``, ...) is looked up in
``scipy.stats`` on first use.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["norm", "t"]


class _Normal:
    """Standard normal: ``cdf``, ``sf``, ``ppf``, ``isf`` as in ``scipy.stats.norm``."""

    @staticmethod
    def cdf(x):
        return special.ndtr(np.asarray(x, dtype=float))

    @staticmethod
    def sf(x):
        return special.ndtr(-np.asarray(x, dtype=float))

    @staticmethod
    def ppf(q):
        return special.ndtri(np.asarray(q, dtype=float))

    @staticmethod
    def isf(q):
        return -special.ndtri(np.asarray(q, dtype=float))


class _StudentT:
    """Student t with ``df`` degrees of freedom (a frozen ``scipy.stats.t(df)``)."""

    def __init__(self, df) -> None:
        self.df = df

    def cdf(self, x):
        return special.stdtr(self.df, np.asarray(x, dtype=float))

    def sf(self, x):
        return special.stdtr(self.df, -np.asarray(x, dtype=float))

    def ppf(self, q):
        return special.stdtrit(self.df, np.asarray(q, dtype=float))

    def isf(self, q):
        return -special.stdtrit(self.df, np.asarray(q, dtype=float))


norm = _Normal()


def t(df) -> _StudentT:
    """Frozen Student t distribution with ``df`` degrees of freedom."""
    return _StudentT(df)


def __getattr__(name: str):
    import scipy.stats

    return getattr(scipy.stats, name)
