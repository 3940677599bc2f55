"""SMTPUTF8 (RFC 6531) in the simulator: a share of a flow's messages come from a
UTF-8 sender address (``traffic.<flow>.smtputf8``), the message carries the need
(``QueuedMessage.smtputf8``) from hop to hop, and each hop's client declares SMTPUTF8
in its MAIL, or, at a server that does not offer it (``postfix.smtputf8_enable:
false``), bounces the message with Postfix 3.7's 5.6.7 "SMTPUTF8 is required, but was
not offered by host ..." (smtp_proto.c). The bounce goes back to the UTF-8 sender.

Fast path, wire (the addresses written in UTF-8 and parsed back) and the memo in
``verify`` give the same tables.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

import smtpsim
from smtpsim.metrics.maillog import maillog_lines
from smtpsim.simulation import simulate

TABLES = ("messages", "recipients", "attempts")
SHARE = 0.3


def scenario(offered: bool, *, strict: bool = False, share: float = SHARE) -> str:
    return f"""
name: smtputf8
duration: 20min
seed: 5
hosts:
  out:
    role: mta
    ip: 192.0.2.20
    accepts: [corp.example]
  mx1:
    role: mx
    accepts: [solo.example]
    mailboxes: 50
    postfix: {{smtputf8_enable: {str(offered).lower()}, strict_smtputf8: {str(strict).lower()}}}
links:
  - {{between: [out, internet], latency: 5ms}}
  - {{between: [mx1, internet], latency: 20ms}}
dns:
  corp.example: {{mx: {{out: 10}}}}
  solo.example: {{mx: {{mx1: 10}}}}
traffic:
  t:
    submit_to: out
    senders: 20
    rate: 0.5/s
    stop: 15min
    smtputf8: {share}
    size: {{lognormal: {{median: 8KiB, sigma: 1.0}}}}
    recipients: {{per_message: {{fixed: 2}}, domains: {{solo.example: 1}}}}
"""


def run(text: str, *overrides: str) -> smtpsim.RunResult:
    return simulate(smtpsim.load_scenario(text, overrides=list(overrides)))


def same_tables(a: smtpsim.RunResult, b: smtpsim.RunResult) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)


def submitted(result: smtpsim.RunResult) -> pd.DataFrame:
    messages = result.messages
    return messages[messages["origin"].astype(str) == "t"]


@pytest.mark.parametrize("offered", [True, False])
def test_fast_path_wire_and_verified_memo_agree(offered):
    text = scenario(offered)
    fast = run(text)
    same_tables(fast, run(text, "simulation.wire=true"))
    verified = run(text, "simulation.session_memo=verify")
    same_tables(fast, verified)
    assert verified.meta["sessions"]["replayed"] > 0  # the memo takes these sessions on


def test_share_of_utf8_senders_is_the_setting():
    messages = submitted(run(scenario(True)))
    utf8 = ~messages["sender"].astype(str).map(str.isascii)
    n = len(messages)
    # a binomial share: within 4 standard errors of the setting
    assert abs(utf8.mean() - SHARE) < 4 * math.sqrt(SHARE * (1 - SHARE) / n)
    assert n > 300


def test_utf8_mail_is_delivered_where_smtputf8_is_offered():
    result = run(scenario(True))
    recipients = result.recipients
    assert (recipients["status"].astype(str) == "delivered").all()


def test_utf8_mail_bounces_with_5_6_7_where_it_is_not_offered():
    result = run(scenario(False))
    messages = submitted(result)
    utf8_ids = set(messages.loc[~messages["sender"].astype(str).map(str.isascii), "msg_id"])
    recipients = result.recipients[result.recipients["msg_id"].isin(messages["msg_id"])]
    bounced = recipients[recipients["status"].astype(str) == "bounced"]
    delivered = recipients[recipients["status"].astype(str) == "delivered"]
    assert set(bounced["msg_id"]) == utf8_ids
    assert not set(delivered["msg_id"]) & utf8_ids
    assert set(bounced["dsn"].astype(str)) == {"5.6.7"}
    [text] = set(bounced["reply"].astype(str))
    assert text.startswith("550 5.6.7 SMTPUTF8 is required, but was not offered by host mx1.")
    # decided after EHLO, before any MAIL: the attempt's phase is helo
    attempts = result.attempts
    at_mx = attempts[(attempts["peer"].astype(str) == "mx1") & attempts["msg_id"].isin(utf8_ids)]
    assert set(at_mx["phase"].astype(str)) == {"helo"}
    # each bounce goes back to its UTF-8 sender, and arrives (out accepts corp.example)
    bounces = result.messages[result.messages["origin"].astype(str) == "bounce"]
    assert len(bounces) == len(utf8_ids)
    back = result.recipients[result.recipients["msg_id"].isin(bounces["msg_id"])]
    assert (~back["rcpt"].astype(str).map(str.isascii)).all()
    assert (back["status"].astype(str) == "delivered").all()


def test_maillog_says_it_in_postfixs_words():
    result = run(scenario(False))
    lines = [line for line in maillog_lines(result) if "dsn=5.6.7" in line]
    assert lines
    for line in lines:
        assert "status=bounced (SMTPUTF8 is required, but was not offered by host mx1" in line
        assert "said:" not in line


def test_strict_server_is_never_reached_with_undeclared_utf8():
    """The client declares SMTPUTF8 for every message that needs it, so a strict server
    refuses nothing (its 553 is for clients that do not: tests/protocol)."""
    result = run(scenario(True, strict=True))
    assert (result.recipients["status"].astype(str) == "delivered").all()


def test_the_share_draws_from_its_own_stream():
    """Turning the setting on changes the senders and nothing else that is drawn: the
    same submission times, sizes and recipients (a stream of its own, drawn from only
    when the share is set), so runs without it are the runs they were."""
    with_share = submitted(run(scenario(True)))
    without = submitted(run(scenario(True, share=0.0)))
    assert without["sender"].astype(str).map(str.isascii).all()
    columns = ["msg_id", "t_submit", "size_bytes", "n_rcpt"]
    pd.testing.assert_frame_equal(with_share[columns], without[columns], check_exact=True)
    changed = with_share["sender"].astype(str) != without["sender"].astype(str)
    assert changed.sum() > 0
    assert (
        with_share.loc[changed, "sender"].astype(str).str.replace("användare", "user")
        == without.loc[changed, "sender"].astype(str)
    ).all()
