"""Figures. Functions here take a result and draw it; they never estimate."""

from policyeval.plots.estimates import label_simulated, plot_estimates
from policyeval.plots.fonts import cjk_font_path, use_cjk_font

__all__ = ["plot_estimates", "label_simulated", "use_cjk_font", "cjk_font_path"]
