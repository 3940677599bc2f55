"""One mail transaction from the client's side: what to send next, and what came of it.

``ClientSession`` decides the commands that deliver one message over one connection
the way an MTA's SMTP client does: EHLO (HELO if EHLO is refused, RFC 5321 section
4.1.4), STARTTLS when wanted and offered (RFC 3207), AUTH when credentials are given
(RFC 4954), then MAIL, every RCPT and DATA as one pipelined group when the server
offers PIPELINING (RFC 2920), or one command at a time when it does not, the content
after 354, and QUIT. It produces a final reply for every recipient:

- a refused RCPT: that reply, for that recipient only;
- a refused greeting, HELO, STARTTLS (when required), AUTH, MAIL or DATA: that reply,
  for every recipient not yet refused;
- the reply to the end of data, for every accepted recipient;
- a lost connection or a timeout: a made-up ``4.4.2`` reply that says where, like
  Postfix's "lost connection with ... while sending RCPT TO" (RFC 5321 section 3.8:
  act as if a 451 was received);
- a server that broke the protocol (a reply line that is not a reply, or a reply RFC
  5321 section 4.3.2 does not allow there: ``states.POSSIBLE``): the connection raises
  ``RemoteProtocolError``, the caller hands it to ``protocol_error``, and every
  recipient not yet settled gets ``replies.protocol_error``'s ``451 4.5.0 Protocol
  error: host ... said: ...``, a deferral.

A recipient is delivered only when the reply to the end of data, after a 354 to DATA,
is a 2xx (RFC 5321 section 4.2.5); no 3xx is ever a final reply.

It never touches a connection's bytes: the caller sends what ``next_commands()``
returns through its ``ClientConnection`` and feeds back the events it reads.

Connection caching (Postfix's ``scache``, Postfix CONNECTION_CACHE_README): with ``keep_open`` a
session that ends its transaction normally stops without QUIT and says so in
``kept_open``; a later session given ``reuse=True`` on the same connection starts
with RSET to check that the connection still works, then sends the envelope.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from typing import Any, Final

from . import replies
from .client import ClientConnection
from .dsn import MailDsn, RcptDsn, mail_params, rcpt_params
from .errors import RemoteProtocolError
from .events import (
    Auth,
    AuthResponse,
    Bdat,
    Command,
    ConnectionClosed,
    Data,
    Event,
    Hello,
    Mail,
    Message,
    Quit,
    Rcpt,
    ReplyTimedOut,
    Response,
    Rset,
    StartTLS,
)
from .replies import Reply
from .states import CLOSED, MAIL, RCPT, READY
from .syntax import normalize_newlines

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "ClientSession",
    "SessionResult",
    "chunks",
    "needs_smtputf8",
    "smtputf8_not_offered",
]

# Where a session can be, in the words Postfix uses for "lost connection ... while X".
_WHILE = {
    "greeting": "receiving the initial server greeting",
    "helo": "performing the EHLO handshake",
    "starttls": "performing the STARTTLS handshake",
    "auth": "performing SASL authentication",
    "mail": "sending MAIL FROM",
    "rcpt": "sending RCPT TO",
    "data": "sending DATA command",
    "content": "sending end of data -- message may be sent more than once",
}
# Commands without arguments are values like any other: one instance serves all.
_DATA = Data()
_QUIT = Quit()
_RSET = Rset()
# A connection is worth keeping once a transaction has run its course on it.
_REUSABLE_AFTER = frozenset({"rcpt", "data", "content"})
_REUSABLE_STATES = frozenset({READY, MAIL, RCPT})
_TLS_NOT_OFFERED = Reply(451, "4.7.4", "TLS is required, but was not offered by the server")
_AUTH_NOT_OFFERED = Reply(
    530, "5.7.0", "Authentication is required, but the server does not offer AUTH"
)
# smtpsim's choice (Postfix's client sends no BDAT): most messages go as one BDAT LAST.
DEFAULT_CHUNK_SIZE = 1_048_576


def smtputf8_not_offered(server: str) -> Reply:
    """The bounce of a message that needs SMTPUTF8 by a server that does not offer it:
    Postfix 3.7's words and status (smtp_proto.c, smtp_helo: ``smtp_mesg_fail`` with
    5.6.7, checked right after EHLO, before STARTTLS and AUTH). The code 550 is the
    class the status needs: Postfix makes up no SMTP code here."""
    return Reply(550, "5.6.7", f"SMTPUTF8 is required, but was not offered by host {server}")


def needs_smtputf8(sender: str, recipients: list[str] | tuple[str, ...]) -> bool:
    """Whether a message with these addresses needs SMTPUTF8 (RFC 6531 section 3.2: a
    UTF-8 address can only be sent under it). Postfix flags such mail when its client
    declared SMTPUTF8 and it holds UTF-8 (SMTPUTF8_FLAG_REQUESTED, smtputf8.h); here the
    addresses decide."""
    return not sender.isascii() or not all(r.isascii() for r in recipients)


def chunks(message: Message, chunk_size: int) -> list[Bdat]:
    """``message`` as BDAT chunks of ``chunk_size`` octets, the last one shorter and
    marked LAST (RFC 3030 section 2); an empty message is one ``BDAT 0 LAST``. Sizes
    only when the message has no content (the fast path)."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    size, content = message.size, message.content
    out: list[Bdat] = []
    start = 0
    while True:
        end = min(start + chunk_size, size)
        last = end >= size
        part = None if content is None else content[start:end]
        out.append(Bdat(end - start, last, part))
        if last:
            return out
        start = end


