"""A simulated server that answers what RFC 5321 does not allow (issue 9, item 3).

A ``server_errors`` incident can force any reply at any phase, including impossible
ones: a 250 to DATA (the content was never sent), a 354 to MAIL, a 354 greeting, a
354 after the content. The sending MTA must not count such a session as a delivery:
it defers every recipient with Postfix's words, ``451 4.5.0 Protocol error: host
mx1.sim.example[ip] said: ... (in reply to DATA command)`` (smtpsim.mta.session), the
message stays queued, is retried, and expires at ``maximal_queue_lifetime`` with that
text as its last error, or is delivered once the server behaves again. Fast path and
wire mode agree.
"""

from __future__ import annotations

import pandas as pd
import pytest
from engine_helpers import attempts_from, strings

import smtpsim

MX1 = "mx1.sim.example[198.18.0.2]"


def scenario(
    phase: str, reply: str, *, until: str = "1h", lifetime: str = "15min", wire: bool = False
) -> str:
    """out sends two messages of two recipients each to solo.example (mx1 only)."""
    return f"""
name: impossible-replies
duration: 30min
simulation: {{wire: {str(wire).lower()}}}
hosts:
  out: {{role: mta, accepts: [corp.example],
         postfix: {{maximal_queue_lifetime: {lifetime}, bounce_queue_lifetime: {lifetime}}}}}
  mx1: {{role: mx, accepts: [solo.example]}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  solo.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    rate: 0
    stop: 30min
    bursts: [{{at: 50s, messages: 2, over: 20s}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 2}}, domains: {{solo.example: 1}}}}
incidents:
  - {{server_errors: {{host: mx1, phase: {phase}, reply: '{reply}'}}, at: 0s, until: {until}}}
"""


def run(text: str) -> smtpsim.RunResult:
    return smtpsim.simulate(smtpsim.load_scenario(text))


def to_solo(result: smtpsim.RunResult) -> pd.DataFrame:
    rcpts = result.recipients
    return rcpts[rcpts["domain"].astype(str) == "solo.example"]


CASES = [
    ("data", "250 2.0.0 ok", "said: 250 2.0.0 ok (in reply to DATA command)", "data"),
    ("mail", "354 go ahead", "said: 354 go ahead (in reply to MAIL FROM command)", "mail"),
    ("connect", "354 hello", "refused to talk to me: 354 hello", "greeting"),
    (
        "end-of-data",
        "354 once more",
        "said: 354 once more (in reply to end of DATA command)",
        "content",
    ),
]


@pytest.mark.parametrize(
    ("phase", "reply", "words", "where"), CASES, ids=[case[0] for case in CASES]
)
def test_an_impossible_reply_is_a_deferral_never_a_delivery(phase, reply, words, where):
    result = run(scenario(phase, reply))
    out = attempts_from(result, "out")
    to_mx1 = out[out["peer"].astype(str) == "mx1"]
    assert len(to_mx1) == 4 * 3  # 4 recipients tried at 50 s, 10 min and 20 min (expiry)
    assert strings(to_mx1["outcome"]) == ["deferred"] * len(to_mx1)
    assert (to_mx1["code"] == 451).all()
    assert strings(to_mx1["dsn"]) == ["4.5.0"] * len(to_mx1)
    assert strings(to_mx1["phase"]) == [where] * len(to_mx1)
    # nothing reached mx1's queue: it never handed anything on or to a mailbox
    assert attempts_from(result, "mx1").empty
    solo = to_solo(result)
    assert len(solo) == 4
    assert strings(solo["status"]) == ["expired"] * 4
    expected = f"451 4.5.0 Protocol error: host {MX1} {words}"
    assert strings(solo["reply"]) == [expected] * 4


def test_the_message_is_delivered_once_the_server_behaves() -> None:
    result = run(scenario("data", "250 2.0.0 ok", until="5min", lifetime="5d"))
    out = attempts_from(result, "out")
    to_mx1 = out[out["peer"].astype(str) == "mx1"]
    before = to_mx1[to_mx1["t_start"] < 300]
    after = to_mx1[to_mx1["t_start"] >= 300]
    assert len(before) == 4 and strings(before["outcome"]) == ["deferred"] * 4
    assert len(after) == 4 and strings(after["outcome"]) == ["sent"] * 4
    solo = to_solo(result)
    assert strings(solo["status"]) == ["delivered"] * 4
    # attempts: the submission to out, the deferral, the delivery at the next scan
    assert (solo["t_final"] >= 300).all() and (solo["attempts"] == 3).all()


def test_wire_mode_records_the_same() -> None:
    fast = run(scenario("data", "250 2.0.0 ok"))
    wire = run(scenario("data", "250 2.0.0 ok", wire=True))
    pd.testing.assert_frame_equal(fast.attempts, wire.attempts)
    pd.testing.assert_frame_equal(fast.recipients, wire.recipients)


def test_the_maillog_says_protocol_error_in_postfix_words() -> None:
    from smtpsim.metrics.maillog import maillog_lines

    lines = [
        line
        for line in maillog_lines(run(scenario("data", "250 2.0.0 ok")))
        if "postfix/smtp[" in line and "status=deferred" in line
    ]
    assert lines
    assert all(
        line.endswith(
            f"dsn=4.5.0, status=deferred (Protocol error: host {MX1} said: "
            "250 2.0.0 ok (in reply to DATA command))"
        )
        for line in lines
    )
