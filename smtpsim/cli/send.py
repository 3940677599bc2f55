"""``smtpsim send``: send one message with smtpsim's SMTP client core.

It shows, against any real server, what the simulator's client does: which commands
it pipelines, how it reads each recipient's fate. The exit status says whether every
recipient was accepted, so scripts can use it as a probe.

It believes only what RFC 5321 allows: a server that breaks the protocol (a 250 to
DATA, a 354 greeting, garbage, a reply line without end) or goes silent or away
before every recipient has its reply leaves those recipients deferred (4xx), one line
on stderr saying what happened, and exit status 3; never a traceback, never a
delivery that the server did not confirm after the content.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from dataclasses import fields, replace
from email.utils import formatdate, make_msgid

from ..drivers import SendError, send_message
from ..drivers.tls import client_context
from ..protocol import ClientTimeouts, MailDsn, RcptDsn, SessionResult
from ..protocol.client_session import DEFAULT_CHUNK_SIZE
from ..protocol.dsn import parse_notify
from ..protocol.syntax import filler
from .common import (
    CliParser,
    Subparsers,
    address,
    fail,
    host_port,
    hostname,
    non_negative_int,
    positive_float,
    positive_int,
    sender_address,
    user_pass,
)

NAME = "send"

EXIT_REFUSED = 3

_DESCRIPTION = """\
Send one message to an SMTP server with smtpsim's client core, then print each
recipient's outcome, one per line, as RECIPIENT: REPLY. MAIL, every RCPT and DATA go
as one pipelined group when the server offers PIPELINING, one at a time otherwise.

Without --file the message is generated: Date, From, To, Subject and Message-ID
headers and a one-line body, or a body of exactly --size bytes."""

_EPILOG = """\
Exit status:
  0  every recipient was accepted
  1  no SMTP session took place (server unreachable, TLS handshake failed, ...)
  2  bad command line
  3  at least one recipient was refused (4xx: try later; 5xx: never), or the
     server misbehaved before every recipient had its reply (broke the protocol,
     timed out, closed the connection): one line on stderr says how

Examples:
  smtpsim send --server 127.0.0.1:2525 --from alice@example.net --to bob@example.org
  smtpsim send --server mx.example.org:25 --from a@example.net \\
      --to b@example.org --to c@example.org --size 20000 -v
  smtpsim send --server 127.0.0.1:2525 --from a@example.net --to b@example.org \\
      --file message.eml --starttls --cafile ca.pem --auth alice:secret
  smtpsim send --server smtp.example.net:465 --tls --auth alice:secret \\
      --from alice@example.net --to bob@example.org
  smtpsim send --server 127.0.0.1:2525 --from a@example.net --to b@example.org \\
      --notify SUCCESS,FAILURE --ret HDRS --envid batch-17 --orcpt
