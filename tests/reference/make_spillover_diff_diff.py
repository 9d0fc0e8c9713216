"""Regenerate tests/data/spillover_2period.csv and tests/reference/spillover_diff_diff.json:
a peer reference for policyeval.design.ring_spillovers from diff-diff's SpilloverDiD.

Provenance: diff-diff (PyPI ``diff-diff``; version written into the JSON),
``diff_diff.SpilloverDiD`` -- an independent implementation of Butts (2021/2023,
arXiv:2105.03737) as a two-stage (Gardner 2022) regression with ring indicators.
With two periods and one onset the ring regression is saturated, so its direct
effect ``tau_total`` and ring effects ``delta_j`` are the 2x2 DiDs of treated
units / ring-j never-treated units against the far-away units -- exactly what
ring_spillovers computes with Callaway-Sant'Anna on its designed samples.

Data (SIMULATED, seeded): the 184 Jiangsu/Zhejiang county-level units of
vintage 2019 that have a cpca point (policyeval.design.geo.county_centroids),
years 2018-2019, six invented enclaves all opening in 2019 (registry rows stored
in the JSON), outcome ``y`` = unit effect + year effect + 0.3 (treated, 2019)
+ 0.1 (ring 0-40 km, 2019) + 0.05 (ring 40-80 km, 2019) + N(0, 0.05^2).

Command (from the repository root)::

    .venv/bin/python tests/reference/make_spillover_diff_diff.py
"""

from __future__ import annotations

import json
import pathlib
import sys
import warnings

import numpy as np
import pandas as pd

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import diff_diff  # noqa: E402
from diff_diff import SpilloverDiD  # noqa: E402

from policyeval.data.admin_codes import list_counties  # noqa: E402
from policyeval.design import enclave_design  # noqa: E402
from policyeval.design.geo import county_centroids, distance_matrix  # noqa: E402

HERE = pathlib.Path(__file__).parent
OUT_JSON = HERE / "spillover_diff_diff.json"
OUT_CSV = ROOT / "tests" / "data" / "spillover_2period.csv"
RINGS = [0.0, 40.0, 80.0]
ENCLAVES = [  # (id, type, origin, destination) -- invented pairs of real codes, all opening 2019
    ("T-1", "forward", "320509", "321323"),
    ("T-2", "reverse_science", "330800", "330110"),
    ("T-3", "forward", "330109", "331181"),
    ("T-4", "forward", "320281", "321282"),
    ("T-5", "poverty_relief", "330825", "330211"),
    ("T-6", "forward", "320100", "320830"),
]


def registry_rows() -> list[dict]:
    return [dict(enclave_id=e, name_zh=e, type=t, origin_code=o, origin_name=o, destination_code=d,
                 destination_name=d, code_vintage=2019, agreement_year=2019, opening_year=2019,
                 source_url="http://example.org")
            for e, t, o, d in ENCLAVES]


def main() -> None:
    units = list_counties(("32", "33"), vintage=2019)
    pts = county_centroids(units["code"])
    pts = pts[pts["lat"].notna()].reset_index(drop=True)
    rng = np.random.default_rng(20261122)
    df = pd.DataFrame({"county_code": np.repeat(pts["code"].to_numpy(), 2),
                       "year": np.tile([2018, 2019], len(pts)),
                       "lat": np.repeat(pts["lat"].to_numpy(), 2), "lon": np.repeat(pts["lon"].to_numpy(), 2)})
    reg = pd.DataFrame(registry_rows())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = enclave_design(df, reg, rings_km=RINGS, name_column=None)
    t = design.timing.set_index("county_code")
    df["first_treat"] = df["county_code"].map(t["first_treat_any"]).astype(int)
    # ring of the nearest treated unit (all open in 2019), for the data-generating process
    treated = t.index[t["first_treat_any"] > 0]
    dist = distance_matrix(pts)
    is_t = pts["code"].isin(treated).to_numpy()
    nearest = np.where(is_t[None, :], dist, np.inf).min(axis=1)
    edges = np.array(RINGS)
    gaps = np.abs(nearest[~is_t][:, None] - edges[None, 1:]).min()
    assert gaps > 0.05, "a unit lies on a ring edge: conventions would differ"
    unit_fe = rng.normal(0, 1, len(pts))
    post = (df["year"] == 2019).to_numpy()
    near = np.repeat(nearest, 2)
    d = np.repeat(is_t, 2)
    y = np.repeat(unit_fe, 2) + 0.2 * post + 0.3 * (d & post)
    y += 0.1 * (~d & post & (near <= 40)) + 0.05 * (~d & post & (near > 40) & (near <= 80))
    df["y"] = y + rng.normal(0, 0.05, len(df))
    df.to_csv(OUT_CSV, index=False, float_format="%.17g", lineterminator="\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = SpilloverDiD(rings=RINGS, conley_coords=("lat", "lon")).fit(
            df, outcome="y", unit="county_code", time="year", first_treat="first_treat")
    spill = res.spillover_effects
    out = {
        "provenance": f"diff-diff {diff_diff.__version__}, SpilloverDiD(rings={RINGS}, "
                      "conley_coords=('lat', 'lon')).fit(df, outcome='y', unit='county_code', time='year', "
                      "first_treat='first_treat'); tests/reference/make_spillover_diff_diff.py",
        "rings": RINGS,
        "registry": registry_rows(),
        "tau_total": float(res.att),
        "spillover": {str(k): float(v) for k, v in spill["coef"].items()},
        "n_units_ever_in_ring": {str(k): int(v) for k, v in res.n_units_ever_in_ring.items()},
        "n_far_away_obs": int(res.n_far_away_obs),
    }
    OUT_JSON.write_text(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(out, indent=2, ensure_ascii=False)[:1500])


if __name__ == "__main__":
    main()
