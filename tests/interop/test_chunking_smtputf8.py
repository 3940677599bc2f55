"""CHUNKING (RFC 3030) and SMTPUTF8 (RFC 6531) over real sockets: `smtpsim serve`
against Python's smtplib, and `smtpsim send` / ``send_message`` against `smtpsim serve`
and aiosmtpd.

smtplib has no BDAT of its own: its chunks go as raw commands (``send`` and
``getreply``). It speaks SMTPUTF8 through ``mail_options=["SMTPUTF8"]``, which makes
it write its commands in UTF-8.

aiosmtpd 1.4.6 (the version tested) has no BDAT: its EHLO reply never lists CHUNKING
(aiosmtpd/smtp.py has no BDAT handler), so a client asked to chunk must send DATA to
it; it offers SMTPUTF8 only with ``enable_SMTPUTF8=True``, and refuses the parameter
otherwise.
"""

from __future__ import annotations

import asyncio
import re
import smtplib
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from interop_helpers import Serve

from smtpsim.cli.send import padding
from smtpsim.drivers import send_message
from smtpsim.protocol import ClientTimeouts

HELO = "client.example.net"
SENDER = "carol@example.net"
ALICE = "alice@example.org"
UTF8_USER = "jöran@example.org"
UTF8_SENDER = "användare@example.net"
FAST = ClientTimeouts(**dict.fromkeys(("connect", "helo", "mail", "rcpt"), 5.0))
CLI_TIMEOUT = 20


@pytest.fixture(scope="module")
def utf8_server(serve_factory) -> Serve:
    """Users alice and jöran of example.org; strict about undeclared UTF-8."""
    return serve_factory(
        "--domain", "example.org", "--user", ALICE, "--user", UTF8_USER, "--strict-smtputf8"
    )


@pytest.fixture(scope="module")
def plain_utf8_server(serve_factory) -> Serve:
    return serve_factory("--domain", "example.org", "--no-smtputf8", "--no-chunking")


def connect(server: Serve) -> smtplib.SMTP:
    smtp = smtplib.SMTP(server.host, server.port, local_hostname=HELO, timeout=10)
    smtp.ehlo()
    return smtp


def stored_with(server: Serve, marker: bytes) -> list[bytes]:
    return [c for c in (p.read_bytes() for p in server.stored()) if marker in c]


