"""Time one issue-13 task three times in one process (first fit vs warm fits). A script, not a test.

Usage (from the repository root)::

    MPLBACKEND=Agg PYTHONPATH=. python benchmarks/bench_repeat.py twfe 1000000

Tasks: ``twfe``, ``twfe_unbal`` (10% of the rows dropped), ``event_study``, ``sun_abraham`` on ``task_calls._panel`` (SIMULATED, seeded,
``bench_staggered.make_panel`` with 15 periods). Prints the three wall times.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from task_calls import _panel  # noqa: E402

import policyeval as pe  # noqa: E402


def main():
    task, n = sys.argv[1], int(sys.argv[2])
    df = _panel("twfe" if task != "twfe_unbal" else task, n, 15)
    kw = dict(yname="y", tname="year", idname="id", gname="g")
    fit = {"twfe": lambda: pe.TWFE().fit(df, **kw),
           "twfe_unbal": lambda: pe.TWFE().fit(df, **kw),
           "event_study": lambda: pe.EventStudy(window=None).fit(df, **kw),
           "sun_abraham": lambda: pe.SunAbraham().fit(df, **kw)}[task]
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        fit()
        times.append(time.perf_counter() - t0)
    print(task, n, "seconds:", " / ".join(f"{t:.2f}" for t in times))


if __name__ == "__main__":
    main()
