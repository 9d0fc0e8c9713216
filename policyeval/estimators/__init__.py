"""policyeval.estimators

Estimator classes, importable from here or from the top level (``pe.ContinuousDiD``).
Modules are imported on first use, so importing this package computes nothing.
"""

from __future__ import annotations

import importlib

# public name -> module that defines it
_LAZY = {
    "ContinuousDiD": "policyeval.estimators.continuous",
    "ContinuousDiDResult": "policyeval.estimators.continuous",
    "TripleDiD": "policyeval.estimators.triple",
    "TripleDiDResult": "policyeval.estimators.triple",
    "SwitchingDiD": "policyeval.estimators.switching",
    "SwitchingDiDResult": "policyeval.estimators.switching",
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
