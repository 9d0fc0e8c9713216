"""policyeval.estimators: one estimator per module, and the results they return.

Public names are imported lazily on first use (``import policyeval.estimators`` computes
nothing). Every estimator class here is built with its options and has ``fit(data, yname,
tname, idname, ...)``; :func:`did_table` is a function with ``data`` first too.
``__all__`` lists them; ``tests/test_contract.py`` fits every one and checks the result
contract (:class:`policyeval.results.base.EstimationResult`).
"""

from __future__ import annotations

import importlib

# public name -> module that defines it
_LAZY = {
    # estimators
    "CallawaySantAnna": "policyeval.estimators.staggered",
    "TWFE": "policyeval.estimators.twfe",
    "EventStudy": "policyeval.estimators.twfe",
    "SunAbraham": "policyeval.estimators.sun_abraham",
    "ImputationDiD": "policyeval.estimators.imputation",
    "TwoStageDiD": "policyeval.estimators.two_stage",
    "SyntheticControl": "policyeval.estimators.synthetic",
    "SyntheticDiD": "policyeval.estimators.synthetic",
    "BaconDecomposition": "policyeval.estimators.bacon",
    "did_table": "policyeval.estimators.did_table",
    # their results
    "GroupTimeResult": "policyeval.results.staggered",
    "AggregateResult": "policyeval.results.staggered",
    "RegressionResult": "policyeval.estimators.twfe",
    "SunAbrahamResult": "policyeval.estimators.sun_abraham",
    "ImputationResult": "policyeval.estimators.imputation",
    "TwoStageResult": "policyeval.estimators.two_stage",
    "SyntheticControlResult": "policyeval.estimators.synthetic",
    "SyntheticDiDResult": "policyeval.estimators.synthetic",
    "BaconResult": "policyeval.estimators.bacon",
    "DiDTableResult": "policyeval.estimators.did_table",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.estimators' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
