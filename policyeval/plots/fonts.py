"""Chinese place names in figures, without missing-glyph boxes.

matplotlib's default font (DejaVu Sans) has no CJK glyphs. policyeval
depends on the ``mplfonts`` package, which ships Noto Sans CJK SC (SIL Open
Font License), and registers that file with matplotlib as a *fallback*:
Latin text keeps the default face, Chinese characters come from Noto.
Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

__all__ = ["use_cjk_font", "cjk_font_path", "apply_cjk_font"]

_FONT_FILE = "NotoSansCJKsc-Regular.otf"


def cjk_font_path() -> Path:
    """Path of the bundled Noto Sans CJK SC font file.

    Raises
    ------
    FileNotFoundError
        If ``mplfonts`` is not installed or lacks the font.
    """
    spec = importlib.util.find_spec("mplfonts")  # locate without importing its CLI
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the 'mplfonts' package (which ships Noto Sans CJK SC) is not installed; "
            "`pip install mplfonts` or reinstall policyeval"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "fonts" / _FONT_FILE
    if not path.exists():
        raise FileNotFoundError(f"{_FONT_FILE} not found in the mplfonts package at {path.parent}")
    return path


def use_cjk_font() -> str:
    """Register Noto Sans CJK SC with matplotlib and use it as a fallback.

    Returns
    -------
    str
        The family name matplotlib registered for the font.

    Examples
    --------
    >>> from policyeval.plots import use_cjk_font
    >>> use_cjk_font()
    'Noto Sans CJK SC'
    """
    import matplotlib as mpl
    from matplotlib import font_manager

    path = str(cjk_font_path())
    if path not in {f.fname for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(path)
    family = font_manager.FontProperties(fname=path).get_name()  # as matplotlib names it
    families = [f for f in mpl.rcParams["font.sans-serif"] if f not in ("DejaVu Sans", family)]
    mpl.rcParams["font.sans-serif"] = ["DejaVu Sans", family, *families]
    # Fallback works across an explicit list of families, not through the
    # generic "sans-serif" alias, which resolves to its first installed member.
    mpl.rcParams["font.family"] = ["DejaVu Sans", family]
    mpl.rcParams["axes.unicode_minus"] = False
    return family


def apply_cjk_font(ax) -> bool:
    """Give every text of ``ax`` (title, labels, ticks, legend) the CJK fallback font.

    :func:`use_cjk_font` changes the defaults, which only texts created
    afterwards follow; axes made before it (``plt.subplots()`` then a policyeval
    plot on them) keep tick labels without Chinese glyphs. This sets the
    family on the existing texts too.

    Returns
    -------
    bool
        False when the font is not available (the texts are left as they are).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> ax = plt.figure().add_subplot()
    >>> _ = ax.set_yticks([0]); _ = ax.set_yticklabels(["苏州"])
    >>> apply_cjk_font(ax)
    True
    >>> plt.close("all")
    """
    import matplotlib as mpl
    from matplotlib.text import Text

    try:
        use_cjk_font()
    except FileNotFoundError:  # still draws; Chinese glyphs may show as boxes
        return False
    family = list(mpl.rcParams["font.family"])
    for text in ax.findobj(Text):
        text.set_fontfamily(family)
    return True
