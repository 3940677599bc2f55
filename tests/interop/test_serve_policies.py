"""smtplib against `smtpsim serve` with receiver policies: greylisting, a DNSBL and
per-client rate limits, seen from a standard client on loopback."""

from __future__ import annotations

import smtplib
import time

import pytest
from interop_helpers import Serve

HELO = "client.example.net"
SENDER = "carol@example.net"
GREYLIST_DELAY = 1.0  # seconds: short, so that the test waits little


def connect(server: Serve) -> smtplib.SMTP:
    smtp = smtplib.SMTP(server.host, server.port, local_hostname=HELO, timeout=10)
    smtp.ehlo()
    return smtp


def connect_when_free(server: Serve) -> smtplib.SMTP:
    """Connect to a server that allows one connection per client: the server gives
    the slot of a finished session back just after its 221, so wait for it."""
    deadline = time.monotonic() + 5
    while True:
        try:
            return connect(server)
        except smtplib.SMTPConnectError:
            assert time.monotonic() < deadline, "the connection slot was never given back"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def greylisting(serve_factory) -> Serve:
    return serve_factory("--domain", "example.org", "--greylist", f"{GREYLIST_DELAY:g}s")


@pytest.fixture(scope="module")
def slow(serve_factory) -> Serve:
    return serve_factory("--domain", "example.org", "--end-of-data-delay", "400ms")


@pytest.fixture(scope="module")
def dnsbl(serve_factory) -> Serve:
    return serve_factory("--domain", "example.org", "--dnsbl-listed", "127.0.0.1")


@pytest.fixture(scope="module")
def limited(serve_factory) -> Serve:
    return serve_factory(
        "--domain",
        "example.org",
        "--hostname",
        "mx.example.org",
        "--rate-limit",
        "recipients=3",
        "--rate-limit",
        "concurrent=1",
    )


def test_greylisted_then_accepted_after_the_delay(greylisting: Serve) -> None:
    smtp = connect(greylisting)
    try:
        assert smtp.mail(SENDER)[0] == 250
        code, text = smtp.rcpt("dave@example.org")
        assert code == 450
        assert text == (
            b"4.2.0 <dave@example.org>: Recipient address rejected: Greylisted, "
            b"see http://postgrey.schweikert.ch/help/example.org.html"
        )
        smtp.rset()
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt("dave@example.org")[0] == 450  # an early retry: still greylisted
    finally:
        smtp.quit()
    time.sleep(GREYLIST_DELAY + 0.2)
    smtp = connect(greylisting)
    try:
        assert smtp.mail(SENDER)[0] == 250
        assert smtp.rcpt("dave@example.org")[0] == 250
        assert smtp.data(b"Subject: greylisted\r\n\r\nhello\r\n")[0] == 250
    finally:
        smtp.quit()
    assert "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.2.0" in greylisting.log()


def test_dnsbl_listed_loopback_client_is_blocked(dnsbl: Serve) -> None:
    smtp = connect(dnsbl)
    try:
        assert smtp.mail(SENDER)[0] == 250
        code, text = smtp.rcpt("dave@example.org")
        assert code == 554
        assert text == (
            b"5.7.1 Service unavailable; Client host [127.0.0.1] blocked using local.dnsbl"
        )
    finally:
        smtp.quit()


def test_recipient_rate_limit(limited: Serve) -> None:
    smtp = connect_when_free(limited)
    try:
        assert smtp.mail(SENDER)[0] == 250
        codes = [smtp.rcpt(f"u{i}@example.org") for i in range(4)]
        assert [c for c, _ in codes] == [250, 250, 250, 450]
        assert codes[3][1] == b"4.7.1 Error: too many recipients from 127.0.0.1"
    finally:
        smtp.quit()


def test_second_simultaneous_connection_gets_421_and_the_slot_comes_back(
    limited: Serve,
) -> None:
    first = connect_when_free(limited)
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP(limited.host, limited.port, local_hostname=HELO, timeout=10)
    assert refused.value.smtp_code == 421
    assert refused.value.smtp_error == (
        b"4.7.0 mx.example.org Error: too many connections from 127.0.0.1"
    )
    first.quit()
    # The server releases the slots when the sessions end (ServerSession.close).
    again = connect_when_free(limited)
    assert again.noop()[0] == 250
    again.quit()


def test_end_of_data_delay_holds_the_reply_to_the_message_only(slow: Serve) -> None:
    smtp = connect(slow)
    try:
        began = time.monotonic()
        assert smtp.mail(SENDER)[0] == 250 and smtp.rcpt("dave@example.org")[0] == 250
        envelope = time.monotonic() - began
        began = time.monotonic()
        code, _ = smtp.data(b"Subject: slow\r\n\r\nbody\r\n")
        data = time.monotonic() - began
        assert code == 250
        assert envelope < 0.3 and 0.4 <= data < 2.0, (envelope, data)
    finally:
        smtp.quit()


# --- the command line, in process ----------------------------------------------------------


def parse(*argv: str):
    from smtpsim.cli.main import build_parser

    parser, _ = build_parser()
    return parser.parse_args(["serve", "--domain", "example.org", *argv])


def test_policies_are_built_in_postfix_order_from_the_options() -> None:
    from smtpsim.cli.serve import build_policies
    from smtpsim.mail import DnsblCheck, Greylist, RateLimit, RelayControl

    args = parse(
        "--greylist",
        "--dnsbl-listed",
        "192.0.2.0/24",
        "--rate-limit",
        "messages=10",
        "--rate-limit",
        "connections=5",
    )
    policies = build_policies(args, "mx.example.org")
    assert [type(p) for p in policies] == [RateLimit, RelayControl, DnsblCheck, Greylist]
    limits, _, check, grey = policies
    assert (
        limits.message_rate_limit,
        limits.connection_rate_limit,
        limits.connection_count_limit,
        limits.recipient_rate_limit,
    ) == (10, 5, 50, 0)
    assert check.zones == ("local.dnsbl",) and "192.0.2.9" in check.lookup  # type: ignore[attr-defined]
    assert grey.delay == 300.0  # --greylist without a value: postgrey's default
    assert parse("--greylist", "2min").greylist == 120.0


@pytest.mark.parametrize(
    "argv,fragment",
    [
        (["--rate-limit", "bananas=3"], "KIND=N"),
        (["--rate-limit", "messages=-1"], "KIND=N"),
        (["--greylist", "soon"], "duration"),
        (["--dnsbl-listed", "300.1.1.1"], "IP address or a network"),
        (["--end-of-data-delay", "soon"], "duration"),
    ],
)
def test_bad_policy_options_are_usage_errors(argv, fragment, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse(*argv)
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err
