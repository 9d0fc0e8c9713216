"""Tables for papers. Functions here lay results out; they never estimate."""

from policyeval.reporting.tables import ResultsTable, results_table

__all__ = ["ResultsTable", "results_table"]
