"""Conservation of recipients (docs/architecture.md, section 7, docs/results.md): every
submitted recipient, bounce messages' recipients included, ends in exactly one of
delivered, bounced, expired, lost, pending and unsent, and the times agree with the
status.
"""

from __future__ import annotations

import pytest
from validation_helpers import QUICKSTART, check_conservation, run_model

MIXED = """
name: conservation
description: unknown users at one MX, another MX unreachable for a while, a short lifetime
duration: 1h
hosts:
  msa:
    role: msa
    accepts: [corp.example]
    postfix: {relayhost: out}
  out:
    role: mta
    postfix: {maximal_queue_lifetime: 15min, bounce_queue_lifetime: 15min}
  mx1:
    role: mx
    accepts: [bigmail.example]
    mailboxes: 100000
  mx2:
    role: mx
    accepts: [flaky.example]
links:
  - {between: [msa, out], latency: 1ms}
  - {between: [out, internet], latency: 10ms}
  - {between: [mx1, internet], latency: 30ms}
  - {between: [mx2, internet], latency: 30ms}
dns:
  corp.example: {mx: {msa: 10}}
  bigmail.example: {mx: {mx1: 10}}
  flaky.example: {mx: {mx2: 10}}
traffic:
  staff:
    submit_to: msa
    senders: 50
    rate: 0.1/s
    size: {exponential: {mean: 20KiB}}
    recipients:
      per_message: {mean: 1.8}
      domains: {bigmail.example: 0.6, flaky.example: 0.4}
    unknown_users: 10%
"""


def test_quickstart_as_it_is() -> None:
    _, result = run_model(QUICKSTART, seed=2, until=300.0)
    counts = check_conservation(result)
    assert counts["delivered"] > 300


def test_quickstart_cut_short() -> None:
    # cut while mail is on its way (10 messages a second): some must still be pending
    _, result = run_model(QUICKSTART, seed=5, until=60.0, overrides=["traffic.staff.rate=10/s"])
    counts = check_conservation(result)
    assert counts["pending"] > 0
    assert counts["delivered"] > 100
    # quickstart has 1 % unknown users: its bounces are counted like any message
    bounce_ids = result.messages.loc[result.messages["origin"].astype(str) == "bounce", "msg_id"]
    assert counts["bounced"] + len(bounce_ids) > 0
    assert result.recipients["msg_id"].isin(bounce_ids).sum() == len(bounce_ids)


@pytest.mark.parametrize(
    ("rate", "until"),
    [
        # cut during the outage: mail for flaky.example is still in the deferred queue
        ("0.1/s", 2000.0),
        # busier, cut after the outage: at the scans while mx2 is a dead destination,
        # a few hundred deferred messages for it are due at once
        ("0.5/s", 3000.0),
    ],
)
def test_unknown_users_and_unreachable_mx(rate: str, until: float) -> None:
    def setup(model):
        def outage():
            yield model.env.timeout(300)
            model.link("mx2", "internet").up = False
            yield model.env.timeout(1800)
            model.link("mx2", "internet").up = True

        model.env.process(outage())

    _, result = run_model(
        MIXED, seed=3, until=until, setup=setup, overrides=[f"traffic.staff.rate={rate}"]
    )
    counts = check_conservation(result)
    # every way to end is exercised except `lost` (no scenario here destroys a queue);
    # pending ones are certain only when the run is cut during the outage
    for status in ("delivered", "bounced", "expired"):
        assert counts[status] > 0, (status, counts)
    if until < 2100:
        assert counts["pending"] > 0, counts
    rcpts = result.recipients
    messages = result.messages
    is_bounce = messages.set_index("msg_id")["origin"].astype(str).eq("bounce")
    bounce_rcpts = rcpts[is_bounce.loc[rcpts["msg_id"]].to_numpy()]
    assert len(bounce_rcpts) > 0
    # bounces are one-recipient messages to the original senders, counted in the totals
    assert (messages.loc[is_bounce.to_numpy(), "n_rcpt"] == 1).all()
    assert bounce_rcpts["rcpt"].str.endswith("@corp.example").all()
    # the expired ones waited for mx2 for at least the lifetime
    expired = rcpts[rcpts["status"].astype(str) == "expired"]
    assert (expired["domain"].astype(str) == "flaky.example").all()
    assert (expired["delay_s"] >= 15 * 60).all()
    assert (expired["dsn"].astype(str) == "4.4.1").all()


def test_mail_clients_that_cannot_submit_are_counted_unsent() -> None:
    """help-desk-monday: mail clients that fail to submit (unsent) beside the ones
    that do (delivered), cut short while some still retry (pending): every recipient
    is in exactly one status, and the summary counts the unsent ones by reason."""
    from smtpsim.metrics.summary import summarize

    path = QUICKSTART.parent / "help-desk-monday.yaml"
    _, result = run_model(path, seed=4, until=1500.0)
    counts = check_conservation(result)
    assert counts["unsent"] > 0 and counts["delivered"] > 0 and counts["pending"] > 0
    summary = summarize(result.messages, result.recipients, result.attempts, result.levels)
    assert summary["recipients"]["unsent"] == counts["unsent"]
    assert sum(summary["unsent_by_reason"].values()) == counts["unsent"]
    shares = [
        summary[k]
        for k in (
            "delivery_ratio",
            "bounce_rate",
            "expired_rate",
            "lost_rate",
            "pending_rate",
            "unsent_rate",
        )
    ]
    assert abs(sum(s for s in shares if s is not None) - 1.0) < 1e-12
