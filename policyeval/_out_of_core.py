"""Where ``fit()`` sends a source that is not a pandas DataFrame.

``TWFE().fit("firms/")``, ``EventStudy().fit(duckdb_relation)`` and
``CallawaySantAnna().fit(dask_frame)`` are estimated out of core by
:mod:`policyeval.scale`, which sits *above* the estimators (it builds their
results from sufficient statistics). The estimators therefore never import
``policyeval.scale``: they ask this table, kept at the package root beside the
table of lazy public names, which names the out-of-core function by string and
imports it on first use. ``tests/test_architecture.py`` forbids any static import
from a lower layer to a higher one.
"""

from __future__ import annotations

import importlib

__all__ = ["out_of_core"]

_FUNCTIONS = {
    "TWFE": ("policyeval.scale", "fit_twfe"),
    "EventStudy": ("policyeval.scale", "fit_event_study"),
    "CallawaySantAnna": ("policyeval.scale", "fit_callaway_santanna"),
}


def out_of_core(estimator: str):
    """The function that fits ``estimator`` on a Parquet path, DuckDB relation or Dask DataFrame.

    Parameters
    ----------
    estimator : {"TWFE", "EventStudy", "CallawaySantAnna"}

    Returns
    -------
    callable
        :func:`policyeval.scale.fit_twfe`, :func:`~policyeval.scale.fit_event_study`
        or :func:`~policyeval.scale.fit_callaway_santanna`.

    Examples
    --------
    >>> from policyeval._out_of_core import out_of_core
    >>> out_of_core("TWFE").__name__
    'fit_twfe'
    """
    module, name = _FUNCTIONS[estimator]
    return getattr(importlib.import_module(module), name)
