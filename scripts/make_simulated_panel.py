"""Write the bundled SIMULATED enclave panel, its truth table and its role mapping.

    python scripts/make_simulated_panel.py            # from the repository root

Runs ``policyeval.data.simulate.simulate_enclave_panel(**BUNDLED_PARAMETERS)``
(fixed seed, real Jiangsu/Zhejiang county list of vintage 2019, the shipped
enclave registry) and writes, once, into the package (``policyeval/data/``, read by
``policyeval.load_simulated_panel``), as gzipped CSV:

- ``simulated_enclave_panel.csv.gz`` -- county x year panel (first column
  ``is_simulated`` = True on every row: these are NOT real statistics);
- ``simulated_enclave_truth.csv.gz`` -- the injected effects (the truth an
  estimator should recover);
- ``simulated_enclave_roles.csv.gz`` -- which unit each registry enclave treats,
  how prefecture codes were mapped, which enclaves were skipped or left
  unlocated and why, and how each effect was sized;

and refreshes the calibration table of ``docs/calibration.md`` (simulated vs
published, between its ``calibration-table`` markers).

Numbers are written with 10 significant digits; the gzip header carries no time stamp
or file name, so the same tables give the same bytes. ``tests/test_simulate.py``
checks that the files equal a fresh run, so rerun this script whenever the
simulator, the registry or the county list changes.
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import warnings  # noqa: E402

from policyeval.data.simulate import (  # noqa: E402
    BUNDLED_PARAMETERS,
    LocationUnknownWarning,
    calibration_markdown,
    calibration_table,
    simulate_enclave_panel,
)

DOC = ROOT / "docs" / "calibration.md"
MARKERS = ("<!-- calibration-table:start -->", "<!-- calibration-table:end -->")

FLOAT_FORMAT = "%.10g"
FILES = {
    "panel": "simulated_enclave_panel.csv.gz",
    "truth": "simulated_enclave_truth.csv.gz",
    "roles": "simulated_enclave_roles.csv.gz",
}


def write_calibration_doc(result) -> None:
    """Replace the table between the markers of docs/calibration.md with the fresh one."""
    text = DOC.read_text(encoding="utf-8")
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    table = calibration_markdown(calibration_table(result.panel, result.roles))
    DOC.write_text(text[:start] + "\n" + table + text[end:], encoding="utf-8")
    print(f"wrote the calibration table of {DOC.relative_to(ROOT)}")


def main() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LocationUnknownWarning)
        result = simulate_enclave_panel(**BUNDLED_PARAMETERS)
    for w in caught:
        print(f"{w.category.__name__}: {w.message}")
    tables = {"panel": result.panel, "truth": result.truth, "roles": result.roles}
    folder = ROOT / "policyeval" / "data"
    for name, table in tables.items():
        path = folder / FILES[name]
        text = table.to_csv(index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
        path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))
        print(f"wrote {path.relative_to(ROOT)}: {len(table)} rows, {path.stat().st_size / 1e6:.2f} MB "
              f"({len(text.encode('utf-8')) / 1e6:.2f} MB uncompressed)")
    panel = result.panel
    print(
        f"SIMULATED panel: {panel['county_code'].nunique()} units x {panel['year'].nunique()} years, "
        f"{int((panel.groupby('county_code')['first_treat'].first() > 0).sum())} treated units, "
        f"{len(result.skipped)} registry (enclave, role) pairs skipped or unlocated (see roles file)."
    )
    write_calibration_doc(result)


if __name__ == "__main__":
    main()
