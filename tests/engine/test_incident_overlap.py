"""Incidents that overlap on one target (smtpsim/faults/actions.py: "Incidents may
overlap on one target and end in any order"): each one's effect lasts its own
window, whichever ends first. Single messages at chosen times probe the state of
the target; out does not cache connections, and never declares a destination dead
(``default_destination_concurrency_failed_cohort_limit: 0``), so that each probe
sees the target itself rather than qmgr's memory of earlier failures (three in a
row would suspend it for 300 s: tests/engine/test_dead_destination.py)."""

from __future__ import annotations

import pytest
from engine_helpers import attempts_from, strings

import smtpsim


def run(
    incidents: str,
    times: list[float],
    *,
    domain: str = "solo.example",
    mx1: str = "",
    ttl: str = "1h",
) -> smtpsim.RunResult:
    bursts = "[" + ", ".join(f"{{at: {t:g}s, messages: 1}}" for t in times) + "]"
    text = f"""
name: overlap
duration: 40min
hosts:
  out:
    role: mta
    accepts: [corp.example]
    postfix: {{smtp_connection_cache_on_demand: false,
              default_destination_concurrency_failed_cohort_limit: 0}}
  mx1: {{role: mx, accepts: [dest.example, solo.example]{mx1}}}
  mx2: {{role: mx, accepts: [dest.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
  - {{between: [mx2, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10, mx2: 20}}}}
  solo.example: {{mx: {{mx1: 10}}, ttl: {ttl}}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: {bursts}
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{{domain}: 1}}}}
incidents:
{incidents}
"""
    return smtpsim.simulate(smtpsim.load_scenario(text))


def first_attempts(result):
    """Each message's first attempt at out (the probe at its submission time)."""
    out = attempts_from(result, "out")
    return out.groupby("msg_id", sort=True).head(1).reset_index(drop=True)


# the probes: before, in the first only, in both, in the second only, after
PROBES = [50.0, 150.0, 250.0, 350.0, 450.0]
FIRST_SECOND = """  - {KIND1, at: 100s, until: 300s}
  - {KIND2, at: 200s, until: 400s}
"""


def two(kind1: str, kind2: str) -> str:
    return FIRST_SECOND.replace("KIND1", kind1).replace("KIND2", kind2)


def test_two_link_downs() -> None:
    result = run(two("link_down: [mx1, internet]", "link_down: [mx1, internet]"), PROBES)
    first = first_attempts(result)
    assert strings(first["outcome"]) == ["sent", "deferred", "deferred", "deferred", "sent"]
    assert strings(first["dsn"])[1:4] == ["4.4.1"] * 3


def test_two_host_downs() -> None:
    result = run(two("host_down: mx1", "host_down: mx1"), PROBES, domain="dest.example")
    out = attempts_from(result, "out")
    assert (out["outcome"].astype(str) == "sent").all()
    assert strings(out["peer"]) == ["mx1", "mx2", "mx2", "mx2", "mx1"]


def test_two_dns_failures() -> None:
    # a 1 s TTL: every probe asks the zone
    result = run(two("dns_failure: solo.example", "dns_failure: solo.example"), PROBES, ttl="1s")
    first = first_attempts(result)
    assert strings(first["dsn"]) == ["2.0.0", "4.4.3", "4.4.3", "4.4.3", "2.0.0"]


@pytest.mark.parametrize("order", ["errors first", "slow first"])
def test_host_slow_and_server_errors(order: str) -> None:
    slow = "host_slow: {host: mx1, factor: 3}"
    errors = "server_errors: {host: mx1, phase: rcpt, reply: '450 4.2.0 Busy'}"
    incidents = two(errors, slow) if order == "errors first" else two(slow, errors)
    result = run(
        incidents, PROBES, mx1=", processing: {greeting: 0s, command: 0s, end_of_data: 1s}"
    )
    first = first_attempts(result)
    in_errors = (
        [False, True, True, False, False]
        if order == "errors first"
        else [False, False, True, True, False]
    )
    in_slow = (
        [False, False, True, True, False]
        if order == "errors first"
        else [False, True, True, False, False]
    )
    assert (first["code"] == 450).tolist() == in_errors
    took = (first["t_end"] - first["t_start"]).tolist()
    for t, err, slowed in zip(took, in_errors, in_slow, strict=True):
        if not err:  # a session that reaches the end of data: 1 s, or 3 s when slow
            assert (t > 3) == slowed, (took, in_slow)


def test_host_down_outlasts_a_crash_inside_it() -> None:
    # mx1 refuses connections from 100 to 400 s; it also crashes (150-200 s): after
    # its restart its SMTP service is still down until 400 s
    incidents = """  - {host_down: mx1, at: 100s, until: 400s}
  - {host_crash: mx1, at: 150s, until: 200s}
"""
    result = run(incidents, [50.0, 120.0, 170.0, 250.0, 350.0, 450.0], domain="dest.example")
    out = attempts_from(result, "out")
    sent = out[out["outcome"].astype(str) == "sent"]
    assert strings(sent["peer"]) == ["mx1", "mx2", "mx2", "mx2", "mx2", "mx1"]
