"""``smtpsim demo``: the protocol core at work on real sockets, in one command.

It starts ``smtpsim serve``'s server in this process on a free loopback port, sends
one message with ``smtpsim send``'s client to three recipients, one of them unknown,
and shows the transcript, the server's log, each recipient's outcome and the stored
file. Nothing leaves the machine, and it needs no setup: a first command for the
README.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile

from ..drivers import MaildirWriter, QueueIds, SendError, SMTPServer, send_message
from ..mail import LocalRecipients, RelayControl
from ..protocol import ServerConfig
from .common import CliParser, Subparsers, fail
from .send import build_message

NAME = "demo"

_DOMAIN = "example.org"
_USERS = ("alice@example.org", "bob@example.org")
_SENDER = "carol@example.net"
_RECIPIENTS = ("alice@example.org", "bob@example.org", "nobody@example.org")

_DESCRIPTION = f"""\
Show smtpsim's SMTP core on real sockets: start a server on 127.0.0.1 (a free port)
that accepts mail for {", ".join(_USERS)}, send it one message from
{_SENDER} to {", ".join(_RECIPIENTS)} with the client
core, and print the SMTP transcript, the server's log, the outcome per recipient
(250 for the two known users, 550 5.1.1 for the unknown one) and the file the
message was stored in. The maildir is a new temporary directory unless --maildir
is given; it is kept so that the message can be looked at."""

_EPILOG = """\
Examples:
  smtpsim demo
  smtpsim demo --maildir ./demo-mail
"""


def add_parser(subparsers: Subparsers) -> CliParser:
    p: CliParser = subparsers.add_parser(
        NAME,
        help="send a message to a local smtpsim server and show what happens",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--maildir", metavar="DIR", help="store the message in DIR")
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace, parser: CliParser) -> int:
    try:
        directory = args.maildir or tempfile.mkdtemp(prefix="smtpsim-demo-")
        store = MaildirWriter(directory)
    except OSError as exc:
        return fail(parser.prog, f"cannot use a maildir: {exc}")
    try:
        return asyncio.run(_demo(store))
    except (OSError, SendError) as exc:
        return fail(parser.prog, str(exc))


async def _demo(store: MaildirWriter) -> int:
    server = SMTPServer(
        ServerConfig(hostname="mx.example.org"),
        policies=[
            RelayControl([_DOMAIN], mynetworks=()),
            LocalRecipients([_DOMAIN], _USERS),
        ],
        store=store,
        queue_ids=QueueIds(store.next_queue_number()),
        log=lambda line: print(f"   [server log] {line}", flush=True),
    )
    async with server:
        host, port = server.address
        print(f"Started an SMTP server on {host}:{port} for {_DOMAIN}")
        print(f"  (users {', '.join(_USERS)}; maildir {store.directory})")
        print(f"Sending one message from {_SENDER} to {', '.join(_RECIPIENTS)}:\n")
        message = build_message(
            _SENDER, list(_RECIPIENTS), "Hello from smtpsim demo", None, "client.example.net"
        )
        result = await send_message(
            host,
            port,
            helo="client.example.net",
            sender=_SENDER,
            recipients=_RECIPIENTS,
            message=message,
            transcript=lambda line: print(f"   {line}", flush=True),
        )
    print("\nOutcome per recipient:")
    for rcpt, reply in result.replies:
        print(f"  {rcpt}: {reply}")
    if not result.delivered:
        print("\nThe message was not accepted.")
        return 1
    # "250 2.0.0 Ok: queued as QUEUEID" names the file.
    queue_id = result.reply_for(result.delivered[0]).text.rsplit(" ", 1)[-1]
    path = store.path_of(queue_id)
    if not path.is_file():
        print(f"\nThe message was not stored as {path}.")
        return 1
    print(f"\nStored once, for the accepted recipients only: {path}")
    for line in path.read_bytes().split(b"\r\n")[:2]:
        print(f"  {line.decode('utf-8', 'replace')}")
    return 0
