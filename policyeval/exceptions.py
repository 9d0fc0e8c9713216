"""Errors and warnings raised by policyeval.

Every error derives from :class:`PolicyevalError` *and* from the matching
builtin, so code that already catches ``ValueError`` or ``KeyError`` keeps
working::

    try:
        pe.read_panel(df, idname="county_code", tname="year")
    except ValueError as err:      # also catches DuplicateObservationError
        ...

Warnings derive from :class:`PolicyevalWarning`. A row is never dropped
silently: it raises, or it warns with :class:`DroppedObservationsWarning`
stating how many rows went and why.
"""

from __future__ import annotations

__all__ = [
    "PolicyevalError",
    "DataError",
    "ColumnNotFoundError",
    "DuplicateObservationError",
    "NonNumericValueError",
    "UnitParseError",
    "AdminCodeError",
    "AmbiguousSplitError",
    "RegistryError",
    "DesignError",
    "TreatmentTimingError",
    "EstimationError",
    "ArgumentTypeError",
    "MissingDependencyError",
    "PolicyevalWarning",
    "DroppedObservationsWarning",
    "UnitConversionWarning",
    "AdminCodeWarning",
    "EstimationWarning",
    "IncompleteDataWarning",
]


class PolicyevalError(Exception):
    """Base class of every error policyeval raises on purpose."""


class DataError(PolicyevalError, ValueError):
    """The data handed to policyeval cannot be used as it is."""


class ColumnNotFoundError(PolicyevalError, KeyError):
    """A column named by an argument is not in the data."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


class DuplicateObservationError(DataError):
    """Two or more rows share the same (unit, period) key."""


class NonNumericValueError(DataError):
    """A value that must be a number cannot be read as one."""


class UnitParseError(DataError):
    """A measurement unit (万元, 平方公里, ...) cannot be recognised."""


class AdminCodeError(DataError):
    """An administrative-division code is malformed or unknown."""


class AmbiguousSplitError(AdminCodeError):
    """Harmonising codes would sum or duplicate a unit across a split."""


class RegistryError(DataError):
    """The enclave registry file fails validation."""


class DesignError(PolicyevalError, ValueError):
    """The treatment design is not usable (timing, roles, groups)."""


class TreatmentTimingError(DesignError):
    """Treatment timing is inconsistent (varies within a unit, switches off, ...)."""


class EstimationError(PolicyevalError, ValueError):
    """The estimator cannot be computed on these data."""


class ArgumentTypeError(PolicyevalError, TypeError):
    """An argument has the wrong type."""


class MissingDependencyError(PolicyevalError, ImportError):
    """An optional dependency is not installed; the message names the extra that brings it."""


class PolicyevalWarning(UserWarning):
    """Base class of every warning policyeval issues."""


class DroppedObservationsWarning(PolicyevalWarning):
    """Rows were dropped; the message says how many and why."""


class UnitConversionWarning(PolicyevalWarning):
    """A unit conversion was ambiguous or assumed."""


class AdminCodeWarning(PolicyevalWarning):
    """An administrative code changed over the panel in a way worth knowing."""


class EstimationWarning(PolicyevalWarning):
    """The estimate was computed but deserves caution."""


class IncompleteDataWarning(PolicyevalWarning):
    """Part of the data is absent (e.g. an industry missing in some years); the message counts it."""


def require_optional(module: str, extra: str, purpose: str):
    """Import an optional dependency, or raise :class:`MissingDependencyError` naming the extra.

    >>> require_optional("math", "scale", "out-of-core estimation").sqrt(4.0)
    2.0
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingDependencyError(
            f"{purpose} needs {module.split('.')[0]}, which is not installed: "
            f'pip install "policyeval[{extra}]"'
        ) from err
