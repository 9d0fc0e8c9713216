"""Multiplier draws without a units x draws matrix of floats.

Both multiplier laws of :mod:`policyeval.inference.bootstrap` take two values,
so each multiplier is :math:`V = a + b B` with :math:`B \\in \\{0, 1\\}`, and a
bootstrap sum splits as

.. math::

    \\sum_i V_{ri} f_i = a \\sum_i f_i + b \\sum_i B_{ri} f_i .

The second sum is computed for ``GROUP`` draws at once: the indicators of one
unit in those draws form a ``GROUP``-bit code, one pass over the units adds
each unit's features into the row of its (cell, code) pair (a sparse product),
and each draw's sum is then the sum of the rows whose code has that draw's
bit set. The work per draw is one pass
over the units divided by ``GROUP``, plus generating the random bits; memory
is a few rows of bytes per unit, never a float per unit and draw.

The random stream is the one :func:`policyeval.inference.bootstrap.multiplier_draws`
has always used (a Rademacher sign is the top bit of one random byte drawn as
``Generator.integers(0, 2, dtype=int8)`` draws it; a Mammen multiplier compares
one uniform double with :math:`\\phi/\\sqrt 5`), generated in the same calls,
so a seed gives the same draws as before, to the last bit.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = ["MultiplierStream", "rademacher_bytes", "binary_cell_sums"]

GOLDEN = (1 + np.sqrt(5)) / 2
GROUP = 12                     # at most this many draws folded into one code (2**GROUP rows per cell)
_LOW_BYTES = 0x0101010101010101


def rademacher_bytes(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` random bytes whose top bits are ``rng.integers(0, 2, count, dtype=int8)``.

    numpy draws a bounded ``int8`` from one byte of a buffered 32-bit output
    (Lemire's method: for the range 2 the value is the byte's top bit, never
    rejected), four bytes per word, the leftover bytes of the last word
    discarded. Drawing the words directly is the same stream, several times faster.
    """
    words = rng.integers(0, 2 ** 32, size=(count + 3) // 4, dtype=np.uint32)
    return words.view(np.uint8)[:count]


class MultiplierStream:
    """The multipliers of one bootstrap, in the order and the calls of the reference.

    Parameters
    ----------
    kind : {"rademacher", "mammen"}
    rng : numpy.random.Generator
    chunk : int
        Draws per call to the generator (the reference generates ``chunk x size``
        multipliers per call; keeping the calls keeps the stream).
    key : hashable, optional
        Identifies the draws (law, seed, number, chunk) so results computed from
        them can be cached and reused by another bootstrap with the same seed;
        ``None`` when the draws cannot be reproduced (no seed, or a Generator).
    """

    def __init__(self, kind: str, rng: np.random.Generator, chunk: int, key=None) -> None:
        self.kind, self.rng, self.chunk, self.key = kind, rng, int(chunk), key
        if kind == "rademacher":
            self.v0, self.v1 = -1.0, 1.0
        else:                                   # Mammen: phi, or 1 - phi when U < phi/sqrt5
            self.v0, self.v1 = GOLDEN, 1.0 - GOLDEN
        self.a, self.b = self.v0, self.v1 - self.v0      # V = a + b B

    def __call__(self, m: int, size: int) -> np.ndarray:
        """``m x size`` float multipliers (the reference representation)."""
        return np.where(self.indicator_bytes(m, size) >= 128, self.v1, self.v0)

    def indicator_bytes(self, m: int, size: int) -> np.ndarray:
        """``m x size`` bytes whose top bit is the indicator ``B`` of one call."""
        if self.kind == "rademacher":
            return rademacher_bytes(self.rng, m * size).reshape(m, size)
        low = self.rng.random((m, size)) < GOLDEN / np.sqrt(5)
        return low.view(np.uint8) << 7

    def indicator_rows(self, n_draws: int, size: int):
        """Yield ``(start, rows)`` blocks of indicator bytes covering ``n_draws`` draws."""
        for start in range(0, n_draws, self.chunk):
            m = min(self.chunk, n_draws - start)
            yield start, self.indicator_bytes(m, size)


def _codes(rows: np.ndarray) -> np.ndarray:
    """Code of every column: bit ``j`` is the top bit of ``rows[j]`` (``len(rows) <= 16``)."""
    m, size = rows.shape
    padded = -(-size // 8) * 8
    buf = np.zeros((m, padded), dtype=np.uint8)
    buf[:, :size] = rows
    words = buf.view(np.uint64)                 # eight columns per word, one byte each
    code = np.zeros(size, dtype=np.int32)
    for lo in range(0, m, 8):
        acc = np.zeros(padded // 8, dtype=np.uint64)
        for j in range(lo, min(lo + 8, m)):
            acc |= ((words[j] >> np.uint64(7)) & np.uint64(_LOW_BYTES)) << np.uint64(j - lo)
        code |= acc.view(np.uint8)[:size].astype(np.int32) << (lo)
    return code


def _workers(n_rows: int) -> int:
    """Threads for :func:`binary_cell_sums`: two on large problems when there are two cores."""
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 2 if n_rows >= 200_000 and cores >= 2 else 1


def binary_cell_sums(stream: MultiplierStream, n_draws: int, n_multipliers: int, index,
                     cell: np.ndarray, n_cells: int, features: np.ndarray, progress=None):
    """Per-cell multiplier sums of feature rows, draw by draw.

    Each row ``e`` of ``features`` (``n_rows x F``) belongs to cell ``cell[e]``
    and takes multiplier column ``index[e]`` (``None``: row ``e`` takes column
    ``e``). Returns ``(Z, total)``: ``Z[r, c] = sum_{e in c} B[r, index[e]] f_e``
    (``n_draws x n_cells x F``) and ``total[c] = sum_{e in c} f_e``, so the
    multiplier sums are ``stream.a * total + stream.b * Z``.
    """
    features = np.ascontiguousarray(features, dtype=float)
    n_rows, n_feat = features.shape
    cell = np.asarray(cell, dtype=np.int64)
    # a code of g bits costs one pass over the rows per g draws plus 2**g table rows per draw
    group = int(np.clip(np.floor(np.log2(max(n_rows / max(n_cells, 1), 2.0))), 1, GROUP))
    table = 2 ** group
    cell32 = cell.astype(np.int32)
    members = sparse.csr_matrix((np.ones(n_rows), (cell, np.arange(n_rows))), shape=(n_cells, n_rows))
    total = np.asarray(members @ features)
    Z = np.empty((n_draws, n_cells, n_feat))
    # the sparse product and the table sums release the GIL: with two workers one group's sums
    # overlap the next group's random bits. Each group writes its own rows of Z, so the result
    # does not depend on the number of workers.
    workers = _workers(n_rows)
    onehots = [sparse.csc_matrix((np.ones(n_rows), cell32.copy(), np.arange(n_rows + 1, dtype=np.int32)),
                                 shape=(table * n_cells, n_rows)) for _ in range(max(workers, 1))]

    def group_sums(rows, start, onehot):
        code = _codes(rows)
        onehot.indices = (code if index is None else code[index]) * np.int32(n_cells) + cell32
        S = np.asarray(onehot @ features).reshape(table, n_cells, n_feat)   # row: (code, cell)
        for j in range(rows.shape[0]):
            # rows whose code has bit j set (a sum, not a product with a 0/1 matrix: tiny BLAS
            # calls stall when other processes hold the cores)
            Z[start + j] = S.reshape(table >> (j + 1), 2, 1 << j, n_cells, n_feat)[:, 1].sum(axis=(0, 1))
        return rows.shape[0]

    def groups():
        pending, done = [], 0
        for _, rows in stream.indicator_rows(n_draws, n_multipliers):
            pending.append(rows)
            have = sum(len(p) for p in pending)
            while have >= group:
                block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                yield block[:group], done
                done += group
                rest = block[group:]
                pending = [rest] if len(rest) else []
                have = len(rest)
        if pending:
            yield np.concatenate(pending), done

    if workers <= 1:
        for rows, start in groups():
            m = group_sums(rows, start, onehots[0])
            if progress is not None:
                progress.update(m)
        return Z, total
    from concurrent.futures import ThreadPoolExecutor

    running: list = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for i, (rows, start) in enumerate(groups()):
            if len(running) >= workers:          # a worker's matrix is reused two groups later
                m = running.pop(0).result()
                if progress is not None:
                    progress.update(m)
            running.append(pool.submit(group_sums, rows, start, onehots[i % workers]))
        for fut in running:
            m = fut.result()
            if progress is not None:
                progress.update(m)
    return Z, total
