"""Result objects returned by every estimator."""

from __future__ import annotations

import importlib

from policyeval.results.base import EstimationResult, Summary

_LAZY = {
    "GroupTimeResult": "policyeval.results.staggered",
    "AggregateResult": "policyeval.results.staggered",
    "RegressionResult": "policyeval.results.regression",
    "SunAbrahamResult": "policyeval.results.regression",
    "ImputationResult": "policyeval.results.regression",
    "TwoStageResult": "policyeval.results.regression",
    "ExtendedTWFEResult": "policyeval.results.regression",
    "LocalProjectionsResult": "policyeval.results.regression",
    "SyntheticControlResult": "policyeval.results.synthetic",
    "SyntheticDiDResult": "policyeval.results.synthetic",
    "DiDTableResult": "policyeval.results.two_by_two",
    "BaconResult": "policyeval.results.two_by_two",
    "ContinuousDiDResult": "policyeval.results.extensions",
    "TripleDiDResult": "policyeval.results.extensions",
    "SwitchingDiDResult": "policyeval.results.extensions",
}

__all__ = ["EstimationResult", "Summary", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.results' has no attribute {name!r}")
