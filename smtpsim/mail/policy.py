"""What a server answers, decided by policies at each phase of a session.

A policy looks at a ``Context`` (the client, the envelope so far, the current
recipient, the time) at the phases it declares and returns a ``Reply`` to refuse
(or, at ``auth``, to accept), or ``None`` to let the next policy decide. The first
reply wins, so policies are listed in the order Postfix would apply its
restrictions. When no policy answers, the protocol's standard reply is sent.

Policies are built once per server and shared by all its sessions, so what they
remember across sessions (a greylist, per-client counters) lives in the policy;
what they remember about one session (DNSBL answers already looked up) lives in
``Context.notes``, which ends with the session. Each policy can be switched off
and on while a run goes on (``enabled``), which is how incidents such as "greylisting
switched on at noon" act on a server; policies' parameters are plain attributes
that incidents may change too.

Phases are named as in scenario files and in Postfix's reject logs: ``connect``,
``helo``, ``mail``, ``rcpt``, ``data``, ``end-of-data``, and ``auth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from mypy_extensions import mypyc_attr

from ..protocol import Credentials, Reply
from .envelope import Client

__all__ = ["PHASES", "Context", "Policy", "PolicySet"]

CONNECT = "connect"
HELO = "helo"
MAIL = "mail"
RCPT = "rcpt"
DATA = "data"
END_OF_DATA = "end-of-data"
AUTH = "auth"
PHASES = (CONNECT, HELO, MAIL, RCPT, DATA, END_OF_DATA, AUTH)

# A key of ``Context.notes``: a policy's ``id()``, or a tuple that starts with it.
Memo: TypeAlias = int | tuple[int, str]


class Context:
    """What policies see. One per session, updated as the session goes on: the
    client's identity, what it said (``helo``), whether it authenticated and is on
    TLS, and the transaction so far.

    A plain class rather than a dataclass: one is made per session, and mypyc
    compiles this ``__init__`` into direct stores, where a dataclass's generated one
    runs interpreted (benchmarks/RESULTS.md, issue 10 route 3)."""

    __slots__ = (
        "authenticated",
        "client",
        "credentials",
        "delay",
        "helo",
        "notes",
        "now",
        "recipient",
        "recipients",
        "sender",
        "size",
        "tls",
    )

    def __init__(
        self,
        client: Client,
        now: float = 0.0,
        helo: str | None = None,
        authenticated: str | None = None,
        tls: bool = False,
        sender: str | None = None,
        recipient: str | None = None,  # the RCPT being decided
        recipients: list[str] | None = None,  # accepted so far (None: a new empty list)
        size: int = 0,  # SIZE= at MAIL, the real size at end of data
        credentials: Credentials | None = None,
        delay: float = 0.0,
        notes: dict[Memo, object] | None = None,
    ) -> None:
        self.client = client
        self.now = now
        self.helo = helo
        self.authenticated = authenticated
        self.tls = tls
        self.sender = sender
        self.recipient = recipient
        self.recipients: list[str] = [] if recipients is None else recipients
        self.size = size
        self.credentials = credentials
        # Server time policies spent on the current command beyond the protocol's own
        # processing, in seconds (a DNSBL or SPF lookup). Policies add to it; whoever
        # drives the session reads it after each reply and sets it back to 0
        # (``ServerSession.take_delay``): the simulator adds it to the reply's time.
        self.delay = delay
        # What policies remember about this session, under keys that are, or start
        # with, the policy's ``id()`` (two instances of one class must not mix);
        # ``None`` until a policy first needs it, so sessions whose policies remember
        # nothing allocate no dict. Use ``memo()`` to get it.
        self.notes = notes

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _CONTEXT_FIELDS)
        return f"Context({shown})"

    def memo(self) -> dict[Memo, object]:
        """``notes``, created on first use."""
        notes = self.notes
        if notes is None:
            notes = self.notes = {}
        return notes


_CONTEXT_FIELDS = (
    "client",
    "now",
    "helo",
    "authenticated",
    "tls",
    "sender",
    "recipient",
    "recipients",
    "size",
    "credentials",
    "delay",
    "notes",
)


# Policies written outside smtpsim (the tests', a user's) subclass Policy: a compiled class
# admits interpreted subclasses only when it says so (mypyc, setup.py).
@mypyc_attr(allow_interpreted_subclasses=True)
class Policy:
    """Base class: declare ``phases`` and implement ``check``; ``ended`` if the
    policy must know when a session is over (to count open connections).

    ``enabled`` switches the policy off and on at run time: ``PolicySet.ask``
    skips a disabled policy (``ended`` is still called, so that counts stay right
    when a policy is switched off during a session).
    """

    phases: frozenset[str] = frozenset()
    enabled: bool = True

    def check(self, phase: str, ctx: Context) -> Reply | None:
        raise NotImplementedError

    def ended(self, ctx: Context) -> None:
        """The session is over (QUIT, 421, the client went away). No-op by default."""


class PolicySet:
    """Policies in order, indexed by phase once (a server builds it once, not per
    session), answering with the first reply any of them gives."""

    __slots__ = ("_by_phase", "active", "ending", "policies")

    def __init__(self, policies: Sequence[Policy] = ()) -> None:
        self.policies = tuple(policies)
        # getattr: a Python lookup, which finds an interpreted subclass's class attribute
        # ``phases``; compiled (mypyc), ``p.phases`` reads Policy's own slot, its default.
        self._by_phase: dict[str, tuple[Policy, ...]] = {
            phase: tuple(p for p in self.policies if phase in getattr(p, "phases"))  # noqa: B009
            for phase in PHASES
        }
        # The phases some policy looks at: the others need not be asked at all.
        self.active = frozenset(phase for phase, chain in self._by_phase.items() if chain)
        # Only the policies that override ``ended`` need to hear of a session's end.
        self.ending = tuple(p for p in self.policies if type(p).ended is not Policy.ended)

    def ask(self, phase: str, ctx: Context) -> Reply | None:
        for policy in self._by_phase[phase]:
            if not policy.enabled:
                continue
            reply = policy.check(phase, ctx)
            if reply is not None:
                return reply
        return None

    def ended(self, ctx: Context) -> None:
        """Tell every policy that cares that the session of ``ctx`` is over."""
        for policy in self.ending:
            policy.ended(ctx)