_NO_RECIPIENTS: frozenset[str] = frozenset()


class SessionResult:
    """The final reply for each recipient, in the order given, and where the session
    ended (one of ``greeting helo starttls auth mail rcpt data content``).

    ``at_rcpt`` names the recipients whose final reply was the reply to their own RCPT
    command: for them the phase is ``rcpt`` whatever came after (with PIPELINING the
    session is awaiting DATA by the time it reads that reply). Postfix reports them
    "in reply to RCPT TO command" (smtp_proto.c, ``smtp_rcpt_fail``); ``phase_of``
    gives each recipient's phase.

    ``error`` is set when the server misbehaved (broke the protocol, went silent, or
    went away) before every recipient had its reply: the reply that settled the rest,
    as one line. A session that ran its course has ``None``.

    A value written out rather than a frozen dataclass (read-only attributes,
    equality and hash by value): one is made per simulated session, and mypyc
    compiles this ``__init__`` into direct stores, where a frozen dataclass's runs
    interpreted and sets each field through ``object.__setattr__``.
    """

    __slots__ = ("at_rcpt", "error", "phase", "replies")

    def __init__(
        self,
        replies: tuple[tuple[str, Reply], ...],
        phase: str,
        error: str | None = None,
        at_rcpt: frozenset[str] = _NO_RECIPIENTS,
    ) -> None:
        self.replies: Final = replies
        self.phase: Final = phase
        self.error: Final = error
        self.at_rcpt: Final = at_rcpt

    def _key(self) -> tuple[tuple[tuple[str, Reply], ...], str, str | None, frozenset[str]]:
        return (self.replies, self.phase, self.error, self.at_rcpt)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SessionResult):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"SessionResult(replies={self.replies!r}, phase={self.phase!r}, "
            f"error={self.error!r}, at_rcpt={self.at_rcpt!r})"
        )

    def phase_of(self, recipient: str) -> str:
        """Where ``recipient``'s fate was decided: ``rcpt`` for a refused RCPT, else
        where the session ended."""
        return "rcpt" if recipient in self.at_rcpt else self.phase

    def reply_for(self, recipient: str) -> Reply:
        for rcpt, reply in self.replies:
            if rcpt == recipient:
                return reply
        raise KeyError(recipient)

    @property
    def delivered(self) -> tuple[str, ...]:
        """Recipients the server took responsibility for (2xx after the end of data)."""
        return tuple(r for r, reply in self.replies if reply.code // 100 == 2)


class ClientSession:
    """Deliver one message to ``recipients`` over ``conn``.

    ``starttls`` is ``"no"``, ``"may"`` (use it if offered) or ``"require"``;
    ``tls_failure`` is the reply that ends the session where TLS falls short of the
    client's policy, decided by the caller from the certificate and the policy
    (``smtpsim.mail.tls.plan``): given for a server that does not offer STARTTLS
    under ``require``, or after the handshake (a certificate that fails
    verification: Postfix sends QUIT over the TLS session, ``smtp_proto.c``);
    ``auth`` is ``(username, password)`` or ``None``. With ``wait_for_quit=False``
    the session is done once QUIT is sent, as with Postfix's
    ``smtp_skip_quit_response = yes``; with ``pipelining=False`` the client never
    pipelines, even when the server offers it.

    ``chunking`` sends the content with BDAT (RFC 3030) in chunks of ``chunk_size``
    octets when the server offers CHUNKING, pipelined after the RCPTs when it also
    offers PIPELINING (one round trip fewer than DATA); Postfix's client never does
    (its smtp_proto.c has no BDAT), so the default is off. ``smtputf8`` says that the
    message needs SMTPUTF8 (RFC 6531: a UTF-8 address): MAIL carries the parameter,
    and a server that does not offer it gets no MAIL at all, the message bounces with
    ``smtputf8_not_offered(server)`` (Postfix 3.7); ``server`` names the server as
    Postfix does, ``mx.example[192.0.2.1]``.
    """

    __slots__ = (
        "_accepted",
        "_at_rcpt",
        "_auth",
        "_chunk_index",
        "_chunk_list",
        "_chunk_size",
        "_chunking",
        "_dsn",
        "_error",
        "_final",
        "_keep_open",
        "_mechanisms",
        "_outbox",
        "_phase",
        "_rcpt_dsn",
        "_rcpt_index",
        "_smtputf8",
        "_starttls",
        "_tls_failure",
        "_use_pipelining",
        "_wait_for_quit",
        "conn",
        "done",
        "helo",
        "kept_open",
        "message",
        "recipients",
        "sender",
        "server",
        "wants_tls",
    )

    def __init__(
        self,
        conn: ClientConnection,
        *,
        helo: str,
        sender: str,
        recipients: tuple[str, ...] | list[str],
        message: Message,
        starttls: str = "no",
        auth: tuple[str, str] | None = None,
        wait_for_quit: bool = True,
        pipelining: bool = True,
        keep_open: bool = False,
        reuse: bool = False,
        mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN"),
        tls_failure: Reply | None = None,
        dsn: MailDsn | None = None,
        rcpt_dsn: Mapping[str, RcptDsn] | None = None,
        chunking: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        smtputf8: bool = False,
        server: str = "unknown[unknown]",
    ) -> None:
        if starttls not in ("no", "may", "require"):
            raise ValueError(f"starttls must be 'no', 'may' or 'require', got {starttls!r}")
        if not recipients:
            raise ValueError("a session needs at least one recipient")
        self.conn = conn
        self.helo = helo
        self.sender = sender
        self.recipients = tuple(recipients)
        if message.content is not None:
            # What is sent is the content with CRLF line ends; SIZE counts those octets
            # (RFC 1870 section 3), and both paths must see the same size.
            message = Message.of(normalize_newlines(message.content))
        self.message = message
        self._starttls = starttls
        self._tls_failure = tls_failure
        self._auth = auth
        self._mechanisms = mechanisms
        # DSN parameters (RFC 3461): sent only to a server that offers DSN (section
        # 4.1); to one that does not, the caller reports "relayed" (section 4.2/4.3)
        self._dsn = dsn
        self._rcpt_dsn = rcpt_dsn
        self._wait_for_quit = wait_for_quit
        self._use_pipelining = pipelining
        self._keep_open = keep_open
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self._chunking = chunking
        self._chunk_size = chunk_size
        self._chunk_list: list[Command] | None = None
        self._chunk_index = 0
        self._smtputf8 = smtputf8
        self.server = server  # the driver may name it better once connected
        self.kept_open = False
        self._final: dict[str, Reply] = {}
        self._accepted: list[str] = []
        self._at_rcpt: set[str] = set()  # refused in reply to their RCPT
        self._rcpt_index = 0
        self._outbox: list[Command] = []
        self._phase = "greeting"
        self._error: str | None = None
        self.done = False
        self.wants_tls = False
        if reuse:
            if conn.state != READY and conn.state != MAIL and conn.state != RCPT:
                raise ValueError(f"cannot reuse a connection in state {conn.state}")
            self._phase = "mail"
            self._outbox.append(_RSET)

    # --- driving ---------------------------------------------------------------------------

    def next_commands(self) -> list[Command]:
        """The commands to send now: one pipelined group, possibly empty."""
        out, self._outbox = self._outbox, []
        if out and isinstance(out[-1], Quit) and not self._wait_for_quit:
            self.done = True
        return out

    def handle(self, event: Event) -> None:
        """Take what the connection produced: a ``Response``, ``ConnectionClosed`` or
        ``ReplyTimedOut``."""
        if self.done:
            return
        if not isinstance(event, Response):
            kind = type(event)
            if kind is ConnectionClosed or kind is ReplyTimedOut:
                what = "conversation timed out" if kind is ReplyTimedOut else "lost connection"
                self._give_up(Reply(451, "4.4.2", f"{what} while {_WHILE[self._phase]}"))
                return
            raise TypeError(f"unexpected event {event!r}")
        command, reply = event.command, event.reply
        if reply.code == 421:  # the server is closing the channel (RFC 5321 section 3.8)
            self._fail(reply)
            self.done = True
            return
        _ON_REPLY[type(command)](self, command, reply)

    def protocol_error(self, error: RemoteProtocolError, server: str) -> None:
        """The connection raised ``error``: the server (``server``, named as in
        ``mx.example[192.0.2.1]``) broke the protocol. Nothing it said from there on is
        believed: every recipient not yet settled is deferred with
        ``replies.protocol_error``, and the session is over. The connection is in
        ``ERROR``: the caller closes it without QUIT (Postfix does not reuse a session
        after a protocol error either, smtp_chat.c)."""
        if self.done:
            return
        self._give_up(replies.protocol_error(server, error.verb, error.reply, str(error)))

    def tls_established(self) -> None:
        """The driver finished the TLS handshake that STARTTLS asked for."""
        self.wants_tls = False
        self.conn.tls_established()
        if self._tls_failure is not None:  # the certificate failed the client's policy
            self._fail(self._tls_failure)
            self._quit()
            return
        self._phase = "helo"
        self._outbox.append(Hello(self.helo))

    def result(self) -> SessionResult:
        """The final replies; only meaningful once ``done``."""
        return SessionResult(
            tuple((r, self._final[r]) for r in self.recipients if r in self._final),
            self._phase,
            self._error,
            frozenset(self._at_rcpt),
        )

    # --- steps -----------------------------------------------------------------------------

    def _on_greeting(self, command: None, reply: Reply) -> None:
        if reply.code >= 400:
            self._fail(reply)
            self._quit()  # after a 554 greeting the server waits for QUIT (section 3.1)
            return
        self._phase = "helo"
        self._outbox.append(Hello(self.helo))

    def _on_hello(self, command: Hello, reply: Reply) -> None:
        if reply.code >= 400:
            if command.extended and reply.code >= 500:
                self._outbox.append(Hello(self.helo, extended=False))
            else:
                self._fail(reply)
                self._quit()
            return
        self._after_hello()

    def _after_hello(self) -> None:
        conn = self.conn
        if self._smtputf8 and not conn.offers("SMTPUTF8"):
            self._fail(smtputf8_not_offered(self.server))
            self._quit()
            return
        if self._starttls != "no" and not conn.tls_active:
            if conn.offers("STARTTLS"):
                self._phase = "starttls"
                self._outbox.append(StartTLS())
                return
            if self._starttls == "require":
                self._fail(self._tls_failure or _TLS_NOT_OFFERED)
                self._quit()
                return
        if self._auth is not None:
            mechanisms = conn.auth_mechanisms
            self._phase = "auth"
            username, password = self._auth
            # The first of the client's mechanisms, in its order, that the server offers.
            chosen = next((m for m in self._mechanisms if m in mechanisms), None)
            if chosen == "PLAIN":
                token = _b64(f"\0{username}\0{password}")
                self._outbox.append(Auth("PLAIN", token))
            elif chosen == "LOGIN":
                self._outbox.append(Auth("LOGIN"))
            else:
                self._fail(_AUTH_NOT_OFFERED)
                self._quit()
            return
        self._start_envelope()

    def _on_starttls(self, command: Command, reply: Reply) -> None:
        if reply.code < 400:
            self.wants_tls = True
            return
        if self._starttls == "require":
            self._fail(reply)
            self._quit()
            return
        self._starttls = "no"  # "may": go on in the clear
        self._after_hello()

    def _on_auth(self, command: Command, reply: Reply) -> None:
        if reply.code == 334:
            assert self._auth is not None
            username, password = self._auth
            challenge = _unb64(reply.text).lower()
            if challenge.startswith("user"):
                self._outbox.append(AuthResponse(_b64(username)))
            elif challenge.startswith("pass"):
                self._outbox.append(AuthResponse(_b64(password)))
            else:  # an empty challenge to PLAIN without an initial response
                self._outbox.append(AuthResponse(_b64(f"\0{username}\0{password}")))
            return
        if reply.code >= 400:
            self._fail(reply)
            self._quit()
            return
        self._start_envelope()

    def _start_envelope(self) -> None:
        conn = self.conn
        params: list[tuple[str, str | None]] = []
        if conn.offers("SIZE"):
            params.append(("SIZE", str(self.message.size)))
        content = self.message.content
        if content is not None and not content.isascii() and conn.offers("8BITMIME"):
            params.append(("BODY", "8BITMIME"))
        if self._dsn is not None and conn.offers("DSN"):
            params += mail_params(self._dsn)
        if self._smtputf8:  # offered: _after_hello checked
            params.append(("SMTPUTF8", None))
        self._phase = "mail"
        mail = Mail(self.sender, tuple(params))
        if self._pipelining():
            # With CHUNKING the chunks follow in the same group (RFC 3030 section 4.2).
            end: list[Command] = self._chunks() if self._bdat() else [_DATA]
            self._outbox += [mail, *(self._rcpt(r) for r in self.recipients), *end]
        else:
            self._outbox.append(mail)

    def _rcpt(self, recipient: str) -> Rcpt:
        """The RCPT command for ``recipient``, with its NOTIFY and ORCPT when asked for
        and the server offers DSN."""
        wanted = self._rcpt_dsn
        if wanted is None or recipient not in wanted or not self.conn.offers("DSN"):
            return Rcpt(recipient)
        return Rcpt(recipient, rcpt_params(wanted[recipient]))

    def _bdat(self) -> bool:
        return self._chunking and self.conn.offers("CHUNKING")

    def _chunks(self) -> list[Command]:
        if self._chunk_list is None:
            self._chunk_list = list(chunks(self.message, self._chunk_size))
        return self._chunk_list

    def _pipelining(self) -> bool:
        return self._use_pipelining and self.conn.offers("PIPELINING")

    def _on_mail(self, command: Command, reply: Reply) -> None:
        if reply.code >= 400:
            self._fail(reply)  # with PIPELINING the RCPT and DATA replies still come
            if not self._pipelining():
                self._quit()
            return
        self._phase = "rcpt"
        if not self._pipelining():
            self._outbox.append(self._rcpt(self.recipients[0]))

    def _on_rcpt(self, command: Rcpt, reply: Reply) -> None:
        rcpt = command.recipient
        if rcpt in self._final:
            return  # already settled (MAIL was refused)
        if reply.code < 400:
            self._accepted.append(rcpt)
        else:
            self._final[rcpt] = reply
            self._at_rcpt.add(rcpt)
        self._rcpt_index += 1
        if self._pipelining():
            if self._rcpt_index == len(self.recipients):
                # the group's DATA, or its chunks, are what is awaited now
                self._phase = "content" if self._bdat() else "data"
            return
        if self._rcpt_index < len(self.recipients):
            self._outbox.append(self._rcpt(self.recipients[self._rcpt_index]))
        elif not self._accepted:
            self._quit()
        elif self._bdat():  # one chunk at a time, each after the previous one's reply
            self._phase = "content"
            self._outbox.append(self._chunks()[0])
        else:
            self._phase = "data"
            self._outbox.append(_DATA)

    def _on_data(self, command: Command, reply: Reply) -> None:
        if reply.code == 354:
            self._phase = "content"
            # RFC 2920 section 3.1: after a 354 with no valid recipient, the client
            # still ends the data; an empty message does that.
            self._outbox.append(self.message if self._accepted else Message(0, b""))
            return
        self._settle(reply)
        self._quit()

    def _on_rset(self, command: Command, reply: Reply) -> None:
        """The probe of a reused connection (Postfix: ``smtp_rset_timeout``)."""
        if reply.code >= 400:
            self._fail(reply)
            self._quit()
            return
        self._start_envelope()

    def _on_message(self, command: Command, reply: Reply) -> None:
        self._settle(reply)
        self._quit()

    def _on_bdat(self, command: Bdat, reply: Reply) -> None:
        """A chunk's reply (RFC 3030 section 2): a refusal fails the transaction for
        every accepted recipient and no more chunks are sent (those already pipelined
        the server discards); the reply to BDAT LAST is the message's."""
        if reply.code >= 400 or command.last:
            self._settle(reply)
            if command.last or not self._pipelining():
                self._quit()
            return
        if not self._pipelining():  # the next chunk, now that this one is in
            self._chunk_index += 1
            self._outbox.append(self._chunks()[self._chunk_index])

    def _on_quit(self, command: Command, reply: Reply) -> None:
        self.done = True

    # --- bookkeeping -----------------------------------------------------------------------

    def _settle(self, reply: Reply) -> None:
        """Give ``reply`` to every accepted recipient still waiting for its fate."""
        for rcpt in self._accepted:
            self._final.setdefault(rcpt, reply)

    def _give_up(self, reply: Reply) -> None:
        """The server misbehaved: ``reply`` settles the rest, and the session is over."""
        final = self._final
        if any(r not in final for r in self.recipients):
            self._error = str(reply)
        self._fail(reply)
        self.done = True

    def _fail(self, reply: Reply) -> None:
        """Give ``reply`` to every recipient that has no final reply yet."""
        for rcpt in self.recipients:
            self._final.setdefault(rcpt, reply)

    def _quit(self) -> None:
        state = self.conn.state
        if self._keep_open and self._phase in _REUSABLE_AFTER and state in _REUSABLE_STATES:
            self.kept_open = self.done = True  # no QUIT: the caller caches the connection
        elif state != CLOSED:
            self._outbox.append(_QUIT)
        else:
            self.done = True


# What to do with a reply, by the type of the command it answers (None: the greeting).
_ON_REPLY: dict[type, Callable[[ClientSession, Any, Reply], None]] = {
    type(None): ClientSession._on_greeting,
    Hello: ClientSession._on_hello,
    StartTLS: ClientSession._on_starttls,
    Auth: ClientSession._on_auth,
    AuthResponse: ClientSession._on_auth,
    Mail: ClientSession._on_mail,
    Rcpt: ClientSession._on_rcpt,
    Data: ClientSession._on_data,
    Message: ClientSession._on_message,
    Bdat: ClientSession._on_bdat,
    Quit: ClientSession._on_quit,
    Rset: ClientSession._on_rset,
}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(text: str) -> str:
    try:
        return base64.b64decode(text).decode("utf-8", "replace")
    except ValueError:
        return ""
