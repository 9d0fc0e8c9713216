"""Repository-only plumbing for the case-study notebooks (not part of the policyeval API).

The notebooks import everything they need from policyeval itself (a notebook
copied elsewhere runs with only policyeval installed): the truth of a
sample's estimand from :mod:`policyeval.design.truth`, warnings, output
folders, tables and headline numbers from :mod:`policyeval.reporting.notebook`.
What is left here is the repository's own default: outputs of a notebook run
in place go to ``<repository>/reports/notebooks/<notebook>`` unless
``$POLICYEVAL_REPORTS`` says otherwise. The other names are re-exported for
scripts written against the old helper module.
"""

from __future__ import annotations

import os
from pathlib import Path

from policyeval.design.truth import add_ratio_truth, truth_for_sample
from policyeval.reporting.notebook import (
    SIMULATED_NOTE as SIMULATED,
)
from policyeval.reporting.notebook import (
    echo_warnings,
    route_warnings_to_stdout,
    save_figure,
    save_table,
    write_headline,
)
from policyeval.reporting.notebook import reports_dir as _reports_dir

__all__ = ["SEED", "SIMULATED", "add_ratio_truth", "echo_warnings", "reports_dir", "route_warnings_to_stdout",
           "save_figure", "save_table", "truth_for_sample", "write_headline"]

SEED = 20240601  # one seed for every random draw in the notebooks (also set in each notebook)


def reports_dir(notebook: str) -> Path:
    """``$POLICYEVAL_REPORTS/<notebook>``, else ``<repository>/reports/notebooks/<notebook>``."""
    default = Path(__file__).resolve().parent.parent / "reports" / "notebooks"
    return _reports_dir(notebook, root=os.environ.get("POLICYEVAL_REPORTS", default))
