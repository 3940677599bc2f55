"""smtpsim's client (``send_message`` and ``smtpsim send``) against real servers:
aiosmtpd's Controller, and `smtpsim serve` with and without PIPELINING.

aiosmtpd 1.4 does not offer PIPELINING (its EHLO reply lists SIZE, 8BITMIME,
SMTPUTF8, HELP), so the client must send one command at a time to it; the tests
check that from the transcript rather than assume it.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from interop_helpers import Serve, TLSFiles

from smtpsim.drivers import send_message
from smtpsim.protocol import ClientTimeouts

SENDER = "carol@example.net"
RECIPIENTS = ["alice@example.org", "bob@example.org"]
MESSAGE = (
    b"From: <carol@example.net>\r\nTo: <alice@example.org>\r\nSubject: interop\r\n\r\n"
    b"First line.\r\n.Starts with a dot.\r\n..Two dots.\r\nLast line.\r\n"
)
FAST = ClientTimeouts(
    connect=5,
    helo=5,
    mail=5,
    rcpt=5,
    data_init=5,
    data_xfer=5,
    data_done=5,
    quit=5,
    rset=5,
    starttls=5,
    other=5,
)
CLI_TIMEOUT = 20


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps every envelope it is given."""

    envelopes: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook name
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 Message accepted for delivery"


@pytest.fixture(scope="module")
def aiosmtpd_server() -> Iterator[tuple[Controller, Recorder]]:
    # aiosmtpd's Controller cannot listen on port 0 (it connects to its own port to
    # start), so take a free port from the OS first.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    yield controller, recorder
    controller.stop()


def run_send(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", "send", "--timeout", "10", *args],
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def transcript_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(("C: ", "S: "))]


def test_send_message_delivers_exactly_to_aiosmtpd(aiosmtpd_server) -> None:
    controller, recorder = aiosmtpd_server
    before = len(recorder.envelopes)
    lines: list[str] = []
    result = asyncio.run(
        send_message(
            controller.hostname,
            controller.port,
            helo="client.example.net",
            sender=SENDER,
            recipients=RECIPIENTS,
            message=MESSAGE,
            timeouts=FAST,
            transcript=lines.append,
        )
    )
    assert [(r, reply.code) for r, reply in result.replies] == [(r, 250) for r in RECIPIENTS]
    assert result.delivered == tuple(RECIPIENTS)
    assert recorder.envelopes[before:] == [(SENDER, RECIPIENTS, MESSAGE)]
    # One command at a time: each command's reply comes before the next command.
    assert not any("PIPELINING" in line for line in lines)
    assert not any("[pipelined group" in line for line in lines)
    sent = [line.split()[1] for line in lines if line.startswith("C: ")]
    assert sent == ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "<message,", "QUIT"]
    for i, line in enumerate(lines[:-1]):
        if line.startswith("C: "):
            assert lines[i + 1].startswith("S: "), lines


