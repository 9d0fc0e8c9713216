"""Influence functions of fixed-effects regressions (without small-sample correction).

A least-squares coefficient vector has the linear representation
:math:`\\hat\\beta - \\beta = B \\sum_i \\tilde x_i \\tilde e_i`, with
:math:`B = (\\tilde X'\\tilde X)^{-1}` and :math:`\\tilde x, \\tilde e` the
regressors and residuals after absorbing the fixed effects. Summing the scores
within the rows the covariance treats as independent (clusters for
``vcov="cluster"``/``"CR2"``, observations for ``"hetero"``/``"HC2"``/``"iid"``)
gives an :class:`~policyeval.inference.influence.DenseInfluence` whose
``vcov()`` is the CR0 (clustered) or HC0 (heteroskedasticity-robust) matrix:
like every result's influence function it carries no small-sample factor, so
it equals the reported CR1 / HC1 matrix of a fit with ``ssc="none"``.

CR2, HC2 and iid have no such representation: CR2/HC2 rescale each cluster's
residuals by its own bias-reduction matrix and iid is model-based. For them the
influence function is the CR0 / HC0 one too, whose ``vcov()`` differs from the
reported matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from policyeval.estimators._fixed_effects import absorb_effects, absorb_unit_time

__all__ = ["ScoreRows", "regression_score_rows"]


@dataclass
class ScoreRows:
    """Per-row sums of :math:`B\\,\\tilde x_i \\tilde e_i` (one row per cluster or observation).

    ``keys`` labels the rows (cluster labels, or observation positions) and
    ``values`` is ``len(keys) x k``.
    """

    keys: np.ndarray
    values: np.ndarray


def regression_score_rows(panel, X: np.ndarray, fit, kind: str) -> ScoreRows:
    """Score rows of :func:`fit_fe_ols` ``fit`` of ``panel.y`` on ``X``.

    Clustered kinds (``cluster``, ``CR2``) sum within ``panel.clusters[0]``; the
    others keep one row per observation (``keys`` are positions ``0..n-1``).
    """
    clustered = kind in ("cluster", "CR2")
    if clustered and len(panel.clusters) == 1 \
            and _nested(panel.unit, panel.clusters[0]):
        # fast path: fit.influence already holds n_units * (unit score sums) @ B
        unit_rows = np.asarray(fit.influence) / fit.n_units
        labels = np.empty(fit.n_units, dtype=object)
        labels[panel.unit] = np.asarray(panel.clusters[0], dtype=object)
        codes, keys = pd.factorize(pd.Series(labels), sort=True)
        values = np.zeros((len(keys), unit_rows.shape[1]))
        np.add.at(values, codes, unit_rows)
    else:
        X = np.asarray(X, dtype=float).reshape(len(panel.y), -1)
        if panel.fe_codes is None:
            Xt = absorb_unit_time(X.copy(), panel.unit, panel.time, panel.weights)
        else:
            Xt, _ = absorb_effects(X.copy(), panel.fe_codes, panel.weights, panel.fe_labels)
        resid = np.asarray(fit.residuals, dtype=float)
        if panel.weights is not None:
            sw = np.sqrt(panel.weights)
            Xt, resid = Xt * sw[:, None], resid * sw
        bread = np.linalg.inv(Xt.T @ Xt)
        rows = (Xt * resid[:, None]) @ bread
        if clustered:
            codes, keys = pd.factorize(pd.Series(np.asarray(panel.clusters[0], dtype=object)),
                                       sort=True)
            values = np.zeros((len(keys), rows.shape[1]))
            np.add.at(values, codes, rows)
        else:
            keys, values = np.arange(len(rows)), rows
    return ScoreRows(np.asarray(keys), values)


def _nested(unit: np.ndarray, cluster) -> bool:
    """Whether every unit lies in one cluster."""
    codes = pd.factorize(pd.Series(np.asarray(cluster, dtype=object)))[0]
    first = np.full(int(unit.max()) + 1, -1)
    first[unit] = codes
    return bool((first[unit] == codes).all())
