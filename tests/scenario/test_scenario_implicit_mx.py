"""A recipient domain with no MX records is reached through the host named after it
(RFC 5321 section 5.1, implicit MX): the loader accepts it, and the engine delivers."""

from __future__ import annotations

import pytest

import smtpsim

IMPLICIT = """
name: implicit
duration: 10min
hosts:
  out: {role: mta, accepts: [corp.example]}
  box: {role: mx, name: small.example, accepts: [small.example]}
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [box, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
traffic:
  t:
    submit_to: out
    rate: 0.05/s
    recipients: {per_message: {fixed: 1}, domains: {small.example: 1}}
"""


def test_domain_named_like_a_host_is_reached_by_its_address():
    result = smtpsim.simulate(smtpsim.load_scenario(IMPLICIT))
    rcpts = result.recipients
    assert len(rcpts) > 0
    assert set(rcpts["status"].astype(str)) == {"delivered"}
    peers = set(result.attempts.query("host == 'out'")["peer"].astype(str))
    assert peers == {"box"}


def test_without_the_host_name_the_domain_is_unreachable():
    text = IMPLICIT.replace("name: small.example, ", "")
    with pytest.raises(smtpsim.ScenarioError) as error:
        smtpsim.load_scenario(text)
    paths = [p.path for p in error.value.problems]
    assert "traffic.t.recipients.domains.small.example" in paths
