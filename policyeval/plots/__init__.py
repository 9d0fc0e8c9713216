"""Figures. Functions here take a result and draw it; they never estimate."""

from policyeval.plots.estimates import plot_estimates

__all__ = ["plot_estimates"]