def test_smtpsim_send_cli_delivers_to_aiosmtpd(aiosmtpd_server, tmp_path) -> None:
    controller, recorder = aiosmtpd_server
    before = len(recorder.envelopes)
    path = tmp_path / "message.eml"
    path.write_bytes(MESSAGE)
    done = run_send(
        "--server",
        f"{controller.hostname}:{controller.port}",
        "--from",
        SENDER,
        "--to",
        RECIPIENTS[0],
        "--to",
        RECIPIENTS[1],
        "--file",
        str(path),
        "-v",
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert recorder.envelopes[before:] == [(SENDER, RECIPIENTS, MESSAGE)]
    outcomes = done.stdout.splitlines()[-2:]
    assert outcomes == [f"{r}: 250 2.0.0 Message accepted for delivery" for r in RECIPIENTS]
    assert "C: [pipelined group" not in done.stdout


def test_smtpsim_send_to_smtpsim_serve_pipelines_mail_rcpt_data(server: Serve) -> None:
    done = run_send(
        "--server",
        f"{server.host}:{server.port}",
        "--from",
        SENDER,
        "--to",
        "alice@example.org",
        "--to",
        "nobody@example.org",
        "--to",
        "bob@example.org",
        "--subject",
        "pipelined",
        "-v",
    )
    assert done.returncode == 3, done.stderr  # one recipient refused
    lines = transcript_lines(done.stdout)
    group = lines.index("C: [pipelined group: MAIL RCPT RCPT RCPT DATA]")
    assert [line.split()[1] for line in lines[group + 1 : group + 6]] == [
        "MAIL",
        "RCPT",
        "RCPT",
        "RCPT",
        "DATA",
    ]
    assert all(line.startswith("S: ") for line in lines[group + 6 : group + 11])
    outcomes = done.stdout.splitlines()[-3:]
    assert outcomes[0].startswith("alice@example.org: 250 2.0.0 Ok: queued as ")
    assert outcomes[1].startswith("nobody@example.org: 550 5.1.1 <nobody@example.org>")
    assert outcomes[2].startswith("bob@example.org: 250 2.0.0 Ok: queued as ")
    queue_id = outcomes[0].rsplit(" ", 1)[1]
    stored = (server.maildir / f"{queue_id}.eml").read_bytes()
    assert b"X-Envelope-To: <alice@example.org>, <bob@example.org>\r\n" in stored
    assert b"Subject: pipelined\r\n" in stored


def test_smtpsim_send_to_serve_without_pipelining_sends_one_command_at_a_time(
    plain_server: Serve,
) -> None:
    done = run_send(
        "--server",
        f"{plain_server.host}:{plain_server.port}",
        "--from",
        SENDER,
        "--to",
        "alice@example.org",
        "--to",
        "bob@example.org",
        "--size",
        "5000",
        "-v",
    )
    assert done.returncode == 0, done.stderr
    lines = transcript_lines(done.stdout)
    assert "[pipelined group" not in done.stdout
    sent = [(i, line.split()[1]) for i, line in enumerate(lines) if line.startswith("C: ")]
    assert [verb for _, verb in sent] == [
        "EHLO",
        "MAIL",
        "RCPT",
        "RCPT",
        "DATA",
        "<message,",
        "QUIT",
    ]
    for i, _ in sent:
        assert lines[i + 1].startswith("S: ")  # the reply before the next command
    assert "C: <message, " in done.stdout
    queue_id = done.stdout.splitlines()[-1].rsplit(" ", 1)[1]
    stored = (plain_server.maildir / f"{queue_id}.eml").read_bytes()
    body = stored.split(b"\r\n\r\n", 1)[1]
    assert len(body) == 5000  # --size is the body's size


def test_smtpsim_send_with_starttls_verifies_and_authenticates(
    server: Serve, tls_files: TLSFiles
) -> None:
    done = run_send(
        "--server",
        f"127.0.0.1:{server.port}",
        "--from",
        SENDER,
        "--to",
        "someone@elsewhere.example",
        "--starttls",
        "--cafile",
        str(tls_files.ca),
        "--auth",
        "alice:s3cret",
        "-v",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.index("C: STARTTLS") < out.index("-- TLS established") < out.index("C: AUTH PLAIN")
    assert "s3cret" not in out and "<credentials hidden>" in out
    # Authenticated, so relaying is allowed.
    assert out.splitlines()[-1].startswith("someone@elsewhere.example: 250 2.0.0 Ok: queued as")


def test_smtpsim_send_starttls_fails_cleanly_on_an_untrusted_certificate(server: Serve) -> None:
    done = run_send(
        "--server",
        f"127.0.0.1:{server.port}",
        "--from",
        SENDER,
        "--to",
        "alice@example.org",
        "--starttls",  # the system store does not trust trustme's CA
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("smtpsim send: error: TLS handshake with 127.0.0.1:")
    assert "certificate" in done.stderr.lower()


def test_smtpsim_send_starttls_required_but_not_offered_refuses_every_recipient(
    aiosmtpd_server,
) -> None:
    controller, recorder = aiosmtpd_server
    before = len(recorder.envelopes)
    done = run_send(
        "--server",
        f"{controller.hostname}:{controller.port}",
        "--from",
        SENDER,
        "--to",
        RECIPIENTS[0],
        "--starttls",
    )
    assert done.returncode == 3
    assert done.stdout.splitlines() == [
        f"{RECIPIENTS[0]}: 451 4.7.4 TLS is required, but was not offered by the server"
    ]
    assert len(recorder.envelopes) == before  # nothing was sent in the clear