"""

_BODY = b"This is a test message sent by smtpsim.\r\n"


def add_parser(subparsers: Subparsers) -> CliParser:
    p: CliParser = subparsers.add_parser(
        NAME,
        help="send one message with smtpsim's client core",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--server",
        metavar="HOST:PORT",
        type=lambda t: host_port(t, default_port=25),
        required=True,
        help="the SMTP server (port 25 if not given)",
    )
    p.add_argument(
        "--from",
        dest="sender",
        metavar="ADDRESS",
        type=sender_address,
        required=True,
        help="envelope sender; '<>' for the null sender of bounces",
    )
    p.add_argument(
        "--to",
        dest="recipients",
        metavar="ADDRESS",
        type=address,
        action="append",
        required=True,
        help="envelope recipient (repeat for several)",
    )
    content = p.add_mutually_exclusive_group()
    content.add_argument("--file", metavar="MSG.eml", help="send this file as the message")
    content.add_argument(
        "--size",
        metavar="N",
        type=non_negative_int,
        help="generated message with a body of N bytes",
    )
    p.add_argument("--subject", help="Subject of the generated message")
    p.add_argument(
        "--helo",
        type=hostname,
        default=None,
        help="name to give in EHLO (default: this machine's name)",
    )
    p.add_argument("--auth", metavar="USER:PASS", type=user_pass, help="authenticate (AUTH)")
    p.add_argument(
        "--starttls",
        action="store_true",
        help="require STARTTLS and a valid certificate; never send in the clear",
    )
    p.add_argument(
        "--tls",
        action="store_true",
        help="implicit TLS from the first byte, as on the submissions port 465 "
        "(RFC 8314); the certificate is verified",
    )
    p.add_argument("--cafile", metavar="PEM", help="CA certificates to verify the server with")
    p.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=positive_float,
        help="wait at most this long for the connection and for each reply "
        "(default: Postfix's smtp_*_timeout values)",
    )
    dsn = p.add_argument_group("DSN (RFC 3461; sent only if the server offers DSN)")
    dsn.add_argument(
        "--notify",
        metavar="WHEN",
        type=_notify,
        help="NOTIFY for every recipient: NEVER, or a comma list of SUCCESS, FAILURE, DELAY",
    )
    dsn.add_argument(
        "--ret",
        choices=("FULL", "HDRS"),
        type=str.upper,
        help="RET: what a failure notice returns, the whole message or its headers",
    )
    dsn.add_argument("--envid", metavar="TEXT", type=_envid, help="ENVID: the envelope's id")
    dsn.add_argument(
        "--orcpt", action="store_true", help="ORCPT=rfc822;ADDRESS for every recipient"
    )
    p.add_argument(
        "--chunking",
        metavar="OCTETS",
        nargs="?",
        type=positive_int,
        const=DEFAULT_CHUNK_SIZE,
        default=None,
        help="send the content with BDAT (RFC 3030) when the server offers CHUNKING, in "
        f"chunks of OCTETS (default {DEFAULT_CHUNK_SIZE}); Postfix's client never does",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print the SMTP transcript")
    p.set_defaults(run=run)
    return p


def _notify(text: str) -> frozenset[str]:
    notify = parse_notify(text)
    if notify is None:
        raise argparse.ArgumentTypeError(
            f"{text!r}: NEVER alone, or a comma list of SUCCESS, FAILURE, DELAY"
        )
    return notify


def _envid(text: str) -> str:
    if not text or not all(" " <= ch <= "~" for ch in text):
        raise argparse.ArgumentTypeError(f"{text!r}: printable ASCII text expected")
    return text


def _dsn(
    args: argparse.Namespace, recipients: list[str]
) -> tuple[MailDsn | None, dict[str, RcptDsn] | None]:
    """The DSN parameters the options ask for: none when none was given."""
    mail = MailDsn(args.ret, args.envid) if args.ret or args.envid else None
    if args.notify is None and not args.orcpt:
        return mail, None
    rcpt = {r: RcptDsn(args.notify, ("rfc822", r) if args.orcpt else None) for r in recipients}
    return mail, rcpt


def run(args: argparse.Namespace, parser: CliParser) -> int:
    if args.tls and args.starttls:
        parser.error("--tls (implicit TLS) and --starttls exclude each other")
    if args.cafile and not (args.starttls or args.tls):
        parser.error("--cafile needs --starttls or --tls")
    if args.subject is not None and args.file:
        parser.error("--subject is for generated messages, not with --file")
    helo = args.helo or socket.gethostname() or "localhost"
    recipients = list(dict.fromkeys(args.recipients))  # each once, in the order given
    if args.file:
        try:
            with open(args.file, "rb") as f:
                message = f.read()
        except OSError as exc:
            parser.error(f"cannot read --file {args.file}: {exc.strerror or exc}")
    else:
        message = build_message(args.sender, recipients, args.subject, args.size, helo)
    context = None
    if args.starttls or args.tls:
        try:
            context = client_context(cafile=args.cafile)
        except OSError as exc:  # includes ssl.SSLError: an unreadable or bad PEM file
            parser.error(f"cannot load --cafile {args.cafile}: {exc.strerror or exc}")
    timeouts = ClientTimeouts()
    if args.timeout:
        timeouts = replace(timeouts, **{f.name: args.timeout for f in fields(ClientTimeouts)})

    dsn, rcpt_dsn = _dsn(args, recipients)
    host, port = args.server
    transcript = (lambda line: print(line, flush=True)) if args.verbose else None
    try:
        result = asyncio.run(
            send_message(
                host,
                port,
                helo=helo,
                sender=args.sender,
                recipients=recipients,
                message=message,
                starttls="require" if args.starttls else "no",
                implicit_tls=args.tls,
                auth=args.auth,
                ssl_context=context,
                timeouts=timeouts,
                transcript=transcript,
                dsn=dsn,
                rcpt_dsn=rcpt_dsn,
                chunking=args.chunking is not None,
                chunk_size=args.chunking or DEFAULT_CHUNK_SIZE,
            )
        )
    except SendError as exc:
        return fail(parser.prog, str(exc))
    status = report(result, recipients)
    if result.error is not None:
        return fail(parser.prog, f"{host}:{port}: {result.error}", EXIT_REFUSED)
    return status


def report(result: SessionResult, recipients: list[str]) -> int:
    """Print each recipient's outcome; the exit status (0 all accepted, 3 otherwise).

    Accepted means a 2xx after the content: the client core gives no other 2xx as a
    final reply, and no 3xx at all; anything else counts as refused."""
    refused = False
    for rcpt in recipients:
        try:
            reply = result.reply_for(rcpt)
        except KeyError:  # not expected: the client core settles every recipient
            print(f"{rcpt}: no reply")
            refused = True
            continue
        print(f"{rcpt}: {reply}")
        refused = refused or reply.code // 100 != 2
    return EXIT_REFUSED if refused else 0


def build_message(
    sender: str, recipients: list[str], subject: str | None, size: int | None, helo: str
) -> bytes:
    """A small message with the usual headers; with ``size``, a body of that many bytes."""
    headers = [
        f"Date: {formatdate(localtime=True)}",
        f"From: <{sender}>" if sender else "From: MAILER-DAEMON",
        f"To: {', '.join(f'<{r}>' for r in recipients)}",
        f"Subject: {subject if subject is not None else 'Test message from smtpsim'}",
        f"Message-ID: {make_msgid(domain=helo)}",
    ]
    body = _BODY if size is None else padding(size)
    return "\r\n".join(headers).encode("utf-8") + b"\r\n\r\n" + body


def padding(size: int) -> bytes:
    """``size`` bytes of text in CRLF-ended lines (the simulator's filler text).

    Every line must end with CRLF (RFC 5321 section 2.3.8), so one byte cannot be a
    body: ``padding(1)`` is ``b"\\r\\n"``, two bytes.
    """
    return filler(size) if size != 1 else b"\r\n"
