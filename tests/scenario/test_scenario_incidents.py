"""The incidents section: its forms, its checks, and the reply grammar it shares
with the protocol core."""

from __future__ import annotations

from pathlib import Path

import pytest

import smtpsim
from smtpsim.protocol import Reply

BASE = (Path(__file__).parents[2] / "scenarios" / "quickstart.yaml").read_text()


def load(incidents: str) -> smtpsim.scenario.Scenario:
    return smtpsim.load_scenario(BASE + "\nincidents:\n" + incidents)


def problems(incidents: str) -> dict[str, str]:
    with pytest.raises(smtpsim.ScenarioError) as error:
        load(incidents)
    return {p.path: p.message for p in error.value.problems}


def test_short_and_long_forms():
    s = load(
        "  - {link_down: [mx-small, internet], at: 20h, for: 45min}\n"
        "  - {host_down: mx1, at: 1h, until: 2h}\n"
        "  - {host_down: {host: mx2, mode: blackhole}}\n"
        "  - {dns_failure: bigmail.example, every: 1d, for: 10min}\n"
        "  - {server_errors: {host: mx1, phase: rcpt, reply: '421 4.7.0 Busy'}, at: 5min}\n"
    )
    kinds = [i.kind for i in s.incidents]
    assert kinds == ["link_down", "host_down", "host_down", "dns_failure", "server_errors"]
    assert s.incidents[0].at == 72000 and s.incidents[0].end == 72000 + 2700
    assert s.incidents[1].target.host == "mx1" and s.incidents[1].target.mode == "refuse"
    assert s.incidents[1].end == 7200
    assert s.incidents[2].target.mode == "blackhole" and s.incidents[2].end is None
    assert s.incidents[3].every == 86400 and s.incidents[3].for_ == 600
    assert s.incidents[4].target.probability == 1.0


def test_bad_incidents_are_reported_with_their_paths():
    found = problems(
        "  - {link_down: [mx1, msa], at: 2h, until: 1h}\n"
        "  - {host_down: nosuchhost, at: 1h}\n"
        "  - {server_errors: {host: mx1, phase: rcpt, reply: '42 oops', probability: 1.5}}\n"
        "  - {dns_failure: unknown.example}\n"
        "  - {host_slow: {host: mx1, factor: 2}, at: 1h, for: 1h, until: 3h}\n"
    )
    assert "ends" in found["incidents[0]"] and "before it starts" in found["incidents[0]"]
    assert found["incidents[0].link_down"] == "no link between mx1 and msa"
    assert found["incidents[1].host_down"].startswith("unknown host 'nosuchhost'")
    assert "expected a reply such as" in found["incidents[2].server_errors.reply"]
    assert "1.5" in found["incidents[2].server_errors.probability"]
    assert found["incidents[3].dns_failure"] == "no dns entry for unknown.example"
    assert "either 'for' or 'until'" in found["incidents[4]"]


def test_an_incident_needs_exactly_one_kind():
    found = problems("  - {link_down: [out, internet], host_down: mx1}\n  - {at: 1h}\n")
    assert "exactly one of" in found["incidents[0]"]
    assert "got none" in found["incidents[1]"]


@pytest.mark.parametrize(
    "text",
    [
        "421 4.7.0 Try again later",
        "550 5.1.1 <a@b> unknown",
        "451 Try later",
        "250",
        "42 oops",
        "600 too big",
        "451 5.3.0 wrong class",
        "abc",
        "421 4.7.0",
    ],
)
def test_reply_grammar_agrees_with_the_protocol_core(text):
    incident = f"  - {{server_errors: {{host: mx1, phase: rcpt, reply: '{text}'}}}}\n"
    try:
        Reply.parse(text)
        protocol_ok = True
    except ValueError:
        protocol_ok = False
    try:
        load(incident)
        scenario_ok = True
    except smtpsim.ScenarioError:
        scenario_ok = False
    assert scenario_ok == protocol_ok
