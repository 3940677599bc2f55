"""What a submission listener's TLS settings do to the protocol (issue 13):
``smtpd_tls_security_level = encrypt`` (``tls_required``) and
``smtpd_tls_wrappermode`` (``tls_wrapper``, implicit TLS on port 465), as Postfix's
smtpd.c has them: before TLS only the ``SMTPD_CMD_FLAG_PRE_TLS`` commands pass, the
others get ``530 5.7.0 Must issue a STARTTLS command first`` and count as errors, and
AUTH is announced only over TLS (``var_smtpd_tls_auth_only``)."""

from __future__ import annotations

import pytest
from protocol_helpers import serve_both

from smtpsim.protocol import (
    ClientConnection,
    CommandError,
    Hello,
    ServerConfig,
    ServerConnection,
    StartTLS,
    replies,
)

EHLO = b"EHLO client.example\r\n"
AUTH_KW = "AUTH PLAIN LOGIN"


def ehlo_lines(out: bytes) -> list[str]:
    return [line[4:] for line in out.decode().split("\r\n") if line.startswith("250")]


def test_encrypt_offers_starttls_and_hides_auth_before_tls():
    _, out, _ = serve_both(EHLO, tls_required=True, auth_mechanisms=("PLAIN", "LOGIN"))
    words = ehlo_lines(out)
    assert "STARTTLS" in words
    assert AUTH_KW not in words


@pytest.mark.parametrize(
    "line",
    [
        b"MAIL FROM:<a@example.org>\r\n",
        b"RCPT TO:<b@example.net>\r\n",
        b"AUTH PLAIN AGFAYg==\r\n",
        b"DATA\r\n",
        b"VRFY user\r\n",
        b"RSET\r\n",
    ],
)
def test_encrypt_refuses_other_commands_before_tls(line):
    events, out, conn = serve_both(EHLO + line, tls_required=True, auth_mechanisms=("PLAIN",))
    assert isinstance(events[-1], CommandError)
    assert out.endswith(b"530 5.7.0 Must issue a STARTTLS command first\r\n")
    assert conn.errors == 1  # Postfix: state->error_count++


@pytest.mark.parametrize("line", [b"NOOP\r\n", b"HELP\r\n", b"STARTTLS\r\n", b"QUIT\r\n"])
def test_encrypt_lets_the_pre_tls_commands_through(line):
    events, out, _ = serve_both(EHLO + line, tls_required=True)
    assert not isinstance(events[-1], CommandError)
    assert b"530 5.7.0" not in out


def test_after_starttls_auth_is_offered_and_mail_accepted():
    conn = ServerConnection(
        ServerConfig(hostname="mx.example", tls_required=True, auth_mechanisms=("PLAIN",))
    )
    conn.answer(conn.standard_reply())
    conn.receive_command(Hello("client.example", extended=True))
    conn.answer(conn.standard_reply())
    conn.receive_command(StartTLS())
    conn.answer(conn.standard_reply())
    conn.tls_established()
    event = conn.receive_command(Hello("client.example", extended=True))
    reply = conn.standard_reply()
    assert "AUTH PLAIN" in reply.text.split("\n")
    conn.answer(reply)
    assert not isinstance(event, CommandError)


def test_wrapper_mode_starts_on_tls():
    """Port 465: TLS is up from the start, so no STARTTLS is offered, AUTH is, and a
    STARTTLS gets Postfix's ``554 5.5.1 Error: TLS already active``."""
    config = ServerConfig(
        hostname="mx.example", tls_wrapper=True, tls_required=True, auth_mechanisms=("PLAIN",)
    )
    conn = ServerConnection(config)
    assert conn.tls_active
    conn.answer(conn.standard_reply())
    conn.receive_command(Hello("client.example", extended=True))
    words = conn.standard_reply().text.split("\n")
    assert "STARTTLS" not in words and "AUTH PLAIN" in words
    conn.answer(conn.standard_reply())
    conn.receive_command(StartTLS())
    assert conn.standard_reply() == replies.TLS_ALREADY


def test_client_connection_with_implicit_tls():
    assert ClientConnection(tls=True).tls_active
    assert not ClientConnection().tls_active
