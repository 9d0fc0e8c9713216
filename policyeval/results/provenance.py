"""Provenance of a result: whether the data it was fitted on were SIMULATED.

Every estimator's ``fit`` is wrapped by :func:`records_provenance`, so a
result fitted on simulated data (the bundled panel carries an
``is_simulated`` column; any frame may carry ``attrs["simulated"]``) records
``spec["simulated"] = True``. Tables, figures and exports read that flag
(:func:`policyeval.data.simulated_label.is_simulated`) and label their
output SIMULATED without the caller having to say so.
"""

from __future__ import annotations

import functools

import pandas as pd

from policyeval.data.simulated_label import is_simulated

__all__ = ["records_provenance"]


def records_provenance(fit=None, *, method: bool = True):
    """Wrap an estimator's ``fit`` (or a function with ``data`` first) to record SIMULATED input.

    Parameters
    ----------
    fit : callable
        ``fit(self, data, ...)`` (``method=True``) or ``f(data, ...)``.
    method : bool, default True
        Whether the wrapped callable is a method (``self`` first).

    Returns
    -------
    callable
        The same callable; its result's ``spec["simulated"]`` is set to True
        when the data were simulated (an explicit value already in ``spec``
        is kept).

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.results.base import EstimationResult
    >>> @records_provenance(method=False)
    ... def toy(data):
    ...     return EstimationResult(pd.Series({"ATT": 1.0}), pd.Series({"ATT": 0.5}),
    ...                             nobs=len(data), n_units=1, spec={}, estimator="toy")
    >>> toy(pd.DataFrame({"y": [1.0], "is_simulated": [True]})).spec["simulated"]
    True
    >>> "simulated" in toy(pd.DataFrame({"y": [1.0]})).spec
    False
    """
    if fit is None:
        return functools.partial(records_provenance, method=method)
    position = 1 if method else 0

    @functools.wraps(fit)
    def wrapper(*args, **kwargs):
        result = fit(*args, **kwargs)
        data = args[position] if len(args) > position else kwargs.get("data")
        spec = getattr(result, "spec", None)
        if isinstance(spec, dict) and "simulated" not in spec and isinstance(data, pd.DataFrame) \
                and is_simulated(data):
            spec["simulated"] = True
        return result

    return wrapper
