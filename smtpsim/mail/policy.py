"""What a server answers, decided by policies at each phase of a session.

A policy looks at a ``Context`` (the client, the envelope so far, the current
recipient, the time) at the phases it declares and returns a ``Reply`` to refuse
(or, at ``auth``, to accept), or ``None`` to let the next policy decide. The first
reply wins, so policies are listed in the order Postfix would apply its
restrictions. When no policy answers, the protocol's standard reply is sent.

Phases are named as in scenario files and in Postfix's reject logs: ``connect``,
``helo``, ``mail``, ``rcpt``, ``data``, ``end-of-data``, and ``auth``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

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


@dataclass(slots=True)
class Context:
    """What policies see. One per session, updated as the session goes on: the
    client's identity, what it said (``helo``), whether it authenticated and is on
    TLS, and the transaction so far."""

    client: Client
    now: float = 0.0
    helo: str | None = None
    authenticated: str | None = None
    tls: bool = False
    sender: str | None = None
    recipient: str | None = None  # the RCPT being decided
    recipients: list[str] = field(default_factory=list)  # accepted so far
    size: int = 0  # SIZE= at MAIL, the real size at end of data
    credentials: Credentials | None = None


class Policy:
    """Base class: declare ``phases`` and implement ``check``."""

    phases: frozenset[str] = frozenset()

    def check(self, phase: str, ctx: Context) -> Reply | None:
        raise NotImplementedError


class PolicySet:
    """Policies in order, indexed by phase once (a server builds it once, not per
    session), answering with the first reply any of them gives."""

    __slots__ = ("_by_phase", "active", "policies")

    def __init__(self, policies: Sequence[Policy] = ()) -> None:
        self.policies = tuple(policies)
        self._by_phase: dict[str, tuple[Policy, ...]] = {
            phase: tuple(p for p in self.policies if phase in p.phases) for phase in PHASES
        }
        # The phases some policy looks at: the others need not be asked at all.
        self.active = frozenset(phase for phase, chain in self._by_phase.items() if chain)

    def ask(self, phase: str, ctx: Context) -> Reply | None:
        for policy in self._by_phase[phase]:
            reply = policy.check(phase, ctx)
            if reply is not None:
                return reply
        return None
