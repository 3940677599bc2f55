"""The client side of an SMTP connection, sans-IO.

A ``ClientConnection`` turns commands into bytes and the server's bytes into
``Response`` events, each paired with the command it answers. It keeps the session
state with the same tables as the server (``states``), learns the server's
extensions from the EHLO reply, and refuses, with ``LocalProtocolError``, to send
what the protocol does not allow: a command in the wrong state, or a command
pipelined where RFC 2920 section 3.1 forbids it.

It believes only what RFC 5321 allows: a reply line that is not a reply, or a reply
that cannot answer the command awaiting it (``states.POSSIBLE``: a 250 to DATA, a 354
greeting), raises ``RemoteProtocolError`` and leaves the connection in ``ERROR``,
where it neither sends nor reads again. The caller hands the exception to its
``ClientSession`` (``protocol_error``), which defers what was not yet settled.

Deciding *what* to send (EHLO, then MAIL, RCPT... DATA as one group when the
server pipelines) is ``ClientSession``'s job, in ``client_session``.
"""

from __future__ import annotations

from collections import deque

from . import states as S
from .errors import LocalProtocolError, RemoteProtocolError
from .events import (
    NEED_DATA,
    Command,
    ConnectionClosed,
    Hello,
    Mail,
    Rcpt,
    ReplyTimedOut,
    Response,
    Sentinel,
)
from .replies import Reply
from .syntax import ENCODING, ERRORS, build_reply, format_command, parse_reply_line
from .timeouts import ClientTimeouts

__all__ = ["MAX_REPLY_LINE", "ClientConnection"]

_MAX_REPLY_LINES = 1000  # a reply longer than this is not a reply
# RFC 5321 section 4.5.3.1.5 limits a reply line to 512 octets with its CRLF; be
# lenient, but bounded: a longer line, complete or not, is a protocol error.
MAX_REPLY_LINE = 4096


