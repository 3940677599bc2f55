"""The session memo: replay what the protocol machines did for sessions of a known shape.

Most sessions of a run have the same shape: the same client and server (their
configurations), the same number of recipients, the same verdicts of the server's
policies. For a given shape the four machines of ``converse`` (``ClientSession``,
``ClientConnection``, ``ServerConnection``, and the server's standard replies) always
do the same thing; only the values that come from outside differ: the random draws
(server processing times), the transfer time, and what the policies answer.

So the first session of a shape runs the real machines with a ``Tape`` that writes
down the steps (``session.GREETING`` ... ``GROUP_END``), and the memo keeps them as a
decision tree: a node runs its steps up to the next consult of the policies, and the
verdict (the reply's code; the whole reply after EHLO and AUTH, whose text the client
reads) picks the child. A later session of the shape walks the tree: it draws the same
random numbers in the same order, asks the real ``ServerSession`` (so greylisting,
rate limits and DNSBLs keep their state and side effects) at the same points with the
same events, and builds the same ``SessionOutcome``. At the first verdict the tree
has not seen, it hands what it obtained so far to the machines (``Tape.given``), which
go on from there with the real policies, and the tree learns the new branch.

The result is identical, bit for bit, to running the machines every time:
``simulation.session_memo: verify`` walks the tree and then runs the machines on the
same draws and verdicts (without asking the policies twice), and stops at the first
difference, naming the session. What the memo does not take on, the machines run:
the ``wire`` mode, sessions that send BDAT chunks (their steps depend on the size),
sessions on a cached connection (``live``: they start from the
state another session left), sessions whose recipients repeat an address, and
anything the tree cannot express as a template (see ``_event_template``). A session
that keeps its connection open for the next message (``keep_open``) is replayed: the
leaf holds both machines as the first such session left them, and each replay gets
its own clone of them, with its own sender where the server still holds one (a
transaction left open after its recipients were refused; the next session's RSET
closes it); ``verify`` compares the clones with the machines' state.

What decides a shape (``_shape``): the ``ClientSide`` and ``ServerSide`` objects (a
host's client and server settings; an incident that changes them makes new ones), the
number of recipients, whether the message is over the server's
``message_size_limit`` (the only place the machines look at the size), and whether it
needs SMTPUTF8 (its MAIL declares it, or it bounces after EHLO). The sender's
and recipients' addresses, the peer's address and the times reach only the policies
and the arithmetic, which the walk does for real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from ..mail import Envelope, ServerSession
from ..protocol import (
    Auth,
    AuthResponse,
    ClientConnection,
    CommandError,
    Credentials,
    Data,
    Event,
    Hello,
    Mail,
    Message,
    Quit,
    Rcpt,
    Reply,
    Rset,
    ServerConnection,
    SessionResult,
    StartTLS,
)
from .session import (
    _TLS_HANDSHAKE_RTTS,
    COMMAND,
    CONTENT,
    GREETED,
    GREETING,
    GROUP,
    GROUP_END,
    HANDSHAKE_DONE,
    TLS,
    CommandOp,
    GreetingOp,
    Live,
    SessionOutcome,
    SessionRequest,
    Taken,
    Tape,
    TapeExhausted,
    accepting,
    converse,
)

__all__ = ["MODES", "MemoMismatch", "SessionMemo"]

# A session's shape (``_shape``): the ids of its client and server sides, its number
# of recipients, whether it is over the size limit, whether it keeps the connection
# open, and whether the message needs SMTPUTF8.
Shape: TypeAlias = tuple[int, int, int, bool, bool, bool]

MODES = ("on", "off", "verify")

# How a consult's event is made for a session of the shape (``_event_template``).
_SAME, _MAIL, _MAIL_SIZE, _RCPT, _CONTENT, _MAIL_UTF8, _MAIL_SIZE_UTF8 = range(7)
_SMTPUTF8 = ("SMTPUTF8", None)
# Events that are the same for every session of a shape (built from the host settings).
_CONSTANT_EVENTS = (Hello, Data, Quit, Rset, StartTLS, Auth, AuthResponse, CommandError)
# Commands whose reply the client reads beyond its code: the EHLO keywords, the SASL
# challenge. Their verdict is the whole reply.
_TEXT_READ = (Hello, Auth, AuthResponse)


class MemoMismatch(Exception):  # not RuntimeError: mypyc compiles Exception subclasses only
    """``verify``: the memo and the machines disagree about a session."""


class _Standing:
    """Stands in for the ``ServerConnection`` of a walked session: what the
    ``ServerSession`` asks of it (its standard reply to the event, the SASL
    credentials, the end of a TLS handshake) was written down by the machines."""

    __slots__ = ("credentials", "reply", "tls_active")

    def __init__(self) -> None:
        self.reply: Reply | None = None
        self.credentials: Credentials | None = None
        # Never on TLS from the start: implicit-TLS sessions are not memoized (_shape).
        self.tls_active = False

    def standard_reply(self) -> Reply:
        # The walk sets the reply before it lets the session answer (a consult's
        # ``standard``, which the machines' connection always gave).
        assert self.reply is not None
        return self.reply

    def tls_established(self) -> None:
        pass

    @property
    def state(self) -> str:
        # BDAT sessions are not memoized (their steps depend on the size: _shape), so
        # the only question BDAT asks never reaches a stand-in.
        raise AssertionError("a walked session has no BDAT")

    def chunked_message(self) -> Message:
        raise AssertionError("a walked session has no BDAT")


@dataclass(frozen=True, slots=True)
class _Consult:
    """A point where the server's policies answer: the greeting (``event_kind`` None)
    or a command, with what the machines' server would have answered by itself."""

    event_kind: int | None
    event_arg: int | Event  # the event itself (_SAME), or a recipient's index (-1: none)
    standard: Reply
    credentials: Credentials | None
    text_read: bool


