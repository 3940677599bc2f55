"""smtplib as a mail client against `smtpsim serve` set up as a submission server
(issue 13): port 587 behaviour (``--require-tls``: Postfix's
``smtpd_tls_security_level = encrypt``) and port 465 behaviour (``--implicit-tls``:
``smtpd_tls_wrappermode = yes``, RFC 8314), with AUTH and relaying refused without
it (554 5.7.1). The replies are Postfix's (smtpd.c, smtpd_sasl_glue.c, smtpd_check.c).
"""

from __future__ import annotations

import smtplib
import ssl
import subprocess
import sys
import time
import uuid

import pytest
from interop_helpers import Serve, TLSFiles

HELO = "laptop.example.net"
ALICE = "alice@example.org"
OUTSIDE = "friend@elsewhere.example"


def _args(tls_files: TLSFiles, mode: str) -> tuple[str, ...]:
    return (
        "--domain",
        "example.org",
        "--auth-user",
        "alice:s3cret",
        "--relay-denied",
        "permanent",
        "--hostname",
        "smtp.example.org",
        "--tls-cert",
        str(tls_files.cert),
        "--tls-key",
        str(tls_files.key),
        mode,
    )


@pytest.fixture(scope="module")
def submission(serve_factory, tls_files: TLSFiles) -> Serve:
    return serve_factory(*_args(tls_files, "--require-tls"))


@pytest.fixture(scope="module")
def submissions(serve_factory, tls_files: TLSFiles) -> Serve:
    return serve_factory(*_args(tls_files, "--implicit-tls"))


def context(tls_files: TLSFiles) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tls_files.ca))


def message(marker: str) -> bytes:
    return f"From: <{ALICE}>\r\nTo: <{OUTSIDE}>\r\nSubject: {marker}\r\n\r\nHi.\r\n".encode()


def stored_with(server: Serve, marker: str) -> int:
    return sum(marker.encode() in p.read_bytes() for p in server.stored())


def test_587_refuses_mail_before_starttls_and_hides_auth(submission: Serve) -> None:
    with smtplib.SMTP(submission.host, submission.port, local_hostname=HELO, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("starttls")
        assert not smtp.has_extn("auth")  # AUTH only over TLS (smtpd_tls_auth_only implied)
        assert smtp.mail(ALICE) == (530, b"5.7.0 Must issue a STARTTLS command first")
        code, text = smtp.docmd("AUTH", "PLAIN AGFsaWNlAHMzY3JldA==")
        assert (code, text) == (530, b"5.7.0 Must issue a STARTTLS command first")
        assert smtp.noop()[0] == 250  # NOOP is allowed before TLS


def test_587_starttls_login_and_relay(submission: Serve, tls_files: TLSFiles) -> None:
    marker = uuid.uuid4().hex
    with smtplib.SMTP(submission.host, submission.port, local_hostname=HELO, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.starttls(context=context(tls_files))[0] == 220
        smtp.ehlo()
        assert smtp.has_extn("auth")
        # Over TLS but not logged in: relaying is refused (reject_unauth_destination)
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(ALICE, [OUTSIDE], message(marker))
        assert refused.value.recipients[OUTSIDE] == (
            554,
            f"5.7.1 <{OUTSIDE}>: Relay access denied".encode(),
        )
        with pytest.raises(smtplib.SMTPAuthenticationError) as failed:
            smtp.login("alice", "stale-password")
        assert failed.value.smtp_code == 535
        assert (
            failed.value.smtp_error == b"5.7.8 Error: authentication failed: authentication failure"
        )
        assert smtp.login("alice", "s3cret")[0] == 235
        assert smtp.sendmail(ALICE, [OUTSIDE], message(marker)) == {}
    assert stored_with(submission, marker) == 1


def test_465_implicit_tls_with_smtp_ssl(submissions: Serve, tls_files: TLSFiles) -> None:
    marker = uuid.uuid4().hex
    with smtplib.SMTP_SSL(
        submissions.host,
        submissions.port,
        local_hostname=HELO,
        timeout=10,
        context=context(tls_files),
    ) as smtp:
        smtp.ehlo()
        assert isinstance(smtp.sock, ssl.SSLSocket)
        assert not smtp.has_extn("starttls")  # TLS is already up
        assert smtp.has_extn("auth")
        assert smtp.login("alice", "s3cret")[0] == 235
        assert smtp.sendmail(ALICE, [OUTSIDE], message(marker)) == {}
    assert stored_with(submissions, marker) == 1


def test_465_a_plain_client_gets_no_greeting(submissions: Serve) -> None:
    """A client without TLS on port 465 waits for a greeting that never comes: the
    server waits for a ClientHello (what the simulated clients see as a greeting
    timeout)."""
    started = time.monotonic()
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        smtplib.SMTP(submissions.host, submissions.port, local_hostname=HELO, timeout=2)
    assert time.monotonic() - started >= 1.9


# smtpsim's own client (`smtpsim send --tls`) on the submissions port: the same
# implicit TLS as smtplib's SMTP_SSL above, through the client core.


def run_send(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpsim", "send", "--timeout", "10", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_smtpsim_send_tls_speaks_tls_from_the_first_byte(
    submissions: Serve, tls_files: TLSFiles
) -> None:
    marker = uuid.uuid4().hex
    done = run_send(
        "--server",
        f"{submissions.host}:{submissions.port}",
        "--tls",
        "--cafile",
        str(tls_files.ca),
        "--auth",
        "alice:s3cret",
        "--from",
        ALICE,
        "--to",
        OUTSIDE,
        "--subject",
        marker,
        "-v",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # TLS before the greeting, no STARTTLS, and AUTH (offered only over TLS) used
    assert out.index("-- TLS established") < out.index("S: 220 ") < out.index("C: AUTH PLAIN")
    assert "STARTTLS" not in out
    assert out.splitlines()[-1].startswith(f"{OUTSIDE}: 250 2.0.0 Ok: queued as")
    assert stored_with(submissions, marker) == 1


def test_smtpsim_send_tls_to_a_plain_port_fails_cleanly(submission: Serve) -> None:
    """The 587 server answers the ClientHello in the clear: the handshake fails, and the
    client says so in one line, sending nothing."""
    before = len(submission.stored())
    done = run_send(
        "--server", f"{submission.host}:{submission.port}", "--tls", "--from", ALICE,
        "--to", OUTSIDE,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("smtpsim send: error: TLS handshake with 127.0.0.1:")
    assert len(submission.stored()) == before


def test_smtpsim_send_tls_and_starttls_exclude_each_other() -> None:
    done = run_send(
        "--server", "127.0.0.1:1", "--tls", "--starttls", "--from", ALICE, "--to", OUTSIDE
    )
    assert done.returncode == 2
    assert "--tls (implicit TLS) and --starttls exclude each other" in done.stderr
