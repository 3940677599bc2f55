"""The DSN extension's parameters (RFC 3461) in the protocol core: the server offers
DSN and checks RET, ENVID, NOTIFY and ORCPT with Postfix's replies (``smtpd.c``,
``mail_cmd`` and ``rcpt_cmd``; ``global/dsn_mask.c``; ``global/xtext.c``), and a
client sends them only to a server that offers DSN (RFC 3461 section 4.1)."""

from __future__ import annotations

import pytest
from protocol_helpers import serve_both
from test_protocol_session import RCPTS, run_modes

from smtpsim.protocol import MailDsn, RcptDsn
from smtpsim.protocol.dsn import (
    NOTIFY_DEFAULT,
    parse_notify,
    xtext_decode,
    xtext_encode,
)
from smtpsim.protocol.events import Mail, Rcpt
from smtpsim.protocol.syntax import parse_command

EHLO = b"EHLO c.example\r\n"
AFTER_MAIL = EHLO + b"MAIL FROM:<a@example.org>\r\n"

# (line, the reply Postfix gives; None: accepted). Texts from smtpd.c.
CASES = [
    ("MAIL FROM:<a@example.org> RET=FULL", None),
    ("MAIL FROM:<a@example.org> RET=hdrs", None),
    ("MAIL FROM:<a@example.org> RET=FULL ENVID=QQ+2B1", None),
    ("MAIL FROM:<a@example.org> RET=PART", (501, "5.5.4", "Bad RET parameter syntax")),
    ("MAIL FROM:<a@example.org> RET", (501, "5.5.4", "Bad RET parameter syntax")),
    ("MAIL FROM:<a@example.org> RET=FULL RET=HDRS", (501, "5.5.4", "Bad RET parameter syntax")),
    ("MAIL FROM:<a@example.org> ENVID=abc+2", (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("MAIL FROM:<a@example.org> ENVID=a+0Ab", (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("MAIL FROM:<a@example.org> ENVID=x ENVID=y", (501, "5.5.4", "Bad ENVID parameter syntax")),
    ("RCPT TO:<b@example.net> NOTIFY=NEVER", None),
    ("RCPT TO:<b@example.net> NOTIFY=success,Delay", None),
    ("RCPT TO:<b@example.net> NOTIFY=FAILURE ORCPT=rfc822;b+40example.net", None),
    (
        "RCPT TO:<b@example.net> NOTIFY=NEVER,SUCCESS",
        (501, "5.5.4", "Error: Bad NOTIFY parameter syntax"),
    ),
    (
        "RCPT TO:<b@example.net> NOTIFY=SOMETIMES",
        (501, "5.5.4", "Error: Bad NOTIFY parameter syntax"),
    ),
    ("RCPT TO:<b@example.net> NOTIFY", (501, "5.5.4", "Error: Bad NOTIFY parameter syntax")),
    (
        "RCPT TO:<b@example.net> NOTIFY=DELAY NOTIFY=DELAY",
        (501, "5.5.4", "Error: Bad NOTIFY parameter syntax"),
    ),
    (
        "RCPT TO:<b@example.net> ORCPT=b@example.net",
        (501, "5.5.4", "Error: Bad ORCPT parameter syntax"),
    ),
    (
        "RCPT TO:<b@example.net> ORCPT=;b@example.net",
        (501, "5.5.4", "Error: Bad ORCPT parameter syntax"),
    ),
    (
        "RCPT TO:<b@example.net> ORCPT=rfc822;b+4",
        (501, "5.5.4", "Error: Bad ORCPT parameter syntax"),
    ),
    ("RCPT TO:<b@example.net> XNOTIFY=NEVER", (555, "5.5.4", "Unsupported option: XNOTIFY")),
]


@pytest.mark.parametrize(("line", "reply"), CASES, ids=[x for x, _ in CASES])
def test_dsn_parameters_get_postfix_replies(line, reply):
    setup = AFTER_MAIL if line.startswith("RCPT") else EHLO
    events, out, _ = serve_both(line.encode() + b"\r\n", setup=setup)
    if reply is None:
        assert events == [parse_command(line)]
        assert out.startswith(b"250 ")
    else:
        code, enhanced, text = reply
        assert out == f"{code} {enhanced} {text}\r\n".encode()


@pytest.mark.parametrize(
    "line", ["MAIL FROM:<a@example.org> RET=FULL", "RCPT TO:<b@example.net> NOTIFY=NEVER"]
)
def test_dsn_disabled_refuses_its_parameters(line):
    """``smtpd_discard_ehlo_keywords = dsn``: not offered, and refused with 5.7.1."""
    setup = AFTER_MAIL if line.startswith("RCPT") else EHLO
    _events, out, conn = serve_both(line.encode() + b"\r\n", setup=setup, dsn=False)
    assert out == b"501 5.7.1 DSN support is disabled\r\n"
    assert "DSN" not in conn.config.ehlo_keywords(tls_active=False)


def test_parsed_values():
    mail = parse_command("MAIL FROM:<a@example.org> RET=hdrs ENVID=id+2B7")
    assert isinstance(mail, Mail)
    assert mail.dsn == MailDsn("HDRS", "id+7") and mail.dsn.headers_only
    rcpt = parse_command("RCPT TO:<b@example.net> NOTIFY=NEVER ORCPT=rfc822;x+40y.example")
    assert isinstance(rcpt, Rcpt)
    assert rcpt.dsn == RcptDsn(frozenset(), ("rfc822", "x@y.example"))
    assert not any(rcpt.dsn.wants(c) for c in ("SUCCESS", "FAILURE", "DELAY"))
    plain = RcptDsn()
    assert plain.wants("FAILURE") and plain.wants("DELAY") and not plain.wants("SUCCESS")
    assert {"FAILURE", "DELAY"} == NOTIFY_DEFAULT


@pytest.mark.parametrize(
    "text", ["plain", "a+b=c", "with space", "tab\there", "\xe9t\xe9", "+2B", "=="]
)
def test_xtext_round_trip(text):
    coded = xtext_encode(text)
    assert all(0x21 <= ord(c) <= 0x7E and c != "=" for c in coded)
    assert xtext_decode(coded) == text


def test_notify_forms():
    assert parse_notify("NEVER") == frozenset()
    assert parse_notify("delay,failure") == {"DELAY", "FAILURE"}
    assert parse_notify("") is None and parse_notify("NEVER,NEVER") is None


DSN = MailDsn("HDRS", "envelope 1")
RCPT_DSN = {RCPTS[0]: RcptDsn(frozenset({"SUCCESS", "FAILURE"}), ("rfc822", RCPTS[0]))}


def test_client_sends_dsn_parameters_when_offered():
    r = run_modes(client_dsn=DSN, client_rcpt_dsn=RCPT_DSN)
    group = r.client_lines()[1]
    assert b" RET=HDRS ENVID=envelope+201\r\n" in group
    first = f"RCPT TO:<{RCPTS[0]}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{RCPTS[0]}\r\n"
    assert first.encode() in group
    assert f"RCPT TO:<{RCPTS[1]}>\r\n".encode() in group  # nothing asked for it
    mail = next(e for e in r.server_events if isinstance(e, Mail))
    assert mail.dsn == DSN
    rcpt = next(e for e in r.server_events if isinstance(e, Rcpt))
    assert rcpt.dsn == RCPT_DSN[RCPTS[0]]
    assert r.result.delivered == RCPTS[:2]


def test_client_leaves_them_out_when_not_offered():
    """RFC 3461 section 4.1: the parameters go only to a server that says DSN (here
    one with ``smtpd_discard_ehlo_keywords = dsn``, which would refuse them)."""
    r = run_modes(client_dsn=DSN, client_rcpt_dsn=RCPT_DSN, dsn=False)
    group = r.client_lines()[1]
    assert b"RET=" not in group and b"ENVID=" not in group and b"NOTIFY=" not in group
    assert r.result.delivered == RCPTS[:2]
