"""An asyncio SMTP client: one message over one connection, with the client core.

``send_message`` opens a TCP connection and lets a ``ClientSession`` decide what to
send (EHLO, STARTTLS, AUTH, MAIL/RCPT/DATA pipelined when offered, the content,
QUIT) while a ``ClientConnection`` turns commands into bytes and bytes into replies.
This module writes each group ``next_commands()`` returns in one write (so a
pipelined group really leaves in one segment), reads with the connection's reply
timers as deadlines, and performs the TLS handshake when the session asks for it.

What the server says about each recipient is the result (``SessionResult``), even
when it is a refusal, a timeout, a lost connection or a server breaking the protocol
(a reply line that is not a reply, a line longer than any reply, a reply RFC 5321
does not allow there, data smuggled after the reply to STARTTLS): those are outcomes
of the session, each recipient not yet settled gets a 4xx and ``result.error`` says
what happened, in one line. Only when no SMTP conversation could take place at all
(no connection, a failed TLS handshake) does ``send_message`` raise a ``SendError``
whose message is one line fit for a command-line tool.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence

from ..protocol import (
    NEED_DATA,
    Auth,
    AuthResponse,
    Bdat,
    ClientConnection,
    ClientSession,
    ClientTimeouts,
    Command,
    ConnectionClosed,
    Event,
    MailDsn,
    Message,
    RcptDsn,
    RemoteProtocolError,
    ReplyTimedOut,
    SessionResult,
)
from ..protocol.client import MAX_REPLY_LINE
from ..protocol.client_session import DEFAULT_CHUNK_SIZE, needs_smtputf8
from ..protocol.syntax import format_command
from .tls import client_context, discard_buffered

__all__ = ["ConnectError", "SendError", "Transcript", "send_message"]

Transcript = Callable[[str], None]
"""Receives the session line by line: ``C: ...`` sent, ``S: ...`` received."""

_READ_SIZE = 1 << 20  # larger than a StreamReader ever buffers: one read drains it
_MAX_LINE = MAX_REPLY_LINE  # beyond this without a line end, let the core reject it
_CLOSE_TIMEOUT = 2.0


class SendError(Exception):
    """No SMTP conversation was possible (a failed TLS handshake)."""


class ConnectError(SendError):
    """The TCP connection could not be made (refused, unreachable, unknown host)."""


async def send_message(
    host: str,
    port: int,
    *,
    helo: str,
    sender: str,
    recipients: Sequence[str],
    message: bytes | Message,
    starttls: str = "no",
    implicit_tls: bool = False,
    auth: tuple[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    timeouts: ClientTimeouts = ClientTimeouts(),  # noqa: B008 - frozen, safe to share
    transcript: Transcript | None = None,
    dsn: MailDsn | None = None,
    rcpt_dsn: Mapping[str, RcptDsn] | None = None,
    chunking: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> SessionResult:
    """Deliver ``message`` from ``sender`` to ``recipients`` through ``host:port``.

    ``starttls`` is ``"no"``, ``"may"`` (use TLS if offered, without checking the
    certificate unless ``ssl_context`` says so) or ``"require"`` (refuse to go on
    in the clear; verify with ``ssl_context`` or the system's CA store).
    ``implicit_tls`` speaks TLS from the first byte, as on the submissions port 465
    (RFC 8314 section 3.3), verifying the certificate likewise; it excludes STARTTLS.
    ``auth`` is ``(username, password)``. ``dsn`` (RET, ENVID) and ``rcpt_dsn``
    (NOTIFY, ORCPT per recipient) are sent if the server offers DSN (RFC 3461
    section 4.1), left out otherwise. ``chunking`` sends the content with BDAT in
    chunks of ``chunk_size`` octets when the server offers CHUNKING (RFC 3030). A UTF-8
    sender or recipient makes the message need SMTPUTF8 (RFC 6531): declared in MAIL,
    or the message bounces with 5.6.7 when the server does not offer it (Postfix).
    Raises ``ConnectError`` or ``SendError``.
    """
    if isinstance(message, bytes):
        message = Message.of(message)
    if implicit_tls and starttls != "no":
        raise ValueError("implicit TLS and STARTTLS exclude each other")
    if ssl_context is None and (implicit_tls or starttls != "no"):
        ssl_context = client_context(verify=implicit_tls or starttls == "require")
    loop = asyncio.get_running_loop()
    conn = ClientConnection(timeouts=timeouts, now=loop.time(), tls=implicit_tls)
    # Built before connecting so that bad arguments fail without network traffic.
    session = ClientSession(
        conn,
        helo=helo,
        sender=sender,
        recipients=tuple(recipients),
        message=message,
        starttls=starttls,
        auth=auth,
        dsn=dsn,
        rcpt_dsn=rcpt_dsn,
        chunking=chunking,
        chunk_size=chunk_size,
        smtputf8=needs_smtputf8(sender, tuple(recipients)),
    )
    tls = ssl_context if implicit_tls else None
    reader, writer = await _connect(host, port, timeouts.connect, tls)
    driver = _Driver(reader, writer, transcript or _silent, f"{host}:{port}")
    if tls is not None:
        driver.tls_up()
    try:
        await driver.run(session, host, ssl_context)
    finally:
        await driver.close()
    return session.result()


async def _connect(
    host: str, port: int, timeout: float, tls: ssl.SSLContext | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to ``host:port``; with ``tls``, its TLS handshake done too
    (implicit TLS: the connect timeout covers both)."""
    where = f"{host}:{port}"
    try:
        async with asyncio.timeout(timeout):
            if tls is None:
                return await asyncio.open_connection(host, port)
            return await asyncio.open_connection(host, port, ssl=tls, server_hostname=host)
    except TimeoutError:
        raise ConnectError(f"connect to {where}: timed out after {timeout:g}s") from None
    except socket.gaierror as exc:
        raise ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from None
    except ssl.SSLError as exc:  # before OSError: it is one, but the TCP part worked
        reason = getattr(exc, "reason", None) or exc.strerror or exc
        raise SendError(f"TLS handshake with {where} failed: {reason}") from None
    except ConnectionResetError:  # a plain server drops the ClientHello it cannot read
        raise SendError(f"TLS handshake with {where} failed: connection reset") from None
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise ConnectError(f"connect to {where}: {reason}") from None


def _silent(line: str) -> None:
    pass


class _Driver:
    """Moves one session's bytes; keeps what it read beyond the current line."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        transcript: Transcript,
        where: str,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.transcript = transcript
        self.where = where
        # Bytes read but not yet given to the connection. Feeding it one line at a
        # time means that after "220 Ready to start TLS" anything more the server
        # sent is still here, where it can be refused (see _start_tls).
        self.unread = bytearray()

    async def run(self, session: ClientSession, host: str, context: ssl.SSLContext | None) -> None:
        conn = session.conn
        session.server = self._server_name(host)
        try:
            while not session.done:
                commands = session.next_commands()
                if commands:
                    failure = await self._send(conn, commands)
                    if failure is not None:
                        session.handle(failure)
                elif session.wants_tls:
                    assert context is not None
                    await self._start_tls(session, host, context)
                elif conn.awaiting:
                    session.handle(await self._next_event(conn))
                else:  # nothing to send, nothing to wait for: a bug in the session logic
                    raise RuntimeError(f"client session stalled in phase {session.result().phase}")
        except RemoteProtocolError as exc:
            # The server broke the protocol: believe nothing more, defer the rest, and
            # close without QUIT (the connection is in ERROR).
            self.transcript(f"-- protocol error: the server {exc}")
            session.protocol_error(exc, self._server_name(host))

    def _server_name(self, host: str) -> str:
        """The server as Postfix names it in its logs: ``name[address]``."""
        peer = self.writer.get_extra_info("peername")
        address = peer[0] if isinstance(peer, tuple) and peer else host
        return f"{host}[{address}]"

    async def _send(self, conn: ClientConnection, commands: list[Command]) -> Event | None:
        """Write one group in one write; the event that ended the session, if any."""
        now = asyncio.get_running_loop().time()
        data = b"".join(conn.send(command, now) for command in commands)
        if len(commands) > 1:
            self.transcript("C: [pipelined group: " + " ".join(c.verb for c in commands) + "]")
        for command in commands:
            self.transcript("C: " + _shown(command))
        has_content = any(isinstance(c, Message | Bdat) for c in commands)
        timeout = conn.timeouts.data_xfer if has_content else conn.timeouts.other
        try:
            self.writer.write(data)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError:
            return ReplyTimedOut(commands[-1])
        except ConnectionError:
            return ConnectionClosed()
        return None

    async def _next_event(self, conn: ClientConnection) -> Event:
        """The next reply (or close, or timeout), with the connection's reply timer."""
        loop = asyncio.get_running_loop()
        while True:
            event = conn.next_event(loop.time())
            if event is not NEED_DATA:
                assert isinstance(event, Event)
                return event
            if self._feed_line(conn):
                continue
            data = await self._read(conn.get_timer())
            if data is None:
                timed_out = conn.handle_timer(loop.time())
                if timed_out is not None:
                    self.transcript("-- timed out waiting for the server")
                    return timed_out
            elif data:
                self.unread += data
            else:  # the server closed: hand over what is left, then the end
                if self.unread:
                    conn.receive_data(bytes(self.unread))
                    self.unread.clear()
                conn.receive_data(b"")

    def _feed_line(self, conn: ClientConnection) -> bool:
        """Give the connection the next complete line read; ``False`` if none."""
        end = self.unread.find(b"\n")
        if end < 0:
            if len(self.unread) <= _MAX_LINE:
                return False
            end = len(self.unread) - 1  # let the core refuse an endless line
        line = bytes(self.unread[: end + 1])
        del self.unread[: end + 1]
        self.transcript("S: " + line.rstrip(b"\r\n").decode("ascii", "replace"))
        conn.receive_data(line)
        return True

    async def _read(self, deadline: float | None) -> bytes | None:
        """Bytes from the server; ``b""`` at the end; ``None`` at the deadline."""
        try:
            if deadline is None:
                return await self.reader.read(_READ_SIZE)
            async with asyncio.timeout_at(deadline):
                return await self.reader.read(_READ_SIZE)
        except TimeoutError:
            return None
        except ConnectionError:
            return b""

    async def _start_tls(self, session: ClientSession, host: str, context: ssl.SSLContext) -> None:
        if self.unread or discard_buffered(self.reader):
            # The server (or someone on the path) sent more after "220 Ready to
            # start TLS": it would be read as if it had come over TLS (RFC 3207 5).
            raise RemoteProtocolError("sent data after its reply to STARTTLS")
        try:
            async with asyncio.timeout(session.conn.timeouts.starttls):
                await self.writer.start_tls(context, server_hostname=host)
        except TimeoutError:
            raise SendError(f"TLS handshake with {self.where} timed out") from None
        except OSError as exc:  # ssl.SSLError and certificate errors are OSErrors
            reason = getattr(exc, "reason", None) or exc.strerror or exc
            raise SendError(f"TLS handshake with {self.where} failed: {reason}") from None
        self.tls_up()
        session.tls_established()

    def tls_up(self) -> None:
        """Say in the transcript which TLS the connection now has."""
        ssl_object = self.writer.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.transcript(f"-- TLS established: {ssl_object.version()} {ssl_object.cipher()[0]}")

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), _CLOSE_TIMEOUT)


def _shown(command: Command) -> str:
    """A command as the transcript shows it: content and secrets left out."""
    if isinstance(command, Message):
        return f"<message, {command.size} bytes>"
    if isinstance(command, Bdat):
        return f"BDAT {command.size}{' LAST' if command.last else ''} <{command.size} bytes>"
    if isinstance(command, AuthResponse):
        return "<credentials hidden>"
    if isinstance(command, Auth):
        hidden = " <credentials hidden>" if command.initial_response is not None else ""
        return f"AUTH {command.mechanism}{hidden}"
    return format_command(command).decode("utf-8", "replace").rstrip("\r\n")
