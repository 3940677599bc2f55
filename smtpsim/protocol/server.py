"""The server side of an SMTP connection, sans-IO (RFC 5321, with RFC 1870, 2034, 2920,
3030, 3207, 4954, 6152 and 6531).

A ``ServerConnection`` turns the client's bytes into events and the application's
replies into bytes. It knows the grammar, the sequence rules and the limits; it
does not decide whether a recipient exists or a client may relay: that is policy
(``smtpsim.mail``). Its loop::

    conn = ServerConnection(ServerConfig(hostname="mx.example"))
    sock.send(conn.send(replies.greeting("mx.example")))
    while conn.state != CLOSED:
        event = conn.next_event(now)
        if event is NEED_DATA:
            conn.receive_data(sock.recv(4096))
            continue
        if isinstance(event, ConnectionClosed):
            break
        reply = policy_answer(event) or conn.standard_reply()
        sock.send(conn.send(reply, now))

Every event but ``ConnectionClosed`` gets exactly one reply. Input the protocol
itself must refuse comes as ``CommandError`` with the prescribed reply, and the
session goes on (section 4.1.4). The simulator's fast path skips the bytes:
``receive_command(command, now)`` and ``answer(reply, now)`` do the same work as
``next_event`` and ``send``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from . import dsn as D
from . import replies as R
from . import states as S
from .errors import LocalProtocolError
from .events import (
    NEED_DATA,
    Auth,
    AuthResponse,
    Bdat,
    Command,
    CommandError,
    ConnectionClosed,
    Data,
    Event,
    Hello,
    Help,
    IdleTimedOut,
    Mail,
    Message,
    Noop,
    Quit,
    Rcpt,
    Rset,
    Sentinel,
    StartTLS,
    Vrfy,
)
from .replies import Reply
from .syntax import ENCODING, ERRORS, ascii_mailbox, format_reply, parse_command

__all__ = ["Credentials", "FixedReplies", "ServerConfig", "ServerConnection"]


_GREETING = Sentinel("GREETING")

# Replies to protocol errors that count towards the hard error limit (Postfix counts
# such errors and disconnects at ``smtpd_hard_error_limit``).
_ERROR_CODES = frozenset({500, 501, 502, 503, 504, 555})
_SASL_LINE_LIMIT = 12288  # RFC 4954 section 4: AUTH lines may be longer than commands
_LOGIN_USERNAME = base64.b64encode(b"Username:").decode()
_LOGIN_PASSWORD = base64.b64encode(b"Password:").decode()
_CRLF = b"\r\n"
# The commands Postfix takes before STARTTLS when TLS is enforced (smtpd.c,
# SMTPD_CMD_FLAG_PRE_TLS in its command table; XCLIENT is not modelled).
_PRE_TLS = frozenset({"EHLO", "HELO", "STARTTLS", "NOOP", "QUIT", "HELP"})
_DSN_MAIL_PARAMS = frozenset({"RET", "ENVID"})  # RFC 3461 section 4
_DSN_RCPT_PARAMS = frozenset({"NOTIFY", "ORCPT"})


@dataclass(frozen=True, slots=True)
class FixedReplies:
    """The replies a server gives alike to every client: one set in the clear and one
    over TLS (whose EHLO reply no longer offers STARTTLS, RFC 3207 section 4.2), built
    once per ``ServerConfig``. The EHLO reply with its extension list is the largest
    object of a session; sharing it also lets a client parse it once
    (``Reply.ehlo_extensions``)."""

    greeting: Reply
    helo: Reply
    ehlo: Reply


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """What a server offers and enforces. Defaults are Postfix's (postconf(5)).

    ``max_message_size`` is Postfix's ``message_size_limit`` (0: no limit),
    ``max_recipients`` its ``smtpd_recipient_limit``, ``max_errors`` its
    ``smtpd_hard_error_limit``, ``idle_timeout`` its ``smtpd_timeout``.

    ``tls_required`` is ``smtpd_tls_security_level = encrypt``: STARTTLS is offered,
    AUTH only over TLS, and before TLS every command but EHLO, HELO, STARTTLS, NOOP,
    HELP and QUIT gets ``530 5.7.0 Must issue a STARTTLS command first`` (Postfix
    smtpd.c: the ``SMTPD_CMD_FLAG_PRE_TLS`` commands, and ``var_smtpd_tls_auth_only``
    implied by ``var_smtpd_enforce_tls``). ``tls_wrapper`` is
    ``smtpd_tls_wrappermode = yes`` (port 465, RFC 8314 implicit TLS): TLS is a
    property of the connection from its first byte, so a session starts on TLS.
    As in Postfix, wrapper mode implies ``tls_required`` and that implies ``starttls``.

    ``dsn`` offers the DSN extension (RFC 3461), as Postfix does unless
    ``smtpd_discard_ehlo_keywords`` names it; off, its parameters get
    ``501 5.7.1 DSN support is disabled`` (``smtpsim.protocol.dsn``).
    ``chunking`` offers CHUNKING (RFC 3030: BDAT) and ``smtputf8`` SMTPUTF8 (RFC 6531),
    Postfix's ``smtpd_discard_ehlo_keywords`` without ``chunking`` or ``smtputf8`` and
    its ``smtputf8_enable``; both are on in Postfix (3.4 and 3.0 on) and off here by
    default, as smtpsim's protocol core offers only what it is asked to.
    ``strict_smtputf8`` is Postfix's ``strict_smtputf8``: a non-ASCII address in a
    transaction whose MAIL did not carry ``SMTPUTF8`` gets ``553 5.6.7 Must declare
    SMTPUTF8 to send unicode address`` (smtpd.c, mail_cmd and rcpt_cmd); without it
    such an address is accepted, as Postfix does by default. A server that does not
    offer SMTPUTF8 refuses non-ASCII addresses as bad syntax (501 5.1.7, 501 5.1.3).
    """

    hostname: str = "localhost"
    pipelining: bool = True
    max_message_size: int = 10_240_000
    eightbitmime: bool = True
    enhanced_status_codes: bool = True
    starttls: bool = False
    auth_mechanisms: tuple[str, ...] = ()
    vrfy: bool = True
    helo_required: bool = False
    max_recipients: int = 1000
    max_errors: int = 20
    max_command_line: int = 512
    max_text_line: int = 1000
    idle_timeout: float = 300.0
    tls_required: bool = False
    tls_wrapper: bool = False
    dsn: bool = True
    chunking: bool = False
    smtputf8: bool = False
    strict_smtputf8: bool = False
    # Derived from the fields above, once (``__post_init__``): not settings.
    fixed: FixedReplies = field(init=False, repr=False, compare=False)
    fixed_tls: FixedReplies = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_recipients < 100:
            raise ValueError(
                "max_recipients must be at least 100 (RFC 5321 section 4.5.3.1.8), "
                f"got {self.max_recipients}"
            )
        if self.max_command_line < 512:
            raise ValueError(f"max_command_line must be at least 512, got {self.max_command_line}")
        if self.max_message_size < 0 or self.max_errors < 1:
            raise ValueError("max_message_size must be >= 0 and max_errors >= 1")
        # Postfix (smtpd.c, after reading smtpd_tls_security_level): wrapper mode implies
        # enforcement, enforcement implies TLS support (var_smtpd_enforce_tls,
        # var_smtpd_use_tls).
        if self.tls_wrapper and not self.tls_required:
            object.__setattr__(self, "tls_required", True)
        if self.tls_required and not self.starttls:
            object.__setattr__(self, "starttls", True)
        unknown = set(self.auth_mechanisms) - {"PLAIN", "LOGIN"}
        if unknown:
            raise ValueError(f"unsupported AUTH mechanisms: {sorted(unknown)}")
        host = self.hostname
        greeting, helo = R.greeting(host), R.helo(host)
        for name, tls in (("fixed", False), ("fixed_tls", True)):
            ehlo = R.ehlo(host, self.ehlo_keywords(tls_active=tls))
            object.__setattr__(self, name, FixedReplies(greeting, helo, ehlo))

    def ehlo_keywords(self, *, tls_active: bool) -> tuple[str, ...]:
        """The extensions an EHLO reply lists, in Postfix's order (RFC 2920, RFC 3207)."""
        words: list[str] = []
        if self.pipelining:
            words.append("PIPELINING")
        words.append(f"SIZE {self.max_message_size}" if self.max_message_size else "SIZE")
        if self.vrfy:
            words.append("VRFY")
        if self.starttls and not tls_active:
            words.append("STARTTLS")
        if self.auth_mechanisms and (tls_active or not self.tls_required):
            words.append("AUTH " + " ".join(self.auth_mechanisms))
        if self.enhanced_status_codes:
            words.append("ENHANCEDSTATUSCODES")
        if self.eightbitmime:
            words.append("8BITMIME")
        if self.dsn:
            words.append("DSN")
        if self.smtputf8:
            words.append("SMTPUTF8")
        if self.chunking:
            words.append("CHUNKING")
        return tuple(words)


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a client presented with AUTH (RFC 4954; PLAIN is RFC 4616)."""

    mechanism: str
    username: str
    password: str
    authzid: str = ""


class ServerConnection:
    """One SMTP session, server side. See the module docstring for the loop."""

    __slots__ = (
        "_buffer",
        "_chunk",
        "_chunk_content",
        "_chunk_error",
        "_chunk_left",
        "_chunked",
        "_chunks_known",
        "_content",
        "_discarding",
        "_eof",
        "_fixed",
        "_last_activity",
        "_line_too_long",
        "_mid_line",
        "_pending",
        "_sasl_mechanism",
        "_sasl_username",
        "_size",
        "authenticated",
        "config",
        "credentials",
        "errors",
        "esmtp",
        "helo",
        "recipients_accepted",
        "recipients_tried",
        "sender",
        "smtputf8",
        "state",
        "tls_active",
    )

    def __init__(self, config: ServerConfig, *, now: float = 0.0) -> None:
        self.config = config
        # config.fixed_tls once TLS is up: from the start with implicit TLS (port 465)
        wrapped = config.tls_wrapper
        self._fixed = config.fixed_tls if wrapped else config.fixed
        self.state: str = S.CONNECTED
        self.helo: str | None = None
        self.esmtp = False
        self.tls_active = wrapped
        self.authenticated: str | None = None
        self.credentials: Credentials | None = None
        self.errors = 0
        self.sender: str | None = None
        self.recipients_accepted = 0
        self.recipients_tried = 0
        self._pending: Event | Sentinel | None = _GREETING
        self._buffer = bytearray()
        self._eof = False
        self._discarding = False
        self._content = bytearray()
        self._size = 0
        self._mid_line = False
        self._line_too_long = False
        self._sasl_mechanism: str | None = None
        self._sasl_username: str | None = None
        self._last_activity = now
        # The transaction's MAIL carried SMTPUTF8 (RFC 6531 section 3.4).
        self.smtputf8 = False
        # BDAT (RFC 3030): the chunk being read (its command line, octets still to come,
        # what was kept of it), the octets of the transaction's chunks so far, whether
        # all came with their content (wire) or as sizes (fast path), and whether a
        # chunk failed (the rest are discarded until BDAT LAST or RSET).
        self._chunk: Bdat | None = None
        self._chunk_left = 0
        self._chunk_content = bytearray()
        self._chunked = 0
        self._chunks_known = True
        self._chunk_error = False

    def clone(self) -> ServerConnection:
        """A machine of its own in this one's state (its buffers copied): how the
        session memo keeps a connection to hand out again. Written out, not
        ``copy.copy``: the compiled build's classes have no ``__slots__`` to copy by."""
        twin = ServerConnection(self.config, now=self._last_activity)
        twin._fixed = self._fixed
        twin.state = self.state
        twin.helo = self.helo
        twin.esmtp = self.esmtp
        twin.tls_active = self.tls_active
        twin.authenticated = self.authenticated
        twin.credentials = self.credentials
        twin.errors = self.errors
        twin.sender = self.sender
        twin.recipients_accepted = self.recipients_accepted
        twin.recipients_tried = self.recipients_tried
        twin._pending = self._pending
        twin._eof = self._eof
        twin._discarding = self._discarding
        twin._size = self._size
        twin._mid_line = self._mid_line
        twin._line_too_long = self._line_too_long
        twin._sasl_mechanism = self._sasl_mechanism
        twin._sasl_username = self._sasl_username
        twin._buffer = bytearray(self._buffer)
        twin._content = bytearray(self._content)
        twin.smtputf8 = self.smtputf8
        twin._chunk = self._chunk
        twin._chunk_left = self._chunk_left
        twin._chunk_content = bytearray(self._chunk_content)
        twin._chunked = self._chunked
        twin._chunks_known = self._chunks_known
        twin._chunk_error = self._chunk_error
        return twin

    # --- input --------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float | None = None) -> None:
        """Bytes from the client; ``b""`` means the client closed the connection.

        With ``now``, the arrival restarts the idle timer: like Postfix's
        ``smtpd_timeout``, it limits each wait for input, so a long message that
        keeps arriving is not cut off in the middle of its DATA.
        """
        if data:
            if self.state != S.CLOSED:
                self._buffer += data
                if now is not None:
                    self._last_activity = now
        else:
            self._eof = True

    def next_event(self, now: float = 0.0) -> Event | Sentinel:
        """The next event to answer, or ``NEED_DATA``."""
        if self._pending is not None:
            raise LocalProtocolError(f"answer {self._pending!r} before reading on")
        state = self.state
        if state == S.CLOSED:
            return ConnectionClosed()
        if state == S.CONNECTED:
            raise LocalProtocolError("send the greeting first")
        if state == S.TLS:
            return NEED_DATA  # the driver owns the bytes until tls_established()
        if state == S.DATA:
            event: Event | None = self._read_message()
        else:
            event = self._read_command()
        if event is None:
            if self._eof:
                self._close()
                return ConnectionClosed()
            return NEED_DATA
        self._last_activity = now
        self._pending = event
        return event

    def receive_command(self, command: Command, now: float = 0.0) -> Event:
        """The fast path: a command given as an event instead of bytes.

        Returns the event to answer: the command itself, or a ``CommandError``.
        """
        if self._pending is not None:
            raise LocalProtocolError(f"answer {self._pending!r} before reading on")
        event = self._check(command)
        self._last_activity = now
        self._pending = event
        return event

    # --- output -------------------------------------------------------------------------

    def standard_reply(self) -> Reply:
        """The reply the protocol gives to the pending event when no policy objects."""
        p = self._pending
        standard = _STANDARD.get(type(p))
        if standard is not None:
            return standard
        if isinstance(p, Hello):
            fixed = self._fixed
            return fixed.ehlo if p.extended else fixed.helo
        if isinstance(p, CommandError | IdleTimedOut):
            return p.reply
        if p is _GREETING:
            return self._fixed.greeting
        if isinstance(p, Auth | AuthResponse):
            return self._sasl_reply()
        if isinstance(p, Bdat):
            # RFC 3030 section 2: each chunk gets its 250, the last one the message's.
            return R.chunks_queued(self._chunked) if p.last else R.chunk_ok(p.size)
        raise LocalProtocolError("no event awaits a reply")

    def chunked_message(self) -> Message:
        """The message the transaction's BDAT chunks carried, for the reply to BDAT
        LAST: its content when every chunk came with its octets, else only its size."""
        if self._chunks_known:
            return Message(self._chunked, bytes(self._content))
        return Message(self._chunked)

    def send(self, reply: Reply, now: float = 0.0) -> bytes:
        """Answer the pending event with ``reply``; the bytes to write."""
        self.answer(reply, now)
        return format_reply(reply, enhanced=self.config.enhanced_status_codes)

    def answer(self, reply: Reply, now: float = 0.0) -> None:
        """Answer the pending event with ``reply`` (fast path: no bytes)."""
        p = self._pending
        # A command first: the case of almost every reply.
        if isinstance(p, Command) or (isinstance(p, CommandError) and not p.closes):
            verb = p.verb
        else:
            self._answer_other(reply, now)
            return
        self._pending = None
        self._last_activity = now
        code = reply.code
        positive = code < 400
        if verb == "RCPT":
            self.recipients_tried += 1
            if positive:
                self.recipients_accepted += 1
        elif positive:
            if isinstance(p, Hello):
                self.helo, self.esmtp = p.domain, p.extended
            elif isinstance(p, Mail):
                self.sender = p.sender
                self.smtputf8 = bool(p.params) and ("SMTPUTF8", None) in p.params
            elif verb == "STARTTLS":
                # RFC 3207 section 4.2: discard anything the client sent after STARTTLS
                # in the clear (CVE-2011-0411, command injection).
                self._buffer.clear()
            elif code == 235 and self.credentials is not None:
                self.authenticated = self.credentials.username
        if self._sasl_mechanism is not None and code != 334:
            self._sasl_mechanism = self._sasl_username = None
            self.credentials = None
        new = S.next_state(self.state, verb, reply)
        if new == S.CHUNKING:
            # A refused chunk starts the discarding, which lasts until the transaction
            # ends (Postfix smtpd.c, skip_bdat: SMTPD_BDAT_STAT_ERROR).
            self._chunk_error = not positive or (self.state == S.CHUNKING and self._chunk_error)
        elif self._chunk_error:
            self._chunk_error = False
        if new not in S.TRANSACTION_STATES and (self.sender is not None or self.recipients_tried):
            # EHLO, RSET, any reply to the end of data, QUIT or 421: no transaction is open.
            self._reset_transaction()
        if new == S.DATA:
            self._content = bytearray()
            self._size = 0
            self._mid_line = self._line_too_long = False
        elif new == S.CLOSED:
            self._close()
        self.state = new

    def _answer_other(self, reply: Reply, now: float) -> None:
        """``answer`` for what is not a command: the greeting, or an event that ends
        the session (a ``CommandError`` that closes, ``IdleTimedOut``)."""
        p = self._pending
        if p is None or isinstance(p, ConnectionClosed):
            raise LocalProtocolError("no event awaits a reply")
        self._pending = None
        self._last_activity = now
        if p is _GREETING:
            self.state = S.next_state(S.CONNECTED, S.GREETING, reply)
        else:
            self._close()

    def tls_established(self) -> None:
        """The TLS handshake after STARTTLS succeeded: the session starts over
        (RFC 3207 section 4.2: forget HELO, extensions, authentication)."""
        state = S.AFTER_TLS.get(self.state)
        if state is None:
            raise LocalProtocolError("tls_established() outside a STARTTLS handshake")
        self.state = state
        self.tls_active = True
        self._fixed = self.config.fixed_tls
        self.helo, self.esmtp, self.authenticated = None, False, None
        self._reset_transaction()
        self._buffer.clear()  # anything received before the handshake came in the clear

    # --- timers -------------------------------------------------------------------------

    def get_timer(self) -> float | None:
        """When the client's silence becomes a timeout (``smtpd_timeout``), if waiting."""
        if self._pending is not None or self.state in (S.CONNECTED, S.CLOSED, S.TLS):
            return None
        return self._last_activity + self.config.idle_timeout

    def handle_timer(self, now: float) -> IdleTimedOut | None:
        """An ``IdleTimedOut`` carrying the 421 to send, once the timer has expired."""
        deadline = self.get_timer()
        if deadline is None or now < deadline:
            return None
        event = IdleTimedOut(R.idle_timeout(self.config.hostname))
        self._pending = event
        return event

    # --- internals ----------------------------------------------------------------------

    def _close(self) -> None:
        self.state = S.CLOSED
        self._buffer.clear()
        self._reset_transaction()  # a transaction still open is cancelled (section 4.1.1.10)

    def _reset_transaction(self) -> None:
        self.sender = None
        self.smtputf8 = False
        self.recipients_accepted = self.recipients_tried = 0

    def _error(self, verb: str, reply: Reply) -> CommandError:
        if reply.code in _ERROR_CODES:
            self.errors += 1
            if self.errors >= self.config.max_errors:
                return CommandError(verb, R.too_many_errors(self.config.hostname), closes=True)
        return CommandError(verb, reply)

    def _read_command(self) -> Command | CommandError | None:
        """One command line from the buffer, parsed; ``None`` if no full line yet.

        A BDAT line is followed by its chunk: the command is complete (and checked)
        once all its octets are in (``_read_chunk``).
        """
        if self._chunk is not None:
            return self._read_chunk()
        buf = self._buffer
        limit = _SASL_LINE_LIMIT if self.state == S.AUTH else self.config.max_command_line
        end = buf.find(b"\n")
        if end < 0:
            if len(buf) > limit:
                # Discard an over-long line as it arrives; answer it when it ends.
                self._discarding = True
                del buf[:-1]
            return None
        raw = bytes(buf[:end])
        del buf[: end + 1]
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if self._discarding or len(raw) + 2 > limit:
            self._discarding = False
            if self.state == S.AUTH:  # RFC 4954 section 4: this ends the exchange
                return CommandError("AUTH-RESPONSE", R.AUTH_LINE_TOO_LONG)
            return self._error("", R.command_too_long(self.config.hostname))
        if self.state == S.AUTH:
            return self._check(AuthResponse(raw.decode(ENCODING, ERRORS)))
        # UTF-8 (RFC 6531 section 3.3): any ASCII line reads as before, and bytes that
        # are not UTF-8 still give a string that writes back to them.
        command = parse_command(raw.decode("utf-8", ERRORS))
        if isinstance(command, CommandError):
            if self.state == S.REJECTED and command.verb != "QUIT":
                # After a 554 greeting, 503 to any command but QUIT (RFC 5321 section 3.1),
                # be it malformed or unknown.
                return self._error(command.verb, R.REJECTED_SESSION)
            if command.closes:
                self.errors += 1
                return command
            return self._error(command.verb, command.reply)
        if isinstance(command, Bdat):
            if not self.config.chunking:
                # Postfix hangs up (smtpd.c, bdat_cmd): the chunk would be read as commands.
                self.errors += 1
                return CommandError("BDAT", R.BDAT_NOT_IMPLEMENTED, closes=True)
            self._chunk, self._chunk_left = command, command.size
            self._chunk_content = bytearray()
            return self._read_chunk()
        return self._check(command)

    def _read_chunk(self) -> Command | CommandError | None:
        """The octets of the BDAT chunk being read; the checked command once all are in.

        What is past the message size limit is counted but not kept: a client cannot
        make the server hold more than ``max_message_size`` octets of a chunk.
        """
        chunk = self._chunk
        assert chunk is not None
        buf = self._buffer
        take = min(self._chunk_left, len(buf))
        if take:
            limit = self.config.max_message_size
            room = take if not limit else max(0, min(take, limit - len(self._chunk_content)))
            self._chunk_content += buf[:room]
            del buf[:take]
            self._chunk_left -= take
        if self._chunk_left:
            return None
        self._chunk = None
        content = bytes(self._chunk_content)
        self._chunk_content = bytearray()
        return self._check(Bdat(chunk.size, chunk.last, content))

    def _read_message(self) -> Command | CommandError | None:
        """Message content up to ``<CRLF>.<CRLF>`` (RFC 5321 sections 4.1.1.4, 4.5.2).

        Only CRLF ends a line here: a bare LF followed by a dot does not end the
        message, which is what keeps "SMTP smuggling" out.
        """
        buf = self._buffer
        pos = 0
        max_line = self.config.max_text_line
        while True:
            end = buf.find(_CRLF, pos)
            if end < 0:
                if len(buf) - pos > max_line:
                    # An over-long line: keep its start, flag it, and hold back a
                    # final CR that may begin the CRLF.
                    stop = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
                    self._take_line(bytes(buf[pos:stop]), ending=b"")
                    self._line_too_long = self._mid_line = True
                    pos = stop
                del buf[:pos]
                return None
            line = bytes(buf[pos:end])
            pos = end + 2
            if not self._mid_line and line == b".":
                del buf[:pos]
                return self._check(Message(self._size, bytes(self._content)))
            if len(line) + 2 > max_line + (1 if line.startswith(b".") else 0):
                self._line_too_long = True
            self._take_line(line, ending=_CRLF)
            self._mid_line = False

    def _take_line(self, line: bytes, *, ending: bytes) -> None:
        if not self._mid_line and line.startswith(b"."):
            line = line[1:]  # undo dot-stuffing
        limit = self.config.max_message_size
        self._size += len(line) + len(ending)
        if not limit or self._size <= limit:
            self._content += line
            self._content += ending

    def _check(self, command: Command) -> Command | CommandError:
        """Sequence and limit checks of a parsed command (both paths).

        Ordered by how often each case comes up: this runs for every command the
        simulator exchanges.
        """
        state = self.state
        verb = command.verb
        if state == S.DATA:
            if not isinstance(command, Message):
                raise LocalProtocolError(f"{verb} sent while message content was expected")
            limit = self.config.max_message_size
            if limit and command.size > limit:
                return CommandError(".", R.SIZE_EXCEEDED)
            if self._line_too_long:
                return self._error(".", R.LINE_TOO_LONG)
            return command
        if state == S.AUTH:
            if not isinstance(command, AuthResponse) or command.line == "*":
                return CommandError("AUTH-RESPONSE", R.AUTH_ABORTED)
            return self._sasl_step(command.line)
        if state not in S.COMMAND_STATES:
            raise LocalProtocolError(f"no command expected in state {state}")
        if self.config.tls_required and not self.tls_active and verb not in _PRE_TLS:
            # Postfix checks this before the command's own sequence rules, and counts
            # it as an error (smtpd.c, the command loop: state->error_count++).
            self.errors += 1
            if self.errors >= self.config.max_errors:
                return CommandError(verb, R.too_many_errors(self.config.hostname), closes=True)
            return CommandError(verb, R.TLS_REQUIRED)
        illegal = S.ILLEGAL.get((state, verb))
        if illegal is not None:
            if illegal is R.NEED_RCPT and state == S.MAIL and self.recipients_tried:
                illegal = R.NO_VALID_RCPT
            return self._error(verb, illegal)
        if verb == "RCPT":
            assert isinstance(command, Rcpt)
            if not command.recipient.isascii():
                undeclared = self._unicode_address(
                    command.recipient, self.smtputf8, R.BAD_RECIPIENT
                )
                if undeclared is not None:
                    return self._error(verb, undeclared)
            if self.recipients_accepted >= self.config.max_recipients:
                return CommandError(verb, R.TOO_MANY_RECIPIENTS)
            if command.params:
                return self._check_rcpt_params(command)
        elif verb == "MAIL":
            assert isinstance(command, Mail)
            if self.config.helo_required and self.helo is None:
                return self._error(verb, R.NEED_HELO)
            if command.params:
                checked = self._check_mail_params(command)
                if isinstance(checked, CommandError):
                    return checked
            if not command.sender.isascii():
                declared = bool(command.params) and ("SMTPUTF8", None) in command.params
                undeclared = self._unicode_address(command.sender, declared, R.BAD_SENDER)
                if undeclared is not None:
                    return self._error(verb, undeclared)
        elif verb == "BDAT" or verb == "BDAT-LAST":
            assert isinstance(command, Bdat)
            return self._check_chunk(command)
        elif verb == "AUTH":
            assert isinstance(command, Auth)
            return self._start_sasl(command)
        elif verb == "STARTTLS":
            if not self.config.starttls or not self.esmtp:
                return self._error(verb, R.NOT_IMPLEMENTED)
            if self.tls_active:
                return self._error(verb, R.TLS_ALREADY)
        elif verb == "VRFY" and not self.config.vrfy:
            return self._error(verb, R.NOT_IMPLEMENTED)
        elif verb == "AUTH-RESPONSE":
            return self._error(verb, R.UNKNOWN_COMMAND)
        return command

    def _unicode_address(self, address: str, declared: bool, bad_syntax: Reply) -> Reply | None:
        """The refusal of a non-ASCII address, or ``None`` to accept it (RFC 6531
        section 3.3 allows UTF-8 in mailboxes only under SMTPUTF8; see ``ServerConfig``
        for Postfix's replies). Without SMTPUTF8 the grammar is RFC 5321's, which lets
        8-bit octets through only in a quoted local part."""
        config = self.config
        if not config.smtputf8:
            return None if ascii_mailbox(address) else bad_syntax
        if not declared and config.strict_smtputf8:
            return R.SMTPUTF8_UNDECLARED
        return None

    def _check_chunk(self, chunk: Bdat) -> Bdat | CommandError:
        """A BDAT chunk in RCPT or CHUNKING state (``ILLEGAL`` answered the others), in
        Postfix's order (smtpd.c, bdat_cmd): an empty chunk that is not the last, a
        transaction whose chunk failed, the size limit. An accepted chunk is added to
        the message (``chunked_message``)."""
        verb = chunk.verb
        if chunk.size == 0 and not chunk.last:
            return CommandError(verb, R.BDAT_NULL)
        first = self.state != S.CHUNKING
        if not first and self._chunk_error:
            return CommandError(verb, R.chunk_discarded(chunk.size))
        so_far = 0 if first else self._chunked
        limit = self.config.max_message_size
        if limit and so_far + chunk.size > limit:
            return CommandError(verb, R.CHUNK_TOO_BIG)
        if first:
            self._content = bytearray()
            self._chunks_known = True
        self._chunked = so_far + chunk.size
        if chunk.content is None:
            self._chunks_known = False
        elif self._chunks_known:
            self._content += chunk.content
        return chunk

    def _check_mail_params(self, command: Mail) -> Mail | CommandError:
        config = self.config
        seen: set[str] = set()  # the DSN parameters given so far: a repeat is refused
        for key, value in command.params:
            if not self.esmtp:
                return self._error("MAIL", R.unsupported_option(key))
            if key == "SIZE":
                if value is None or not value.isdigit():
                    return self._error("MAIL", R.BAD_SIZE)
                if config.max_message_size and int(value) > config.max_message_size:
                    return CommandError("MAIL", R.SIZE_EXCEEDED)
            elif key == "BODY":
                if not config.eightbitmime or (value or "").upper() not in ("7BIT", "8BITMIME"):
                    return self._error("MAIL", R.unsupported_option(key))
            elif key in _DSN_MAIL_PARAMS:
                refusal = D.check_mail_param(key, value, key in seen, config.dsn)
                if refusal is not None:
                    return self._error("MAIL", refusal)
                seen.add(key)
            elif key == "SMTPUTF8":  # RFC 6531 section 3.4: a keyword without a value
                if not config.smtputf8 or value is not None:
                    return self._error("MAIL", R.unsupported_option(key))
            elif key != "AUTH" or not config.auth_mechanisms:
                return self._error("MAIL", R.unsupported_option(key))
        return command

    def _check_rcpt_params(self, command: Rcpt) -> Rcpt | CommandError:
        """RCPT's parameters: NOTIFY and ORCPT (RFC 3461), checked as Postfix's
        ``rcpt_cmd`` does; anything else is ``555 Unsupported option``."""
        seen: set[str] = set()
        for key, value in command.params:
            if not self.esmtp or key not in _DSN_RCPT_PARAMS:
                return self._error("RCPT", R.unsupported_option(key))
            refusal = D.check_rcpt_param(key, value, key in seen, self.config.dsn)
            if refusal is not None:
                return self._error("RCPT", refusal)
            seen.add(key)
        return command

    # SASL (RFC 4954; PLAIN per RFC 4616, LOGIN as widely deployed)

    def _start_sasl(self, command: Auth) -> Auth | CommandError:
        if not self.esmtp or not self.config.auth_mechanisms:
            return self._error("AUTH", R.AUTH_NOT_ENABLED)
        if self.authenticated is not None:
            return self._error("AUTH", R.AUTH_ALREADY)
        if command.mechanism not in self.config.auth_mechanisms:
            return self._error("AUTH", R.AUTH_UNKNOWN_MECHANISM)
        self._sasl_mechanism = command.mechanism
        self._sasl_username = None
        self.credentials = None
        if command.initial_response is not None:
            error = self._sasl_step(command.initial_response)
            if isinstance(error, CommandError):
                return CommandError("AUTH", error.reply)
        return command

    def _sasl_step(self, line: str) -> AuthResponse | CommandError:
        """Take one SASL response; sets ``credentials`` when the exchange is complete."""
        try:
            decoded = base64.b64decode("" if line == "=" else line, validate=True)
            text = decoded.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return CommandError("AUTH-RESPONSE", R.AUTH_BAD_RESPONSE)
        if self._sasl_mechanism == "PLAIN":
            parts = text.split("\0")
            if len(parts) != 3:
                return CommandError("AUTH-RESPONSE", R.AUTH_BAD_RESPONSE)
            self.credentials = Credentials("PLAIN", parts[1], parts[2], parts[0])
        elif self._sasl_username is None:
            self._sasl_username = text
        else:
            self.credentials = Credentials("LOGIN", self._sasl_username, text)
        return AuthResponse(line)

    def _sasl_reply(self) -> Reply:
        if self.credentials is not None:
            return R.AUTH_FAILED  # complete, but only a policy can say the password is good
        if self._sasl_mechanism == "PLAIN":
            return R.auth_challenge("")
        if self._sasl_username is None:
            return R.auth_challenge(_LOGIN_USERNAME)
        return R.auth_challenge(_LOGIN_PASSWORD)


# The standard reply to each command that has one whatever the configuration, by the
# command's type (HELO and EHLO: ``FixedReplies``; AUTH: the SASL exchange).
_STANDARD: dict[type, Reply] = {
    Mail: R.MAIL_OK,
    Rcpt: R.RCPT_OK,
    Data: R.START_DATA,
    Message: Reply(250, "2.0.0", "Ok: queued"),
    Rset: R.OK,
    Noop: R.OK,
    Quit: R.BYE,
    Vrfy: R.VRFY_CANNOT,
    Help: R.HELP,
    StartTLS: R.TLS_READY,
}
