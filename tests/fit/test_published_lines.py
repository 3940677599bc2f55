"""The Postfix log reader on lines Postfix's own documentation publishes (older
versions' lines among them), each checked field by field against what the line
says. Sources: tests/fit/data/README.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpsim.logs.postfix_log import PostfixLog, read_postfix_log

DATA = Path(__file__).parent / "data" / "published-postfix-lines.maillog"


@pytest.fixture(scope="module")
def log() -> PostfixLog:
    return read_postfix_log(DATA, year=2026)


def test_every_published_line_is_understood(log: PostfixLog) -> None:
    assert log.unknown == []
    assert sum(log.counts.values()) == len(DATA.read_text().splitlines())


def test_queue_active_lines_give_the_sender_and_size(log: PostfixLog) -> None:
    """ETRN_README: qmgr opening two queue files."""
    m = log.messages.set_index("queue_id")
    assert m.loc["682E8440A4", "size_bytes"] == 12345
    assert m.loc["02249440B7", "size_bytes"] == 4711
    assert set(m.loc[["682E8440A4", "02249440B7"], "sender"]) == {"whatever"}


def test_a_postfix_2_3_delivery_with_conn_use_and_orig_to(log: PostfixLog) -> None:
    """CONNECTION_CACHE_README: ``relay=mail.example.com[1.2.3.4], conn_use=2,
    delay=0.22, delays=0.04/0.01/0.05/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)``."""
    a = log.attempts[log.attempts["queue_id"] == "19B6B2900FE"].iloc[0]
    assert (a["rcpt"], a["peer"], a["outcome"]) == (
        "wietse@test.example.com",
        "mail.example.com",
        "sent",
    )
    assert (a["code"], a["dsn"], a["reply"]) == (250, "2.0.0", "250 2.0.0 Ok")
    assert a["conn_use"] == 2
    # delays=a/b/c/d: queue_s = a + b, conn_s = c, xfer_s = d; t_start = t_end - c - d
    assert a["queue_s"] == pytest.approx(0.05)
    assert a["conn_s"] == pytest.approx(0.05)
    assert a["xfer_s"] == pytest.approx(0.1)
    assert a["t_end"] - a["t_start"] == pytest.approx(0.15)
    # the log holds no earlier line of this queue file: its arrival comes from delay=,
    # so the recipient's delay is Postfix's 0.22 s (within its printed precision)
    r = log.recipients[log.recipients["rcpt"] == "wietse@test.example.com"].iloc[0]
    assert r["status"] == "delivered"
    assert r["delay_s"] == pytest.approx(0.22, abs=0.005)


def test_a_noqueue_reject_of_backscatter(log: PostfixLog) -> None:
    """BACKSCATTER_README: ``NOQUEUE: reject: RCPT from xxxxxxx[x.x.x.x]: 550 5.1.1
    <yyyyyy@your.domain.here>: Recipient address rejected: User unknown; from=<>``."""
    assert len(log.rejects) == 1
    j = log.rejects.iloc[0]
    assert (j["stage"], j["code"], j["dsn"]) == ("RCPT", 550, "5.1.1")
    assert (j["sender"], j["rcpt"]) == ("", "yyyyyy@your.domain.here")
    assert j["client"] == "xxxxxxx[x.x.x.x]"
    assert "User unknown" in j["reply"]
