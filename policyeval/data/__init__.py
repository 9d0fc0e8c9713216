"""Reading the world: panel and yearbook loaders, units, administrative codes,
the enclave registry and the calibrated simulator.

Names are imported lazily from their modules on first use.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "read_panel": "policyeval.data.panel",
    "validate_panel": "policyeval.data.panel",
    "read_yearbook": "policyeval.data.yearbook",
    "read_industry_sheet": "policyeval.data.industry_sheet",
    "harmonize_codes": "policyeval.data.admin_codes",
    "code_history": "policyeval.data.admin_codes",
    "list_counties": "policyeval.data.admin_codes",
    "validate_codes": "policyeval.data.admin_codes",
    "CodeChangeReport": "policyeval.data.admin_codes",
    "load_enclaves": "policyeval.data.registry",
    "validate_enclaves": "policyeval.data.registry",
    "enclave_roles": "policyeval.data.registry",
    "simulate_enclave_panel": "policyeval.data.simulate",
    "load_simulated_panel": "policyeval.data.simulate",
    "register_header": "policyeval.data.yearbook",
    "parse_unit": "policyeval.data.units",
    "conversion_factor": "policyeval.data.units",
    "convert_columns": "policyeval.data.units",
    "deflate": "policyeval.data.outcomes",
    "output_per_mu": "policyeval.data.outcomes",
    "gdp_per_mu": "policyeval.data.outcomes",
    "value_added_per_mu": "policyeval.data.outcomes",
    "tax_per_mu": "policyeval.data.outcomes",
    "tax_per_capita": "policyeval.data.outcomes",
    "patents_per_10k": "policyeval.data.outcomes",
    "talent_net_inflow": "policyeval.data.outcomes",
    "talent_inflow_rate": "policyeval.data.outcomes",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.data' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
