"""Incidents that overlap on one host end in any order without leaving traces:
each one is undone, whatever the others do (a slowdown and forced replies on the
same server, ending in either order)."""

from __future__ import annotations

import pytest

import smtpsim

SCENARIO = """
name: overlap
duration: 40min
hosts:
  out: {role: mta, accepts: [corp.example]}
  mx:
    role: mx
    accepts: [dest.example]
    processing: {greeting: 0s, command: 0s, end_of_data: 10ms}
links:
  - {between: [out, internet], latency: 1ms}
  - {between: [mx, internet], latency: 1ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx: 10}}
traffic:
  t:
    submit_to: out
    rate: 0.5/s
    size: 1KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
incidents:
  - {host_slow: {host: mx, factor: 100}, at: SLOW_STARTs, until: SLOW_ENDs}
  - server_errors: {host: mx, phase: rcpt, reply: "450 4.7.1 Busy"}
    at: ERR_STARTs
    until: ERR_ENDs
"""


@pytest.mark.parametrize(
    ("slow", "err"),
    [((300, 600), (360, 900)), ((300, 900), (360, 600)),
     ((360, 600), (300, 900)), ((360, 900), (300, 600))],
)
def test_overlapping_incidents_on_one_host_are_both_undone(slow, err):
    text = SCENARIO
    for name, value in (("SLOW_START", slow[0]), ("SLOW_END", slow[1]),
                        ("ERR_START", err[0]), ("ERR_END", err[1])):
        text = text.replace(name, str(value))
    result = smtpsim.simulate(smtpsim.load_scenario(text))
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
