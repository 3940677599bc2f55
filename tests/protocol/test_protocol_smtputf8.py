"""SMTPUTF8 (RFC 6531) on both sides of the protocol core.

The server's behaviour is Postfix's (smtpd.c, read in github.com/vdukhovni/postfix):
SMTPUTF8 listed after 8BITMIME (and before CHUNKING) when ``smtputf8_enable``; the
``SMTPUTF8`` MAIL parameter taken only then (else ``555 5.5.4 Unsupported option``);
with ``strict_smtputf8`` a UTF-8 address in a transaction whose MAIL did not declare
SMTPUTF8 is ``553 5.6.7 Must declare SMTPUTF8 to send unicode address``, without it
accepted (Postfix's default). A server without SMTPUTF8 finds UTF-8 addresses bad
syntax, as before. The client's bounce when a message needs SMTPUTF8 and the server
does not offer it is Postfix 3.7's (smtp_proto.c, smtp_helo): 5.6.7 "SMTPUTF8 is
required, but was not offered by host ...", decided right after EHLO.
"""

from __future__ import annotations

import pytest
from protocol_helpers import serve_both
from test_protocol_session import run_modes

from smtpsim.protocol import CommandError, Mail, Message, Rcpt, Reply, replies, states
from smtpsim.protocol.client_session import smtputf8_not_offered
from smtpsim.protocol.server import ServerConfig

EHLO = b"EHLO client.example\r\n"
UTF8 = {"smtputf8": True}
SENDER = "jöran@bücher.example"
RCPT = "用户@例子.广告"


def line(text: str) -> bytes:
    return text.encode("utf-8") + b"\r\n"


def test_ehlo_lists_smtputf8_in_postfixs_place():
    config = ServerConfig(smtputf8=True, chunking=True)
    words = config.ehlo_keywords(tls_active=False)
    # smtpd.c, ehlo_cmd: ... ENHANCEDSTATUSCODES, 8BITMIME, DSN, SMTPUTF8, CHUNKING
    assert words[-4:] == ("8BITMIME", "DSN", "SMTPUTF8", "CHUNKING")
    assert "SMTPUTF8" not in ServerConfig().ehlo_keywords(tls_active=False)


def test_declared_utf8_addresses_are_taken():
    data = line(f"MAIL FROM:<{SENDER}> SMTPUTF8") + line(f"RCPT TO:<{RCPT}>")
    events, out, conn = serve_both(data, setup=EHLO, **UTF8)
    assert events == [Mail(SENDER, (("SMTPUTF8", None),)), Rcpt(RCPT)]
    assert out == b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
    assert conn.smtputf8
    assert conn.sender == SENDER


def test_the_declaration_ends_with_the_transaction():
    data = (
        line(f"MAIL FROM:<{SENDER}> SMTPUTF8")
        + b"RSET\r\nMAIL FROM:<a@example.org>\r\n"
        + line(f"RCPT TO:<{RCPT}>")
    )
    events, _, conn = serve_both(data, setup=EHLO, strict_smtputf8=True, **UTF8)
    assert events[-1] == CommandError("RCPT", replies.SMTPUTF8_UNDECLARED)
    assert not conn.smtputf8


@pytest.mark.parametrize(
    ("text", "verb"),
    [(f"MAIL FROM:<{SENDER}>", "MAIL"), (f"RCPT TO:<{RCPT}>", "RCPT")],
)
def test_undeclared_utf8_address_is_553_when_strict_and_taken_otherwise(text, verb):
    setup = EHLO + (b"MAIL FROM:<a@example.org>\r\n" if verb == "RCPT" else b"")
    events, out, _ = serve_both(line(text), setup=setup, strict_smtputf8=True, **UTF8)
    assert events == [CommandError(verb, replies.SMTPUTF8_UNDECLARED)]
    assert out == b"553 5.6.7 Must declare SMTPUTF8 to send unicode address\r\n"
    events, out, _ = serve_both(line(text), setup=setup, **UTF8)
    assert out.startswith(b"250 ")