class ClientConnection:
    """One SMTP session, client side. Starts waiting for the server's greeting."""

    __slots__ = (
        "_buffer",
        "_eof",
        "_last_io",
        "_lines",
        "_pending",
        "extensions",
        "state",
        "timeouts",
        "tls_active",
    )

    def __init__(
        self, *, timeouts: ClientTimeouts | None = None, now: float = 0.0, tls: bool = False
    ) -> None:
        self.timeouts = timeouts or ClientTimeouts()
        self.state: str = S.CONNECTED
        self.extensions: dict[str, str] = {}
        # ``tls``: implicit TLS (RFC 8314, port 465), up before the greeting
        self.tls_active = tls
        # Commands awaiting their reply, oldest first; None stands for the greeting.
        self._pending: deque[Command | None] = deque([None])
        self._buffer = bytearray()
        self._lines: list[tuple[int, str]] = []
        self._eof = False
        self._last_io = now

    def clone(self) -> ClientConnection:
        """A machine of its own in this one's state (its containers copied): how the
        session memo keeps a connection to hand out again. Written out, not
        ``copy.copy``: the compiled build's classes have no ``__slots__`` to copy by."""
        twin = ClientConnection(timeouts=self.timeouts, now=self._last_io)
        twin.state = self.state
        twin.extensions = dict(self.extensions)
        twin.tls_active = self.tls_active
        twin._pending = deque(self._pending)
        twin._buffer = bytearray(self._buffer)
        twin._lines = list(self._lines)
        twin._eof = self._eof
        return twin

    # --- what the server offers ---------------------------------------------------------

    def offers(self, keyword: str) -> bool:
        """Whether the last EHLO reply listed ``keyword`` (upper case)."""
        return keyword in self.extensions

    @property
    def size_limit(self) -> int | None:
        """The server's fixed SIZE limit (RFC 1870), or ``None`` if unknown or unlimited."""
        value = self.extensions.get("SIZE", "")
        return int(value) if value.isdigit() and int(value) > 0 else None

    @property
    def auth_mechanisms(self) -> tuple[str, ...]:
        return tuple(self.extensions.get("AUTH", "").upper().split())

    @property
    def awaiting(self) -> int:
        """How many replies are still due."""
        return len(self._pending)

    # --- output -------------------------------------------------------------------------

    def send(self, command: Command, now: float = 0.0) -> bytes:
        """Record ``command`` as sent and return its bytes.

        A UTF-8 address goes only to a server that offers SMTPUTF8, in a MAIL that
        declares it (RFC 6531 section 3.4), or in a RCPT after such a MAIL.
        """
        if isinstance(command, Mail | Rcpt) and not _ascii_envelope(command, self.extensions):
            raise LocalProtocolError(f"UTF-8 address without SMTPUTF8: {command!r}")
        data = format_command(command)  # first: a command that cannot be written is not sent
        self.submit(command, now)
        return data

    def submit(self, command: Command, now: float = 0.0) -> None:
        """Record ``command`` as sent (the simulator's fast path: no bytes)."""
        verb = command.verb
        pending = self._pending
        if self.state == S.CLOSED:
            raise LocalProtocolError(f"{verb} on a closed connection")
        if self.state == S.ERROR:
            raise LocalProtocolError(
                f"{verb} on a connection in ERROR: the server broke the protocol, "
                "nothing more is sent (close it)"
            )
        if pending:
            if pending[0] is None:
                raise LocalProtocolError(f"{verb} before the server's greeting")
            if "PIPELINING" not in self.extensions:
                raise LocalProtocolError(f"{verb} before the previous reply, without PIPELINING")
            last = pending[-1]
            assert last is not None
            if last.verb not in S.ANYWHERE_IN_GROUP:
                raise LocalProtocolError(f"{verb} pipelined after {last.verb} (RFC 2920 3.1)")
        if not S.may_send(self.state, verb, pending):
            group = " ".join(c.verb for c in pending if c is not None)
            after = f", pipelined after {group}" if group else ""
            raise LocalProtocolError(f"{verb} is not allowed in state {self.state}{after}")
        pending.append(command)
        self._last_io = now

    # --- input --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` means it closed the connection. In ``ERROR``
        nothing is kept: the connection reads nothing more."""
        if data:
            if self.state != S.ERROR:
                self._buffer += data
        else:
            self._eof = True

    def next_event(self, now: float = 0.0) -> Response | ConnectionClosed | Sentinel:
        """The next complete reply as a ``Response``, or ``NEED_DATA``.

        Raises ``RemoteProtocolError`` (and enters ``ERROR``) for input that is not a
        possible reply; in ``ERROR`` every call raises it again.
        """
        if self.state == S.ERROR:
            raise self._broken(_BROKEN_BEFORE)
        buf = self._buffer
        while True:
            end = buf.find(b"\n")
            if end > MAX_REPLY_LINE or (end < 0 and len(buf) > MAX_REPLY_LINE):
                # complete or not: no reply needs such a line
                raise self._broken(f"sent a reply line longer than {MAX_REPLY_LINE} octets")
            if end < 0:
                if self._eof:
                    self.state = S.CLOSED
                    self._pending.clear()  # no reply will come now
                    return ConnectionClosed()
                return NEED_DATA
            raw = bytes(buf[:end])
            del buf[: end + 1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            line = raw.decode(ENCODING, ERRORS)
            try:
                code, last, text = parse_reply_line(line)
            except RemoteProtocolError:
                raise self._broken(f"sent a malformed reply line: {line[:80]!r}") from None
            lines = self._lines
            if lines and code != lines[0][0]:
                raise self._broken(f"sent reply lines with different codes: {line[:80]!r}")
            lines.append((code, text))
            if len(lines) > _MAX_REPLY_LINES:
                raise self._broken(f"sent a reply of more than {_MAX_REPLY_LINES} lines")
            if last:
                self._lines = []
                reply = build_reply(code, [t for _, t in lines])
                return self.receive_reply(reply, now)

    def receive_reply(self, reply: Reply, now: float = 0.0) -> Response:
        """Take a reply to the oldest pending command (the fast path enters here).

        A reply the command cannot get (``states.POSSIBLE``), or a reply when no
        command awaits one, raises ``RemoteProtocolError`` and enters ``ERROR``.
        """
        if self.state == S.ERROR:
            raise self._broken(_BROKEN_BEFORE)
        pending = self._pending
        if not pending:
            raise self._broken(f"sent a reply with no command pending: {reply}", reply)
        command = pending[0]
        verb = S.GREETING if command is None else command.verb
        state = S.client_next_state(self.state, verb, reply)
        if state is None:
            raise self._broken(f"gave an impossible reply to {_shown(verb)}: {reply}", reply)
        pending.popleft()
        if reply.code == 250 and type(command) is Hello:
            self.extensions = dict(reply.ehlo_extensions()) if command.extended else {}
        if state == S.CLOSED:
            self._pending.clear()
        self.state = state
        self._last_io = now
        return Response(command, reply)

    def _broken(self, detail: str, reply: Reply | None = None) -> RemoteProtocolError:
        """The error for a peer that broke the protocol; the connection is done with it."""
        pending = self._pending
        verb = None
        if pending:
            head = pending[0]
            verb = S.GREETING if head is None else head.verb
        self.state = S.ERROR
        pending.clear()
        self._lines = []
        self._buffer.clear()
        return RemoteProtocolError(detail, verb=verb, reply=reply)

    def tls_established(self) -> None:
        """The TLS handshake succeeded: forget the extensions, EHLO again (RFC 3207)."""
        state = S.AFTER_TLS.get(self.state)
        if state is None:
            raise LocalProtocolError("tls_established() outside a STARTTLS handshake")
        self.state = state
        self.extensions = {}
        self.tls_active = True

    # --- timers -------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When the reply now awaited is overdue (RFC 5321 section 4.5.3.2)."""
        if not self._pending or self.state == S.CLOSED:
            return None
        head = self._pending[0]
        verb = S.GREETING if head is None else head.verb
        return self._last_io + self.timeouts.for_verb(verb)

    def handle_timer(self, now: float) -> ReplyTimedOut | None:
        """``ReplyTimedOut`` naming the command whose reply did not come; closes."""
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return None
        head = self._pending[0]
        self._pending.clear()
        self.state = S.CLOSED
        return ReplyTimedOut(head)


def _ascii_envelope(command: Mail | Rcpt, extensions: dict[str, str]) -> bool:
    """Whether ``command`` may go as it is: its address is ASCII, or the server offers
    SMTPUTF8 and (for MAIL) the command declares it."""
    if isinstance(command, Mail):
        if command.sender.isascii():
            return True
        return "SMTPUTF8" in extensions and ("SMTPUTF8", None) in command.params
    return command.recipient.isascii() or "SMTPUTF8" in extensions


def _shown(verb: str) -> str:
    return "the greeting" if verb == S.GREETING else "end of data" if verb == "." else verb


_BROKEN_BEFORE = "broke the protocol before: the connection is in ERROR and reads nothing more"
