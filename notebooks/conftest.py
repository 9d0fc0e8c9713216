"""pytest set-up for ``pytest --nbval notebooks``.

* Notebooks write their figures and tables under ``$POLICYEVAL_REPORTS``; a
  test run points that at a temporary folder (removed at the end) so
  ``make test`` leaves ``reports/`` alone (``run_all.py`` / ``make demo``
  write to ``reports/notebooks``).
* matplotlib's font cache is built here, before any kernel starts: on a
  fresh machine the first ``import matplotlib`` logs "building the font
  cache" to stderr, and that line would differ from the stored outputs.
"""

import os
import shutil
import tempfile

_CREATED = []


def pytest_configure(config):
    if "POLICYEVAL_REPORTS" not in os.environ:
        _CREATED.append(tempfile.mkdtemp(prefix="policyeval-nbval-"))
        os.environ["POLICYEVAL_REPORTS"] = _CREATED[-1]
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.font_manager  # noqa: F401  (builds the cache once, quietly)


def pytest_unconfigure(config):
    for path in _CREATED:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get("POLICYEVAL_REPORTS") == path:
            del os.environ["POLICYEVAL_REPORTS"]
