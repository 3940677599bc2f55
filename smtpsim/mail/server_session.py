"""The server's side of a session, with its policies: what to answer to each event.

``ServerSession`` sits between a ``ServerConnection`` (which parses and enforces
the protocol) and whatever carries the bytes: the asyncio server of ``smtpsim
serve`` or a simulated host. For each event the connection produces it asks the
policies of the matching phase and falls back to the protocol's standard reply;
when a message is accepted it hands it to ``deliver``, which stores or queues it
and returns the queue id that the ``250 ... queued as`` reply names.

This runs once per SMTP command in the simulator, so it dispatches on the exact
event type through one table (``_ON_EVENT``: event type -> handler) rather than
through a chain of ``isinstance`` checks; an event without a handler (NOOP, VRFY,
HELP, QUIT, STARTTLS, a server's idle timeout) gets the connection's standard reply.

What the driver owes the session:

- after each ``greeting`` and ``answer``, read the extra server time the policies
  spent on that command (a DNSBL or SPF lookup) with ``take_delay()``, which also
  sets it back to 0; the simulator adds it to the time the reply leaves the
  server, a real-socket driver has already spent it and just discards it;
- when the connection ends, for whatever reason (QUIT, 421, timeout, the client
  went away, the server shutting down), call ``close(now)`` once: policies that
  count open connections per client (``RateLimit``) learn of it there. Calling it
  again does nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from ..protocol import (
    Auth,
    AuthResponse,
    Bdat,
    CommandError,
    Credentials,
    Data,
    Event,
    Hello,
    Mail,
    Message,
    Rcpt,
    Reply,
    Rset,
    replies,
    states,
)
from .envelope import Client, Envelope
from .policy import AUTH, CONNECT, DATA, END_OF_DATA, HELO, MAIL, RCPT, Context, Policy, PolicySet

__all__ = ["Deliver", "ServerLink", "ServerSession"]

Deliver = Callable[[Envelope, Message, Client], str]
"""Takes an accepted message and returns its queue id."""


class ServerLink(Protocol):
    """What a ``ServerSession`` asks of its connection: a ``ServerConnection``, or
    the session memo's stand-in for one (``mta/session_memo.py``, ``_Standing``),
    which answers with what the machines' connection said when the shape was first
    run. A Protocol, not the class: the compiled build checks an attribute typed by a
    native class at every assignment, and the stand-in is not one."""

    @property
    def tls_active(self) -> bool:
        """The client is on TLS (after STARTTLS, or implicit TLS from the start)."""
        ...

    @property
    def credentials(self) -> Credentials | None:
        """What a finished SASL exchange presented, if one just ended."""
        ...

    def standard_reply(self) -> Reply:
        """The protocol's own reply to the event just received."""
        ...

    def tls_established(self) -> None:
        """The TLS handshake after STARTTLS is done: the connection starts over."""
        ...

    @property
    def state(self) -> str:
        """The connection's state (``protocol.states``): BDAT asks if a transfer of
        chunks is under way."""
        ...

    def chunked_message(self) -> Message:
        """The message the transaction's BDAT chunks carried (RFC 3030)."""
        ...


