"""pytest set-up for ``pytest --nbval notebooks``.

* Notebooks write their figures and tables under ``$POLICYEVAL_REPORTS``; a
  test run points that at a temporary folder (removed at the end) so
  ``make test`` leaves ``reports/`` alone (``run_all.py`` / ``make demo``
  write to ``reports/notebooks``).
* BLAS runs single-threaded in the kernels (as in ``run_all.py``, which
  writes the stored outputs): a sum split over a different number of
  threads can change the last bits of a result, and the stored outputs must
  not depend on how many cores the checking machine has.
* matplotlib's font cache is built here, before any kernel starts: on a
  fresh machine the first ``import matplotlib`` logs "building the font
  cache" to stderr, and that line would differ from the stored outputs.
"""

import os
import shutil
import tempfile

_CREATED = []
SINGLE_THREAD = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def pytest_configure(config):
    if "POLICYEVAL_REPORTS" not in os.environ:
        _CREATED.append(tempfile.mkdtemp(prefix="policyeval-nbval-"))
        os.environ["POLICYEVAL_REPORTS"] = _CREATED[-1]
    os.environ.setdefault("MPLBACKEND", "Agg")
    for var in SINGLE_THREAD:
        os.environ.setdefault(var, "1")
    import matplotlib.font_manager  # noqa: F401  (builds the cache once, quietly)


def pytest_unconfigure(config):
    for path in _CREATED:
        shutil.rmtree(path, ignore_errors=True)
        if os.environ.get("POLICYEVAL_REPORTS") == path:
            del os.environ["POLICYEVAL_REPORTS"]
