"""Drive policies through a real ServerConnection + ServerSession, with a clock."""

from __future__ import annotations

from collections.abc import Sequence

from smtpsim.mail import Client, Context, Envelope, Policy, PolicySet, ServerSession
from smtpsim.protocol import (
    Data,
    Event,
    Hello,
    Mail,
    Message,
    Rcpt,
    Reply,
    ServerConfig,
    ServerConnection,
)
from smtpsim.protocol.syntax import format_command

HOSTNAME = "mx.example.org"


class Session:
    """One client session: ``say`` feeds a command as bytes at time ``now`` and
    returns the reply; ``delays`` collects ``take_delay()`` after each reply."""

    def __init__(
        self,
        policies: PolicySet | Sequence[Policy],
        *,
        ip: str = "192.0.2.7",
        now: float = 0.0,
        hostname: str | None = None,
        stored: list[Envelope] | None = None,
    ) -> None:
        self.conn = ServerConnection(ServerConfig(hostname=HOSTNAME))
        self.stored = stored if stored is not None else []

        def deliver(envelope: Envelope, message: Message, client: Client) -> str:
            self.stored.append(envelope)
            return f"Q{len(self.stored)}"

        self.session = ServerSession(self.conn, Client(ip, hostname), policies, deliver)
        self.delays: list[float] = []
        self.greeting = self.session.greeting(now)
        self.delays.append(self.session.take_delay())
        self.conn.answer(self.greeting, now)

    @property
    def ctx(self) -> Context:
        return self.session.ctx

    def say(self, command: Event, now: float = 0.0) -> Reply:
        conn = self.conn
        conn.receive_data(format_command(command))  # type: ignore[arg-type]
        event = conn.next_event(now)
        reply = self.session.answer(event, now)  # type: ignore[arg-type]
        self.delays.append(self.session.take_delay())
        conn.answer(reply, now)
        return reply

    def transaction(
        self,
        sender: str,
        recipients: Sequence[str],
        now: float = 0.0,
        helo: str | None = "client.example.net",
    ) -> list[Reply]:
        """EHLO (if ``helo``), MAIL, each RCPT, and DATA + message when a recipient
        was accepted: the replies to MAIL, each RCPT and the end of data."""
        if helo is not None:
            self.say(Hello(helo), now)
        replies = [self.say(Mail(sender), now)]
        accepted = False
        for rcpt in recipients:
            reply = self.say(Rcpt(rcpt), now)
            replies.append(reply)
            accepted = accepted or reply.code == 250
        if accepted and replies[0].code == 250:
            assert self.say(Data(), now).code == 354
            replies.append(self.say(Message.of(b"Subject: t\r\n\r\nhi\r\n"), now))
        return replies

    def close(self, now: float = 0.0) -> None:
        self.session.close(now)


def rcpt_once(
    policies: PolicySet | Sequence[Policy],
    rcpt: str,
    *,
    sender: str = "a@c.example",
    ip: str = "192.0.2.7",
    now: float = 0.0,
    authenticated: bool = False,
) -> Reply:
    """A fresh session, one MAIL and one RCPT at ``now``: the RCPT's reply."""
    s = Session(policies, ip=ip, now=now)
    s.say(Hello("client.example.net"), now)
    if authenticated:
        s.session.ctx.authenticated = "user"
    s.say(Mail(sender), now)
    reply = s.say(Rcpt(rcpt), now)
    s.close(now)
    return reply
