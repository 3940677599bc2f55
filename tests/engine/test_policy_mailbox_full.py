"""Full mailboxes (docs/scenario-format.md, "policies"): a fixed share of a
receiver's mailboxes, chosen by a hash of the address, refuses its recipients at
RCPT with 452 4.2.2 (temporary: deferred, retried, in the end expired) or, with
``permanent``, 552 5.2.2 (bounced at once). The same addresses every time: the
choice depends on the address only, not on the seed or on ``permanent``."""

from __future__ import annotations

import functools
import math

import pandas as pd

import smtpsim

SHARE = 0.2
MAILBOXES = 1000


@functools.cache
def run(permanent: bool, seed: int) -> smtpsim.RunResult:
    text = f"""
name: mailbox-full
duration: 30min
seed: {seed}
hosts:
  out: {{role: mta, accepts: [corp.example], ip: 192.0.2.20,
         postfix: {{maximal_queue_lifetime: 10min}}}}
  mx1:
    role: mx
    accepts: [dest.example]
    mailboxes: {MAILBOXES}
    policies: [{{mailbox_full: {{share: {SHARE * 100:g}%, permanent: {str(permanent).lower()}}}}}]
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 5ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  dest.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    rate: 0
    bursts: [{{at: 10s, messages: 400, over: 5min}}]
    size: 2KiB
    recipients: {{per_message: {{fixed: 3}}, domains: {{dest.example: 1}}}}
"""
    return smtpsim.simulate(smtpsim.load_scenario(text))


def mx_attempts(result: smtpsim.RunResult) -> pd.DataFrame:
    a = result.attempts
    return a[(a["host"].astype(str) == "out") & (a["peer"].astype(str) == "mx1")]


def replies_of(frame: pd.DataFrame) -> set[tuple[str, int, str, str]]:
    """The (outcome, code, dsn, phase) of attempt rows."""
    return set(
        zip(
            frame["outcome"].astype(str),
            frame["code"],
            frame["dsn"].astype(str),
            frame["phase"].astype(str),
            strict=True,
        )
    )


def refused_and_accepted(result: smtpsim.RunResult) -> tuple[set[str], set[str]]:
    a = mx_attempts(result)
    sent = a["outcome"].astype(str) == "sent"
    return set(a[~sent]["rcpt"]), set(a[sent]["rcpt"])


def within_4_sigma(hits: int, n: int, p: float) -> bool:
    return abs(hits - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def check_share_and_consistency(result: smtpsim.RunResult) -> set[str]:
    refused, accepted = refused_and_accepted(result)
    assert not refused & accepted  # an address is full or not, every time it is tried
    seen = refused | accepted
    assert len(seen) >= 500
    # about SHARE of the mailboxes are full (each address a Bernoulli(SHARE) by its hash)
    assert within_4_sigma(len(refused), len(seen), SHARE), (len(refused), len(seen))
    # and about SHARE of the recipients are refused (not a binomial: addresses repeat)
    rcpts = result.recipients[result.recipients["domain"].astype(str) == "dest.example"]
    assert abs(rcpts["rcpt"].isin(refused).mean() - SHARE) < 0.06
    return refused


def test_mailbox_full_is_temporary_by_default_452_then_expired() -> None:
    result = run(False, 1)
    refused = check_share_and_consistency(result)
    a = mx_attempts(result)
    bad = a[a["outcome"].astype(str) != "sent"]
    assert {r[:3] for r in replies_of(bad)} == {("deferred", 452, "4.2.2")}
    rcpts = result.recipients[result.recipients["domain"].astype(str) == "dest.example"]
    full = rcpts[rcpts["rcpt"].isin(refused)]
    # deferred and retried (0, 300, 600 s ...), never bounced; expired after 10 min
    assert (full["status"].astype(str) == "expired").all()
    assert (full["dsn"].astype(str) == "4.2.2").all()
    assert (full["attempts"] >= 3).all()
    assert (
        full["reply"]
        == "452 4.2.2 <" + full["rcpt"] + ">: Recipient address rejected: Mailbox full"
    ).all()
    # the other recipients, of the same messages too, are delivered
    others = rcpts[~rcpts["rcpt"].isin(refused)]
    assert (others["status"].astype(str) == "delivered").all()
    assert others["msg_id"].isin(full["msg_id"]).any()


def test_mailbox_full_permanent_552_bounces_at_once() -> None:
    result = run(True, 1)
    refused = check_share_and_consistency(result)
    a = mx_attempts(result)
    bad = a[a["outcome"].astype(str) != "sent"]
    assert {r[:3] for r in replies_of(bad)} == {("bounced", 552, "5.2.2")}
    rcpts = result.recipients[result.recipients["domain"].astype(str) == "dest.example"]
    full = rcpts[rcpts["rcpt"].isin(refused)]
    assert (full["status"].astype(str) == "bounced").all()
    assert (full["dsn"].astype(str) == "5.2.2").all()
    assert (full["attempts"] == 2).all()  # submission, then the one refusal
    assert (
        full["reply"]
        == "552 5.2.2 <" + full["rcpt"] + ">: Recipient address rejected: Mailbox full"
    ).all()
    # their senders are told
    messages = result.messages
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == full["msg_id"].nunique()


def test_the_same_mailboxes_are_full_in_every_run() -> None:
    temporary, permanent = refused_and_accepted(run(False, 1)), refused_and_accepted(run(True, 1))
    # the same seed draws the same recipients: the same ones refused either way
    assert temporary == permanent
    other_seed = refused_and_accepted(run(False, 2))
    refused1, accepted1 = temporary
    refused2, accepted2 = other_seed
    assert len(refused1 & refused2) >= 20 and len(accepted1 & accepted2) >= 100
    assert not refused1 & accepted2
    assert not refused2 & accepted1
