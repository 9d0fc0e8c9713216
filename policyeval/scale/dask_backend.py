"""Dask engine: the sufficient statistics of :mod:`policyeval.scale.sufficient` on a Dask DataFrame.

Each statistic is built from ordinary Dask operations and Dask schedules them
on a local or distributed cluster; there is no scheduler of our own. Only
small results come back per partition.

Two routes to the per-unit sums the estimators need:

* **dense** (the default when the ids allow it): when the unit id is an
  integer whose range is at most four times the fewest possible units
  (rows / periods), each partition turns its rows into ``np.bincount`` sums
  over its slice of the id range (or over the distinct ids it holds, when they
  are scattered), and the client adds them into arrays of one entry per id.
  Firms split across yearly files need no shuffle: the per-unit checks, the
  outcome paths of Callaway-Sant'Anna and the within / score sums of TWFE and
  the event study each take one scan, with at most a few partitions in flight
  (:func:`_stream`). Memory on the client: 8 bytes per id per array (the
  outcome paths: one per period).
* **groupby** (any other id, a text cluster, more than 64 periods, or
  ``dense=False``): ``groupby(...).agg`` per unit with a hash shuffle
  (``split_out``). Any irregularity the dense checks find (duplicates,
  unbalanced units, timing or cluster varying within unit) is handed to this
  route, which words the error.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace

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
from policyeval.scale.dask_dense import DenseUnits, _stream
from policyeval.scale.dask_panels import GeneralPanels, _feature, _gnorm
from policyeval.scale.duckdb_backend import _pairs, _sym, feature_names
from policyeval.scale.sufficient import PanelFacts, PanelSpec, examples

__all__ = ["DaskEngine"]


def _sum_frames(frames) -> pd.Series:
    return pd.concat(frames).sum() if isinstance(frames, list) else frames.sum()


class DaskEngine(DenseUnits, GeneralPanels):
    """Sufficient statistics computed by Dask.

    Parameters
    ----------
    source : dask.dataframe.DataFrame or path
        A Dask DataFrame, or a Parquet/CSV file or folder (checked by
        :func:`policyeval.scale.streaming.scan_folder`, read with
        ``dask.dataframe.read_parquet``/``read_csv``).
    split_out : int, optional
        Output partitions of the per-unit ``groupby``. Default: as many as
        input partitions when there are more than 8 (a hash shuffle, so no
        task holds every unit's partial sums: with yearly files every unit
        is split across partitions), else 1 (a tree reduction, faster on
        small data).
    progress : bool
        Report each pass on stderr.
    dense : bool, optional
        Per-unit sums as dense arrays over the id range instead of a ``groupby`` (no
        shuffle). ``None`` (default) or ``True``: used when the ids are integers whose
        range is at most four times the fewest possible units (rows / periods), there
        are at most 64 periods and the cluster column (if any) is numeric, else the
        ``groupby`` path is taken; ``False`` always takes the ``groupby`` path. The arrays (8 bytes per id in the range and per period for
        the outcome paths) live on the client.
    in_flight : int, optional
        Partitions computed at once on the dense path (default: twice the cluster's
        threads); bounds the memory held by partial results.
    """

    name = "dask"

    def __init__(self, source, *, split_out: int | None = None, progress: bool = False, years=None,
                 blocksize=None, dense: bool | None = None, in_flight: int | None = None) -> None:
        dd = require_optional("dask.dataframe", "scale", "Out-of-core estimation with Dask")

        if isinstance(source, (str, os.PathLike)):
            from policyeval.scale.streaming import scan_folder

            folder = scan_folder(source, years=years)
            files = [str(f) for f in folder.files]
            # one frame per file, tagged with its name so a duplicate key can be traced to its file
            read = dd.read_parquet if folder.format == "parquet" else (
                lambda f: dd.read_csv(f, blocksize=blocksize or "64MB"))
            source = dd.concat([read(f).assign(filename=os.path.basename(f)) for f in files])
        elif not type(source).__module__.startswith("dask"):
            raise ArgumentTypeError(f"source must be a Dask DataFrame or a path, got {type(source).__name__}")
        self.df = source
        self.progress = progress
        self.split_out = split_out or (source.npartitions if source.npartitions > 8 else 1)
        self.dense = dense
        self.in_flight = in_flight
        self._units = None

    def _say(self, label):
        if self.progress:
            print(f"[policyeval.scale dask] {label} ...", file=sys.stderr, flush=True)

    # ------------------------------------------------------------------
    def facts(self, spec: PanelSpec) -> PanelFacts:
        """Checks and counts (see :class:`~policyeval.scale.sufficient.Engine`).

        Row-level checks and the period list come from one scan. With compact integer
        ids (range at most 4x the fewest possible units, at most 64 periods, a numeric
        cluster) the per-unit checks are dense arrays over the id range, summed partition
        by partition on the client, and kept for the later passes (no shuffle); any
        irregularity, and any other panel, goes through the per-unit ``groupby``, which
        also words the errors.
        """
        self._check_more_columns(spec)
        if len(spec.clusters) == 1 and spec.cluster is None and spec.clusters[0] != spec.idname:
            # TWFE / event study with one cluster column: the per-unit pass counts it
            spec = replace(spec, cluster=spec.clusters[0])
        ck, periods, id_range = self._checks(spec)
        self._units = None
        # the dense route knows one cluster column constant within unit and no weights; with
        # weights or two cluster columns the groupby route (and its extra pass) is taken
        dense_fits = not spec.weights and len(spec.clusters) <= 1
        if self.dense is not False and id_range is not None and dense_fits:
            facts = self._facts_dense(spec, ck, periods, id_range)
            if facts is not None:
                return facts
        return self._facts_shuffle(spec, ck, periods)

    def _columns(self, spec: PanelSpec, *extra) -> list:
        cols = [spec.idname, spec.tname, spec.gname, spec.treatment, spec.cluster, spec.yname,
                *spec.covariates, *extra]
        return list(dict.fromkeys(c for c in cols if c is not None))

    def _checks(self, spec: PanelSpec):
        """Column and row checks, the sorted periods and, for integer ids, ``(min id, max id)``."""
        df = self.df
        dtypes = df.dtypes
        named = [("yname", spec.yname), ("tname", spec.tname), ("idname", spec.idname),
                 ("gname", spec.gname), ("treatment", spec.treatment), ("cluster", spec.cluster)]
        named += [("covariates", c) for c in spec.covariates]
        for arg, col in named:
            if col is not None and col not in df.columns:
                raise ColumnNotFoundError(f"{arg}={col!r} is not a column of the data; available columns: "
                                          f"{examples([c for c in df.columns if c != 'filename'], 12)}")
        for arg, col in [("yname", spec.yname), ("tname", spec.tname), ("gname", spec.gname),
                         ("treatment", spec.treatment)] + [("covariates", c) for c in spec.covariates]:
            if col is not None and not (pd.api.types.is_numeric_dtype(dtypes[col])
                                        and not pd.api.types.is_bool_dtype(dtypes[col])):
                raise NonNumericValueError(f"{arg}={col!r} must be numeric; its type is {dtypes[col]}")
        used = [("yname", spec.yname)] + [("covariates", c) for c in spec.covariates]
        if spec.treatment:
            used.append(("treatment", spec.treatment))
        i, t = spec.idname, spec.tname

        id_dtype = dtypes[i]
        want_range = (self.dense is not False and pd.api.types.is_integer_dtype(id_dtype)
                      and not pd.api.types.is_bool_dtype(id_dtype))

        def checks(part: pd.DataFrame) -> dict:
            tt = part[t].to_numpy(dtype=float)
            out = {"n": len(part), "id_na": int(part[i].isna().sum()), "t_na": int(np.isnan(tt).sum()),
                   "t_frac": int((np.isfinite(tt) & (tt != np.round(tt))).sum()),
                   "g_neg": int((pd.to_numeric(part[spec.gname]) < 0).sum()) if spec.gname else 0,
                   "cl_na": int(part[spec.cluster].isna().sum()) if spec.cluster else 0}
            for arg, col in used:
                out[f"miss_{col}"] = int((~np.isfinite(part[col].to_numpy(dtype=float))).sum())
            out["periods"] = np.unique(tt[~np.isnan(tt)])
            if want_range and len(part) and not out["id_na"]:
                ids = part[i].to_numpy()
                out["id_min"], out["id_max"] = int(ids.min()), int(ids.max())
            return out

        ck = {}

        def fold(r: dict):
            for key, v in r.items():
                if key not in ck:
                    ck[key] = v
                elif key == "periods":
                    ck[key] = np.union1d(ck[key], v)
                else:
                    ck[key] = (min if key == "id_min" else max if key == "id_max" else (lambda a, b: a + b))(
                        ck[key], v)

        self._say("checks")
        _stream(df[self._columns(spec)], checks, fold, self.in_flight)
        for key in ["n", "id_na", "t_na", "t_frac", "g_neg", "cl_na", *(f"miss_{c}" for _, c in used)]:
            ck.setdefault(key, 0)
        periods = ck.pop("periods", np.zeros(0))
        lo, hi = ck.pop("id_min", None), ck.pop("id_max", None)
        if ck["id_na"]:
            raise DataError(f"idname={i!r} is missing in {ck['id_na']} rows")
        if ck["t_na"]:
            raise DataError(f"tname={t!r} is missing in {ck['t_na']} rows")
        if ck["t_frac"]:
            p = np.asarray(periods, dtype=float)
            raise DataError(f"tname={t!r} must hold integer periods; found non-integer values "
                            f"{examples(p[p != np.round(p)])}")
        if ck["g_neg"]:
            raise TreatmentTimingError(f"gname={spec.gname!r} must be the first treated period or 0 for never "
                                       f"treated; found negative values in {ck['g_neg']} rows")
        if ck["cl_na"]:
            raise DataError(f"cluster={spec.cluster!r} is missing in {ck['cl_na']} rows")
        for arg, col in used:
            m = int(ck[f"miss_{col}"])
            if m:
                ids = df[~df[col].astype(float).map_partitions(np.isfinite)][i].head(3, npartitions=-1)
                raise DataError(f"{arg}={col!r} has {m} missing or infinite values (e.g. {spec.idname} "
                                f"{examples(ids)}); the out-of-core path drops no rows: remove or impute them first")
        periods = np.sort(np.asarray(periods, dtype=float)).astype(np.int64)
        id_range = (int(lo), int(hi)) if want_range and lo is not None else None
        return ck, periods, id_range

    def _facts_shuffle(self, spec: PanelSpec, ck, periods) -> PanelFacts:
        import dask

        df = self.df
        i, t = spec.idname, spec.tname
        T = len(periods)

        def per_row(part: pd.DataFrame) -> pd.DataFrame:
            out = pd.DataFrame({"id": part[i].to_numpy(), "t": part[t].to_numpy(dtype=float),
                                "one": np.ones(len(part))}, index=part.index)
            out["g_min"] = _gnorm(part, spec, late=False) if spec.gname else 0.0
            out["g_max"] = out["g_min"]
            if spec.cluster:
                c = part[spec.cluster]
                # a text cluster is compared by its 64-bit hash: pandas' groupby min/max fails on strings
                out["cl_min"] = c.to_numpy() if pd.api.types.is_numeric_dtype(c.dtype) else \
                    pd.util.hash_array(c.to_numpy(dtype=object))
            else:
                out["cl_min"] = 0
            out["cl_max"] = out["cl_min"]
            if spec.treatment:
                d = part[spec.treatment].to_numpy(dtype=float)
                tt = out["t"].to_numpy()
                out["t0_max"] = np.where(d == 0, tt, -np.inf)
                out["t1_min"] = np.where(d == 1, tt, np.inf)
                out["dmin_min"] = d
                out["dbad_sum"] = (~np.isin(d, (0.0, 1.0))).astype(float)
            return out

        slim = df[self._columns(spec)]
        rows = slim.map_partitions(per_row, meta=per_row(slim._meta))
        aggs = {"one_sum": "sum", "g_min": "min", "g_max": "max", "cl_min": "min", "cl_max": "max"}
        if spec.treatment:
            aggs.update({"t0_max": "max", "t1_min": "min", "dmin_min": "min", "dbad_sum": "sum"})
        self._say("per-unit checks")
        pu = rows.rename(columns={"one": "one_sum"}).groupby("id").agg(aggs, split_out=self.split_out)
        keyed = rows.groupby(["id", "t"]).one.sum(split_out=self.split_out)

        def summary(p: pd.DataFrame) -> pd.DataFrame:
            out = {"units": len(p), "unbal": int((p["one_sum"] < T).sum()),
                   "gvar": int((p["g_min"] != p["g_max"]).sum()),
                   "clvar": int((p["cl_min"] != p["cl_max"]).sum())}
            if spec.treatment:
                out["dbad"] = float(p["dbad_sum"].sum())
                out["off"] = int((p["t0_max"] > p["t1_min"]).sum())
                out["always"] = int((p["dmin_min"] == 1).sum())
            return pd.DataFrame([out])

        summ = pu.map_partitions(summary, meta=summary(pu._meta)).sum()
        ndup = (keyed > 1).sum()
        coh = pu.g_min.value_counts()
        ncl = pu.cl_min.nunique() if spec.cluster else pu.g_min.count()
        summ, ndup, coh, ncl = dask.compute(summ, ndup, coh, ncl)
        if ndup:
            bad = keyed[keyed > 1].head(3, npartitions=-1)
            where = ", ".join(f"({a}, {int(b)})" for a, b in bad.index)
            files = ""
            if "filename" in df.columns and len(bad):
                a, b = bad.index[0]
                hit = df[(df[i] == a) & (df[t] == b)]["filename"].compute().unique()
                files = f"; ({a}, {int(b)}) is in {', '.join(os.path.basename(str(f)) for f in hit)}"
            raise DuplicateObservationError(
                f"{int(ndup)} ({i}, {t}) pairs appear more than once, e.g. {where}{files}; keep one row per "
                "unit and period")
        if summ["gvar"]:
            ids = pu[pu.g_min != pu.g_max].index.compute()[:3]
            raise TreatmentTimingError(
                f"gname={spec.gname!r} varies within idname={i!r} for {int(summ['gvar'])} units "
                f"(e.g. {examples(sorted(ids))}); treatment timing must be constant per unit.")
        if summ["clvar"] and not spec.clusters:
            ids = pu[pu.cl_min != pu.cl_max].index.compute()[:3]
            raise DataError(f"cluster={spec.cluster!r} varies within idname={i!r} for {int(summ['clvar'])} units "
                            f"(e.g. {examples(sorted(ids))}); clusters must be the unit or a coarser level, "
                            "constant within unit")
        if spec.treatment and summ["dbad"]:
            raise DataError(f"treatment={spec.treatment!r} must be 0/1; {int(summ['dbad'])} rows hold other values")
        if spec.treatment and summ["off"]:
            ids = pu[pu.t0_max > pu.t1_min].index.compute()[:3]
            raise TreatmentTimingError(
                f"treatment={spec.treatment!r} switches off (1 then 0) within idname={i!r} for "
                f"{int(summ['off'])} units (e.g. {examples(sorted(ids))}); staggered DiD needs an absorbing "
                "treatment.")
        if summ["unbal"] and spec.require_balanced:
            bad = pu[pu.one_sum < T].one_sum.compute().sort_index().head(3)
            raise DataError(
                f"unbalanced panel: {int(summ['unbal'])} units of idname={i!r} are not observed in all {T} "
                f"periods of tname={t!r} (e.g. {', '.join(f'{a} ({int(b)} periods)' for a, b in bad.items())}). "
                "The out-of-core path needs a balanced panel (the two-way within transform is then exact "
                "from unit and period means); drop or complete these units first, or use the in-memory path.")
        coh_s = pd.Series(coh.to_numpy(), index=coh.index.to_numpy(dtype=float)) if spec.gname else None
        return self._finish(spec, ck, periods, int(summ["units"]), coh_s, int(ncl),
                            int(summ.get("always", 0)), int(summ["unbal"]), int(summ["clvar"]))

    def _finish(self, spec, ck, periods, n_units, coh, ncl, always, n_unbal=0, n_clvar=0) -> PanelFacts:
        cohorts, n_late, notes = None, 0, []
        if spec.gname:
            cohorts = coh.astype(np.int64)
            late = cohorts.index > periods.max()
            n_late = int(cohorts[late].sum())
            if n_late:
                cohorts = pd.concat([cohorts[~late], pd.Series({0.0: n_late})]).groupby(level=0).sum()
                if spec.treatment is None:
                    notes.append(f"{n_late} units first treated after the last period {periods.max()} are "
                                 "never treated within the sample and serve as controls.")
            cohorts = cohorts.sort_index()
        n_clusters = int(ncl) if spec.cluster and spec.cluster != spec.idname else n_units
        more = self._more_facts(spec, n_unbal, n_clvar, int(ncl))
        return PanelFacts(int(ck["n"]), n_units, periods, n_clusters, cohorts, **more,
                          always_treated=always, notes=notes, n_late=n_late)

    # ------------------------------------------------------------------
    def _features(self, spec, features, means=None, cluster=False):
        periods = None if means is None else np.asarray(self._periods, dtype=float)

        def fn(part: pd.DataFrame) -> pd.DataFrame:
            cols = {f"u{j}": _feature(part, f, spec) for j, f in enumerate(features)}
            cols[f"u{len(features)}"] = part[spec.yname].to_numpy(dtype=float)
            out = pd.DataFrame(cols, index=part.index)
            if means is not None:
                pos = np.searchsorted(periods, part[spec.tname].to_numpy(dtype=float))
                out = out - means[pos]
            out.insert(0, "unit", part[spec.idname].to_numpy())
            out.insert(1, "t", part[spec.tname].to_numpy(dtype=float))
            if cluster and spec.cluster is not None and spec.cluster != spec.idname:
                out["cl"] = part[spec.cluster].to_numpy()
            return out

        slim = self.df[self._columns(spec)]
        return slim.map_partitions(fn, meta=fn(slim._meta))

    def time_means(self, spec, features):
        self._say("period means")
        f = self._features(spec, features).drop(columns="unit")
        m = f.groupby("t").mean().compute().sort_index()
        self._periods = m.index.to_numpy(dtype=float)
        return m[[f"u{j}" for j in range(len(features) + 1)]].to_numpy(dtype=float)

    def within_gram(self, spec, features, means):
        u = self._dense_units(spec, cohorts=False)
        if u is not None:
            return self._within_gram_dense(spec, features, means, u)
        p = len(features) + 1
        cols = [f"u{j}" for j in range(p)]
        f = self._features(spec, features, means)
        iu = np.triu_indices(p)

        def gram(part: pd.DataFrame) -> pd.DataFrame:
            u = part[cols].to_numpy(dtype=float)
            return pd.DataFrame([(u.T @ u)[iu]])

        def ugram(part: pd.DataFrame) -> pd.DataFrame:
            s = part[cols].to_numpy(dtype=float)
            return pd.DataFrame([((s / part["n"].to_numpy()[:, None]).T @ s)[iu]])

        self._say("within pass")
        r1 = f.map_partitions(gram, meta=gram(f._meta)).sum()
        pu = f.assign(n=1.0).drop(columns="t").groupby("unit").sum(split_out=self.split_out)
        r2 = pu.map_partitions(ugram, meta=ugram(pu._meta)).sum()
        import dask

        r1, r2 = dask.compute(r1, r2)
        return _sym(r1.to_numpy(), p), _sym(r2.to_numpy(), p)

    def score_gram(self, spec, features, means, beta):
        u = self._dense_units(spec, cohorts=False)
        beta = np.asarray(beta, dtype=float)
        by_cluster = spec.cluster is not None and spec.cluster != spec.idname
        if u is not None and u.within is not None and (u.cl is not None or not by_cluster) \
                and u.within[:2] == (tuple(features), np.asarray(means).tobytes()):
            return self._score_gram_dense(spec, features, means, beta, u)
        k = len(features)
        f = self._features(spec, features, means, cluster=True)
        beta = np.asarray(beta, dtype=float)
        by_cluster = "cl" in f.columns

        def scores(part: pd.DataFrame) -> pd.DataFrame:
            u = part[[f"u{j}" for j in range(k)]].to_numpy(dtype=float)
            r = part[f"u{k}"].to_numpy(dtype=float) - u @ beta
            out = pd.DataFrame(u * r[:, None], columns=[f"a{j}" for j in range(k)], index=part.index)
            for j in range(k):
                out[f"b{j}"] = u[:, j]
            out["sr"], out["n"] = r, 1.0
            out.insert(0, "unit", part["unit"].to_numpy())
            if by_cluster:
                out.insert(1, "cl", part["cl"].to_numpy())
            return out

        rows = f.map_partitions(scores, meta=scores(f._meta))
        keys = ["unit", "cl"] if by_cluster else ["unit"]
        pu = rows.groupby(keys).sum(split_out=self.split_out).reset_index()

        def unit_scores(part: pd.DataFrame) -> pd.DataFrame:
            a = part[[f"a{j}" for j in range(k)]].to_numpy(dtype=float)
            b = part[[f"b{j}" for j in range(k)]].to_numpy(dtype=float)
            s = a - b * (part["sr"].to_numpy() / part["n"].to_numpy())[:, None]
            out = pd.DataFrame(s, columns=[f"s{j}" for j in range(k)], index=part.index)
            if by_cluster:
                out.insert(0, "cl", part["cl"].to_numpy())
            return out

        sc = pu.map_partitions(unit_scores, meta=unit_scores(pu._meta))
        if by_cluster:
            sc = sc.groupby("cl").sum(split_out=self.split_out)
        iu = np.triu_indices(k)

        def gram(part: pd.DataFrame) -> pd.DataFrame:
            s = part[[f"s{j}" for j in range(k)]].to_numpy(dtype=float)
            return pd.DataFrame([(s.T @ s)[iu]])

        self._say("score pass")
        out = sc.map_partitions(gram, meta=gram(sc._meta)).sum().compute()
        return _sym(out.to_numpy(), k)

    # ------------------------------------------------------------------
    def cohort_moments(self, spec, periods, drop_before):
        u = self._dense_units(spec)
        if u is not None:
            self._say("cohort moments (dense)")
            return self._cohort_moments_dense(spec, periods, drop_before, u)
        return self._cohort_moments_shuffle(spec, periods, drop_before)

    def _cohort_moments_shuffle(self, spec, periods, drop_before):
        T = len(periods)
        per = np.asarray(periods, dtype=float)

        def wide(part: pd.DataFrame) -> pd.DataFrame:
            t = part[spec.tname].to_numpy(dtype=float)
            y = part[spec.yname].to_numpy(dtype=float)
            out = pd.DataFrame({"id": part[spec.idname].to_numpy(), "g": _gnorm(part, spec)}, index=part.index)
            for j, p in enumerate(per):
                out[f"y{j}"] = np.where(t == p, y, 0.0)
            keep = np.isin(t, per) & ~((out["g"].to_numpy() > 0) & (out["g"].to_numpy() <= drop_before))
            return out[keep]

        rows = self.df.map_partitions(wide, meta=wide(self.df._meta))
        pu = rows.groupby(["id", "g"]).sum(split_out=self.split_out).reset_index()
        iu = np.triu_indices(T)
        ycols = [f"y{j}" for j in range(T)]

        def moments(part: pd.DataFrame) -> pd.DataFrame:
            out = []
            for g, sub in part.groupby("g"):
                y = sub[ycols].to_numpy(dtype=float)
                out.append([g, len(sub), *y.sum(axis=0), *(y.T @ y)[iu]])
            return pd.DataFrame(out, columns=["g", "n", *range(T + len(iu[0]))], dtype=float)

        self._say("cohort moments")
        res = pu.map_partitions(moments, meta=moments(pu._meta)).compute().groupby("g").sum().sort_index()
        arr = res.to_numpy(dtype=float)
        g = res.index.to_numpy(dtype=float)
        Q = np.stack([_sym(r[1 + T:], T) for r in arr])
        return g, arr[:, 0].astype(np.int64), arr[:, 1:1 + T], Q

    def _feature_units(self, spec, periods, drop_before, with_cluster=False):
        covs = list(spec.covariates)
        per = np.asarray(periods, dtype=float)
        T, q = len(per), len(covs) + 1

        def rows(part: pd.DataFrame) -> pd.DataFrame:
            t = part[spec.tname].to_numpy(dtype=float)
            y = part[spec.yname].to_numpy(dtype=float)
            g = _gnorm(part, spec)
            out = pd.DataFrame({"id": part[spec.idname].to_numpy(), "g": g}, index=part.index)
            if with_cluster:
                out["cl"] = part[spec.cluster].to_numpy()
            for j, p in enumerate(per):
                out[f"y{j}"] = np.where(t == p, y, 0.0)
            for j, c in enumerate(covs):
                x = part[c].to_numpy(dtype=float)
                out[f"xmin{j + 1}"], out[f"x{j + 1}"] = x, x
            return out[np.isin(t, per) & ~((g > 0) & (g <= drop_before))]

        r = self.df.map_partitions(rows, meta=rows(self.df._meta))
        keys = ["id", "g", "cl"] if with_cluster else ["id", "g"]
        aggs = {f"y{j}": "sum" for j in range(T)}
        for j in range(1, q):
            aggs[f"xmin{j}"], aggs[f"x{j}"] = "min", "max"
        pu = r.groupby(keys).agg(aggs, split_out=self.split_out).reset_index()

        def feats(part: pd.DataFrame) -> pd.DataFrame:
            x = [np.ones(len(part))] + [part[f"x{j}"].to_numpy(dtype=float) for j in range(1, q)]
            y = [part[f"y{s}"].to_numpy(dtype=float) for s in range(T)]
            cols = {f"f{a}": x[j] * (y[s] if kind == "y" else x[s])
                    for a, (j, s, kind) in enumerate(feature_names(q, T))}
            out = pd.DataFrame(cols, index=part.index)
            out.insert(0, "g", part["g"].to_numpy())
            if with_cluster:
                out.insert(1, "cl", part["cl"].to_numpy())
            var = np.zeros(len(part), dtype=bool)
            for j in range(1, q):
                var |= part[f"xmin{j}"].to_numpy() != part[f"x{j}"].to_numpy()
            out["xvar"] = var.astype(float)
            out["id"] = part["id"].to_numpy()
            return out

        return pu.map_partitions(feats, meta=feats(pu._meta)), q * T + q * q

    def _check_invariant(self, spec, f):
        n_var = f["xvar"].sum().compute()
        if n_var:
            ids = sorted(f[f["xvar"] > 0]["id"].compute())[:3]
            raise DataError(
                f"covariates={list(spec.covariates)} vary within idname={spec.idname!r} for {int(n_var)} units "
                f"(e.g. {examples(ids)}); out of core, Callaway-Sant'Anna takes time-invariant covariates only")

    def cohort_feature_moments(self, spec, periods, drop_before):
        f, nf = self._feature_units(spec, periods, drop_before)
        self._check_invariant(spec, f)
        iu = np.triu_indices(nf)
        cols = [f"f{a}" for a in range(nf)]

        def moments(part: pd.DataFrame) -> pd.DataFrame:
            out = []
            for g, sub in part.groupby("g"):
                v = sub[cols].to_numpy(dtype=float)
                out.append([g, len(sub), *v.sum(axis=0), *(v.T @ v)[iu]])
            return pd.DataFrame(out, columns=["g", "n", *range(nf + len(iu[0]))], dtype=float)

        self._say("cohort feature moments")
        res = f.map_partitions(moments, meta=moments(f._meta)).compute().groupby("g").sum().sort_index()
        arr = res.to_numpy(dtype=float)
        FF = np.stack([_sym(r[1 + nf:], nf) for r in arr])
        return res.index.to_numpy(dtype=float), arr[:, 0].astype(np.int64), arr[:, 1:1 + nf], FF

    def cluster_cohort_feature_sums(self, spec, periods, drop_before):
        f, nf = self._feature_units(spec, periods, drop_before, with_cluster=True)
        self._say("cluster x cohort feature sums")
        res = f.drop(columns=["xvar", "id"]).assign(n=1.0).groupby(["cl", "g"]).sum().compute().sort_index()
        cl = pd.factorize(res.index.get_level_values(0))[0].astype(np.intp)
        return (cl, res.index.get_level_values(1).to_numpy(dtype=float), res["n"].to_numpy(dtype=float),
                res[[f"f{a}" for a in range(nf)]].to_numpy(dtype=float))

    def cluster_cohort_sums(self, spec, periods, drop_before):
        u = self._dense_units(spec, cluster=True)
        if u is not None:
            self._say("cluster x cohort sums (dense)")
            return self._cluster_cohort_sums_dense(spec, periods, drop_before, u)
        return self._cluster_cohort_sums_shuffle(spec, periods, drop_before)

    def _cluster_cohort_sums_shuffle(self, spec, periods, drop_before):
        per = np.asarray(periods, dtype=float)

        def rows(part: pd.DataFrame) -> pd.DataFrame:
            t = part[spec.tname].to_numpy(dtype=float)
            g = _gnorm(part, spec)
            out = pd.DataFrame({"cl": part[spec.cluster].to_numpy(), "g": g, "t": t,
                                "s": part[spec.yname].to_numpy(dtype=float), "n": 1}, index=part.index)
            return out[np.isin(t, per) & ~((g > 0) & (g <= drop_before))]

        self._say("cluster x cohort sums")
        r = self.df.map_partitions(rows, meta=rows(self.df._meta))
        frame = r.groupby(["cl", "g", "t"]).sum().compute().reset_index()
        return _pairs(frame, periods)
