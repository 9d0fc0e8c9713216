"""pytest set-up for ``pytest --nbval notebooks``.

* Notebooks write their figures and tables under ``$POLICYEVAL_REPORTS``; a
  test run points that at a temporary folder so ``make test`` leaves
  ``reports/`` alone (``run_all.py`` / ``make demo`` set it to ``reports``).
* matplotlib's font cache is built here, before any kernel starts: on a
  fresh machine the first ``import matplotlib`` logs "building the font
  cache" to stderr, and that line would differ from the stored outputs.
"""

import os
import tempfile


def pytest_configure(config):
    os.environ.setdefault("POLICYEVAL_REPORTS", tempfile.mkdtemp(prefix="policyeval-nbval-"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.font_manager  # noqa: F401  (builds the cache once, quietly)
