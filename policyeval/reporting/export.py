"""CSV export that says where the numbers came from.

Every CSV that policyeval writes from a table or a result carries an
``is_simulated`` column; a file written from simulated data is also named
``*_SIMULATED.csv`` unless its name already says "simulated".
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from policyeval.data.simulated_label import SIMULATED_COLUMN, resolve_simulated
from policyeval.exceptions import ArgumentTypeError

__all__ = ["export_csv"]


def export_csv(obj, path: str | Path, *, simulated: bool | None = None, level: float = 0.95,
               rename_file: bool = True) -> Path:
    """Write a table or a result to CSV with an ``is_simulated`` column.

    Parameters
    ----------
    obj : DataFrame, result or ResultsTable
        A DataFrame is written as it is; a result through ``to_frame(level)``;
        a :class:`~policyeval.reporting.ResultsTable` through its ``to_frame()``.
    path : str or Path
        Target file.
    simulated : bool, optional
        Default (None): from the object's provenance
        (:func:`policyeval.data.simulated_label.is_simulated`). ``False`` for
        simulated input is refused.
    level : float, default 0.95
        Confidence level of a result's intervals.
    rename_file : bool, default True
        For simulated data whose file name does not contain "simulated",
        insert ``_SIMULATED`` before the suffix (``att.csv`` ->
        ``att_SIMULATED.csv``).

    Returns
    -------
    Path
        The file written.

    Raises
    ------
    ArgumentTypeError
        ``obj`` is neither a DataFrame nor has ``to_frame``.
    DataError
        ``simulated=False`` for simulated input.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> df = pd.DataFrame({"is_simulated": [True], "att": [0.1]})
    >>> out = export_csv(df, pathlib.Path(tempfile.mkdtemp()) / "att.csv")
    >>> out.name
    'att_SIMULATED.csv'
    """
    simulated = resolve_simulated(simulated, obj)
    if isinstance(obj, pd.DataFrame):
        frame = obj.copy()
    elif hasattr(obj, "to_frame"):
        try:
            frame = obj.to_frame(level)
        except TypeError:  # ResultsTable.to_frame() takes no level
            frame = obj.to_frame()
    else:
        raise ArgumentTypeError(f"obj must be a DataFrame, a result or a ResultsTable, got {type(obj).__name__}.")
    if SIMULATED_COLUMN in frame.columns:
        frame[SIMULATED_COLUMN] = frame[SIMULATED_COLUMN].fillna(False).astype(bool) | simulated
    else:
        frame.insert(0, SIMULATED_COLUMN, simulated)
    path = Path(path)
    if simulated and rename_file and "simulated" not in path.name.lower():
        path = path.with_name(f"{path.stem}_SIMULATED{path.suffix or '.csv'}")
    frame.to_csv(path, index=False)
    return path
