"""DSN (RFC 3461) over real sockets: Python's smtplib (``mail_options`` and
``rcpt_options``) against `smtpsim serve`, and smtpsim's client (``send_message``,
``smtpsim send``) against `smtpsim serve` with and without DSN and against aiosmtpd.

aiosmtpd 1.4 does not offer DSN (its EHLO lists SIZE, 8BITMIME, SMTPUTF8, HELP) and
answers any RCPT parameter with ``555 RCPT TO parameters not recognized or not
implemented``: the client must leave the parameters out there, and does.
"""

from __future__ import annotations

import asyncio
import smtplib
from collections.abc import Callable, Iterator

import pytest
from interop_helpers import Serve
from test_client_aiosmtpd import (  # noqa: F401 - the fixture, used by name
    FAST,
    MESSAGE,
    RECIPIENTS,
    SENDER,
    aiosmtpd_server,
    run_send,
    transcript_lines,
)

from smtpsim.drivers import send_message
from smtpsim.protocol import MailDsn, RcptDsn

ALICE, BOB = "alice@example.org", "bob@example.org"


@pytest.fixture(scope="module")
def no_dsn_server(serve_factory: Callable[..., Serve]) -> Serve:
    return serve_factory("--domain", "example.org", "--no-dsn")


@pytest.fixture
def smtp(server: Serve) -> Iterator[smtplib.SMTP]:
    client = smtplib.SMTP(server.host, server.port, local_hostname="c.example.net", timeout=10)
    client.ehlo()
    yield client
    client.close()


def test_smtplib_dsn_parameters_accepted(server: Serve, smtp: smtplib.SMTP) -> None:
    assert smtp.has_extn("dsn")
    assert smtp.mail(SENDER, ["RET=HDRS", "ENVID=QQ+2B1"])[0] == 250
    code, _ = smtp.rcpt(ALICE, ["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;alice+40example.org"])
    assert code == 250
    assert smtp.rcpt(BOB, ["NOTIFY=NEVER"])[0] == 250
    assert smtp.data(MESSAGE)[0] == 250


@pytest.mark.parametrize(
    ("mail", "rcpt", "reply"),
    [
        (["RET=PART"], [], (501, b"5.5.4 Bad RET parameter syntax")),
        (["ENVID=a+2"], [], (501, b"5.5.4 Bad ENVID parameter syntax")),
        ([], ["NOTIFY=NEVER,DELAY"], (501, b"5.5.4 Error: Bad NOTIFY parameter syntax")),
        ([], ["ORCPT=alice@example.org"], (501, b"5.5.4 Error: Bad ORCPT parameter syntax")),
    ],
)
def test_smtplib_bad_dsn_parameters_get_postfix_replies(smtp, mail, rcpt, reply) -> None:
    if mail:
        assert smtp.mail(SENDER, mail) == reply
        return
    assert smtp.mail(SENDER)[0] == 250
    assert smtp.rcpt(ALICE, rcpt) == reply


def test_smtplib_against_a_server_without_dsn(no_dsn_server: Serve) -> None:
    with smtplib.SMTP(no_dsn_server.host, no_dsn_server.port, timeout=10) as smtp:
        smtp.ehlo()
        assert not smtp.has_extn("dsn")
        assert smtp.mail(SENDER, ["RET=FULL"]) == (501, b"5.7.1 DSN support is disabled")


DSN = MailDsn("HDRS", "batch 17")
RCPT_DSN = {r: RcptDsn(frozenset({"SUCCESS", "FAILURE"}), ("rfc822", r)) for r in RECIPIENTS}


def _send(host: str, port: int) -> tuple[list[str], tuple[str, ...]]:
    lines: list[str] = []
    result = asyncio.run(
        send_message(
            host,
            port,
            helo="client.example.net",
            sender=SENDER,
            recipients=RECIPIENTS,
            message=MESSAGE,
            timeouts=FAST,
            transcript=lines.append,
            dsn=DSN,
            rcpt_dsn=RCPT_DSN,
        )
    )
    return lines, result.delivered


def test_send_message_sends_dsn_to_smtpsim_serve(server: Serve) -> None:
    lines, delivered = _send(server.host, server.port)
    assert delivered == tuple(RECIPIENTS)
    sent = [line for line in lines if line.startswith("C: ")]
    assert any(line.endswith("RET=HDRS ENVID=batch+2017") for line in sent), sent
    for r in RECIPIENTS:
        assert f"C: RCPT TO:<{r}> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;{r}" in sent


@pytest.mark.parametrize("kind", ["no-dsn serve", "aiosmtpd"])
def test_send_message_leaves_dsn_out_when_not_offered(kind, no_dsn_server, aiosmtpd_server):  # noqa: F811
    if kind == "aiosmtpd":
        controller, _ = aiosmtpd_server
        host, port = controller.hostname, controller.port
    else:
        host, port = no_dsn_server.host, no_dsn_server.port
    lines, delivered = _send(host, port)
    assert delivered == tuple(RECIPIENTS)  # aiosmtpd would 555 a RCPT parameter
    assert not any(("NOTIFY=" in x or "RET=" in x) for x in lines if x.startswith("C: "))


def test_smtpsim_send_cli_dsn_options(server: Serve) -> None:
    done = run_send(
        "--server",
        f"{server.host}:{server.port}",
        "--from",
        SENDER,
        "--to",
        ALICE,
        "--notify",
        "success,delay",
        "--ret",
        "full",
        "--envid",
        "x=1",
        "--orcpt",
        "-v",
    )
    assert done.returncode == 0, done.stderr
    lines = transcript_lines(done.stdout)
    assert any(line.endswith("RET=FULL ENVID=x+3D1") for line in lines), lines
    assert f"C: RCPT TO:<{ALICE}> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;{ALICE}" in lines


def test_smtpsim_send_cli_refuses_a_bad_notify() -> None:
    done = run_send(
        "--server", "127.0.0.1:9", "--from", SENDER, "--to", ALICE, "--notify", "never,success"
    )
    assert done.returncode == 2
    assert "--notify" in done.stderr and "NEVER alone" in done.stderr
