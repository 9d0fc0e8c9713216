"""The Dask engine's dense route: per-unit sums as arrays over a compact integer id range.

See :mod:`policyeval.scale.dask_backend` for when it is taken. A partition's rows
become ``np.bincount`` sums over its slice of the id range (:func:`_locate`);
the client folds them into arrays with one entry per id (:func:`_stream`), so
units split across partitions (yearly files) need no shuffle.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from policyeval.scale.sufficient import PanelSpec

__all__ = ["DenseUnits"]


def _locate(ids: np.ndarray, lo: int):
    """Positions of a partition's units in the global ``id - lo`` range, in a compact local form.

    Returns ``(where, loc, m)``: ``loc`` indexes ``m`` local slots; ``where`` is the
    offset ``a`` of a contiguous slice ``[a, a + m)`` of the global range, or, when
    the partition's ids are scattered (range much wider than its rows), the sorted
    array of the ``m`` distinct global positions.
    """
    idx = ids.astype(np.int64, copy=False) - lo
    if len(idx) == 0:
        return 0, idx.astype(np.intp), 0
    a, b = int(idx.min()), int(idx.max()) + 1
    if b - a <= 2 * len(idx) + 1024:
        return a, (idx - a).astype(np.intp, copy=False), b - a
    u, inv = np.unique(idx, return_inverse=True)
    return u.astype(np.intp), inv.astype(np.intp, copy=False), len(u)


def _distinct(j: np.ndarray) -> np.ndarray:
    """Sorted distinct period positions (a yearly file holds one: skip the sort)."""
    if len(j) and j.min() == j.max():
        return j[:1]
    return np.unique(j)


def _slot(where, m):
    return slice(where, where + m) if isinstance(where, int) else where


def _per_unit_extreme(loc, m, values, fill, fn, unique):
    out = np.full(m, fill, dtype=values.dtype)
    if unique:
        out[loc] = values
    else:
        fn.at(out, loc, values)
    return out


class _Units:
    """Per-unit arrays over the compact id range ``lo .. lo + R - 1`` (held by the client)."""

    def __init__(self, lo, R, present, g, cl, key):
        self.lo, self.R, self.present, self.g, self.cl, self.key = lo, R, present, g, cl, key
        self.paths = {}            # (yname, periods) -> T x R outcome paths
        self.within = None         # (features, means bytes, p x R per-unit sums of demeaned rows)


def _stream(frame, fn, add, in_flight=None):
    """Run ``fn`` on every partition of ``frame`` and fold each small result into the client.

    With a ``distributed`` client at most ``in_flight`` partitions are in progress or
    waiting to be folded (default: twice the cluster's threads), so memory stays
    bounded by a few partitions' results; without one, partitions are computed in
    batches of that size by the current Dask scheduler.
    """
    import dask

    parts = frame.to_delayed()
    tasks = [dask.delayed(fn)(p) for p in parts]
    client = None
    try:
        from distributed import default_client

        client = default_client()
    except (ImportError, ValueError):
        client = None
    if client is None:
        k = in_flight or 2 * (os.cpu_count() or 1)
        for s in range(0, len(tasks), k):
            for r in dask.compute(*tasks[s:s + k]):
                add(r)
        return
    from distributed import as_completed

    k = in_flight or max(2, 2 * sum(client.nthreads().values()))
    pending = iter(tasks)
    first = [t for _, t in zip(range(k), pending)]
    ac = as_completed(client.compute(first))
    for fut in ac:
        r = fut.result()
        fut.release()
        add(r)
        del r
        nxt = next(pending, None)
        if nxt is not None:
            ac.add(client.compute(nxt))


class DenseUnits:
    """Mixin of :class:`~policyeval.scale.dask_backend.DaskEngine`: the dense per-unit passes.

    Uses the engine's ``df``, ``in_flight``, ``_columns``, ``_say``, ``_finish`` and
    ``_periods``; every method returns what the matching groupby method returns.
    """

    def _facts_dense(self, spec: PanelSpec, ck, periods, id_range):
        """Per-unit checks as arrays over the id range, or ``None`` to take the groupby path."""
        from policyeval.scale.dask_backend import _gnorm      # the engine's helpers (it imports us)

        T, n_rows = len(periods), int(ck["n"])
        lo, hi = id_range
        R = hi - lo + 1
        if T > 64 or R > 4 * n_rows // max(T, 1) + 1024:
            return None
        if spec.cluster is not None:
            ct = self.df.dtypes[spec.cluster]
            if not pd.api.types.is_numeric_dtype(ct) or pd.api.types.is_bool_dtype(ct):
                return None
            cl_int = pd.api.types.is_integer_dtype(ct)
        i, t, d = spec.idname, spec.tname, spec.treatment
        per = np.asarray(periods, dtype=float)
        # staggered designs (gname, no treatment column) also gather every unit's outcome path here,
        # which saves Callaway-Sant'Anna a scan; the regression passes release it
        paths = spec.gname is not None and spec.treatment is None
        Y = np.zeros((T, R)) if paths else None
        cl_dtype = np.int64 if spec.cluster is not None and cl_int else np.float64
        cl_hi = np.iinfo(np.int64).max if cl_dtype is np.int64 else np.inf
        cl_lo = np.iinfo(np.int64).min if cl_dtype is np.int64 else -np.inf

        def part_fn(part: pd.DataFrame):
            where, loc, m = _locate(part[i].to_numpy(), lo)
            cnt = np.bincount(loc, minlength=m)
            unique = m == 0 or int(cnt.max()) <= 1
            tt = part[t].to_numpy(dtype=float)
            j = np.searchsorted(per, tt)
            mask = np.zeros(m, dtype=np.uint64)
            js = _distinct(j)
            yy = part[spec.yname].to_numpy(dtype=float) if paths else None
            ycols = []
            for jj in js:
                rows = slice(None) if len(js) == 1 else j == jj
                mask[loc[rows]] |= np.uint64(1) << np.uint64(jj)
                if paths:
                    ycols.append((int(jj), np.bincount(loc[rows], weights=yy[rows], minlength=m)))
            out = {"where": where, "m": m, "cnt": cnt, "mask": mask, "ycols": ycols}
            if spec.gname:
                g = _gnorm(part, spec, late=False)
                out["gmin"] = _per_unit_extreme(loc, m, g, np.inf, np.minimum, unique)
                out["gmax"] = _per_unit_extreme(loc, m, g, -np.inf, np.maximum, unique)
            if spec.cluster is not None:
                c = part[spec.cluster].to_numpy(dtype=cl_dtype)
                out["clmin"] = _per_unit_extreme(loc, m, c, cl_hi, np.minimum, unique)
                out["clmax"] = _per_unit_extreme(loc, m, c, cl_lo, np.maximum, unique)
            if d:
                dv = part[d].to_numpy(dtype=float)
                out["t0max"] = _per_unit_extreme(loc, m, np.where(dv == 0, tt, -np.inf), -np.inf,
                                                 np.maximum, unique)
                out["t1min"] = _per_unit_extreme(loc, m, np.where(dv == 1, tt, np.inf), np.inf,
                                                 np.minimum, unique)
                out["dmin"] = _per_unit_extreme(loc, m, dv, np.inf, np.minimum, unique)
                out["dbad"] = int((~np.isin(dv, (0.0, 1.0))).sum())
            return out

        acc = {"cnt": np.zeros(R, dtype=np.int64), "mask": np.zeros(R, dtype=np.uint64), "dbad": 0}
        fills = {"gmin": (np.inf, np.minimum), "gmax": (-np.inf, np.maximum),
                 "clmin": (cl_hi, np.minimum), "clmax": (cl_lo, np.maximum),
                 "t0max": (-np.inf, np.maximum), "t1min": (np.inf, np.minimum), "dmin": (np.inf, np.minimum)}

        def add(r):
            sl = _slot(r["where"], r["m"])
            acc["cnt"][sl] += r["cnt"]
            acc["mask"][sl] |= r["mask"]
            acc["dbad"] += r.get("dbad", 0)
            for jj, arr in r["ycols"]:
                Y[jj, sl] += arr
            for key, (fill, fn) in fills.items():
                if key in r:
                    if key not in acc:
                        acc[key] = np.full(R, fill, dtype=cl_dtype if key.startswith("cl") else np.float64)
                    acc[key][sl] = fn(acc[key][sl], r[key])

        self._say("per-unit checks (dense)")
        _stream(self.df[self._columns(spec)], part_fn, add, self.in_flight)
        present = acc["cnt"] > 0
        full = np.uint64(2**T - 1)
        bad = present & ((acc["cnt"] != T) | (acc["mask"] != full))    # unbalanced or duplicated
        if spec.gname:
            bad |= present & (acc["gmin"] != acc["gmax"])
        if spec.cluster is not None:
            bad |= present & (acc["clmin"] != acc["clmax"])
        if d:
            bad |= present & (acc["t0max"] > acc["t1min"])
        if bad.any() or acc["dbad"]:
            return None            # the groupby path finds and words the problem
        n_units = int(present.sum())
        coh = None
        g = acc["gmin"] if spec.gname else None
        if spec.gname:
            vals, counts = np.unique(g[present], return_counts=True)
            coh = pd.Series(counts, index=vals.astype(float))
        ncl = len(pd.unique(acc["clmin"][present])) if spec.cluster is not None else n_units
        always = int((acc["dmin"][present] == 1).sum()) if d else 0
        self._units = _Units(lo, R, present, g, acc.get("clmin"), (spec.idname, spec.tname, spec.gname))
        if paths:
            self._units.paths[(spec.yname, spec.tname, tuple(int(p) for p in periods))] = Y
        return self._finish(spec, ck, periods, n_units, coh, ncl, always)

    def _dense_units(self, spec, cluster=False, cohorts=True):
        u = getattr(self, "_units", None)
        if u is None or u.key != (spec.idname, spec.tname, spec.gname) or (cohorts and u.g is None):
            return None
        if cluster and u.cl is None:
            return None
        return u

    def _paths(self, spec, periods, u: _Units) -> np.ndarray:
        """``T x R`` outcome paths (one scan of id, period and outcome; kept for the next call)."""
        key = (spec.yname, spec.tname, tuple(int(p) for p in periods))
        if key in u.paths:
            return u.paths[key]
        for (yname, tname, have), Y in list(u.paths.items()):
            if (yname, tname) == key[:2] and set(key[2]) <= set(have):
                Y = Y[np.searchsorted(have, key[2])]
                u.paths = {key: Y}
                return Y
        u.paths.clear()
        per = np.asarray(periods, dtype=float)
        T, lo, i, t, y = len(per), u.lo, spec.idname, spec.tname, spec.yname
        Y = np.zeros((T, u.R))

        def part_fn(part: pd.DataFrame):
            where, loc, m = _locate(part[i].to_numpy(), lo)
            tt = part[t].to_numpy(dtype=float)
            yy = part[y].to_numpy(dtype=float)
            j = np.minimum(np.searchsorted(per, tt), T - 1)
            ok = per[j] == tt
            js = _distinct(j[ok])
            if len(js) == 1 and ok.all():
                return where, m, [(int(js[0]), np.bincount(loc, weights=yy, minlength=m))]
            out = []
            for jj in js:
                sel = ok & (j == jj)
                out.append((int(jj), np.bincount(loc[sel], weights=yy[sel], minlength=m)))
            return where, m, out

        def add(r):
            where, m, cols = r
            sl = _slot(where, m)
            for jj, arr in cols:
                Y[jj, sl] += arr

        self._say("outcome paths (dense)")
        _stream(self.df[[i, t, y]], part_fn, add, self.in_flight)
        u.paths[key] = Y
        return Y

    @staticmethod
    def _cohort_codes(spec, u: _Units, drop_before):
        g = u.g
        if spec.last_period is not None:
            g = np.where(g > spec.last_period, 0.0, g)
        keep = u.present & ~((g > 0) & (g <= drop_before))
        gvals = np.unique(g[keep])
        code = np.full(u.R, -1, dtype=np.intp)
        code[keep] = np.searchsorted(gvals, g[keep])
        return code, keep, gvals

    def _cohort_moments_dense(self, spec, periods, drop_before, u):
        Y = self._paths(spec, periods, u)
        code, keep, gvals = self._cohort_codes(spec, u, drop_before)
        T, C = len(periods), len(gvals)
        S, Q = np.zeros((C, T)), np.zeros((C, T, T))
        step = 1 << 20
        for s in range(0, u.R, step):
            kb = code[s:s + step]
            Yb = Y[:, s:s + step]
            for c in np.unique(kb[kb >= 0]):
                sub = Yb[:, kb == c]
                S[c] += sub.sum(axis=1)
                Q[c] += sub @ sub.T
        counts = np.bincount(code[keep], minlength=C).astype(np.int64)
        return gvals, counts, S, Q

    def _cluster_cohort_sums_dense(self, spec, periods, drop_before, u):
        Y = self._paths(spec, periods, u)
        code, keep, gvals = self._cohort_codes(spec, u, drop_before)
        C = len(gvals)
        _, cl_code = np.unique(u.cl[keep], return_inverse=True)
        pair_key, inv = np.unique(cl_code.astype(np.int64) * C + code[keep], return_inverse=True)
        P = len(pair_key)
        sums = np.column_stack([np.bincount(inv, weights=Y[j][keep], minlength=P) for j in range(len(periods))])
        n = np.bincount(inv, minlength=P).astype(float)
        return (pair_key // C).astype(np.intp), gvals[pair_key % C].astype(float), n, sums

    def _demeaned_rows(self, spec, features, means):
        """``part -> (ids, u)``: the features and the outcome minus their period means, as numpy."""
        from policyeval.scale.dask_backend import _feature

        periods = np.asarray(self._periods, dtype=float)

        def fn(part: pd.DataFrame):
            u = np.column_stack([_feature(part, f, spec) for f in features]
                                + [part[spec.yname].to_numpy(dtype=float)])
            u -= means[np.searchsorted(periods, part[spec.tname].to_numpy(dtype=float))]
            return part[spec.idname].to_numpy(), u

        return fn

    def _within_gram_dense(self, spec, features, means, u: _Units):
        u.paths.clear()
        p = len(features) + 1
        rows = self._demeaned_rows(spec, features, means)
        lo = u.lo

        def part_fn(part: pd.DataFrame):
            ids, uu = rows(part)
            where, loc, m = _locate(ids, lo)
            sums = np.stack([np.bincount(loc, weights=uu[:, j], minlength=m) for j in range(p)])
            return where, m, sums, uu.T @ uu

        U = np.zeros((p, u.R))
        G = np.zeros((p, p))

        def add(r):
            nonlocal G
            where, m, sums, gram = r
            U[:, _slot(where, m)] += sums
            G += gram

        self._say("within pass (dense)")
        _stream(self.df[self._columns(spec)], part_fn, add, self.in_flight)
        T = len(self._periods)           # balanced (checked by facts): every unit has T rows
        UU = np.zeros((p, p))
        step = 1 << 20
        for s in range(0, u.R, step):
            b = U[:, s:s + step]
            UU += b @ b.T
        u.within = (tuple(features), np.asarray(means).tobytes(), U)
        return G, UU / T

    def _score_gram_dense(self, spec, features, means, beta, u: _Units):
        k = len(features)
        U = u.within[2]
        rows = self._demeaned_rows(spec, features, means)
        lo = u.lo

        def part_fn(part: pd.DataFrame):
            ids, uu = rows(part)
            r = uu[:, k] - uu[:, :k] @ beta
            where, loc, m = _locate(ids, lo)
            return where, m, np.stack([np.bincount(loc, weights=uu[:, j] * r, minlength=m) for j in range(k)])

        A = np.zeros((k, u.R))

        def add(r):
            where, m, a = r
            A[:, _slot(where, m)] += a

        self._say("score pass (dense)")
        _stream(self.df[self._columns(spec)], part_fn, add, self.in_flight)
        T = len(self._periods)
        resid = U[k] - beta @ U[:k]
        A -= U[:k] * (resid / T)                       # unit scores s_i (zero for ids not in the data)
        if spec.cluster is not None and spec.cluster != spec.idname:
            _, code = np.unique(u.cl[u.present], return_inverse=True)
            S = np.stack([np.bincount(code, weights=A[j][u.present]) for j in range(k)])
            return S @ S.T
        meat = np.zeros((k, k))
        step = 1 << 20
        for s in range(0, u.R, step):
            b = A[:, s:s + step]
            meat += b @ b.T
        return meat
