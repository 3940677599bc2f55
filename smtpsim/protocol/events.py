"""Events: what crosses an SMTP connection, as frozen values.

Commands (``Hello``, ``Mail``, ``Rcpt``, ...) are what a client sends and what a server
receives; a client connection turns them into bytes, a server connection turns bytes
back into equal values, so a transcript can be compared event by event on both sides.
``Message`` is the content sent after a 354, without the dot-stuffing and the final
dot. ``Response`` is what a client receives: a server reply, paired with the command
it answers (``None`` for the greeting).

The remaining events report things that are not commands: ``CommandError`` is input a
server cannot act on (bad syntax, bad sequence, a line too long), carrying the reply the
RFC asks for, so that the session goes on (RFC 5321 section 4.1.4); ``ConnectionClosed``
is the peer going away. A timer of section 4.5.3.2 expiring means something different
on each side, so each has its own event: ``ReplyTimedOut`` on a client (the reply to a
command did not come in time), ``IdleTimedOut`` on a server (the client sent nothing for
too long; the server sends a 421 and closes).
"""

from __future__ import annotations

from dataclasses import dataclass

from .dsn import MailDsn, RcptDsn, mail_dsn, rcpt_dsn
from .replies import Reply

__all__ = [
    "NEED_DATA",
    "Auth",
    "AuthResponse",
    "Bdat",
    "Command",
    "CommandError",
    "ConnectionClosed",
    "Data",
    "Event",
    "Hello",
    "Help",
    "IdleTimedOut",
    "Mail",
    "Message",
    "Noop",
    "Quit",
    "Rcpt",
    "ReplyTimedOut",
    "Response",
    "Rset",
    "StartTLS",
    "Vrfy",
]

Params = tuple[tuple[str, str | None], ...]
"""ESMTP parameters of MAIL and RCPT in the order given, upper-cased keywords."""


class Sentinel:
    """A named marker value, such as ``NEED_DATA``."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NEED_DATA = Sentinel("NEED_DATA")
"""What ``next_event`` returns when it needs more bytes before it can give an event."""


class Event:
    """Base class of everything a connection consumes or produces."""

    __slots__ = ()


class Command(Event):
    """Base class of client commands. ``verb`` is the SMTP command word."""

    __slots__ = ()
    verb: str


@dataclass(frozen=True, slots=True)
class Hello(Command):
    """EHLO (``extended=True``, RFC 5321 section 4.1.1.1) or HELO."""

    domain: str
    extended: bool = True

    @property
    def verb(self) -> str:  # type: ignore[override]  # a class attribute elsewhere, by value here
        return "EHLO" if self.extended else "HELO"


@dataclass(frozen=True, slots=True)
class Mail(Command):
    """``MAIL FROM:<sender> params``; ``sender`` is ``""`` for the null reverse-path."""

    sender: str
    params: Params = ()
    verb = "MAIL"

    @property
    def size(self) -> int | None:
        """The SIZE= parameter (RFC 1870), if given and numeric."""
        for key, value in self.params:
            if key == "SIZE" and value is not None and value.isdigit():
                return int(value)
        return None

    @property
    def dsn(self) -> MailDsn:
        """The DSN parameters RET and ENVID (RFC 3461), as a server took them."""
        return mail_dsn(self.params)


@dataclass(frozen=True, slots=True)
class Rcpt(Command):
    """``RCPT TO:<recipient> params``."""

    recipient: str
    params: Params = ()
    verb = "RCPT"

    @property
    def dsn(self) -> RcptDsn:
        """The DSN parameters NOTIFY and ORCPT (RFC 3461), as a server took them."""
        return rcpt_dsn(self.params)


@dataclass(frozen=True, slots=True)
class Data(Command):
    verb = "DATA"


@dataclass(frozen=True, slots=True)
class Message(Command):
    """The message content after 354, without dot-stuffing and the final ``.``.

    ``content`` is ``None`` when only the size matters (the simulator's fast path);
    on the wire a connection then sends ``size`` octets of filler text.
    """

    size: int
    content: bytes | None = None
    verb = "."

    @classmethod
    def of(cls, content: bytes) -> Message:
        return cls(len(content), content)


@dataclass(frozen=True, slots=True)
class Bdat(Command):
    """``BDAT size [LAST]`` with its chunk of ``size`` octets (RFC 3030, CHUNKING).

    The chunk is raw octets, counted exactly: no dot-stuffing, no end-of-data line.
    ``content`` is ``None`` when only the size matters (the fast path); on the wire a
    connection then sends ``size`` octets of filler. The verb tells the last chunk
    apart (``BDAT-LAST``), because the state tables treat it as the end of data
    (``states.NEXT``); on the wire both are ``BDAT``.
    """

    size: int
    last: bool = False
    content: bytes | None = None

    @property
    def verb(self) -> str:  # type: ignore[override]  # a class attribute elsewhere, by value here
        return "BDAT-LAST" if self.last else "BDAT"


@dataclass(frozen=True, slots=True)
class Rset(Command):
    verb = "RSET"


@dataclass(frozen=True, slots=True)
class Noop(Command):
    argument: str = ""
    verb = "NOOP"


@dataclass(frozen=True, slots=True)
class Quit(Command):
    verb = "QUIT"


@dataclass(frozen=True, slots=True)
class Vrfy(Command):
    argument: str
    verb = "VRFY"


@dataclass(frozen=True, slots=True)
class Help(Command):
    argument: str = ""
    verb = "HELP"


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    verb = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Auth(Command):
    """``AUTH mechanism [initial-response]`` (RFC 4954 section 4); base64 kept as sent."""

    mechanism: str
    initial_response: str | None = None
    verb = "AUTH"


@dataclass(frozen=True, slots=True)
class AuthResponse(Command):
    """A client's answer to a 334 challenge: one line of base64, or ``*`` to cancel."""

    line: str
    verb = "AUTH-RESPONSE"


@dataclass(frozen=True, slots=True)
class Response(Event):
    """A reply received by a client, with the command it answers (``None``: greeting)."""

    command: Command | None
    reply: Reply


@dataclass(frozen=True, slots=True)
class CommandError(Event):
    """Input the server cannot act on, and the reply the protocol prescribes for it.

    ``verb`` is the command word as received (upper-cased, ``""`` if none could be
    read); ``closes`` is true when the reply ends the session (a 421 after too many
    errors).
    """

    verb: str
    reply: Reply
    closes: bool = False


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer closed the connection (an empty ``receive_data``)."""


@dataclass(frozen=True, slots=True)
class ReplyTimedOut(Event):
    """A client's reply timer expired (RFC 5321 section 4.5.3.2; Postfix's
    ``smtp_*_timeout``): ``command`` is what was awaiting its reply, ``None`` for the
    greeting. The client connection is closed; nothing is sent."""

    command: Command | None


@dataclass(frozen=True, slots=True)
class IdleTimedOut(Event):
    """A server's idle timer expired (RFC 5321 section 4.5.3.2.7; Postfix's
    ``smtpd_timeout``): the client sent nothing for too long. ``reply`` is the 421 the
    server sends before it closes (Postfix: ``421 4.4.2 ... Error: timeout exceeded``)."""

    reply: Reply
