"""Implicit MX (RFC 5321 section 5.1 rule 4): a domain without MX
records is served by the host its own address record points to; a domain with no
address either bounces with 5.4.4.

A domain with no ``dns`` entry at all, whose name is a host's name (every host's
name has an A record), is refused by the loader's reachability check
(docs/scenario-format.md, "Checks across sections"), so that scenario is validated
here with the cross-reference checks skipped; the engine must still deliver it."""

from __future__ import annotations

import yaml
from engine_helpers import attempts_from, run_model, strings

from smtpsim.scenario import Scenario

SCENARIO = """
name: implicit-mx
duration: 5min
hosts:
  out: {role: mta, accepts: [corp.example]}
  tiny: {role: mx, name: tiny.example, accepts: [tiny.example]}
  small: {role: mx, accepts: [small.example]}
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [tiny, internet], latency: 5ms}
  - {between: [small, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
  small.example: {a: small}        # no MX records, an A record
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: [{at: 10s, messages: 12}]
    size: 2KiB
    recipients:
      per_message: {fixed: 1}
      domains: {tiny.example: 1, small.example: 1, nowhere.example: 1}
"""


def _unchecked(text: str) -> Scenario:
    return Scenario.model_validate(yaml.safe_load(text), context={"skip_references": True})


def test_implicit_mx_delivers_to_the_domains_address() -> None:
    _, result = run_model(_unchecked(SCENARIO))
    rcpts = result.recipients
    att = attempts_from(result, "out")
    by_domain = {
        d: rcpts[rcpts["domain"].astype(str) == d]
        for d in ("tiny.example", "small.example", "nowhere.example")
    }
    assert all(len(rows) >= 2 for rows in by_domain.values())
    for domain, host in (("tiny.example", "tiny"), ("small.example", "small")):
        rows = by_domain[domain]
        assert (rows["status"].astype(str) == "delivered").all(), domain
        sent = att[att["rcpt"].isin(rows["rcpt"])]
        assert strings(sent["peer"]) == [host] * len(rows)
        assert (sent["outcome"].astype(str) == "sent").all()
    # no MX and no address: bounced at once, without a session
    gone = by_domain["nowhere.example"]
    assert (gone["status"].astype(str) == "bounced").all()
    assert (gone["dsn"].astype(str) == "5.4.4").all()
    failed = att[att["rcpt"].isin(gone["rcpt"])]
    assert len(failed) == len(gone)
    assert strings(failed["peer"]) == ["none"] * len(gone)
    assert strings(failed["phase"]) == ["dns"] * len(gone)


def test_a_record_zone_loads_and_delivers() -> None:
    # the documented form (dns: {small.example: {a: small}}) passes the loader's checks
    text = SCENARIO.replace("tiny.example: 1, ", "").replace(", nowhere.example: 1", "")
    _, result = run_model(text)
    rcpts = result.recipients
    assert len(rcpts) == 12
    assert (rcpts["status"].astype(str) == "delivered").all()
    assert strings(attempts_from(result, "out")["peer"]) == ["small"] * 12