@dataclass(frozen=True, slots=True)
class _Leaf:
    """How a session that ended here builds its result: each recipient's final reply
    is the reply of consult ``k`` of the session, or ``constant`` (a reply the client
    made up, such as "TLS is required")."""

    finals: tuple[tuple[int, int, Reply | None], ...]  # (recipient index, k or -1, constant)
    phase: str
    error: str | None
    # A session that ends with the connection kept open (``keep_open``): both machines
    # as they were then, cloned for each session that ends here (their ``clone``).
    kept: tuple[ClientConnection, ServerConnection] | None = None
    at_rcpt: tuple[int, ...] = ()  # recipient indexes refused at their RCPT (SessionResult)


_NONE_REFUSED: frozenset[str] = frozenset()  # SessionResult.at_rcpt of most sessions

_MACHINES = object()  # a leaf the memo cannot replay: run the machines (a protocol error)


class _Node:
    """Steps up to a consult (or the end), and the next node by verdict."""

    __slots__ = ("children", "consult", "leaf", "steps")

    def __init__(self, steps: tuple[int, ...]) -> None:
        self.steps = steps
        self.consult: _Consult | None = None
        self.children: dict[Reply | int, _Node] = {}  # by reply, or by its code
        self.leaf: _Leaf | object | None = None


