"""Turning an enclave registry and a panel into treatment timing by role.

:func:`enclave_design` maps every registry enclave onto the panel's units
(origin 飞出地 / destination 飞入地), dates first treatment per role, finds
neighbours (same prefecture, adjacency or distance rings) and builds clean
estimation samples; :func:`two_sided` estimates effects on both sides;
:func:`ring_spillovers` separates direct effects from spillovers (Butts
2021); :func:`attribute_revenue` turns revenue booked where the firm sits
(在地统计) into revenue attributed to each side under the agreed sharing
terms; :func:`relocation_tax_sharing` applies 财预〔2015〕92号 firm by firm;
:func:`truth_for_sample` gives the SIMULATED truth of a sample's estimand
(:func:`add_ratio_truth` that of a log ratio such as 亩均 value added).

Names are imported lazily from their modules on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "enclave_design": "policyeval.design.enclave",
    "EnclaveDesign": "policyeval.design.enclave",
    "two_sided": "policyeval.design.sides",
    "TwoSidedResult": "policyeval.design.sides",
    "ring_spillovers": "policyeval.design.spillover",
    "SpilloverResult": "policyeval.design.spillover",
    "attribute_revenue": "policyeval.design.revenue",
    "sharing_rules": "policyeval.design.revenue",
    "county_centroids": "policyeval.design.geo",
    "haversine_km": "policyeval.design.geo",
    "assign_roles": "policyeval.design.roles",
    "relocation_tax_sharing": "policyeval.design.revenue",
    "expected_gainer": "policyeval.design.sides",
    "truth_for_sample": "policyeval.design.truth",
    "add_ratio_truth": "policyeval.design.truth",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.design' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
