"""One SMTP session in simulated time: the protocol core's client and server
machines in lockstep (docs/architecture.md, section 3, "Two ways to run a session").

The client's ``ClientSession`` emits command groups; the server's connection and
policies answer them; the elapsed time is the sum of what the session costs:

- TCP connect: one round trip; the greeting: half a round trip after the server's
  greeting delay (the server sees the connection at the end of the handshake);
- each command group (one command, or a pipelined MAIL, RCPT..., DATA): one round
  trip plus the server's processing of each command in turn;
- the message: its transfer at its share of the path's bandwidth (``transfer``),
  then one round trip and the server's end-of-data processing;
- with CHUNKING (RFC 3030: the client sends BDAT, the server offers it): the chunks
  go in the group of the envelope when the server pipelines (MAIL, RCPT..., BDAT...,
  BDAT LAST: the round trip of DATA is saved), else one chunk per round trip. One
  transfer covers a group's chunks, and the server takes each chunk once its last
  octet is in (the group's transfer time in proportion of the octets before it), after
  a command's processing time, the last one after the end-of-data time;
- QUIT: nothing if the client does not wait for the reply
  (``smtp_skip_quit_response``), else one round trip;
- a cached connection (``live``): no connect, greeting or EHLO, but an RSET round
  trip first; ``keep_open`` ends the session without QUIT so that it can be cached.

Policies see the exact virtual time at which each command reaches the server, and
the time they spend (a DNSBL lookup) is added to the server's processing. The caller
closes the server session (its policies' ``ended``: anvil's connection count) when
the session ends in simulated time, or when a cached connection is closed.
Time advances once for the whole session (one SimPy event); ``wire=True`` writes
and parses every line instead of passing events, and must give the same result.

A server that answers what RFC 5321 does not allow there (a fault that forces a
``250`` at DATA, a ``354`` at MAIL: ``states.POSSIBLE``) breaks the session: the
client core raises ``RemoteProtocolError``, and every recipient not yet settled is
deferred with Postfix's words, ``451 4.5.0 Protocol error: host mx.example[10.0.0.1]
said: 250 2.0.0 Ok (in reply to DATA command)``, at the time that reply reached the
client; nothing is delivered on its word and the connection is not cached. The code
is a decision: Postfix itself bounces such replies with 5.5.0 (``smtp_trouble.c``,
``vsmtp_fill_dsn``), smtpsim defers them so that the message stays queued and is
retried, as after a lost connection (RFC 5321 sections 3.8 and 4.2.5; see
``replies.protocol_error``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, TypeAlias, cast

from ..mail import Client, Envelope, PolicySet, ServerSession
from ..protocol import (
    Bdat,
    ClientConnection,
    ClientSession,
    ClientTimeouts,
    Command,
    Credentials,
    Event,
    Message,
    RemoteProtocolError,
    Reply,
    Response,
    ServerConfig,
    ServerConnection,
    SessionResult,
)
from ..protocol.client_session import DEFAULT_CHUNK_SIZE
from ..protocol.states import CLOSED

# What a tape holds, in order: a value drawn (a processing time, a transfer time), or
# a consult's verdict with the policies' delay.
Taken: TypeAlias = float | tuple[Reply, float]
# A consult as the machines made it: the greeting with the server's standard reply,
# or a command with its event, standard reply and the SASL credentials then held.
GreetingOp: TypeAlias = tuple[int, Reply]
CommandOp: TypeAlias = tuple[int, Event, Reply, Credentials | None]
Op: TypeAlias = int | GreetingOp | CommandOp  # an int: a step (GROUP, CONTENT, ...)

__all__ = [
    "ClientSide",
    "Live",
    "ServerSide",
    "SessionOutcome",
    "SessionRequest",
    "Tape",
    "converse",
]

# A TLS handshake after STARTTLS: TCP is up, TLS 1.2/1.3 full handshake is about
# one more round trip beyond the STARTTLS exchange (RFC 2920, RFC 3207: 1-2 RTT).
_TLS_HANDSHAKE_RTTS = 1.0


# What a session does besides running the machines, in the order it does it, as a
# ``Tape`` writes it down (``session_memo`` replays these): the time arithmetic of
# ``converse``, step by step. The two consults (the server's policies answering the
# greeting or a command) are tuples: ``(GREETING, standard reply)`` and ``(COMMAND,
# event, standard reply, credentials)``.
GREETING, GREETED, TLS, HANDSHAKE_DONE, GROUP, CONTENT, COMMAND, GROUP_END = range(8)


class Tape:
    """What one run of ``converse`` took from outside and what it did, in order.

    ``given`` holds values already obtained for this session (by a memo walk that
    stopped half way, see ``session_memo``): draws, transfer times and the policies'
    ``(reply, delay)``; ``converse`` takes them in order before it asks for new ones.
    ``strict`` forbids asking for new ones (a check that must not touch the policies).
    Everything taken is appended to ``taken``; the steps to ``ops``; each consult's
    reply to ``replies``. ``server`` is the ``ServerSession`` the walk was using, and
    ``accepted`` what it accepted so far: the session goes on with both.
    """

    __slots__ = (
        "accepted",
        "broke",
        "delay",
        "given",
        "ops",
        "replies",
        "server",
        "strict",
        "taken",
    )

    def __init__(
        self,
        given: list[Taken] | None = None,
        server: ServerSession | None = None,
        accepted: list[tuple[Envelope, str]] | None = None,
        strict: bool = False,
    ) -> None:
        self.given: deque[Taken] = deque(given or ())
        self.server = server
        self.accepted = [] if accepted is None else accepted
        self.strict = strict
        self.taken: list[Taken] = []
        self.ops: list[Op] = []
        self.replies: list[Reply] = []
        self.delay = 0.0
        self.broke = False

    def _next_given(self) -> Taken | object:
        if self.given:
            return self.given.popleft()
        if self.strict:
            raise TapeExhausted("the session asked for more than it was given")
        return _NOTHING

    def value(self, source: Callable[..., float]) -> Callable[..., float]:
        """``source`` (a draw, or the transfer time), taken from ``given`` first."""
        taken = self.taken

        def take(*args: float) -> float:
            given = self._next_given()
            if type(given) is tuple:
                raise TapeExhausted(f"a consult was given where a value was taken: {given!r}")
            value = source(*args) if given is _NOTHING else cast(float, given)
            taken.append(value)
            return value

        return take

    def consults(
        self,
        sconn: ServerConnection,
        greet: Callable[[float], Reply],
        answer: Callable[[Event, float], Reply],
        take_delay: Callable[[], float],
    ) -> tuple[Callable[[float], Reply], Callable[[Event, float], Reply], Callable[[], float]]:
        """The greeting, the answer to a command and the policies' delay, each one
        written down (with what the memo needs to replay it) or taken from ``given``."""

        def consult(step: Op, ask: Callable[[], Reply]) -> Reply:
            given = self._next_given()
            verdict: tuple[Reply, float]
            if given is _NOTHING:
                verdict = (ask(), take_delay())
            elif type(given) is tuple:
                verdict = cast(tuple[Reply, float], given)
            else:
                raise TapeExhausted(f"a value was given where a consult was taken: {given!r}")
            reply, self.delay = verdict
            self.taken.append(verdict)
            self.ops.append(step)
            self.replies.append(reply)
            return reply

        def tape_greet(now: float) -> Reply:
            return consult((GREETING, sconn.standard_reply()), lambda: greet(now))

        def tape_answer(event: Event, now: float) -> Reply:
            step = (COMMAND, event, sconn.standard_reply(), sconn.credentials)
            return consult(step, lambda: answer(event, now))

        def tape_delay() -> float:
            return self.delay

        return tape_greet, tape_answer, tape_delay


class TapeExhausted(Exception):  # not RuntimeError: mypyc compiles Exception subclasses only
    """A session asked for a value its strict tape did not hold (``session_memo``
    verification: the machines went where the memo did not)."""


_NOTHING = object()


@dataclass(frozen=True, slots=True)
class ClientSide:
    """What the sending host brings to a session (built once per host)."""

    helo: str
    timeouts: ClientTimeouts
    starttls: str = "no"
    auth: tuple[str, str] | None = None
    wait_for_quit: bool = False
    pipelining: bool = True
    # A mail client's (issue 13): its SASL mechanisms in order of preference, and
    # implicit TLS (port 465, RFC 8314), a property of the connection.
    auth_mechanisms: tuple[str, ...] = ("PLAIN", "LOGIN")
    implicit_tls: bool = False
    # Where TLS falls short of the sender's policy for one server, the reply that ends
    # the session (``smtpsim.mail.tls.plan``; the TLS client makes a side per verdict).
    tls_failure: Reply | None = None
    # BDAT (RFC 3030) when the server offers CHUNKING, in chunks of ``chunk_size``
    # octets (``ClientSession``); Postfix's client does not (its smtp_proto.c has no BDAT).
    chunking: bool = False
    chunk_size: int = DEFAULT_CHUNK_SIZE


@dataclass(frozen=True, slots=True)
class ServerSide:
    """What the receiving host brings (built once per host)."""

    config: ServerConfig
    policies: PolicySet
    greeting_delay: Callable[[], float]
    command_time: Callable[[], float]
    end_of_data_time: Callable[[], float]
    name: str = "unknown[unknown]"  # as Postfix names a server in its logs: name[ip]


@dataclass(frozen=True, slots=True)
class Live:
    """An open connection between two hosts, both ends, as the cache keeps it."""

    client: ClientConnection
    server: ServerConnection
    session: ServerSession
    opened: float  # when the TCP connection was made (for the reuse time limit)
    uses: int  # transactions so far (Postfix logs it as conn_use)


class SessionOutcome:
    """The session's result and its timing, in seconds from its start.

    ``handshake_s``: connect, greeting, EHLO, STARTTLS, AUTH (Postfix's delay ``c``);
    ``accepted``: the recipients the server took the message for, empty if none.

    A plain class with read-only (``Final``) attributes rather than a frozen
    dataclass: one is made per session, and mypyc compiles this ``__init__`` into
    direct stores, where a dataclass's generated one runs interpreted and sets each
    field through ``object.__setattr__`` (45 ns against 565 ns for four fields,
    benchmarks/RESULTS.md). ``_cut`` makes a changed copy by hand.
    """

    __slots__ = (
        "accepted",
        "duration",
        "handshake_s",
        "live",
        "past_handshake",
        "queue_id",
        "result",
        "server",
    )

    def __init__(
        self,
        result: SessionResult,
        duration: float,
        handshake_s: float,
        accepted: tuple[str, ...],
        past_handshake: bool,
        queue_id: str = "",
        live: Live | None = None,  # the connection, when it was kept open for reuse
        server: ServerSession | None = None,  # to close when the session ends in time
    ) -> None:
        self.result: Final = result
        self.duration: Final = duration
        self.handshake_s: Final = handshake_s
        self.accepted: Final = accepted
        self.past_handshake: Final = past_handshake
        self.queue_id: Final = queue_id
        self.live: Final = live
        self.server: Final = server

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in _OUTCOME_FIELDS)
        return f"SessionOutcome({fields})"


_OUTCOME_FIELDS = (
    "result",
    "duration",
    "handshake_s",
    "accepted",
    "past_handshake",
    "queue_id",
    "live",
    "server",
)


class SessionRequest:
    """One session to run: who talks to whom, about which message, over which path.

    A plain class with read-only (``Final``) attributes, neither a named tuple nor
    a frozen dataclass: one is made per session, and mypyc compiles this
    ``__init__`` into direct stores, where a named tuple's ``__new__`` and a
    dataclass's ``__init__`` run interpreted (0.8 to 1.5 us for this one as a named tuple,
    benchmarks/RESULTS.md). ``with_transfer`` makes the one changed copy needed.

    ``peer`` is the client as the server sees it (its address and name, for the
    policies); ``transfer(size, start, now)`` is how long the message takes to cross
    the path; ``queue_id`` names a message the server accepts (its ``250 ... queued
    as``). ``live`` is a cached connection to go on with; ``keep_open`` asks to keep
    the connection for the next message (``Live`` in the outcome); ``wire`` writes
    and parses every line; ``smtputf8``: the message needs SMTPUTF8 (RFC 6531).
    """

    __slots__ = (
        "client",
        "keep_open",
        "live",
        "peer",
        "queue_id",
        "recipients",
        "rtt",
        "sender",
        "server",
        "size",
        "smtputf8",
        "t0",
        "transfer",
        "wire",
    )

    def __init__(
        self,
        client: ClientSide,
        server: ServerSide,
        peer: Client,
        sender: str,
        recipients: list[str],
        size: int,
        rtt: float,
        transfer: Callable[[int, float, float], float],
        t0: float,
        queue_id: Callable[[], str],
        wire: bool = False,
        live: Live | None = None,
        keep_open: bool = False,
        smtputf8: bool = False,
    ) -> None:
        self.client: Final = client
        self.server: Final = server
        self.peer: Final = peer
        self.sender: Final = sender
        self.recipients: Final = recipients
        self.size: Final = size
        self.rtt: Final = rtt
        self.transfer: Final = transfer
        self.t0: Final = t0
        self.queue_id: Final = queue_id
        self.wire: Final = wire
        self.live: Final = live
        self.keep_open: Final = keep_open
        self.smtputf8: Final = smtputf8

    def with_transfer(self, transfer: Callable[[int, float, float], float]) -> SessionRequest:
        """The same session over a path whose transfer times come from ``transfer``."""
        return SessionRequest(
            self.client,
            self.server,
            self.peer,
            self.sender,
            self.recipients,
            self.size,
            self.rtt,
            transfer,
            self.t0,
            self.queue_id,
            self.wire,
            self.live,
            self.keep_open,
            self.smtputf8,
        )


def accepting(
    accepted: list[tuple[Envelope, str]], queue_id: Callable[[], str]
) -> Callable[[Envelope, Message, Client], str]:
    """The server's ``deliver`` for one session: it names each message it takes with
    ``queue_id()`` (its ``250 ... queued as``) and keeps it in ``accepted``."""

    def deliver(envelope: Envelope, message: Message, who: Client) -> str:
        accepted.append((envelope, queue_id()))
        return accepted[-1][1]

    return deliver


def converse(request: SessionRequest, tape: Tape | None = None) -> SessionOutcome:
    """Run one whole session from ``request.t0``; nothing here yields to SimPy.

    With a ``tape`` (``session_memo``), the session also writes down what it did, and
    takes the values the tape already holds instead of drawing or asking them again.
    """
    client, server, peer, sender = request.client, request.server, request.peer, request.sender
    recipients, size, rtt, t0 = request.recipients, request.size, request.rtt, request.t0
    transfer, queue_id, wire = request.transfer, request.queue_id, request.wire
    live, keep_open = request.live, request.keep_open
    half = rtt * 0.5
    accepted: list[tuple[Envelope, str]] = [] if tape is None else tape.accepted

    deliver = accepting(accepted, queue_id)
    if live is None:
        cconn = ClientConnection(timeouts=client.timeouts, now=t0, tls=client.implicit_tls)
        sconn = ServerConnection(server.config, now=t0)
        if tape is not None and tape.server is not None:  # a memo walk went this far
            ssession = tape.server
            ssession.conn, ssession.deliver = sconn, deliver
        else:
            ssession = ServerSession(sconn, peer, server.policies, deliver)
    else:
        cconn, sconn, ssession = live.client, live.server, live.session
        ssession.deliver = deliver
        ssession.policies = server.policies  # the server's policies now (incidents change them)
    csession = ClientSession(
        cconn,
        helo=client.helo,
        sender=sender,
        recipients=recipients,
        message=Message(size),
        starttls=client.starttls,
        auth=client.auth,
        wait_for_quit=client.wait_for_quit,
        pipelining=client.pipelining,
        keep_open=keep_open,
        reuse=live is not None,
        mechanisms=client.auth_mechanisms,
        tls_failure=client.tls_failure,
        chunking=client.chunking,
        chunk_size=client.chunk_size,
        smtputf8=request.smtputf8,
        server=server.name,
    )
    # Bound methods, looked up once: this loop runs for every command of every session.
    submit, receive_command, server_answer = cconn.submit, sconn.receive_command, sconn.answer
    policy_answer: Callable[[Event, float], Reply] = ssession.answer
    receive_reply = cconn.receive_reply
    handle, next_commands = csession.handle, csession.next_commands
    take_delay: Callable[[], float] = ssession.take_delay
    greet: Callable[[float], Reply] = ssession.greeting
    greeting_delay, command_time = server.greeting_delay, server.command_time
    end_of_data_time = server.end_of_data_time
    log = None
    if tape is not None:
        log = tape.ops
        greeting_delay, command_time = tape.value(greeting_delay), tape.value(command_time)
        end_of_data_time, transfer = tape.value(end_of_data_time), tape.value(transfer)
        greet, policy_answer, take_delay = tape.consults(sconn, greet, policy_answer, take_delay)

    handshake_end: float | None = None
    t = t_server = t0
    try:
        if live is None:
            # Connect, then the greeting: the server sees the client after the handshake.
            t_server = t0 + rtt + greeting_delay()
            if client.implicit_tls:  # the TLS handshake comes before the greeting
                t_server += _TLS_HANDSHAKE_RTTS * rtt
            greeting = greet(t_server)
            t_server += take_delay()
            if wire:
                cconn.receive_data(sconn.send(greeting, t_server))
                handle(_read_reply(cconn, t_server))
            else:
                server_answer(greeting, t_server)
                handle(receive_reply(greeting, t_server))
            t = t_server + half
            if log is not None:
                log.append(GREETED)
        else:
            t = t0
        while not csession.done:
            group = next_commands()
            if not group:
                if not csession.wants_tls:
                    break
                t += _TLS_HANDSHAKE_RTTS * rtt
                csession.tls_established()
                ssession.tls_established()
                if log is not None:
                    log.append(TLS)
                continue
            verb = group[0].verb
            if handshake_end is None and (verb == "MAIL" or verb == "QUIT"):
                handshake_end = t
                if log is not None:
                    log.append(HANDSHAKE_DONE)
            if verb == "QUIT" and not client.wait_for_quit:
                if wire:
                    cconn.send(group[0], t)
                else:
                    submit(group[0], t)
                break
            if type(group[-1]) is Bdat:  # BDAT chunks (module docstring); not memoized
                t_server = _chunk_group(
                    group,
                    t,
                    half,
                    transfer,
                    t0,
                    command_time,
                    end_of_data_time,
                    (cconn, sconn, csession, policy_answer, take_delay, wire),
                )
                t = t_server + half
                continue
            if verb == ".":
                t_server = t + half + transfer(size, t, t0)
                service = end_of_data_time
                if log is not None:
                    log.append(CONTENT)
            else:
                t_server = t + half
                service = command_time
                if log is not None:
                    log.append(GROUP)
            # The client sends the whole group; the server then takes it command by command.
            if wire:
                sconn.receive_data(b"".join([cconn.send(command, t) for command in group]))
                for _ in group:
                    t_server += service()
                    event = sconn.next_event(t_server)
                    assert isinstance(event, Event)  # the whole group was received
                    reply = policy_answer(event, t_server)
                    t_server += take_delay()
                    cconn.receive_data(sconn.send(reply, t_server))
                    handle(_read_reply(cconn, t_server))
                    if sconn.state == CLOSED:
                        break
            else:
                for command in group:
                    submit(command, t)
                for command in group:
                    t_server += service()
                    reply = policy_answer(receive_command(command, t_server), t_server)
                    t_server += take_delay()
                    server_answer(reply, t_server)
                    handle(receive_reply(reply, t_server))
                    if sconn.state == CLOSED:
                        break
            t = t_server + half
            if log is not None:
                log.append(GROUP_END)
    except RemoteProtocolError as exc:  # the server broke the protocol (module docstring)
        t = t_server + half
        csession.protocol_error(exc, server.name)
        if tape is not None:
            tape.broke = True
    if handshake_end is None:
        handshake_end = t
    kept = None
    if csession.kept_open:
        opened, uses = (t0, 1) if live is None else (live.opened, live.uses + 1)
        kept = Live(cconn, sconn, ssession, opened, uses)
    return SessionOutcome(
        csession.result(),
        t - t0,
        handshake_end - t0,
        accepted[0][0].recipients if accepted else (),
        handshake_end < t,
        accepted[0][1] if accepted else "",
        kept,
        ssession,
    )


_Machines: TypeAlias = tuple[
    ClientConnection,
    ServerConnection,
    ClientSession,
    Callable[[Event, float], Reply],
    Callable[[], float],
    bool,
]


def _chunk_group(
    group: list[Command],
    sent_at: float,
    half: float,
    transfer: Callable[[int, float, float], float],
    t0: float,
    command_time: Callable[[], float],
    end_of_data_time: Callable[[], float],
    machines: _Machines,
) -> float:
    """Run a command group that ends with BDAT chunks (module docstring): the time at
    which the server sent its last reply. The client sends the group at ``sent_at``,
    its first octets reach the server ``half`` a round trip later; the machines are
    driven as ``converse`` drives them, on the wire or not."""
    cconn, sconn, csession, policy_answer, take_delay, wire = machines
    start = t = sent_at + half
    octets = sum(c.size for c in group if type(c) is Bdat)
    seconds = transfer(octets, start, t0) if octets else 0.0
    arrivals: list[float] = []
    sent = 0
    for command in group:
        if type(command) is Bdat:
            sent += command.size
            arrivals.append(start + (seconds * sent / octets if octets else 0.0))
        else:
            arrivals.append(start)
    if wire:
        sconn.receive_data(b"".join([cconn.send(command, sent_at) for command in group]))
    else:
        for command in group:
            cconn.submit(command, sent_at)
    for command, arrival in zip(group, arrivals, strict=True):
        if arrival > t:
            t = arrival
        last = type(command) is Bdat and command.last
        t += end_of_data_time() if last else command_time()
        if wire:
            event = sconn.next_event(t)
            assert isinstance(event, Event)  # the whole group was received
        else:
            event = sconn.receive_command(command, t)
        reply = policy_answer(event, t)
        t += take_delay()
        if wire:
            cconn.receive_data(sconn.send(reply, t))
            csession.handle(_read_reply(cconn, t))
        else:
            sconn.answer(reply, t)
            csession.handle(cconn.receive_reply(reply, t))
        if sconn.state == CLOSED:
            break
    return t


def _read_reply(cconn: ClientConnection, now: float) -> Response:
    event = cconn.next_event(now)
    if not isinstance(event, Response):
        raise AssertionError(f"wire mode: expected a whole reply, got {event!r}")
    return event
