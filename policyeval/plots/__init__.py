"""Figures. Functions here take a result and draw it; they never estimate."""

from policyeval.plots.estimates import label_simulated, plot_estimates
from policyeval.plots.fonts import apply_cjk_font, cjk_font_path, use_cjk_font
from policyeval.plots.timing import plot_treatment_timing

__all__ = ["plot_estimates", "plot_treatment_timing", "label_simulated", "use_cjk_font", "apply_cjk_font", "cjk_font_path"]
