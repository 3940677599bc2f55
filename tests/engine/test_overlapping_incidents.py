"""Incidents that overlap on one host end in any order without leaving traces:
each one is undone, whatever the others do (a slowdown and forced replies on the
same server, ending in either order)."""

from __future__ import annotations

import pytest
from engine_helpers import two_hosts

import smtpsim


def scenario(slow: tuple[int, int], err: tuple[int, int]) -> str:
    """mx slowed 100 times during ``slow`` and answering RCPT with 450 during
    ``err`` (start and end, seconds); a message every 2 s."""
    return two_hosts(
        "overlap",
        duration="40min",
        latency="1ms",
        mx={"processing": {"greeting": "0s", "command": "0s", "end_of_data": "10ms"}},
        traffic={"rate": "0.5/s", "size": "1KiB"},
        incidents=[
            {
                "host_slow": {"host": "mx", "factor": 100},
                "at": f"{slow[0]}s",
                "until": f"{slow[1]}s",
            },
            {
                "server_errors": {"host": "mx", "phase": "rcpt", "reply": "450 4.7.1 Busy"},
                "at": f"{err[0]}s",
                "until": f"{err[1]}s",
            },
        ],
    )


@pytest.mark.parametrize(
    ("slow", "err"),
    [
        ((300, 600), (360, 900)),
        ((300, 900), (360, 600)),
        ((360, 600), (300, 900)),
        ((360, 900), (300, 600)),
    ],
)
def test_overlapping_incidents_on_one_host_are_both_undone(slow, err):
    result = smtpsim.simulate(smtpsim.load_scenario(scenario(slow, err)))
    att = result.attempts[result.attempts["host"].astype(str) == "out"]
    t = att["t_start"]
    # forced replies exactly while their incident lasts, whatever the slowdown does
    errors = att[(t > err[0] + 1) & (t < err[1] - 1)]
    assert len(errors) > 20 and (errors["code"] == 450).all()
    last_end = max(slow[1], err[1])
    after = att[t > last_end + 1]
    assert len(after) > 100
    assert set(after["code"]) == {250}
    # the server is fast again: a session is 3 round trips of 4 ms plus 10 ms
    assert after["xfer_s"].max() < 0.05
    slow_only = att[(t > slow[0] + 1) & (t < slow[1] - 1) & ((t < err[0]) | (t > err[1]))]
    assert (slow_only["xfer_s"] > 0.5).all()  # 10 ms times 100