class SessionMemo:
    """The sessions of one host's SMTP client (``DeliveryAgent``), memoized by shape.

    ``converse`` here is ``session.converse`` with the same arguments and result.
    ``replayed`` counts the sessions the memo walked to the end, ``ran`` those that ran
    the machines (first of a shape, a new verdict, or not for the memo); ``shapes`` the
    trees.
    """

    def __init__(self, mode: str = "on") -> None:
        if mode not in MODES:
            raise ValueError(f"session_memo must be one of {MODES}, got {mode!r}")
        self.mode = mode
        self.replayed = 0
        self.ran = 0
        self._trees: dict[Shape, _Node | None] = {}
        self._keep: dict[int, object] = {}  # holds what the shape keys name by id

    @property
    def shapes(self) -> int:
        return sum(1 for tree in self._trees.values() if tree is not None)

    def converse(self, request: SessionRequest) -> SessionOutcome:
        """One session, replayed from the tree when its shape and verdicts are known."""
        key = None
        if self.mode != "off" and not request.wire and request.live is None:
            key = _shape(request)
        trees = self._trees
        root = trees.get(key) if key is not None else None
        if root is None and key is not None and key not in trees:
            root = trees[key] = _Node(())
            self._keep[id(request.client)] = request.client
            self._keep[id(request.server)] = request.server
        if key is None or root is None:  # not for the memo, or a shape it cannot express
            self.ran += 1
            return converse(request)
        if root.consult is None and root.leaf is None:  # the first session of the shape
            return self._run(key, root, request, Tape())
        return self._walk(key, root, request)

    # --- the walk ------------------------------------------------------------------------

    def _walk(self, key: Shape, root: _Node, request: SessionRequest) -> SessionOutcome:
        server, sender, recipients, size = (
            request.server,
            request.sender,
            request.recipients,
            request.size,
        )
        rtt, t0, transfer, queue_id = request.rtt, request.t0, request.transfer, request.queue_id
        half = rtt * 0.5
        accepted: list[tuple[Envelope, str]] = []

        deliver = accepting(accepted, queue_id)
        standing = _Standing()
        # The stand-in answers what ServerSession asks of a connection (``_Standing``).
        ssession = ServerSession(standing, request.peer, server.policies, deliver)
        # The session's methods are called on it directly, not through bound methods
        # kept in locals: compiled, a direct call on a native class is a C call.
        taken: list[Taken] = []
        replies: list[Reply] = []
        t = t_server = t0
        handshake_end: float | None = None
        service = server.command_time
        node = root
        while True:
            for step in node.steps:
                if step == GROUP:
                    t_server = t + half
                    service = server.command_time
                elif step == GROUP_END:
                    t = t_server + half
                elif step == CONTENT:
                    seconds = transfer(size, t, t0)
                    taken.append(seconds)
                    t_server = t + half + seconds
                    service = server.end_of_data_time
                elif step == GREETED:
                    t = t_server + half
                elif step == HANDSHAKE_DONE:
                    handshake_end = t
                elif step == TLS:
                    t += _TLS_HANDSHAKE_RTTS * rtt
                    ssession.tls_established()
            consult = node.consult
            if consult is None:
                break
            standing.reply = consult.standard
            standing.credentials = consult.credentials
            kind = consult.event_kind
            if kind is None:
                draw = server.greeting_delay()
                taken.append(draw)
                t_server = t0 + rtt + draw
                reply = ssession.greeting(t_server)
            else:
                draw = service()
                taken.append(draw)
                t_server += draw
                arg = consult.event_arg
                event = (
                    arg if isinstance(arg, Event) else _event(kind, arg, sender, recipients, size)
                )
                reply = ssession.answer(event, t_server)
            delay = ssession.take_delay()
            t_server += delay
            taken.append((reply, delay))
            replies.append(reply)
            child = node.children.get(reply if consult.text_read else reply.code)
            if child is None:  # a verdict not seen yet: the machines go on from here
                return self._run(key, root, request, Tape(taken, ssession, accepted))
            node = child
        leaf = node.leaf
        if not isinstance(leaf, _Leaf):
            return self._run(key, root, request, Tape(taken, ssession, accepted))
        if handshake_end is None:
            handshake_end = t
        # Comprehensions, not generators, and the one empty set when no recipient was
        # refused at its RCPT (nearly every session): built per replayed session.
        result = SessionResult(
            tuple(
                [
                    (recipients[i], constant if constant is not None else replies[k])
                    for i, k, constant in leaf.finals
                ]
            ),
            leaf.phase,
            leaf.error,
            frozenset([recipients[i] for i in leaf.at_rcpt]) if leaf.at_rcpt else _NONE_REFUSED,
        )
        live = None
        if leaf.kept is not None:  # the connection stays open for the next message
            cconn, sconn = leaf.kept[0].clone(), leaf.kept[1].clone()
            if sconn.sender is not None:  # a transaction still open holds its sender
                sconn.sender = sender
            ssession.conn = sconn
            live = Live(cconn, sconn, ssession, t0, 1)
        outcome = SessionOutcome(
            result,
            t - t0,
            handshake_end - t0,
            accepted[0][0].recipients if accepted else (),
            handshake_end < t,
            accepted[0][1] if accepted else "",
            live,
            ssession,
        )
        if self.mode == "verify":
            self._verify(request, outcome, taken, accepted)
        self.replayed += 1
        return outcome

    # --- the machines --------------------------------------------------------------------

    def _run(self, key: Shape, root: _Node, request: SessionRequest, tape: Tape) -> SessionOutcome:
        """Run the machines (after what ``tape`` holds) and learn the session's path."""
        self.ran += 1
        outcome = converse(request, tape)
        kept = None
        if outcome.live is not None:  # cloned now: the next session changes the machines
            kept = (outcome.live.client.clone(), outcome.live.server.clone())
        if not self._learn(root, tape, outcome.result, request, kept):
            self._trees[key] = None  # not expressible: this shape runs the machines
        return outcome

    def _learn(
        self,
        root: _Node,
        tape: Tape,
        result: SessionResult,
        request: SessionRequest,
        kept: tuple[ClientConnection, ServerConnection] | None = None,
    ) -> bool:
        """Add the path ``tape`` wrote down to the tree; False if it cannot be a template."""
        node, k = root, 0
        steps: list[int] = []
        fresh = root.consult is None and root.leaf is None
        for op in tape.ops:
            if isinstance(op, int):
                steps.append(op)
                continue
            consult = _consult(op, request)
            if consult is None:
                return False
            if fresh:
                node.steps, node.consult = tuple(steps), consult
            elif node.steps != tuple(steps) or node.consult != consult:
                raise MemoMismatch(
                    f"the machines left the memo's path at consult {k}: "
                    f"{node.steps}/{node.consult} against {steps}/{consult}"
                )
            reply = tape.replies[k]
            verdict = reply if consult.text_read else reply.code
            child = node.children.get(verdict)
            if child is None:
                child = node.children[verdict] = _Node(())
                fresh = True
            node, steps, k = child, [], k + 1
        if not fresh:
            return True  # a path already known (verify, or a leaf that runs the machines)
        node.steps = tuple(steps)
        node.leaf = _leaf(tape, result, request.recipients, kept)
        return True

    def _verify(
        self,
        request: SessionRequest,
        outcome: SessionOutcome,
        taken: list[Taken],
        accepted: list[tuple[Envelope, str]],
    ) -> None:
        """Run the machines on the walk's draws and verdicts (the policies are not asked
        again) and compare; raise ``MemoMismatch`` naming the session at a difference."""
        stand_in = ServerSession(_Standing(), request.peer, (), None)
        tape = Tape(list(taken), stand_in, list(accepted), strict=True)
        where = (
            f"session {self.replayed + self.ran + 1} of this client ({request.client.helo} -> "
            f"{request.server.name}, {len(request.recipients)} recipient(s), "
            f"from t={request.t0!r} s)"
        )
        try:  # every transfer time is on the tape: the path is never asked
            machines = converse(request.with_transfer(_never), tape)
        except TapeExhausted as exc:
            raise MemoMismatch(f"session memo verify: {where}: {exc}") from None
        for field in (
            "result",
            "duration",
            "handshake_s",
            "accepted",
            "past_handshake",
            "queue_id",
        ):
            mine, theirs = getattr(outcome, field), getattr(machines, field)
            if mine != theirs:
                raise MemoMismatch(
                    f"session memo verify: {where}: {field} is {mine!r} by "
                    f"the memo, {theirs!r} by the machines"
                )
        mine_live, their_live = outcome.live, machines.live
        if (mine_live is None) != (their_live is None) or (
            mine_live is not None
            and their_live is not None
            and (
                _state(mine_live.client) != _state(their_live.client)
                or _state(mine_live.server) != _state(their_live.server)
            )
        ):
            raise MemoMismatch(
                f"session memo verify: {where}: the connection kept open "
                f"differs: {_difference(mine_live, their_live)}"
            )
        if tape.given:
            raise MemoMismatch(
                f"session memo verify: {where}: the machines ended with "
                f"{len(tape.given)} value(s) of the memo's walk unused"
            )


