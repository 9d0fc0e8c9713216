"""policyeval.estimators: one estimator per module (imported lazily by name)."""

from __future__ import annotations

import importlib

_LAZY = {
    "ExtendedTWFE": "policyeval.estimators.etwfe",
    "ExtendedTWFEResult": "policyeval.estimators.etwfe",
    "LocalProjectionsDiD": "policyeval.estimators.local_projections",
    "LocalProjectionsResult": "policyeval.estimators.local_projections",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.estimators' has no attribute {name!r}")
