"""policyeval: evaluating Chinese enclave (飞地) policies with modern difference-in-differences.

Layers follow the flow of work: ``data`` (loaders, admin codes, registry,
simulator) → ``design`` (treatment timing by role) → ``estimators`` →
``inference`` → ``results`` → ``plots`` / ``reporting``; ``assess`` looks ahead
(scenarios, industry fit and partner choice for an enclave not yet built).

Public names are re-exported here and imported lazily on first use, so
``import policyeval`` is cheap and computes nothing.

Examples
--------
>>> import policyeval as pe
>>> panel = pe.load_simulated_panel()          # SIMULATED county panel, 2000-2023
>>> res = pe.CallawaySantAnna().fit(panel, yname="log_gdp", tname="year",
...                                 idname="county_code", gname="first_treat_destination")
>>> round(float(res.aggregate("simple").overall["estimate"]), 4)
0.0761
"""

from __future__ import annotations

import importlib

from policyeval import exceptions
from policyeval.exceptions import DroppedObservationsWarning, PolicyevalError

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY = {
    # data
    "read_panel": "policyeval.data.panel",
    "read_yearbook": "policyeval.data.yearbook",
    "read_industry_sheet": "policyeval.data.industry_sheet",
    "harmonize_codes": "policyeval.data.admin_codes",
    "load_enclaves": "policyeval.data.registry",
    "simulate_enclave_panel": "policyeval.data.simulate",
    "load_simulated_panel": "policyeval.data.simulate",
    "deflate": "policyeval.data.outcomes",
    # design
    "enclave_design": "policyeval.design.enclave",
    "EnclaveDesign": "policyeval.design.enclave",
    "two_sided": "policyeval.design.sides",
    "ring_spillovers": "policyeval.design.spillover",
    "attribute_revenue": "policyeval.design.revenue",
    "sharing_rules": "policyeval.design.revenue",
    # estimators
    "CallawaySantAnna": "policyeval.estimators.staggered",
    "TWFE": "policyeval.estimators.twfe",
    "EventStudy": "policyeval.estimators.twfe",
    "SunAbraham": "policyeval.estimators.sun_abraham",
    "ImputationDiD": "policyeval.estimators.imputation",
    "BaconDecomposition": "policyeval.estimators.bacon",
    "SyntheticControl": "policyeval.estimators.synthetic",
    "SyntheticDiD": "policyeval.estimators.synthetic",
    "did_table": "policyeval.estimators.did_table",
    "DiDTableResult": "policyeval.results.two_by_two",
    "TwoStageDiD": "policyeval.estimators.two_stage",
    "ExtendedTWFE": "policyeval.estimators.etwfe",
    "ExtendedTWFEResult": "policyeval.results.regression",
    "LocalProjectionsDiD": "policyeval.estimators.local_projections",
    "LocalProjectionsResult": "policyeval.results.regression",
    "ContinuousDiD": "policyeval.estimators.continuous",
    "ContinuousDiDResult": "policyeval.results.extensions",
    "TripleDiD": "policyeval.estimators.triple",
    "TripleDiDResult": "policyeval.results.extensions",
    "SwitchingDiD": "policyeval.estimators.switching",
    "SwitchingDiDResult": "policyeval.results.extensions",
    "minimum_detectable_effect": "policyeval.inference.power",
    "power_analysis": "policyeval.inference.power",
    "PowerResult": "policyeval.inference.power",
    # inference
    "wild_cluster_bootstrap": "policyeval.inference.wild_bootstrap",
    "WildBootstrapResult": "policyeval.inference.wild_bootstrap",
    "randomization_inference": "policyeval.inference.randomization",
    "RandomizationResult": "policyeval.inference.randomization",
    "few_treated_inference": "policyeval.inference.few_treated",
    "FewTreatedInference": "policyeval.inference.few_treated",
    "honest_did": "policyeval.inference.sensitivity",
    "HonestDiDResult": "policyeval.inference.sensitivity",
    "pretrend_test": "policyeval.inference.pretrends",
    "pretrend_power": "policyeval.inference.pretrends",
    # ex-ante assessment
    "enclave_scenario": "policyeval.assess.scenario",
    "industry_fit": "policyeval.assess.industry",
    "location_quotients": "policyeval.assess.industry",
    "relatedness_density": "policyeval.assess.industry",
    "shift_share": "policyeval.assess.industry",
    "partner_scores": "policyeval.assess.partners",
    "plot_partner_scores": "policyeval.assess.partners",
    # results and figures
    "EstimationResult": "policyeval.results.base",
    "plot_estimates": "policyeval.plots.estimates",
    "plot_treatment_timing": "policyeval.plots.timing",
    "results_table": "policyeval.reporting.tables",
    "ResultsTable": "policyeval.reporting.tables",
}

# subpackages reachable as ``pe.data``, ``pe.scale``, ... after ``import policyeval as pe``
_SUBPACKAGES = ("data", "design", "estimators", "inference", "results", "plots", "reporting",
                "scale", "assess")

__all__ = ["__version__", "exceptions", "PolicyevalError", "DroppedObservationsWarning", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"policyeval.{name}")
    raise AttributeError(f"module 'policyeval' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBPACKAGES))
