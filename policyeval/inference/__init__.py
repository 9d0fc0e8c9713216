"""Inference on a fitted result: tests, sensitivity, power; and the shared machinery beneath.

Tests and analyses a user calls on a result (each returns a result object):

=================================  ==========================================================
:func:`wild_cluster_bootstrap`     wild cluster bootstrap-t for few clusters (WCR/WCU)
:func:`randomization_inference`    re-assign treatment timing, refit, compare
:func:`few_treated_inference`      inference valid with one or a few treated units
:func:`honest_did`                 Rambachan & Roth (2023) sensitivity of event-study effects
:func:`pretrend_test`              joint Wald test of the pre-period coefficients
:func:`pretrend_power`             power of that test against a linear violation (Roth 2022)
:func:`power_analysis`             simulated power of a design on the user's pre-period data
:func:`minimum_detectable_effect`  analytic minimum detectable effect of a two-group DiD
=================================  ==========================================================

The machinery the estimators share lives once, in its own module and is not
re-exported here: :mod:`~policyeval.inference.covariance` (sandwich and
cluster-robust covariance), :mod:`~policyeval.inference.bootstrap` (the
multiplier bootstrap), :mod:`~policyeval.inference.influence` (influence
functions), :mod:`~policyeval.inference.placebo` (placebo and conformal
building blocks).

Names are imported lazily from their modules on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "wild_cluster_bootstrap": "policyeval.inference.wild_bootstrap",
    "WildBootstrapResult": "policyeval.inference.wild_bootstrap",
    "randomization_inference": "policyeval.inference.randomization",
    "RandomizationResult": "policyeval.inference.randomization",
    "few_treated_inference": "policyeval.inference.few_treated",
    "FewTreatedInference": "policyeval.inference.few_treated",
    "honest_did": "policyeval.inference.sensitivity",
    "HonestDiDResult": "policyeval.inference.sensitivity",
    "pretrend_test": "policyeval.inference.pretrends",
    "PretrendTest": "policyeval.inference.pretrends",
    "pretrend_power": "policyeval.inference.pretrends",
    "PretrendPower": "policyeval.inference.pretrends",
    "power_analysis": "policyeval.inference.power",
    "minimum_detectable_effect": "policyeval.inference.power",
    "PowerResult": "policyeval.inference.power",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.inference' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
