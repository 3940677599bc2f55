"""``smtpsim serve``: a real SMTP server built from smtpsim's protocol core and policies.

It is the fastest way to see the core against real mail software (``swaks``,
``smtplib``, an MTA), and what the interop tests run. It accepts mail for its local
domains only: it never relays, so it refuses other domains the way Postfix's
``defer_unauth_destination`` does, even from loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import signal
import socket
import ssl

from ..drivers import MaildirWriter, QueueIds, SMTPServer
from ..drivers.tls import server_context
from ..mail import (
    DnsblCheck,
    Greylist,
    LocalRecipients,
    PasswordTable,
    Policy,
    RateLimit,
    RelayControl,
    StaticDnsbl,
    domain_of,
    parse_injection,
)
from ..protocol import ServerConfig
from .common import (
    CliParser,
    Subparsers,
    address,
    domain,
    fail,
    host_port,
    hostname,
    non_negative_int,
    user_pass,
)

NAME = "serve"

_DESCRIPTION = """\
Run an SMTP server on a TCP port, driven by smtpsim's protocol core and policies.

It accepts mail for the --domain domains: every user of a domain, or only the --user
addresses given for it (others get 550 5.1.1). Mail for any other domain is relaying
and is refused (454 4.7.1, or 554 5.7.1 with --relay-denied permanent) unless the
client authenticated. Each accepted message is stored once as DIR/QUEUEID.eml when
--maildir is given (with Return-Path: and X-Envelope-To: lines in front), and
discarded otherwise. Queue ids count up: 0000000001, 0000000002...

Output: the first line on stdout is 'smtpsim serve: listening on HOST:PORT' (so
--listen with port 0 can be used by scripts), then one line per accepted message,
QUEUEID: from=<s>, to=<a>,<b>, size=N, client=host[ip], and one line per refused
command (NOQUEUE: reject: ...). SIGINT or SIGTERM stops the server."""

_EPILOG = """\
Fault injection, --inject PHASE:REPLY[@PROBABILITY]:
  PHASE        connect, helo, mail, rcpt, data, end-of-data or auth
  REPLY        an SMTP reply: CODE [ENHANCED-CODE] TEXT, e.g. 451 4.3.0 Try again later
  PROBABILITY  between 0 and 1 (default 1): how often the phase gets REPLY; the draws
               come from one random stream seeded with --seed, so a run repeats
  Injections are checked first, in the order given, before the other policies.
  A 421 reply closes the connection, as RFC 5321 says.

Receiver policies (greylisting and the DNSBL act at RCPT, after relay control and
--user; rate limits come first, as in Postfix):
  --greylist [DELAY]      greylist as postgrey does: the first delivery attempt of a
                          (client /24, sender, recipient) triplet gets
                          450 4.2.0 <r@d>: Recipient address rejected: Greylisted, see ...
                          and a retry at least DELAY later (default 300s; 5s, 2min,
                          1h...) passes
  --dnsbl-listed ADDR     list an address or a network (192.0.2.7, 198.51.100.0/24)
                          in a local DNSBL named local.dnsbl: its clients get
                          554 5.7.1 Service unavailable; Client host [IP] blocked
                          using local.dnsbl
  --rate-limit KIND=N     Postfix anvil limits per client address, per minute:
                          connections (new connections: 421 4.7.0 at connect),
                          messages (MAIL: 450 4.7.1), recipients (RCPT: 450 4.7.1);
                          concurrent=N sets the simultaneous connections per client
                          (default 50 once any --rate-limit is given)

Examples:
  smtpsim serve --listen 127.0.0.1:2525 --domain example.org
  smtpsim serve --listen 127.0.0.1:0 --domain example.org \\
      --user alice@example.org --user bob@example.org --maildir ./mail
  smtpsim serve --domain example.org --inject 'rcpt:451 4.3.0 Try again later@0.3' --seed 7
  smtpsim serve --domain example.org --inject 'connect:421 4.7.0 Try again later'
  smtpsim serve --domain example.org --auth-user alice:secret \\
      --tls-cert cert.pem --tls-key key.pem
  smtpsim serve --domain example.org --auth-user alice:s3cret --relay-denied permanent \\
      --tls-cert cert.pem --tls-key key.pem --require-tls       (as port 587)
  smtpsim serve --domain example.org --auth-user alice:s3cret --relay-denied permanent \\
      --tls-cert cert.pem --tls-key key.pem --implicit-tls      (as port 465)
  smtpsim serve --domain example.org --greylist 5s
  smtpsim serve --domain example.org --end-of-data-delay 200ms
  smtpsim serve --domain example.org --dnsbl-listed 127.0.0.1
  smtpsim serve --domain example.org --rate-limit messages=10 --rate-limit recipients=100
