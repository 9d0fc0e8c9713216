"""One estimator per module: each constructor stores options, ``fit(data, ...)`` returns a result.

============================= ===============================================================
:class:`TWFE`                 two-way fixed effects (static), with a Goodman-Bacon warning
:class:`EventStudy`           TWFE event study with binned endpoints
:class:`CallawaySantAnna`     group-time ATTs and their aggregations (Callaway & Sant'Anna 2021)
:class:`SunAbraham`           interaction-weighted event study (Sun & Abraham 2021)
:class:`ImputationDiD`        imputation estimator (Borusyak, Jaravel & Spiess 2024)
:class:`TwoStageDiD`          two-stage DiD (Gardner 2021)
:class:`ExtendedTWFE`         cohort x period regression (Wooldridge 2021, 2023; etwfe, jwdid)
:class:`LocalProjectionsDiD`  local-projections DiD (Dube, Girardi, Jorda & Taylor 2023)
:class:`BaconDecomposition`   the 2x2 comparisons inside a TWFE coefficient (Goodman-Bacon 2021)
:class:`SyntheticControl`     synthetic control (Abadie, Diamond & Hainmueller 2010)
:class:`SyntheticDiD`         synthetic difference-in-differences (Arkhangelsky et al. 2021)
:class:`ContinuousDiD`        continuous dose: ATT(d) and ACRT (Callaway, Goodman-Bacon & Sant'Anna 2024)
:class:`TripleDiD`            triple differences, staggered (Olden & Moen 2022)
:class:`SwitchingDiD`         treatments switching on and off (de Chaisemartin & D'Haultfoeuille)
:func:`did_table`             the 2x2 table of means, its DiD and its standard error
============================= ===============================================================

Names are imported lazily from their modules on first use (``did_table``, a
small module, on import), so importing this package computes nothing and loads
no estimator until one is asked for.

``__all__`` lists the estimators and the result classes they return;
``tests/test_contract.py`` fits every estimator and checks the result contract
(:class:`policyeval.results.base.EstimationResult`).
"""

from __future__ import annotations

import importlib

# ``did_table`` is both a function and the module that defines it: importing the module binds the
# module to this package's attribute, which a lazy lookup would never override. Importing it here
# (numpy, pandas and the covariance module; nothing is computed) makes the name the function.
from policyeval.estimators.did_table import did_table  # noqa: E402

_LAZY = {
    "TWFE": "policyeval.estimators.twfe",
    "EventStudy": "policyeval.estimators.twfe",
    "CallawaySantAnna": "policyeval.estimators.staggered",
    "SunAbraham": "policyeval.estimators.sun_abraham",
    "ImputationDiD": "policyeval.estimators.imputation",
    "TwoStageDiD": "policyeval.estimators.two_stage",
    "ExtendedTWFE": "policyeval.estimators.etwfe",
    "ExtendedTWFEResult": "policyeval.results.regression",
    "LocalProjectionsDiD": "policyeval.estimators.local_projections",
    "LocalProjectionsResult": "policyeval.results.regression",
    "BaconDecomposition": "policyeval.estimators.bacon",
    "SyntheticControl": "policyeval.estimators.synthetic",
    "SyntheticDiD": "policyeval.estimators.synthetic",
    "ContinuousDiD": "policyeval.estimators.continuous",
    "ContinuousDiDResult": "policyeval.results.extensions",
    "TripleDiD": "policyeval.estimators.triple",
    "TripleDiDResult": "policyeval.results.extensions",
    "SwitchingDiD": "policyeval.estimators.switching",
    "SwitchingDiDResult": "policyeval.results.extensions",
    # the results of the estimators above that live elsewhere or are not listed yet
    "GroupTimeResult": "policyeval.results.staggered",
    "AggregateResult": "policyeval.results.staggered",
    "RegressionResult": "policyeval.results.regression",
    "SunAbrahamResult": "policyeval.results.regression",
    "ImputationResult": "policyeval.results.regression",
    "TwoStageResult": "policyeval.results.regression",
    "SyntheticControlResult": "policyeval.results.synthetic",
    "SyntheticDiDResult": "policyeval.results.synthetic",
    "BaconResult": "policyeval.results.two_by_two",
    "DiDTableResult": "policyeval.results.two_by_two",
}

__all__ = [*_LAZY, "did_table"]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'policyeval.estimators' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
