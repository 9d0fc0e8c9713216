"""DuckDB engine: the sufficient statistics of :mod:`policyeval.scale.sufficient` as SQL.

DuckDB scans Parquet/CSV files (or any relation) in parallel and spills
large hash aggregations to disk, so the per-unit ``GROUP BY`` of a
20-million-firm panel runs in bounded memory (``memory_limit``). Every query
returns a handful of numbers; nothing row-level comes back to Python.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from policyeval.exceptions import (
    ArgumentTypeError,
    ColumnNotFoundError,
    DataError,
    DuplicateObservationError,
    NonNumericValueError,
    TreatmentTimingError,
    require_optional,
)
from policyeval.scale.sufficient import Feature, PanelFacts, PanelSpec, examples

__all__ = ["DuckDBEngine"]

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
            "UBIGINT", "FLOAT", "DOUBLE", "REAL", "DECIMAL")


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _num(x) -> str:
    # an explicit DOUBLE: DuckDB reads a bare literal such as 0.07288468558633981 as a DECIMAL, and
    # DECIMAL arithmetic on every row made the score pass several times slower
    return f"{float(x)!r}::DOUBLE"


class DuckDBEngine:
    """Sufficient statistics computed by DuckDB.

    Parameters
    ----------
    source : str, pathlib.Path or duckdb.DuckDBPyRelation
        A Parquet/CSV file, a folder of yearly files (checked by
        :func:`policyeval.scale.streaming.scan_folder`), or a relation.
    memory_limit : str
        DuckDB's ``memory_limit`` for connections this engine opens (larger
        aggregations spill to ``temp_directory``).
    threads : int, optional
        DuckDB worker threads (default: DuckDB's choice).
    progress : bool
        Report each pass on stderr.
    """

    name = "duckdb"

    def __init__(self, source, *, memory_limit: str = "4GB", threads: int | None = None,
                 temp_directory: str | None = None, progress: bool = False, years=None) -> None:
        duckdb = require_optional("duckdb", "scale", "Out-of-core estimation with DuckDB")

        self.progress = progress
        self.files: list[str] | None = None
        if isinstance(source, duckdb.DuckDBPyRelation):
            self.rel = source
        elif isinstance(source, (str, os.PathLike)):
            from policyeval.scale.streaming import scan_folder

            folder = scan_folder(source, years=years)
            self.files = [str(f) for f in folder.files]
            con = duckdb.connect()
            con.execute(f"SET memory_limit = '{memory_limit}'")
            con.execute(f"SET temp_directory = '{temp_directory or tempfile.gettempdir()}'")
            con.execute("SET preserve_insertion_order = false")
            if threads:
                con.execute(f"SET threads = {int(threads)}")
            if progress:
                # DuckDB's own bar shows progress within each long scan
                con.execute("SET enable_progress_bar = true")
            files = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in self.files) + "]"
            reader = "read_parquet" if folder.format == "parquet" else "read_csv"
            extra = ", filename = true" + (", union_by_name = false" if reader == "read_parquet" else "")
            self.con = con
            self.rel = con.sql(f"SELECT * FROM {reader}({files}{extra})")
        else:
            raise ArgumentTypeError(f"source must be a path or a duckdb relation, got {type(source).__name__}")
        self.types = dict(zip(self.rel.columns, [str(t).upper() for t in self.rel.types]))

    # ------------------------------------------------------------------
    def _run(self, sql: str, label: str = ""):
        if self.progress and label:
            import sys

            print(f"[policyeval.scale duckdb] {label} ...", file=sys.stderr, flush=True)
        return self.rel.query("src", sql).fetchall()

    def _check_columns(self, spec: PanelSpec):
        named = [("yname", spec.yname), ("tname", spec.tname), ("idname", spec.idname)]
        named += [("gname", spec.gname), ("treatment", spec.treatment), ("cluster", spec.cluster)]
        named += [("covariates", c) for c in spec.covariates] + [("weights", spec.weights)]
        named += [("cluster", c) for c in spec.clusters]
        for arg, col in named:
            if col is not None and col not in self.types:
                raise ColumnNotFoundError(f"{arg}={col!r} is not a column of the data; available columns: "
                                          f"{examples([c for c in self.types if c != 'filename'], 12)}")
        for arg, col in [("yname", spec.yname), ("tname", spec.tname), ("gname", spec.gname),
                         ("treatment", spec.treatment), ("weights", spec.weights)] + \
                [("covariates", c) for c in spec.covariates]:
            if col is not None and not self.types[col].startswith(_NUMERIC):
                raise NonNumericValueError(f"{arg}={col!r} must be numeric; its type is {self.types[col]}")

    def _g(self, spec: PanelSpec) -> str:
        g = _q(spec.gname)
        late = f" OR {g} > {int(spec.last_period)}" if spec.last_period is not None else ""
        return f"(CASE WHEN {g} IS NULL OR isnan({g}::DOUBLE){late} THEN 0 ELSE {g}::DOUBLE END)"

    def _feature(self, f: Feature, spec: PanelSpec) -> str:
        t = f"{_q(spec.tname)}::DOUBLE"
        if f.kind == "col":
            return f"{_q(f.arg)}::DOUBLE"
        g = self._g(spec)
        if f.kind == "treated":
            return f"(CASE WHEN {g} > 0 AND {t} >= {g} THEN 1.0 ELSE 0.0 END)"
        k, op = f.arg
        cmp = {"eq": "=", "le": "<=", "ge": ">="}[op]
        return f"(CASE WHEN {g} > 0 AND {t} - {g} {cmp} {int(k)} THEN 1.0 ELSE 0.0 END)"

    # ------------------------------------------------------------------
    def facts(self, spec: PanelSpec) -> PanelFacts:
        self._check_columns(spec)
        i, t = _q(spec.idname), _q(spec.tname)
        used = [("yname", spec.yname)] + [("covariates", c) for c in spec.covariates]
        if spec.treatment:
            used.append(("treatment", spec.treatment))
        if spec.weights:
            used.append(("weights", spec.weights))
        cl_checks = "".join(f"count(*) FILTER (WHERE {_q(c)} IS NULL), " for c in spec.clusters)
        w_check = f"count(*) FILTER (WHERE {_q(spec.weights)} <= 0), " if spec.weights else "0, "
        miss = ", ".join(f"count(*) FILTER (WHERE {_q(c)} IS NULL OR NOT isfinite({_q(c)}::DOUBLE))"
                         for _, c in used)
        row = self._run(
            f"SELECT count(*), count(*) FILTER (WHERE {i} IS NULL), count(*) FILTER (WHERE {t} IS NULL), "
            f"count(*) FILTER (WHERE {t}::DOUBLE <> round({t}::DOUBLE)), "
            + (f"count(*) FILTER (WHERE {_q(spec.gname)} < 0), " if spec.gname else "0, ")
            + (f"count(*) FILTER (WHERE {_q(spec.cluster)} IS NULL), " if spec.cluster else "0, ")
            + cl_checks + w_check + miss + " FROM src", "checks")[0]
        n_rows, id_na, t_na, t_frac, g_neg, cl_na, *rest = row
        cls_na, (w_bad, *missing) = rest[:len(spec.clusters)], rest[len(spec.clusters):]
        if id_na:
            raise DataError(f"idname={spec.idname!r} is missing in {id_na} rows")
        if t_na:
            raise DataError(f"tname={spec.tname!r} is missing in {t_na} rows")
        if t_frac:
            bad = self._run(f"SELECT DISTINCT {t} FROM src WHERE {t}::DOUBLE <> round({t}::DOUBLE) LIMIT 3")
            raise DataError(f"tname={spec.tname!r} must hold integer periods; found non-integer values "
                            f"{examples([b[0] for b in bad])}")
        if g_neg:
            raise TreatmentTimingError(f"gname={spec.gname!r} must be the first treated period or 0 for never "
                                       f"treated; found negative values in {g_neg} rows")
        if cl_na:
            raise DataError(f"cluster={spec.cluster!r} is missing in {cl_na} rows")
        for c, m in zip(spec.clusters, cls_na):
            if m:
                raise DataError(f"cluster={c!r} is missing in {m} rows")
        for (arg, col), m in zip(used, missing):
            if m:
                ids = self._run(f"SELECT {i} FROM src WHERE {_q(col)} IS NULL OR NOT isfinite({_q(col)}::DOUBLE) "
                                "LIMIT 3")
                raise DataError(
                    f"{arg}={col!r} has {m} missing or infinite values (e.g. {spec.idname} "
                    f"{examples([r[0] for r in ids])}); the out-of-core path drops no rows: remove or impute "
                    "them first")
        if w_bad:
            ids = self._run(f"SELECT {i}, {_q(spec.weights)} FROM src WHERE {_q(spec.weights)} <= 0 LIMIT 3")
            raise DataError(f"weights={spec.weights!r} has {w_bad} non-positive values (e.g. "
                            f"{examples([r[1] for r in ids])}) in units (e.g. {examples([r[0] for r in ids])}); "
                            "weights must be > 0")
        periods = np.array(sorted(int(r[0]) for r in self._run(f"SELECT DISTINCT {t} FROM src", "periods")))
        T = len(periods)
        graw = _q(spec.gname) if spec.gname else None
        gnorm = (f"(CASE WHEN {graw} IS NULL OR isnan({graw}::DOUBLE) THEN 0 ELSE {graw}::DOUBLE END)"
                 if graw else "0")
        cl = _q(spec.cluster) if spec.cluster else "NULL"
        d = _q(spec.treatment) if spec.treatment else None
        dcols = (f", max(CASE WHEN {d} = 0 THEN {t} END) AS last0, min(CASE WHEN {d} = 1 THEN {t} END) AS first1, "
                 f"min({d}) AS dmin, count(*) FILTER (WHERE {d} NOT IN (0, 1)) AS dbad") if d else \
            ", NULL AS last0, NULL AS first1, 0 AS dmin, 0 AS dbad"
        wcols = (f", min({_q(spec.weights)}::DOUBLE) AS wmin, max({_q(spec.weights)}::DOUBLE) AS wmax"
                 if spec.weights else ", 0 AS wmin, 0 AS wmax")
        ccols = "".join(f", min({_q(c)}) AS cmin{j}, max({_q(c)}) AS cmax{j}" for j, c in enumerate(spec.clusters))
        pu = (f"SELECT {i} AS id, count(*) AS n, count(DISTINCT {t}) AS nt, min({t}) AS tmin, min({gnorm}) AS gmin, "
              f"max({gnorm}) AS gmax, min({cl}) AS clmin, max({cl}) AS clmax{dcols}{wcols}{ccols} FROM src GROUP BY {i}")
        cagg = "".join(f", count(*) FILTER (WHERE cmin{j} <> cmax{j}), count(DISTINCT cmin{j})"
                       for j in range(len(spec.clusters)))
        agg = self._run(
            f"WITH pu AS ({pu}) SELECT count(*), count(*) FILTER (WHERE n > nt), count(*) FILTER (WHERE nt < {T}), "
            "count(*) FILTER (WHERE gmin <> gmax), count(*) FILTER (WHERE clmin <> clmax), "
            "count(DISTINCT clmin), sum(dbad), count(*) FILTER (WHERE last0 > first1), "
            "count(*) FILTER (WHERE dmin = 1), histogram(gmin), count(*) FILTER (WHERE wmin <> wmax), "
            f"count(*) FILTER (WHERE gmin > 0 AND tmin >= gmin){cagg} FROM pu", "per-unit checks")[0]
        (n_units, n_dup, n_unbal, n_gvar, n_clvar, n_cl, dbad, n_off, n_always, hist, n_wvar, always_g,
         *cagg_out) = agg
        if n_dup:
            self._raise_duplicates(spec, n_dup)
        if n_gvar:
            ids = self._run(f"WITH pu AS ({pu}) SELECT id FROM pu WHERE gmin <> gmax ORDER BY id LIMIT 3")
            raise TreatmentTimingError(
                f"gname={spec.gname!r} varies within idname={spec.idname!r} for {n_gvar} units "
                f"(e.g. {examples([r[0] for r in ids])}); treatment timing must be constant per unit.")
        if n_clvar:
            ids = self._run(f"WITH pu AS ({pu}) SELECT id FROM pu WHERE clmin <> clmax ORDER BY id LIMIT 3")
            raise DataError(f"cluster={spec.cluster!r} varies within idname={spec.idname!r} for {n_clvar} units "
                            f"(e.g. {examples([r[0] for r in ids])}); clusters must be the unit or a coarser "
                            "level, constant within unit")
        if dbad:
            raise DataError(f"treatment={spec.treatment!r} must be 0/1; {dbad} rows hold other values")
        if n_off:
            ids = self._run(f"WITH pu AS ({pu}) SELECT id FROM pu WHERE last0 > first1 ORDER BY id LIMIT 3")
            raise TreatmentTimingError(
                f"treatment={spec.treatment!r} switches off (1 then 0) within idname={spec.idname!r} for "
                f"{n_off} units (e.g. {examples([r[0] for r in ids])}); staggered DiD needs an absorbing "
                "treatment.")
        if n_wvar:
            ids = self._run(f"WITH pu AS ({pu}) SELECT id FROM pu WHERE wmin <> wmax ORDER BY id LIMIT 3")
            raise DataError(
                f"weights={spec.weights!r} varies within idname={spec.idname!r} for {n_wvar} units (e.g. "
                f"{examples([r[0] for r in ids])}); out of core, weights must be constant within unit "
                "(sampling weights of firms); use the in-memory path for row-level weights")
        if n_unbal and spec.require_balanced:
            ids = self._run(f"WITH pu AS ({pu}) SELECT id, nt FROM pu WHERE nt < {T} ORDER BY id LIMIT 3")
            raise DataError(
                f"unbalanced panel: {n_unbal} units of idname={spec.idname!r} are not observed in all {T} "
                f"periods of tname={spec.tname!r} (e.g. {', '.join(f'{r[0]} ({r[1]} periods)' for r in ids)}). "
                "The out-of-core path needs a balanced panel (the two-way within transform is then exact "
                "from unit and period means); drop or complete these units first, or use the in-memory path.")
        cohorts = pd.Series({float(k): int(v) for k, v in dict(hist).items()}, dtype=np.int64).sort_index() \
            if spec.gname else None
        n_late = 0
        if cohorts is not None:
            late = cohorts.index > periods.max()
            n_late = int(cohorts[late].sum())
            if n_late:
                cohorts = pd.concat([cohorts[~late], pd.Series({0.0: n_late})]).groupby(level=0).sum()
        notes = []
        if n_late and spec.treatment is None:
            notes.append(f"{n_late} units first treated after the last period {periods.max()} are never "
                         "treated within the sample and serve as controls.")
        n_clusters = int(n_cl) if spec.cluster and spec.cluster != spec.idname else int(n_units)
        return PanelFacts(int(n_rows), int(n_units), periods, n_clusters, cohorts, always_treated=int(n_always),
                          notes=notes, n_late=n_late, n_unbalanced=int(n_unbal), always_g=int(always_g or 0),
                          cluster_unit_var=tuple(int(v) for v in cagg_out[0::2]),
                          cluster_levels=tuple(int(v) for v in cagg_out[1::2]))

    def _raise_duplicates(self, spec, n_dup):
        i, t = _q(spec.idname), _q(spec.tname)
        fname = "list(DISTINCT filename)" if "filename" in self.types else "NULL"
        rows = self._run(f"SELECT {i}, {t}, count(*), {fname} FROM src GROUP BY {i}, {t} HAVING count(*) > 1 "
                         f"ORDER BY {i}, {t} LIMIT 3")
        where = "; ".join(f"({r[0]}, {r[1]}) x{r[2]}" + (f" in {', '.join(Path(f).name for f in r[3])}"
                                                             if r[3] else "") for r in rows)
        raise DuplicateObservationError(
            f"{n_dup} units have more than one row for a ({spec.idname}, {spec.tname}) pair, e.g. {where}; "
            "keep one row per unit and period")

    # ------------------------------------------------------------------
    def _demeaned(self, spec, features, means, cols=None) -> str:
        """SQL of the rows with u = feature - period mean (and y last), joined to a T-row table."""
        exprs = [self._feature(f, spec) for f in features] + [f"{_q(spec.yname)}::DOUBLE"]
        periods = self._periods
        values = ", ".join("(" + ", ".join([str(int(p))] + [_num(v) for v in row]) + ")"
                           for p, row in zip(periods, means))
        names = ", ".join(f"m{j}" for j in range(len(exprs)))
        extra = f", {_q(spec.cluster)} AS cl" if cols == "cluster" and spec.cluster else ""
        u = ", ".join(f"({e} - tm.m{j}) AS u{j}" for j, e in enumerate(exprs))
        return (f"SELECT {_q(spec.idname)} AS unit{extra}, {u} FROM src JOIN (VALUES {values}) "
                f"AS tm(tt, {names}) ON {_q(spec.tname)} = tm.tt")

    def time_means(self, spec: PanelSpec, features: Sequence[Feature]) -> np.ndarray:
        exprs = [self._feature(f, spec) for f in features] + [f"{_q(spec.yname)}::DOUBLE"]
        rows = self._run(f"SELECT {_q(spec.tname)}, " + ", ".join(f"avg({e})" for e in exprs)
                         + f" FROM src GROUP BY {_q(spec.tname)} ORDER BY {_q(spec.tname)}", "period means")
        self._periods = [r[0] for r in rows]
        return np.array([r[1:] for r in rows], dtype=float)

    def within_gram(self, spec, features, means):
        p = len(features) + 1
        pairs = [(a, b) for a in range(p) for b in range(a, p)]
        rows_sql = self._demeaned(spec, features, means)
        r1 = self._run(f"WITH r AS ({rows_sql}) SELECT " + ", ".join(f"sum(u{a} * u{b})" for a, b in pairs)
                       + " FROM r", "within pass: rows")[0]
        sums = ", ".join(f"sum(u{j}) AS s{j}" for j in range(p))
        r2 = self._run(f"WITH r AS ({rows_sql}), pu AS (SELECT unit, {sums}, count(*) AS n FROM r GROUP BY unit) "
                       "SELECT " + ", ".join(f"sum(s{a} * s{b} / n)" for a, b in pairs) + " FROM pu",
                       "within pass: units")[0]
        return _sym(r1, p), _sym(r2, p)

    def score_gram(self, spec, features, means, beta):
        k = len(features)
        rows_sql = self._demeaned(spec, features, means, cols="cluster")
        r = f"(u{k} - (" + " + ".join(f"{_num(b)} * u{j}" for j, b in enumerate(beta)) + "))"
        by_cluster = spec.cluster is not None and spec.cluster != spec.idname
        cl = ", any_value(cl) AS cl" if by_cluster else ""
        pu = (f"SELECT unit{cl}, " + ", ".join(f"sum(u{j} * {r}) AS a{j}, sum(u{j}) AS b{j}" for j in range(k))
              + f", sum({r}) AS sr, count(*) AS n FROM rr GROUP BY unit")
        score = ", ".join(f"a{j} - b{j} * sr / n AS s{j}" for j in range(k))
        if by_cluster:
            top = "SELECT cl, " + ", ".join(f"sum(a{j} - b{j} * sr / n) AS s{j}" for j in range(k)) \
                + " FROM pu GROUP BY cl"
        else:
            top = f"SELECT {score} FROM pu"
        pairs = [(a, b) for a in range(k) for b in range(a, k)]
        out = self._run(f"WITH rr AS ({rows_sql}), pu AS ({pu}), sc AS ({top}) SELECT "
                        + ", ".join(f"sum(s{a} * s{b})" for a, b in pairs) + " FROM sc", "score pass")[0]
        return _sym(out, k)

    # ------------------------------------------------------------------
    # unbalanced and/or weighted panels, any clustering (see sufficient.fit_within and two_way_effects)
    def _rows(self, spec, features, periods, effects=None, clusters=()) -> str:
        """Rows with the period bit, the weight and z = (features, y), minus ``effects[t]`` if given."""
        exprs = [self._feature(f, spec) for f in features] + [f"{_q(spec.yname)}::DOUBLE"]
        p = len(exprs)
        vals = []
        for j, per in enumerate(periods):
            row = [str(int(per)), f"{1 << j}::BIGINT"]
            if effects is not None:
                row += [_num(v) for v in effects[j]]
            vals.append("(" + ", ".join(row) + ")")
        names = "tt, bit" + "".join(f", m{j}" for j in range(p) if effects is not None)
        w = f"{_q(spec.weights)}::DOUBLE" if spec.weights else "1.0"
        z = ", ".join(f"({e} - tm.m{j}) AS z{j}" if effects is not None else f"{e} AS z{j}"
                      for j, e in enumerate(exprs))
        cl = "".join(f", {_q(c)} AS c{j}" for j, c in enumerate(clusters))
        return (f"SELECT {_q(spec.idname)} AS unit, tm.tt AS t, tm.bit AS bit, {w} AS w{cl}, {z} FROM src "
                f"JOIN (VALUES {', '.join(vals)}) AS tm({names}) ON {_q(spec.tname)} = tm.tt")

    def pattern_moments(self, spec, features, periods):
        """Weighted sums by period and by unit pattern (bitmask of periods observed).

        Returns ``(wt, zt, zz, masks, cm, rm, uu)``: per period ``sum w`` (T) and
        ``sum w z`` (T x P); ``sum w z z'``; per distinct pattern its bitmask,
        ``sum_i w_i / T_i`` and ``sum_i w_i Z_i / T_i`` (``Z_i`` the unit sum of z);
        and ``sum_i w_i Z_i Z_i' / T_i``. The weight is constant within unit (checked).
        """
        P = len(features) + 1
        pairs = [(a, b) for a in range(P) for b in range(a, P)]
        rows = self._rows(spec, features, periods)
        per = self._run(f"WITH r AS ({rows}) SELECT t, sum(w), " + ", ".join(f"sum(w * z{j})" for j in range(P))
                        + ", " + ", ".join(f"sum(w * z{a} * z{b})" for a, b in pairs)
                        + " FROM r GROUP BY t ORDER BY t", "pattern pass: periods")
        pos = {int(v): j for j, v in enumerate(periods)}
        T = len(periods)
        wt, zt = np.zeros(T), np.zeros((T, P))
        zz = np.zeros(len(pairs))
        for r in per:
            j = pos[int(r[0])]
            wt[j] = r[1]
            zt[j] = r[2:2 + P]
            zz += np.asarray(r[2 + P:], dtype=float)
        sums = ", ".join(f"sum(z{j}) AS s{j}" for j in range(P))
        pu = f"SELECT unit, sum(bit) AS mask, count(*) AS n, min(w) AS w, {sums} FROM r GROUP BY unit"
        mrows = self._run(
            f"WITH r AS ({rows}), pu AS ({pu}) SELECT mask, sum(w / n), "
            + ", ".join(f"sum(w * s{j} / n)" for j in range(P)) + ", "
            + ", ".join(f"sum(w * s{a} * s{b} / n)" for a, b in pairs)
            + " FROM pu GROUP BY mask", "pattern pass: units")
        masks = np.array([r[0] for r in mrows], dtype=np.int64)
        cm = np.array([r[1] for r in mrows], dtype=float)
        rm = np.array([r[2:2 + P] for r in mrows], dtype=float).reshape(len(mrows), P)
        uu = np.asarray([r[2 + P:] for r in mrows], dtype=float).sum(axis=0)
        return wt, zt, _sym(zz, P), masks, cm, rm, _sym(uu, P)

    def constant_within_period(self, spec, column) -> bool:
        """True when ``column`` takes one value per period (the period effect is nested in it)."""
        t, c = _q(spec.tname), _q(column)
        return not self._run(f"SELECT count(*) FROM (SELECT {t}, min({c}) AS a, max({c}) AS b FROM src "
                             f"GROUP BY {t}) WHERE a <> b", "cluster nesting")[0][0]

    def event_times(self, spec):
        """Distinct event times ``t - g`` on the rows of treated units (``g`` late-recoded)."""
        g, t = self._g(spec), _q(spec.tname)
        rows = self._run(f"SELECT DISTINCT {t}::DOUBLE - g FROM (SELECT {t}, {g} AS g FROM src) WHERE g > 0",
                         "event times")
        return np.sort(np.array([r[0] for r in rows], dtype=float)).astype(np.int64)

    def cluster_meats(self, spec, features, periods, effects, beta, clusters, in_unit):
        """``[(subset, sum_g S_g S_g', G)]`` for every non-empty subset of the cluster columns.

        ``S_g`` sums the scores :math:`w_{it}\tilde x_{it}\tilde e_{it}` over the rows of
        group ``g``; ``z~ = v - (unit mean of v)`` with ``v = z - effects[t]``. When every
        column is constant within unit (``in_unit``) the scores are summed per unit first;
        otherwise each row's score needs its unit's means, joined back.
        """
        k = len(features)
        beta = np.asarray(beta, dtype=float)
        rows = self._rows(spec, features, periods, effects, clusters)
        r = f"(z{k} - (" + " + ".join(f"{_num(b)} * z{j}" for j, b in enumerate(beta)) + "))"
        cn = [f"c{j}" for j in range(len(clusters))]
        if all(in_unit):
            anyv = "".join(f", any_value({c}) AS {c}" for c in cn)
            pu = (f"SELECT unit{anyv}, " + ", ".join(f"sum(w * z{j} * {r}) AS a{j}, sum(w * z{j}) AS b{j}"
                                                    for j in range(k))
                  + f", sum(w * {r}) AS sr, sum(w) AS sw FROM rr GROUP BY unit")
            sc = f"SELECT {', '.join(cn)}, " + ", ".join(f"a{j} - b{j} * sr / sw AS s{j}" for j in range(k)) \
                + " FROM pu"
        else:
            pu = (f"SELECT unit, " + ", ".join(f"sum(w * z{j}) / sum(w) AS mx{j}" for j in range(k))
                  + f", sum(w * {r}) / sum(w) AS mr FROM rr GROUP BY unit")
            sc = (f"SELECT {', '.join(cn)}, " + ", ".join(f"w * (z{j} - mx{j}) * ({r} - mr) AS s{j}"
                                                         for j in range(k))
                  + " FROM rr JOIN pu USING (unit)")
        subsets = [tuple(j for j in range(len(cn)) if m >> j & 1) for m in range(1, 2 ** len(cn))]
        sets = ", ".join("(" + ", ".join(cn[j] for j in sub) + ")" for sub in subsets)
        pairs = [(a, b) for a in range(k) for b in range(a, k)]
        if len(cn) == 1:        # one dimension: a plain GROUP BY (GROUPING SETS plans slower)
            gid, grouping = "0", f"GROUP BY {cn[0]}"
        else:
            gid, grouping = f"grouping_id({', '.join(cn)})", f"GROUP BY GROUPING SETS ({sets})"
        out = self._run(
            f"WITH rr AS ({rows}), pu AS ({pu}), sc AS ({sc}), g AS (SELECT {gid} AS gid, "
            + ", ".join(f"sum(s{j}) AS s{j}" for j in range(k))
            + f" FROM sc {grouping}) SELECT gid, count(*), "
            + ", ".join(f"sum(s{a} * s{b})" for a, b in pairs) + " FROM g GROUP BY gid", "cluster score pass")
        by_gid = {int(o[0]): o for o in out}
        res = []
        for sub in subsets:
            # grouping_id sets the bit of every column *not* grouped; the last column is bit 0
            gidv = sum(1 << (len(cn) - 1 - j) for j in range(len(cn)) if j not in sub)
            o = by_gid[gidv]
            res.append((sub, _sym(o[2:], k), int(o[1])))
        return res

    # ------------------------------------------------------------------
    def _unit_paths(self, spec, periods, drop_before, extra=""):
        g, t, y = self._g(spec), _q(spec.tname), _q(spec.yname)
        cols = ", ".join(f"sum(CASE WHEN {t} = {int(p)} THEN {y}::DOUBLE END) AS y{j}" for j, p in enumerate(periods))
        keep = ", ".join(str(int(p)) for p in periods)
        return (f"SELECT {_q(spec.idname)} AS id, any_value({g}) AS g{extra}, {cols} FROM src "
                f"WHERE {t} IN ({keep}) GROUP BY {_q(spec.idname)}")

    def cohort_moments(self, spec, periods, drop_before):
        T = len(periods)
        pu = self._unit_paths(spec, periods, drop_before)
        pairs = [(a, b) for a in range(T) for b in range(a, T)]
        rows = self._run(
            f"WITH pu AS ({pu}) SELECT g, count(*), " + ", ".join(f"sum(y{j})" for j in range(T)) + ", "
            + ", ".join(f"sum(y{a} * y{b})" for a, b in pairs)
            + f" FROM pu WHERE NOT (g > 0 AND g <= {int(drop_before)}) GROUP BY g ORDER BY g", "cohort moments")
        g = np.array([r[0] for r in rows], dtype=float)
        n = np.array([r[1] for r in rows], dtype=np.int64)
        S = np.array([r[2:2 + T] for r in rows], dtype=float)
        Q = np.stack([_sym(r[2 + T:], T) for r in rows])
        return g, n, S, Q

    def _feature_units(self, spec, periods, drop_before, with_cluster=False):
        covs = list(spec.covariates)
        q, T = len(covs) + 1, len(periods)
        xs = "".join(f", min({_q(c)}::DOUBLE) AS xmin{j + 1}, max({_q(c)}::DOUBLE) AS x{j + 1}"
                     for j, c in enumerate(covs))
        cl = f", any_value({_q(spec.cluster)}) AS cl" if with_cluster else ""
        pu = self._unit_paths(spec, periods, drop_before, extra=xs + cl)
        x = ["1.0"] + [f"x{j}" for j in range(1, q)]
        feats = [f"{x[j]} * y{s}" if kind == "y" else f"{x[j]} * {x[s]}"
                 for j, s, kind in feature_names(q, T)]
        var = " OR ".join(f"xmin{j} <> x{j}" for j in range(1, q))
        body = (f"SELECT g{', cl' if with_cluster else ''}, ({var}) AS xvar, "
                + ", ".join(f"{e} AS f{a}" for a, e in enumerate(feats))
                + f" FROM pu WHERE NOT (g > 0 AND g <= {int(drop_before)})")
        return pu, body, len(feats)

    def partial_units(self, spec, periods, drop_before):
        """``(units, rows, example ids)`` of the units missing in some of ``periods`` (always-treated left out)."""
        g, t, i = self._g(spec), _q(spec.tname), _q(spec.idname)
        keep = ", ".join(str(int(p)) for p in periods)
        row = self._run(f"SELECT count(*), sum(n), (list(id ORDER BY id))[1:4] FROM (SELECT {i} AS id, count(*) AS n, "
                        f"any_value({g}) AS g FROM src WHERE {t} IN ({keep}) GROUP BY {i}) "
                        f"WHERE n < {len(periods)} AND NOT (g > 0 AND g <= {int(drop_before)})", "partial units")[0]
        return int(row[0]), int(row[1] or 0), list(row[2] or [])

    def complete_units(self, spec, periods):
        """An engine on the rows of the units observed in every one of ``periods``."""
        t, i = _q(spec.tname), _q(spec.idname)
        keep = ", ".join(str(int(p)) for p in periods)
        rel = self.rel.query("src", f"SELECT * FROM src WHERE {i} IN (SELECT {i} FROM src WHERE {t} IN ({keep}) "
                                    f"GROUP BY {i} HAVING count(*) = {len(periods)})")
        out = DuckDBEngine(rel, progress=self.progress)
        out.files = self.files
        return out

    def unit_table(self, spec, periods, drop_before, folder):
        """Write one row per unit (``id, g[, cl], xmin1, x1, ..., y0, ...``) to ``folder``; return its path.

        The per-unit table of the propensity-score estimators (IPW, DR): they need
        a few passes over units, each cheaper than a pass over the rows.
        """
        covs = list(spec.covariates)
        xs = "".join(f", min({_q(c)}::DOUBLE) AS xmin{j + 1}, max({_q(c)}::DOUBLE) AS x{j + 1}"
                     for j, c in enumerate(covs))
        cl = f", any_value({_q(spec.cluster)}) AS cl" if spec.cluster else ""
        pu = self._unit_paths(spec, periods, drop_before, extra=xs + cl)
        path = os.path.join(str(folder), "units.parquet")
        if self.progress:
            print("[policyeval.scale duckdb] unit table ...", file=sys.stderr, flush=True)
        self.rel.query("src", f"SELECT * FROM ({pu}) WHERE NOT (g > 0 AND g <= {int(drop_before)})"
                       ).write_parquet(path)
        return path

    def _check_invariant(self, spec, pu, n_var):
        if n_var:
            covs = list(spec.covariates)
            cond = " OR ".join(f"xmin{j + 1} <> x{j + 1}" for j in range(len(covs)))
            ids = self._run(f"WITH pu AS ({pu}) SELECT id FROM pu WHERE {cond} ORDER BY id LIMIT 3")
            raise DataError(
                f"covariates={covs} vary within idname={spec.idname!r} for {int(n_var)} units (e.g. "
                f"{examples([r[0] for r in ids])}); out of core, Callaway-Sant'Anna takes time-invariant "
                "covariates only")

    def cohort_feature_moments(self, spec, periods, drop_before):
        """Per cohort: units, sums and cross-products of the regression features (see sufficient)."""
        pu, body, nf = self._feature_units(spec, periods, drop_before)
        pairs = [(a, b) for a in range(nf) for b in range(a, nf)]
        rows = self._run(
            f"WITH pu AS ({pu}), f AS ({body}) SELECT g, count(*), count(*) FILTER (WHERE xvar), "
            + ", ".join(f"sum(f{a})" for a in range(nf)) + ", "
            + ", ".join(f"sum(f{a} * f{b})" for a, b in pairs) + " FROM f GROUP BY g ORDER BY g",
            "cohort feature moments")
        self._check_invariant(spec, pu, sum(r[2] for r in rows))
        g = np.array([r[0] for r in rows], dtype=float)
        n = np.array([r[1] for r in rows], dtype=np.int64)
        F = np.array([r[3:3 + nf] for r in rows], dtype=float)
        FF = np.stack([_sym(r[3 + nf:], nf) for r in rows])
        return g, n, F, FF

    def cluster_cohort_feature_sums(self, spec, periods, drop_before):
        pu, body, nf = self._feature_units(spec, periods, drop_before, with_cluster=True)
        rows = self._run(f"WITH pu AS ({pu}), f AS ({body}) SELECT cl, g, count(*), "
                         + ", ".join(f"sum(f{a})" for a in range(nf)) + " FROM f GROUP BY cl, g ORDER BY cl, g",
                         "cluster x cohort feature sums")
        cl = pd.factorize(pd.Series([r[0] for r in rows]))[0].astype(np.intp)
        return (cl, np.array([r[1] for r in rows], dtype=float), np.array([r[2] for r in rows], dtype=float),
                np.array([r[3:] for r in rows], dtype=float))

    def cluster_cohort_sums(self, spec, periods, drop_before):
        g, t, y = self._g(spec), _q(spec.tname), _q(spec.yname)
        keep = ", ".join(str(int(p)) for p in periods)
        rows = self._run(
            f"SELECT cl, g, tt, sum(y), count(*) FROM (SELECT {_q(spec.cluster)} AS cl, {g} AS g, {t} AS tt, "
            f"{y}::DOUBLE AS y FROM src WHERE {t} IN ({keep})) WHERE NOT (g > 0 AND g <= {int(drop_before)}) "
            "GROUP BY cl, g, tt", "cluster x cohort sums")
        frame = pd.DataFrame(rows, columns=["cl", "g", "t", "s", "n"])
        return _pairs(frame, periods)


def feature_names(q: int, T: int) -> list[tuple[int, int, str]]:
    """Order of the regression features: (j, s, "y") for x_j*Y_s, then (j, m, "x") for x_j*x_m."""
    return [(j, s, "y") for j in range(q) for s in range(T)] + [(j, m, "x") for j in range(q) for m in range(q)]


def _pairs(frame: pd.DataFrame, periods):
    """(cluster code, cohort, count, T sums) per (cluster, cohort) from long (cl, g, t, s, n) sums."""
    wide = frame.pivot_table(index=["cl", "g"], columns="t", values="s", aggfunc="sum").reindex(
        columns=list(periods)).fillna(0.0)
    n = frame.groupby(["cl", "g"])["n"].max().reindex(wide.index)
    cl = pd.factorize(wide.index.get_level_values(0))[0]
    return (cl.astype(np.intp), wide.index.get_level_values(1).to_numpy(dtype=float),
            n.to_numpy(dtype=float), wide.to_numpy(dtype=float))


def _sym(values, p: int) -> np.ndarray:
    out = np.zeros((p, p))
    out[np.triu_indices(p)] = np.asarray(values, dtype=float)
    return out + np.triu(out, 1).T
