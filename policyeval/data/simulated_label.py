"""Provenance of a table, a design or a result: was it made from SIMULATED data?

Tables (:mod:`policyeval.reporting`), figures (:mod:`policyeval.plots`) and
exported CSV files say "SIMULATED" whenever what they show comes from the
simulator. The flag starts where the data start: every table of
:func:`policyeval.data.simulate.simulate_enclave_panel` and
:func:`policyeval.data.simulate.load_simulated_panel` carries an
``is_simulated`` column and ``DataFrame.attrs["simulated"] = True``; an
object built from such a frame (an :class:`~policyeval.design.EnclaveDesign`
holds its ``panel``; a result may record ``extra["simulated"]`` or
``spec["simulated"]``) inherits it. :func:`is_simulated` follows those links,
so a caller never has to say it by hand -- though ``simulated=True`` always
works, and ``simulated=False`` is refused for simulated input.

Private module of the data layer (no heavy imports), so plotting and
reporting can ask without importing the simulator.
"""

from __future__ import annotations

__all__ = ["SIMULATED_LABEL", "SIMULATED_COLUMN", "is_simulated", "resolve_simulated", "mark_simulated"]

#: The words every simulated table, figure and file shows.
SIMULATED_LABEL = "SIMULATED DATA (not real statistics)"
#: The column that marks simulated rows in every table and exported CSV.
SIMULATED_COLUMN = "is_simulated"
_ATTR = "simulated"
# Attributes through which a derived object reaches the data it was built from.
_LINKS = ("simulated", "panel", "design", "data", "truth", "results", "result")


def _frame_flag(df) -> bool | None:
    if bool(getattr(df, "attrs", {}).get(_ATTR, False)):
        return True
    columns = getattr(df, "columns", ())
    if SIMULATED_COLUMN in columns:
        # Any simulated row makes the whole table simulated (a real + simulated mix is not real).
        return bool(df[SIMULATED_COLUMN].fillna(False).astype(bool).any())
    return None


def is_simulated(obj, _depth: int = 0) -> bool:
    """True if ``obj`` was made from SIMULATED data, as far as its provenance tells.

    Parameters
    ----------
    obj : object
        A DataFrame (``is_simulated`` column or ``attrs["simulated"]``), a
        result (``.simulated``, ``extra["simulated"]``, ``spec["simulated"]``),
        a design (its ``.panel``), or a mapping / sequence of those (True if
        any element is).

    Returns
    -------
    bool
        False when nothing says the data were simulated.

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.data.simulated_label import is_simulated
    >>> is_simulated(pd.DataFrame({"is_simulated": [True], "y": [1.0]}))
    True
    >>> is_simulated(pd.DataFrame({"y": [1.0]}))
    False
    """
    if obj is None or _depth > 3:
        return False
    if isinstance(obj, bool):
        return obj
    flag = _frame_flag(obj) if hasattr(obj, "columns") else None
    if flag is not None:
        return flag
    if isinstance(obj, dict):
        if _ATTR in obj and isinstance(obj[_ATTR], bool):
            return obj[_ATTR]
        return any(is_simulated(v, _depth + 1) for v in obj.values() if not isinstance(v, (str, bytes)))
    if isinstance(obj, (list, tuple)):
        return any(is_simulated(v, _depth + 1) for v in obj)
    for holder in ("extra", "spec"):
        box = getattr(obj, holder, None)
        if isinstance(box, dict) and isinstance(box.get(_ATTR), bool):
            return box[_ATTR]
    for link in _LINKS:
        try:
            value = getattr(obj, link, None)
        except Exception:  # a property that cannot be computed says nothing about provenance
            continue
        if value is not None and not callable(value) and is_simulated(value, _depth + 1):
            return True
    return False


def resolve_simulated(simulated: bool | None, *sources, argument: str = "simulated") -> bool:
    """The ``simulated=`` argument of a table, figure or export, checked against its input.

    ``None`` asks :func:`is_simulated` of every source; ``True`` labels
    anyway; ``False`` is refused when a source is simulated (a label is never
    removed from simulated data).
    """
    from policyeval.exceptions import ArgumentTypeError, DataError

    if simulated is not None and not isinstance(simulated, bool):
        raise ArgumentTypeError(f"{argument} must be True, False or None, got {type(simulated).__name__}.")
    found = any(is_simulated(s) for s in sources)
    if simulated is False and found:
        raise DataError(f"{argument}=False, but the input comes from simulated data "
                        f"(an '{SIMULATED_COLUMN}' column or a simulated panel); its label cannot be removed.")
    return bool(simulated) or found


def mark_simulated(df, flag: bool = True):
    """Set ``df.attrs["simulated"]`` (in place) and return ``df``."""
    df.attrs[_ATTR] = bool(flag)
    return df
