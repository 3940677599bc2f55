"""An asyncio SMTP server: real sockets around ``ServerConnection`` and ``ServerSession``.

``smtpsim serve`` runs this. Each accepted TCP connection gets its own
``ServerConnection`` (grammar, sequence rules, limits) and ``mail.ServerSession``
(policies: relay control, local recipients, passwords, injected faults); this module
only moves bytes between them and the socket, reads the clock for the idle timer,
performs the TLS handshake after STARTTLS, and hands accepted messages to a
``Store`` (for example ``MaildirWriter``) under a queue id of its own.

Why these choices:

- Replies are collected while the client's input holds complete commands and written
  in one go when the server needs more input: that is how a server answers a
  pipelined group (RFC 2920 section 3.2) and it costs nothing otherwise.
- Over the connection limit a client gets ``421`` as its greeting and is closed, the
  one way RFC 5321 (section 3.8) lets a server turn a client away, instead of being
  left waiting in the listen backlog.
- Every session is closed (``ServerSession.close``) when its connection ends,
  whatever ended it, so that policies counting connections per client
  (``RateLimit``) give the slot back; the extra time policies report per command
  (``take_delay``) is discarded, since here it has really passed.
- Queue ids come from a counter, not from random numbers, so that a run's log and
  file names are reproducible.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Sequence
from dataclasses import replace

from ..mail import Client, Envelope, Policy, PolicySet, ServerSession
from ..protocol import (
    NEED_DATA,
    Command,
    CommandError,
    ConnectionClosed,
    Event,
    IdleTimedOut,
    Mail,
    Message,
    Rcpt,
    Reply,
    ServerConfig,
    ServerConnection,
    replies,
    states,
)
from .tls import discard_buffered

__all__ = ["QueueIds", "SMTPServer", "Store"]

Store = Callable[[str, Envelope, Message, Client], None]
"""Takes an accepted message with its queue id, its envelope (accepted recipients
only) and the client; stores it or raises ``OSError``."""

_READ_SIZE = 1 << 20  # larger than a StreamReader ever buffers: one read drains it
_CLOSE_TIMEOUT = 2.0  # seconds to wait for a closing socket (a TLS close_notify)

# Postfix's reply when it cannot write the queue file (cleanup(8)); the protocol
# catalogue has no such reply yet, see the report on smtpsim.protocol.replies.

_logger = logging.getLogger("smtpsim.serve")


class QueueIds:
    """Postfix-style queue ids: 10 upper-case hex digits, from a counter.

    ``QueueIds(1)`` gives ``0000000001``, ``0000000002``... The same server run
    gives the same ids, unlike Postfix's time-based ones.
    """

    def __init__(self, start: int = 1) -> None:
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        self._next = start

    def __call__(self) -> str:
        queue_id = f"{self._next:010X}"
        self._next += 1
        return queue_id


class SMTPServer:
    """An SMTP server on a TCP port. Use ``start()`` and ``close()``, or ``async with``.

    ``ssl_context`` (a server-side ``ssl.SSLContext`` with a certificate loaded)
    enables STARTTLS; without it STARTTLS is not offered, whatever ``config`` says.
    With ``config.tls_wrapper`` (port 465 behaviour, RFC 8314 implicit TLS) the
    listening socket itself speaks TLS, from the first byte; with
    ``config.tls_required`` (``smtpd_tls_security_level = encrypt``, the submission
    port's usual set-up) the protocol core refuses mail before STARTTLS. Both need
    ``ssl_context``.
    ``log`` receives one line per accepted message and per refused command, in the
    style of Postfix's maillog (default: the ``smtpsim.serve`` logger at INFO).
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        policies: Sequence[Policy] = (),
        store: Store | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 100,
        queue_ids: QueueIds | None = None,
        log: Callable[[str], None] | None = None,
        end_of_data_delay: float = 0.0,
    ) -> None:
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections}")
        if not end_of_data_delay >= 0:
            raise ValueError(f"end_of_data_delay must be >= 0, got {end_of_data_delay}")
        if (config.tls_required or config.tls_wrapper) and ssl_context is None:
            raise ValueError("implicit or required TLS needs an ssl_context")
        self.config = replace(config, starttls=ssl_context is not None)
        self.policies = PolicySet(policies)  # indexed by phase once, not per session
        self.store = store
        self.ssl_context = ssl_context
        self.max_connections = max_connections  # Postfix: default_process_limit = 100
        self.queue_ids = queue_ids or QueueIds()
        self._log_line: Callable[[str], None] = log or _logger.info
        # the wait before the reply to the end of data: what a content filter or a slow
        # disk takes (the scenario's processing.end_of_data); the session holds its
        # connection meanwhile, so a client's deliveries back up behind it
        self.end_of_data_delay = end_of_data_delay
        self.messages_accepted = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def log(self, line: str) -> None:
        """Hand one log line to the ``log`` callback, made printable first: addresses
        may hold any byte (undecodable ones arrive as surrogates), and a log line
        must neither break a terminal nor fail to encode."""
        self._log_line(_printable(line))

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen on ``host:port`` (port 0: any free port); return the real address.

        Raises ``OSError`` when the address cannot be bound.
        """
        # Implicit TLS: the handshake comes before the greeting, done by asyncio.
        wrapped = self.ssl_context if self.config.tls_wrapper else None
        self._server = await asyncio.start_server(self._handle, host, port, ssl=wrapped)
        return self.address

    @property
    def address(self) -> tuple[str, int]:
        """The ``(host, port)`` listened on."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the server is not listening")
        sockname = self._server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    @property
    def connections(self) -> int:
        """How many client connections are open now."""
        return len(self._tasks)

    async def close(self) -> None:
        """Stop listening and end every open session."""
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SMTPServer:
        if self._server is None:
            await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # --- one connection -----------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        over_limit = len(self._tasks) >= self.max_connections
        self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        client = Client(ip=str(peer[0]) if peer else "unknown")
        try:
            await self._converse(reader, writer, client, over_limit=over_limit)
        except asyncio.CancelledError:
            pass  # the server is closing
        except Exception as exc:  # a bug in smtpsim: end this session, keep serving
            self.log(f"error: session with {client.name} failed: {exc!r}")
            _logger.exception("session with %s failed", client.name)
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), _CLOSE_TIMEOUT)

    async def _converse(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        client: Client,
        *,
        over_limit: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        conn = ServerConnection(self.config, now=loop.time())
        session = ServerSession(conn, client, self.policies, self._deliver)
        try:
            await self._run_session(reader, writer, conn, session, over_limit=over_limit)
        finally:
            # However the session ended (QUIT, 421, timeout, the client went away,
            # the server closing): policies that count connections learn of it.
            session.close(loop.time())

    async def _run_session(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        conn: ServerConnection,
        session: ServerSession,
        *,
        over_limit: bool,
    ) -> None:
        # ``conn`` is the session's connection, as the class it is: the driver reads
        # and writes bytes through it (the session knows it by what it asks of it).
        loop = asyncio.get_running_loop()
        client = session.client
        out = bytearray()

        # Over the limit: 421 as the greeting, the one polite way to turn a client away.
        greeting = replies.SERVICE_UNAVAILABLE if over_limit else session.greeting(loop.time())
        session.take_delay()  # see _answer
        self._log_refusal(session, conn, "CONNECT", None, greeting)
        out += conn.send(greeting, loop.time())
        last_verb = "CONNECT"  # for the log line of a timeout, as Postfix writes it

        while conn.state != states.CLOSED:
            if conn.state == states.TLS:
                # The 220 to STARTTLS is queued: send it, then shake hands.
                if not await self._flush(writer, out) or not await self._start_tls(
                    reader, writer, session
                ):
                    return
                continue
            event = conn.next_event(loop.time())
            if event is NEED_DATA:
                if not await self._flush(writer, out):
                    return
                data = await self._read(reader, conn)
                if data is None:  # the idle timer expired
                    timed_out = conn.handle_timer(loop.time())
                    if timed_out is not None:
                        self.log(f"timeout after {last_verb} from {client.name}")
                        out += conn.send(session.answer(timed_out, loop.time()), loop.time())
                    continue
                conn.receive_data(data, loop.time())
                continue
            if isinstance(event, ConnectionClosed):
                break
            assert isinstance(event, Event)
            verb = _verb(event)
            reply = self._answer(session, conn, event, verb)
            if self.end_of_data_delay and isinstance(event, Message):
                await asyncio.sleep(self.end_of_data_delay)
            out += conn.send(reply, loop.time())
            last_verb = verb
        await self._flush(writer, out)

    def _answer(
        self, session: ServerSession, conn: ServerConnection, event: Event, verb: str
    ) -> Reply:
        """The session's reply to ``event``, logging refusals and store failures."""
        now = asyncio.get_running_loop().time()
        reply = session.answer(event, now)  # a store failure becomes 451 4.3.0 there
        # Policies report the server time their lookups would take; here lookups
        # are real (or instant, like StaticDnsbl) and that time has already passed.
        session.take_delay()
        self._log_refusal(session, conn, verb, event, reply)
        return reply

    def _deliver(self, envelope: Envelope, message: Message, client: Client) -> str:
        """``ServerSession``'s deliver callback: a queue id, the store, a log line."""
        queue_id = self.queue_ids()
        if self.store is not None:
            try:
                self.store(queue_id, envelope, message, client)
            except OSError as exc:
                self.log(f"warning: cannot store message from {client.name}: {exc}")
                raise
        self.messages_accepted += 1
        to = ",".join(f"<{r}>" for r in envelope.recipients)
        self.log(
            f"{queue_id}: from=<{envelope.sender}>, to={to}, size={envelope.size}, "
            f"client={client.name}"
        )
        return queue_id

    def _log_refusal(
        self,
        session: ServerSession,
        conn: ServerConnection,
        verb: str,
        event: Event | None,
        reply: Reply,
    ) -> None:
        """One line per 4xx/5xx reply, like Postfix's ``NOQUEUE: reject: ...``."""
        if reply.code < 400 or isinstance(event, IdleTimedOut):
            return
        line = f"NOQUEUE: reject: {verb} from {session.client.name}: {reply}"
        # The sender of the open transaction, as the connection knows it.
        sender = event.sender if isinstance(event, Mail) else conn.sender
        if sender is not None:
            line += f"; from=<{sender}>"
        if isinstance(event, Rcpt):
            line += f" to=<{event.recipient}>"
        self.log(line)

    # --- I/O helpers ----------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader, conn: ServerConnection) -> bytes | None:
        """The next bytes from the client; ``b""`` at the end; ``None`` on a timeout."""
        deadline = conn.get_timer()
        try:
            if deadline is None:
                return await reader.read(_READ_SIZE)
            async with asyncio.timeout_at(deadline):
                return await reader.read(_READ_SIZE)
        except TimeoutError:
            return None
        except ConnectionError:
            return b""

    async def _flush(self, writer: asyncio.StreamWriter, out: bytearray) -> bool:
        """Write the collected replies; ``False`` if the client is gone or stuck."""
        if not out:
            return True
        try:
            writer.write(bytes(out))
            out.clear()
            async with asyncio.timeout(self.config.idle_timeout):
                await writer.drain()
        except (ConnectionError, TimeoutError):
            return False
        return True

    async def _start_tls(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        session: ServerSession,
    ) -> bool:
        """The TLS handshake after ``220 Ready to start TLS``; ``False`` if it failed."""
        assert self.ssl_context is not None  # STARTTLS is only offered with a context
        if discard_buffered(reader):
            # RFC 3207 section 4.2 / CVE-2011-0411: commands sent in the clear after
            # STARTTLS must not be executed as if they had come over TLS. No await
            # between this and start_tls(), which stops reading in the clear at once.
            self.log(f"warning: {session.client.name}: discarded plaintext after STARTTLS")
        try:
            async with asyncio.timeout(self.config.idle_timeout):
                await writer.start_tls(self.ssl_context)
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            self.log(f"SSL_accept error from {session.client.name}: {exc or 'timeout'}")
            return False
        session.tls_established()
        return True


def _printable(text: str) -> str:
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if c.isprintable() and c.isascii() else ascii(c)[1:-1] for c in text)


def _verb(event: Event) -> str:
    """The command word for log lines, with Postfix's name for the end of data."""
    verb = event.verb if isinstance(event, Command | CommandError) else ""
    if verb == ".":
        return "END-OF-MESSAGE"
    return verb or "COMMAND"
