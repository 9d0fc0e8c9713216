"""Dask engine, second mixin: unbalanced and weighted panels, several cluster columns, the per-unit table.

:class:`GeneralPanels` holds the passes of :class:`~policyeval.scale.dask_backend.DaskEngine`
that the balanced, unweighted, one-cluster estimators never call: the extra facts for
weights and cluster columns, the unit-pattern sums of the exact period effects on
unbalanced panels (see :func:`policyeval.scale.sufficient.fit_within`), the cluster meats
of one- and two-way clustering, and the per-unit table of the propensity-score
estimators (:mod:`policyeval.scale.propensity`). They are kept apart from the engine's
balanced passes so that either side's query plans can change independently. The two
row helpers :func:`_gnorm` and :func:`_feature` live here and are shared by the engine.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from policyeval.exceptions import ColumnNotFoundError, DataError, NonNumericValueError
from policyeval.scale.duckdb_backend import _sym
from policyeval.scale.sufficient import Feature, PanelSpec, examples

__all__ = ["GeneralPanels"]


def _gnorm(part: pd.DataFrame, spec: PanelSpec, late: bool = True) -> np.ndarray:
    g = pd.to_numeric(part[spec.gname], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(g)
    if late and spec.last_period is not None:
        bad |= g > spec.last_period
    return np.where(bad, 0.0, g)


def _feature(part: pd.DataFrame, f: Feature, spec: PanelSpec) -> np.ndarray:
    if f.kind == "col":
        return part[f.arg].to_numpy(dtype=float)
    t = part[spec.tname].to_numpy(dtype=float)
    g = _gnorm(part, spec)
    if f.kind == "treated":
        return ((g > 0) & (t >= g)).astype(float)
    k, op = f.arg
    e = t - g
    hit = {"eq": e == k, "le": e <= k, "ge": e >= k}[op]
    return ((g > 0) & hit).astype(float)


class GeneralPanels:
    """Mixin of :class:`~policyeval.scale.dask_backend.DaskEngine` (uses its ``df``, ``_say``
    and ``split_out``): the passes for unbalanced / weighted panels and any clustering."""

    def _check_more_columns(self, spec: PanelSpec) -> None:
        df = self.df
        for arg, col in [("weights", spec.weights)] + [("cluster", c) for c in spec.clusters]:
            if col is not None and col not in df.columns:
                raise ColumnNotFoundError(f"{arg}={col!r} is not a column of the data; available columns: "
                                          f"{examples([c for c in df.columns if c != 'filename'], 12)}")
        if spec.weights and not (pd.api.types.is_numeric_dtype(df.dtypes[spec.weights])
                                 and not pd.api.types.is_bool_dtype(df.dtypes[spec.weights])):
            raise NonNumericValueError(f"weights={spec.weights!r} must be numeric; its type is "
                                       f"{df.dtypes[spec.weights]}")

    def _more_facts(self, spec: PanelSpec, n_unbal: int, n_clvar: int, n_cl: int) -> dict:
        """Weights checks, per-cluster-column facts and always-treated counts (one more pass,
        only with weights, two cluster columns or an unbalanced panel)."""
        out = {"n_unbalanced": n_unbal}
        if not (spec.weights or len(spec.clusters) > 1 or (n_unbal and not spec.require_balanced)):
            if spec.clusters:
                out["cluster_unit_var"], out["cluster_levels"] = (n_clvar,), (n_cl,)
            return out
        i, t = spec.idname, spec.tname
        w, cls = spec.weights, list(spec.clusters)

        def per_row(part: pd.DataFrame) -> pd.DataFrame:
            o = pd.DataFrame({"id": part[i].to_numpy(), "tmin": part[t].to_numpy(dtype=float)}, index=part.index)
            o["gmin"] = _gnorm(part, spec, late=False) if spec.gname else 0.0
            wv = part[w].to_numpy(dtype=float) if w else np.ones(len(part))
            o["wmin"], o["wmax"] = wv, wv
            o["wbad"] = (~np.isfinite(wv) | (wv <= 0)).astype(float)
            for j, c in enumerate(cls):
                o[f"cmin{j}"] = part[c].to_numpy()
                o[f"cmax{j}"] = o[f"cmin{j}"]
                o[f"cna{j}"] = part[c].isna().to_numpy().astype(float)
            return o

        rows = self.df.map_partitions(per_row, meta=per_row(self.df._meta))
        aggs = {"tmin": "min", "gmin": "min", "wmin": "min", "wmax": "max", "wbad": "sum"}
        for j in range(len(cls)):
            aggs.update({f"cmin{j}": "min", f"cmax{j}": "max", f"cna{j}": "sum"})
        self._say("weights and cluster checks")
        pu = rows.groupby("id").agg(aggs, split_out=self.split_out)
        nc = len(cls)

        def summary(p: pd.DataFrame) -> pd.DataFrame:
            o = {"wbad": p["wbad"].sum(), "wvar": (p["wmin"] != p["wmax"]).sum(),
                 "always_g": ((p["gmin"] > 0) & (p["tmin"] >= p["gmin"])).sum()}
            for j in range(nc):
                o[f"cna{j}"] = p[f"cna{j}"].sum()
                o[f"cvar{j}"] = (p[f"cmin{j}"] != p[f"cmax{j}"]).sum()
            return pd.DataFrame([o], dtype=float)

        import dask

        summ, *levels = dask.compute(pu.map_partitions(summary, meta=summary(pu._meta)).sum(),
                                     *[pu[f"cmin{j}"].nunique() for j in range(nc)])
        for j, c in enumerate(cls):
            if summ[f"cna{j}"]:
                raise DataError(f"cluster={c!r} is missing in {int(summ[f'cna{j}'])} rows")
        if w and summ["wbad"]:
            bad = pu[pu["wbad"] > 0]["wmin"].compute().sort_index().head(3)
            raise DataError(f"weights={w!r} has {int(summ['wbad'])} missing, infinite or non-positive "
                            f"values (e.g. {examples(bad.to_numpy())}) in units (e.g. {examples(bad.index)}); "
                            "weights must be finite and > 0; the out-of-core path drops no rows")
        if w and summ["wvar"]:
            ids = sorted(pu[pu["wmin"] != pu["wmax"]].index.compute())[:3]
            raise DataError(
                f"weights={w!r} varies within idname={i!r} for {int(summ['wvar'])} units (e.g. "
                f"{examples(ids)}); out of core, weights must be constant within unit "
                "(sampling weights of firms); use the in-memory path for row-level weights")
        out["always_g"] = int(summ["always_g"])
        out["cluster_unit_var"] = tuple(int(summ[f"cvar{j}"]) for j in range(nc))
        out["cluster_levels"] = tuple(int(v) for v in levels)
        return out

    def _rows(self, spec, features, periods, effects=None, clusters=()):
        per = np.asarray(periods, dtype=float)

        def fn(part: pd.DataFrame) -> pd.DataFrame:
            t = part[spec.tname].to_numpy(dtype=float)
            pos = np.searchsorted(per, t)
            cols = {f"z{j}": _feature(part, f, spec) for j, f in enumerate(features)}
            cols[f"z{len(features)}"] = part[spec.yname].to_numpy(dtype=float)
            out = pd.DataFrame(cols, index=part.index)
            if effects is not None:
                out = out - np.asarray(effects)[pos]
            out.insert(0, "unit", part[spec.idname].to_numpy())
            out.insert(1, "tpos", pos.astype(np.int64))
            out.insert(2, "w", part[spec.weights].to_numpy(dtype=float) if spec.weights else np.ones(len(part)))
            for j, c in enumerate(clusters):
                out[f"c{j}"] = part[c].to_numpy()
            return out

        return self.df.map_partitions(fn, meta=fn(self.df._meta))

    def pattern_moments(self, spec, features, periods):
        """See :meth:`policyeval.scale.duckdb_backend.DuckDBEngine.pattern_moments`."""
        import dask

        P = len(features) + 1
        T = len(periods)
        zc = [f"z{j}" for j in range(P)]
        iu = np.triu_indices(P)
        rows = self._rows(spec, features, periods)

        def per_period(part: pd.DataFrame) -> pd.DataFrame:
            z = part[zc].to_numpy(dtype=float)
            w = part["w"].to_numpy(dtype=float)
            pos = part["tpos"].to_numpy()
            wt = np.bincount(pos, weights=w, minlength=T)
            zt = np.column_stack([np.bincount(pos, weights=w * z[:, j], minlength=T) for j in range(P)])
            zz = ((z * w[:, None]).T @ z)[iu]
            return pd.DataFrame([np.concatenate([wt, zt.ravel(), zz])])

        def to_units(part: pd.DataFrame) -> pd.DataFrame:
            out = part[["unit", "w", *zc]].copy()
            out["mask"] = np.left_shift(np.int64(1), part["tpos"].to_numpy(dtype=np.int64))
            out["n"] = 1.0
            return out

        u = rows.map_partitions(to_units, meta=to_units(rows._meta))
        aggs = {"mask": "sum", "n": "sum", "w": "min", **{c: "sum" for c in zc}}
        pu = u.groupby("unit").agg(aggs, split_out=self.split_out)

        def by_mask(part: pd.DataFrame) -> pd.DataFrame:
            s = part[zc].to_numpy(dtype=float)
            f = (part["w"].to_numpy(dtype=float) / part["n"].to_numpy(dtype=float))
            out = pd.DataFrame({"mask": part["mask"].to_numpy(dtype=np.int64), "cm": f}, index=part.index)
            for j in range(P):
                out[f"r{j}"] = f * s[:, j]
            for a, b in zip(*iu):
                out[f"q{a}_{b}"] = f * s[:, a] * s[:, b]
            return out.groupby("mask").sum().reset_index()

        self._say("pattern pass")
        per, mk = dask.compute(rows.map_partitions(per_period, meta=per_period(rows._meta.iloc[:0])).sum(),
                               pu.map_partitions(by_mask, meta=by_mask(pu._meta)))
        per = per.to_numpy(dtype=float)
        mk = mk.groupby("mask").sum().sort_index()
        wt, zt, zz = per[:T], per[T:T + T * P].reshape(T, P), per[T + T * P:]
        rm = mk[[f"r{j}" for j in range(P)]].to_numpy(dtype=float)
        uu = mk[[f"q{a}_{b}" for a, b in zip(*iu)]].to_numpy(dtype=float).sum(axis=0)
        return (wt, zt, _sym(zz, P), mk.index.to_numpy(dtype=np.int64), mk["cm"].to_numpy(dtype=float), rm,
                _sym(uu, P))

    def event_times(self, spec):
        def fn(part: pd.DataFrame) -> pd.Series:
            g = _gnorm(part, spec)
            t = part[spec.tname].to_numpy(dtype=float)
            return pd.Series(np.unique(t[g > 0] - g[g > 0]), dtype=float)

        self._say("event times")
        e = self.df.map_partitions(fn, meta=pd.Series([], dtype=float)).compute()
        return np.unique(e.to_numpy()).astype(np.int64)

    def constant_within_period(self, spec, column) -> bool:
        n = self.df[[spec.tname, column]].groupby(spec.tname)[column].nunique().max().compute()
        return bool(n <= 1)

    def cluster_meats(self, spec, features, periods, effects, beta, clusters, in_unit):
        """See :meth:`policyeval.scale.duckdb_backend.DuckDBEngine.cluster_meats`."""
        k = len(features)
        beta = np.asarray(beta, dtype=float)
        rows = self._rows(spec, features, periods, effects, clusters)
        cn = [f"c{j}" for j in range(len(clusters))]
        xs = [f"z{j}" for j in range(k)]

        def parts(part: pd.DataFrame) -> pd.DataFrame:
            x = part[xs].to_numpy(dtype=float)
            w = part["w"].to_numpy(dtype=float)
            r = part[f"z{k}"].to_numpy(dtype=float) - x @ beta
            out = pd.DataFrame({"unit": part["unit"].to_numpy()}, index=part.index)
            for c in cn:
                out[c] = part[c].to_numpy()
            for j in range(k):
                out[f"a{j}"] = w * x[:, j] * r
                out[f"b{j}"] = w * x[:, j]
            out["sr"], out["sw"] = w * r, w
            if not all(in_unit):
                for j in range(k):
                    out[f"x{j}"] = x[:, j]
                out["r"] = r
            return out

        pr = rows.map_partitions(parts, meta=parts(rows._meta))
        sums = [*(f"a{j}" for j in range(k)), *(f"b{j}" for j in range(k)), "sr", "sw"]
        if all(in_unit):
            aggs = {**{c: "first" for c in cn}, **{c: "sum" for c in sums}}
            pu = pr.groupby("unit").agg(aggs, split_out=self.split_out).reset_index()

            def scores(part: pd.DataFrame) -> pd.DataFrame:
                sr, sw = part["sr"].to_numpy(), part["sw"].to_numpy()
                out = part[cn].copy()
                for j in range(k):
                    out[f"s{j}"] = part[f"a{j}"].to_numpy() - part[f"b{j}"].to_numpy() * sr / sw
                return out

            sc = pu.map_partitions(scores, meta=scores(pu._meta))
        else:
            pu = pr[["unit", *(f"b{j}" for j in range(k)), "sr", "sw"]].groupby("unit").sum(
                split_out=self.split_out).reset_index()

            def means(part: pd.DataFrame) -> pd.DataFrame:
                sw = part["sw"].to_numpy()
                out = pd.DataFrame({"unit": part["unit"].to_numpy(), "mr": part["sr"].to_numpy() / sw},
                                   index=part.index)
                for j in range(k):
                    out[f"mx{j}"] = part[f"b{j}"].to_numpy() / sw
                return out

            joined = pr[["unit", *cn, *(f"x{j}" for j in range(k)), "r", "sw"]].merge(
                pu.map_partitions(means, meta=means(pu._meta)), on="unit")

            def scores(part: pd.DataFrame) -> pd.DataFrame:
                out = part[cn].copy()
                e = part["r"].to_numpy() - part["mr"].to_numpy()
                for j in range(k):
                    out[f"s{j}"] = part["sw"].to_numpy() * (part[f"x{j}"].to_numpy() - part[f"mx{j}"].to_numpy()) * e
                return out

            sc = joined.map_partitions(scores, meta=scores(joined._meta))
        iu = np.triu_indices(k)
        scols = [f"s{j}" for j in range(k)]

        def gram(part: pd.DataFrame) -> pd.DataFrame:
            s = part[scols].to_numpy(dtype=float)
            return pd.DataFrame([[len(part), *(s.T @ s)[iu]]])

        import dask

        subsets = [tuple(j for j in range(len(cn)) if m >> j & 1) for m in range(1, 2 ** len(cn))]
        graphs = []
        for sub in subsets:
            g = sc[[*(cn[j] for j in sub), *scols]].groupby([cn[j] for j in sub]).sum(split_out=self.split_out)
            graphs.append(g.map_partitions(gram, meta=gram(g._meta)).sum())
        self._say("cluster score pass")
        done = dask.compute(*graphs)
        return [(sub, _sym(d.to_numpy()[1:], k), int(d.to_numpy()[0])) for sub, d in zip(subsets, done)]


    def unit_table(self, spec, periods, drop_before, folder):
        """See :meth:`policyeval.scale.duckdb_backend.DuckDBEngine.unit_table` (here a folder of parts)."""
        covs = list(spec.covariates)
        per = np.asarray(periods, dtype=float)
        T = len(per)

        def rows(part: pd.DataFrame) -> pd.DataFrame:
            t = part[spec.tname].to_numpy(dtype=float)
            y = part[spec.yname].to_numpy(dtype=float)
            out = pd.DataFrame({"id": part[spec.idname].to_numpy(), "g": _gnorm(part, spec)}, index=part.index)
            if spec.cluster:
                out["cl"] = part[spec.cluster].to_numpy()
            for j, c in enumerate(covs):
                x = part[c].to_numpy(dtype=float)
                out[f"xmin{j + 1}"], out[f"x{j + 1}"] = x, x
            for s, p in enumerate(per):
                out[f"y{s}"] = np.where(t == p, y, 0.0)
            g = out["g"].to_numpy()
            return out[np.isin(t, per) & ~((g > 0) & (g <= drop_before))]

        r = self.df.map_partitions(rows, meta=rows(self.df._meta))
        aggs = {"g": "first", **({"cl": "first"} if spec.cluster else {})}
        for j in range(1, len(covs) + 1):
            aggs[f"xmin{j}"], aggs[f"x{j}"] = "min", "max"
        aggs.update({f"y{s}": "sum" for s in range(T)})
        pu = r.groupby("id").agg(aggs, split_out=self.split_out).reset_index()
        path = os.path.join(str(folder), "units")
        self._say("unit table")
        pu.to_parquet(path, write_index=False)
        return path

    def _unit_counts(self, spec, periods):
        per = np.asarray(periods, dtype=float)

        def rows(part: pd.DataFrame) -> pd.DataFrame:
            t = part[spec.tname].to_numpy(dtype=float)
            out = pd.DataFrame({"id": part[spec.idname].to_numpy(), "g": _gnorm(part, spec), "n": 1},
                               index=part.index)
            return out[np.isin(t, per)]

        r = self.df.map_partitions(rows, meta=rows(self.df._meta))
        return r.groupby("id").agg({"g": "first", "n": "sum"}, split_out=self.split_out)

    def partial_units(self, spec, periods, drop_before):
        """See :meth:`policyeval.scale.duckdb_backend.DuckDBEngine.partial_units`."""
        pu = self._unit_counts(spec, periods)
        bad = pu[(pu["n"] < len(periods)) & ~((pu["g"] > 0) & (pu["g"] <= drop_before))]
        self._say("partial units")
        import dask

        n_units, n_rows = dask.compute(bad["n"].count(), bad["n"].sum())
        ids = sorted(bad.index.compute())[:4] if n_units else []
        return int(n_units), int(n_rows), ids

    def complete_units(self, spec, periods):
        """An engine on the rows of the units observed in every one of ``periods``."""
        pu = self._unit_counts(spec, periods)
        full = pu[pu["n"] == len(periods)][["n"]].rename(columns={"n": "_complete"})
        df = self.df.merge(full, left_on=spec.idname, right_index=True, how="inner").drop(columns="_complete")
        # the same engine class and options on the kept rows
        return type(self)(df, split_out=self.split_out, progress=self.progress, dense=self.dense,
                          in_flight=self.in_flight)
