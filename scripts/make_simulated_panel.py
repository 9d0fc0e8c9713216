"""Write the bundled SIMULATED enclave panel, its truth table and its role mapping.

    python scripts/make_simulated_panel.py            # from the repository root

Runs ``policyeval.data.simulate.simulate_enclave_panel(**BUNDLED_PARAMETERS)``
(fixed seed, real Jiangsu/Zhejiang county list of vintage 2019, the shipped
enclave registry) and writes, to both ``data/`` and ``policyeval/data/``:

- ``simulated_enclave_panel.csv`` -- county x year panel (first column
  ``is_simulated`` = True on every row: these are NOT real statistics);
- ``simulated_enclave_truth.csv`` -- the injected effects (the truth an
  estimator should recover);
- ``simulated_enclave_roles.csv`` -- which unit each registry enclave treats,
  how prefecture codes were mapped, and which enclaves were skipped and why.

Numbers are written with 10 significant digits. ``tests/test_simulate.py``
checks that the files equal a fresh run, so rerun this script whenever the
simulator, the registry or the county list changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from policyeval.data.simulate import BUNDLED_PARAMETERS, simulate_enclave_panel  # noqa: E402

FLOAT_FORMAT = "%.10g"
FILES = {
    "panel": "simulated_enclave_panel.csv",
    "truth": "simulated_enclave_truth.csv",
    "roles": "simulated_enclave_roles.csv",
}


def main() -> None:
    result = simulate_enclave_panel(**BUNDLED_PARAMETERS)
    tables = {"panel": result.panel, "truth": result.truth, "roles": result.roles}
    for folder in (ROOT / "data", ROOT / "policyeval" / "data"):
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in tables.items():
            path = folder / FILES[name]
            table.to_csv(path, index=False, float_format=FLOAT_FORMAT, lineterminator="\n")
            print(f"wrote {path.relative_to(ROOT)}: {len(table)} rows, {path.stat().st_size / 1e6:.2f} MB")
    panel = result.panel
    print(
        f"SIMULATED panel: {panel['county_code'].nunique()} units x {panel['year'].nunique()} years, "
        f"{int((panel.groupby('county_code')['first_treat'].first() > 0).sum())} treated units, "
        f"{len(result.skipped)} registry (enclave, role) pairs skipped (see roles file)."
    )


if __name__ == "__main__":
    main()
