"""Shared fixtures. Test data is built in code (tests/yearbook_fixtures.py), never read
from outside the repository."""

from __future__ import annotations

import pytest

from yearbook_fixtures import known_panel as _known_panel


@pytest.fixture
def known_panel():
    """Long panel in canonical units (元, km², 人, 件) with two missing values; made-up numbers."""
    return _known_panel()
