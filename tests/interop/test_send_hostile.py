"""`smtpsim send` against hostile servers on 127.0.0.1 (issue 9, item 3).

Each server is a script played over a real socket (``scripted_server``): a 354
greeting, a 250 to DATA, a 354 to MAIL, garbage, a reply line that never ends, a
server that stalls, one that hangs up. Whatever it does, `smtpsim send` (run as
``python -m smtpsim send`` in a subprocess) must exit 3, say why in exactly one line
on stderr, print no traceback, report no recipient delivered, and be done in bounded
time (``--timeout`` 2 s: the stalling server costs one timeout, the others none).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest
from interop_helpers import Script, scripted_server

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 2  # --timeout: each reply
BOUND = 15.0  # seconds a whole `smtpsim send` may take here, start-up included
RECIPIENTS = ("alice@example.org", "bob@example.org")


def ehlo(sock, reader: BinaryIO, *, pipelining: bool = True) -> None:
    sock.sendall(b"220 mx.example ESMTP\r\n")
    reader.readline()  # EHLO
    sock.sendall(b"250-mx.example\r\n250 PIPELINING\r\n" if pipelining else b"250 mx.example\r\n")


def greet_354(sock, reader: BinaryIO) -> None:
    sock.sendall(b"354 Start mail input\r\n")


def data_gets_250(sock, reader: BinaryIO) -> None:
    """MAIL, RCPT, RCPT, DATA pipelined; DATA answered 250 as if the mail were taken."""
    ehlo(sock, reader)
    for _ in range(4):
        reader.readline()
    sock.sendall(b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n250 2.0.0 queued as FAKE\r\n")


def data_gets_250_one_at_a_time(sock, reader: BinaryIO) -> None:
    ehlo(sock, reader, pipelining=False)
    for reply in (b"250 2.1.0 Ok", b"250 2.1.5 Ok", b"250 2.1.5 Ok", b"250 2.0.0 queued as FAKE"):
        reader.readline()
        sock.sendall(reply + b"\r\n")


def mail_gets_354(sock, reader: BinaryIO) -> None:
    ehlo(sock, reader, pipelining=False)
    reader.readline()  # MAIL
    sock.sendall(b"354 go ahead\r\n")


def garbage_greeting(sock, reader: BinaryIO) -> None:
    sock.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")


def garbage_after_ehlo(sock, reader: BinaryIO) -> None:
    ehlo(sock, reader)
    for _ in range(4):
        reader.readline()
    sock.sendall(b"\x00\xff\xfe binary noise\r\n")


def endless_line(sock, reader: BinaryIO) -> None:
    sock.sendall(b"220 mx.example ESMTP\r\n")
    reader.readline()  # EHLO
    chunk = b"250-" + b"x" * 65536
    for _ in range(64):  # 4 MiB of one line, or until the client hangs up
        sock.sendall(chunk)


def stalls(sock, reader: BinaryIO) -> None:
    ehlo(sock, reader)
    for _ in range(4):
        reader.readline()  # MAIL RCPT RCPT DATA, never answered


def hangs_up_after_rcpt(sock, reader: BinaryIO) -> None:
    ehlo(sock, reader, pipelining=False)
    reader.readline()
    sock.sendall(b"250 2.1.0 Ok\r\n")
    reader.readline()
    sock.shutdown(socket.SHUT_RDWR)  # close() would wait for the line reader's file


CASES: dict[str, tuple[Script, str]] = {
    "354 greeting": (greet_354, "refused to talk to me: 354 Start mail input"),
    "250 to DATA, pipelined": (
        data_gets_250,
        "said: 250 2.0.0 queued as FAKE (in reply to DATA command)",
    ),
    "250 to DATA, one at a time": (
        data_gets_250_one_at_a_time,
        "said: 250 2.0.0 queued as FAKE (in reply to DATA command)",
    ),
    "354 to MAIL": (mail_gets_354, "said: 354 go ahead (in reply to MAIL FROM command)"),
    "garbage greeting": (
        garbage_greeting,
        "sent a malformed reply line: 'HTTP/1.1 400 Bad Request' while "
        "receiving the initial server greeting",
    ),
    "garbage after EHLO": (garbage_after_ehlo, "sent a malformed reply line"),
    "endless line": (endless_line, "sent a reply line longer than 4096 octets"),
    "stalls": (stalls, "451 4.4.2 conversation timed out while sending MAIL FROM"),
    "hangs up": (hangs_up_after_rcpt, "451 4.4.2 lost connection while sending RCPT TO"),
}


def smtpsim_send(port: int) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    to = [arg for rcpt in RECIPIENTS for arg in ("--to", rcpt)]
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "smtpsim",
            "send",
            "--server",
            f"127.0.0.1:{port}",
            "--from",
            "carol@example.net",
            *to,
            "--timeout",
            str(TIMEOUT),
        ],
        capture_output=True,
        text=True,
        timeout=BOUND * 2,
        env=env,
        cwd=ROOT,
    )
    return done, time.monotonic() - start


@pytest.mark.parametrize(("script", "reason"), CASES.values(), ids=CASES.keys())
def test_send_exits_3_with_one_line_and_no_traceback(script: Script, reason: str) -> None:
    with scripted_server(script) as port:
        done, elapsed = smtpsim_send(port)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.returncode == 3, (done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"smtpsim send: error: 127.0.0.1:{port}: 451 4.")
    assert reason in lines[0]
    # every recipient is reported, and none as delivered
    outcomes = dict(line.split(": ", 1) for line in done.stdout.splitlines())
    assert set(outcomes) == set(RECIPIENTS)
    assert all(reply.startswith("451 4.") for reply in outcomes.values()), outcomes
    assert elapsed < BOUND


def test_250_to_data_was_not_sent_any_content() -> None:
    """What the hostile server read: the envelope and DATA, then nothing (no content
    after a 250 to DATA, no QUIT on a broken connection)."""
    received: list[bytes] = []

    def script(sock, reader: BinaryIO) -> None:
        data_gets_250(sock, reader)
        sock.settimeout(5)
        while chunk := reader.read1(65536):  # what the line reader holds, then the socket
            received.append(chunk)

    with scripted_server(script) as port:
        done, _ = smtpsim_send(port)
    assert done.returncode == 3
    assert b"".join(received) == b""
