"""Chinese characters render with a real glyph, not a missing-glyph box."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import font_manager  # noqa: E402

from policyeval.plots import cjk_font_path, use_cjk_font  # noqa: E402


def test_font_ships_and_has_chinese_glyphs():
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(cjk_font_path()))
    charmap = font.get_charmap()
    for char in "苏州宿迁工业园区衢州海创园飞地亩均":
        assert ord(char) in charmap, char


def test_drawing_chinese_labels_emits_no_missing_glyph_warning():
    use_cjk_font()
    fig, ax = plt.subplots()
    ax.set_title("苏宿工业园区 Suzhou–Suqian Industrial Park")
    ax.set_xlabel("亩均税收 (元/亩)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig.canvas.draw()
    plt.close(fig)
    assert str(cjk_font_path()) in {f.fname for f in font_manager.fontManager.ttflist}


def test_without_the_fallback_matplotlib_would_miss_glyphs():
    # Guards the test above: it must be able to fail.
    with matplotlib.rc_context({"font.sans-serif": ["DejaVu Sans"], "font.family": "sans-serif"}):
        fig, ax = plt.subplots()
        ax.set_title("苏宿")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.canvas.draw()
        plt.close(fig)
    assert any("missing from" in str(w.message) for w in caught)
