"""Python's smtplib against `smtpsim serve` running as a real subprocess.

What a standard client sees of the protocol core and the policies: per-recipient
codes, sequence errors, limits, AUTH, VRFY, pipelining, injected faults, relay
control and STARTTLS, plus what lands in the maildir and the log.
"""

from __future__ import annotations

import re
import smtplib
import ssl
import uuid
from collections.abc import Iterator

import pytest
from interop_helpers import Serve, TLSFiles

HELO = "client.example.net"
SENDER = "carol@example.net"
ALICE, BOB, UNKNOWN = "alice@example.org", "bob@example.org", "nobody@example.org"
MAX_SIZE = 100_000  # as in conftest's `server`


@pytest.fixture(scope="module")
def faulty_server(serve_factory) -> Serve:
    return serve_factory(
        "--domain",
        "example.org",
        "--inject",
        "rcpt:451 4.3.0 Try again later@1",
    )


def connect(server: Serve) -> smtplib.SMTP:
    smtp = smtplib.SMTP(server.host, server.port, local_hostname=HELO, timeout=10)
    smtp.ehlo()
    return smtp


@pytest.fixture
def smtp(server: Serve) -> Iterator[smtplib.SMTP]:
    client = connect(server)
    yield client
    client.close()


def unique_message() -> tuple[str, bytes]:
    marker = uuid.uuid4().hex
    body = (
        f"From: <{SENDER}>\r\nTo: <{ALICE}>\r\nSubject: {marker}\r\n\r\n"
        "Hello.\r\n.A line that starts with a dot.\r\n"
    )
    return marker, body.encode()


def files_with(server: Serve, marker: str) -> list[bytes]:
    contents = [path.read_bytes() for path in server.stored()]
    return [c for c in contents if marker.encode() in c]


def test_one_unknown_recipient_of_three_gets_550_and_the_message_is_stored_once(
    server: Serve, smtp: smtplib.SMTP
) -> None:
    marker, message = unique_message()
    assert smtp.mail(SENDER)[0] == 250
    codes = [smtp.rcpt(r) for r in (ALICE, UNKNOWN, BOB)]
    assert [c for c, _ in codes] == [250, 550, 250]
    assert codes[1][1].startswith(b"5.1.1 <nobody@example.org>: Recipient address rejected")
    code, text = smtp.data(message)
    assert code == 250
    queue_id = re.fullmatch(rb"2\.0\.0 Ok: queued as ([0-9A-F]{10})", text).group(1).decode()

    stored = files_with(server, marker)
    assert len(stored) == 1
    path = server.maildir / f"{queue_id}.eml"
    assert path.read_bytes() == stored[0]
    head, _, content = stored[0].partition(b"\r\nX-Envelope-To: ")
    assert head == f"Return-Path: <{SENDER}>".encode()
    envelope_to, _, content = content.partition(b"\r\n")
    assert envelope_to == f"<{ALICE}>, <{BOB}>".encode()
    assert content == message  # dot-stuffing undone, nothing else changed
    log = server.log()
    assert (
        f"{queue_id}: from=<{SENDER}>, to=<{ALICE}>,<{BOB}>, size={len(message)}, "
        "client=unknown[127.0.0.1]"
    ) in log
    assert f"550 5.1.1 <{UNKNOWN}>" in log and f"to=<{UNKNOWN}>" in log


def test_data_before_an_accepted_rcpt_gets_503(smtp: smtplib.SMTP) -> None:
    assert smtp.docmd("DATA")[0] == 503  # no transaction at all
    assert smtp.mail(SENDER)[0] == 250
    code, text = smtp.docmd("DATA")  # a transaction without recipients
    assert (code, text) == (503, b"5.5.1 Error: need RCPT command")


def test_a_600_octet_command_line_gets_500_and_the_session_goes_on(smtp: smtplib.SMTP) -> None:
    line = "NOOP " + "x" * (600 - len("NOOP ") - 2)
    smtp.send(line + "\r\n")
    assert len(line) + 2 == 600
    code, text = smtp.getreply()
    assert code == 500
    assert b"5.5.2" in text and b"command too long" in text
    assert smtp.noop()[0] == 250
    assert smtp.mail(SENDER)[0] == 250


def test_size_over_the_limit_is_refused_at_mail_before_any_content(smtp: smtplib.SMTP) -> None:
    assert smtp.has_extn("size") and smtp.esmtp_features["size"] == str(MAX_SIZE)
    code, text = smtp.mail(SENDER, [f"SIZE={MAX_SIZE + 1}"])
    assert (code, text) == (552, b"5.3.4 Message size exceeds fixed limit")
    assert smtp.mail(SENDER, [f"SIZE={MAX_SIZE}"])[0] == 250  # the limit itself is fine


