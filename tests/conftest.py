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