def test_without_smtputf8_the_parameter_is_555_and_utf8_is_bad_syntax():
    events, out, _ = serve_both(b"MAIL FROM:<a@example.org> SMTPUTF8\r\n", setup=EHLO)
    assert out == b"555 5.5.4 Unsupported option: SMTPUTF8\r\n"
    events, out, _ = serve_both(line(f"MAIL FROM:<{SENDER}> SMTPUTF8"), setup=EHLO)
    assert events == [CommandError("MAIL", replies.unsupported_option("SMTPUTF8"))]
    events, out, _ = serve_both(line(f"MAIL FROM:<{SENDER}>"), setup=EHLO)
    assert events == [CommandError("MAIL", replies.BAD_SENDER)]
    events, out, _ = serve_both(
        line(f"RCPT TO:<{RCPT}>"), setup=EHLO + b"MAIL FROM:<a@example.org>\r\n"
    )
    assert events == [CommandError("RCPT", replies.BAD_RECIPIENT)]


def test_smtputf8_takes_no_value():
    _, out, _ = serve_both(b"MAIL FROM:<a@example.org> SMTPUTF8=yes\r\n", setup=EHLO, **UTF8)
    assert out == b"555 5.5.4 Unsupported option: SMTPUTF8\r\n"


def test_bytes_that_are_not_utf8_are_bad_syntax_even_under_smtputf8():
    events, _, _ = serve_both(b"MAIL FROM:<j\xf6ran@example.org> SMTPUTF8\r\n", setup=EHLO, **UTF8)
    assert events == [CommandError("MAIL", replies.BAD_SENDER)]


# --- the client ----------------------------------------------------------------------------

BODY = b"Subject: caf\xc3\xa9\r\n\r\nhej\r\n"


def test_client_declares_smtputf8_and_writes_utf8_addresses():
    r = run_modes(
        (RCPT,),
        message=Message.of(BODY),
        session_kw={"smtputf8": True},
        **UTF8,
    )
    assert r.client_lines()[1].startswith(
        f"MAIL FROM:<sender@example.org> SIZE={len(BODY)} BODY=8BITMIME SMTPUTF8\r\n"
        f"RCPT TO:<{RCPT}>\r\n".encode()
    )
    assert r.result.delivered == (RCPT,)
    assert Rcpt(RCPT) in r.server_events


def test_client_bounces_a_message_needing_smtputf8_when_not_offered():
    r = run_modes(
        (RCPT, "bob@example.net"),
        message=Message.of(BODY),
        session_kw={"smtputf8": True, "server": "mx.example[192.0.2.1]"},
    )
    bounce = Reply(
        550, "5.6.7", "SMTPUTF8 is required, but was not offered by host mx.example[192.0.2.1]"
    )
    assert bounce == smtputf8_not_offered("mx.example[192.0.2.1]")
    assert r.result.replies == ((RCPT, bounce), ("bob@example.net", bounce))
    assert r.result.phase == "helo"
    assert r.client_lines() == [b"EHLO client.example\r\n", b"QUIT\r\n"]  # no MAIL at all
    assert r.server.state == states.CLOSED


def test_client_connection_writes_utf8_addresses_only_under_smtputf8():
    from protocol_helpers import Pair

    from smtpsim.protocol import Hello, LocalProtocolError

    plain = Pair()
    plain.replies(Hello("client.example"))
    with pytest.raises(LocalProtocolError):
        plain.client.send(Mail(SENDER, (("SMTPUTF8", None),)))
    utf8 = Pair(**UTF8)
    utf8.replies(Hello("client.example"))
    with pytest.raises(LocalProtocolError):
        utf8.client.send(Mail(SENDER))  # not declared
    assert utf8.replies(Mail(SENDER, (("SMTPUTF8", None),)), Rcpt(RCPT)) == [
        replies.MAIL_OK,
        replies.RCPT_OK,
    ]
    assert utf8.wire[-2][1] == line(f"MAIL FROM:<{SENDER}> SMTPUTF8") + line(f"RCPT TO:<{RCPT}>")


def test_client_without_the_need_sends_no_smtputf8():
    r = run_modes(session_kw={"smtputf8": False}, **UTF8)
    assert b"SMTPUTF8" not in r.client_lines()[1]
    assert r.result.delivered
