"""Tables and files for papers. Functions here lay results out; they never estimate.

Whatever comes from simulated data says so: LaTeX notes and captions, HTML,
text and exported CSV files carry "SIMULATED" (see :func:`export_csv`).
"""

from policyeval.reporting.export import export_csv
from policyeval.reporting.tables import LATEX_PREAMBLE, ResultsTable, results_table, summary_latex

__all__ = ["ResultsTable", "results_table", "summary_latex", "export_csv", "LATEX_PREAMBLE"]
