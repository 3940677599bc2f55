"""A failing resolver (one host's DNS, cache included) and a rate limit changed by an
incident, in the tables; and the checks on such incidents."""

from __future__ import annotations

import pytest

import smtpsim

BASE = """
name: resolver
duration: 30min
hosts:
  out: {role: mta, accepts: [corp.example]}
  mx:
    role: mx
    accepts: [dest.example]
    policies:
      - rate_limit: {connections: 50, message_rate: 0}
links:
  - {between: [out, internet], latency: 1ms}
  - {between: [mx, internet], latency: 1ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx: 10}, ttl: 1d}
traffic:
  t:
    submit_to: out
    rate: 1/s
    size: 1KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
incidents:
"""


def run(incidents: str) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(BASE + incidents))


@pytest.mark.parametrize(("mode", "cost"), [("servfail", 0.02), ("timeout", 10.0)])
def test_a_failing_resolver_defers_even_what_its_cache_knows(mode, cost):
    result = run(f"  - {{dns_failure: {{resolver: out, mode: {mode}}}, at: 10min, for: 5min}}\n")
    att = result.attempts[result.attempts["host"].astype(str) == "out"]
    failed = att[att["dsn"].astype(str) == "4.4.3"]
    # the MX answer was cached for a day before the window: the resolver's failure
    # hides it anyway, for every delivery that started in the window
    started = att[(att["t_start"] >= 600) & (att["t_start"] < 900)]
    assert len(started) > 100
    assert (started["dsn"].astype(str) == "4.4.3").all()
    # a temporary DNS failure is site trouble (negative feedback, as in Postfix's
    # smtp_connect.c): lookups cost their time and fail; once a pseudo-cohort failed,
    # the destination is dead and qmgr defers its mail at once, with the same status.
    # A 20 ms failure at 1 message/s leaves nothing waiting or under way between
    # messages, so the destination is forgotten with its counters after each
    # (qmgr_entry.c, qmgr_entry_done) and never dies; 10 s failures overlap (about
    # ten under way) and add up to a pseudo-cohort.
    lookups = failed[failed["phase"].astype(str) == "dns"]
    suspended = failed[failed["phase"].astype(str) == "qmgr"]
    assert len(lookups) >= 3 and (len(suspended) > 0) == (mode == "timeout")
    assert len(lookups) + len(suspended) == len(failed)
    assert ((lookups["t_end"] - lookups["t_start"]).round(6) == cost).all()
    assert (lookups["t_start"] >= 600).all() and (lookups["t_start"] < 900).all()
    assert (suspended["t_end"] == suspended["t_start"]).all()
    assert (suspended["t_start"] >= lookups["t_end"].min()).all()
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_a_rate_limit_changed_for_a_window():
    result = run(
        "  - {policy: {host: mx, policy: rate_limit, message_rate: 10}, at: 10min, for: 10min}\n"
    )
    att = result.attempts[result.attempts["host"].astype(str) == "out"]
    limited = att[(att["code"] == 450) & (att["dsn"].astype(str) == "4.7.1")]
    assert len(limited) > 100
    assert (limited["t_start"] >= 600).all() and (limited["t_start"] < 1200).all()
    # inside the window at most 10 messages a minute get through (anvil's windows
    # start at a client's first message, so a sliding minute may see up to 20)
    sent = att[
        (att["outcome"].astype(str) == "sent") & (att["t_start"] >= 600) & (att["t_start"] < 1200)
    ]
    assert len(sent) <= 10 * 11
    assert len(sent) >= 10 * 9


def test_switch_checks_name_the_problem():
    cases = {
        "  - {policy: {host: mx, policy: greylisting, enabled: false}}\n": (
            "incidents[0].policy.policy",
            "host mx has no greylisting policy",
        ),
        "  - {policy: {host: mx, policy: rate_limit}}\n": (
            "incidents[0].policy",
            "say what changes",
        ),
        "  - {dns_failure: {resolver: nowhere}}\n": (
            "incidents[0].dns_failure.resolver",
            "unknown host 'nowhere'",
        ),
        "  - {dns_failure: {zone: dest.example, resolver: out}}\n": (
            "incidents[0].dns_failure",
            "a zone or a resolver",
        ),
    }
    for text, (path, fragment) in cases.items():
        with pytest.raises(smtpsim.ScenarioError) as error:
            smtpsim.load_scenario(BASE + text)
        found = {p.path: p.message for p in error.value.problems}
        assert path in found, found
        assert fragment in found[path]
