"""Shared helpers of the protocol tests: feed bytes to a connection whole or one byte
at a time, answer a server with its standard replies (or a policy's), and run a
client and a server against each other on the wire.

Not a test module (pytest collects only ``test_*.py``); the test modules import it by
name, as pytest puts this directory on ``sys.path``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

from smtpsim.protocol import (
    NEED_DATA,
    Auth,
    AuthResponse,
    ClientConnection,
    ClientTimeouts,
    Command,
    ConnectionClosed,
    Event,
    Reply,
    Response,
    ServerConfig,
    ServerConnection,
    replies,
    states,
)

HOST = "mx.example"
HELO = "client.example"

Policy = Callable[[Event, ServerConnection], Reply | None]
"""Answers a server event, or ``None`` for the connection's standard reply."""


def accept_password(password: str) -> Policy:
    """A policy that answers complete AUTH credentials: 235 with ``password``, else 535."""

    def policy(event: Event, conn: ServerConnection) -> Reply | None:
        creds = conn.credentials
        if isinstance(event, Auth | AuthResponse) and creds is not None:
            return replies.AUTH_OK if creds.password == password else replies.AUTH_FAILED
        return None

    return policy


def chunks(data: bytes, bytewise: bool) -> list[bytes]:
    """``data`` whole, or one byte at a time."""
    if not bytewise:
        return [data] if data else []
    return [data[i : i + 1] for i in range(len(data))]


def split_at(data: bytes, cuts: Iterable[int]) -> list[bytes]:
    """``data`` cut at the given offsets (out-of-range and repeated cuts are ignored)."""
    points = sorted({c for c in cuts if 0 < c < len(data)})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(edges) if b > a]


def server(*, greeting: Reply | None = None, **config: object) -> ServerConnection:
    """A server with ``ServerConfig(hostname=HOST, **config)`` that has sent its greeting."""
    conn = ServerConnection(ServerConfig(hostname=HOST, **config))  # type: ignore[arg-type]
    conn.send(greeting or conn.standard_reply())
    return conn


def serve_chunks(
    conn: ServerConnection,
    pieces: Iterable[bytes],
    *,
    policy: Policy | None = None,
    eof: bool = False,
) -> tuple[list[Event], bytes]:
    """Feed ``pieces`` to ``conn``, answering every event (with ``policy`` or the
    standard reply); return the events and the bytes of the replies.

    Reads nothing once the server is closed, or while it is in the TLS state (after a
    220 to STARTTLS) waiting for ``tls_established()``.
    """
    events: list[Event] = []
    out = bytearray()
    pieces = list(pieces)
    if eof:
        pieces.append(b"")
    for piece in pieces:
        conn.receive_data(piece)
        while conn.state != states.CLOSED:
            event = conn.next_event()
            if event is NEED_DATA:
                break
            assert isinstance(event, Event)
            events.append(event)
            if isinstance(event, ConnectionClosed):
                return events, bytes(out)
            reply = (policy(event, conn) if policy else None) or conn.standard_reply()
            out += conn.send(reply)
    return events, bytes(out)


def serve(
    conn: ServerConnection,
    data: bytes,
    *,
    bytewise: bool = False,
    policy: Policy | None = None,
    eof: bool = False,
) -> tuple[list[Event], bytes]:
    """``serve_chunks`` with ``data`` whole or one byte at a time."""
    return serve_chunks(conn, chunks(data, bytewise), policy=policy, eof=eof)


def serve_both(
    data: bytes,
    *,
    setup: bytes = b"",
    policy: Policy | None = None,
    eof: bool = False,
    **config: object,
) -> tuple[list[Event], bytes, ServerConnection]:
    """Run ``data`` through two fresh servers, whole and one byte at a time, after
    ``setup`` (fed whole, its events dropped); assert both give the same events and the
    same reply bytes, and return them with the server fed whole."""
    results = []
    for bytewise in (False, True):
        conn = server(**config)
        serve(conn, setup, policy=policy)
        events, out = serve(conn, data, bytewise=bytewise, policy=policy, eof=eof)
        results.append((events, out, conn))
    (whole_events, whole_out, conn), (byte_events, byte_out, byte_conn) = results
    assert whole_events == byte_events
    assert whole_out == byte_out
    assert conn.state == byte_conn.state
    return whole_events, whole_out, conn


def read_responses(
    client: ClientConnection, data: bytes, *, bytewise: bool = False, eof: bool = False
) -> list[Event]:
    """Feed reply bytes to ``client``; the events it gives."""
    events: list[Event] = []
    pieces = chunks(data, bytewise)
    if eof:
        pieces.append(b"")
    for piece in pieces:
        client.receive_data(piece)
        while True:
            event = client.next_event()
            if event is NEED_DATA:
                break
            assert isinstance(event, Event)
            events.append(event)
            if isinstance(event, ConnectionClosed):
                return events
    return events


class Pair:
    """A ``ClientConnection`` and a ``ServerConnection`` talking over bytes.

    ``exchange(*commands)`` sends the commands as one write (a pipelined group when
    there are several), lets the server answer every event, and feeds the replies back;
    ``wire`` keeps every write as ``("C", bytes)`` or ``("S", bytes)``.
    """

    def __init__(
        self,
        *,
        greeting: Reply | None = None,
        timeouts: ClientTimeouts | None = None,
        bytewise: bool = False,
        **config: object,
    ) -> None:
        self.server = ServerConnection(ServerConfig(hostname=HOST, **config))  # type: ignore[arg-type]
        self.client = ClientConnection(timeouts=timeouts)
        self.bytewise = bytewise
        banner = self.server.send(greeting or self.server.standard_reply())
        self.wire: list[tuple[str, bytes]] = [("S", banner)]
        self.greeting = read_responses(self.client, banner, bytewise=bytewise)

    def exchange(
        self, *commands: Command, policy: Policy | None = None
    ) -> tuple[list[Event], list[Event]]:
        """(server events, client events) of one round trip."""
        data = b"".join(self.client.send(c) for c in commands)
        self.wire.append(("C", data))
        events, out = serve(self.server, data, bytewise=self.bytewise, policy=policy)
        self.wire.append(("S", out))
        return events, read_responses(self.client, out, bytewise=self.bytewise)

    def replies(self, *commands: Command, policy: Policy | None = None) -> list[Reply]:
        """The replies the client got to ``commands``, checked to pair with them."""
        _, responses = self.exchange(*commands, policy=policy)
        assert [r.command for r in responses if isinstance(r, Response)] == list(commands)
        return [r.reply for r in responses if isinstance(r, Response)]

    def states(self) -> tuple[str, str]:
        return self.client.state, self.server.state
