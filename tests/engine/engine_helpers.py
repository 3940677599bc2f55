"""Pieces of the engine's behaviour tests: running tiny scenarios (``model_runs``,
with incidents such as hosts down or links cut scripted by ``at_times``) and reading
their tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import yaml
from model_runs import at_times, run_model

from smtpsim.metrics.result import RunResult

__all__ = ["at_times", "attempts_from", "run_model", "strings", "two_hosts"]


def two_hosts(
    name: str,
    *,
    duration: str = "10min",
    out: Mapping[str, Any] | None = None,
    mx: Mapping[str, Any] | None = None,
    traffic: Mapping[str, Any] | None = None,
    dns: Mapping[str, Any] | None = None,
    latency: str = "5ms",
    **sections: Any,
) -> str:
    """The scenario most engine tests run, as YAML text: ``out``, an MTA for
    corp.example, and ``mx``, the MX of dest.example, each ``latency`` from the
    internet; flow ``t`` submits to ``out`` 2 KiB messages with one recipient at
    dest.example. ``out``, ``mx`` and ``traffic`` add or replace keys of the two hosts
    and the flow (``traffic`` needs at least a ``rate``), ``dns`` adds or replaces
    zones, ``sections`` add top-level sections (``incidents``, ``simulation``)."""
    scenario = {
        "name": name,
        "duration": duration,
        "hosts": {
            "out": {"role": "mta", "accepts": ["corp.example"], **(out or {})},
            "mx": {"role": "mx", "accepts": ["dest.example"], **(mx or {})},
        },
        "links": [
            {"between": ["out", "internet"], "latency": latency},
            {"between": ["mx", "internet"], "latency": latency},
        ],
        "dns": {
            "corp.example": {"mx": {"out": 10}},
            "dest.example": {"mx": {"mx": 10}},
            **(dns or {}),
        },
        "traffic": {
            "t": {
                "submit_to": "out",
                "size": "2KiB",
                "recipients": {"per_message": {"fixed": 1}, "domains": {"dest.example": 1}},
                **(traffic or {}),
            }
        },
        **sections,
    }
    return yaml.safe_dump(scenario, sort_keys=False)


def attempts_from(result: RunResult, host: str) -> pd.DataFrame:
    attempts = result.attempts
    rows = attempts[attempts["host"].astype(str) == host]
    return rows.sort_values(["t_start", "msg_id"], kind="stable").reset_index(drop=True)


def strings(series: pd.Series) -> list[str]:
    return [str(v) for v in series]
