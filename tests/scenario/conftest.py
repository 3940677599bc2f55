"""Fixtures for the tests of smtpsim.scenario."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from scenario_helpers import BASE


@pytest.fixture
def base() -> dict[str, Any]:
    """A small valid scenario as a mapping (a fresh copy for each test)."""
    return copy.deepcopy(BASE)