def _never(size: int, start: float, now: float) -> float:
    raise TapeExhausted("the machines asked for a transfer time the walk did not")


def _shape(request: SessionRequest) -> Shape | None:
    """What decides the machines' course, apart from the verdicts (module docstring)."""
    recipients = request.recipients
    n = len(recipients)
    if n > 1 and len(set(recipients)) != n:
        return None
    if request.client.implicit_tls or request.server.config.tls_wrapper:
        # Implicit TLS (issue 13, mail clients on port 465): a session kind the tree's
        # walk does not build its machines for; the real machines run it.
        return None
    if request.client.chunking and request.server.config.chunking:
        # BDAT (RFC 3030): the number of chunks, and so the steps, follow the size;
        # the real machines run these sessions.
        return None
    limit = request.server.config.max_message_size
    return (
        id(request.client),
        id(request.server),
        n,
        bool(limit) and request.size > limit,
        request.keep_open,
        request.smtputf8,
    )


def _event(kind: int, index: int, sender: str, recipients: list[str], size: int) -> Event:
    """The event of a consult for this session's sender, recipients and size (a
    ``_SAME`` consult holds its event itself)."""
    if kind == _RCPT:
        return Rcpt(recipients[index])
    if kind == _CONTENT:
        return Message(size)
    if kind == _MAIL_SIZE:
        return Mail(sender, (("SIZE", str(size)),))
    if kind == _MAIL_SIZE_UTF8:
        return Mail(sender, (("SIZE", str(size)), _SMTPUTF8))
    if kind == _MAIL_UTF8:
        return Mail(sender, (_SMTPUTF8,))
    return Mail(sender)


