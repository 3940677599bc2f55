"""Mail loops end in a 5.4.6 bounce, never hang a run (docs/architecture.md, section 4):
a message that has crossed more than ``hopcount_limit`` hops bounces; a host that
finds itself as the best MX of a domain it does not accept bounces at once."""

from __future__ import annotations

import time

import pytest
import yaml
from engine_helpers import attempts_from, run_model, strings

import smtpsim
from smtpsim.scenario import Scenario

HOPCOUNT = 10

LOOP = f"""
name: relay-loop
duration: 1h
hosts:
  a:
    role: mta
    accepts: [corp.example]
    postfix: {{relayhost: b, hopcount_limit: {HOPCOUNT}}}
  b:
    role: mta
    postfix: {{relayhost: a, hopcount_limit: {HOPCOUNT}}}
links:
  - {{between: [a, b], latency: 1ms}}
dns:
  corp.example: {{mx: {{a: 10}}}}
  loop.example: {{mx: {{a: 10}}}}
traffic:
  t:
    submit_to: a
    rate: 0
    bursts: [{{at: 10s, messages: 3}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{loop.example: 1}}}}
"""


def _check_loop_bounces(result) -> None:
    messages, rcpts = result.messages, result.recipients
    originals = messages.loc[messages["origin"].astype(str) == "t", "msg_id"]
    looped = rcpts[rcpts["msg_id"].isin(originals)]
    assert len(looped) == 3
    assert (looped["status"].astype(str) == "bounced").all()
    assert (looped["dsn"].astype(str) == "5.4.6").all()
    assert looped["reply"].str.startswith("554 5.4.6").all()
    # bounced by the host that received it as hop number hopcount_limit + 1
    assert (looped["hops"] == HOPCOUNT + 1).all()
    assert (looped["t_final"] < 60).all()  # in well under a minute of simulated time
    # the sender hears about it once
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == 3
    notices = rcpts[rcpts["msg_id"].isin(bounces["msg_id"])]
    assert (notices["status"].astype(str) == "delivered").all()
    decided = result.attempts[result.attempts["outcome"].astype(str) == "bounced"]
    assert len(decided) == 3
    assert strings(decided["peer"]) == ["none"] * 3
    assert strings(decided["phase"]) == ["qmgr"] * 3


def test_loader_refuses_a_relayhost_loop() -> None:
    with pytest.raises(smtpsim.ScenarioError, match="relayhost loop"):
        smtpsim.load_scenario(LOOP)


def test_relayhost_loop_bounces_with_546_and_the_run_ends() -> None:
    scenario = Scenario.model_validate(yaml.safe_load(LOOP), context={"skip_references": True})
    wall = time.perf_counter()
    model, result = run_model(scenario)
    assert time.perf_counter() - wall < 10
    assert model.env.now == 3600
    _check_loop_bounces(result)
    hops = attempts_from(result, "a")
    assert set(strings(hops["peer"])) <= {"b", "none"}


def test_mx_loop_through_a_relay_bounces_with_546() -> None:
    # a relays to b; b looks up loop.example's MX, which is a: a loop the loader
    # cannot see, broken by the hop count
    text = LOOP.replace("relayhost: a, ", "")
    _, result = run_model(text)
    _check_loop_bounces(result)
    assert "b" in set(strings(attempts_from(result, "a")["peer"]))
    assert "a" in set(strings(attempts_from(result, "b")["peer"]))


SELF_MX = """
name: self-mx
duration: 5min
hosts:
  out: {role: mta, accepts: [corp.example]}
links:
  - {between: [out, internet], latency: 1ms}
dns:
  corp.example: {mx: {out: 10}}
  self.example: {mx: {out: 10}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: [{at: 10s, messages: 2}]
    size: 2KiB
    recipients: {per_message: {fixed: 1}, domains: {self.example: 1}}
"""


def test_best_mx_is_myself_bounces_at_once() -> None:
    _, result = run_model(SELF_MX)
    att = attempts_from(result, "out")
    assert len(att) == 2
    assert strings(att["outcome"]) == ["bounced"] * 2
    assert strings(att["peer"]) == ["none"] * 2
    assert (att["dsn"].astype(str) == "5.4.6").all()
    rcpts = result.recipients
    looped = rcpts[rcpts["domain"].astype(str) == "self.example"]
    assert (looped["status"].astype(str) == "bounced").all()
    assert looped["reply"].str.contains("loops back to myself").all()
