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
    "DataFileNotFoundError",
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
    "ArgumentValueError",
    "UnknownKeyError",
    "UnknownTermError",
    "SolverError",
    "MissingDependencyError",
    "PolicyevalWarning",
    "DroppedObservationsWarning",
    "UnitConversionWarning",
    "AdminCodeWarning",
    "EstimationWarning",
    "DataQualityWarning",
    "FewTreatedWarning",
    "LocationUnknownWarning",
    "PolicyevalFutureWarning",
]


class PolicyevalError(Exception):
    """Base class of every error policyeval raises on purpose."""


class DataError(PolicyevalError, ValueError):
    """The data handed to policyeval cannot be used as it is."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file named by an argument does not exist (also a :class:`FileNotFoundError`)."""


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


class ArgumentValueError(PolicyevalError, ValueError):
    """An argument has the right type but a value the function does not accept.

    Options are checked when an estimator is built and again in ``fit()``, so
    an attribute changed after construction is caught too.
    """


class UnknownKeyError(PolicyevalError, KeyError):
    """A name looked up by an argument (a term, a prefecture, ...) is not known."""

    def __str__(self) -> str:  # KeyError would print the message with quotes
        return str(self.args[0]) if self.args else ""


class UnknownTermError(UnknownKeyError):
    """A coefficient (term) named by an argument is not in the model."""


class SolverError(EstimationError, RuntimeError):
    """A numerical solver (linear program, optimiser) failed to produce an answer."""


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


class DataQualityWarning(PolicyevalWarning):
    """The data were read, but the source says something the analyst must weigh.

    For example a footnote announcing a statistical break (口径调整, 不可比) or
    missing-value markers (``—``, ``…``, ``NA``) read as NaN; the message
    quotes the text or gives the count.
    """


class LocationUnknownWarning(PolicyevalWarning):
    """An enclave's host is coded at prefecture level and the park is too small (or of unknown
    size) to spread over the prefecture's units: location within the prefecture unknown.

    The simulator gives such an enclave no effect; :func:`policyeval.enclave_design` treats no
    unit with it and keeps the prefecture's units out of every control group.
    """


class PolicyevalFutureWarning(PolicyevalWarning, FutureWarning):
    """A name (argument, term, option value) was renamed; the old one works for one more release.

    Also a :class:`FutureWarning`, so it is shown by default. The message gives the new name.
    """


class FewTreatedWarning(EstimationWarning):
    """Too few treated units for the analytic standard errors; the message gives the counts
    and the valid alternatives (see :func:`policyeval.few_treated_inference`)."""


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