def _event_template(
    event: Event, sender: str, recipients: list[str], size: int
) -> tuple[int, int | Event] | None:
    """How to make ``event`` for another session of the shape, or None if it is not
    clear that it would be the same (then the shape runs the machines)."""
    kind = type(event)
    made: tuple[int, int | Event] | None = None
    if isinstance(event, Rcpt) and not event.params and event.recipient in recipients:
        made = (_RCPT, recipients.index(event.recipient))
    elif isinstance(event, Mail) and event.sender == sender:
        if event.params == ():
            made = (_MAIL, -1)
        elif event.params == (("SIZE", str(size)),):
            made = (_MAIL_SIZE, -1)
        elif event.params == (("SIZE", str(size)), _SMTPUTF8):
            made = (_MAIL_SIZE_UTF8, -1)
        elif event.params == (_SMTPUTF8,):
            made = (_MAIL_UTF8, -1)
    elif isinstance(event, Message) and event.content is None and event.size == size:
        made = (_CONTENT, -1)
    elif kind in _CONSTANT_EVENTS or (kind is Message and event == Message(0, b"")):
        made = (_SAME, event)
    if made is None:
        return None
    kind_made, arg = made
    again = arg if isinstance(arg, Event) else _event(kind_made, arg, sender, recipients, size)
    return made if again == event else None


def _consult(op: GreetingOp | CommandOp, request: SessionRequest) -> _Consult | None:
    if len(op) == 2:
        assert op[0] == GREETING
        return _Consult(None, -1, op[1], None, False)
    assert op[0] == COMMAND
    _, event, standard, credentials = op
    template = _event_template(event, request.sender, request.recipients, request.size)
    if template is None:
        return None
    return _Consult(template[0], template[1], standard, credentials, isinstance(event, _TEXT_READ))


def _leaf(
    tape: Tape,
    result: SessionResult,
    recipients: list[str],
    kept: tuple[ClientConnection, ServerConnection] | None,
) -> _Leaf | object:
    """The result as a template over the session's consults (see ``_Leaf``)."""
    if tape.broke:
        return _MACHINES
    finals = []
    for rcpt, reply in result.replies:
        k = next((j for j, seen in enumerate(tape.replies) if seen is reply), -1)
        finals.append((recipients.index(rcpt), k, reply if k < 0 else None))
    at_rcpt = tuple(recipients.index(r) for r in result.at_rcpt)
    return _Leaf(tuple(finals), result.phase, result.error, kept, at_rcpt)


# When each machine last heard from its peer: kept by the machines for their timers
# (``get_timer``), which the simulator does not use; not part of the state compared.
_CLOCKS = frozenset({"_last_io", "_last_activity"})


def _slots(obj: object) -> list[str]:
    # A compiled class lists its attributes in ``__mypyc_attrs__`` instead of ``__slots__``.
    return [
        name
        for cls in type(obj).__mro__
        for name in getattr(cls, "__slots__", ()) or getattr(cls, "__mypyc_attrs__", ())
    ]


def _difference(mine: Live | None, theirs: Live | None) -> str:
    if mine is None or theirs is None:
        return f"kept by the memo: {mine is not None}, by the machines: {theirs is not None}"
    shown = []
    for side in ("client", "server"):
        a, b = _state(getattr(mine, side)), _state(getattr(theirs, side))
        shown += [
            f"{side}.{k} is {a[k]!r} by the memo, {b[k]!r} by the machines"
            for k in a
            if a[k] != b[k]
        ]
    return "; ".join(shown)


def _state(conn: object) -> dict[str, object]:
    """A machine's state, for ``verify`` (its clocks aside, see ``_CLOCKS``)."""
    return {name: getattr(conn, name, None) for name in _slots(conn) if name not in _CLOCKS}