def test_content_over_the_limit_is_refused_at_end_of_data(smtp: smtplib.SMTP) -> None:
    assert smtp.mail(SENDER)[0] == 250
    assert smtp.rcpt(ALICE)[0] == 250
    code, text = smtp.data(b"Subject: big\r\n\r\n" + b"z\r\n" * (MAX_SIZE // 3 + 1))
    assert (code, text) == (552, b"5.3.4 Message size exceeds fixed limit")


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_with_a_wrong_password_gets_535_and_the_right_one_235(
    server: Serve, mechanism: str
) -> None:
    smtp = connect(server)
    try:
        assert mechanism in smtp.esmtp_features["auth"].split()
        smtp.user, smtp.password = "alice", "wrong"
        authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.auth(mechanism, authobject)
        assert refused.value.smtp_code == 535
        assert refused.value.smtp_error.startswith(b"5.7.8 ")
        smtp.user, smtp.password = "alice", "s3cret"
        assert smtp.auth(mechanism, authobject) == (235, b"2.7.0 Authentication successful")
    finally:
        smtp.close()


def test_login_then_relaying_is_allowed(server: Serve) -> None:
    smtp = connect(server)
    try:
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("alice", "not-it")
        assert refused.value.smtp_code == 535
        assert smtp.login("alice", "s3cret")[0] == 235
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt("someone@elsewhere.example")[0] == 250
    finally:
        smtp.close()


def test_relay_to_a_domain_that_is_not_local_gets_454_471(smtp: smtplib.SMTP) -> None:
    assert smtp.mail(SENDER)[0] == 250
    code, text = smtp.rcpt("someone@elsewhere.example")
    assert (code, text) == (454, b"4.7.1 <someone@elsewhere.example>: Relay access denied")


def test_rset_aborts_the_transaction(smtp: smtplib.SMTP) -> None:
    assert smtp.mail(SENDER)[0] == 250
    assert smtp.rset() == (250, b"2.0.0 Ok")
    assert smtp.rcpt(ALICE)[0] == 503  # MAIL is needed again


def test_vrfy_gives_252(smtp: smtplib.SMTP) -> None:
    code, _ = smtp.verify(ALICE)
    assert code == 252


def test_bad_sequences_get_503_and_the_session_goes_on(smtp: smtplib.SMTP) -> None:
    assert smtp.rcpt(ALICE) == (503, b"5.5.1 Error: need MAIL command")
    assert smtp.mail(SENDER)[0] == 250
    assert smtp.mail(SENDER) == (503, b"5.5.1 Error: nested MAIL command")
    assert smtp.rcpt(ALICE)[0] == 250


def test_pipelining_is_offered_and_sendmail_to_several_recipients_works(
    server: Serve, smtp: smtplib.SMTP
) -> None:
    assert smtp.has_extn("pipelining")
    marker, message = unique_message()
    refused = smtp.sendmail(SENDER, [ALICE, BOB], message)
    assert refused == {}
    stored = files_with(server, marker)
    assert len(stored) == 1
    assert f"X-Envelope-To: <{ALICE}>, <{BOB}>\r\n".encode() in stored[0]


def test_an_injected_rcpt_reply_with_probability_1_is_given(faulty_server: Serve) -> None:
    smtp = connect(faulty_server)
    try:
        assert smtp.mail(SENDER)[0] == 250
        for rcpt in ("a@example.org", "b@example.org"):
            assert smtp.rcpt(rcpt) == (451, b"4.3.0 Try again later")
        assert "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 451 4.3.0" in faulty_server.log()
    finally:
        smtp.close()


def test_relay_denied_permanent_gets_554_571_and_pipelining_can_be_off(
    plain_server: Serve,
) -> None:
    smtp = connect(plain_server)
    try:
        assert not smtp.has_extn("pipelining")
        assert smtp.mail(SENDER)[0] == 250
        code, text = smtp.rcpt("x@elsewhere.example")
        assert (code, text) == (554, b"5.7.1 <x@elsewhere.example>: Relay access denied")
        assert smtp.rcpt("anyone@example.org")[0] == 250  # no --user: every user is fine
    finally:
        smtp.close()


def test_starttls_then_ehlo_and_a_message_delivered(server: Serve, tls_files: TLSFiles) -> None:
    smtp = connect(server)
    try:
        assert smtp.has_extn("starttls")
        context = ssl.create_default_context(cafile=str(tls_files.ca))
        assert smtp.starttls(context=context)[0] == 220
        assert smtp.sock.version() is not None  # type: ignore[union-attr]
        code, _ = smtp.ehlo()
        assert code == 250
        assert not smtp.has_extn("starttls")  # not offered twice (RFC 3207)
        marker, message = unique_message()
        assert smtp.sendmail(SENDER, [BOB], message) == {}
    finally:
        smtp.quit()
    stored = files_with(server, marker)
    assert len(stored) == 1 and f"X-Envelope-To: <{BOB}>\r\n".encode() in stored[0]


def test_quit_gets_221_and_the_server_closes(smtp: smtplib.SMTP) -> None:
    assert smtp.docmd("QUIT") == (221, b"2.0.0 Bye")
    assert smtp.sock is not None
    smtp.sock.settimeout(5)
    assert smtp.sock.recv(1) == b""  # closed by the server
