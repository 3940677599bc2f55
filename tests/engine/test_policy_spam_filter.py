"""The spam filter (docs/scenario-format.md, "policies"): each message scores
normal(mean, sd) by its sender's class (classes by sender domain); at or above
``threshold`` it is refused at the end of data with 550 5.7.1 and bounced by the
sending MTA. The share refused is the normal tail probability, checked here within
a binomial 4-sigma band."""

from __future__ import annotations

import math
from statistics import NormalDist

import smtpsim

THRESHOLD = 5.0
DEFAULT = (3.5, 1.5)  # P(score >= 5) = 1 - Phi(1), about 15.9 %
TRUSTED = (1.0, 2.0)  # P(score >= 5) = 1 - Phi(2), about 2.3 %
MESSAGES = 800

SPAM = f"""
name: spam-filter
duration: 30min
hosts:
  out: {{role: mta, accepts: [corp.example, good.example], ip: 192.0.2.20}}
  mx1:
    role: mx
    accepts: [dest.example]
    policies:
      - spam_filter:
          threshold: {THRESHOLD}
          default: {{mean: {DEFAULT[0]}, sd: {DEFAULT[1]}}}
          classes: {{trusted: {{mean: {TRUSTED[0]}, sd: {TRUSTED[1]}, domains: [good.example]}}}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  good.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10}}}}
traffic:
  bulk:
    submit_to: out
    bursts: [{{at: 10s, messages: {MESSAGES}, over: 5min}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
  good:
    submit_to: out
    sender_domain: good.example
    bursts: [{{at: 10s, messages: {MESSAGES}, over: 5min}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 1}}, domains: {{dest.example: 1}}}}
"""


def tail(mean: float, sd: float) -> float:
    return 1.0 - NormalDist(mean, sd).cdf(THRESHOLD)


def test_spam_filter_refuses_the_normal_tail_share_of_each_class() -> None:
    result = smtpsim.simulate(smtpsim.load_scenario(SPAM))
    messages = result.messages.set_index("msg_id")
    rcpts = result.recipients.join(messages[["origin", "sender"]], on="msg_id")
    refused_share = {}
    for flow, (mean, sd) in (("bulk", DEFAULT), ("good", TRUSTED)):
        mine = rcpts[rcpts["origin"].astype(str) == flow]
        assert len(mine) == MESSAGES
        status = mine["status"].astype(str)
        assert status.isin(["delivered", "bounced"]).all()
        refused = mine[status == "bounced"]
        p = tail(mean, sd)
        band = 4 * math.sqrt(MESSAGES * p * (1 - p))
        assert abs(len(refused) - MESSAGES * p) <= band, (flow, len(refused), MESSAGES * p)
        assert (refused["dsn"].astype(str) == "5.7.1").all()
        assert (refused["reply"] == "550 5.7.1 Message rejected as spam").all()
        assert (refused["attempts"] == 2).all()  # refused at once, not retried
        refused_share[flow] = len(refused) / MESSAGES
    # the class with the low mean is refused less
    assert refused_share["good"] < refused_share["bulk"]

    a = result.attempts
    at_mx = a[(a["host"].astype(str) == "out") & (a["peer"].astype(str) == "mx1")]
    bad = at_mx[at_mx["outcome"].astype(str) != "sent"]
    # refused at the end of data, after the transfer: bounced by the sending MTA
    assert set(
        zip(
            bad["outcome"].astype(str),
            bad["code"],
            bad["dsn"].astype(str),
            bad["phase"].astype(str),
            strict=True,
        )
    ) == {("bounced", 550, "5.7.1", "content")}
    # each refused message is returned to its sender
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    refused_msgs = rcpts[rcpts["status"].astype(str) == "bounced"]
    assert len(bounces) == len(refused_msgs)
    notices = rcpts[rcpts["msg_id"].isin(bounces.index)]
    assert sorted(notices["rcpt"]) == sorted(refused_msgs["sender"])
    assert (notices["status"].astype(str) == "delivered").all()