def run_send(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", "send", "--timeout", "10", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


# --- smtplib against smtpsim serve -----------------------------------------------------------


def test_ehlo_offers_chunking_and_smtputf8_in_postfixs_order(
    utf8_server: Serve, plain_utf8_server: Serve
) -> None:
    smtp = connect(utf8_server)
    try:
        assert smtp.has_extn("chunking") and smtp.has_extn("smtputf8")
        order = list(smtp.esmtp_features)
        assert order.index("8bitmime") < order.index("smtputf8") < order.index("chunking")
    finally:
        smtp.close()
    smtp = connect(plain_utf8_server)
    try:
        assert not smtp.has_extn("chunking") and not smtp.has_extn("smtputf8")
    finally:
        smtp.close()


def test_smtplib_raw_bdat_chunks_are_stored_as_one_message(utf8_server: Serve) -> None:
    marker = uuid.uuid4().hex.encode()
    first = b"Subject: " + marker + b"\r\n\r\n.a dot, not the end\r\n"
    last = b"BDAT 9 is content here\r\n"
    smtp = connect(utf8_server)
    try:
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt(ALICE)[0] == 250
        smtp.send(f"BDAT {len(first)}\r\n".encode() + first)
        assert smtp.getreply() == (250, f"2.0.0 Ok: {len(first)} bytes".encode())
        smtp.send(f"BDAT {len(last)} LAST\r\n".encode() + last)
        code, text = smtp.getreply()
        assert code == 250
        total = len(first) + len(last)
        match = re.fullmatch(
            rf"2\.0\.0 Ok: {total} bytes queued as ([0-9A-F]{{10}})", text.decode()
        )
        assert match is not None, text
        assert smtp.noop()[0] == 250  # the session goes on after the chunks
    finally:
        smtp.quit()
    [stored] = stored_with(utf8_server, marker)
    assert (utf8_server.maildir / f"{match.group(1)}.eml").read_bytes() == stored
    assert stored.endswith(first + last)  # raw octets: no dot-stuffing undone or added


def test_smtplib_sequence_errors_with_bdat(utf8_server: Serve) -> None:
    smtp = connect(utf8_server)
    try:
        smtp.send(b"BDAT 4 LAST\r\nnope")  # no transaction: the chunk is skipped
        assert smtp.getreply() == (503, b"5.5.1 Error: need RCPT command")
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt(ALICE)[0] == 250
        smtp.send(b"BDAT 3\r\nabc")
        assert smtp.getreply()[0] == 250
        assert smtp.docmd("DATA") == (503, b"5.5.1 Error: DATA after BDAT")
        assert smtp.rset()[0] == 250
        assert smtp.noop()[0] == 250
    finally:
        smtp.quit()


def test_smtplib_malformed_bdat_gets_521_and_the_connection_closes(utf8_server: Serve) -> None:
    smtp = connect(utf8_server)
    try:
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt(ALICE)[0] == 250
        assert smtp.docmd("BDAT many") == (521, b"5.5.4 Syntax: BDAT count [LAST]")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            smtp.noop()
    finally:
        smtp.close()


def test_smtplib_smtputf8_message_to_a_utf8_mailbox(utf8_server: Serve) -> None:
    marker = uuid.uuid4().hex
    message = f"From: <{UTF8_SENDER}>\r\nTo: <{UTF8_USER}>\r\nSubject: {marker}\r\n\r\nhej\r\n"
    smtp = connect(utf8_server)
    try:
        refused = smtp.sendmail(
            UTF8_SENDER, [UTF8_USER], message.encode("utf-8"), mail_options=["SMTPUTF8"]
        )
        assert refused == {}
    finally:
        smtp.quit()
    [stored] = stored_with(utf8_server, marker.encode())
    assert f"Return-Path: <{UTF8_SENDER}>\r\n".encode() in stored
    assert f"X-Envelope-To: <{UTF8_USER}>\r\n".encode() in stored


def test_smtplib_undeclared_utf8_is_553_under_strict_smtputf8(utf8_server: Serve) -> None:
    smtp = connect(utf8_server)
    try:
        smtp.command_encoding = "utf-8"  # what smtplib does for SMTPUTF8, without saying it
        assert smtp.docmd(f"MAIL FROM:<{UTF8_SENDER}>") == (
            553,
            b"5.6.7 Must declare SMTPUTF8 to send unicode address",
        )
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.docmd(f"RCPT TO:<{UTF8_USER}>")[0] == 553
    finally:
        smtp.quit()


def test_smtplib_against_a_server_without_them(plain_utf8_server: Serve) -> None:
    smtp = connect(plain_utf8_server)
    try:
        assert not smtp.has_extn("chunking") and not smtp.has_extn("smtputf8")
        assert smtp.docmd("MAIL FROM:<a@example.net> SMTPUTF8") == (
            555,
            b"5.5.4 Unsupported option: SMTPUTF8",
        )
        smtp.command_encoding = "utf-8"
        assert smtp.docmd(f"MAIL FROM:<{UTF8_SENDER}>") == (
            501,
            b"5.1.7 Bad sender address syntax",
        )
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.docmd("BDAT 3 LAST") == (521, b"5.5.1 Error: command not implemented")
    finally:
        smtp.close()


# --- smtpsim send against smtpsim serve ----------------------------------------------------------


def test_smtpsim_send_chunks_pipelined_to_smtpsim_serve(utf8_server: Serve) -> None:
    marker = uuid.uuid4().hex
    done = run_send(
        "--server",
        f"{utf8_server.host}:{utf8_server.port}",
        "--from",
        SENDER,
        "--to",
        ALICE,
        "--subject",
        marker,
        "--size",
        "2500",
        "--chunking",
        "1000",
        "-v",
    )
    assert done.returncode == 0, done.stderr
    lines = [x for x in done.stdout.splitlines() if x.startswith(("C: ", "S: "))]
    group = next(x for x in lines if x.startswith("C: [pipelined group"))
    assert group == "C: [pipelined group: MAIL RCPT BDAT BDAT BDAT-LAST]"
    assert "C: BDAT 1000 <1000 bytes>" in lines
    assert "DATA" not in " ".join(x for x in lines if x.startswith("C: "))
    outcome = done.stdout.splitlines()[-1]
    assert re.fullmatch(rf"{ALICE}: 250 2\.0\.0 Ok: \d+ bytes queued as [0-9A-F]{{10}}", outcome)
    [stored] = stored_with(utf8_server, marker.encode())
    assert stored.endswith(b"\r\n\r\n" + padding(2500))  # the body, whole, in 3 chunks


def test_smtpsim_send_utf8_addresses_to_smtpsim_serve(utf8_server: Serve) -> None:
    marker = uuid.uuid4().hex
    done = run_send(
        "--server",
        f"{utf8_server.host}:{utf8_server.port}",
        "--from",
        UTF8_SENDER,
        "--to",
        UTF8_USER,
        "--subject",
        marker,
        "-v",
    )
    assert done.returncode == 0, done.stderr
    assert f"C: MAIL FROM:<{UTF8_SENDER}>" in done.stdout
    assert " SMTPUTF8" in next(x for x in done.stdout.splitlines() if x.startswith("C: MAIL"))
    [stored] = stored_with(utf8_server, marker.encode())
    assert f"X-Envelope-To: <{UTF8_USER}>\r\n".encode() in stored


def test_smtpsim_send_utf8_to_a_server_without_smtputf8_bounces(plain_utf8_server: Serve) -> None:
    done = run_send(
        "--server",
        f"{plain_utf8_server.host}:{plain_utf8_server.port}",
        "--from",
        UTF8_SENDER,
        "--to",
        ALICE,
        "-v",
    )
    assert done.returncode == 3, done.stderr
    assert done.stdout.splitlines()[-1] == (
        f"{ALICE}: 550 5.6.7 SMTPUTF8 is required, but was not offered by host "
        f"{plain_utf8_server.host}[{plain_utf8_server.host}]"
    )
    assert "C: MAIL" not in done.stdout  # decided after EHLO (Postfix 3.7 smtp_proto.c)


# --- smtpsim's client against aiosmtpd ---------------------------------------------------------


@dataclass
class Recorder:
    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted for delivery"


def _controller(recorder: Recorder, **kw: object) -> Controller:
    with socket.socket() as probe:  # aiosmtpd's Controller cannot listen on port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=10, **kw)


@pytest.fixture(scope="module", params=[True, False], ids=["smtputf8", "ascii-only"])
def aiosmtpd_server(request) -> Iterator[tuple[Controller, Recorder, bool]]:
    recorder = Recorder()
    controller = _controller(recorder, enable_SMTPUTF8=request.param)
    controller.start()
    yield controller, recorder, request.param
    controller.stop()


def _send(controller: Controller, sender: str, recipients: list[str], **kw: object):
    lines: list[str] = []
    result = asyncio.run(
        send_message(
            controller.hostname,
            controller.port,
            helo=HELO,
            sender=sender,
            recipients=recipients,
            message=b"Subject: interop\r\n\r\nhej\r\n",
            timeouts=FAST,
            transcript=lines.append,
            **kw,  # type: ignore[arg-type]
        )
    )
    return result, lines


def test_utf8_sender_to_aiosmtpd(aiosmtpd_server) -> None:
    controller, recorder, smtputf8 = aiosmtpd_server
    before = len(recorder.envelopes)
    result, lines = _send(controller, UTF8_SENDER, [ALICE])
    if smtputf8:
        assert result.delivered == (ALICE,)
        assert recorder.envelopes[before:][0][0] == UTF8_SENDER
        assert any(x.startswith("C: MAIL FROM:") and x.endswith(" SMTPUTF8") for x in lines)
    else:
        [(_rcpt, reply)] = result.replies
        assert (reply.code, reply.enhanced) == (550, "5.6.7")
        assert reply.text.startswith("SMTPUTF8 is required, but was not offered by host 127.0.0.1[")
        assert recorder.envelopes[before:] == []
        assert not any(x.startswith("C: MAIL") for x in lines)


def test_chunking_client_falls_back_to_data_with_aiosmtpd(aiosmtpd_server) -> None:
    """aiosmtpd offers no CHUNKING: asked to chunk, the client sends DATA."""
    controller, recorder, _ = aiosmtpd_server
    before = len(recorder.envelopes)
    result, lines = _send(controller, SENDER, [ALICE], chunking=True, chunk_size=4)
    assert result.delivered == (ALICE,)
    assert not any("CHUNKING" in x for x in lines)
    assert not any(x.startswith("C: BDAT") for x in lines)
    assert "C: DATA" in lines
    assert recorder.envelopes[before:] == [(SENDER, [ALICE], b"Subject: interop\r\n\r\nhej\r\n")]


def test_smtpsim_serve_takes_an_internationalized_domain(serve_factory) -> None:
    """``--domain`` takes U-labels (RFC 6531 section 3.3: an internationalized
    domain's mail comes under SMTPUTF8): smtplib delivers to a mailbox of it, and a
    name no grammar allows is still refused as a usage error."""
    idn = serve_factory("--domain", "例子.广告")
    rcpt = "用户@例子.广告"
    with connect(idn) as smtp:
        refused = smtp.sendmail(
            SENDER, [rcpt], b"Subject: idn\r\n\r\nhello\r\n", mail_options=["SMTPUTF8"]
        )
    assert refused == {}
    [stored] = stored_with(idn, b"Subject: idn")
    assert f"X-Envelope-To: <{rcpt}>\r\n".encode() in stored
    bad = subprocess.run(
        [sys.executable, "-m", "smtpsim", "serve", "--domain", "例子..广告"],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )
    assert bad.returncode == 2
    assert "not a domain name" in bad.stderr
