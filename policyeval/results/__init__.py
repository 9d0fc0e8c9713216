"""Result objects returned by every estimator."""

from policyeval.results.base import EstimationResult, Summary

__all__ = ["EstimationResult", "Summary"]