class ServerSession:
    """Answers the events of one server connection with its policies."""

    __slots__ = ("closed", "conn", "ctx", "deliver", "policies")

    def __init__(
        self,
        conn: ServerLink,
        client: Client,
        policies: PolicySet | Sequence[Policy] = (),
        deliver: Deliver | None = None,
    ) -> None:
        self.conn = conn
        self.ctx = Context(client)
        if conn.tls_active:  # implicit TLS (port 465): policies see the client on TLS
            self.ctx.tls = True
        self.deliver = deliver
        self.policies = policies if isinstance(policies, PolicySet) else PolicySet(policies)
        self.closed = False

    @property
    def client(self) -> Client:
        return self.ctx.client

    def greeting(self, now: float = 0.0) -> Reply:
        """The first reply: 220, unless a ``connect`` policy answers (554, 421)."""
        self.ctx.now = now
        return self.policies.ask(CONNECT, self.ctx) or self.conn.standard_reply()

    def answer(self, event: Event, now: float = 0.0) -> Reply:
        """The reply to ``event`` (which the caller then sends through the connection)."""
        self.ctx.now = now
        handler = _ON_EVENT.get(type(event))
        reply = None if handler is None else handler(self, event)
        return reply or self.conn.standard_reply()

    # The handlers: what each event tells the policies' context, and the policies'
    # reply to it (``None``: the protocol's standard reply).

    def _on_rcpt(self, event: Rcpt) -> Reply | None:
        ctx = self.ctx
        ctx.recipient = event.recipient
        policies = self.policies
        reply = policies.ask(RCPT, ctx) if RCPT in policies.active else None
        if reply is None:
            ctx.recipients.append(event.recipient)
        return reply

    def _on_mail(self, event: Mail) -> Reply | None:
        ctx = self.ctx
        ctx.sender, ctx.size = event.sender, event.size or 0
        ctx.recipients = []
        policies = self.policies
        return policies.ask(MAIL, ctx) if MAIL in policies.active else None

    def _on_message(self, event: Message) -> Reply | None:
        ctx = self.ctx
        ctx.size = event.size
        policies = self.policies
        reply = policies.ask(END_OF_DATA, ctx) if END_OF_DATA in policies.active else None
        return reply if reply is not None else self._accept(event)

    def _on_bdat(self, event: Bdat) -> Reply | None:
        """A BDAT chunk (RFC 3030). The first chunk of a transaction is asked of the
        ``data`` policies, as DATA would be (Postfix smtpd.c, bdat_cmd: "treating it as
        a kind of DATA command for the purpose of policy evaluation"); the last one is
        the end of data, with the message all the chunks carried."""
        conn = self.conn
        if conn.state != states.CHUNKING:
            policies = self.policies
            reply = policies.ask(DATA, self.ctx) if DATA in policies.active else None
            if reply is not None:
                return reply
        if not event.last:
            return None
        message = conn.chunked_message()
        ctx = self.ctx
        ctx.size = message.size
        policies = self.policies
        reply = policies.ask(END_OF_DATA, ctx) if END_OF_DATA in policies.active else None
        return reply if reply is not None else self._accept(message, chunked=True)

    def _on_data(self, event: Data) -> Reply | None:
        policies = self.policies
        return policies.ask(DATA, self.ctx) if DATA in policies.active else None

    def _on_hello(self, event: Hello) -> Reply | None:
        ctx = self.ctx
        policies = self.policies
        reply = policies.ask(HELO, ctx) if HELO in policies.active else None
        if reply is None:
            ctx.helo = event.domain
            ctx.sender, ctx.recipients = None, []  # EHLO ends a transaction
        return reply

    def _on_rset(self, event: Rset) -> Reply | None:
        ctx = self.ctx
        ctx.sender, ctx.recipients = None, []
        return None

    def _on_error(self, event: CommandError) -> Reply | None:
        return event.reply  # the protocol's own reply: no policy is asked

    def _on_auth(self, event: Auth | AuthResponse) -> Reply | None:
        credentials = self.conn.credentials
        if credentials is None:
            return None  # the SASL exchange goes on: the standard reply is the challenge
        ctx = self.ctx
        ctx.credentials = credentials
        reply = self.policies.ask(AUTH, ctx)
        ctx.credentials = None
        if reply is not None and reply.code == 235:
            ctx.authenticated = credentials.username
        return reply

    def take_delay(self) -> float:
        """The server time the policies spent on the last command (see the module
        docstring), and set it back to 0."""
        ctx = self.ctx
        delay, ctx.delay = ctx.delay, 0.0
        return delay

    def close(self, now: float = 0.0) -> None:
        """The connection is over: tell the policies (``Policy.ended``), once."""
        if self.closed:
            return
        self.closed = True
        ctx = self.ctx
        ctx.now = now
        self.policies.ended(ctx)

    def tls_established(self) -> None:
        """After STARTTLS: the connection starts over, and the client is now on TLS."""
        self.conn.tls_established()
        ctx = self.ctx
        ctx.tls, ctx.helo, ctx.authenticated = True, None, None

    def _accept(self, message: Message, *, chunked: bool = False) -> Reply:
        ctx = self.ctx
        envelope = Envelope(ctx.sender or "", tuple(ctx.recipients), message.size)
        ctx.recipients = []
        if self.deliver is None:
            return self.conn.standard_reply()
        try:
            queue_id = self.deliver(envelope, message, ctx.client)
        except OSError:  # the store failed: the client keeps the message (RFC 5321 4.2.5)
            return replies.QUEUE_WRITE_ERROR
        if chunked:  # Postfix words it with the size after BDAT LAST (smtpd.c)
            return replies.chunks_queued(message.size, queue_id)
        return replies.queued(queue_id)


# Event type -> handler. ``Any``: each handler takes the event type it is filed under,
# which a dict's type cannot say; tests/mail/test_server_session_dispatch.py checks it.
_ON_EVENT: dict[type, Callable[[ServerSession, Any], Reply | None]] = {
    Rcpt: ServerSession._on_rcpt,
    Mail: ServerSession._on_mail,
    Message: ServerSession._on_message,
    Data: ServerSession._on_data,
    Bdat: ServerSession._on_bdat,
    Hello: ServerSession._on_hello,
    Rset: ServerSession._on_rset,
    CommandError: ServerSession._on_error,
    Auth: ServerSession._on_auth,
    AuthResponse: ServerSession._on_auth,
}