"""


def add_parser(subparsers: Subparsers) -> CliParser:
    p: CliParser = subparsers.add_parser(
        NAME,
        help="run an SMTP server (smtpsim's core on a real port)",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--listen",
        metavar="HOST:PORT",
        type=lambda t: host_port(t),
        default=("127.0.0.1", 2525),
        help="address to listen on; port 0 picks a free port (default: 127.0.0.1:2525)",
    )
    p.add_argument(
        "--domain",
        metavar="DOMAIN",
        type=domain,
        action="append",
        required=True,
        help="a local domain whose mail is accepted (repeat for several)",
    )
    p.add_argument(
        "--user",
        metavar="USER@DOMAIN",
        type=address,
        action="append",
        default=[],
        help="a known user; a domain with --user lines accepts only those users",
    )
    p.add_argument("--maildir", metavar="DIR", help="store accepted messages in DIR")
    p.add_argument(
        "--inject",
        metavar="PHASE:REPLY[@P]",
        type=_injection,
        action="append",
        default=[],
        help="force REPLY at PHASE with probability P (see below)",
    )
    p.add_argument(
        "--auth-user",
        metavar="USER:PASS",
        type=user_pass,
        action="append",
        default=[],
        help="offer AUTH PLAIN LOGIN and accept this user (repeat for several)",
    )
    p.add_argument(
        "--hostname",
        type=hostname,
        default=None,
        help="name in the greeting and EHLO reply (default: this machine's name)",
    )
    p.add_argument(
        "--max-size",
        metavar="BYTES",
        type=non_negative_int,
        default=10_240_000,
        help="message size limit announced with SIZE; 0 means none (default: 10240000)",
    )
    p.add_argument(
        "--no-pipelining", action="store_true", help="do not offer PIPELINING (RFC 2920)"
    )
    p.add_argument(
        "--no-dsn",
        action="store_true",
        help="do not offer DSN (RFC 3461), as Postfix's smtpd_discard_ehlo_keywords = dsn: "
        "its parameters are refused with 501 5.7.1",
    )
    p.add_argument(
        "--no-chunking",
        action="store_true",
        help="do not offer CHUNKING (RFC 3030: BDAT), which Postfix 3.4 and later offer",
    )
    p.add_argument(
        "--no-smtputf8",
        action="store_true",
        help="do not offer SMTPUTF8 (RFC 6531): UTF-8 addresses are then bad syntax",
    )
    p.add_argument(
        "--strict-smtputf8",
        action="store_true",
        help="Postfix's strict_smtputf8: refuse a UTF-8 address whose MAIL did not declare "
        "SMTPUTF8 (553 5.6.7)",
    )
    p.add_argument(
        "--relay-denied",
        choices=("temporary", "permanent"),
        default="temporary",
        help="reply to relay attempts: 454 4.7.1 (temporary, Postfix's default) or 554 5.7.1",
    )
    p.add_argument("--tls-cert", metavar="PEM", help="certificate chain: offer STARTTLS")
    p.add_argument("--tls-key", metavar="PEM", help="private key of --tls-cert")
    p.add_argument(
        "--implicit-tls",
        action="store_true",
        help="port 465 behaviour (smtpd_tls_wrappermode = yes, RFC 8314): TLS from the "
        "first byte; needs --tls-cert",
    )
    p.add_argument(
        "--require-tls",
        action="store_true",
        help="submission-port behaviour (smtpd_tls_security_level = encrypt): before "
        "STARTTLS every command but EHLO/HELO/STARTTLS/NOOP/HELP/QUIT gets 530 5.7.0 Must "
        "issue a STARTTLS command first, and AUTH is offered only over TLS; needs --tls-cert",
    )
    p.add_argument(
        "--max-connections",
        metavar="N",
        type=non_negative_int,
        default=100,
        help="simultaneous sessions; more get 421 (default: 100)",
    )
    p.add_argument(
        "--greylist",
        metavar="DELAY",
        nargs="?",
        type=_delay,
        const=300.0,
        default=None,
        help="greylist new (client, sender, recipient) triplets for DELAY (default 300s)",
    )
    p.add_argument(
        "--dnsbl-listed",
        metavar="IP_OR_CIDR",
        type=_ip_or_cidr,
        action="append",
        default=[],
        help="list this client address or network in the DNSBL local.dnsbl",
    )
    p.add_argument(
        "--rate-limit",
        metavar="KIND=N",
        type=_rate_limit,
        action="append",
        default=[],
        help="per-client limit: connections, messages or recipients per minute, "
        "or concurrent connections (see below)",
    )
    p.add_argument(
        "--end-of-data-delay",
        metavar="DELAY",
        type=_delay,
        default=0.0,
        help="wait DELAY (200ms, 1s...) before answering the end of each message, as a "
        "content filter or a slow disk would: sessions last longer, so a client's mail "
        "backs up and it reuses connections (default: 0)",
    )
    p.add_argument(
        "--seed",
        metavar="N",
        type=int,
        default=0,
        help="seed of the random stream of --inject probabilities (default: 0)",
    )
    p.set_defaults(run=run)
    return p


def _injection(text: str) -> str:
    """Check an --inject value now (usage error); it is built later with the seed."""
    try:
        parse_injection(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


_RATE_KINDS = {
    # --rate-limit KIND -> RateLimit attribute (Postfix: smtpd_client_<attribute>)
    "connections": "connection_rate_limit",
    "messages": "message_rate_limit",
    "recipients": "recipient_rate_limit",
    "concurrent": "connection_count_limit",
}
DNSBL_ZONE = "local.dnsbl"


def _delay(text: str) -> float:
    """A duration such as ``5s`` or ``2min`` (scenario-file units), or seconds."""
    from ..scenario.units import parse_duration  # pydantic: only when the flag is used

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _ip_or_cidr(text: str) -> str:
    try:
        StaticDnsbl([text])
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an IP address or a network such as 192.0.2.0/24, got {text!r}"
        ) from None
    return text


def _rate_limit(text: str) -> tuple[str, int]:
    kind, sep, number = text.partition("=")
    kind = kind.strip().lower()
    if not sep or kind not in _RATE_KINDS or not number.strip().isdigit():
        raise argparse.ArgumentTypeError(
            f"expected KIND=N with KIND one of {', '.join(_RATE_KINDS)}, got {text!r}"
        )
    return kind, int(number)


def build_policies(args: argparse.Namespace, hostname: str = "localhost") -> list[Policy]:
    """The policies in Postfix's order: injections, anvil's limits (smtpd checks
    them before its restrictions), relay control, users, the DNSBL, greylisting
    (``check_policy_service`` last), passwords."""
    rng = random.Random(args.seed)
    policies: list[Policy] = [parse_injection(text, rng) for text in args.inject]
    if args.rate_limit:
        limits = {_RATE_KINDS[kind]: n for kind, n in args.rate_limit}
        policies.append(RateLimit(hostname, **limits))
    policies.append(
        RelayControl(args.domain, mynetworks=(), temporary=args.relay_denied == "temporary")
    )
    if args.user:
        # Only domains that have --user lines check their users; the others take all.
        policies.append(LocalRecipients({domain_of(u) for u in args.user}, args.user))
    if args.dnsbl_listed:
        policies.append(DnsblCheck(DNSBL_ZONE, StaticDnsbl(args.dnsbl_listed)))
    if args.greylist is not None:
        policies.append(Greylist(delay=args.greylist))
    if args.auth_user:
        policies.append(PasswordTable(dict(args.auth_user)))
    return policies


def run(args: argparse.Namespace, parser: CliParser) -> int:
    unknown = sorted({domain_of(u) for u in args.user} - set(args.domain))
    if unknown:
        parser.error(f"--user names a domain that is not a --domain: {', '.join(unknown)}")
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.max_connections < 1:
        parser.error("--max-connections must be at least 1")
    if (args.implicit_tls or args.require_tls) and not args.tls_cert:
        parser.error("--implicit-tls and --require-tls need --tls-cert and --tls-key")
    context: ssl.SSLContext | None = None
    if args.tls_cert:
        try:
            context = server_context(args.tls_cert, args.tls_key)
        except (OSError, ssl.SSLError) as exc:
            parser.error(f"cannot load --tls-cert/--tls-key: {exc}")
    try:
        config = ServerConfig(
            hostname=args.hostname or socket.gethostname() or "localhost",
            pipelining=not args.no_pipelining,
            max_message_size=args.max_size,
            auth_mechanisms=("PLAIN", "LOGIN") if args.auth_user else (),
            tls_required=args.require_tls,
            tls_wrapper=args.implicit_tls,
            dsn=not args.no_dsn,
            chunking=not args.no_chunking,
            smtputf8=not args.no_smtputf8,
            strict_smtputf8=args.strict_smtputf8,
        )
    except ValueError as exc:
        parser.error(str(exc))

    prog = parser.prog
    store: MaildirWriter | None = None
    queue_ids = QueueIds()
    if args.maildir:
        try:
            store = MaildirWriter(args.maildir)
            queue_ids = QueueIds(store.next_queue_number())
        except OSError as exc:
            return fail(prog, f"cannot use --maildir {args.maildir}: {exc.strerror or exc}")
    server = SMTPServer(
        config,
        policies=build_policies(args, config.hostname),
        store=store,
        ssl_context=context,
        max_connections=args.max_connections,
        queue_ids=queue_ids,
        log=_print,
        end_of_data_delay=args.end_of_data_delay,
    )
    return asyncio.run(_serve(prog, server, *args.listen))


async def _serve(prog: str, server: SMTPServer, host: str, port: int) -> int:
    try:
        host, port = await server.start(host, port)
    except OSError as exc:
        return fail(prog, f"cannot listen on {host}:{port}: {exc.strerror or exc}")
    shown = f"[{host}]" if ":" in host else host
    _print(f"{prog}: listening on {shown}:{port}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Not available on every platform; SIGINT then arrives as KeyboardInterrupt.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await server.close()
    _print(f"{prog}: stopped after {server.messages_accepted} message(s)")
    return 0


def _print(line: str) -> None:
    # Flushed at once: scripts and tests read the log while the server runs.
    print(line, flush=True)
