"""Shared scenario texts for the tests of smtpsim.scenario (imported by name:
two conftest modules cannot both be importable as 'conftest')."""

from __future__ import annotations

from typing import Any

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


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)
