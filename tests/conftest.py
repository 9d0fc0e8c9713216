"""Shared fixtures. Test data is built in code (tests/yearbook_fixtures.py), never read
from outside the repository."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import the fixture builders by name; make that work whatever
# pytest's --import-mode is (importlib mode does not put tests/ on sys.path).
sys.path.insert(0, str(Path(__file__).resolve().parent))

from yearbook_fixtures import known_panel as _known_panel  # noqa: E402


@pytest.fixture
def known_panel():
    """Long panel in canonical units (元, km², 人, 件) with two missing values; made-up numbers."""
    return _known_panel()


@pytest.fixture(scope="module")
def client():
    """An in-process Dask cluster (two single-threaded workers) for the out-of-core tests."""
    import warnings

    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # in-process workers (processes=False) measure the memory of the whole pytest process,
        # which passes 0.8 GiB late in the full suite: a memory_limit would pause the workers and
        # hang the run, so none is set
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                           dashboard_address=None, memory_limit=0)
        c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()
