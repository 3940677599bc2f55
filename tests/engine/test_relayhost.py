"""``relayhost`` (postconf(5)): all mail not for a local domain goes to the relay
host, without an MX lookup, even when the MX hosts could be reached directly; mail
for the host's own domains stays there."""

from __future__ import annotations

from engine_helpers import attempts_from, run_model, strings

SCENARIO = """
name: relayhost
duration: 5min
hosts:
  msa:
    role: msa
    accepts: [corp.example]
    # no connection reuse, so that every session to the relay has the same set-up
    postfix: {relayhost: out, smtp_connection_cache_on_demand: false}
  out: {role: mta}
  mx1: {role: mx, accepts: [bigmail.example]}
  mx2: {role: mx, accepts: [partner.example]}
links:
  - {between: [msa, out], latency: 1ms}
  - {between: [msa, internet], latency: 2ms}   # msa could reach the MX hosts itself
  - {between: [out, internet], latency: 5ms}
  - {between: [mx1, internet], latency: 5ms}
  - {between: [mx2, internet], latency: 5ms}
dns:
  corp.example: {mx: {msa: 10}}
  bigmail.example: {mx: {mx1: 10}}
  partner.example: {mx: {mx2: 10}}
traffic:
  staff:
    submit_to: msa
    rate: 0
    bursts: [{at: 10s, messages: 30}]
    size: 2KiB
    recipients:
      per_message: {mean: 2}
      domains: {bigmail.example: 1, partner.example: 1, corp.example: 1}
"""


def test_everything_goes_through_the_relay() -> None:
    _, result = run_model(SCENARIO)
    rcpts = result.recipients
    assert (rcpts["status"].astype(str) == "delivered").all()

    from_msa = attempts_from(result, "msa")
    remote = rcpts[rcpts["domain"].astype(str) != "corp.example"]
    assert len(from_msa) == len(remote) > 20
    assert set(strings(from_msa["peer"])) == {"out"}
    assert (from_msa["outcome"].astype(str) == "sent").all()
    # no MX lookup on the way to the relay: with constant latencies and processing
    # every session's set-up takes the same time (a resolver miss would add to some)
    assert from_msa["conn_s"].nunique() == 1

    # the relay delivers by MX
    from_out = attempts_from(result, "out")
    assert len(from_out) == len(remote)
    expected_peer = {"bigmail.example": "mx1", "partner.example": "mx2"}
    assert strings(from_out["peer"]) == [
        expected_peer[r.partition("@")[2]] for r in from_out["rcpt"]
    ]

    # local mail is delivered into msa's mailboxes: submitted, never relayed
    local = rcpts[rcpts["domain"].astype(str) == "corp.example"]
    assert len(local) > 5
    assert (local["hops"] == 1).all() and (local["attempts"] == 1).all()
