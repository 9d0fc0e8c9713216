"""Tables for papers: several results side by side, as text, HTML, LaTeX or a DataFrame.

Functions here take results and lay them out; they never estimate. The
layout follows fixest's ``etable``: each estimate with its standard error in
parentheses beneath, optional significance stars, then rows that say how each
column was estimated (outcome, estimator, control group, fixed effects,
cluster variable) and the sample sizes. Headline effects that different
estimators name differently (``treated`` in TWFE, ``overall`` in the
imputation estimator, ``att`` in synthetic control, ``ATT`` elsewhere) share
one row, ``ATT``.

LaTeX output uses booktabs rules and ``threeparttable`` notes (never ``%``
comments, which vanish when compiled); see ``docs/latex.md`` for the
preamble. :func:`summary_latex` gives ``summary().as_latex()`` of every
result the same estimate-(SE) layout.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from policyeval.data.simulated_label import SIMULATED_COLUMN, SIMULATED_LABEL, resolve_simulated
from policyeval.exceptions import ArgumentTypeError, ArgumentValueError

__all__ = ["ResultsTable", "results_table", "summary_latex", "latex_escape", "latex_document",
           "HEADLINE_ALIASES", "LATEX_PREAMBLE"]

_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"$<$", ">": r"$>$"}  # fmt: skip

#: Names under which estimators report their headline effect; all are shown on the row ``ATT``.
HEADLINE_ALIASES = {"ATT": "ATT", "treated": "ATT", "overall": "ATT", "att": "ATT"}

#: The LaTeX packages a table from :meth:`ResultsTable.to_latex` needs (see docs/latex.md).
LATEX_PREAMBLE = r"""\usepackage{booktabs}        % \toprule, \midrule, \bottomrule
\usepackage{threeparttable}  % table notes under the tabular
% Chinese labels: compile with xelatex and load xeCJK (or use the ctexart class)
% \usepackage{xeCJK}
% \setCJKmainfont{Noto Sans CJK SC}
"""

# How term labels of an index level are written in a table row.
_INDEX_LABELS = {"event_time": "e = {}", "relative_time": "e = {}", "horizon": "e = {}",
                 "group": "g = {}", "cohort": "g = {}", "time": "t = {}"}
_CONTROL_GROUPS = {"never_treated": "never treated", "never": "never treated",
                   "nevertreated": "never treated", "not_yet_treated": "not yet treated",
                   "notyettreated": "not yet treated", "not_yet": "not yet treated"}
# Result class name -> short estimator label (the full name stays in ``result.estimator``).
_SHORT_NAMES = {"GroupTimeResult": "CS ATT(g,t)", "SunAbrahamResult": "Sun-Abraham",
                "ImputationResult": "BJS imputation", "TwoStageResult": "Gardner two-stage",
                "SyntheticControlResult": "Synthetic control", "DiDTableResult": "2x2 DiD"}
# Estimators that impute Y(0) from every untreated observation.
_UNTREATED_OBS = {"ImputationResult", "TwoStageResult"}
# Estimators whose model has unit and period fixed effects.
_UNIT_TIME_FE = {"RegressionResult", "SunAbrahamResult", "ImputationResult"}

#: Fact rows :func:`results_table` can show, in the order shown.
STAT_ROWS = ("outcome", "estimator", "control_group", "fixed_effects", "cluster", "nobs", "n_units")
_STAT_TITLES = {"outcome": "Outcome", "estimator": "Estimator", "control_group": "Control group",
                "cluster": "Cluster", "nobs": "N obs.", "n_units": "N units"}


def latex_escape(text: str) -> str:
    r"""Escape ``text`` for LaTeX body text (``p<0.1`` becomes ``p$<$0.1``).

    Examples
    --------
    >>> print(latex_escape("p<0.1, 50% & more"))
    p$<$0.1, 50\% \& more
    """
    return re.sub(r"[\\&%$#_{}~^<>]", lambda m: _LATEX_SPECIAL[m.group(0)], str(text))


def latex_document(*bodies: str, cjk_font: str | Path | None = None) -> str:
    r"""A complete LaTeX document around tables, for a quick look or a compile check.

    ``pdflatex`` compiles it when the tables have no Chinese characters;
    with ``cjk_font`` it loads xeCJK and needs ``xelatex``.

    Parameters
    ----------
    *bodies : str
        LaTeX from :meth:`ResultsTable.to_latex` (or any body text).
    cjk_font : str or Path, optional
        A CJK font: a family name known to fontconfig (``"Noto Sans CJK
        SC"``) or a font file, e.g.
        :func:`policyeval.plots.fonts.cjk_font_path` (the Noto Sans CJK SC
        file the ``mplfonts`` dependency ships).

    Returns
    -------
    str

    Examples
    --------
    >>> doc = latex_document("Hello")
    >>> doc.splitlines()[:3]
    ['\\documentclass{article}', '\\usepackage{booktabs}', '\\usepackage{threeparttable}']
    """
    lines = [r"\documentclass{article}", r"\usepackage{booktabs}", r"\usepackage{threeparttable}"]
    if cjk_font is not None:
        lines.append(r"\usepackage{xeCJK}")
        font = Path(cjk_font)
        if font.suffix.lower() in (".otf", ".ttf", ".ttc") and font.exists():
            lines.append(rf"\setCJKmainfont{{{font.name}}}[Path={font.parent.as_posix()}/]")
        else:
            lines.append(rf"\setCJKmainfont{{{cjk_font}}}")
    lines += [r"\begin{document}", *bodies, r"\end{document}", ""]
    return "\n".join(lines)


def _stars(p: float) -> str:
    if p is None or np.isnan(p):
        return ""
    return "***" if p < 0.01 else "**" if p < 0.05 else "*" if p < 0.1 else ""


def _fmt_value(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _term_labels(index: pd.Index, index_name=None) -> list[str]:
    """Row labels of a result's terms: ``e = -1`` for event times, canonical ``ATT`` for headlines."""
    if index.name is None and isinstance(index_name, str):
        index = index.rename(index_name)
    if isinstance(index, pd.MultiIndex):
        names = [n or f"level_{i}" for i, n in enumerate(index.names)]
        return [", ".join(_INDEX_LABELS.get(n, n + " = {}").format(_fmt_value(v))
                          for n, v in zip(names, key)) for key in index]
    name = index.name
    if name in _INDEX_LABELS:
        return [_INDEX_LABELS[name].format(_fmt_value(v)) for v in index]
    return [HEADLINE_ALIASES.get(v, _fmt_value(v)) if isinstance(v, str) else _fmt_value(v)
            for v in index]


def _headline(res) -> tuple[float, float, float] | None:
    """The overall effect an aggregated result carries beside its per-term ``params``."""
    for name in ("ATT", "overall"):
        value = getattr(res, name, None)
        if isinstance(value, pd.Series) and "estimate" in value.index:
            p = value.get("p_value", np.nan)
            return float(value["estimate"]), float(value.get("std_error", np.nan)), float(p)
    return None


def _coefficients(res) -> pd.DataFrame:
    """Estimate, standard error and p-value per row label of one result."""
    try:
        params, se, p = res.params, res.std_errors, res.pvalues
    except AttributeError as err:
        raise ArgumentTypeError(
            f"results_table needs results with params, std_errors and pvalues; "
            f"{type(res).__name__} has no {err.name!r}") from None
    frame = pd.DataFrame({"estimate": np.asarray(params, dtype=float),
                          "std_error": np.asarray(se.reindex(params.index), dtype=float),
                          "p_value": np.asarray(pd.Series(p).reindex(params.index), dtype=float)},
                         index=_term_labels(params.index, getattr(res, "index_name", None)))
    if "ATT" not in frame.index:
        head = _headline(res)
        if head is not None and np.isfinite(head[0]):
            frame = pd.concat([pd.DataFrame([head], columns=frame.columns, index=["ATT"]), frame])
    return frame


def _listed(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _facts(res) -> dict[str, object]:
    """How a result was estimated, as the table's fact rows show it ('' when not applicable)."""
    spec = getattr(res, "spec", {}) or {}
    cls = type(res).__name__
    estimator = _SHORT_NAMES.get(cls, getattr(res, "estimator", cls))
    name = str(getattr(res, "estimator", "")).lower()
    if name.startswith("sun"):
        estimator = "Sun-Abraham" + (f", {spec['aggregation']}" if spec.get("aggregation") else "")
    elif cls == "RegressionResult":
        estimator = "TWFE event study" if name.startswith("event") else "TWFE"
    elif cls == "AggregateResult":
        estimator = f"CS, {getattr(res, 'kind', spec.get('aggregation', ''))}"
    if cls in ("GroupTimeResult", "AggregateResult") and spec.get("method"):
        estimator += f" ({spec['method']})"
    control = spec.get("control_group")
    control = _CONTROL_GROUPS.get(str(control), str(control)) if control else (
        "untreated obs." if cls in _UNTREATED_OBS else "")
    fe = getattr(res, "fixed_effects", None)
    if fe is None and spec.get("fe") is not None:
        fe = spec["fe"]
    if fe is None and cls in _UNIT_TIME_FE:
        fe = [spec.get("idname"), spec.get("tname")]
    vcov = spec.get("vcov")
    cluster = _listed(spec.get("cluster_columns") or spec.get("cluster"))
    clustered = isinstance(vcov, str) and vcov.lower() in ("cluster", "cr1", "cr2")
    if isinstance(vcov, str) and not clustered:
        cluster_text = vcov.upper()
    elif cluster and isinstance(vcov, str) and vcov.lower() == "cr2":
        cluster_text = " + ".join(cluster) + " (CR2)"
    elif cluster:
        cluster_text = " + ".join(cluster)
    elif cls in ("GroupTimeResult", "AggregateResult") and spec.get("idname"):
        cluster_text = str(spec["idname"])        # the influence function is per unit
    else:
        cluster_text = ""
    return {"outcome": spec.get("yname") or "", "estimator": str(estimator), "control_group": control,
            "fixed_effects": None if fe is None else [str(f) for f in fe if f is not None],
            "cluster": cluster_text, "nobs": getattr(res, "nobs", None),
            "n_units": getattr(res, "n_units", None)}


@dataclass
class ResultsTable:
    """Estimates with standard errors beneath, one column per result.

    ``frame`` holds the formatted cells (two rows per term: estimate, then
    the standard error in parentheses), followed by the fact rows (outcome,
    estimator, control group, fixed effects, cluster) and the sample sizes.
    Rows added to ``frame`` afterwards (``table.frame.loc["Truth"] = [...]``)
    are shown in every format, under a rule of their own.

    Attributes
    ----------
    frame : pandas.DataFrame
        The formatted cells.
    notes : str
        Table notes; they begin with :data:`SIMULATED_LABEL` when
        ``simulated`` is True.
    simulated : bool
        Whether any result shown comes from SIMULATED data.
    caption : str or None
        Caption of the LaTeX ``table`` float (see :meth:`to_latex`).
    rules : list of int
        Row positions preceded by a horizontal rule (section breaks).
    label : str or None
        LaTeX ``\\label`` of the float.
    """

    frame: pd.DataFrame
    notes: str
    simulated: bool = False
    caption: str | None = None
    rules: list[int] = field(default_factory=list)
    label: str | None = None

    def __post_init__(self):
        self._n_rows = len(self.frame)

    def _breaks(self) -> list[int]:
        """Row positions with a rule above: the stored sections, then any rows added later."""
        breaks = [r for r in self.rules if 0 < r < len(self.frame)]
        if 0 < self._n_rows < len(self.frame):
            breaks.append(self._n_rows)
        return sorted(set(breaks))

    # --- LaTeX -----------------------------------------------------------
    def to_latex(self, caption: str | None = None, label: str | None = None, *,
                 float_env: bool | None = None, fontsize: str | None = None) -> str:
        r"""LaTeX: a booktabs ``tabular`` in a ``threeparttable`` whose ``tablenotes`` hold the notes.

        The notes are typeset (never ``%`` comments), so "SIMULATED DATA" is
        visible wherever the table is pasted; a caption of simulated results
        starts with it too. Needs ``\usepackage{booktabs,threeparttable}``
        (:data:`LATEX_PREAMBLE`; xeCJK or ctex for Chinese labels, see
        ``docs/latex.md``).

        Parameters
        ----------
        caption : str, optional
            Caption; default :attr:`caption`. With a caption the table is
            wrapped in a ``table`` float.
        label : str, optional
            ``\label`` of the float; default :attr:`label`.
        float_env : bool, optional
            Force (True) or suppress (False) the ``table`` float; default:
            a float when there is a caption.
        fontsize : str, optional
            A size command put at the start, e.g. ``"\\small"``.

        Returns
        -------
        str

        Examples
        --------
        >>> import pandas as pd
        >>> from policyeval.results import EstimationResult
        >>> r = EstimationResult(pd.Series({"treated": -0.25}), pd.Series({"treated": 0.1}),
        ...                      nobs=100, n_units=10, spec={}, estimator="toy")
        >>> tex = results_table([r]).to_latex()
        >>> "\\begin{tablenotes}" in tex and "$-$0.250$^{**}$" in tex
        True
        """
        caption = self.caption if caption is None else caption
        label = self.label if label is None else label
        if caption is not None and self.simulated and "SIMULATED" not in caption:
            caption = f"{SIMULATED_LABEL}. {caption}"
        ncol = self.frame.shape[1]
        lines = [r"\begin{threeparttable}"]
        if fontsize:
            lines.insert(0, fontsize)
        use_float = caption is not None if float_env is None else float_env
        if use_float and caption is not None:
            lines.append(rf"\caption{{{latex_escape(caption)}}}")
            if label:
                lines.append(rf"\label{{{label}}}")
        lines.append(rf"\begin{{tabular}}{{l{'c' * ncol}}}")
        lines.append(r"\toprule")
        lines.append(" & ".join([""] + [latex_escape(c) for c in self.frame.columns]) + r" \\")
        lines.append(r"\midrule")
        breaks = self._breaks()
        for i, (name, row) in enumerate(self.frame.iterrows()):
            if i in breaks:
                lines.append(r"\midrule")
            cells = [_latex_cell(v) for v in row]
            lines.append(" & ".join([latex_escape(name)] + cells) + r" \\")
        lines.append(r"\bottomrule")
        lines.append(r"\end{tabular}")
        lines.append(r"\begin{tablenotes}[flushleft]")
        lines.append(r"\footnotesize")
        for note in _split_notes(self.notes):
            lines.append(rf"\item {latex_escape(note)}")
        lines.append(r"\end{tablenotes}")
        lines.append(r"\end{threeparttable}")
        body = "\n".join(lines) + "\n"
        if not use_float:
            return "{" + body + "}\n" if fontsize else body   # keep the size inside the table
        return "\\begin{table}[htbp]\n\\centering\n" + body + "\\end{table}\n"

    # --- HTML ------------------------------------------------------------
    def to_html(self) -> str:
        """HTML: one ``<table>`` with a caption (SIMULATED first when so) and the notes in its footer."""
        esc = html.escape
        ncol = self.frame.shape[1] + 1
        out = ['<table class="policyeval-table" style="border-collapse:collapse">']
        caption = self.caption or ""
        if self.simulated:
            caption = f"<strong>{SIMULATED_LABEL}</strong>" + (f"<br>{esc(caption)}" if caption else "")
        else:
            caption = esc(caption)
        if caption:
            out.append(f"<caption>{caption}</caption>")
        top = "border-top:1px solid black"
        out.append("<thead><tr>" + f'<th style="{top};border-bottom:1px solid black"></th>'
                   + "".join(f'<th style="{top};border-bottom:1px solid black;text-align:center">'
                             f"{esc(str(c))}</th>" for c in self.frame.columns) + "</tr></thead><tbody>")
        breaks = self._breaks()
        for i, (name, row) in enumerate(self.frame.iterrows()):
            style = f' style="{top}"' if i in breaks else ""
            out.append(f"<tr{style}><th style=\"text-align:left\">{esc(str(name))}</th>"
                       + "".join(f'<td style="text-align:center">{esc(str(v))}</td>' for v in row)
                       + "</tr>")
        out.append(f'</tbody><tfoot><tr><td colspan="{ncol}" style="{top};text-align:left">'
                   f"<small>{'<br>'.join(esc(n) for n in _split_notes(self.notes))}</small></td></tr>"
                   "</tfoot></table>")
        return "\n".join(out)

    def _repr_html_(self) -> str:
        return self.to_html()

    # --- text and frames --------------------------------------------------
    def to_text(self) -> str:
        """Plain text with rules between sections; the notes (and SIMULATED) underneath."""
        names = [str(n) for n in self.frame.index]
        cols = [str(c) for c in self.frame.columns]
        w0 = max([len(n) for n in names] + [0])
        widths = [max([len(c)] + [len(str(v)) for v in self.frame[col]])
                  for c, col in zip(cols, self.frame.columns)]
        total = w0 + sum(w + 2 for w in widths)
        line = lambda name, vals: (name.ljust(w0) + "".join(  # noqa: E731
            "  " + str(v).rjust(w) for v, w in zip(vals, widths))).rstrip()
        out = [SIMULATED_LABEL] if self.simulated else []
        if self.caption:
            out.append(self.caption)
        out += ["=" * total, line("", cols), "-" * total]
        breaks = self._breaks()
        for i, (name, row) in enumerate(zip(names, self.frame.itertuples(index=False))):
            if i in breaks:
                out.append("-" * total)
            out.append(line(name, row))
        out.append("=" * total)
        out += _split_notes(self.notes)
        return "\n".join(out)

    def to_frame(self) -> pd.DataFrame:
        """The cells as a tidy frame: a ``row`` column, one column per result, ``is_simulated``."""
        out = self.frame.copy()
        out.insert(0, "row", out.index.astype(str))
        out[SIMULATED_COLUMN] = self.simulated
        return out.reset_index(drop=True)

    def to_csv(self, path: str | Path, **kwargs) -> Path:
        """Write :meth:`to_frame` to ``path`` (UTF-8); the ``is_simulated`` column says where it came from."""
        path = Path(path)
        self.to_frame().to_csv(path, index=False, **kwargs)
        return path

    def __str__(self) -> str:
        return self.to_text()

    __repr__ = __str__


def _split_notes(notes: str) -> list[str]:
    return [n for n in str(notes).split("\n") if n.strip()]


_NUMBER = re.compile(r"^(\(?)(-?)([0-9][0-9,]*(?:\.[0-9]+)?)(\)?)(\**)$")


def _latex_cell(value) -> str:
    """A cell for LaTeX: a real minus sign and superscript stars on numbers; text escaped."""
    text = str(value)
    m = _NUMBER.match(text)
    if not m:
        return latex_escape(text)
    open_, minus, digits, close, stars = m.groups()
    return f"{open_}{'$-$' if minus else ''}{digits}{close}{f'$^{{{stars}}}$' if stars else ''}"


def results_table(results: Mapping[str, object] | Sequence[object], terms: Sequence | None = None,
                  digits: int = 3, stars: bool = True,
                  rename: Mapping[object, str] | None = None, *, labels: Sequence[str] | None = None,
                  keep: str | Sequence[str] | None = None, drop: str | Sequence[str] | None = None,
                  stats: Sequence[str] | None = STAT_ROWS, notes: str | Sequence[str] | None = None,
                  simulated: bool | None = None, caption: str | None = None,
                  label: str | None = None) -> ResultsTable:
    """Lay several results side by side, as fixest's ``etable`` does.

    Each estimate sits above its standard error in parentheses. Rows that
    mean the same thing line up: every estimator's headline effect (TWFE's
    ``treated``, the imputation estimator's ``overall``, synthetic control's
    ``att``, an aggregation's overall summary) is the row ``ATT``; event
    times are ``e = -1``, ``e = 0``, ... whichever estimator produced them.
    Under the estimates, fact rows say how each column was estimated.

    Parameters
    ----------
    results : sequence of results, or mapping of column title to result
        Any objects with the policyeval result contract (``params``,
        ``std_errors``, ``pvalues``, ``nobs``, ``n_units``, ``spec``).
    terms : sequence, optional
        Row labels (after renaming) to show, in order; default: the union in
        first-seen order.
    digits : int, default 3
        Decimals shown.
    stars : bool, default True
        Mark p < 0.1, 0.05, 0.01 with ``*``, ``**``, ``***``.
    rename : mapping, optional
        Row labels to change before laying out, e.g. ``{"ATT": "Hosts an
        enclave"}`` or ``{"e = 0": "On impact"}``.
    labels : sequence of str, optional
        Column titles for a sequence of results; default ``(1)``, ``(2)``, ...
    keep, drop : str or sequence of str, optional
        Regular expressions on row labels: keep only matching rows / drop
        matching rows (e.g. ``keep="ATT"``, ``drop=r"e = -"``).
    stats : sequence of str or None
        Fact rows, from ``"outcome"``, ``"estimator"``, ``"control_group"``,
        ``"fixed_effects"`` (one ``FE: <column>`` row per fixed effect),
        ``"cluster"``, ``"nobs"``, ``"n_units"``. A row empty for every
        result is left out. ``None`` or ``()`` shows none.
    notes : str or sequence of str, optional
        Notes added after the standard ones.
    simulated : bool, optional
        Label the table SIMULATED. Default (None): label it when any result
        comes from simulated data (see
        :func:`policyeval.data.simulated_label.is_simulated`: a result's
        ``extra["simulated"]`` / ``spec["simulated"]``, or the panel of the
        design it was fitted on). ``False`` for simulated input is refused.
    caption, label : str, optional
        Caption and ``\\label`` for :meth:`ResultsTable.to_latex` (a ``table`` float).

    Returns
    -------
    ResultsTable
        ``str()`` gives text, ``to_html()`` HTML, ``to_latex()`` LaTeX,
        ``frame`` / ``to_frame()`` the cells.

    Raises
    ------
    ArgumentTypeError
        A result without ``params`` / ``std_errors`` / ``pvalues``.
    ArgumentValueError
        ``labels`` of the wrong length, an unknown ``stats`` entry, or a
        ``rename`` that maps two rows of one result to one label.
    DataError
        ``simulated=False`` while a result comes from simulated data.

    See Also
    --------
    summary_latex : the same layout for one result's ``summary().as_latex()``.

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.results import EstimationResult
    >>> twfe = EstimationResult(pd.Series({"treated": 0.12}), pd.Series({"treated": 0.05}),
    ...                         nobs=100, n_units=10, spec={"yname": "log_gdp"}, estimator="TWFE")
    >>> imp = EstimationResult(pd.Series({"overall": 0.1}), pd.Series({"overall": 0.02}),
    ...                        nobs=100, n_units=10, spec={"yname": "log_gdp"}, estimator="BJS")
    >>> print(results_table([twfe, imp], labels=["TWFE", "BJS"]))
    ============================
                 TWFE       BJS
    ----------------------------
    ATT        0.120**  0.100***
               (0.050)   (0.020)
    ----------------------------
    Outcome    log_gdp   log_gdp
    Estimator     TWFE       BJS
    ----------------------------
    N obs.         100       100
    N units         10        10
    ============================
    Standard errors in parentheses.
    * p<0.1, ** p<0.05, *** p<0.01.
    """
    if isinstance(results, Mapping):
        if labels is not None:
            raise ArgumentValueError("labels is for a sequence of results; a mapping already names "
                                     "its columns")
        titles, models = [str(k) for k in results], list(results.values())
    else:
        models = list(results)
        if labels is None:
            titles = [f"({i + 1})" for i in range(len(models))]
        else:
            titles = [str(s) for s in labels]
            if len(titles) != len(models):
                raise ArgumentValueError(f"labels has {len(titles)} entries for {len(models)} results")
    if not models:
        raise ArgumentValueError("results is empty; pass at least one result")
    if len(set(titles)) < len(titles):
        raise ArgumentValueError(f"column titles must differ: {titles}")
    stats = tuple(stats or ())
    unknown = [s for s in stats if s not in STAT_ROWS]
    if unknown:
        raise ArgumentValueError(f"stats={unknown} not among {list(STAT_ROWS)}")
    simulated = resolve_simulated(simulated, models)
    rename = dict(rename or {})

    coefs = []
    for title, res in zip(titles, models):
        frame = _coefficients(res)
        new = [rename.get(t, t) for t in frame.index]
        if len(set(new)) < len(new):
            raise ArgumentValueError(f"rename maps two terms of result {title!r} to the same label: "
                                     f"{list(frame.index)} -> {new}")
        frame.index = new
        coefs.append(frame)
    if terms is None:
        terms = list(dict.fromkeys(t for frame in coefs for t in frame.index))
    terms = [t for t in terms if _selected(str(t), keep, drop)]

    rows: list[str] = []
    cells: list[list[str]] = []
    for term in terms:
        est_row, se_row = [], []
        for frame in coefs:
            if term not in frame.index:
                est_row.append(""), se_row.append("")
                continue
            est, se, p = frame.loc[term, ["estimate", "std_error", "p_value"]]
            est_row.append(f"{est:.{digits}f}{_stars(p) if stars else ''}")
            se_row.append("" if np.isnan(se) else f"({se:.{digits}f})")
        rows += [str(term), ""]
        cells += [est_row, se_row]
    rules = [len(rows)]

    facts = [_facts(r) for r in models]
    described = False
    for key in ("outcome", "estimator", "control_group"):
        if key in stats and any(f[key] for f in facts):
            rows.append(_STAT_TITLES[key])
            cells.append([str(f[key]) for f in facts])
            described = True
    if "fixed_effects" in stats:
        fe_cols = list(dict.fromkeys(c for f in facts for c in (f["fixed_effects"] or [])))
        for col in fe_cols:
            rows.append(f"FE: {col}")
            cells.append(["" if f["fixed_effects"] is None else ("Yes" if col in f["fixed_effects"]
                                                                  else "No") for f in facts])
            described = True
    if "cluster" in stats and any(f["cluster"] for f in facts):
        rows.append(_STAT_TITLES["cluster"])
        cells.append([f["cluster"] for f in facts])
        described = True
    if described:
        rules.append(len(rows))
    for key in ("nobs", "n_units"):
        if key in stats:
            rows.append(_STAT_TITLES[key])
            cells.append(["" if f[key] is None else f"{int(f[key]):,}" for f in facts])

    table = pd.DataFrame(cells, index=rows, columns=titles, dtype=object) if rows else \
        pd.DataFrame(columns=titles, dtype=object)
    note_lines = ["Standard errors in parentheses."]
    if any(type(r).__name__ == "SyntheticControlResult" for r in models):
        note_lines.append("Synthetic control has no standard error; its stars use the in-space "
                          "permutation p-value.")
    if stars:
        note_lines.append("* p<0.1, ** p<0.05, *** p<0.01.")
    if notes:
        note_lines += [notes] if isinstance(notes, str) else [str(n) for n in notes]
    if simulated:
        note_lines[0] = f"{SIMULATED_LABEL}. {note_lines[0]}"
    return ResultsTable(table, "\n".join(note_lines), simulated=simulated, caption=caption,
                        rules=[r for r in rules if r < len(rows)], label=label)


def _selected(term: str, keep, drop) -> bool:
    def any_match(patterns):
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        return any(re.search(p, term) for p in patterns)

    if keep is not None and not any_match(keep):
        return False
    return not (drop is not None and any_match(drop))


def summary_latex(summary, digits: int = 4, *, simulated: bool | None = None) -> str:
    r"""LaTeX of one result's summary in the :func:`results_table` layout.

    ``EstimationResult.summary().as_latex()`` calls this, so a result's own
    LaTeX and a table of several results look alike: estimates with the
    standard error beneath, the summary's facts as rows, its notes as
    ``threeparttable`` notes (never ``%`` comments).

    Parameters
    ----------
    summary : policyeval.results.Summary
        Needs ``title``, ``facts`` (pairs) and ``table``; ``notes`` and
        ``simulated`` are used when present. A table with ``estimate`` and
        ``std_error`` columns is laid out as estimates over (SE); any other
        table (a test, a decomposition) keeps its columns, with the same
        rules and notes.
    digits : int, default 4
        Decimals.
    simulated : bool, optional
        Label SIMULATED; default: the summary's ``simulated`` attribute.

    Returns
    -------
    str

    Examples
    --------
    >>> import pandas as pd
    >>> from policyeval.results import EstimationResult
    >>> r = EstimationResult(pd.Series({"ATT": 0.1}), pd.Series({"ATT": 0.02}),
    ...                      nobs=100, n_units=10, spec={}, estimator="toy")
    >>> tex = summary_latex(r.summary())
    >>> "0.1000$^{***}$" in tex and "(0.0200)" in tex and "\\begin{tablenotes}" in tex
    True
    """
    table = summary.table
    flag = getattr(summary, "simulated", None) if simulated is None else simulated
    flag = resolve_simulated(flag if isinstance(flag, bool) else None, summary)
    if not {"estimate", "std_error"} <= set(table.columns):
        # a test or a decomposition, not estimates: its own columns, same rules and notes
        frame = table.copy()
        for col in frame.columns:
            if pd.api.types.is_float_dtype(frame[col]):
                frame[col] = frame[col].map(lambda v: "" if pd.isna(v) else f"{v:.{digits}f}")
        frame = frame.astype(object).fillna("")
        frame.index = [", ".join(map(_fmt_value, i)) if isinstance(i, tuple) else _fmt_value(i)
                       for i in frame.index]
        frame.columns = [str(c) for c in frame.columns]
        n = len(frame)
        facts = pd.DataFrame([[str(v)] + [""] * (frame.shape[1] - 1) for _, v in summary.facts],
                             index=[str(k) for k, _ in summary.facts], columns=frame.columns, dtype=object)
        note_lines = [str(n_) for n_ in getattr(summary, "notes", [])] or [summary.title]
        if flag:
            note_lines.insert(0, SIMULATED_LABEL + ".")
        out = ResultsTable(pd.concat([frame, facts]) if len(facts) and frame.shape[1] else frame,
                           "\n".join(note_lines), simulated=flag, rules=[n] if len(facts) else [],
                           caption=None)
        return out.to_latex()
    p = table["p_value"] if "p_value" in table else pd.Series(np.nan, index=table.index)
    labels = _term_labels(table.index)
    rows, cells = [], []
    for lab, est, se, pv in zip(labels, table["estimate"], table["std_error"], p):
        rows += [lab, ""]
        cells += [[f"{est:.{digits}f}{_stars(pv)}"], ["" if pd.isna(se) else f"({se:.{digits}f})"]]
    rules = [len(rows)]
    for key, value in getattr(summary, "facts", []):
        rows.append(str(key))
        cells.append([str(value)])
    frame = pd.DataFrame(cells, index=rows, columns=[summary.title], dtype=object)
    note_lines = ["Standard errors in parentheses. * p<0.1, ** p<0.05, *** p<0.01."]
    note_lines += [str(n) for n in getattr(summary, "notes", [])]
    if flag:
        note_lines[0] = f"{SIMULATED_LABEL}. {note_lines[0]}"
    table_obj = ResultsTable(frame, "\n".join(note_lines), simulated=flag,
                             rules=[r for r in rules if r < len(rows)])
    return table_obj.to_latex()
