"""Read a folder of yearly Parquet/CSV files without concatenating it in memory.

Firm-level registers arrive as one file per year (``firms_2005.parquet``,
``firms_2006.parquet``, ...). :func:`scan_folder` checks such a folder before
anything is computed — every expected year has a file, every file has the
same columns with the same types — and :func:`iter_chunks` streams it batch by
batch with a progress bar. Duplicate ``(firm, year)`` keys are found by the
engines (:class:`~policyeval.scale.duckdb_backend.DuckDBEngine` names the
files that hold them), since a set of every key would not fit in memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from policyeval.exceptions import DataError, DataFileNotFoundError

__all__ = ["PanelFolder", "iter_chunks", "scan_folder"]

_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d|21\d\d)(?!\d)")


@dataclass(frozen=True)
class PanelFolder:
    """A checked set of files.

    Attributes
    ----------
    files : list of pathlib.Path
        Files in year order (or name order when names carry no year).
    years : list of int or None
        Year parsed from each file name.
    format : {"parquet", "csv"}
    schema : dict
        Column name -> type name (the first file's; all files agree).
    """

    files: list
    years: list
    format: str
    schema: dict


def _schema(path: Path, fmt: str) -> dict:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        s = pq.read_schema(path)
        return {f.name: str(f.type) for f in s}
    head = pd.read_csv(path, nrows=200)
    return {c: str(t) for c, t in head.dtypes.items()}


def scan_folder(path, *, years: Sequence[int] | None = None, pattern: str | None = None) -> PanelFolder:
    """Check a Parquet/CSV file or a folder of yearly files.

    Parameters
    ----------
    path : str or pathlib.Path
        A single ``.parquet``/``.csv`` file or a folder holding them.
    years : sequence of int, optional
        Years that must each have a file. Default: every year between the
        first and the last year found in the file names.
    pattern : str, optional
        Glob for the folder (default ``*.parquet``, else ``*.csv``).

    Returns
    -------
    PanelFolder

    Raises
    ------
    FileNotFoundError
        The path does not exist or holds no Parquet/CSV file.
    DataError
        A year has no file (names the year and the neighbouring files), two
        files carry the same year, or a file's columns or types differ from
        the first file's (names the file and the columns).

    Examples
    --------
    >>> import shutil, tempfile
    >>> from policyeval.scale.simulate_firms import simulate_firm_panel
    >>> folder = tempfile.mkdtemp()        # SIMULATED firms, one Parquet file per year
    >>> _ = simulate_firm_panel(folder, 200, years=range(2010, 2013), progress=False)
    >>> scan_folder(folder)
    PanelFolder(files=[...firms_2010.parquet'), ...], years=[2010, 2011, 2012], format='parquet', ...)
    >>> shutil.rmtree(folder)
    """
    p = Path(path)
    if not p.exists():
        raise DataFileNotFoundError(f"data path {str(p)!r} does not exist")
    if p.is_file():
        fmt = "csv" if p.suffix.lower() in (".csv", ".gz") and ".csv" in p.name.lower() else "parquet"
        return PanelFolder([p], [None], fmt, _schema(p, fmt))
    if pattern is None:
        files = sorted(p.glob("*.parquet"))
        fmt = "parquet"
        if not files:
            files, fmt = sorted(p.glob("*.csv")), "csv"
    else:
        files = sorted(p.glob(pattern))
        fmt = "csv" if pattern.endswith(".csv") else "parquet"
    if not files:
        raise DataFileNotFoundError(f"folder {str(p)!r} holds no .parquet or .csv file")
    found = [_YEAR.findall(f.stem) for f in files]
    file_years = [int(m[-1]) if m else None for m in found]
    if all(y is not None for y in file_years):
        order = sorted(range(len(files)), key=lambda j: file_years[j])
        files, file_years = [files[j] for j in order], [file_years[j] for j in order]
        seen: dict[int, Path] = {}
        for f, y in zip(files, file_years):
            if y in seen:
                raise DataError(f"year {y} has two files in {str(p)!r}: {seen[y].name} and {f.name}")
            seen[y] = f
        expected = list(years) if years is not None else list(range(file_years[0], file_years[-1] + 1))
        missing = [y for y in expected if y not in seen]
        if missing:
            near = [f.name for f, y in zip(files, file_years) if abs(y - missing[0]) == 1]
            raise DataError(
                f"missing file for year(s) {', '.join(map(str, missing))} in folder {str(p)!r} "
                f"(files next to it: {', '.join(near) or 'none'}); every year of the panel needs its file")
    elif years is not None:
        raise DataError(f"years={list(years)} was given but the file names in {str(p)!r} carry no year "
                        f"(e.g. {files[0].name})")
    ref = _schema(files[0], fmt)
    for f in files[1:]:
        s = _schema(f, fmt)
        if s != ref:
            gone = [c for c in ref if c not in s]
            new = [c for c in s if c not in ref]
            changed = [f"{c} ({ref[c]} -> {s[c]})" for c in ref if c in s and s[c] != ref[c]]
            parts = ([f"missing columns {gone}"] if gone else []) + ([f"new columns {new}"] if new else []) \
                + ([f"changed types {', '.join(changed)}"] if changed else [])
            raise DataError(f"schema of {f.name} differs from {files[0].name}: {'; '.join(parts)}. "
                            "Every yearly file must have the same columns and types")
    return PanelFolder(files, file_years, fmt, ref)


def iter_chunks(path, *, columns: Sequence[str] | None = None, batch_size: int = 1_000_000,
                years: Sequence[int] | None = None, progress: bool = True) -> Iterator[pd.DataFrame]:
    """Yield the rows of a checked file/folder as pandas DataFrames of at most ``batch_size`` rows.

    Parameters
    ----------
    path : str or pathlib.Path
        As :func:`scan_folder`.
    columns : sequence of str, optional
        Columns to read (default all).
    batch_size : int
        Rows per chunk.
    years : sequence of int, optional
        Passed to :func:`scan_folder`.
    progress : bool
        Show a tqdm bar over rows.

    Yields
    ------
    pandas.DataFrame
        One chunk; peak memory is one chunk plus the reader's buffers.

    Raises
    ------
    FileNotFoundError, DataError
        As :func:`scan_folder`.
    """
    folder = scan_folder(path, years=years)
    cols = None if columns is None else list(columns)
    if cols is not None:
        absent = [c for c in cols if c not in folder.schema]
        if absent:
            raise DataError(f"columns {absent} are not in {folder.files[0].name}; available: "
                            f"{list(folder.schema)[:12]}")
    total = None
    if folder.format == "parquet":
        import pyarrow.parquet as pq

        total = sum(pq.ParquetFile(f).metadata.num_rows for f in folder.files)
    from tqdm.auto import tqdm

    bar = tqdm(total=total, unit="rows", disable=not progress, desc="reading")
    try:
        for f in folder.files:
            bar.set_postfix_str(f.name)
            if folder.format == "parquet":
                import pyarrow.parquet as pq

                for batch in pq.ParquetFile(f).iter_batches(batch_size=batch_size, columns=cols):
                    frame = batch.to_pandas()
                    bar.update(len(frame))
                    yield frame
            else:
                for frame in pd.read_csv(f, usecols=cols, chunksize=batch_size):
                    bar.update(len(frame))
                    yield frame
    finally:
        bar.close()
