"""policyeval.inference: covariance, bootstrap, permutation, sensitivity and power.

Public names are imported lazily on first use. The tests here return *test results*
sharing a small contract: ``statistic``, ``p_value``, ``to_frame()`` and ``summary()``
(text, HTML, LaTeX); ``tests/test_contract.py`` runs each one and checks it.
"""

from __future__ import annotations

import importlib

# public name -> module that defines it
_LAZY = {
    # tests (each returns a test result)
    "wild_cluster_bootstrap": "policyeval.inference.wild_bootstrap",
    "randomization_inference": "policyeval.inference.randomization",
    "few_treated_inference": "policyeval.inference.few_treated",
    "honest_did": "policyeval.inference.sensitivity",
    "pretrend_test": "policyeval.inference.pretrends",
    # their results
    "WildBootstrapResult": "policyeval.inference.wild_bootstrap",
    "RandomizationResult": "policyeval.inference.randomization",
    "FewTreatedInference": "policyeval.inference.few_treated",
    "HonestDiDResult": "policyeval.inference.sensitivity",
    "PretrendTest": "policyeval.inference.pretrends",
    # design and power calculations (not tests: no statistic / p_value)
    "pretrend_power": "policyeval.inference.pretrends",
    "PretrendPower": "policyeval.inference.pretrends",
    "power_analysis": "policyeval.inference.power",
    "PowerResult": "policyeval.inference.power",
    "minimum_detectable_effect": "policyeval.inference.power",
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
