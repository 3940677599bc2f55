"""Unknown users: the MX refuses them with 550 5.1.1 at RCPT; the sending MTA bounces
them at once (RFC 5321 section 5.1) and sends one non-delivery notice per message,
from the null sender to the original sender, delivered into the sender's mailbox on
the MSA (RFC 3464, Postfix bounce_notify_util.c); a bounce is never bounced (RFC 5321
section 6.1)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest
from validation_helpers import QUICKSTART, check_conservation, run_model

from smtpsim.metrics.result import RunResult

MX_OF = {
    "bigmail.example": {"mx1", "mx2"},
    "smallorg.example": {"mx-small"},
    "partner.example": {"mx-partner"},
}


def _check(result: RunResult) -> int:
    """The unknown-user rules on a finished quickstart run; returns the number of
    unknown recipients seen."""
    counts = check_conservation(result)
    assert counts["pending"] == 0 and counts["expired"] == 0
    messages, rcpts, attempts = result.messages, result.recipients, result.attempts
    origin = messages.set_index("msg_id")["origin"].astype(str)
    is_bounce_row = (origin.loc[rcpts["msg_id"]] == "bounce").to_numpy()
    originals = rcpts[~is_bounce_row]
    unknown = originals["rcpt"].str.startswith("unknown")
    status = originals["status"].astype(str)

    # exactly the unknown recipients bounce, with 550 5.1.1; all others are delivered
    assert (status[unknown] == "bounced").all()
    assert (status[~unknown] == "delivered").all()
    refused = originals[unknown]
    assert (refused["dsn"].astype(str) == "5.1.1").all()
    assert refused["reply"].str.startswith("550 5.1.1 <").all()
    assert all(r["rcpt"] in r["reply"] for _, r in refused.iterrows())
    assert (refused["hops"] == 2).all()  # submitted to msa, relayed to out, not further

    # each was refused by an MX of its domain, in the only attempt from out
    bounced_att = attempts[attempts["outcome"].astype(str) == "bounced"]
    assert set(zip(bounced_att["msg_id"], bounced_att["rcpt"], strict=True)) == set(
        zip(refused["msg_id"], refused["rcpt"], strict=True)
    )
    assert (bounced_att["host"].astype(str) == "out").all()
    assert (bounced_att["code"] == 550).all()
    for peer, domain in zip(
        bounced_att["peer"].astype(str), bounced_att["rcpt"].str.partition("@")[2], strict=True
    ):
        assert peer in MX_OF[domain]

    # one bounce per message with an unknown recipient, none for the others: match
    # (original sender, time its recipients bounced) with (notice recipient, creation)
    senders = messages.set_index("msg_id")["sender"]
    with_unknown = refused.groupby("msg_id")["t_final"].agg(["min", "max"])
    assert (with_unknown["min"] == with_unknown["max"]).all()  # bounced together
    expected = Counter((senders.loc[m], round(t, 9)) for m, t in with_unknown["min"].items())
    bounces = messages[messages["origin"].astype(str) == "bounce"]
    assert (bounces["sender"] == "").all() and (bounces["n_rcpt"] == 1).all()
    notices = rcpts[is_bounce_row].merge(bounces[["msg_id", "t_submit"]], on="msg_id")
    got = Counter(zip(notices["rcpt"], notices["t_submit"].round(9), strict=True))
    assert got == expected

    # each notice is delivered into the sender's mailbox on the MSA, after one hop
    assert (notices["status"].astype(str) == "delivered").all()
    assert (notices["hops"] == 1).all()
    notice_att = attempts[attempts["msg_id"].isin(bounces["msg_id"])]
    assert (notice_att["host"].astype(str) == "out").all()
    assert (notice_att["peer"].astype(str) == "msa").all()
    assert (notice_att["outcome"].astype(str) == "sent").all()
    # and nothing was sent about the notices themselves: no bounce of a bounce
    assert len(bounces) == len(with_unknown)
    return int(unknown.sum())


@pytest.mark.parametrize(
    ("share", "stop", "minimum"),
    [
        ("1%", "600s", 3),  # quickstart as it is: about 10 unknown recipients
        ("8%", "300s", 20),  # more events in a shorter run
    ],
)
def test_unknown_users_bounce_once_per_message(share: str, stop: str, minimum: int) -> None:
    until = pd.Timedelta(stop).total_seconds() + 60  # every message has finished
    _, result = run_model(
        QUICKSTART,
        seed=21,
        until=until,
        overrides=[f"traffic.staff.unknown_users={share}", f"traffic.staff.stop={stop}"],
    )
    assert _check(result) >= minimum


NO_DOUBLE_BOUNCE = """
name: no-double-bounce
duration: 10min
hosts:
  msa: {role: msa, accepts: [corp.example], postfix: {relayhost: out}}
  out: {role: mta, postfix: {bounce_queue_lifetime: 0s}}
  mx:
    role: mx
    accepts: [dest.example]
    processing: {command: 5s}
links:
  - {between: [msa, out], latency: 1ms}
  - {between: [out, internet], latency: 10ms}
  - {between: [mx, internet], latency: 10ms}
dns:
  corp.example: {mx: {msa: 10}}
  dest.example: {mx: {mx: 10}}
traffic:
  staff:
    submit_to: msa
    rate: 0
    bursts: [{at: 10s, messages: 5}]
    size: 5KiB
    recipients: {per_message: {fixed: 1}, domains: {dest.example: 1}}
    unknown_users: 100%
"""


def test_a_failed_bounce_is_not_bounced() -> None:
    """The MSA refuses connections by the time the notices come back; with
    ``bounce_queue_lifetime: 0`` each notice expires at its first attempt, and no
    notice about a notice is made."""

    def setup(model):
        def refuse_later():
            yield model.env.timeout(15)  # submissions are done, the MX is still slow
            model.hosts["msa"].down = "refuse"

        model.env.process(refuse_later())

    _, result = run_model(NO_DOUBLE_BOUNCE, setup=setup)
    counts = check_conservation(result)
    messages, rcpts = result.messages, result.recipients
    origin = messages["origin"].astype(str)
    assert (origin == "staff").sum() == 5
    assert (origin == "bounce").sum() == 5  # one each, and nothing more
    bounce_ids = messages.loc[origin == "bounce", "msg_id"]
    notices = rcpts[rcpts["msg_id"].isin(bounce_ids)]
    assert (notices["status"].astype(str) == "expired").all()
    assert (notices["dsn"].astype(str) == "4.4.1").all()
    assert notices["reply"].str.contains("Connection refused").all()
    assert counts == {
        "delivered": 0,
        "bounced": 5,
        "expired": 5,
        "lost": 0,
        "pending": 0,
        "unsent": 0,
    }
