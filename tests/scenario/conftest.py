"""Shared scenario texts for the tests of smtpsim.scenario."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

BASE: dict[str, Any] = {
    "name": "base",
    "duration": "1d",
    "hosts": {
        "msa": {"role": "msa", "postfix": {"relayhost": "out"}},
        "out": {"role": "mta", "accepts": ["corp.example"]},
        "mx1": {"role": "mx", "accepts": ["bigmail.example"]},
    },
    "links": [
        {"between": ["msa", "out"]},
        {"between": ["out", "internet"], "latency": "10ms"},
        {"between": ["mx1", "internet"], "latency": "40ms"},
    ],
    "dns": {
        "corp.example": {"mx": {"out": 10}},
        "bigmail.example": {"mx": {"mx1": 10}},
    },
    "traffic": {
        "staff": {
            "submit_to": "msa",
            "sender_domain": "corp.example",
            "rate": "2/s",
            "recipients": {"domains": {"bigmail.example": 1}},
        }
    },
}


@pytest.fixture
def base() -> dict[str, Any]:
    """A small valid scenario as a mapping (a fresh copy for each test)."""
    return copy.deepcopy(BASE)


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)
