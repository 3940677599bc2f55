"""``smtp_fallback_relay`` (postconf(5), docs/scenario-format.md): tried after the
MX hosts for destinations that are unreachable or cannot be found; not used while
the MX hosts answer."""

from __future__ import annotations

import yaml
from engine_helpers import at_times, attempts_from, run_model, strings

from smtpsim.scenario import Scenario

CONNECT_TIMEOUT = 30.0

SCENARIO = """
name: fallback-relay
duration: 20min
hosts:
  out: {role: mta, accepts: [corp.example], postfix: {smtp_fallback_relay: smarthost}}
  smarthost: {role: relay}
  mx: {role: mx, accepts: [dest.example]}
links:
  - {between: [out, internet], latency: 5ms}
  - {between: [smarthost, internet], latency: 5ms}
  - {between: [mx, internet], latency: 5ms}
dns:
  corp.example: {mx: {out: 10}}
  dest.example: {mx: {mx: 10}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: [{at: 10s, messages: 4}, {at: 100s, messages: 4}, {at: 400s, messages: 4}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
"""


def test_fallback_relay_takes_mail_the_mx_cannot() -> None:
    def setup(model):
        link = model.link("mx", "internet")  # unreachable: connections time out
        at_times(
            model,
            (50, lambda: setattr(link, "up", False)),
            (200, lambda: setattr(link, "up", True)),
        )

    _, result = run_model(SCENARIO, setup=setup)
    att = attempts_from(result, "out")
    assert len(att) == 12 and (att["outcome"].astype(str) == "sent").all()
    t = att["t_start"]
    normal, during = att[(t < 50) | (t > 200)], att[(t > 50) & (t < 200)]
    assert strings(normal["peer"]) == ["mx"] * 8  # the fallback is not used normally
    assert strings(during["peer"]) == ["smarthost"] * 4
    # after the MX's connection timed out
    assert (during["conn_s"] >= CONNECT_TIMEOUT).all()
    # the smarthost passes them on when it can; everything is delivered in the end
    relayed = attempts_from(result, "smarthost")
    assert set(relayed["rcpt"]) == set(during["rcpt"])
    assert relayed.groupby("rcpt")["outcome"].last().astype(str).eq("sent").all()
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_fallback_relay_takes_mail_for_a_domain_that_cannot_be_found() -> None:
    """postconf(5): "relay hosts for SMTP destinations that can't be found or that
    are unreachable. By default, mail is returned to the sender when a destination
    is not found". With a fallback relay, out passes such mail on instead of
    bouncing it; the relay, which has none, then bounces it with 5.4.4. (The
    loader refuses a recipient domain without a dns entry, so the references are
    not checked here.)"""
    text = SCENARIO.replace("domains: {dest.example: 1}", "domains: {nowhere.example: 1}")
    scenario = Scenario.model_validate(yaml.safe_load(text), context={"skip_references": True})
    _, result = run_model(scenario)
    att = attempts_from(result, "out")
    assert len(att) == 12
    assert strings(att["peer"]) == ["smarthost"] * 12
    assert (att["outcome"].astype(str) == "sent").all()
    rcpts = result.recipients[result.recipients["domain"].astype(str) == "nowhere.example"]
    assert (rcpts["status"].astype(str) == "bounced").all()
    assert (rcpts["dsn"].astype(str) == "5.4.4").all()
    assert (rcpts["hops"] == 2).all()
