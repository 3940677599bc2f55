"""The client side of an SMTP connection, sans-IO.

A ``ClientConnection`` turns commands into bytes and the server's bytes into
``Response`` events, each paired with the command it answers. It keeps the session
state with the same tables as the server (``states``), learns the server's
extensions from the EHLO reply, and refuses, with ``LocalProtocolError``, to send
what the protocol does not allow: a command in the wrong state, or a command
pipelined where RFC 2920 section 3.1 forbids it.

Deciding *what* to send (EHLO, then MAIL, RCPT... DATA as one group when the
server pipelines) is ``ClientSession``'s job, in ``client_session``.
"""

from __future__ import annotations

from collections import deque

from . import states as S
from .errors import LocalProtocolError, RemoteProtocolError
from .events import NEED_DATA, Command, ConnectionClosed, Hello, Response, Sentinel, TimedOut
from .replies import Reply
from .syntax import ENCODING, ERRORS, build_reply, format_command, parse_reply_line
from .timeouts import ClientTimeouts

__all__ = ["ClientConnection"]

_MAX_REPLY_LINES = 1000  # a reply longer than this is not a reply
_MAX_REPLY_LINE = 4096  # RFC says 512; be lenient, but bounded


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

    def __init__(self, *, timeouts: ClientTimeouts | None = None, now: float = 0.0) -> None:
        self.timeouts = timeouts or ClientTimeouts()
        self.state: str = S.CONNECTED
        self.extensions: dict[str, str] = {}
        self.tls_active = False
        # Commands awaiting their reply, oldest first; None stands for the greeting.
        self._pending: deque[Command | None] = deque([None])
        self._buffer = bytearray()
        self._lines: list[tuple[int, str]] = []
        self._eof = False
        self._last_io = now

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
        """Record ``command`` as sent and return its bytes."""
        data = format_command(command)  # first: a command that cannot be written is not sent
        self.submit(command, now)
        return data

    def submit(self, command: Command, now: float = 0.0) -> None:
        """Record ``command`` as sent (the simulator's fast path: no bytes)."""
        verb = command.verb
        pending = self._pending
        if self.state == S.CLOSED:
            raise LocalProtocolError(f"{verb} on a closed connection")
        if pending:
            if pending[0] is None:
                raise LocalProtocolError(f"{verb} before the server's greeting")
            if "PIPELINING" not in self.extensions:
                raise LocalProtocolError(f"{verb} before the previous reply, without PIPELINING")
            last = pending[-1]
            assert last is not None
            if last.verb not in S.ANYWHERE_IN_GROUP:
                raise LocalProtocolError(f"{verb} pipelined after {last.verb} (RFC 2920 3.1)")
        state = self.state
        for earlier in pending:  # assume the pipelined commands before us succeed
            assert earlier is not None
            state = S.NEXT.get((state, earlier.verb, 2), state)
        if not _legal(state, verb):
            raise LocalProtocolError(f"{verb} is not allowed in state {state}")
        pending.append(command)
        self._last_io = now

    # --- input --------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Bytes from the server; ``b""`` means it closed the connection."""
        if data:
            self._buffer += data
        else:
            self._eof = True

    def next_event(self, now: float = 0.0) -> Response | ConnectionClosed | Sentinel:
        """The next complete reply as a ``Response``, or ``NEED_DATA``."""
        buf = self._buffer
        while True:
            end = buf.find(b"\n")
            if end > _MAX_REPLY_LINE or (end < 0 and len(buf) > _MAX_REPLY_LINE):
                raise RemoteProtocolError("reply line too long")  # complete or not
            if end < 0:
                if self._eof:
                    self.state = S.CLOSED
                    return ConnectionClosed()
                return NEED_DATA
            raw = bytes(buf[:end])
            del buf[: end + 1]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            code, last, text = parse_reply_line(raw.decode(ENCODING, ERRORS))
            lines = self._lines
            if lines and code != lines[0][0]:
                raise RemoteProtocolError("reply lines with different codes")
            lines.append((code, text))
            if len(lines) > _MAX_REPLY_LINES:
                raise RemoteProtocolError("reply with too many lines")
            if last:
                self._lines = []
                reply = build_reply(code, [t for _, t in lines])
                return self.receive_reply(reply, now)

    def receive_reply(self, reply: Reply, now: float = 0.0) -> Response:
        """Take a reply to the oldest pending command (the fast path enters here)."""
        if not self._pending:
            raise RemoteProtocolError(f"reply with no command pending: {reply}")
        command = self._pending.popleft()
        code = reply.code
        if command is None:
            verb = S.GREETING
        else:
            verb = command.verb
            if code == 250 and type(command) is Hello:
                self.extensions = _parse_ehlo(reply) if command.extended else {}
        state = self.state
        state = S.CLOSED if code == 421 else _NEXT.get((state, verb, code // 100), state)
        if state == S.CLOSED:
            self._pending.clear()
        self.state = state
        self._last_io = now
        return Response(command, reply)

    def tls_established(self) -> None:
        """The TLS handshake succeeded: forget the extensions, EHLO again (RFC 3207)."""
        if self.state != S.TLS:
            raise LocalProtocolError("tls_established() outside a STARTTLS handshake")
        self.state = S.GREETED
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

    def handle_timer(self, now: float) -> TimedOut | None:
        """``TimedOut`` naming the command whose reply did not come; closes."""
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return None
        head = self._pending[0]
        self._pending.clear()
        self.state = S.CLOSED
        return TimedOut(command=head)


def _legal(state: str, verb: str) -> bool:
    if verb == ".":
        return state == S.DATA
    if verb == "AUTH-RESPONSE":
        return state == S.AUTH
    return state in S.COMMAND_STATES and (state, verb) not in S.ILLEGAL


def _parse_ehlo(reply: Reply) -> dict[str, str]:
    """Extension keywords (upper case) and their parameters from an EHLO reply.

    A server sends the same EHLO reply to every client, so parses are cached by
    its text (a copy is returned: callers own their dict)."""
    text = reply.text
    extensions = _EHLO_CACHE.get(text)
    if extensions is None:
        extensions = {}
        for line in reply.lines[1:]:
            keyword, _, params = line.strip().partition(" ")
            if keyword:
                extensions[keyword.upper()] = params.strip()
        if len(_EHLO_CACHE) > 10_000:
            _EHLO_CACHE.clear()
        _EHLO_CACHE[text] = extensions
    return dict(extensions)


_EHLO_CACHE: dict[str, dict[str, str]] = {}
_NEXT = S.NEXT
