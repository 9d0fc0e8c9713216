"""Before the enclave: ex-ante assessment of a planned park.

Three questions a planner asks before an enclave (飞地) exists, each in its own module:

- :mod:`~policyeval.assess.scenario` -- what would a park of this size and
  亩均 output bring each side, year by year, with ranges
  (:func:`enclave_scenario`);
- :mod:`~policyeval.assess.industry` -- which industries fit a county:
  location quotients, revealed comparative advantage, relatedness density in
  the industry space of Hidalgo et al. (2007), shift-share
  (:func:`industry_fit`);
- :mod:`~policyeval.assess.partners` -- which partner county to fly to (or
  from): distance, industrial complementarity, input--output linkage, size
  and income gaps, as a transparent weighted score (:func:`partner_scores`).

Nothing here estimates an effect: these are ex-ante arithmetic and indices.
Names are imported lazily from their modules on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "enclave_scenario": "policyeval.assess.scenario",
    "ScenarioResult": "policyeval.assess.scenario",
    "sharing_from_registry": "policyeval.assess.scenario",
    "MU_PER_KM2": "policyeval.assess.scenario",
    "RULE_92": "policyeval.assess.scenario",
    "gbt4754_sections": "policyeval.assess.industry",
    "industry_matrix": "policyeval.assess.industry",
    "location_quotients": "policyeval.assess.industry",
    "rca": "policyeval.assess.industry",
    "proximity": "policyeval.assess.industry",
    "relatedness_density": "policyeval.assess.industry",
    "shift_share": "policyeval.assess.industry",
    "industry_fit": "policyeval.assess.industry",
    "example_industry_panel": "policyeval.assess.industry",
    "validate_scores": "policyeval.assess.validate",
    "ScoreValidation": "policyeval.assess.validate",
    "partner_scores": "policyeval.assess.partners",
    "plot_partner_scores": "policyeval.assess.partners",
    "plot_partner_map": "policyeval.assess.partners",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.assess' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
